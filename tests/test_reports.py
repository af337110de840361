"""Rapporter: every figure checked against numbers worked out by hand from a small fixed data
set, on SQLite and (with TEST_DATABASE_URL) on PostgreSQL: the same expectations on both; the CSV
format; who may open the reports.

The data lies in Q1 2025 (today is later), with timestamps on the Oslo calendar's edges: the last
minute of a month and of a week in UTC that is already the next one in Oslo, the daylight saving
switch (2025-03-30), fractions of a second. The test world's own rows are dated "now", outside it.

Hand calculation (Oslo time; orders R1..R16; A = hansen (dealer), B = berg, C = Fjord Møbler):
  sales Jan: webshop R1 1000,00 + R3 300,25 (2025-01-31 22:30 UTC = 23:30 Oslo)
  sales Feb: webshop R12 100 + R13 200; phone R2 2000,50 (01-31 23:30 UTC = Feb 1 Oslo) + R14 300
  sales Mar: EDI R4 4000 (02-28 23:30 UTC = Mar 1), seller R5 5000 (03-30 22:30 UTC = Mar 31, summer
             time), webshop R11 0,75 (03-31 21:59:59 UTC = 23:59:59 Oslo)
  not sales: R6 cancelled, R7 rejected, R8 and R16 pending/cancelled, R9 (12-31 Oslo), R10 (Apr 1 Oslo)
  approval lead times (decision week): w1 R15 48 h; w2 R1 4 h; w6 R2 58 h;
             w7 R7 1 h (rejected), R12 2 h, R13 24 h, R14 0,5 h → sorted 1800, 3600, 7200, 86400 s:
             median = 3600 + 0,5·3600 = 5400 s = 1,5 h; p90: h = 0,9·3 = 2,7 → 7200 + 0,7·79200
             = 62640 s = 17,4 h
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from html.parser import HTMLParser
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.domain import report_totals
from app.domain import reports as R
from app.domain.orders.fulfilment import billing_of
from app.models import Budget, Company, Invoice, Order, OrderEvent, PortalUser
from tests.factories import World
from tests.helpers import StatementCounter, client_as, is_postgres

UTC = dt.UTC
PERIOD = R.Period(dt.date(2025, 1, 1), dt.date(2025, 3, 31))
Q1 = {"fra": "2025-01-01", "til": "2025-03-31"}
BUDGET_DAY = {"dato": "2025-02-15"}
REPORT_METHODS = ("sales", "statuses", "approvals", "customers", "budgets")
PAGES = {
    "sales": "/rapporter/salg/",
    "statuses": "/rapporter/ordrestatus/",
    "approvals": "/rapporter/godkjenningstid/",
    "customers": "/rapporter/toppkunder/",
    "budgets": "/rapporter/bruksgrenser/",
}
CSVS = {m: p.rstrip("/") + ".csv" for m, p in PAGES.items()}


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


# --- the data set ----------------------------------------------------------------------------


@dataclass
class Data:
    world: World
    c: Company
    orders: dict[str, Order]


def _order(
    session: Session,
    company: Company,
    number: str,
    channel: str,
    status: str,
    created: dt.datetime,
    ex: str,
    vat: str,
    by: PortalUser | None = None,
    events: tuple[tuple[str | None, str, dt.datetime], ...] = (),
) -> Order:
    order = Order(
        company=company,
        number=number,
        channel=channel,
        status=status,
        created_at=created,
        total_ex_vat=Decimal(ex),
        total_vat=Decimal(vat),
        created_by=by,
    )
    for from_status, to_status, at in events:
        order.events.append(
            OrderEvent(company=company, from_status=from_status, to_status=to_status, at=at, actor_name="Test")
        )
    session.add(order)
    return order


@pytest.fixture()
def data(app: Flask, world: World) -> Data:
    from app.extensions import db

    with app.app_context(), Session(db.engine, expire_on_commit=False) as s:
        a = s.get(Company, world.a.company.id)
        b = s.get(Company, world.b.company.id)
        a_user, a_admin = s.get(PortalUser, world.a.user.id), s.get(PortalUser, world.a.admin.id)
        c = Company(
            customer_number="10003",
            name="Fjord Møbler AS",
            org_number="923609016",
            kind="webshop",
            payment_terms="invoice",
            credit_limit=Decimal("50000.00"),
            requires_approval=False,
        )
        s.add(c)
        P, W, OK, NO = "pending_approval", "processing", "processing", "rejected"
        o: dict[str, Order] = {}
        o["R1"] = _order(
            s,
            a,
            "R1",
            "webshop",
            "invoiced",
            utc(2025, 1, 10, 10),
            "1000.00",
            "250.00",
            events=(
                (None, P, utc(2025, 1, 10, 10)),
                (P, OK, utc(2025, 1, 10, 14)),
                (W, "shipped", utc(2025, 1, 12, 9)),
                ("shipped", "invoiced", utc(2025, 1, 15, 12)),
            ),
        )
        o["R2"] = _order(
            s,
            a,
            "R2",
            "phone",
            W,
            utc(2025, 1, 31, 23, 30),
            "2000.50",
            "500.12",
            by=a_user,
            events=((None, P, utc(2025, 1, 31, 23, 30)), (P, OK, utc(2025, 2, 3, 9, 30))),
        )
        o["R3"] = _order(
            s,
            b,
            "R3",
            "webshop",
            "shipped",
            utc(2025, 1, 31, 22, 30),
            "300.25",
            "75.06",
            events=((None, W, utc(2025, 1, 31, 22, 30)), (W, "shipped", utc(2025, 2, 3, 10))),
        )
        o["R4"] = (
            _order(
                s,
                b,
                "R4",
                "edi",
                "partially_delivered",
                utc(2025, 2, 28, 23, 30),
                "4000.00",
                "1000.00",
                events=((None, W, utc(2025, 2, 28, 23, 30)), (W, "partially_delivered", utc(2025, 3, 2, 23))),
            ),
        )  # Monday 00:00 Oslo
        o["R5"] = _order(
            s,
            c,
            "R5",
            "seller",
            "invoiced",
            utc(2025, 3, 30, 22, 30),
            "5000.00",
            "1250.00",
            events=((None, W, utc(2025, 3, 30, 22, 30)), (W, "invoiced", utc(2025, 3, 31, 8))),
        )
        o["R6"] = _order(
            s,
            c,
            "R6",
            "quote",
            "cancelled",
            utc(2025, 2, 10, 8),
            "9999.00",
            "2499.75",
            events=((None, W, utc(2025, 2, 10, 8)), (W, "cancelled", utc(2025, 2, 10, 9))),
        )
        o["R7"] = _order(
            s,
            a,
            "R7",
            "webshop",
            NO,
            utc(2025, 2, 11, 8),
            "8888.00",
            "2222.00",
            by=a_user,
            events=((None, P, utc(2025, 2, 11, 8)), (P, NO, utc(2025, 2, 11, 9))),
        )
        o["R8"] = _order(
            s, a, "R8", "webshop", P, utc(2025, 3, 5, 8), "700.00", "175.00", events=((None, P, utc(2025, 3, 5, 8)),)
        )
        o["R9"] = _order(
            s,
            a,
            "R9",
            "standing_order",
            W,
            utc(2024, 12, 31, 22, 59),
            "123.00",
            "30.75",
            events=((None, W, utc(2024, 12, 31, 22, 59)),),
        )
        o["R10"] = _order(
            s, b, "R10", "phone", W, utc(2025, 3, 31, 22), "456.00", "114.00", events=((None, W, utc(2025, 3, 31, 22)),)
        )
        o["R11"] = _order(
            s,
            c,
            "R11",
            "webshop",
            "invoiced",
            utc(2025, 3, 31, 21, 59, 59),
            "0.75",
            "0.19",
            events=((None, W, utc(2025, 3, 31, 21, 59, 59)), (W, "invoiced", utc(2025, 3, 31, 21, 59, 59, 900000))),
        )
        o["R12"] = _order(
            s,
            a,
            "R12",
            "webshop",
            W,
            utc(2025, 2, 12, 8),
            "100.00",
            "25.00",
            by=a_user,
            events=((None, P, utc(2025, 2, 12, 8)), (P, OK, utc(2025, 2, 12, 10))),
        )
        o["R13"] = _order(
            s,
            a,
            "R13",
            "webshop",
            W,
            utc(2025, 2, 13, 8),
            "200.00",
            "50.00",
            by=a_admin,
            events=((None, P, utc(2025, 2, 13, 8)), (P, OK, utc(2025, 2, 14, 8))),
        )
        o["R14"] = _order(
            s,
            a,
            "R14",
            "phone",
            W,
            utc(2025, 2, 14, 12),
            "300.00",
            "75.00",
            by=a_admin,
            events=((None, P, utc(2025, 2, 14, 12, 0, 0, 200000)), (P, OK, utc(2025, 2, 14, 12, 30, 0, 700000))),
        )
        o["R15"] = _order(
            s,
            a,
            "R15",
            "webshop",
            W,
            utc(2024, 12, 31, 12),
            "400.00",
            "100.00",
            events=((None, P, utc(2024, 12, 31, 12)), (P, OK, utc(2025, 1, 2, 12))),
        )
        o["R16"] = _order(
            s,
            a,
            "R16",
            "webshop",
            "cancelled",
            utc(2025, 3, 9, 22, 59, 59),
            "50.00",
            "12.50",
            events=(
                (None, P, utc(2025, 3, 9, 22, 59, 59)),  # Sunday 23:59:59 Oslo: week 10
                (P, "cancelled", utc(2025, 3, 9, 23)),
            ),
        )  # Monday 00:00 Oslo: week 11
        s.flush()
        s.add_all(
            [
                Invoice(
                    company=a,
                    number="F-R1",
                    order=o["R1"],
                    invoice_date=dt.date(2025, 1, 15),
                    due_date=dt.date(2025, 1, 29),
                    amount=Decimal("1250.00"),
                    paid=False,
                    **billing_of(a),
                ),
                Invoice(
                    company=c,
                    number="F-R5",
                    order=o["R5"],
                    invoice_date=dt.date(2025, 3, 31),
                    due_date=dt.date(2025, 4, 14),
                    amount=Decimal("6250.00"),
                    paid=True,
                    **billing_of(c),
                ),
                Invoice(
                    company=c,
                    number="F-R11",
                    order=o["R11"],
                    invoice_date=dt.date(2025, 3, 31),
                    due_date=dt.date(2025, 4, 14),
                    amount=Decimal("0.94"),
                    paid=False,
                    **billing_of(c),
                ),
                Budget(company=a, user=None, period="month", amount=Decimal("3000.00")),
                Budget(company=a, user=a_admin, period="month", amount=Decimal("625.00")),
                Budget(company=b, user=None, period="quarter", amount=Decimal("4000.00")),
                Budget(company=c, user=None, period="year", amount=Decimal("5000.00")),
                Budget(company=c, user=None, period="month", amount=Decimal("100.00")),
                Budget(company=c, user=None, period="month", amount=Decimal("1.00"), active=False),
            ]
        )
        s.flush()
        report_totals.rebuild(s)  # written around the domain: the totals are recomputed
        s.commit()
        return Data(world, c, o)


@pytest.fixture()
def session(app: Flask) -> Iterator[Session]:
    from app.extensions import db

    with app.app_context(), Session(db.engine) as s:
        yield s


def d(value: str) -> Decimal:
    return Decimal(value)


# --- the buckets --------------------------------------------------------------------------------


def test_buckets_follow_the_oslo_calendar() -> None:
    months = R.month_buckets(R.Period(dt.date(2025, 1, 15), dt.date(2025, 3, 31)))
    assert [(m.first, m.last, m.number) for m in months] == [
        (dt.date(2025, 1, 15), dt.date(2025, 1, 31), 1),
        (dt.date(2025, 2, 1), dt.date(2025, 2, 28), 2),
        (dt.date(2025, 3, 1), dt.date(2025, 3, 31), 3),
    ]
    assert months[1].end == utc(2025, 2, 28, 23)  # Oslo midnight in winter
    assert months[2].end == utc(2025, 3, 31, 22)  # ... and in summer
    weeks = R.week_buckets(PERIOD)
    assert len(weeks) == 14
    assert (weeks[0].first, weeks[0].last, weeks[0].year, weeks[0].number) == (
        dt.date(2025, 1, 1),
        dt.date(2025, 1, 5),
        2025,
        1,
    )
    assert (weeks[-1].first, weeks[-1].last, weeks[-1].number) == (dt.date(2025, 3, 31), dt.date(2025, 3, 31), 14)
    # ISO year of a week that starts in December
    assert [(w.year, w.number) for w in R.week_buckets(R.Period(dt.date(2024, 12, 28), dt.date(2024, 12, 31)))] == [
        (2024, 52),
        (2025, 1),
    ]
    assert R.default_period(dt.date(2026, 11, 24)) == R.Period(dt.date(2025, 12, 1), dt.date(2026, 11, 24))


# --- the five reports, figure by figure ----------------------------------------------------------


def test_sales_per_month_and_channel(data: Data, session: Session) -> None:
    report = R.sales_by_month(session, PERIOD)
    jan, feb, mar = (m.index for m in report.months)
    expected = {
        (jan, "webshop"): d("1300.25"),
        (feb, "webshop"): d("300.00"),
        (feb, "phone"): d("2300.50"),
        (mar, "edi"): d("4000.00"),
        (mar, "seller"): d("5000.00"),
        (mar, "webshop"): d("0.75"),
    }
    assert report.amounts == expected
    assert [report.month_total(m) for m in (jan, feb, mar)] == [d("1300.25"), d("2600.50"), d("9000.75")]
    assert report.channel_total("webshop") == d("1601.00")
    assert report.total == d("12901.50")


def test_orders_per_status(data: Data, session: Session) -> None:
    report = R.status_report(session, PERIOD)
    assert report.now == {
        "pending_approval": 1,
        "processing": 4,
        "shipped": 1,
        "partially_delivered": 1,
        "invoiced": 3,
        "cancelled": 2,
        "rejected": 1,
    }
    # week index (0 = ISO week 1) -> status -> how many entered it
    assert report.entered == {
        (0, "processing"): 1,
        (1, "pending_approval"): 1,
        (1, "processing"): 1,
        (1, "shipped"): 1,
        (2, "invoiced"): 1,
        (4, "pending_approval"): 1,
        (4, "processing"): 1,
        (5, "processing"): 1,
        (5, "shipped"): 1,
        (6, "pending_approval"): 4,
        (6, "processing"): 4,
        (6, "rejected"): 1,
        (6, "cancelled"): 1,
        (8, "processing"): 1,
        (9, "partially_delivered"): 1,
        (9, "pending_approval"): 2,
        (10, "cancelled"): 1,
        (13, "processing"): 2,
        (13, "invoiced"): 2,
    }


def test_approval_lead_time(data: Data, session: Session) -> None:
    report = R.approval_report(session, PERIOD, now=utc(2025, 3, 6, 8))
    got = {w.week.number: (w.decided, w.approved, w.rejected, w.median, w.p90) for w in report.weeks if w.decided}
    assert got == {
        1: (1, 1, 0, d("172800"), d("172800")),
        2: (1, 1, 0, d("14400"), d("14400")),
        6: (1, 1, 0, d("208800"), d("208800")),
        7: (4, 3, 1, d("5400"), d("62640")),
    }
    assert len(report.weeks) == 14 and all(w.median is None for w in report.weeks if not w.decided)
    assert [(w.number, w.company, w.since) for w in report.waiting] == [("R8", "Hansen AS", utc(2025, 3, 5, 8))]
    assert report.waiting_total == 1
    assert report.waiting[0].total_inc_vat == d("875.00")
    assert report.waiting[0].waiting(report.now) == dt.timedelta(days=1)


@pytest.mark.postgres
def test_lead_time_percentiles_agree_with_postgresql_percentile_cont(data: Data, session: Session) -> None:
    """Our window-function percentiles are PostgreSQL's own percentile_cont (on whole seconds)."""
    rows = session.execute(
        text("""
        SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY s), percentile_cont(0.9) WITHIN GROUP (ORDER BY s)
        FROM (SELECT floor(extract(epoch FROM d.at)) - floor(extract(epoch FROM e.at)) AS s
              FROM order_events d JOIN order_events e ON e.order_id = d.order_id AND e.to_status = 'pending_approval'
              WHERE d.from_status = 'pending_approval' AND d.to_status IN ('processing', 'rejected')
                AND d.at >= '2025-02-09 23:00+00' AND d.at < '2025-02-16 23:00+00') x
    """)
    ).one()
    week7 = next(w for w in R.approval_report(session, PERIOD).weeks if w.week.number == 7)
    # percentile_cont computes in float8 (62640.000000000015); ours is exact.
    assert [round(Decimal(str(v)), 6) for v in rows] == [week7.median, week7.p90] == [d("5400"), d("62640")]


