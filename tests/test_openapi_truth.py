"""`/api/v1/_openapi` describes what the API really returns (app/api/openapi.py, app/api/fields.py).

Checked on the document itself and against real answers: id types, the 400 body as a schema (real
400 answers validate against it), the answers each operation documents, enums of code fields and
the ranges the API enforces, and `Allow` on 405.
"""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from flask import Flask

from app.domain.catalogue import MAX_QUANTITY
from app.domain.validation import MAX_AMOUNT, MAX_ID
from app.models import BudgetPeriod
from tests.factories import World
from tests.helpers import Caller

API = "/api/v1"


@pytest.fixture()
def spec(app: Flask, world: World) -> dict[str, Any]:
    response = Caller(app, world.user("Admin").username).get(f"{API}/_openapi")
    assert response.status_code == 200
    return response.json


def _own_operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    skip = (f"{API}/security/", f"{API}/menu/", "/api/{version}/")
    return [
        (path, method, op)
        for path, ops in spec["paths"].items()
        if not path.startswith(skip)
        for method, op in ops.items()
    ]


def _component(spec: dict[str, Any], ref: dict[str, Any]) -> dict[str, Any]:
    return spec["components"]["schemas"][ref["$ref"].rsplit("/", 1)[-1]]


def _validator(spec: dict[str, Any], schema: dict[str, Any]) -> jsonschema.Draft4Validator:
    return jsonschema.Draft4Validator({**schema, "components": spec["components"]})


def test_every_operation_documents_its_real_answers(spec: dict[str, Any]) -> None:
    operations = _own_operations(spec)
    assert len(operations) > 50
    for path, method, op in operations:
        codes = set(op["responses"])
        where = f"{method.upper()} {path}"
        assert {"400", "401", "500"} <= codes, where
        assert ("404" in codes) == ("{" in path), where
        assert "422" not in codes, where  # the portal answers bad input with 400, never 422
        assert codes <= {"200", "201", "400", "401", "403", "404", "409", "429", "500"}, where
        bad = op["responses"]["400"]["content"]["application/json"]["schema"]
        assert bad == {"$ref": "#/components/schemas/PortalBadRequest"}, where
        for code in sorted(codes & {"401", "403", "404", "409", "429", "500"}):
            assert op["responses"][code]["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/PortalMessage"
            }, where
        for parameter in op.get("parameters", []):
            if parameter.get("in") == "path":
                assert parameter["schema"]["type"] == "integer", where
        for code, response in op["responses"].items():
            assert set(response) <= {"description", "content", "headers"}, (where, code, response)


def test_403_only_where_some_role_is_refused(spec: dict[str, Any]) -> None:
    """Every role reads orders (FAB never refuses it: no 403); only some create companies or approve."""
    paths = spec["paths"]
    assert "403" not in paths[f"{API}/order/"]["get"]["responses"]
    assert "403" in paths[f"{API}/company/"]["post"]["responses"]
    assert "403" in paths[f"{API}/order/{{pk}}/approve"]["post"]["responses"]
    assert "409" in paths[f"{API}/order/{{pk}}/approve"]["post"]["responses"]
    assert "409" in paths[f"{API}/order/"]["post"]["responses"]  # saved through app/domain
    assert "409" not in paths[f"{API}/budget/"]["post"]["responses"]


