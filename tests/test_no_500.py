"""No input makes a 500: every route of `app.url_map`, walked with hostile values, answers 400 or 404
(or the principal's ordinary refusal), and a refused request writes nothing.

The routes come from the authorization matrix's registry (tests/test_authz_matrix.py `_routes`,
tests/authz_table.py for who may use them and the values of URL parameters), so a route added
tomorrow is walked without anyone listing it. As a staff user (Admin: every route) and as a
customer admin and a customer user of company A:

* every URL parameter replaced by values beyond SQL's integer range, negative, with a NUL;
* every GET with a valid URL and hostile query arguments: FAB's rison `q` that prison cannot
  read or that pages out of range (API), FAB's `page_<View>` / `psize_<View>` / `_oc_` / `_od_` /
  `_flt_` list arguments (pages), and a NUL in any parameter;
* every API write (POST/PUT) with JSON nested 5 000 deep, a NUL in a string, and, per field of its
  request body in the OpenAPI document, values no column holds (ids and numbers beyond the
  integer range, 1e400, NaN, Infinity, 10^10 for money, text with NUL).

Targeted tests below pin the answers (Norwegian message naming the field or parameter) and that
nothing was stored on either database.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.api.base import PortalModelRestApi
from tests import authz_table as T
from tests.factories import World
from tests.helpers import api_token, auth_header, count_rows, fresh_world, login
from tests.test_authz_matrix import PARAM, Route, _counts, _routes, _row_id, _snapshot

PRINCIPALS = (T.ADMIN, T.CADMIN, T.CUSER)
HUGE_IDS = ("99999999999", "99999999999999999999")
BAD_URL_INTS = (*HUGE_IDS, "-1", "1%00")
BAD_URL_TEXT = ("a%00b",)
# FAB's rison argument: unreadable to prison, or paging out of range; each must be a 400.
BAD_Q = (
    "1e%2B5",
    "2e-",
    "(page:-1)",
    "(page:99999999999999999999)",
    "(page_size:-1)",
    "(page_size:0)",
    "(page_size:99999999999999999999)",
    "(page_size:x)",
    "(page:1e400)",
    "!(1,2)",
    "(" * 2000,
)
# Filters on each searchable column of an API list, with values no column holds.
BAD_FILTER_VALUES = ("99999999999999", "'x'", "!t")
# Routes that read `q` (FAB's rison decorator): list, item and _info.
Q_METHODS = ("get_list", "get", "info")
DEEP_JSON = "[" * 5000 + "]" * 5000


@dataclass
class Session:
    cookies: dict[str, str]
    tokens: dict[str, str]


@pytest.fixture(scope="module")
def nworld(app: Flask) -> World:
    return fresh_world(app)


@pytest.fixture(scope="module")
def sessions(app: Flask, nworld: World) -> Session:
    cookies: dict[str, str] = {}
    tokens: dict[str, str] = {}
    for role in PRINCIPALS:
        client = app.test_client()
        login(client, nworld.user(role).username)
        cookie = client.get_cookie("session")
        assert cookie is not None
        cookies[role] = cookie.value
        tokens[role] = api_token(client, nworld.user(role).username)
    return Session(cookies, tokens)


class Walker:
    def __init__(self, app: Flask, world: World, sessions: Session, principal: str) -> None:
        self.app, self.world, self.sessions, self.principal = app, world, sessions, principal
        self.failures: list[str] = []
        self.cases = 0

    def client(self, route: Route) -> tuple[FlaskClient, dict[str, str]]:
        client = self.app.test_client()
        if route.is_api:
            return client, auth_header(self.sessions.tokens[self.principal])
        client.set_cookie("session", self.sessions.cookies[self.principal])
        return client, {}

    def url(self, route: Route, override: dict[str, str] | None = None) -> str | None:
        """The route's URL with a real row of company A for ids (None: no such row), `override` first."""
        override = override or {}

        def value(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in override:
                return override[name]
            if name == "pk":
                return str(self.pk(route))
            if name in T.ROW_PARAMS:
                from tests.test_authz_matrix import _model_by_name

                return str(_row_id(self.app, _model_by_name(T.ROW_PARAMS[name]), self.world.a.company.id))
            if name == "name":
                return str(route.action)
            for key in (f"{route.endpoint}:{name}", name):
                if key in T.PARAMS:
                    return T.PARAMS[key]
            raise AssertionError(f"{route.label}: no value for <{name}> in tests/authz_table.py PARAMS")

        try:
            return PARAM.sub(value, route.rule.rule)
        except LookupError:
            return None

    def pk(self, route: Route) -> int:
        if route.model is None:
            raise LookupError(route.label)
        pk = _row_id(self.app, route.model, self.world.a.company.id)
        if pk is None:
            raise LookupError(route.label)
        return pk

    def call(
        self,
        route: Route,
        url: str,
        method: str | None = None,
        raw_json: str | None = None,
        form: dict[str, Any] | None = None,
        expect: tuple[int, ...] | None = None,
    ) -> Any:
        """One request; a 5xx (or an answer outside `expect`) is a failure; a refused write must write nothing."""
        method = method or route.method
        self.cases += 1
        client, headers = self.client(route)
        kwargs: dict[str, Any] = {}
        if raw_json is not None:
            kwargs = {"data": raw_json, "content_type": "application/json"}
        elif form is not None:
            kwargs = {"data": form}
        watch = method != "GET" or route.get_mutation
        pk = _pk_in(route, url) if watch else None
        before = (_counts(self.app), _snapshot(self.app, route.model, pk) if pk else None) if watch else None
        response = client.open(url, method=method, headers=headers, **kwargs)
        status = response.status_code
        who = f"{method} {url[:160]} ({route.endpoint}) as {self.principal}"
        if status >= 500:
            self.failures.append(f"{who}: {status} {response.get_data(as_text=True)[:200]}")
        elif expect is not None and status not in expect and status not in (401, 403):
            self.failures.append(f"{who}: expected {expect}, got {status} {response.get_data(as_text=True)[:200]}")
        if before is not None and status >= 300:
            after = (_counts(self.app), _snapshot(self.app, route.model, pk) if pk else None)
            if after != before:
                self.failures.append(f"{who}: refused ({status}) but CHANGED DATA")
        response.close()
        return response

    def check(self) -> None:
        assert not self.failures, f"{len(self.failures)} of {self.cases} cases failed:\n  " + "\n  ".join(
            self.failures[:80]
        )


def _pk_in(route: Route, url: str) -> int | None:
    if "pk" not in route.rule.arguments or route.model is None:
        return None
    match = route.rule.match(f"|{url.split('?')[0]}") if hasattr(route.rule, "match") else None
    if isinstance(match, dict) and str(match.get("pk", "")).isdigit():
        return int(match["pk"])
    numbers = re.findall(r"/(\d+)(?=/|$)", url.split("?")[0])
    return int(numbers[0]) if numbers and len(numbers[0]) < 10 else None


def _routes_for(app: Flask, principal: str) -> list[Route]:
    """The routes the principal may use (the others answer its refusal before reading any input)."""
    return [
        r
        for r in _routes(app)
        if r.key in r.table and principal in r.table[r.key] and r.endpoint not in ("static", "appbuilder.static")
    ]


@pytest.fixture(params=PRINCIPALS)
def walker(request: pytest.FixtureRequest, app: Flask, nworld: World, sessions: Session) -> Iterator[Walker]:
    yield Walker(app, nworld, sessions, request.param)


# --- URL parameters ---------------------------------------------------------------------------


def test_bad_url_parameters(app: Flask, walker: Walker) -> None:
    """Every URL parameter of every route (any method) beyond the integer range, negative or with a NUL:
    404 (an id that matches no row) or 400, never a 500, nothing written."""
    for route in _routes_for(app, walker.principal):
        for name in route.rule.arguments:
            if name == "filename" or (name == "name" and route.action is not None):
                bad = BAD_URL_TEXT
            else:
                bad = BAD_URL_INTS if name in ("pk", *T.ROW_PARAMS) else BAD_URL_TEXT
            for value in bad:
                url = walker.url(route, {name: value})
                if url is None:
                    continue
                body = "{}" if route.is_api and route.method in ("POST", "PUT") else None
                form = {"rowid": value} if route.endpoint.endswith(".action_post") else None
                walker.call(route, url, raw_json=body, form=form, expect=(400, 404, 405, 302, 200))
    walker.check()


# --- query arguments --------------------------------------------------------------------------


def _page_args(route: Route) -> list[str]:
    """Query strings of hostile FAB list arguments for the route's view and its related views. The
    list cleans each argument on its own, so they go together (a 500 from any shows): paging and
    sorting in one request, filter numbers past the column's filters in one, huge values in one."""
    views = [route.view, *(getattr(route.view, "_related_views", None) or [])] if route.view is not None else []
    paging: list[str] = []
    for name in [type(v).__name__ for v in views if v is not None]:
        paging += [
            f"page_{name}=-1",
            f"page_{name}=99999999999999999999",
            f"page_{name}=1e%2B5",
            f"psize_{name}=-5",
            f"psize_{name}=99999999999999999999",
            f"_oc_{name}=finnes_ikke",
            f"_od_{name}=x",
        ]
    columns = list(getattr(getattr(route.view, "_filters", None), "_all_filters", {}) or {})
    queries = ["x=a%00b", "a%00=1"]
    if paging:
        queries.append("&".join(paging))
    if columns:
        queries += [
            "&".join(f"_flt_9_{c}=x" for c in columns),
            "&".join(f"_flt_0_{c}=99999999999999" for c in columns),
            "&".join(f"_flt_1_{c}=-1e400" for c in columns),
            "&".join(f"_flt_0_{c}=x" for c in columns),
        ]
    return queries


def test_bad_query_arguments(app: Flask, walker: Walker) -> None:
    """Every GET route with hostile query arguments: the API's `q` is a 400 naming the parameter wherever
    FAB reads it; page routes clean FAB's list arguments; a NUL anywhere is a 400."""
    for route in _routes_for(app, walker.principal):
        if route.method != "GET" or route.get_mutation:
            continue
        url = walker.url(route)
        if url is None:
            continue
        reads_q = isinstance(route.view, PortalModelRestApi) and route.endpoint.rsplit(".", 1)[-1] in Q_METHODS
        for q in BAD_Q if route.is_api else ():
            response = walker.call(route, f"{url}?q={q}", expect=(400,) if reads_q else None)
            if reads_q and response.status_code == 400:
                message = response.json["message"]
                assert isinstance(message, dict) and set(message) & {"q", "page", "page_size"}, (
                    route.label,
                    q,
                    message,
                )
        if reads_q and route.endpoint.endswith(".get_list") and walker.principal == T.ADMIN:
            for column in route.view.search_columns or ():
                for value in BAD_FILTER_VALUES:
                    for opr in ("eq",):
                        q = f"(filters:!((col:{column},opr:{opr},value:{value})))"
                        walker.call(route, f"{url}?q={q}", expect=(200, 400))
        for arg in _page_args(route) if not route.is_api else ("x=a%00b",):
            expect = (400,) if "%00" in arg else (200, 302, 400, 404, 405)
            walker.call(route, f"{url}?{arg}", expect=expect)
    walker.check()


# --- JSON bodies ------------------------------------------------------------------------------


def _openapi(app: Flask, world: World) -> dict[str, Any]:
    client = app.test_client()
    response = client.get("/api/v1/_openapi", headers=auth_header(api_token(client, world.user("Admin").username)))
    assert response.status_code == 200
    return response.json


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = spec["components"]["schemas"][name]
    return schema


def _body_fields(spec: dict[str, Any], path: str, method: str) -> dict[str, dict[str, Any]]:
    """The request body's properties of an operation in the OpenAPI document (name -> schema)."""
    operation = spec["paths"].get(path, {}).get(method.lower(), {})
    content = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
    schema = content.get("schema")
    if not schema:
        return {}
    return {name: _resolve(spec, prop) for name, prop in _resolve(spec, schema).get("properties", {}).items()}


def _bad_values(schema: dict[str, Any]) -> list[str]:
    """JSON text of values that no column of this type holds."""
    kind = schema.get("type")
    if kind == "integer":
        return ["99999999999999", "-99999999999999", "1e400", "1.5"]
    if kind == "number" or schema.get("format") == "decimal":
        return ['"1e400"', "1e400", '"NaN"', "NaN", '"Infinity"', "-Infinity", '"10000000000"', "10000000000"]
    if kind == "string":
        return ['"a\\u0000b"']
    if kind == "array":
        return ['[{"product_id": 99999999999999, "quantity": 99999999999999}]', '["a\\u0000"]']
    return ['"a\\u0000b"', "99999999999999"]


def _openapi_path(route: Route) -> str:
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", route.rule.rule)


def test_bad_json_bodies(app: Flask, walker: Walker, nworld: World) -> None:
    """Every API write: JSON 5 000 deep, a NUL in a string, and per documented body field values out of
    every column's range: 400 (or 404 for a row the caller cannot see), nothing written."""
    spec = _openapi(app, nworld)
    for route in _routes_for(app, walker.principal):
        if not route.is_api or route.method not in ("POST", "PUT"):
            continue
        url = walker.url(route)
        if url is None:
            continue
        walker.call(route, url, raw_json=DEEP_JSON, expect=(400,))
        walker.call(route, url, raw_json='{"a": "\\u0000", "note": "x\\u0000"}', expect=(400,))
        for name, schema in _body_fields(spec, _openapi_path(route), route.method).items():
            for value in _bad_values(schema):
                walker.call(route, url, raw_json=f'{{"{name}": {value}}}', expect=(400, 404, 409))
    walker.check()


# --- targeted: the answers and what is stored ---------------------------------------------------


@pytest.fixture()
def admin_api(app: Flask, world: World) -> tuple[FlaskClient, dict[str, str]]:
    client = app.test_client()
    return client, auth_header(api_token(client, world.user("CustomerAdmin").username))


@pytest.mark.parametrize(
    "amount", ["1e400", '"1e400"', "NaN", '"NaN"', "Infinity", '"-Infinity"', "1e10", '"10000000000"']
)
def test_budget_amount_out_of_range_is_refused_by_the_api(
    app: Flask, world: World, admin_api: Any, amount: str
) -> None:
    from app.models import Budget

    client, headers = admin_api
    before = count_rows(app, Budget)
    response = client.post(
        "/api/v1/budget/",
        data=f'{{"period": "year", "amount": {amount}}}',
        content_type="application/json",
        headers=headers,
    )
    assert response.status_code == 400, response.get_data(as_text=True)
    assert list(response.json["message"]) == ["amount"]
    assert count_rows(app, Budget) == before
    put = client.put(
        f"/api/v1/budget/{world.a.budget.id}",
        data=f'{{"amount": {amount}}}',
        content_type="application/json",
        headers=headers,
    )
    assert put.status_code == 400 and list(put.json["message"]) == ["amount"]
    from tests.helpers import load

    assert load(app, Budget, world.a.budget.id).amount == world.a.budget.amount


@pytest.mark.parametrize("amount", ["1e400", "NaN", "Infinity", "10000000000", "99999999999999999999,00"])
def test_budget_amount_out_of_range_is_refused_by_the_form(app: Flask, world: World, amount: str) -> None:
    from app.models import Budget

    client = app.test_client()
    login(client, world.user("CustomerAdmin").username)
    before = count_rows(app, Budget)
    response = client.post("/budgetview/add", data={"period": "year", "amount": amount, "active": "y"})
    text = response.get_data(as_text=True)
    assert response.status_code == 200, text[:300]
    assert "Skriv et beløp" in text or "Beløpet er for stort." in text, text[-2000:]
    assert count_rows(app, Budget) == before


def test_money_fields_share_one_bound(app: Flask) -> None:
    """Every money field of every API body refuses 10^10 and accepts 9 999 999 999.99; every integer
    field refuses a value beyond SQL's integer range (one shared bound, app/domain/validation.py)."""
    from marshmallow import ValidationError, fields

    from app.api.base import PortalModelRestApi
    from app.api.fields import InputSchema, Money
    from app.domain.validation import MAX_AMOUNT, MAX_ID

    schemas: list[Any] = []
    for view in app.appbuilder.baseviews:
        if isinstance(view, PortalModelRestApi):
            schemas += [view.add_model_schema, view.edit_model_schema, view.customer_add_model_schema]

    def subclasses(cls: type) -> Iterator[type]:
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    schemas += [cls() for cls in subclasses(InputSchema)]
    checked = 0
    problems: list[str] = []
    with app.test_request_context():
        for schema in schemas:
            if schema is None:
                continue
            for name, field in schema.fields.items():
                if field.dump_only or not isinstance(field, (fields.Integer, fields.Decimal)):
                    continue
                if isinstance(field, fields.Integer):
                    values, fine = [MAX_ID + 1, -(MAX_ID + 1)], None
                else:
                    values, fine = ["10000000000", "1e400", "NaN"], str(MAX_AMOUNT)
                checked += 1
                for value in values:
                    try:
                        field.deserialize(value)
                        _run_validators(field, value)
                    except ValidationError:
                        continue
                    problems.append(f"{type(schema).__name__}.{name} accepts {value}")
                if isinstance(field, Money) and fine is not None:
                    try:
                        _run_validators(field, field.deserialize(fine))
                    except ValidationError:
                        if name not in ("vat_rate",):
                            problems.append(f"{type(schema).__name__}.{name} refuses {fine}")
    assert checked > 20
    assert not problems, sorted(set(problems))


def _run_validators(field: Any, value: Any) -> None:
    loaded = field.deserialize(value) if not isinstance(value, Decimal) else value
    for validator in field.validators:
        validator(loaded)


def test_validate_amount_has_the_column_bound() -> None:
    from app.domain.validation import MAX_AMOUNT, InvalidValue, validate_amount

    assert validate_amount("9999999999.99") == MAX_AMOUNT
    for value in ("10000000000", "1e400", "NaN", "Infinity", "-Infinity", "1E+10"):
        with pytest.raises(InvalidValue):
            validate_amount(value)


def test_nul_is_refused_everywhere_and_nothing_stored(app: Flask, world: World, admin_api: Any) -> None:
    """A NUL in a JSON string, a form field, a query parameter or the path: 400 with a message, no row."""
    from app.models import DeliveryAddress, Inquiry

    client, headers = admin_api
    before = count_rows(app, Inquiry), count_rows(app, DeliveryAddress)
    api = client.post(
        "/api/v1/inquiry/",
        data='{"subject": "Hei\\u0000", "message": "tekst"}',
        content_type="application/json",
        headers=headers,
    )
    assert api.status_code == 400 and api.json["message"] == {
        "subject": ["Teksten kan ikke inneholde NUL-tegnet (\\0)."]
    }
    page = app.test_client()
    login(page, world.user("CustomerAdmin").username)
    form = page.post("/deliveryaddressview/add", data={"recipient_name": "A\x00", "street": "Gate 1"})
    assert form.status_code == 400
    assert "NUL-tegnet" in form.get_data(as_text=True)
    assert page.get("/orderview/list/?_flt_0_number=1%00").status_code == 400
    assert page.get("/orderview/show/1%00").status_code in (400, 404)
    assert (count_rows(app, Inquiry), count_rows(app, DeliveryAddress)) == before


def test_deep_json_is_a_400(app: Flask, world: World, admin_api: Any) -> None:
    client, headers = admin_api
    for body in (DEEP_JSON, '{"a":' * 5000 + "1" + "}" * 5000, "[" * 40 + "]" * 40):
        response = client.post("/api/v1/order/", data=body, content_type="application/json", headers=headers)
        assert response.status_code == 400, response.get_data(as_text=True)[:200]
        assert "nestet for dypt" in json.dumps(response.json, ensure_ascii=False)


@pytest.mark.parametrize("q", ["1e%2B5", "2e-", "(page:-1)", "(page:99999999999999999999)"])
@pytest.mark.parametrize("path", ["/api/v1/order/", "/api/v1/order/_info", "/api/v1/budget/{budget}"])
def test_q_that_cannot_be_served_is_a_400_naming_it(
    app: Flask, world: World, admin_api: Any, q: str, path: str
) -> None:
    client, headers = admin_api
    response = client.get(path.format(budget=world.a.budget.id) + f"?q={q}", headers=headers)
    assert response.status_code == 400
    message = response.json["message"]
    name = "page" if "page" in q else "q"
    assert list(message) == [name] and message[name][0]


def test_ids_beyond_the_integer_range_are_404_in_paths_and_400_in_bodies(
    app: Flask, world: World, admin_api: Any
) -> None:
    from app.models import Order

    client, headers = admin_api
    page = app.test_client()
    login(page, world.user("Admin").username)
    for url in (
        "/ordre/faktura/99999999999/fakturakopi.pdf",
        "/orderview/show/99999999999",
        "/ordre/faktura/99999999999999999999/fakturakopi.pdf",
    ):
        assert page.get(url).status_code == 404, url
    for url in ("/api/v1/order/99999999999999", f"/api/v1/order/{world.a.order.id}/invoice/99999999999/pdf"):
        assert client.get(url, headers=headers).status_code == 404, url
    before = count_rows(app, Order)
    response = client.post(
        "/api/v1/order/",
        json={
            "delivery_address_id": 99999999999999,
            "lines": [{"product_id": world.product.id, "quantity": 1}],  # type: ignore[union-attr]
        },
        headers=headers,
    )
    assert response.status_code == 400 and "delivery_address_id" in response.json["message"]
    assert count_rows(app, Order) == before


def test_bad_list_arguments_on_a_page_are_dropped_with_a_message(app: Flask, world: World) -> None:
    client = app.test_client()
    login(client, world.user("Admin").username)
    for query in (
        "page_OrderView=99999999999999999999",
        "psize_OrderView=-5",
        "_flt_0_company=abc",
        "page_RoleModelView=1e%2B5",
    ):
        path = "/roles/list/" if "Role" in query else "/orderview/list/"
        response = client.get(f"{path}?{query}")
        assert response.status_code == 200, query
        assert "ble ikke brukt" in response.get_data(as_text=True), query


def test_number_fields_of_every_form_refuse_values_no_column_holds(app: Flask, world: World) -> None:
    """Every add and edit form of the portal's pages: each whole-number and decimal field sent a value
    beyond what its column holds is refused on the page (no 500), and nothing is written."""
    from wtforms import DecimalField, FloatField, IntegerField

    from app.views.base import PortalModelView

    client = app.test_client()
    login(client, world.user("Admin").username)
    failures: list[str] = []
    checked = 0
    for view in app.appbuilder.baseviews:
        if not isinstance(view, PortalModelView) or view.add_form is None:
            continue
        for kind, form_class, url in (
            ("add", view.add_form, f"/{view.route_base.strip('/')}/add"),
            ("edit", view.edit_form, None),
        ):
            if form_class is None or f"{type(view).__name__}.{kind}" not in app.view_functions:
                continue
            pk = None
            if url is None:
                pk = _row_id(app, view.datamodel.obj, world.a.company.id)
                if pk is None:
                    continue
                url = f"/{view.route_base.strip('/')}/edit/{pk}"
            with app.test_request_context():
                form = form_class()
                numbers = [f.name for f in form if isinstance(f, (IntegerField, DecimalField, FloatField))]
            for name in numbers:
                for value in ("99999999999999999999", "1e400", "NaN"):
                    checked += 1
                    before = _counts(app), pk and _snapshot(app, view.datamodel.obj, pk)
                    response = client.post(url, data={name: value})
                    after = _counts(app), pk and _snapshot(app, view.datamodel.obj, pk)
                    if response.status_code >= 500 or after != before:
                        failures.append(f"POST {url} {name}={value}: {response.status_code}")
    assert checked > 5
    assert not failures, failures
