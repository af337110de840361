"""REST API of the order and quote workflows: placing orders, approval, cancel, shipments,
invoices, invoice copies, quotes, list filters, and the speed of the order list (app/api/orders.py,
quotes.py).

The rules are app/domain's (tests/test_domain_orders.py); here: each route per role (allowed,
403 without the permission, 404 for another company's row, 409 for a state change that is not
allowed, 400 naming the field with nothing written). Rows are counted with a plain session
outside any request (no tenant scope), so "nothing written" is checked against the real tables.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import insert, select, text, update
from sqlalchemy.orm import Session

from app.api.base import api_routes, custom_api_permissions, granted_permissions
from app.api.orders import OrderApi
from app.api.quotes import QuoteApi
from app.models import (
    Invoice,
    MailOutbox,
    Order,
    OrderEvent,
    OrderLine,
    Quote,
    QuoteLine,
    Shipment,
    ShipmentLine,
    utcnow,
)
from app.registry import APIS as ALL_APIS
from app.roles import ALL_ROLES, ROLE_PERMISSIONS
from tests.factories import World
from tests.helpers import (
    Caller,
    assert_no_leak,
    count_rows,
    db_session,
    field_errors,
    is_postgres,
    load,
    outbox,
)

API = "/api/v1"
WRITTEN = (Order, OrderLine, OrderEvent, MailOutbox, Shipment, ShipmentLine, Invoice, Quote, QuoteLine)
As = Callable[[str], Caller]


def snapshot(app: Flask) -> dict[str, int]:
    """Row counts of every table an order/quote workflow writes."""
    return {model.__name__: count_rows(app, model) for model in WRITTEN}


def order_body(world: World, **extra: Any) -> dict[str, Any]:
    return {
        "delivery_address_id": world.a.address.id,
        "customer_reference": "PO-77",
        "lines": [{"product_id": world.product.id, "quantity": 2}],
        **extra,
    }


def sofa(world: World, **extra: Any) -> dict[str, Any]:
    return {
        "product_id": world.configurable.id,
        "quantity": 1,
        "width": 200,
        "depth": 90,
        "fabric": "Ull grå",
        "colour": "Eik",
        **extra,
    }


def message(response: Any) -> str:
    body = response.json
    assert isinstance(body.get("message"), str), body
    return body["message"]


def place(caller: Caller, body: dict[str, Any]) -> dict[str, Any]:
    response = caller.post(f"{API}/order/", body)
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.json


def age_order(app: Flask, order_id: int, days: int) -> None:
    """Move an order's creation `days` back (the customer's cancel window is the same Oslo day)."""
    with db_session(app) as s:
        s.execute(update(Order).where(Order.id == order_id).values(created_at=utcnow() - dt.timedelta(days=days)))
        s.commit()


def events(app: Flask, order_id: int) -> list[OrderEvent]:
    with db_session(app) as s:
        return list(
            s.scalars(select(OrderEvent).where(OrderEvent.order_id == order_id).order_by(OrderEvent.at, OrderEvent.id))
        )


# --- routes follow app/roles.py -------------------------------------------------------------

WORKFLOW: dict[str, tuple[str, str, str]] = {
    # permission on OrderApi / QuoteApi -> (HTTP method, url template, api class)
    "OrderApi.can_approve": ("POST", "/order/{order}/approve", "OrderApi"),
    "OrderApi.can_reject": ("POST", "/order/{order}/reject", "OrderApi"),
    "OrderApi.can_cancel": ("POST", "/order/{order}/cancel", "OrderApi"),
    "OrderApi.can_ship": ("POST", "/order/{order}/shipment", "OrderApi"),
    "OrderApi.can_bill": ("POST", "/order/{order}/invoice", "OrderApi"),
    "OrderApi.can_invoice_copy": ("GET", "/order/{order}/invoice/{invoice}/pdf", "OrderApi"),
    "OrderApi.can_internal_approve": ("POST", "/order/{order}/internal_approve", "OrderApi"),
    "OrderApi.can_internal_reject": ("POST", "/order/{order}/internal_reject", "OrderApi"),
    "QuoteApi.can_convert": ("POST", "/quote/{quote}/convert", "QuoteApi"),
    "QuoteApi.can_send": ("POST", "/quote/{quote}/send", "QuoteApi"),
    "QuoteApi.can_decline": ("POST", "/quote/{quote}/decline", "QuoteApi"),
}


def test_workflow_permissions_are_in_base_permissions_and_routes(app: Flask) -> None:
    rules = {rule.endpoint for rule in app.url_map.iter_rules()}
    for api in ALL_APIS:
        view = next(v for v in app.appbuilder.baseviews if type(v) is api)
        routes = api_routes(api)
        custom = custom_api_permissions(api)
        assert custom <= set(view.base_permissions)
        assert set(view.base_permissions) == granted_permissions(api.__name__) & set(routes)
        for permission, methods in routes.items():
            for method in methods:
                assert (f"{api.__name__}.{method}" in rules) == (permission in view.base_permissions), (api, method)
    assert {f"OrderApi.{p}" for p in custom_api_permissions(OrderApi)} | {
        f"QuoteApi.{p}" for p in custom_api_permissions(QuoteApi)
    } == set(WORKFLOW)


def test_no_route_for_a_permission_nobody_holds(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    """Take can_approve away from every role: the API has neither the permission nor the route."""
    patched = {
        role: {
            view: tuple(p for p in perms if not (view == "OrderApi" and p == "can_approve"))
            for view, perms in table.items()
        }
        for role, table in ROLE_PERMISSIONS.items()
    }
    monkeypatch.setattr("app.api.base.ROLE_PERMISSIONS", patched)
    with app.app_context():
        api = OrderApi()
    assert "can_approve" not in api.base_permissions and "approve" not in api.include_route_methods
    assert "can_reject" in api.base_permissions and "reject" in api.include_route_methods


def test_admin_holds_the_workflow_permissions(app: Flask) -> None:
    with app.app_context():
        role = app.appbuilder.sm.find_role(app.config["AUTH_ROLE_ADMIN"])
        granted = {(p.permission.name, p.view_menu.name) for p in role.permissions}
    for key in WORKFLOW:
        api, permission = key.split(".")
        assert (permission, api) in granted


def _workflow_url(template: str, world: World) -> str:
    return API + template.format(order=world.a.order.id, invoice=world.a.invoice.id, quote=world.a.quote.id)


@pytest.mark.parametrize("role", ALL_ROLES)
def test_workflow_role_matrix(app: Flask, world: World, as_role: As, role: str) -> None:
    """Every workflow route for a role: 403 exactly when app/roles.py does not grant it, never a 500."""
    caller = as_role(role)
    for key, (method, template, api_class) in WORKFLOW.items():
        permission = key.split(".")[1]
        may = role == "Admin" or permission in ROLE_PERMISSIONS[role].get(api_class, ())
        response = caller.client.open(_workflow_url(template, world), method=method, json={}, headers=caller.headers)
        if may:
            assert response.status_code not in (401, 403), (role, key, response.json)
            assert response.status_code < 500, (role, key, response.get_data(as_text=True))
        else:
            assert response.status_code == 403, (role, key, response.status_code)
        if response.is_json:
            assert_no_leak(response)


@pytest.mark.parametrize("key", list(WORKFLOW))
def test_workflow_needs_login(client: FlaskClient, world: World, key: str) -> None:
    method, template, _ = WORKFLOW[key]
    response = client.open(_workflow_url(template, world), method=method, json={})
    assert response.status_code == 401


def test_openapi_documents_the_workflow(as_role: As) -> None:
    paths = as_role("Admin").get(f"{API}/_openapi").json["paths"]
    assert "post" in paths[f"{API}/order/"]
    for path in (
        "/order/{pk}/approve",
        "/order/{pk}/reject",
        "/order/{pk}/cancel",
        "/order/{pk}/shipment",
        "/order/{pk}/invoice",
        "/quote/{pk}/convert",
        "/quote/{pk}/send",
        "/quote/{pk}/decline",
    ):
        assert "post" in paths[API + path], path
    assert "get" in paths[f"{API}/order/{{pk}}/invoice/{{invoice_id}}/pdf"]


def test_info_add_fields_follow_the_users_permission(world: World, as_role: As) -> None:
    names = [f["name"] for f in as_role("CustomerUser").get(f"{API}/order/_info").json["add_columns"]]
    assert names == ["delivery_address_id", "customer_reference", "lines"]
    assert as_role("Manager").get(f"{API}/order/_info").json["add_columns"] == []
    names = [f["name"] for f in as_role("CustomerUser").get(f"{API}/quote/_info").json["add_columns"]]
    assert "company_id" not in names and "lines" in names
    assert "company_id" in [f["name"] for f in as_role("Seller").get(f"{API}/quote/_info").json["add_columns"]]


# --- placing an order -----------------------------------------------------------------------


def test_happy_path_order_approved_by_seller(app: Flask, world: World, as_role: As) -> None:
    """hansen.bruker orders -> Til godkjenning -> selger approves via the API -> Under behandling."""
    user = as_role("hansen.bruker")
    before = snapshot(app)
    created = place(user, order_body(world, lines=[{"product_id": world.product.id, "quantity": 2}, sofa(world)]))
    order = created["result"]
    assert created["id"] == order["id"]
    assert (order["status"], order["status_label"], order["channel"]) == (
        "pending_approval",
        "Til godkjenning",
        "webshop",
    )
    assert (order["total_ex_vat"], order["total_vat"], order["total_inc_vat"]) == ("13000.00", "3250.00", "16250.00")
    assert order["number"] and order["company_id"] == world.a.company.id
    assert order["created_by_id"] == world.a.user.id and order["customer_reference"] == "PO-77"
    assert [ln["line_total"] for ln in order["lines"]] == ["1000.00", "12000.00"]
    assert order["lines"][1]["width"] == 200 and order["lines"][1]["fabric"] == "Ull grå"
    assert count_rows(app, Order) == before["Order"] + 1 and count_rows(app, OrderLine) == before["OrderLine"] + 2
    confirmation = [m for m in outbox(app, kind="order_confirmation") if order["number"] in m.subject]
    assert [m.to_address for m in confirmation] == [world.a.user.email]

    seller = as_role("selger")
    response = seller.post(f"{API}/order/{order['id']}/approve", {})
    assert response.status_code == 200, response.json
    assert (response.json["result"]["status"], response.json["result"]["status_label"]) == (
        "processing",
        "Under behandling",
    )
    history = events(app, order["id"])
    assert [(e.from_status, e.to_status) for e in history] == [
        (None, "pending_approval"),
        ("pending_approval", "processing"),
    ]
    assert history[1].actor_id == world.staff["Seller"].id
    approved = [m for m in outbox(app, kind="order_approved") if order["number"] in m.subject]
    assert [m.to_address for m in approved] == [world.a.user.email]
    # The customer sees it (timeline included); approving again is 409 with the reason.
    shown = user.get(f"{API}/order/{order['id']}").json["result"]
    assert shown["status_label"] == "Under behandling"
    assert [e["to_status_label"] for e in shown["events"]] == ["Til godkjenning", "Under behandling"]
    again = seller.post(f"{API}/order/{order['id']}/approve", {})
    assert again.status_code == 409 and "allerede behandlet" in message(again)


def test_webshop_company_starts_processing_and_names_the_company(app: Flask, world: World, as_role: As) -> None:
    result = place(
        as_role("berg.bruker"),
        {
            "delivery_address_id": world.b.address.id,
            "lines": [{"product_id": world.product.id, "quantity": 1}],
            "company_id": world.b.company.id,
        },
    )["result"]
    assert (result["status"], result["company_id"]) == ("processing", world.b.company.id)
    assert load(app, Order, result["id"]).company_id == world.b.company.id


def test_admin_places_an_order_for_a_named_company(app: Flask, world: World, as_role: As) -> None:
    admin = as_role("Admin")
    assert "company_id" in field_errors(admin.post(f"{API}/order/", order_body(world)))
    result = place(admin, order_body(world, company_id=world.a.company.id))["result"]
    assert (result["company_id"], result["channel"]) == (world.a.company.id, "seller")


@pytest.mark.parametrize("role", ["Seller", "CustomerService", "Manager"])
def test_staff_without_permission_cannot_post_orders(app: Flask, world: World, as_role: As, role: str) -> None:
    before = snapshot(app)
    response = as_role(role).post(f"{API}/order/", order_body(world, company_id=world.a.company.id))
    assert response.status_code == 403
    assert snapshot(app) == before


BAD_ORDERS: list[tuple[str, Callable[[World], dict[str, Any]], str, str]] = [
    # (case, body from the world, field named, part of the message)
    (
        "unknown product",
        lambda w: order_body(w, lines=[{"product_id": 999999, "quantity": 1}]),
        "lines[0].product_id",
        "produkt",
    ),
    (
        "product id beyond SQL",
        lambda w: order_body(w, lines=[{"product_id": 10**15, "quantity": 1}]),
        "lines[0].product_id",
        "Finnes ikke",
    ),
    (
        "quantity zero",
        lambda w: order_body(w, lines=[{"product_id": w.product.id, "quantity": 0}]),
        "lines[0].quantity",
        "minst 1",
    ),
    (
        "quantity negative",
        lambda w: order_body(w, lines=[{"product_id": w.product.id, "quantity": -3}]),
        "lines[0].quantity",
        "minst 1",
    ),
    (
        "quantity huge",
        lambda w: order_body(w, lines=[{"product_id": w.product.id, "quantity": 10**12}]),
        "lines[0].quantity",
        "høyst",
    ),
    (
        "quantity as text",
        lambda w: order_body(w, lines=[{"product_id": w.product.id, "quantity": "2"}]),
        "lines[0].quantity",
        "heltall",
    ),
    (
        "quantity missing",
        lambda w: order_body(w, lines=[{"product_id": w.product.id}]),
        "lines[0].quantity",
        "fylles ut",
    ),
    (
        "width out of range",
        lambda w: order_body(w, lines=[sofa(w, width=300)]),
        "lines[0].width",
        "Bredde må være mellom 80 og 240 cm",
    ),
    ("depth missing", lambda w: order_body(w, lines=[sofa(w, depth=None)]), "lines[0].depth", "Dybde"),
    ("unknown fabric", lambda w: order_body(w, lines=[sofa(w, fabric="Skinn")]), "lines[0].fabric", "Skinn"),
    (
        "dimension on a plain product",
        lambda w: order_body(w, lines=[{"product_id": w.product.id, "quantity": 1, "width": 100}]),
        "lines[0].width",
        "ikke valgbar",
    ),
    ("second line bad", lambda w: order_body(w, lines=[sofa(w), sofa(w, colour="Rosa")]), "lines[1].colour", "Rosa"),
    (
        "a price from the customer",
        lambda w: order_body(w, lines=[{"product_id": w.product.id, "quantity": 1, "unit_price": "1.00"}]),
        "lines[0].unit_price",
        "Ukjent felt",
    ),
    ("line not an object", lambda w: order_body(w, lines=[5]), "lines[0]", "JSON-objekt"),
    ("lines not a list", lambda w: order_body(w, lines="STOL-1"), "lines", "liste"),
    ("lines empty", lambda w: order_body(w, lines=[]), "lines", "Velg minst ett produkt"),
    ("lines missing", lambda w: {"delivery_address_id": w.a.address.id}, "lines", "Velg minst ett produkt"),
    (
        "foreign delivery address",
        lambda w: order_body(w, delivery_address_id=w.b.address.id),
        "delivery_address_id",
        "Finnes ikke",
    ),
    (
        "unknown delivery address",
        lambda w: order_body(w, delivery_address_id=999999),
        "delivery_address_id",
        "Finnes ikke",
    ),
    (
        "delivery address missing",
        lambda w: {"lines": [{"product_id": w.product.id, "quantity": 1}]},
        "delivery_address_id",
        "leveringsadresse",
    ),
    (
        "delivery address as text",
        lambda w: order_body(w, delivery_address_id="lager"),
        "delivery_address_id",
        "heltall",
    ),
    ("another company", lambda w: order_body(w, company_id=w.b.company.id), "company_id", "innlogget bruker"),
    ("reference too long", lambda w: order_body(w, customer_reference="x" * 201), "customer_reference", "200"),
    ("server-side field", lambda w: order_body(w, status="processing"), "status", "Ukjent felt"),
]


@pytest.mark.parametrize("case", BAD_ORDERS, ids=[c[0] for c in BAD_ORDERS])
def test_bad_order_is_400_naming_the_field_and_writes_nothing(
    app: Flask, world: World, as_role: As, case: tuple
) -> None:
    _, make_body, field, text_part = case
    before = snapshot(app)
    response = as_role("hansen.bruker").post(f"{API}/order/", make_body(world))
    errors = field_errors(response)
    assert field in errors, errors
    assert any(text_part in m for m in errors[field]), errors
    assert_no_leak(response)
    assert snapshot(app) == before


def test_every_problem_is_named_at_once(app: Flask, world: World, as_role: As) -> None:
    errors = field_errors(
        as_role("hansen.bruker").post(
            f"{API}/order/",
            order_body(
                world,
                delivery_address_id=None,
                lines=[sofa(world, width=20), {"product_id": world.product.id, "quantity": 0}],
            ),
        )
    )
    assert errors == {
        "delivery_address_id": ["Velg en leveringsadresse for kundekontoen."],
        "lines[0].width": ["Bredde må være mellom 80 og 240 cm"],
        "lines[1].quantity": ["Antall må være minst 1."],
    }


def test_bodies_that_are_no_json_object(app: Flask, world: World, as_role: As) -> None:
    user = as_role("hansen.bruker")
    before = snapshot(app)
    response = user.client.post(f"{API}/order/", data="lines=1", headers=user.headers)
    assert response.status_code == 400 and "JSON" in message(response)
    assert user.post(f"{API}/order/", [order_body(world)]).status_code == 400
    response = user.client.post(
        f"{API}/order/", data="{nope", headers={**user.headers, "Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert snapshot(app) == before


# --- approve / reject -----------------------------------------------------------------------


def test_reject_needs_a_reason_and_mails_the_creator(app: Flask, world: World, as_role: As) -> None:
    order = place(as_role("hansen.bruker"), order_body(world))["result"]
    seller = as_role("selger")
    before = snapshot(app)
    assert field_errors(seller.post(f"{API}/order/{order['id']}/reject", {})) == {
        "reason": ["Skriv en begrunnelse for avvisningen."]
    }
    assert "reason" in field_errors(seller.post(f"{API}/order/{order['id']}/reject", {"reason": 5}))
    assert snapshot(app) == before
    response = seller.post(f"{API}/order/{order['id']}/reject", {"reason": "Utgått modell"})
    assert response.status_code == 200
    assert (response.json["result"]["status"], response.json["result"]["status_label"]) == ("rejected", "Avvist")
    assert events(app, order["id"])[-1].reason == "Utgått modell"
    rejected = [m for m in outbox(app, kind="order_rejected") if order["number"] in m.subject]
    assert len(rejected) == 1 and "Utgått modell" in rejected[0].body_text
    response = seller.post(f"{API}/order/{order['id']}/approve", {})
    assert response.status_code == 409 and "Avvist" in message(response)


def test_approve_refused_for_unproducible_order(app: Flask, world: World, as_role: As) -> None:
    order = place(as_role("hansen.bruker"), order_body(world, lines=[sofa(world)]))["result"]
    from app.extensions import db
    from app.models import Product

    with app.app_context(), Session(db.engine) as s:  # the catalogue changed after the order was placed
        s.execute(update(Product).where(Product.id == world.configurable.id).values(max_width=150))
        s.commit()
    response = as_role("selger").post(f"{API}/order/{order['id']}/approve", {})
    assert response.status_code == 409 and "kan ikke godkjennes" in message(response)
    assert load(app, Order, order["id"]).status == "pending_approval"


def test_approve_and_reject_per_role_and_unknown_ids(app: Flask, world: World, as_role: As) -> None:
    order = place(as_role("hansen.bruker"), order_body(world))["result"]
    for role in ("hansen.bruker", "hansen.admin", "kundeservice", "leder"):
        assert as_role(role).post(f"{API}/order/{order['id']}/approve", {}).status_code == 403, role
        assert as_role(role).post(f"{API}/order/{order['id']}/reject", {"reason": "x"}).status_code == 403, role
    seller = as_role("selger")
    assert seller.post(f"{API}/order/999999/approve", {}).status_code == 404
    assert seller.post(f"{API}/order/{2**40}/approve", {}).status_code == 404
    assert seller.post(f"{API}/order/{2**64}/approve", {}).status_code == 404  # beyond SQLite's integers
    assert seller.get(f"{API}/order/{2**64}").status_code == 404
    response = seller.post(f"{API}/order/{world.a.order.id}/approve", {})  # processing already
    assert response.status_code == 409 and "allerede behandlet" in message(response)
    assert load(app, Order, order["id"]).status == "pending_approval"


# --- cancel ---------------------------------------------------------------------------------


def test_customer_cancels_the_same_day(app: Flask, world: World, as_role: As) -> None:
    user = as_role("hansen.bruker")
    order = place(user, order_body(world))["result"]
    response = user.client.post(f"{API}/order/{order['id']}/cancel", headers=user.headers)  # no body at all
    assert response.status_code == 200, response.json
    assert (response.json["result"]["status"], response.json["result"]["status_label"]) == ("cancelled", "Kansellert")
    assert events(app, order["id"])[-1].to_status == "cancelled"
    response = user.post(f"{API}/order/{order['id']}/cancel", {"reason": "Feil antall"})
    assert response.status_code == 409 and "kan ikke kanselleres" in message(response)


def test_customer_cancel_refused_after_shipment_and_next_day(app: Flask, world: World, as_role: As) -> None:
    user = as_role("hansen.bruker")
    response = user.post(f"{API}/order/{world.a.order.id}/cancel", {"reason": "Angrer"})  # has a shipment
    assert response.status_code == 409
    assert message(response) == "Ordren kan ikke kanselleres fordi det allerede er registrert en levering."
    order = place(user, order_body(world))["result"]
    age_order(app, order["id"], days=2)
    response = user.post(f"{API}/order/{order['id']}/cancel", {})
    assert response.status_code == 409 and "samme dag" in message(response)
    assert load(app, Order, order["id"]).status == "pending_approval"
    # Customer service may cancel any order that has not shipped.
    response = as_role("kundeservice").post(f"{API}/order/{order['id']}/cancel", {"reason": "Kunden ringte"})
    assert response.status_code == 200 and response.json["result"]["status"] == "cancelled"
    assert events(app, order["id"])[-1].reason == "Kunden ringte"


def test_cancel_foreign_order_is_404_and_others_403(app: Flask, world: World, as_role: As) -> None:
    before = load(app, Order, world.b.order.id).status
    for role in ("hansen.bruker", "hansen.admin"):
        assert as_role(role).post(f"{API}/order/{world.b.order.id}/cancel", {}).status_code == 404
    for role in ("selger", "leder"):
        assert as_role(role).post(f"{API}/order/{world.b.order.id}/cancel", {}).status_code == 403
    assert load(app, Order, world.b.order.id).status == before
    assert "reason" in field_errors(
        as_role("hansen.bruker").post(f"{API}/order/{world.a.order.id}/cancel", {"reason": ["x"]})
    )


# --- shipments, invoices, invoice copy ------------------------------------------------------


def _berg_order(world: World, as_role: As) -> dict[str, Any]:
    order = place(
        as_role("berg.bruker"),
        {
            "delivery_address_id": world.b.address.id,
            "lines": [
                {"product_id": world.product.id, "quantity": 3},
                {
                    "product_id": world.configurable.id,
                    "quantity": 1,
                    "width": 120,
                    "depth": 60,
                    "fabric": "Lin natur",
                    "colour": "Svart",
                },
            ],
        },
    )["result"]
    assert order["status"] == "processing"
    return order


def test_shipments_and_invoice_move_the_order(app: Flask, world: World, as_role: As) -> None:
    """berg: processing -> partial shipment -> Dellevert -> the rest -> Kjørt ut -> invoice -> Fakturert."""
    order = _berg_order(world, as_role)
    first, second = (ln for ln in load_lines(app, order["id"]))
    service = as_role("kundeservice")
    url = f"{API}/order/{order['id']}"

    response = service.post(
        f"{url}/shipment",
        {"carrier": "bring", "waybill_number": "BR123", "lines": [{"order_line_id": first.id, "quantity": 1}]},
    )
    assert response.status_code == 201, response.json
    shipment_id = response.json["shipment_id"]
    assert response.json["id"] == shipment_id and load(app, Shipment, shipment_id).order_id == order["id"]
    result = response.json["result"]
    assert (result["status"], result["status_label"]) == ("partially_delivered", "Dellevert")
    assert result["lines"][0]["delivered_quantity"] == 1 and result["lines"][0]["status"] == "partially_delivered"
    assert result["shipments"][0]["tracking_url"].endswith("BR123")

    response = service.post(
        f"{url}/shipment",
        {
            "carrier": "own",
            "lines": [
                {"order_line_id": first.id, "quantity": 1},
                {"order_line_id": second.id, "quantity": 1},
                {"order_line_id": first.id, "quantity": 1},
            ],
        },
    )  # the same line twice adds up
    assert response.status_code == 201, response.json
    assert (response.json["result"]["status"], response.json["result"]["status_label"]) == (
        "shipped",
        "Kjørt ut fra lager",
    )
    assert [ln["delivered_quantity"] for ln in response.json["result"]["lines"]] == [3, 1]

    today = dt.date.today()
    response = service.post(
        f"{url}/invoice",
        {
            "number": "F-9001",
            "invoice_date": today.isoformat(),
            "due_date": (today + dt.timedelta(days=14)).isoformat(),
        },
    )
    assert response.status_code == 201, response.json
    invoice_id = response.json["invoice_id"]
    assert load(app, Invoice, invoice_id).amount == Decimal(order["total_inc_vat"])
    assert (response.json["result"]["status"], response.json["result"]["status_label"]) == ("invoiced", "Fakturert")
    assert [e.to_status for e in events(app, order["id"])] == [
        "processing",
        "partially_delivered",
        "shipped",
        "invoiced",
    ]

    # Fakturakopi: the customer, customer service and the manager download it; company A cannot.
    for who in ("berg.bruker", "berg.admin", "kundeservice", "leder"):
        response = as_role(who).get(f"{url}/invoice/{invoice_id}/pdf")
        assert response.status_code == 200, who
        assert response.mimetype == "application/pdf" and response.data.startswith(b"%PDF")
        assert response.headers["Content-Disposition"] == 'attachment; filename="fakturakopi-F-9001.pdf"'
    assert as_role("hansen.bruker").get(f"{url}/invoice/{invoice_id}/pdf").status_code == 404
    # An invoice of another order under this order's URL does not exist.
    assert as_role("leder").get(f"{url}/invoice/{world.b.invoice.id}/pdf").status_code == 404
    assert as_role("leder").get(f"{url}/invoice/999999/pdf").status_code == 404
    # Nothing more to ship; a shipped order is no longer cancelled by anyone.
    response = service.post(
        f"{url}/shipment", {"carrier": "own", "lines": [{"order_line_id": first.id, "quantity": 1}]}
    )
    assert response.status_code == 409 and "kan ikke leveres" in message(response)
    response = service.post(f"{url}/cancel", {})
    assert response.status_code == 409 and "kan ikke kanselleres" in message(response)


def load_lines(app: Flask, order_id: int) -> list[OrderLine]:
    from app.extensions import db

    with app.app_context(), Session(db.engine, expire_on_commit=False) as s:
        return list(s.scalars(select(OrderLine).where(OrderLine.order_id == order_id).order_by(OrderLine.line_no)))


def test_customer_invoice_copy_of_own_and_foreign_order(world: World, as_role: As) -> None:
    url = f"{API}/order/{world.a.order.id}/invoice/{world.a.invoice.id}/pdf"
    response = as_role("hansen.bruker").get(url)
    assert response.status_code == 200 and response.data[:4] == b"%PDF"
    assert f"fakturakopi-{world.a.invoice.number}.pdf" in response.headers["Content-Disposition"]
    # Company B's invoice, under B's order or smuggled under A's order: 404, never 403.
    assert (
        as_role("hansen.bruker").get(f"{API}/order/{world.b.order.id}/invoice/{world.b.invoice.id}/pdf").status_code
        == 404
    )
    assert (
        as_role("hansen.bruker").get(f"{API}/order/{world.a.order.id}/invoice/{world.b.invoice.id}/pdf").status_code
        == 404
    )


def _bad_shipments(world: World, line_id: int, other_line_id: int) -> list[tuple[dict[str, Any], str, str]]:
    return [
        (
            {"carrier": "bring", "waybill_number": "X", "lines": [{"order_line_id": line_id, "quantity": 4}]},
            "lines[0]",
            "høyst 3",
        ),
        (
            {"carrier": "bring", "waybill_number": "X", "lines": [{"order_line_id": other_line_id, "quantity": 1}]},
            "lines[0]",
            "hører ikke til ordren",
        ),
        (
            {"carrier": "dhl", "waybill_number": "X", "lines": [{"order_line_id": line_id, "quantity": 1}]},
            "carrier",
            "transportør",
        ),
        ({"lines": [{"order_line_id": line_id, "quantity": 1}]}, "carrier", "transportør"),
        (
            {"carrier": "bring", "lines": [{"order_line_id": line_id, "quantity": 1}]},
            "waybill_number",
            "Fraktbrevnummer",
        ),
        ({"carrier": "bring", "waybill_number": "X"}, "lines", "minst én linje"),
        (
            {"carrier": "bring", "waybill_number": "X", "lines": [{"order_line_id": line_id, "quantity": "1"}]},
            "lines[0].quantity",
            "heltall",
        ),
        (
            {"carrier": "bring", "waybill_number": "X", "lines": [{"order_line_id": line_id}]},
            "lines[0].quantity",
            "fylles ut",
        ),
        (
            {"carrier": "bring", "waybill_number": "X" * 61, "lines": [{"order_line_id": line_id, "quantity": 1}]},
            "waybill_number",
            "60",
        ),
    ]


def test_bad_shipments_are_400_and_write_nothing(app: Flask, world: World, as_role: As) -> None:
    order = _berg_order(world, as_role)
    first = load_lines(app, order["id"])[0]
    other = load_lines(app, world.b.order.id)[0]
    service = as_role("kundeservice")
    before = snapshot(app)
    for body, field, text_part in _bad_shipments(world, first.id, other.id):
        errors = field_errors(service.post(f"{API}/order/{order['id']}/shipment", body))
        assert field in errors and any(text_part in m for m in errors[field]), (body, errors)
    assert snapshot(app) == before
    assert load_lines(app, order["id"])[0].delivered_quantity == 0


def test_shipment_and_invoice_refusals(app: Flask, world: World, as_role: As) -> None:
    pending = place(as_role("hansen.bruker"), order_body(world))["result"]
    line = load_lines(app, pending["id"])[0]
    service = as_role("kundeservice")
    body = {"carrier": "own", "lines": [{"order_line_id": line.id, "quantity": 1}]}
    response = service.post(f"{API}/order/{pending['id']}/shipment", body)
    assert response.status_code == 409 and message(response) == "Ordren kan ikke leveres i denne statusen."
    today = dt.date.today().isoformat()
    response = service.post(
        f"{API}/order/{pending['id']}/invoice", {"number": "F-1", "invoice_date": today, "due_date": today}
    )
    assert response.status_code == 409 and "kan ikke faktureres" in message(response)
    for role in ("selger", "leder", "hansen.bruker", "hansen.admin"):
        assert as_role(role).post(f"{API}/order/{pending['id']}/shipment", body).status_code == 403, role
        assert as_role(role).post(f"{API}/order/{pending['id']}/invoice", {}).status_code == 403, role
    assert service.post(f"{API}/order/999999/shipment", body).status_code == 404
    assert load(app, Order, pending["id"]).status == "pending_approval"


def test_bad_invoices_are_400_and_write_nothing(app: Flask, world: World, as_role: As) -> None:
    order = _berg_order(world, as_role)
    service = as_role("kundeservice")
    today = dt.date.today()
    good = {
        "number": "F-77",
        "invoice_date": today.isoformat(),
        "due_date": (today + dt.timedelta(days=10)).isoformat(),
    }
    before = snapshot(app)
    cases = [
        ({**good, "due_date": (today - dt.timedelta(days=1)).isoformat()}, "due_date", "før fakturadato"),
        ({**good, "invoice_date": "31.12.2025"}, "invoice_date", "ÅÅÅÅ-MM-DD"),
        ({k: v for k, v in good.items() if k != "due_date"}, "due_date", "fylles ut"),
        ({**good, "number": " "}, "number", "Fakturanummer"),
        ({**good, "number": "F" * 21}, "number", "20"),
        ({**good, "number": world.b.invoice.number}, "number", "finnes allerede"),
        ({**good, "amount": "-1"}, "amount", "negativt"),
        ({**good, "amount": "12.345"}, "amount", "to desimaler"),
        ({**good, "amount": "mye"}, "amount", "tall"),
    ]
    for body, field, text_part in cases:
        errors = field_errors(service.post(f"{API}/order/{order['id']}/invoice", body))
        assert field in errors and any(text_part in m for m in errors[field]), (body, errors)
    assert snapshot(app) == before
    response = service.post(f"{API}/order/{order['id']}/invoice", {**good, "amount": "100.50"})
    assert response.status_code == 201
    assert load(app, Invoice, response.json["invoice_id"]).amount == Decimal("100.50")
    assert response.json["result"]["status"] == "processing"  # partly invoiced, nothing shipped


# --- quotes ---------------------------------------------------------------------------------


def test_customer_converts_quote_to_order(app: Flask, world: World, as_role: As) -> None:
    user = as_role("hansen.bruker")
    quote = world.a.quote
    response = user.post(f"{API}/quote/{quote.id}/convert", {})
    assert response.status_code == 201, response.json
    order_id = response.json["order_id"]
    order = load(app, Order, order_id)
    assert (order.channel, order.quote_id, order.company_id, order.created_by_id) == (
        "quote",
        quote.id,
        world.a.company.id,
        world.a.user.id,
    )
    assert response.json["order_number"] == order.number
    shown = user.get(f"{API}/order/{order_id}").json["result"]
    assert (shown["channel"], shown["channel_label"], shown["quote_id"]) == ("quote", "Tilbud", quote.id)
    assert shown["lines"][0]["unit_price"] == "500.00"
    assert load(app, Quote, quote.id).status == "accepted"
    response = user.post(f"{API}/quote/{quote.id}/convert", {})
    assert response.status_code == 409 and "allerede bestilt" in message(response)


def test_convert_refusals(app: Flask, world: World, as_role: As) -> None:
    from app.extensions import db

    user = as_role("hansen.bruker")
    before = snapshot(app)
    # Another company's quote: 404; staff without the permission: 403.
    assert user.post(f"{API}/quote/{world.b.quote.id}/convert", {}).status_code == 404
    for role in ("kundeservice", "leder"):
        assert as_role(role).post(f"{API}/quote/{world.a.quote.id}/convert", {}).status_code == 403
    # A foreign delivery address: 400, the quote stays sent.
    errors = field_errors(
        user.post(f"{API}/quote/{world.a.quote.id}/convert", {"delivery_address_id": world.b.address.id})
    )
    assert list(errors) == ["delivery_address_id"]
    errors = field_errors(
        as_role("selger").post(f"{API}/quote/{world.a.quote.id}/convert", {"delivery_address_id": world.b.address.id})
    )
    assert list(errors) == ["delivery_address_id"]
    assert snapshot(app) == before and load(app, Quote, world.a.quote.id).status == "sent"
    # Expired: 409 with the date.
    with app.app_context(), Session(db.engine) as s:
        s.execute(
            update(Quote).where(Quote.id == world.a.quote.id).values(valid_until=dt.date.today() - dt.timedelta(days=3))
        )
        s.commit()
    response = user.post(f"{API}/quote/{world.a.quote.id}/convert", {})
    assert response.status_code == 409
    assert "gikk ut" in message(response) and "kan ikke bestilles" in message(response)
    assert snapshot(app) == before


def test_seller_converts_for_the_customer(app: Flask, world: World, as_role: As) -> None:
    response = as_role("selger").post(f"{API}/quote/{world.b.quote.id}/convert", {})
    assert response.status_code == 201
    order = load(app, Order, response.json["order_id"])
    assert (order.company_id, order.channel, order.created_by_id) == (
        world.b.company.id,
        "quote",
        world.staff["Seller"].id,
    )


def test_customer_creates_sends_and_declines_quotes(app: Flask, world: World, as_role: As) -> None:
    user = as_role("hansen.bruker")
    valid = (dt.date.today() + dt.timedelta(days=10)).isoformat()
    body = {
        "valid_until": valid,
        "end_customer_ref": "Kari",
        "delivery_address_id": world.a.address.id,
        "lines": [{"product_id": world.product.id, "quantity": 4}],
    }
    before = snapshot(app)
    # Prices never come from a dealer's body, the company never from any customer's body.
    cases = [
        (
            {**body, "lines": [{"product_id": world.product.id, "quantity": 4, "unit_price": "1.00"}]},
            "lines[0].unit_price",
        ),
        ({**body, "company_id": world.b.company.id}, "company_id"),
        ({**body, "delivery_address_id": world.b.address.id}, "delivery_address_id"),
        ({**body, "lines": [sofa(world, width=10)]}, "lines[0].width"),
        ({**body, "lines": []}, "lines"),
        ({**body, "valid_until": "2020-01-01"}, "valid_until"),
        ({k: v for k, v in body.items() if k != "valid_until"}, "valid_until"),
    ]
    for bad, field in cases:
        assert field in field_errors(user.post(f"{API}/quote/", bad)), bad
    assert snapshot(app) == before
    response = user.post(f"{API}/quote/", {**body, "company_id": world.a.company.id})
    assert response.status_code == 201, response.json
    result = response.json["result"]
    assert (result["status"], result["company_id"], result["created_by_id"]) == (
        "draft",
        world.a.company.id,
        world.a.user.id,
    )
    assert result["lines"][0]["unit_price"] == "500.00" and result["lines"][0]["line_total"] == "2000.00"
    quote_id = response.json["id"]

    response = user.post(f"{API}/quote/{quote_id}/send", {})
    assert response.status_code == 200 and response.json["result"]["status"] == "sent"
    response = user.post(f"{API}/quote/{quote_id}/send", {})
    assert response.status_code == 409 and message(response) == "Bare utkast kan sendes."
    response = as_role("hansen.admin").post(f"{API}/quote/{quote_id}/decline", {})
    assert response.status_code == 200 and response.json["result"]["status"] == "declined"
    response = user.post(f"{API}/quote/{quote_id}/decline", {})
    assert response.status_code == 409 and "kan ikke avslås" in message(response)
    response = user.post(f"{API}/quote/{quote_id}/convert", {})
    assert response.status_code == 409 and "allerede bestilt eller avslått" in message(response)
    # Company B's users do not see it; staff without the permissions may not act.
    assert as_role("berg.bruker").post(f"{API}/quote/{quote_id}/send", {}).status_code == 404
    for role in ("kundeservice", "leder"):
        assert as_role(role).post(f"{API}/quote/{quote_id}/send", {}).status_code == 403
        assert as_role(role).post(f"{API}/quote/{quote_id}/decline", {}).status_code == 403


def test_seller_still_creates_quotes_with_special_prices(app: Flask, world: World, as_role: As) -> None:
    valid = (dt.date.today() + dt.timedelta(days=10)).isoformat()
    response = as_role("selger").post(
        f"{API}/quote/",
        {
            "company_id": world.a.company.id,
            "valid_until": valid,
            "lines": [{"product_id": world.product.id, "quantity": 2, "unit_price": "450.00"}],
        },
    )
    assert response.status_code == 201, response.json
    assert response.json["result"]["lines"][0]["unit_price"] == "450.00"
    assert "company_id" in field_errors(
        as_role("selger").post(
            f"{API}/quote/", {"valid_until": valid, "lines": [{"product_id": world.product.id, "quantity": 2}]}
        )
    )


# --- list filters ---------------------------------------------------------------------------


def test_order_list_filters_like_the_pages(app: Flask, world: World, as_role: As) -> None:
    user = as_role("hansen.bruker")
    new = place(user, order_body(world))["result"]
    other = place(as_role("hansen.admin"), order_body(world))["result"]
    manager = as_role("leder")

    def ids(caller: Caller, *filters: dict[str, Any]) -> set[int]:
        response = caller.get(f"{API}/order/", q={"filters": list(filters), "page_size": 100})
        assert response.status_code == 200, response.json
        return set(response.json["ids"])

    a_old, b_old = world.a.order.id, world.b.order.id
    assert ids(manager, {"col": "status", "opr": "eq", "value": "pending_approval"}) == {new["id"], other["id"]}
    assert ids(manager, {"col": "channel", "opr": "eq", "value": "webshop"}) == {a_old, b_old, new["id"], other["id"]}
    assert ids(manager, {"col": "company_id", "opr": "eq", "value": world.b.company.id}) == {b_old}
    assert ids(user, {"col": "created_by_id", "opr": "eq", "value": world.a.admin.id}) == {other["id"]}
    # A date range: the aged order falls outside "the last day".
    age_order(app, a_old, days=5)
    # "Z", not "+00:00": the test client sends q unencoded, and a "+" in a URL is a space.
    since = (utcnow() - dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    until = (utcnow() + dt.timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert ids(
        user, {"col": "created_at", "opr": "gt", "value": since}, {"col": "created_at", "opr": "lt", "value": until}
    ) == {new["id"], other["id"]}
    # Order number: exact (eq) and exact-or-prefix (numpre); a customer never finds B's.
    assert ids(user, {"col": "number", "opr": "eq", "value": new["number"]}) == {new["id"]}
    assert ids(user, {"col": "number", "opr": "numpre", "value": new["number"]}) == {new["id"]}
    assert ids(user, {"col": "number", "opr": "numpre", "value": "10001"}) == {a_old}  # "10001-1"
    assert ids(manager, {"col": "number", "opr": "numpre", "value": "10002"}) == {b_old}
    everything = manager.get(f"{API}/order/", q={"page_size": 100}).json["result"]
    prefix = new["number"][:3]
    assert (
        ids(manager, {"col": "number", "opr": "numpre", "value": prefix})
        == {row["id"] for row in everything if row["number"].startswith(prefix)}
        >= {new["id"], other["id"]}
    )
    assert ids(user, {"col": "number", "opr": "numpre", "value": world.b.order.number}) == set()
    # LIKE wildcards in the value are literal characters.
    assert ids(manager, {"col": "number", "opr": "numpre", "value": "%"}) == set()
    assert ids(manager, {"col": "number", "opr": "numpre", "value": "1000_-1"}) == set()
    # The list shows codes, standing order and delivery date.
    row = next(r for r in manager.get(f"{API}/order/", q={"page_size": 100}).json["result"] if r["id"] == new["id"])
    assert {"status", "channel", "standing_order_id", "delivery_date"} <= set(row)
    assert (row["status"], row["channel"], row["standing_order_id"], row["delivery_date"]) == (
        "pending_approval",
        "webshop",
        None,
        None,
    )
    info = manager.get(f"{API}/order/_info").json["filters"]
    assert {"name": "Nummer er eller starter med", "operator": "numpre"} in info["number"]
    assert "standing_order_id" in info


# --- speed ----------------------------------------------------------------------------------


def _bulk_orders(app: Flask, world: World, n: int, prefix: str = "7") -> None:
    """n orders of company A in one INSERT (numbers "<prefix>00000", "<prefix>00001", ...)."""
    from app.extensions import db

    now = utcnow()
    rows = [
        {
            "company_id": world.a.company.id,
            "number": f"{prefix}{i:05d}",
            "channel": "phone",
            "status": "processing",
            "delivery_address_id": world.a.address.id,
            "created_by_id": world.a.user.id,
            "created_at": now - dt.timedelta(minutes=i),
            "customer_reference": None,
            "total_ex_vat": Decimal("100.00"),
            "total_vat": Decimal("25.00"),
            "over_budget": False,
        }
        for i in range(n)
    ]
    with app.app_context(), db.engine.begin() as conn:
        conn.execute(insert(Order), rows)


@pytest.mark.parametrize("role", ["hansen.bruker", "leder"])
def test_order_list_statements_do_not_grow_with_page_size(
    app: Flask, world: World, as_role: As, statements: list[str], role: str
) -> None:
    _bulk_orders(app, world, 30)
    caller = as_role(role)
    caller.get(f"{API}/order/")  # warm up: the login and permission lookups of a first request

    def measure(page_size: int, **q: Any) -> int:
        statements.clear()
        response = caller.get(f"{API}/order/", q={"page_size": page_size, **q})
        assert response.status_code == 200 and len(response.json["result"]) == page_size
        return len(statements)

    small, large = measure(2), measure(20)
    assert small == large, (small, large)
    prefixed = {"filters": [{"col": "number", "opr": "numpre", "value": "7000"}]}
    assert measure(2, **prefixed) == measure(10, **prefixed) == small


@pytest.mark.postgres
@pytest.mark.parametrize("username", ["leder", "hansen.bruker"])  # unscoped, and with the tenant criteria
def test_number_prefix_filter_uses_the_index(app: Flask, world: World, as_role: As, username: str) -> None:
    """EXPLAIN the exact SQL the numpre filter sends: PostgreSQL picks ix_orders_number_prefix.

    2000 orders in one INSERT, then ANALYZE; no planner switches (enable_seqscan stays on)."""
    from app.extensions import db

    assert is_postgres(app)
    _bulk_orders(app, world, 2000, prefix="5")
    with app.app_context(), db.engine.begin() as conn:
        conn.execute(text("ANALYZE orders"))
    captured: list[tuple[str, Any]] = []

    def _capture(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        if "LIKE" in statement.upper() and "orders" in statement:
            captured.append((statement, parameters))

    from sqlalchemy import event

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", _capture)
    try:
        response = as_role(username).get(
            f"{API}/order/", q={"filters": [{"col": "number", "opr": "numpre", "value": "50012"}], "page_size": 20}
        )
    finally:
        event.remove(engine, "before_cursor_execute", _capture)
    assert response.status_code == 200 and response.json["count"] == 10  # 500120 .. 500129
    assert captured, "the filter sent no LIKE"
    plans = []
    with app.app_context(), db.engine.connect() as conn:
        for statement, parameters in captured:  # the count and the page
            plan = "\n".join(r[0] for r in conn.exec_driver_sql("EXPLAIN " + statement, parameters))
            plans.append(plan)
    for plan in plans:
        print(plan)
        assert "ix_orders_number_prefix" in plan, plan
        assert "Seq Scan on orders" not in plan, plan
