"""The benchmark at a small scale, so it cannot rot: `portal bench-data` (app/bench_data.py) builds a
valid world on this database, the app carries on in it, and scripts/bench.py's measuring code runs
on Flask's test client (no gunicorn, no wrk).

On PostgreSQL the world comes from set-based SQL; the first test compares it row by row with the
same rules written in Python (what SQLite loads), so the two cannot drift apart.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from decimal import Decimal
from itertools import pairwise
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import Connection, func, select, text
from sqlalchemy.orm import Session

from app.bench_data import (
    ORDER_BASE,
    QUOTE_BASE,
    World,
    check_foreign_keys,
    extra_quote_rows,
    load_bench,
    order_count,
    python_rows,
)
from app.domain.actors import Actor
from app.domain.catalogue import LineInput, configuration_errors
from app.domain.lifecycle import ALL_STATUSES, MOVES
from app.domain.orders import place_order
from app.domain.pricing import order_totals
from app.extensions import db
from app.models import (
    Invoice,
    Order,
    OrderChannel,
    OrderEvent,
    OrderLine,
    PortalUser,
    Product,
    Quote,
    QuoteLine,
    Shipment,
    ShipmentLine,
    StandingOrder,
)
from scripts import bench
from tests.helpers import reset_database

ORDERS = 300
CENT = Decimal("0.01")


@pytest.fixture(scope="module")
def bench_world(app: Flask) -> Iterator[World]:
    """The bench world at ORDERS orders, loaded once for this file (and removed after it)."""
    reset_database(app)
    with app.app_context():
        db.session.remove()
        with db.engine.begin() as conn:
            loaded = load_bench(conn, ORDERS, echo=lambda line: None)
    yield loaded
    reset_database(app)


@pytest.fixture()
def conn(app: Flask, bench_world: World) -> Iterator[Connection]:
    # No app context stays pushed: the test client's requests would share its `g` (and the login).
    with app.app_context():
        engine = db.engine
    with engine.connect() as connection:
        yield connection


def _norm(value: Any) -> Any:
    if isinstance(value, Decimal):
        return value.quantize(CENT)
    if isinstance(value, float):
        return Decimal(str(value)).quantize(CENT)
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC)
    return value


def _rows(conn: Connection, table: Any, columns: Sequence[str], where: Any = None) -> list[tuple]:
    query = select(*[table.c[c] for c in columns])
    if where is not None:
        query = query.where(where)
    return sorted(tuple(_norm(v) for v in row) for row in conn.execute(query))


def _expected(rows: list[dict[str, Any]], columns: Sequence[str]) -> list[tuple]:
    return sorted(tuple(_norm(r[c]) for c in columns) for r in rows)


# --- the world -----------------------------------------------------------------------------


def test_the_database_holds_exactly_the_rows_of_the_python_rules(conn: Connection, bench_world: World) -> None:
    expected: dict[str, list[dict[str, Any]]] = defaultdict(list)
    nacc = 0
    for rows in python_rows(bench_world):
        expected["orders"].append(rows.order)
        expected["order_lines"] += rows.lines
        expected["order_events"] += rows.events
        expected["shipments"] += rows.shipments
        expected["shipment_lines"] += rows.shipment_lines
        expected["invoices"] += [rows.invoice] if rows.invoice else []
        if rows.quote:
            expected["quotes"].append(rows.quote)
            expected["quote_lines"] += rows.quote_lines
            nacc += 1
    for j in range(1, bench_world.extra_quotes + 1):
        quote, lines = extra_quote_rows(bench_world, j, nacc)
        expected["quotes"].append(quote)
        expected["quote_lines"] += lines
    models = {
        "orders": Order,
        "order_lines": OrderLine,
        "order_events": OrderEvent,
        "shipments": Shipment,
        "shipment_lines": ShipmentLine,
        "invoices": Invoice,
        "quotes": Quote,
        "quote_lines": QuoteLine,
    }
    for name, model in models.items():
        table = model.__table__
        columns = [
            c for c in expected[name][0] if c != "id" or name in ("orders", "order_lines", "shipments", "quotes")
        ]
        got = _rows(conn, table, columns)
        want = _expected(expected[name], columns)
        assert len(got) == len(want), name
        mismatches = [(g, w) for g, w in zip(got, want, strict=True) if g != w]
        assert not mismatches, f"{name}: {len(mismatches)} rows differ, e.g. {mismatches[:2]}"


def test_every_status_and_channel_with_a_realistic_mix(conn: Connection) -> None:
    statuses = dict(conn.execute(select(Order.status, func.count()).group_by(Order.status)).all())
    channels = dict(conn.execute(select(Order.channel, func.count()).group_by(Order.channel)).all())
    assert set(statuses) == set(ALL_STATUSES)
    assert set(channels) == {c.value for c in OrderChannel}
    assert statuses["invoiced"] > ORDERS / 2  # most orders of two years are done
    assert 0.02 * ORDERS <= statuses["pending_approval"] <= 0.12 * ORDERS
    lines = conn.execute(select(func.count()).select_from(OrderLine.__table__)).scalar()
    assert 1.8 * ORDERS <= lines <= 2.5 * ORDERS


def test_totals_numbers_and_configurations(conn: Connection) -> None:
    products = {p.id: p for p in Session(conn).scalars(select(Product))}
    lines: dict[int, list[Any]] = defaultdict(list)
    for line in conn.execute(select(OrderLine.__table__)):
        lines[line.order_id].append(line)
        assert configuration_errors(products[line.product_id], line) == {}, line
    for order in conn.execute(select(Order.__table__)):
        assert order.number == str(ORDER_BASE + order.id)
        assert (order.total_ex_vat, order.total_vat) == order_totals(lines[order.id]), order.number
    for quote in conn.execute(select(Quote.__table__)):
        assert quote.number == f"T{QUOTE_BASE + quote.id}"


def test_events_follow_the_lifecycle_to_the_order_status(conn: Connection, bench_world: World) -> None:
    allowed = {(frm, to) for move in MOVES.values() for frm in move.sources for to in move.targets}
    events: dict[int, list[Any]] = defaultdict(list)
    for event in conn.execute(select(OrderEvent.__table__).order_by(OrderEvent.at, OrderEvent.id)):
        events[event.order_id].append(event)
    for order in conn.execute(select(Order.__table__)):
        chain = events[order.id]
        assert chain[0].from_status is None and chain[0].to_status in (
            "pending_internal_approval",
            "pending_approval",
            "processing",
        )
        assert _norm(chain[0].at) == _norm(order.created_at)
        for before, after in pairwise(chain):
            assert after.from_status == before.to_status, order.number
            assert (after.from_status, after.to_status) in allowed, order.number
            assert _norm(before.at) < _norm(after.at) <= bench_world.now
        assert chain[-1].to_status == order.status, order.number


def test_shipments_invoices_and_quotes_fit_the_orders(conn: Connection) -> None:
    shipped: dict[int, int] = defaultdict(int)
    for line_id, quantity in conn.execute(select(ShipmentLine.order_line_id, ShipmentLine.quantity)):
        shipped[line_id] += quantity
    for line in conn.execute(select(OrderLine.__table__)):
        assert shipped[line.id] == line.delivered_quantity
        expected = (
            "delivered"
            if line.delivered_quantity == line.quantity
            else "partially_delivered"
            if line.delivered_quantity
            else "open"
        )
        assert line.status in (expected, "cancelled")
    with_shipments = set(conn.scalars(select(Shipment.order_id)))
    invoices = {i.order_id: i for i in conn.execute(select(Invoice.__table__))}
    quote_lines: dict[int, list[tuple]] = defaultdict(list)
    for ql in conn.execute(select(QuoteLine.__table__).order_by(QuoteLine.line_no)):
        quote_lines[ql.quote_id].append((ql.product_id, ql.quantity, _norm(ql.unit_price), ql.width, ql.fabric))
    order_lines: dict[int, list[tuple]] = defaultdict(list)
    for ol in conn.execute(select(OrderLine.__table__).order_by(OrderLine.line_no)):
        order_lines[ol.order_id].append((ol.product_id, ol.quantity, _norm(ol.unit_price), ol.width, ol.fabric))
    accepted = set(conn.scalars(select(Quote.id).where(Quote.status == "accepted")))
    for order in conn.execute(select(Order.__table__)):
        assert (order.id in with_shipments) == (order.status in ("partially_delivered", "shipped", "invoiced"))
        assert (order.id in invoices) == (order.status == "invoiced")
        if order.id in invoices:
            invoice = invoices[order.id]
            assert _norm(invoice.amount) == _norm(order.total_ex_vat + order.total_vat)
            assert invoice.number == f"F{order.number}"
        assert (order.channel == "quote") == (order.quote_id is not None)
        if order.quote_id is not None:
            assert order.quote_id in accepted and quote_lines[order.quote_id] == order_lines[order.id]
            accepted.discard(order.quote_id)
        assert (order.channel == "standing_order") == (order.standing_order_id is not None)
        assert (order.standing_order_id is None) == (order.delivery_date is None)
    assert not accepted, "accepted quotes without their order"


def test_every_foreign_key_names_a_row(conn: Connection) -> None:
    from flask_appbuilder import Model

    assert check_foreign_keys(conn, [t for t in Model.metadata.tables if not t.startswith("ab_")]) == {}


# --- the app carries on ----------------------------------------------------------------------------


def _customer_actor(session: Session) -> Actor:
    user = session.scalars(select(PortalUser).where(PortalUser.username == "hansen.bruker")).one()
    return Actor.from_user(user)


def _place(app: Flask) -> Order:
    with app.app_context(), Session(db.engine, expire_on_commit=False) as session:
        actor = _customer_actor(session)
        address = session.scalar(
            text("SELECT min(id) FROM delivery_addresses WHERE company_id = :c"), {"c": actor.company_id}
        )
        product = session.scalar(select(Product.id).where(Product.sku == "PAPIR-A4"))
        order = place_order(
            session,
            actor=actor,
            company_id=actor.company_id,
            delivery_address_id=address,  # type: ignore[arg-type]
            lines=[LineInput(product_id=product, quantity=3)],
        )
        session.commit()
        return order


def test_a_second_world_and_new_orders_continue_the_ids_and_numbers(app: Flask, bench_world: World) -> None:
    runner = app.test_cli_runner()
    refused = runner.invoke(args=["portal", "bench-data", "--orders", "20"])
    assert refused.exit_code == 1 and "allerede" in refused.output
    skipped = runner.invoke(args=["portal", "bench-data", "--orders", "20", "--if-empty"])
    assert skipped.exit_code == 0 and "lastes ikke" in skipped.output

    order = _place(app)
    assert order.id == bench_world.order0 + ORDERS + 1 and order.number == str(ORDER_BASE + order.id)
    added = runner.invoke(args=["portal", "bench-data", "--orders", "20", "--companies", "2", "--force"])
    assert added.exit_code == 0, added.output
    with app.app_context(), db.engine.connect() as conn:
        assert order_count(conn) == ORDERS + 1 + 20
        numbers = conn.execute(select(Order.id, Order.number).where(Order.id > order.id)).all()
        assert [n for _i, n in numbers] == [str(ORDER_BASE + i) for i, _n in numbers]
        assert min(i for i, _n in numbers) == order.id + 1
        assert check_foreign_keys(conn) == {}
    again = _place(app)
    assert again.id == order.id + 21 and again.number == str(ORDER_BASE + again.id)


# --- the measuring code on the test client ------------------------------------------------------


EXTRA_PAGES = (
    ("selger", "/quoteview/list/"),
    ("selger", "/standingorderview/list/"),
    ("kundeservice", "/inquiryview/list/"),
    ("kundeservice", "/companyview/list/"),
    ("selger", "/budgetview/list/"),
    ("hansen.admin", "/bruksgrense/oversikt/"),
    ("hansen.bruker", "/quoteview/list/"),
    ("hansen.admin", "/standingorderview/list/"),
    ("hansen.bruker", "/pickupreservationview/list/"),
    ("kundeservice", "/pickupreservationview/list/"),
    ("hansen.admin", "/companyusers/list/"),
    ("hansen.bruker", "/deliveryaddressview/list/"),
    ("kundeservice", "/deliveryaddressview/list/"),
    ("hansen.bruker", "/min-profil/"),
    ("kundeservice", "/users/list/"),
    ("hansen.admin", "/mycompanyview/list/"),
)


@pytest.fixture()
def counted(app: Flask) -> Iterator[None]:
    from app.bench_sql import install

    uninstall = install(app)
    yield
    uninstall()


def test_pages_answer_and_count_their_statements(app: Flask, conn: Connection, counted: None) -> None:
    pages = bench.portal_pages(bench.facts_of(conn))
    # Every order's page in every status, and the other lists.
    for status in ALL_STATUSES:
        oid = conn.scalar(select(func.min(Order.id)).where(Order.status == status))
        pages.append(bench.Page(f"show_{status}", status, "selger", f"/orderview/show/{oid}"))
    pages += [bench.Page(f"extra_{i}", path, who, path) for i, (who, path) in enumerate(EXTRA_PAGES)]
    for model, view in ((Quote, "quoteview"), (StandingOrder, "standingorderview")):
        pk = conn.scalar(select(func.max(model.id)))
        pages.append(bench.Page(f"show_{view}", view, "selger", f"/{view}/show/{pk}"))
    conn.rollback()  # no read transaction of ours may hold SQLite's lock while the pages write
    clients = bench.portal_clients(lambda: bench.FlaskClient(app))
    results = bench.measure([("kundeportal", clients, pages)], repeat=1)
    assert {m.page.path: m.statuses for m in results if m.statuses != {200}} == {}
    assert all(m.statement_count and m.statement_count > 0 and len(m.ms) == 1 for m in results)
    assert all(m.server_median is not None and m.sql_median is not None for m in results)
    printed = bench.table(
        results, [bench.JobResult("portal send-mail", 7, 1.5, 7)], [bench.Throughput("kundens ordreliste", 123.4)]
    )
    assert "ordreliste, første side" in printed and "| portal send-mail | 7 |" in printed and "123.4" in printed


class _MailTo:
    """Flask-Mail pointed at a local server with sending on (TESTING suppresses it)."""

    def __init__(self, app: Flask, port: int) -> None:
        self.state, self.port = app.extensions["mail"], port

    def __enter__(self) -> None:
        self.saved = (self.state.server, self.state.port, self.state.suppress)
        self.state.server, self.state.port, self.state.suppress = "127.0.0.1", self.port, False

    def __exit__(self, *exc: Any) -> None:
        self.state.server, self.state.port, self.state.suppress = self.saved


def test_the_jobs_are_timed_on_generated_plans_and_mails_and_removed_again(app: Flask, bench_world: World) -> None:
    runner = app.test_cli_runner()

    def run(args: Sequence[str], timeout: float | None) -> tuple[int, str, float]:
        started = time.monotonic()
        result = runner.invoke(args=list(args))
        return result.exit_code, result.output, time.monotonic() - started

    with app.app_context():
        with db.engine.connect() as before:
            marks = bench.watermarks(before)
        with bench.SmtpSink() as sink, _MailTo(app, sink.port):
            jobs = bench.run_jobs(
                db.engine.connect, run, plans=6, mails=7, timeout=None, smtp_port=sink.port, echo=lambda line: None
            )
        with db.engine.connect() as after:
            assert bench.watermarks(after) == marks
            assert (
                after.scalar(
                    select(func.count())
                    .select_from(StandingOrder.__table__)
                    .where(StandingOrder.name.like(f"{bench.PLAN_PREFIX}%"))
                )
                == 0
            )
    standing, mail = jobs
    assert standing.seconds is not None and standing.done >= 6, standing
    assert mail.seconds is not None and mail.done == mail.items == sink.count >= 7, mail


def test_the_table_judges_each_figure_against_its_target() -> None:
    fast = bench.Measurement("kundeportal", bench.Page("a", "rask side", "selger", "/", 10), server_ms=[4.0, 6.0])
    slow = bench.Measurement("kundeportal", bench.Page("b", "treg side", "selger", "/", 10), server_ms=[40.0])
    sql = bench.Measurement(
        "kundeportal", bench.Page("c", "kundeside", "hansen.bruker", "/", 10, True), server_ms=[50.0], sql_ms=[3.0]
    )
    jobs = [
        bench.JobResult("portal standing-orders", 1000, 0.5, 1000),  # bound 0.6 s
        bench.JobResult("portal send-mail", 1000, 2.0, 1000),  # bound 1.5 s
        bench.JobResult("portal standing-orders", 1000, 0.1, 10),  # fast, but most plans not made
    ]
    rates = [bench.Throughput("Kundeportal: kundens ordreliste", 260.0), bench.Throughput("fab: én bedrift", 9.0)]
    printed = bench.table([fast, slow, sql], jobs, rates)
    verdicts = [
        line.split(" | ")[9].rstrip(" |")
        for line in printed.splitlines()
        if line.startswith("| ") and "side" in line[:20]
    ]
    assert verdicts[-3:] == ["ja", "NEI", "ja"]
    assert [bench.verdict(j.seconds if j.done >= j.items else None, bench.job_bound(j)) for j in jobs] == [
        "ja",
        "NEI",
        "NEI",
    ]
    assert "| ≥ 250 | ja |" in printed
    assert printed.rstrip().endswith("4 av 7 mål nådd.")


def test_a_long_standing_order_run_is_read_from_its_progress_lines() -> None:
    output = (
        "  12 000 av 100 003 faste ordre (4 100 laget, 0 fantes fra før)\nFerdig: 100003 opprettet, 0 fantes fra før"
    )
    done = bench.time_standing_orders(lambda args, timeout: (0, output, 5.0), bench.due_day(), 100000, None)
    assert (done.items, done.done, done.seconds) == (100003, 100003, 5.0)
    cut_off = output.splitlines()[0]  # stopped by the time limit before its summary
    stopped = bench.time_standing_orders(lambda args, timeout: (-1, cut_off, 9.0), bench.due_day(), 100000, None)
    assert (stopped.items, stopped.done, stopped.seconds) == (100003, 12000, None)
