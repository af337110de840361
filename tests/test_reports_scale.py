"""The reports read small totals (app/domain/report_totals.py) instead of every order: here every figure
is compared with a straightforward computation from the orders and status events themselves, in
Python with zoneinfo (no SQL, no totals), on the demo world, on the benchmark world and after the
domain's own changes (placing, approval, rejection, cancellation, shipment, invoice), on SQLite and
on PostgreSQL. The totals kept change by change must also equal the totals rebuilt from scratch.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.domain import budgets as B
from app.domain import report_totals
from app.domain import reports as R
from app.domain.actors import Actor
from app.domain.catalogue import LineInput
from app.domain.formatting import OSLO, oslo_today
from app.domain.lifecycle import EXCLUDED, PENDING_APPROVAL, PROCESSING, REJECTED, SALES
from app.models import (
    ApprovalWait,
    Budget,
    Company,
    CompanyMonthTotal,
    DeliveryAddress,
    Order,
    OrderDayTotal,
    OrderEvent,
    OrderLine,
    PortalUser,
    Product,
)
from tests.helpers import db_engine, reset_database

CENT = Decimal("0.01")
DECISIONS = (PROCESSING, REJECTED)


# --- the reference: every figure from the orders and events, in Python ---------------------------


class World:
    """All orders and events of the database, as plain tuples."""

    def __init__(self, session: Session) -> None:
        self.orders = {
            oid: {"created": created, "channel": ch, "status": st, "company": co, "by": by, "ex": Decimal(str(ex))}
            for oid, created, ch, st, co, by, ex in session.execute(
                select(
                    Order.id,
                    Order.created_at,
                    Order.channel,
                    Order.status,
                    Order.company_id,
                    Order.created_by_id,
                    Order.total_ex_vat,
                )
            )
        }
        self.events = list(
            session.execute(select(OrderEvent.order_id, OrderEvent.at, OrderEvent.from_status, OrderEvent.to_status))
        )
        self.companies = {cid: name for cid, name in session.execute(select(Company.id, Company.name))}


def day_of(at: dt.datetime) -> dt.date:
    return at.astimezone(OSLO).date()


def bucket_of(buckets: list[R.Bucket], day: dt.date) -> int | None:
    return next((b.index for b in buckets if b.first <= day <= b.last), None)


def money(value: Decimal) -> Decimal:
    return value.quantize(CENT)


def percentile(values: list[int], a: int, q: int) -> Decimal:
    """PERCENTILE.INC for p = a/q, exactly."""
    v = sorted(values)
    k, r = divmod(a * (len(v) - 1), q)
    return Decimal(v[k]) if r == 0 else Decimal(v[k]) + Decimal(r) / q * (v[k + 1] - v[k])


def seconds(at: dt.datetime) -> int:
    return int((at - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(seconds=1))


def expected_sales(w: World, period: R.Period) -> dict[tuple[int, str], tuple[Decimal, int]]:
    months = R.month_buckets(period)
    result: dict[tuple[int, str], list[Any]] = defaultdict(lambda: [Decimal(0), 0])
    for o in w.orders.values():
        b = bucket_of(months, day_of(o["created"]))
        if o["status"] in SALES and b is not None:
            result[(b, o["channel"])][0] += o["ex"]
            result[(b, o["channel"])][1] += 1
    return {k: (money(v[0]), v[1]) for k, v in result.items()}


def expected_statuses(w: World, period: R.Period) -> tuple[dict[str, int], dict[tuple[int, str], int]]:
    weeks = R.week_buckets(period)
    now: dict[str, int] = defaultdict(int)
    entered: dict[tuple[int, str], int] = defaultdict(int)
    for o in w.orders.values():
        if period.first <= day_of(o["created"]) <= period.last:
            now[o["status"]] += 1
    for _oid, at, _from, to in w.events:
        b = bucket_of(weeks, day_of(at))
        if b is not None:
            entered[(b, to)] += 1
    return dict(now), dict(entered)


def expected_lead_times(w: World, period: R.Period) -> dict[int, tuple[int, int, int, Decimal, Decimal]]:
    weeks = R.week_buckets(period)
    entries: dict[int, list[dt.datetime]] = defaultdict(list)
    for oid, at, _from, to in w.events:
        if to == PENDING_APPROVAL:
            entries[oid].append(at)
    per_week: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for oid, at, from_, to in w.events:
        b = bucket_of(weeks, day_of(at))
        before = [e for e in entries[oid] if e <= at]
        if from_ == PENDING_APPROVAL and to in DECISIONS and b is not None and before:
            per_week[b].append((seconds(at) - seconds(max(before)), to))
    return {
        b: (
            len(rows),
            sum(1 for _s, to in rows if to == PROCESSING),
            sum(1 for _s, to in rows if to == REJECTED),
            percentile([s for s, _to in rows], 1, 2),
            percentile([s for s, _to in rows], 9, 10),
        )
        for b, rows in per_week.items()
    }


def expected_waiting(w: World) -> tuple[list[tuple[int, dt.datetime]], int]:
    entries: dict[int, list[dt.datetime]] = defaultdict(list)
    for oid, at, _from, to in w.events:
        if to == PENDING_APPROVAL:
            entries[oid].append(at)
    pending = [
        (max(entries[oid], default=o["created"]), oid) for oid, o in w.orders.items() if o["status"] == PENDING_APPROVAL
    ]
    return [(oid, since) for since, oid in sorted(pending)[: R.OLDEST_WAITING]], len(pending)


def expected_top(w: World, period: R.Period) -> list[tuple[int, int, Decimal]]:
    sales: dict[int, list[Any]] = defaultdict(lambda: [0, Decimal(0)])
    for o in w.orders.values():
        if o["status"] in SALES and period.first <= day_of(o["created"]) <= period.last:
            sales[o["company"]][0] += 1
            sales[o["company"]][1] += o["ex"]
    ranked = sorted(sales.items(), key=lambda kv: (-kv[1][1], w.companies[kv[0]], kv[0]))
    return [(cid, n, money(total)) for cid, (n, total) in ranked[: R.TOP_CUSTOMERS]]


def expected_consumption(w: World, budget: Budget, day: dt.date) -> Decimal:
    start, end = B.period_bounds(budget.period, day)
    return money(
        sum(
            (
                o["ex"]
                for o in w.orders.values()
                if o["company"] == budget.company_id
                and (budget.user_id is None or o["by"] == budget.user_id)
                and o["status"] not in EXCLUDED
                and start <= day_of(o["created"]) < end
            ),
            Decimal(0),
        )
    )


def expected_status_totals(w: World) -> dict[str, tuple[int, Decimal]]:
    result: dict[str, list[Any]] = defaultdict(lambda: [0, Decimal(0)])
    for o in w.orders.values():
        result[o["status"]][0] += 1
        result[o["status"]][1] += o["ex"]
    return {s: (n, money(total)) for s, (n, total) in result.items()}


def periods(today: dt.date) -> list[R.Period]:
    """The default, months cut in the middle at both ends, weeks from a Wednesday, five years, one day."""
    return [
        R.default_period(today),
        R.Period(R.add_months(today, -7).replace(day=15), today - dt.timedelta(days=9)),
        R.Period(today - dt.timedelta(days=today.weekday() + 40 * 7 - 2), today),
        R.Period(today - dt.timedelta(days=5 * 365), today),
        R.Period(today, today),
    ]


def assert_reports_match(session: Session, today: dt.date) -> int:
    """Every report on several periods equals the reference; returns how many orders it looked at."""
    w = World(session)
    assert w.orders, "no orders to compare"
    for period in periods(today):
        sales = R.sales_by_month(session, period)
        assert {k: (sales.amounts[k], sales.counts[k]) for k in sales.amounts} == expected_sales(w, period), period
        statuses = R.status_report(session, period)
        assert (statuses.now, statuses.entered) == expected_statuses(w, period), period
        approvals = R.approval_report(session, period)
        got = {
            i: (x.decided, x.approved, x.rejected, x.median, x.p90) for i, x in enumerate(approvals.weeks) if x.decided
        }
        assert got == expected_lead_times(w, period), period
        assert ([(x.order_id, x.since) for x in approvals.waiting], approvals.waiting_total) == expected_waiting(w)
        top = R.top_customers(session, period)
        assert [(c.company_id, c.orders, c.sales) for c in top] == expected_top(w, period), period
    budgets = list(session.scalars(select(Budget).where(Budget.active.is_(True))))
    assert budgets, "no budgets to compare"
    for day in (today, today.replace(day=1) - dt.timedelta(days=1), R.add_months(today, -4)):
        expected = {b.id: expected_consumption(w, b, day) for b in budgets}
        assert B.consumption_from_totals(session, budgets, day) == expected, day
        assert B.consumption(session, budgets, day) == expected, day  # the order form's own reading
        assert {r.budget_id: r.used for r in R.budget_report(session, day).rows} == expected, day
    assert R.status_totals(session) == expected_status_totals(w)
    return len(w.orders)


def totals_snapshot(session: Session) -> dict[str, list[tuple[Any, ...]]]:
    """The three tables without rows that add up to nothing (a count moved away leaves a zero row)."""
    days = [
        (r.day, r.channel, r.status, r.placed, money(Decimal(str(r.placed_ex_vat))), r.entered)
        for r in session.scalars(select(OrderDayTotal))
        if r.placed or r.entered or Decimal(str(r.placed_ex_vat))
    ]
    months = [
        (r.month, r.company_id, r.creator_id, r.status, r.orders, money(Decimal(str(r.total_ex_vat))))
        for r in session.scalars(select(CompanyMonthTotal))
        if r.orders or Decimal(str(r.total_ex_vat))
    ]
    waits = [
        (r.order_id, r.entered_at, r.decided_at, r.outcome, r.seconds, r.week)
        for r in session.scalars(select(ApprovalWait))
    ]
    return {"days": sorted(days), "months": sorted(months), "waits": sorted(waits, key=repr)}


# --- the demo world ----------------------------------------------------------------------------------


@pytest.fixture()
def demo(app: Flask) -> Iterator[Session]:
    from app.demo import load_demo
    from app.extensions import db

    reset_database(app)
    with app.app_context():
        load_demo(db.session, app.appbuilder.sm)
        db.session.commit()
        db.session.remove()
    with Session(db_engine(app), expire_on_commit=False) as s:
        loaded = totals_snapshot(s)  # `portal demo` builds its totals itself
        report_totals.rebuild(s)
        assert totals_snapshot(s) == loaded and all(loaded.values())
        s.rollback()
        yield s
    reset_database(app)


def _user(session: Session, username: str, *roles: str) -> Actor:
    user = session.scalars(select(PortalUser).where(PortalUser.username == username)).one()
    return Actor(id=user.id, name=user.full_name, company_id=user.company_id, roles=frozenset(roles), email=user.email)


def _plain_product(session: Session) -> Product:
    return next(p for p in session.scalars(select(Product).order_by(Product.id)) if not p.is_configurable)


def _address(session: Session, who: Actor) -> int:
    return (
        session.scalars(
            select(DeliveryAddress.id)
            .where(DeliveryAddress.company_id == who.company_id, DeliveryAddress.active.is_(True))
            .order_by(DeliveryAddress.id)
        ).first()
        or 0
    )


def test_demo_world_reports_equal_the_orders(app: Flask, demo: Session) -> None:
    with app.test_request_context():
        assert assert_reports_match(demo, oslo_today()) > 50


def test_changes_through_the_domain_keep_the_totals(app: Flask, demo: Session) -> None:
    """Orders placed, approved, rejected, cancelled, shipped and invoiced through the domain: the kept
    totals still give the reference figures and equal a rebuild from scratch."""
    from app.domain.approvals import approve_order, reject_order
    from app.domain.orders import place_order
    from app.domain.orders.actions import cancel_order
    from app.domain.orders.fulfilment import register_invoice, register_shipment

    s = demo
    seller = _user(s, "selger", "Seller")
    service = _user(s, "kundeservice", "CustomerService")
    product = _plain_product(s)
    placed: dict[str, list[int]] = defaultdict(list)
    with app.test_request_context():
        for username in ("hansen.bruker", "hansen.admin", "berg.bruker"):
            who = _user(s, username, "CustomerUser")
            for quantity in (1, 3, 7):
                order = place_order(
                    s,
                    actor=who,
                    company_id=who.company_id or 0,
                    delivery_address_id=_address(s, who),
                    lines=[LineInput(product_id=product.id, quantity=quantity)],
                )
                s.commit()
                placed[order.status].append(order.id)
        pending, processing = placed[PENDING_APPROVAL], placed[PROCESSING]
        assert len(pending) >= 4 and len(processing) >= 3
        approve_order(s, pending[0], seller, override_reason="Avtalt med kunden")
        approve_order(s, pending[1], seller, override_reason="Avtalt med kunden")
        reject_order(s, pending[2], seller, "Ikke på lager")
        cancel_order(s, pending[3], service)
        cancel_order(s, processing[0], service)
        s.commit()
        for oid in (processing[1], pending[0]):
            lines = s.scalars(select(OrderLine).where(OrderLine.order_id == oid)).all()
            register_shipment(
                s,
                oid,
                service,
                carrier="bring",
                waybill_number=f"W{oid}",
                quantities={ln.id: ln.quantity for ln in lines},
            )
            s.commit()
        total = s.get(Order, processing[1])
        assert total is not None
        register_invoice(
            s,
            processing[1],
            service,
            number=f"F{processing[1]}",
            invoice_date=oslo_today(),
            due_date=oslo_today() + dt.timedelta(days=14),
        )
        s.commit()
        # An order still pending from before: its wait is oldest-first among the rest.
        old = s.scalars(
            select(Order.id).where(Order.status == PENDING_APPROVAL, Order.id.not_in(pending)).order_by(Order.id)
        ).first()
        if old is not None:
            approve_order(s, old, seller, override_reason="Avtalt med kunden")
            s.commit()
        s.expire_all()
        assert assert_reports_match(s, oslo_today()) > 50
        kept = totals_snapshot(s)
        report_totals.rebuild(s)
        s.commit()
        assert totals_snapshot(s) == kept


def test_a_rolled_back_order_leaves_no_count(app: Flask, demo: Session) -> None:
    from app.domain.orders import place_order

    s = demo
    before = totals_snapshot(s)
    product = _plain_product(s)
    who = _user(s, "berg.bruker", "CustomerUser")
    with app.test_request_context():
        place_order(
            s,
            actor=who,
            company_id=who.company_id or 0,
            delivery_address_id=_address(s, who),
            lines=[LineInput(product_id=product.id, quantity=2)],
        )
        assert totals_snapshot(s) != before  # counted in the order's own transaction
        s.rollback()
    assert totals_snapshot(s) == before


# --- the benchmark world ------------------------------------------------------------------------------


def test_bench_world_reports_equal_the_orders(app: Flask) -> None:
    from app.bench_data import load_bench

    reset_database(app)
    try:
        engine = db_engine(app)
        with engine.begin() as conn:
            load_bench(conn, 3000, echo=lambda line: None)
        with app.test_request_context(), Session(engine) as s:
            assert assert_reports_match(s, oslo_today()) == 3000
    finally:
        reset_database(app)
