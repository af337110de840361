"""The REST API under /api/v1/ (app/api): routes and roles, tenancy, input rules, format, SQL count.

Expectations are computed from app/roles.py (the contract), so a permission added there is tested
here without anyone remembering. Row counts are read with a plain session outside any request
(no tenant scope), so "nothing was written" is checked against the real tables.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from app.api.base import ROUTES_FOR_PERMISSION, api_permissions
from app.domain.validation import (
    InvalidValue,
    validate_amount,
    validate_not_past,
    validate_org_number,
    validate_postal_code,
)
from app.models import (
    ApprovalRule,
    AuditEntry,
    Budget,
    Company,
    DeliveryAddress,
    Inquiry,
    Order,
    PickupReservation,
    PortalUser,
    Quote,
    ShoppingList,
    StandingOrder,
    utcnow,
)
from app.registry import APIS as ALL_APIS
from app.roles import ALL_ROLES, CUSTOMER_ROLES, ROLE_PERMISSIONS
from tests.factories import World
from tests.helpers import Caller, assert_no_leak, count_rows, field_errors, load

API = "/api/v1"

# resource -> (model, attribute of a world tenant holding one of its rows)
RESOURCES: dict[str, tuple[type, str]] = {
    "company": (Company, "company"),
    "delivery_address": (DeliveryAddress, "address"),
    "order": (Order, "order"),
    "quote": (Quote, "quote"),
    "budget": (Budget, "budget"),
    "standing_order": (StandingOrder, "standing_order"),
    "inquiry": (Inquiry, "inquiry"),
    "pickup_reservation": (PickupReservation, "reservation"),
    "user": (PortalUser, "user"),
    "audit": (AuditEntry, "audit_entry"),
    "approval_rule": (ApprovalRule, "approval_rule"),
    "shopping_list": (ShoppingList, "shopping_list"),
}
API_CLASS = {api.resource_name: api.__name__ for api in ALL_APIS}


def allowed(role: str, api_class: str, permission: str) -> bool:
    return role == "Admin" or permission in ROLE_PERMISSIONS.get(role, {}).get(api_class, ())


# --- routes and permissions follow app/roles.py ---------------------------------------------

METHODS = {
    "get_list": ("GET", ""),
    "get": ("GET", "{id}"),
    "info": ("GET", "_info"),
    "post": ("POST", ""),
    "put": ("PUT", "{id}"),
    "delete": ("DELETE", "{id}"),
}


def test_every_resource_is_registered_with_its_class_name(app: Flask) -> None:
    names = {api.resource_name: api.__name__ for api in ALL_APIS}
    assert names == {
        "company": "CompanyApi",
        "delivery_address": "DeliveryAddressApi",
        "product": "ProductApi",
        "order": "OrderApi",
        "quote": "QuoteApi",
        "budget": "BudgetApi",
        "standing_order": "StandingOrderApi",
        "inquiry": "InquiryApi",
        "pickup_reservation": "PickupReservationApi",
        "user": "UserApi",
        "audit": "AuditApi",
        "shopping_list": "ShoppingListApi",
        "approval_rule": "ApprovalRuleApi",
    }
    registered = {type(v).__name__ for v in app.appbuilder.baseviews}
    assert set(names.values()) <= registered


def test_admin_holds_every_api_permission(app: Flask) -> None:
    """`portal init` gives the Admin role every permission of every API."""
    with app.app_context():
        role = app.appbuilder.sm.find_role(app.config["AUTH_ROLE_ADMIN"])
        granted = {(p.permission.name, p.view_menu.name) for p in role.permissions}
    missing = sorted(
        (perm, api.__name__)
        for api in ALL_APIS
        for perm in api_permissions(api.__name__)
        if (perm, api.__name__) not in granted
    )
    assert not missing, f"the Admin role lacks {missing}"


def test_routes_exist_exactly_for_granted_permissions(app: Flask) -> None:
    """No route that no role may use: FAB would otherwise offer it to Admin and the matrix."""
    rules = {(rule.endpoint, method) for rule in app.url_map.iter_rules() for method in rule.methods or ()}
    checked = 0
    for api in ALL_APIS:
        granted = api_permissions(api.__name__)
        view = next(v for v in app.appbuilder.baseviews if type(v) is api)
        # Workflow permissions (can_approve, ...) come on top: tests/test_api_orders.py checks them.
        assert set(view.base_permissions) & set(ROUTES_FOR_PERMISSION) == granted
        for permission, routes in ROUTES_FOR_PERMISSION.items():
            for route in routes:
                method = METHODS[route][0]
                exists = (f"{api.__name__}.{route}", method) in rules
                assert exists == (permission in granted), (api.__name__, route)
                checked += 1
    print(f"checked {checked} route/permission pairs")


def _url(resource: str, route: str, world: World) -> tuple[str, str]:
    method, suffix = METHODS[route]
    model, attr = RESOURCES.get(resource, (None, None))
    pk = getattr(world.a, attr).id if attr else (world.product.id if world.product else 1)
    return method, f"{API}/{resource}/{suffix.format(id=pk)}"


ALL_RESOURCES = [api.resource_name for api in ALL_APIS]


@pytest.mark.parametrize("resource", ALL_RESOURCES)
def test_no_token_is_401(client: FlaskClient, world: World, resource: str) -> None:
    granted = api_permissions(API_CLASS[resource])
    for permission in sorted(granted):
        for route in ROUTES_FOR_PERMISSION[permission]:
            method, url = _url(resource, route, world)
            response = client.open(url, method=method, json={})
            assert response.status_code == 401, (method, url, response.json)


@pytest.mark.parametrize("role", ALL_ROLES)
def test_role_matrix(app: Flask, world: World, as_role: Callable[[str], Caller], role: str) -> None:
    """Every route of every resource for a role: 403 exactly when app/roles.py does not grant it."""
    caller = as_role(role)
    cases = 0
    for resource in ALL_RESOURCES:
        api_class = API_CLASS[resource]
        for permission in sorted(api_permissions(api_class)):
            for route in sorted(ROUTES_FOR_PERMISSION[permission]):
                method, url = _url(resource, route, world)
                if method == "DELETE" and allowed(role, api_class, permission):
                    continue  # a real delete is tested below; here only the refusal matters
                response = caller.client.open(url, method=method, json={}, headers=caller.headers)
                if allowed(role, api_class, permission):
                    assert response.status_code != 403, (role, method, url)
                    assert response.status_code < 500, (role, method, url, response.json)
                else:
                    assert response.status_code == 403, (role, method, url, response.status_code)
                cases += 1
    print(f"{role}: {cases} route cases")


def test_admin_may_use_every_route(as_role: Callable[[str], Caller], world: World) -> None:
    admin = as_role("Admin")
    for resource in ALL_RESOURCES:
        for route in ("get_list", "get", "info"):
            method, url = _url(resource, route, world)
            assert admin.client.open(url, method=method, headers=admin.headers).status_code == 200, url


# --- OpenAPI is not public ------------------------------------------------------------------


def test_openapi_needs_login(client: FlaskClient, world: World) -> None:
    response = client.get(f"{API}/_openapi")
    assert response.status_code == 401
    assert client.get("/swagger/v1").status_code in (302, 401)


@pytest.mark.parametrize("role", [r for r in ALL_ROLES if r != "Admin"])
def test_openapi_per_role(as_role: Callable[[str], Caller], role: str) -> None:
    """Readable by the roles roles.py grants `can_get` on `OpenApi` (suppliers), never by customers."""
    response = as_role(role).get(f"{API}/_openapi")
    expected = 200 if "can_get" in ROLE_PERMISSIONS[role].get("OpenApi", ()) else 403
    assert response.status_code == expected
    if role in CUSTOMER_ROLES:
        assert response.status_code == 403


def test_openapi_for_admin_documents_every_resource(as_role: Callable[[str], Caller]) -> None:
    response = as_role("Admin").get(f"{API}/_openapi")
    assert response.status_code == 200
    paths = response.json["paths"]
    for resource in ALL_RESOURCES:
        assert f"{API}/{resource}/" in paths
    assert "post" in paths[f"{API}/order/"]  # customers place orders


# --- tenancy: reads -------------------------------------------------------------------------


def _readable(role: str, resource: str) -> bool:
    return "can_get" in ROLE_PERMISSIONS[role].get(API_CLASS[resource], ())


@pytest.mark.parametrize("role", CUSTOMER_ROLES)
@pytest.mark.parametrize("resource", list(RESOURCES))
def test_customer_lists_only_own_company(
    app: Flask, world: World, as_role: Callable[[str], Caller], role: str, resource: str
) -> None:
    if not _readable(role, resource):
        assert as_role(role).get(f"{API}/{resource}/").status_code == 403
        return
    model, attr = RESOURCES[resource]
    caller = as_role(role)
    company_a = world.a.company.id
    response = caller.get(f"{API}/{resource}/", q={"page_size": 100})
    assert response.status_code == 200
    body = response.json
    expected = 1 if model is Company else count_rows(app, model, company_id=company_a)
    assert body["count"] == expected == len(body["result"])
    if model is Company:
        assert body["ids"] == [company_a]
    else:
        assert {row["company_id"] for row in body["result"]} == {company_a}
    # Asking for another company's rows by filter finds nothing.
    if model is not Company:
        other = caller.get(
            f"{API}/{resource}/", q={"filters": [{"col": "company_id", "opr": "eq", "value": world.b.company.id}]}
        )
        assert other.status_code == 200 and other.json["count"] == 0
    # Own row: 200; another company's row by id: 404, never 403.
    own = getattr(world.a, attr).id
    foreign = getattr(world.b, attr).id
    assert caller.get(f"{API}/{resource}/{own}").status_code == 200
    response = caller.get(f"{API}/{resource}/{foreign}")
    assert response.status_code == 404
    assert world.b.company.name not in response.get_data(as_text=True)


# Users are administered by customer service, not read by managers (tests/test_accounts.py); the
# audit log is Admin's (tests/test_audit_log.py).
@pytest.mark.parametrize("resource", [r for r in RESOURCES if r not in ("user", "audit")])
def test_supplier_sees_every_company(app: Flask, world: World, as_role: Callable[[str], Caller], resource: str) -> None:
    model, attr = RESOURCES[resource]
    response = as_role("Manager").get(f"{API}/{resource}/", q={"page_size": 100})
    assert response.status_code == 200
    assert response.json["count"] == count_rows(app, model)
    assert as_role("Manager").get(f"{API}/{resource}/{getattr(world.b, attr).id}").status_code == 200


def test_products_are_shared(as_role: Callable[[str], Caller], world: World) -> None:
    body = as_role("CustomerUser").get(f"{API}/product/").json
    assert body["count"] == 2
    sofa = next(row for row in body["result"] if row["sku"] == "SOFA-1")
    assert sofa["unit_price"] == "12000.00" and sofa["vat_rate"] == "25.00"
    assert sofa["is_configurable"] is True and sofa["variants"]["fabric"] == ["Ull grå", "Lin natur"]


# --- tenancy: writes ------------------------------------------------------------------------

ADDRESS = {"recipient_name": "Nytt lager", "street": "Industriveien 9", "postal_code": "2815", "city": "Gjøvik"}


def test_customer_admin_creates_address_for_own_company(
    app: Flask, world: World, as_role: Callable[[str], Caller]
) -> None:
    response = as_role("CustomerAdmin").post(f"{API}/delivery_address/", ADDRESS)
    assert response.status_code == 201, response.json
    created = load(app, DeliveryAddress, response.json["id"])
    assert created.company_id == world.a.company.id
    assert response.json["result"]["company_id"] == world.a.company.id
    # Naming the own company changes nothing and is accepted.
    response = as_role("CustomerAdmin").post(f"{API}/delivery_address/", {**ADDRESS, "company_id": world.a.company.id})
    assert response.status_code == 201


def test_customer_cannot_write_for_another_company(app: Flask, world: World, as_role: Callable[[str], Caller]) -> None:
    b = world.b.company.id
    before = count_rows(app, DeliveryAddress, company_id=b)
    response = as_role("CustomerAdmin").post(f"{API}/delivery_address/", {**ADDRESS, "company_id": b})
    assert "company_id" in field_errors(response)
    assert count_rows(app, DeliveryAddress, company_id=b) == before

    before = count_rows(app, Inquiry, company_id=b)
    response = as_role("CustomerUser").post(f"{API}/inquiry/", {"subject": "Hei", "company_id": b})
    assert "company_id" in field_errors(response)
    assert count_rows(app, Inquiry, company_id=b) == before


def test_customer_cannot_move_own_row(app: Flask, world: World, as_role: Callable[[str], Caller]) -> None:
    address = world.a.address.id
    response = as_role("CustomerAdmin").put(
        f"{API}/delivery_address/{address}", {"company_id": world.b.company.id, "city": "Hamar"}
    )
    assert "company_id" in field_errors(response)
    row = load(app, DeliveryAddress, address)
    assert (row.company_id, row.city) == (world.a.company.id, "Gjøvik")


def test_foreign_rows_by_id_are_404_and_unchanged(app: Flask, world: World, as_role: Callable[[str], Caller]) -> None:
    admin = as_role("CustomerAdmin")
    assert admin.put(f"{API}/delivery_address/{world.b.address.id}", {"city": "Hamar"}).status_code == 404
    assert admin.put(f"{API}/budget/{world.b.budget.id}", {"amount": "1.00"}).status_code == 404
    assert admin.delete(f"{API}/budget/{world.b.budget.id}").status_code == 404
    assert load(app, DeliveryAddress, world.b.address.id).city == "Gjøvik"
    assert load(app, Budget, world.b.budget.id).amount == Decimal("10000.00")
    assert admin.put(f"{API}/budget/not-a-number", {"amount": "1.00"}).status_code == 404


def test_budget_for_another_companys_user_is_400(app: Flask, world: World, as_role: Callable[[str], Caller]) -> None:
    before = count_rows(app, Budget)
    response = as_role("CustomerAdmin").post(
        f"{API}/budget/", {"user_id": world.b.user.id, "period": "month", "amount": "5000"}
    )
    errors = field_errors(response)
    assert list(errors) == ["user_id"]
    assert "Finnes ikke" in errors["user_id"][0]
    assert count_rows(app, Budget) == before
    # Re-pointing an own budget at a foreign user: refused, unchanged.
    response = as_role("CustomerAdmin").put(f"{API}/budget/{world.a.budget.id}", {"user_id": world.b.user.id})
    assert list(field_errors(response)) == ["user_id"]
    assert load(app, Budget, world.a.budget.id).user_id == world.a.user.id
    # An id that does not exist at all looks the same.
    response = as_role("CustomerAdmin").post(f"{API}/budget/", {"user_id": 999999, "period": "month", "amount": 1})
    assert list(field_errors(response)) == ["user_id"]


def test_customer_admin_manages_own_budgets(app: Flask, world: World, as_role: Callable[[str], Caller]) -> None:
    admin = as_role("CustomerAdmin")
    response = admin.post(f"{API}/budget/", {"user_id": world.a.admin.id, "period": "quarter", "amount": 2500.5})
    assert response.status_code == 201, response.json
    result = response.json["result"]
    assert result["amount"] == "2500.50" and result["period_label"] == "Kvartal"
    budget = load(app, Budget, response.json["id"])
    assert (budget.company_id, budget.user_id, budget.amount) == (
        world.a.company.id,
        world.a.admin.id,
        Decimal("2500.50"),
    )
    response = admin.put(f"{API}/budget/{budget.id}", {"amount": "3000"})
    assert response.status_code == 200 and response.json["result"]["amount"] == "3000.00"
    assert admin.delete(f"{API}/budget/{budget.id}").status_code == 200
    assert load(app, Budget, budget.id) is None


def test_supplier_link_to_another_companys_row_is_400(
    app: Flask, world: World, as_role: Callable[[str], Caller]
) -> None:
    """Supplier staff see every row; the flush guard still refuses a cross-company link."""
    quote = world.a.quote.id
    response = as_role("Seller").put(f"{API}/quote/{quote}", {"delivery_address_id": world.b.address.id})
    errors = field_errors(response)
    assert list(errors) == ["delivery_address_id"]
    assert load(app, Quote, quote).delivery_address_id == world.a.address.id
    assert_no_leak(response)


def test_customer_service_names_the_company(app: Flask, world: World, as_role: Callable[[str], Caller]) -> None:
    service = as_role("CustomerService")
    before = count_rows(app, DeliveryAddress)
    assert "company_id" in field_errors(service.post(f"{API}/delivery_address/", ADDRESS))
    assert "company_id" in field_errors(service.post(f"{API}/delivery_address/", {**ADDRESS, "company_id": 999999}))
    assert count_rows(app, DeliveryAddress) == before
    response = service.post(f"{API}/delivery_address/", {**ADDRESS, "company_id": world.b.company.id})
    assert response.status_code == 201
    assert load(app, DeliveryAddress, response.json["id"]).company_id == world.b.company.id


def test_customer_opens_inquiry(app: Flask, world: World, as_role: Callable[[str], Caller]) -> None:
    user = as_role("CustomerUser")
    response = user.post(f"{API}/inquiry/", {"subject": "Når kommer sofaen?", "message": "Ordre 10001-1"})
    assert response.status_code == 201, response.json
    inquiry = load(app, Inquiry, response.json["id"])
    assert (inquiry.company_id, inquiry.created_by_id, inquiry.channel, inquiry.status) == (
        world.a.company.id,
        world.a.user.id,
        "portal",
        "open",
    )
    # Server-side fields cannot be sent.
    for extra in ({"created_by_id": world.b.user.id}, {"status": "closed"}, {"channel": "chat"}):
        assert list(field_errors(user.post(f"{API}/inquiry/", {"subject": "x", "message": "y", **extra}))) == list(
            extra
        )
    assert field_errors(user.post(f"{API}/inquiry/", {"subject": "", "message": "y"})) == {
        "subject": ["Skriv et emne."]
    }
    assert field_errors(user.post(f"{API}/inquiry/", {"subject": "x" * 201, "message": "y"})) == {
        "subject": ["Høyst 200 tegn."]
    }


def test_customer_service_keeps_inquiries_and_companies(
    app: Flask, world: World, as_role: Callable[[str], Caller]
) -> None:
    service = as_role("CustomerService")
    response = service.put(f"{API}/inquiry/{world.b.inquiry.id}", {"status": "answered"})
    assert response.status_code == 200 and response.json["result"]["status_label"] == "Besvart"
    assert "status" in field_errors(service.put(f"{API}/inquiry/{world.b.inquiry.id}", {"status": "gone"}))
    response = service.put(f"{API}/company/{world.b.company.id}", {"credit_limit": "50000", "phone": "+47 22 00 00 00"})
    assert response.status_code == 200, response.json
    assert load(app, Company, world.b.company.id).credit_limit == Decimal("50000.00")
    assert "customer_number" in field_errors(
        service.put(f"{API}/company/{world.b.company.id}", {"customer_number": "1"})
    )


# --- input rules (app/domain/validation.py) -------------------------------------------------


@pytest.mark.parametrize("value", ["123", "12345", "12a4", "", " "])
def test_postal_code_must_be_four_digits(world: World, as_role: Callable[[str], Caller], value: str) -> None:
    errors = field_errors(as_role("CustomerAdmin").post(f"{API}/delivery_address/", {**ADDRESS, "postal_code": value}))
    assert list(errors) == ["postal_code"]
    assert any("fire sifre" in m or "tegn" in m or "fylles ut" in m for m in errors["postal_code"])


@pytest.mark.parametrize("amount", [-1, "-0.01", "abc", "1.234", None])
def test_budget_amount_rules(app: Flask, world: World, as_role: Callable[[str], Caller], amount: Any) -> None:
    before = count_rows(app, Budget)
    errors = field_errors(as_role("CustomerAdmin").post(f"{API}/budget/", {"period": "month", "amount": amount}))
    assert list(errors) == ["amount"]
    assert count_rows(app, Budget) == before


def test_budget_needs_amount_and_known_period(world: World, as_role: Callable[[str], Caller]) -> None:
    errors = field_errors(as_role("CustomerAdmin").post(f"{API}/budget/", {"period": "week"}))
    assert set(errors) == {"amount", "period"}
    assert errors["amount"] == ["Feltet må fylles ut."]


def test_company_rules(app: Flask, world: World, as_role: Callable[[str], Caller]) -> None:
    service = as_role("CustomerService")
    good = {
        "customer_number": "10099",
        "name": "Ny Kunde AS",
        "org_number": "923609016",
        "postal_code": "0155",
        "kind": "dealer",
        "payment_terms": "invoice",
        "credit_limit": "100000",
    }
    errors = field_errors(
        service.post(
            f"{API}/company/",
            {**good, "org_number": "923609017", "postal_code": "1", "kind": "shop", "credit_limit": -1},
        )
    )
    assert set(errors) == {"org_number", "postal_code", "kind", "credit_limit"}
    assert "kontrollsifferet" in errors["org_number"][0]
    assert "customer_number" in field_errors(service.post(f"{API}/company/", {**good, "customer_number": "10001"}))
    response = service.post(f"{API}/company/", good)
    assert response.status_code == 201, response.json
    assert response.json["result"]["kind_label"] == "Forhandler"


def test_bad_bodies_are_400_not_500(world: World, as_role: Callable[[str], Caller]) -> None:
    admin = as_role("CustomerAdmin")
    url = f"{API}/delivery_address/"
    response = admin.client.post(url, data="recipient_name=x", headers=admin.headers)
    assert response.status_code == 400 and "JSON" in response.json["message"]
    response = admin.client.post(url, data="{not json", headers={**admin.headers, "Content-Type": "application/json"})
    assert response.status_code == 400
    assert admin.post(url, [ADDRESS]).status_code == 400
    errors = field_errors(admin.post(url, {**ADDRESS, "colour": "rød"}))
    assert errors == {"colour": ["Ukjent felt."]}
    errors = field_errors(admin.post(url, {**ADDRESS, "active": "kanskje"}))
    assert list(errors) == ["active"]


def test_database_errors_never_leak(
    world: World, as_role: Callable[[str], Caller], monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy.exc import IntegrityError

    from app.api.budgets import BudgetApi

    def boom(self: Any, item: Any) -> None:
        raise IntegrityError("INSERT INTO budgets (secret) VALUES (1)", {}, Exception("duplicate key secret"))

    monkeypatch.setattr(BudgetApi, "pre_add", boom)
    response = as_role("CustomerAdmin").post(f"{API}/budget/", {"period": "month", "amount": 1})
    assert response.status_code == 400
    assert "secret" not in response.get_data(as_text=True)
    assert_no_leak(response)

    def crash(self: Any, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError("SELECT secret FROM budgets")

    monkeypatch.setattr(BudgetApi, "pre_get_list", crash)
    response = as_role("CustomerAdmin").get(f"{API}/budget/")
    assert response.status_code == 500
    assert "secret" not in response.get_data(as_text=True)
    assert_no_leak(response)


def test_validation_functions() -> None:
    assert validate_postal_code(" 0155 ") == "0155"
    assert validate_org_number("923 609 016") == "923609016"
    for bad in ("92360901", "923609017", "abcdefghi"):
        with pytest.raises(InvalidValue):
            validate_org_number(bad)
    assert validate_amount("1500,5") == Decimal("1500.50")
    with pytest.raises(InvalidValue):
        validate_amount(Decimal("-0.01"))
    with pytest.raises(InvalidValue):
        validate_not_past(dt.date(2020, 1, 1), today=dt.date(2020, 1, 2))


# --- results: codes, labels, money, filters -------------------------------------------------


def test_order_results_show_codes_labels_and_money(world: World, as_role: Callable[[str], Caller]) -> None:
    row = as_role("CustomerUser").get(f"{API}/order/").json["result"][0]
    assert (row["status"], row["status_label"], row["channel"], row["channel_label"]) == (
        "processing",
        "Under behandling",
        "webshop",
        "Nettbutikk",
    )
    assert (row["total_ex_vat"], row["total_vat"], row["total_inc_vat"]) == ("1000.00", "250.00", "1250.00")
    assert row["company"] == {"name": "Hansen AS", "customer_number": "10001"}
    assert row["delivery_address"]["recipient_name"] == "hansen lager"
    item = as_role("CustomerUser").get(f"{API}/order/{world.a.order.id}").json["result"]
    assert item["lines"][0]["sku"] == "STOL-1" and item["lines"][0]["line_total"] == "1000.00"
    assert item["events"][0]["to_status_label"] == "Under behandling"
    assert item["shipments"][0]["tracking_url"].endswith("CC10001")
    assert item["invoices"][0]["amount"] == "1250.00"


def test_order_list_filters(app: Flask, world: World, as_role: Callable[[str], Caller]) -> None:
    manager = as_role("Manager")

    def ids(*filters: dict[str, Any]) -> set[int]:
        response = manager.get(f"{API}/order/", q={"filters": list(filters)})
        assert response.status_code == 200, response.json
        return set(response.json["ids"])

    a, b = world.a.order.id, world.b.order.id
    assert ids({"col": "status", "opr": "eq", "value": "processing"}) == {a, b}
    assert ids({"col": "status", "opr": "eq", "value": "invoiced"}) == set()
    assert ids({"col": "channel", "opr": "eq", "value": "webshop"}) == {a, b}
    assert ids({"col": "company_id", "opr": "eq", "value": world.b.company.id}) == {b}
    yesterday = (utcnow() - dt.timedelta(days=1)).isoformat()
    assert ids({"col": "created_at", "opr": "gt", "value": yesterday}) == {a, b}
    assert ids({"col": "created_at", "opr": "lt", "value": yesterday}) == set()
    response = manager.get(f"{API}/order/", q={"filters": [{"col": "secret", "opr": "eq", "value": 1}]})
    assert response.status_code == 400
    response = manager.get(f"{API}/order/", q={"filters": [{"col": "number", "opr": "sw", "value": 1}]})
    assert response.status_code == 400


def test_info_shows_what_a_customer_may_send(world: World, as_role: Callable[[str], Caller]) -> None:
    body = as_role("CustomerAdmin").get(f"{API}/delivery_address/_info").json
    names = [f["name"] for f in body["add_columns"]]
    assert "company_id" not in names and "postal_code" in names
    assert all(f["description"] == "" for f in body["add_columns"])
    assert next(f for f in body["add_columns"] if f["name"] == "postal_code")["label"] == "Postnummer"
    body = as_role("CustomerService").get(f"{API}/delivery_address/_info").json
    assert "company_id" in [f["name"] for f in body["add_columns"]]
    # A user who may not add or edit gets no add/edit fields (and no related-row lookups for them).
    body = as_role("Manager").get(f"{API}/order/_info").json
    assert body["add_columns"] == [] and body["edit_columns"] == []


def test_labels_and_titles_are_norwegian(world: World, as_role: Callable[[str], Caller]) -> None:
    body = as_role("CustomerUser").get(f"{API}/order/").json
    assert body["list_title"] == "Ordreoversikt"
    assert body["label_columns"]["status_label"] == "Status"
    assert body["label_columns"]["total_inc_vat"] == "Sum inkl. mva"


def test_customer_service_creates_pickup_reservation(
    app: Flask, world: World, as_role: Callable[[str], Caller]
) -> None:
    service = as_role("CustomerService")
    body = {
        "company_id": world.b.company.id,
        "store_id": world.store.id,
        "pickup_deadline": (utcnow() + dt.timedelta(days=3)).isoformat(),
        "items": [{"sku": "STOL-1", "name": "Kontorstol Basic", "quantity": 2}],
    }
    errors = field_errors(
        service.post(
            f"{API}/pickup_reservation/",
            {**body, "items": [{"sku": "X", "quantity": 0}], "store_id": 999999, "status": "lost"},
        )
    )
    assert set(errors) == {"items", "store_id", "status"}
    response = service.post(f"{API}/pickup_reservation/", body)
    assert response.status_code == 201, response.json
    result = response.json["result"]
    assert result["status"] == "reserved" and result["status_label"] == "Reservert" and len(result["pickup_code"]) == 6
    assert result["store"]["name"] == "Butikk Oslo"
    assert as_role("berg.bruker").get(f"{API}/pickup_reservation/{response.json['id']}").status_code == 200
    assert as_role("CustomerUser").get(f"{API}/pickup_reservation/{response.json['id']}").status_code == 404


# --- quotes through the domain --------------------------------------------------------------


def test_seller_creates_quote_through_domain(app: Flask, world: World, as_role: Callable[[str], Caller]) -> None:
    seller = as_role("Seller")
    valid = (dt.date.today() + dt.timedelta(days=14)).isoformat()
    body = {
        "company_id": world.a.company.id,
        "valid_until": valid,
        "end_customer_ref": "Kari",
        "delivery_address_id": world.a.address.id,
        "lines": [{"product_id": world.product.id, "quantity": 3}],
    }
    before = count_rows(app, Quote)
    errors = field_errors(seller.post(f"{API}/quote/", {**body, "delivery_address_id": world.b.address.id}))
    assert list(errors) == ["delivery_address_id"]
    assert "lines" in field_errors(seller.post(f"{API}/quote/", {**body, "lines": []}))
    assert count_rows(app, Quote) == before
    response = seller.post(f"{API}/quote/", body)
    assert response.status_code == 201, response.json
    result = response.json["result"]
    assert result["status"] == "draft" and result["number"].startswith("T")
    assert result["lines"][0]["unit_price"] == "500.00"
    assert load(app, Quote, response.json["id"]).created_by_id == world.staff["Seller"].id


# --- a fixed number of SQL statements per list page -----------------------------------------


def _add_rows(app: Flask, world: World, n: int) -> None:
    """n more rows of every listed model for company A (with their relations set)."""
    from app.extensions import db

    with app.app_context(), Session(db.engine) as s:
        a = world.a
        for i in range(n):
            address = DeliveryAddress(
                company_id=a.company.id,
                recipient_name=f"Lager {i}",
                street="Vei 1",
                postal_code="2815",
                city="Gjøvik",
            )
            s.add(address)
            s.flush()
            s.add(
                Order(
                    company_id=a.company.id,
                    number=f"N{i}",
                    channel="phone",
                    status="shipped",
                    delivery_address_id=address.id,
                    created_by_id=a.user.id,
                    total_ex_vat=Decimal("10.00"),
                    total_vat=Decimal("2.50"),
                )
            )
            s.add(
                Quote(
                    company_id=a.company.id,
                    number=f"TN{i}",
                    valid_until=dt.date.today(),
                    delivery_address_id=address.id,
                    created_by_id=a.admin.id,
                )
            )
            s.add(Budget(company_id=a.company.id, user_id=a.admin.id, period="year", amount=Decimal("1")))
            s.add(Inquiry(company_id=a.company.id, subject=f"S{i}", created_by_id=a.user.id))
            s.add(
                PickupReservation(
                    company_id=a.company.id,
                    store_id=world.store.id,
                    pickup_code=f"C{i}",
                    pickup_deadline=utcnow(),
                    items=[],
                )
            )
            s.add(
                StandingOrder(
                    company_id=a.company.id,
                    name=f"F{i}",
                    delivery_address_id=address.id,
                    start_date=dt.date.today(),
                )
            )
        s.commit()


@pytest.mark.parametrize("role", ["CustomerAdmin", "Manager"])
def test_list_statement_count_does_not_grow_with_rows(
    app: Flask, world: World, as_role: Callable[[str], Caller], statements: list[str], role: str
) -> None:
    caller = as_role(role)
    resources = [r for r in ALL_RESOURCES if _readable(role, r)]

    def measure() -> dict[str, int]:
        result = {}
        for resource in resources:
            statements.clear()
            response = caller.get(f"{API}/{resource}/", q={"page_size": 50})
            assert response.status_code == 200
            result[resource] = len(statements)
        return result

    few = measure()
    _add_rows(app, world, 12)
    many = measure()
    assert many == few, {"few": few, "many": many}
    assert max(many.values()) <= 7, many  # 5 for the user and its permission, count, page