def test_random_data_agrees_with_an_independent_computation(app: Flask, world: World, session: Session) -> None:
    """300 random orders and approvals over a spring with the switch to summer time. Expected figures are
    computed here without SQL (zoneinfo for the Oslo weeks and months, `statistics.quantiles`
    "inclusive" = PERCENTILE.INC) and, on PostgreSQL, also by PostgreSQL itself (`AT TIME ZONE
    'Europe/Oslo'`, `percentile_cont`): both must equal what our boundaries + CASE + window functions give."""
    import random
    import statistics
    from collections import defaultdict

    from app.domain.formatting import OSLO

    rng = random.Random(6)
    a = session.get(Company, world.a.company.id)
    durations: dict[dt.date, list[int]] = defaultdict(list)  # Oslo Monday -> whole seconds
    sales: dict[tuple[dt.date, str], Decimal] = defaultdict(Decimal)  # (Oslo month, channel) -> ex. VAT
    period = R.Period(dt.date(2024, 3, 4), dt.date(2024, 5, 26))  # Monday to Sunday: whole weeks
    for i in range(300):
        created = utc(2024, 3, 1) + dt.timedelta(
            seconds=rng.randint(0, 95 * 24 * 3600), microseconds=rng.randint(0, 999999)
        )
        decided = created + dt.timedelta(seconds=rng.randint(0, 5 * 24 * 3600), microseconds=rng.randint(0, 999999))
        status, channel = rng.choice(("processing", "invoiced", "rejected")), rng.choice(("webshop", "phone", "edi"))
        amount = Decimal(f"{rng.randint(0, 99999)}.{rng.randint(0, 99):02d}")
        _order(
            session,
            a,
            f"X{i}",
            channel,
            status,
            created,
            str(amount),
            "0.00",
            events=(
                (None, "pending_approval", created),
                ("pending_approval", rng.choice(("processing", "rejected")), decided),
            ),
        )
        local_decided, local_created = decided.astimezone(OSLO).date(), created.astimezone(OSLO).date()
        if period.first <= local_decided <= period.last:
            monday = local_decided - dt.timedelta(days=local_decided.weekday())
            durations[monday].append(int(decided.timestamp() // 1) - int(created.timestamp() // 1))
        if period.first <= local_created <= period.last and status != "rejected":
            sales[(local_created.replace(day=1), channel)] += amount
    session.flush()
    report_totals.rebuild(session)
    session.commit()

    def pct(values: list[int], decile: int) -> Decimal:
        if len(values) == 1:
            return Decimal(values[0])
        cuts = statistics.quantiles([Decimal(v) for v in values], n=10, method="inclusive")
        return cuts[decile - 1]

    expected = {monday: (len(v), pct(v, 5), pct(v, 9)) for monday, v in durations.items()}
    report = R.approval_report(session, period)
    got = {w.week.first: (w.decided, w.median, w.p90) for w in report.weeks if w.decided}
    assert len(got) == 12 and got == expected
    report_sales = R.sales_by_month(session, period)
    months = {m.index: m.first.replace(day=1) for m in report_sales.months}
    assert {(months[i], ch): v for (i, ch), v in report_sales.amounts.items()} == dict(sales)

    if is_postgres(app):
        rows = session.execute(
            text("""
            SELECT (date_trunc('week', d.at AT TIME ZONE 'Europe/Oslo'))::date, count(*),
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY s), percentile_cont(0.9) WITHIN GROUP (ORDER BY s)
            FROM (SELECT d.at, floor(extract(epoch FROM d.at)) - floor(extract(epoch FROM e.at)) AS s
                  FROM order_events d JOIN order_events e
                       ON e.order_id = d.order_id AND e.to_status = 'pending_approval'
                  WHERE d.from_status = 'pending_approval' AND d.to_status IN ('processing', 'rejected')
                    AND d.at >= :start AND d.at < :end) d
            GROUP BY 1
        """),
            {"start": period.start, "end": period.end},
        ).all()
        assert got == {
            monday: (n, round(Decimal(str(med)), 6), round(Decimal(str(p90)), 6)) for monday, n, med, p90 in rows
        }


def test_top_customers_with_credit_and_exposure(data: Data, session: Session) -> None:
    rows = R.top_customers(session, PERIOD)
    assert [(r.name, r.orders, r.sales, r.credit_limit, r.exposure) for r in rows] == [
        # C: nothing open; unpaid invoice of R11 (R5's is paid)
        ("Fjord Møbler AS", 2, d("5000.75"), d("50000.00"), d("0.94")),
        # B: the world's order 1250 + R3 375,31 + R4 5000 + R10 570 (all open, whatever their date)
        ("Berg AS", 2, d("4300.25"), d("200000.00"), d("7195.31")),
        # A: world 1250 + R2 2500,62 + R8 875 + R12 125 + R13 250 + R14 375 + R9 153,75 + R15 500
        #    + R1's unpaid invoice 1250 (the world's invoice belongs to an open order: not twice)
        ("Hansen AS", 5, d("3600.50"), d("200000.00"), d("7279.37")),
    ]
    assert R.top_customers(session, PERIOD, limit=1)[0].name == "Fjord Møbler AS"


def test_budget_consumption_across_companies(data: Data, session: Session) -> None:
    report = R.budget_report(session, dt.date(2025, 2, 15))
    assert [(r.company, r.user, r.period, r.amount, r.used, r.level) for r in report.rows] == [
        ("Berg AS", None, "quarter", d("4000.00"), d("4300.25"), "over"),  # R3 + R4 (R10 is April in Oslo)
        ("Fjord Møbler AS", None, "year", d("5000.00"), d("5000.75"), "over"),  # R5 + R11 (R6 cancelled)
        ("Hansen AS", None, "month", d("3000.00"), d("2600.50"), "warn"),  # February: R2 + R12 + R13 + R14
        ("Hansen AS", "Hansen Testesen", "month", d("625.00"), d("500.00"), "warn"),  # exactly 80 %: R13 + R14
        ("Hansen AS", "Hansen Testesen", "month", d("10000.00"), d("2100.50"), "ok"),  # the world's: R2 + R12
        ("Berg AS", "Berg Testesen", "month", d("10000.00"), d("0.00"), "ok"),
        ("Fjord Møbler AS", None, "month", d("100.00"), d("0.00"), "ok"),
    ]
    assert report.counts == {"over": 2, "warn": 2, "ok": 3}
    assert report.rows[1].first == dt.date(2025, 1, 1) and report.rows[1].last == dt.date(2025, 12, 31)


def test_reports_use_a_fixed_number_of_statements(app: Flask, data: Data, session: Session) -> None:
    """Aggregates in SQL: the number of statements does not grow with the number of orders."""
    with StatementCounter(session.get_bind()) as counter, app.test_request_context():
        for build in (
            lambda: R.sales_by_month(session, PERIOD),
            lambda: R.status_report(session, PERIOD),
            lambda: R.approval_report(session, PERIOD),
            lambda: R.top_customers(session, PERIOD),
            lambda: R.budget_report(session, dt.date(2025, 2, 15)),
        ):
            counter.statements.clear()
            build()
            assert counter.count <= 4, counter.statements


# --- pages and CSV -------------------------------------------------------------------------------


class _Tables(HTMLParser):
    """The cells of each `table.report-data` on a page: {key: [header, row, ...]} (no "no data" row)."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._key: str | None = None
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._skip = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "table" and "report-data" in (a.get("class") or ""):
            self._key = a.get("data-table") or ""
            self.tables[self._key] = []
        elif self._key is not None and tag == "tr":
            self._row, self._skip = [], "empty" in (a.get("class") or "")
        elif self._row is not None and tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None and self._key is not None:
            if not self._skip:
                self.tables[self._key].append(self._row)
            self._row = None
        elif tag == "table":
            self._key = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def page_tables(html: str) -> dict[str, list[list[str]]]:
    parser = _Tables()
    parser.feed(html)
    return parser.tables


def read_csv(response: Any) -> list[list[str]]:
    body = response.get_data()
    assert body.startswith(b"\xef\xbb\xbf"), "UTF-8 with BOM"
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline=""), delimiter=";"))


def _as_csv(cell: str) -> str:
    """A page cell as the CSV writes it: no thousands spaces, no unit, no dash for "none"."""
    cell = cell.replace("\u00a0", " ")
    for unit in (" kr", " %"):
        cell = cell.removesuffix(unit)
    if cell == "–":
        return ""
    return cell.replace(" ", "") if any(ch.isdigit() for ch in cell) and "," in cell else cell


def test_sales_page_and_csv(app: Flask, data: Data) -> None:
    client = client_as(app, "leder")
    page = client.get(PAGES["sales"], query_string=Q1)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'class="report-chart"' in html and "data-figure=" in html
    response = client.get(CSVS["sales"], query_string=Q1)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"] == 'attachment; filename="salg-per-maned_2025-01-01_2025-03-31.csv"'
    assert b"\r\n" in response.get_data()
    assert read_csv(response) == [
        ["Måned", "Nettbutikk", "Telefon", "Selger", "EDI", "Fast ordre", "Tilbud", "Sum"],
        ["januar 2025", "1300,25", "0,00", "0,00", "0,00", "0,00", "0,00", "1300,25"],
        ["februar 2025", "300,00", "2300,50", "0,00", "0,00", "0,00", "0,00", "2600,50"],
        ["mars 2025", "0,75", "0,00", "5000,00", "4000,00", "0,00", "0,00", "9000,75"],
        ["Sum", "1601,00", "2300,50", "5000,00", "4000,00", "0,00", "0,00", "12901,50"],
    ]
    table = page_tables(html)["salg"]
    assert table[1] == ["januar 2025", "1\u00a0300,25", "0,00", "0,00", "0,00", "0,00", "0,00", "1\u00a0300,25"]


@pytest.mark.parametrize("method", REPORT_METHODS)
def test_every_csv_holds_exactly_the_rows_on_the_page(app: Flask, data: Data, method: str) -> None:
    client = client_as(app, "leder")
    query = BUDGET_DAY if method == "budgets" else Q1
    html = client.get(PAGES[method], query_string=query).get_data(as_text=True)
    tables = page_tables(html)
    assert tables, "the page shows its tables"
    for key, rows in tables.items():
        response = client.get(CSVS[method], query_string={**query, "tabell": key})
        assert response.status_code == 200, key
        assert response.headers["Content-Disposition"].startswith("attachment; filename=")
        assert read_csv(response) == [[_as_csv(c) for c in row] for row in rows], key
        assert f"tabell={key}" in html  # the page links this CSV


def test_csv_figures_of_the_other_reports(app: Flask, data: Data) -> None:
    client = client_as(app, "leder")
    lead = read_csv(client.get(CSVS["approvals"], query_string={**Q1, "tabell": "ledetid"}))
    assert lead[0] == ["Uke", "Behandlet", "Godkjent", "Avvist", "Median (timer)", "90-persentil (timer)"]
    assert lead[7] == ["uke 7/2025", "4", "3", "1", "1,5", "17,4"]
    assert lead[1] == ["uke 1/2025", "1", "1", "0", "48,0", "48,0"]
    assert lead[4] == ["uke 4/2025", "0", "0", "0", "", ""]
    top = read_csv(client.get(CSVS["customers"], query_string=Q1))
    assert top == [
        ["Kunde", "Kundenr.", "Ordrer", "Salg eks. mva.", "Kredittgrense", "Eksponering nå"],
        ["Fjord Møbler AS", "10003", "2", "5000,75", "50000,00", "0,94"],
        ["Berg AS", "10002", "2", "4300,25", "200000,00", "7195,31"],
        ["Hansen AS", "10001", "5", "3600,50", "200000,00", "7279,37"],
    ]
    budgets = read_csv(client.get(CSVS["budgets"], query_string=BUDGET_DAY))
    assert budgets == [
        ["Forbruk", "Antall"],
        ["Over grensen", "2"],
        ["Nær grensen (≥ 80 %)", "2"],
        ["Under grensen", "3"],
        ["Sum", "7"],
    ]
    detail = read_csv(client.get(CSVS["budgets"], query_string={**BUDGET_DAY, "tabell": "bruksgrenser"}))
    assert detail[0] == ["Bedrift", "Gjelder", "Periode", "Grense", "Forbruk", "Andel", "Nivå"]
    assert detail[1] == ["Berg AS", "Hele bedriften", "1. kvartal 2025", "4000,00", "4300,25", "107,5", "Over grensen"]
    assert detail[2][2] == "2025" and detail[3][2] == "februar 2025"
    assert detail[4] == [
        "Hansen AS",
        "Hansen Testesen",
        "februar 2025",
        "625,00",
        "500,00",
        "80,0",
        "Nær grensen (≥ 80 %)",
    ]
    statuses = read_csv(client.get(CSVS["statuses"], query_string=Q1))
    assert statuses[0] == ["Status", "Antall ordrer"]
    assert statuses[1:] == [
        ["Til godkjenning", "1"],
        ["Under behandling", "4"],
        ["Kjørt ut fra lager", "1"],
        ["Dellevert", "1"],
        ["Fakturert", "3"],
        ["Kansellert", "2"],
        ["Avvist", "1"],
        ["Sum", "13"],
    ]
    weekly = read_csv(client.get(CSVS["statuses"], query_string={**Q1, "tabell": "uker"}))
    assert weekly[0] == [
        "Uke",
        "Til godkjenning",
        "Under behandling",
        "Kjørt ut fra lager",
        "Dellevert",
        "Fakturert",
        "Kansellert",
        "Avvist",
    ]
    assert weekly[7] == ["uke 7/2025", "4", "4", "0", "0", "0", "1", "1"]
    assert len(weekly) == 1 + 14


def test_bad_filter_values_give_a_message_and_the_default(app: Flask, data: Data) -> None:
    client = client_as(app, "leder")
    for query, _field, message in (
        ({"fra": "31.02.2025"}, "fra", "Skriv datoen som dd.mm.åååå."),
        ({"fra": "2025-03-01", "til": "2025-01-01"}, "til", "Til-datoen kan ikke være før fra-datoen."),
        ({"fra": "1900-01-01"}, "fra", "Velg en dato mellom"),
        ({"fra": "2015-01-01", "til": "2025-01-01"}, "fra", "Velg en periode på høyst fem år."),
    ):
        for method in ("sales", "approvals"):
            response = client.get(PAGES[method], query_string=query)
            assert response.status_code == 200
            assert message in response.get_data(as_text=True), (query, method)
        assert client.get(CSVS["sales"], query_string=query).status_code == 200
    response = client.get(PAGES["budgets"], query_string={"dato": "i går"})
    assert response.status_code == 200 and "Skriv datoen som dd.mm.åååå." in response.get_data(as_text=True)
    # Norwegian dates are understood too, and the CSV file is named after the period.
    response = client.get(CSVS["sales"], query_string={"fra": "01.01.2025", "til": "31.03.2025"})
    assert "salg-per-maned_2025-01-01_2025-03-31.csv" in response.headers["Content-Disposition"]
    assert client.get(CSVS["sales"], query_string={"tabell": "finnes-ikke"}).status_code == 404
    # Only a "til" date: the twelve months up to it.
    response = client.get(CSVS["sales"], query_string={"til": "2025-03-31"})
    assert "salg-per-maned_2024-04-01_2025-03-31.csv" in response.headers["Content-Disposition"]


def test_default_period_is_the_last_twelve_months(app: Flask, data: Data) -> None:
    from app.domain.formatting import oslo_today

    period = R.default_period(oslo_today())
    html = client_as(app, "admin").get(PAGES["sales"]).get_data(as_text=True)
    assert f'value="{period.first.isoformat()}"' in html and f'value="{period.last.isoformat()}"' in html
    assert len(page_tables(html)["salg"]) == 1 + 12 + 1  # header, 12 months, sum


# --- who may open them --------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["CustomerAdmin", "CustomerUser", "Seller", "CustomerService"])
def test_only_manager_and_admin_open_reports(app: Flask, world: World, role: str) -> None:
    client = client_as(app, world.user(role).username)
    for url in [*PAGES.values(), *CSVS.values()]:
        assert client.get(url, query_string=Q1).status_code == 403, (role, url)


@pytest.mark.parametrize("role", ["Manager", "Admin"])
def test_manager_and_admin_open_every_report(app: Flask, world: World, role: str) -> None:
    client = client_as(app, world.user(role).username)
    for url in [*PAGES.values(), *CSVS.values()]:
        assert client.get(url).status_code == 200, (role, url)
    menu = client.get("/").get_data(as_text=True)
    assert "Rapporter" in menu and PAGES["sales"] in menu and PAGES["budgets"] in menu


def test_anonymous_is_sent_to_login(app: Flask, world: World) -> None:
    client = app.test_client()
    response = client.get(PAGES["sales"])
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_plotly_js_comes_from_the_installed_package(app: Flask, world: World) -> None:
    import plotly

    from app.registry import PLOTLY_JS, PLOTLY_JS_URL

    client = client_as(app, "leder")
    html = client.get(PAGES["sales"]).get_data(as_text=True)
    assert f'src="{PLOTLY_JS_URL}"' in html and "cdn" not in html.lower()
    response = client.get(PLOTLY_JS_URL)
    assert response.status_code == 200
    assert response.mimetype == "text/javascript"
    assert response.get_data() == PLOTLY_JS.read_bytes()
    assert "immutable" in response.headers["Cache-Control"]
    assert plotly.__version__ in PLOTLY_JS_URL
    response.close()