def test_ids_are_integers(spec: dict[str, Any]) -> None:
    item = spec["paths"][f"{API}/budget/{{pk}}"]
    assert item["get"]["responses"]["200"]["content"]["application/json"]["schema"]["properties"]["id"]["type"] == (
        "integer"
    )
    created = spec["paths"][f"{API}/budget/"]["post"]["responses"]["201"]["content"]["application/json"]["schema"]
    assert created["properties"]["id"]["type"] == "integer"
    assert created["properties"]["result"] == {"$ref": "#/components/schemas/BudgetApi.get"}
    listing = spec["paths"][f"{API}/order/"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert listing["properties"]["ids"]["items"] == {"type": "integer"}
    body = spec["components"]["schemas"]["BudgetApi.post"]["properties"]
    assert body["company_id"]["type"] == "integer" and body["company_id"]["minimum"] == 1
    assert body["company_id"]["maximum"] == MAX_ID


def test_enums_and_ranges_are_the_enforced_ones(spec: dict[str, Any]) -> None:
    schemas = spec["components"]["schemas"]
    assert schemas["BudgetApi.post"]["properties"]["period"]["enum"] == [p.value for p in BudgetPeriod]
    from app.domain import labels

    status = schemas["OrderApi.get_list"]["properties"]["status"]
    assert set(status["enum"]) == {getattr(code, "value", code) for code in labels.ORDER_STATUS}
    quantity = schemas["LineIn"]["properties"]["quantity"]
    assert (quantity["minimum"], quantity["maximum"]) == (1, MAX_QUANTITY)
    amount = schemas["BudgetApi.post"]["properties"]["amount"]
    assert amount["type"] == "string" and amount["x-maximum"] == str(MAX_AMOUNT)
    assert amount["pattern"] == r"^-?[0-9]{1,10}(\.[0-9]+)?$"
    vat = schemas["ProductApi.post"]["properties"]["vat_rate"]
    assert vat["x-maximum"] == "999.99"
    # every integer a body takes is bounded to SQL's integer
    for name, schema in schemas.items():
        for prop, value in schema.get("properties", {}).items():
            if value.get("type") == "integer" and not value.get("readOnly") and name.endswith((".post", ".put", "In")):
                assert value.get("maximum") is not None and value.get("minimum") is not None, (name, prop)


def test_real_400_answers_match_the_documented_body(app: Flask, world: World, spec: dict[str, Any]) -> None:
    schema = _component(spec, {"$ref": "#/components/schemas/PortalBadRequest"})
    validator = _validator(spec, schema)
    caller = Caller(app, world.user("CustomerAdmin").username)
    answers = [
        caller.post(f"{API}/budget/", {"period": "year", "amount": "1e400"}),
        caller.post(f"{API}/budget/", {"period": "sometimes", "amount": "5", "unknown": 1}),
        caller.get(f"{API}/order/?q=2e-"),
        caller.get(f"{API}/order/?q=(page:-1)"),
        caller.client.post(f"{API}/budget/", data="x", headers=caller.headers),
        caller.get(f"{API}/order/", q={"filters": [{"col": "secret", "opr": "eq", "value": 1}]}),
    ]
    for response in answers:
        assert response.status_code == 400, response.get_data(as_text=True)
        errors = [e.message for e in validator.iter_errors(response.json)]
        assert not errors, (response.json, errors)


def test_405_names_the_allowed_methods(app: Flask, world: World) -> None:
    caller = Caller(app, world.user("Admin").username)
    response = caller.client.patch(f"{API}/budget/", headers=caller.headers)
    assert response.status_code == 405
    assert {"GET", "POST"} <= {m.strip() for m in response.headers["Allow"].split(",")}
    assert response.json["message"]
    page = app.test_client().delete("/login/")
    assert page.status_code == 405 and "GET" in page.headers["Allow"]


def test_documented_nullable_fields_cover_real_nulls(app: Flask, world: World, spec: dict[str, Any]) -> None:
    """An order answered with its optional fields empty validates against its documented schema."""
    caller = Caller(app, world.user("Admin").username)
    body = caller.get(f"{API}/order/{world.a.order.id}").json
    schema = spec["paths"][f"{API}/order/{{pk}}"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    # Draft 4 knows no `nullable`: turn OpenAPI 3.0's nullable into a type list, as schemathesis does.
    components = {k: _nullable_as_types(v) for k, v in spec["components"]["schemas"].items()}
    validator = jsonschema.Draft4Validator({**_nullable_as_types(schema), "components": {"schemas": components}})
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(body)]
    assert not errors, errors


def _nullable_as_types(schema: Any) -> Any:
    if isinstance(schema, list):
        return [_nullable_as_types(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _nullable_as_types(v) for k, v in schema.items() if k != "nullable"}
    if schema.get("nullable"):
        if "type" in out:
            out["type"] = [out["type"], "null"]
        elif "$ref" in out or "allOf" in out:
            out = {"anyOf": [out, {"type": "null"}]}
        if "enum" in out and None not in out["enum"]:
            out["enum"] = [*out["enum"], None]
    return out


def test_the_order_post_documents_its_idempotency_key(spec: dict[str, Any]) -> None:
    post = spec["paths"][f"{API}/order/"]["post"]
    (header,) = [p for p in post["parameters"] if p["in"] == "header" and p["name"] == "Idempotency-Key"]
    assert header["schema"]["maxLength"] == 200 and not header["required"]
    assert "Idempotent-Replayed" in post["responses"]["201"]["headers"]
    assert "Idempotency-Key" in post["responses"]["409"]["description"]
