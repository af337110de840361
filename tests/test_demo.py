"""`portal demo`: idempotent, reproducible, and internally consistent (totals, history, deliveries)."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from itertools import pairwise
from typing import Any

import pytest
from flask import Flask
from flask_appbuilder import Model
from sqlalchemy import func, select
from werkzeug.security import check_password_hash

from app.demo import DEMO_PASSWORD, DEMO_USERS, EXTRA_COMPANIES
from app.domain.budgets import consumption
from app.domain.formatting import oslo_today, to_oslo
from app.domain.pricing import order_totals
from app.domain.validation import validate_org_number
from app.extensions import db
from app.models import (
    Budget,
    Company,
    Inquiry,
    Invoice,
    Order,
    PickupReservation,
    PortalUser,
    Product,
    Quote,
    ShipmentLine,
    StandingOrder,
    Store,
)
from tests.helpers import FAB_SECURITY_TABLES, reset_database

ALL_STATUSES = {"pending_approval", "processing", "shipped", "partially_delivered", "invoiced", "cancelled", "rejected"}
NO_APPROVAL_STATUSES = ALL_STATUSES - {"pending_approval", "rejected"}
SHIPPED = {"shipped", "partially_delivered", "invoiced"}


def _run_demo(app: Flask, *args: str) -> str:
    result = app.test_cli_runner().invoke(args=["portal", "demo", *args])
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result.output


def _row_counts(app: Flask) -> dict[str, int]:
    with app.app_context(), db.engine.connect() as conn:
        return {
            t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in Model.metadata.sorted_tables
            if t.name not in FAB_SECURITY_TABLES
        }


def _fingerprint(app: Flask) -> list[tuple[Any, ...]]:
    with app.app_context():
        return [
            (c.customer_number, c.name, c.org_number, c.kind, c.postal_city)
            for c in db.session.scalars(select(Company).order_by(Company.customer_number))
        ]


@pytest.fixture(scope="module")
def demo(app: Flask) -> Iterator[Flask]:
    reset_database(app)
    _run_demo(app)
    with app.app_context():
        yield app
        db.session.remove()


def _company(number: str) -> Company:
    return db.session.scalars(select(Company).where(Company.customer_number == number)).one()


def _orders(company: Company) -> list[Order]:
    return list(db.session.scalars(select(Order).where(Order.company_id == company.id).order_by(Order.number)))


# --- idempotent and reproducible -------------------------------------------------------------


def test_demo_twice_adds_nothing_and_is_reproducible(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    # One clock for every run: the demo moves with "now", and an order placed seconds before Oslo
    # midnight in one run would fall on the next day in a later one (another day total row).
    import app.demo as demo_module

    real_load, now = demo_module.load_demo, dt.datetime.now(dt.UTC)
    monkeypatch.setattr(demo_module, "load_demo", lambda session, sm: real_load(session, sm, now=now))
    reset_database(app)
    first_output = _run_demo(app)
    assert "companies: 22" in first_output and "users: 8" in first_output
    counts, fingerprint = _row_counts(app), _fingerprint(app)
    assert counts["companies"] == 2 + EXTRA_COMPANIES and counts["orders"] > 60

    assert "ingenting nytt" in _run_demo(app)
    assert _row_counts(app) == counts
    assert "allerede" in _run_demo(app, "--if-empty")
    assert _row_counts(app) == counts

    reset_database(app)  # a fresh database gets the very same companies (seeded Faker)
    _run_demo(app, "--if-empty")
    assert _fingerprint(app) == fingerprint
    assert _row_counts(app) == counts


# --- logins and the two named companies -------------------------------------------------------


def test_exactly_the_demo_logins(demo: Flask) -> None:
    users = {u.username: u for u in db.session.scalars(select(PortalUser))}
    assert set(users) == {u[0] for u in DEMO_USERS}
    for username, role, _first, _last, number in DEMO_USERS:
        user = users[username]
        assert [r.name for r in user.roles] == [role]
        assert (user.company.customer_number if user.company else None) == number
        assert user.active and check_password_hash(user.password, DEMO_PASSWORD)


def test_named_companies(demo: Flask) -> None:
    hansen, berg = _company("10001"), _company("10002")
    assert (hansen.name, hansen.kind, hansen.payment_terms, hansen.requires_approval) == (
        "Hansen Interiør AS",
        "dealer",
        "invoice",
        True,
    )
    assert hansen.credit_limit == Decimal("200000.00")
    assert (berg.name, berg.kind, berg.payment_terms, berg.requires_approval) == (
        "Berg Kontorservice AS",
        "webshop",
        "card",
        False,
    )
    companies = list(db.session.scalars(select(Company)))
    assert len(companies) == 22
    assert len({c.org_number for c in companies}) == 22
    for company in companies:
        assert validate_org_number(company.org_number) == company.org_number
        assert company.postal_street and len(company.postal_code) == 4 and company.postal_city
        assert company.delivery_addresses and _orders(company), company.name
    assert {c.kind for c in companies} == {"dealer", "webshop"}
    for company in (hansen, berg):
        assert len(company.delivery_addresses) >= 2
        orders = _orders(company)
        assert len(orders) >= 5 and all(o.lines for o in orders)
        assert {"webshop", "phone", "seller", "edi", "quote"} <= {o.channel for o in orders}
    assert {o.status for o in _orders(hansen)} == ALL_STATUSES
    assert {o.status for o in _orders(berg)} == NO_APPROVAL_STATUSES


# --- every order adds up ------------------------------------------------------------------------


def test_every_order_is_consistent(demo: Flask) -> None:
    now = dt.datetime.now(dt.UTC)
    orders = list(db.session.scalars(select(Order)))
    shipped_qty = Counter()
    for sl in db.session.scalars(select(ShipmentLine)):
        shipped_qty[sl.order_line_id] += sl.quantity
    for order in orders:
        assert (order.total_ex_vat, order.total_vat) == order_totals(order.lines), order.number
        assert [ln.line_no for ln in order.lines] == list(range(1, len(order.lines) + 1))
        assert all(ln.company_id == order.company_id for ln in order.lines)
        # Status history: a chain from nothing to the current status, in time order, never in the future.
        events = sorted(order.events, key=lambda e: e.at)
        assert events[0].from_status is None and events[-1].to_status == order.status, order.number
        assert all(a.to_status == b.from_status for a, b in pairwise(events)), order.number
        assert events[0].at == order.created_at and events[-1].at <= now
        assert all(e.actor_name for e in events)
        first = "pending_approval" if order.company.requires_approval else "processing"
        assert events[0].to_status == first, order.number
        if order.status in ("rejected", "cancelled"):
            assert events[-1].reason, order.number
        if (
            order.status == "cancelled"
            and order.created_by_id
            and events[-1].actor_id == order.created_by_id
            and order.created_by.company_id is not None
        ):
            assert to_oslo(events[-1].at).date() == to_oslo(order.created_at).date(), "customers cancel same day"
        # Deliveries fit the status; shipment lines add up to the delivered quantities.
        delivered = [(ln.quantity, ln.delivered_quantity) for ln in order.lines]
        if order.status in ("shipped", "invoiced"):
            assert all(d == q for q, d in delivered) and all(ln.status == "delivered" for ln in order.lines)
        elif order.status == "partially_delivered":
            assert any(d > 0 for _, d in delivered) and any(d < q for q, d in delivered)
        else:
            assert all(d == 0 for _, d in delivered)
        for line in order.lines:
            assert shipped_qty[line.id] == line.delivered_quantity
        if order.status in SHIPPED:
            assert order.shipments and all(s.waybill_number for s in order.shipments)
            assert {s.carrier for s in order.shipments} <= {"collicare", "schenker"}
        else:
            assert not order.shipments
        # Invoices: exactly the invoiced orders, for the order total incl. VAT.
        if order.status == "invoiced":
            assert [i.amount for i in order.invoices] == [order.total_ex_vat + order.total_vat]
            assert order.invoices[0].due_date >= order.invoices[0].invoice_date
        else:
            assert not order.invoices


def test_shipments_invoices_and_quotes_of_named_companies(demo: Flask) -> None:
    today = oslo_today()
    for number in ("10001", "10002"):
        company = _company(number)
        orders = _orders(company)
        assert {s.carrier for o in orders for s in o.shipments} == {"collicare", "schenker"}
        quotes = list(db.session.scalars(select(Quote).where(Quote.company_id == company.id)))
        assert {"draft", "sent", "accepted", "expired"} <= {q.status for q in quotes}
        for quote in quotes:
            assert quote.lines
            if quote.status == "accepted":
                assert quote.order is not None and quote.order.channel == "quote"
                assert [(ln.product_id, ln.quantity, ln.unit_price) for ln in quote.order.lines] == [
                    (ln.product_id, ln.quantity, ln.unit_price) for ln in quote.lines
                ]
            elif quote.status == "expired":
                assert quote.valid_until < today
            elif quote.status in ("draft", "sent"):
                assert quote.valid_until >= today
    hansen_invoices = list(db.session.scalars(select(Invoice).where(Invoice.company_id == _company("10001").id)))
    assert {i.paid for i in hansen_invoices} == {True, False}


def test_budgets_inquiries_reservations_standing_order(demo: Flask) -> None:
    hansen, berg = _company("10001"), _company("10002")
    budgets = list(db.session.scalars(select(Budget).where(Budget.company_id == hansen.id)))
    user_budget = next(b for b in budgets if b.user is not None)
    assert user_budget.user.username == "hansen.bruker" and user_budget.period == "month"
    assert any(b.user is None for b in budgets)
    used = consumption(db.session, [user_budget], oslo_today())[user_budget.id]
    assert used > user_budget.amount, "the demo shows a budget exceeded this month"
    assert db.session.scalar(
        select(func.count(Order.id)).where(Order.company_id == hansen.id, Order.over_budget.is_(True))
    )
    for company in (hansen, berg):
        inquiries = list(db.session.scalars(select(Inquiry).where(Inquiry.company_id == company.id)))
        assert {i.channel for i in inquiries} == {"chat", "contact_form", "portal"}
        assert {i.status for i in inquiries} == {"open", "answered", "closed"}
        for inquiry in inquiries:
            assert inquiry.messages and not inquiry.messages[0].from_supplier
            if inquiry.status == "answered":
                assert any(m.from_supplier for m in inquiry.messages)
        statuses = {
            r.status
            for r in db.session.scalars(select(PickupReservation).where(PickupReservation.company_id == company.id))
        }
        assert statuses & {"reserved", "ready"} and statuses & {"collected", "expired", "cancelled"}
    standing = list(db.session.scalars(select(StandingOrder)))
    assert [(s.company_id, s.frequency) for s in standing] == [(hansen.id, "weekly")] and standing[0].lines
    assert any(o.standing_order_id == standing[0].id for o in _orders(hansen))


def test_catalogue_and_stores(demo: Flask) -> None:
    stores = list(db.session.scalars(select(Store)))
    assert 3 <= len(stores) <= 4 and all(len(s.postal_code) == 4 for s in stores)
    products = list(db.session.scalars(select(Product)))
    configured = [p for p in products if p.min_width is not None]
    assert configured and any(not p.is_configurable for p in products)
    assert all(p.min_width <= p.max_width for p in configured)
    assert any(set(p.variants) == {"fabric", "colour"} and p.variants["fabric"] for p in products)
    assert all(p.vat_rate == Decimal("25.00") for p in products)


def test_approval_queue_shows_both_outcomes(demo: Flask) -> None:
    """Every demo line is producible; Hansen's pending orders fit its credit, some other dealer's do not."""
    from app.domain.approvals import credit
    from app.domain.orders import configuration_errors
    from app.models import OrderLine, QuoteLine, StandingOrderLine

    for model in (OrderLine, QuoteLine, StandingOrderLine):
        for line in db.session.scalars(select(model)):
            assert not configuration_errors(line.product, line), (model.__name__, line.id)
    pending = list(db.session.scalars(select(Order).where(Order.status == "pending_approval")))
    checks = credit(db.session, pending)
    hansen = _company("10001")
    assert all(not checks[o.id].over for o in pending if o.company_id == hansen.id)
    assert any(checks[o.id].over for o in pending if o.company_id != hansen.id)
