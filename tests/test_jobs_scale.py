"""The jobs at scale: `portal standing-orders` in chunks and `portal send-mail` in batches.

Counted, not timed: the statements of a run depend on the chunks and batches, not on the plans or
mails; the orders a chunk makes follow the order rules as placing them one by one does; one bad
plan or mail fails alone; two runs at once (threads with their own connections) make each order
and send each mail exactly once.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.domain import mail as mail_delivery
from app.domain import standing_orders as so_rules
from app.domain.actors import Actor
from app.domain.formatting import oslo_today
from app.domain.mail import OUTBOX_HEADER, deliver, mail_row, queue_mail, render_template_mail
from app.domain.orders import LineInput, place_order
from app.domain.orders.placing import confirmation_context, order_link
from app.extensions import db
from app.models import Budget, MailOutbox, Order, OrderEvent, OrderLine, StandingOrder, StandingOrderLine, utcnow
from tests.factories import World
from tests.helpers import StatementCounter, db_engine, db_session, is_postgres
from tests.test_mail_delivery import Collector, _free_port, _mail_to, _start


def _monday(weeks: int = 1) -> dt.date:
    today = oslo_today()
    return today + dt.timedelta(days=(0 - today.weekday()) % 7 or 7) + dt.timedelta(weeks=weeks - 1)


def _add_plans(
    app: Flask, world: World, n: int, start: dt.date, created_by: bool = False, quantity: int = 1
) -> list[int]:
    """n weekly Monday plans of company A (a dealer paying by invoice) on `start` only; the world's
    own plans are paused, so these are all that is due."""
    with db_session(app) as s:
        for own in (world.a.standing_order, world.b.standing_order):
            s.get(StandingOrder, own.id).active = False
        plans = []
        for i in range(n):
            plan = StandingOrder(
                company_id=world.a.company.id,
                name=f"Plan {start} {i}",
                frequency="weekly",
                weekday=0,
                delivery_address_id=world.a.address.id,
                start_date=start,
                end_date=start,
                created_by_id=world.a.admin.id if created_by else None,
            )
            plan.lines = [
                StandingOrderLine(company_id=world.a.company.id, product_id=world.product.id, quantity=quantity + i % 3)
            ]
            plans.append(plan)
        s.add_all(plans)
        s.commit()
        return [p.id for p in plans]


def _run(app: Flask, day: dt.date, **kwargs: Any) -> so_rules.RunSummary:
    with app.app_context(), db_session(app) as s:
        return so_rules.generate_due(s, day, **kwargs)


def _statements(app: Flask, day: dt.date, **kwargs: Any) -> tuple[int, so_rules.RunSummary]:
    with StatementCounter(db_engine(app)) as counter:
        summary = _run(app, day, **kwargs)
    return counter.count, summary


# --- standing orders: statements per chunk, not per plan ---------------------------------------


def test_the_statements_of_a_run_do_not_grow_with_the_plans(app: Flask, world: World) -> None:
    few_day, many_day = _monday(3), _monday(4)
    _add_plans(app, world, 4, few_day, created_by=True)
    _add_plans(app, world, 40, many_day, created_by=True)
    few, few_summary = _statements(app, few_day)
    many, many_summary = _statements(app, many_day)
    assert few_summary.count("created") == 4 and many_summary.count("created") == 40
    assert many == few, (few, many)
    assert many <= 20  # the plans' rows, a few inserts, one commit
    # In chunks of 10: the statements of four chunks, still none per plan.
    chunked, summary = _statements(app, _monday(4) + dt.timedelta(weeks=4), chunk_size=10)
    assert summary.outcomes == []  # nothing due that day
    day = _monday(9)
    _add_plans(app, world, 40, day, created_by=True)
    chunked, summary = _statements(app, day, chunk_size=10)
    assert summary.count("created") == 40 and chunked <= 4 * few, (few, chunked)


def test_a_second_run_reads_and_writes_no_order(app: Flask, world: World) -> None:
    day = _monday(3)
    _add_plans(app, world, 30, day)
    assert _run(app, day).count("created") == 30
    statements, again = _statements(app, day)
    assert again.count("exists") == 30 and again.count("created") == 0
    assert statements <= 8, statements


def test_a_chunk_makes_the_orders_place_order_makes(app: Flask, world: World) -> None:
    """Same lines, same company, same creator: the generated order equals a placed one but for
    its channel, plan and delivery date."""
    day = _monday(3)
    [plan_id] = _add_plans(app, world, 1, day, created_by=True, quantity=4)
    assert _run(app, day).count("created") == 1
    with app.app_context(), db_session(app) as s:
        admin = world.a.admin
        by_hand = place_order(
            s,
            actor=Actor(
                id=admin.id,
                name=f"{admin.full_name} (fast ordre)",
                company_id=admin.company_id,
                roles=frozenset({"CustomerAdmin"}),
                email=admin.email,
            ),
            company_id=world.a.company.id,
            delivery_address_id=world.a.address.id,
            lines=[LineInput(product_id=world.product.id, quantity=4)],
            channel="standing_order",
            customer_reference=f"Plan {day} 0",
        )
        s.commit()
        made = s.scalars(select(Order).where(Order.standing_order_id == plan_id)).one()

        def shape(order: Order) -> tuple[Any, ...]:
            return (
                order.status,
                order.company_id,
                order.created_by_id,
                order.delivery_address_id,
                order.customer_reference,
                order.total_ex_vat,
                order.total_vat,
                order.over_budget,
                [(ln.line_no, ln.product_id, ln.quantity, ln.unit_price, ln.vat_rate, ln.status) for ln in order.lines],
                [(e.from_status, e.to_status, e.actor_id, e.actor_name, e.reason) for e in order.events],
            )

        assert shape(made) == shape(by_hand)
        assert made.status == "pending_approval" and made.total_ex_vat == Decimal("2000.00")
        assert made.number == str(100000 + made.id) and made.channel == "standing_order"
        assert made.events[0].reason == "Venter på godkjenning fra selger"
        subjects = set(
            s.scalars(
                select(MailOutbox.subject).where(
                    MailOutbox.kind == "order_confirmation", MailOutbox.to_address == admin.email
                )
            )
        )
        assert subjects == {f"Ordrebekreftelse {made.number}", f"Ordrebekreftelse {by_hand.number}"}


def test_the_confirmations_of_a_chunk_are_the_mails_the_template_renders(app: Flask, world: World) -> None:
    """The chunk renders the confirmation once per status and totals and fills in number and link:
    each mail equals the template rendered for its own order."""
    day = _monday(3)
    ids = _add_plans(app, world, 6, day, created_by=True)
    assert _run(app, day).count("created") == 6
    with app.app_context(), db_session(app) as s:
        orders = s.scalars(select(Order).where(Order.standing_order_id.in_(ids))).all()
        stored = {
            m.subject: m for m in s.scalars(select(MailOutbox).where(MailOutbox.kind == "order_confirmation")).all()
        }
        assert len({o.total_ex_vat for o in orders}) == 3  # quantities 1, 2, 3: renders shared by two orders each
        for order in orders:
            subject, text = render_template_mail(
                "order_confirmation", link=order_link(order.id), **confirmation_context(order)
            )
            expected = mail_row(
                kind="order_confirmation", to=world.a.admin.email, subject=subject, text=text, link=order_link(order.id)
            )
            mail = stored[expected["subject"]]
            assert (mail.to_address, mail.body_text, mail.body_html) == (
                expected["to_address"],
                expected["body_text"],
                expected["body_html"],
            )
            assert order.number in mail.body_text


def test_budgets_count_the_orders_of_a_chunk_one_after_the_other(app: Flask, world: World) -> None:
    """A company-wide limit of 5 000 kr and ten orders of 1 000 kr in one chunk: the first five
    stay within it, the other five are flagged, and each customer admin gets one mail."""
    day = _monday(3)
    with db_session(app) as s:
        s.add(Budget(company_id=world.a.company.id, user_id=None, period="year", amount=Decimal("5000.00")))
        s.commit()
    ids = _add_plans(app, world, 10, day)
    with db_session(app) as s:
        s.query(StandingOrderLine).filter(StandingOrderLine.standing_order_id.in_(ids)).update({"quantity": 2})
        before = s.scalar(
            select(func.coalesce(func.sum(Order.total_ex_vat), 0)).where(
                Order.company_id == world.a.company.id, Order.status.not_in(("cancelled", "rejected"))
            )
        )
        s.commit()
    assert before == Decimal("1000.00")  # the world's order this year
    assert _run(app, day, chunk_size=100).count("created") == 10
    with db_session(app) as s:
        flags = list(
            s.scalars(
                select(Order.over_budget).where(Order.standing_order_id.in_(ids)).order_by(Order.standing_order_id)
            )
        )
        assert flags == [False] * 4 + [True] * 6  # 1 000 before, then 2 000 … 11 000
        mails = s.scalars(select(MailOutbox).where(MailOutbox.kind == "budget_exceeded")).all()
        assert [m.to_address for m in mails] == [world.a.admin.email]
        assert "6 000,00" in mails[0].body_text.replace("\xa0", " ")  # the consumption when first over
        # One first event per order (nothing written twice by the mail's savepoint).
        events = s.scalar(
            select(func.count()).select_from(OrderEvent).join(Order).where(Order.standing_order_id.in_(ids))
        )
        assert events == 10


def test_a_plan_the_database_refuses_fails_alone(app: Flask, world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """The chunk is tried again plan by plan: the others are made, the refused one fails."""
    day = _monday(3)
    ids = _add_plans(app, world, 6, day)
    bad = ids[2]
    insert = so_rules._insert_orders

    def refusing(session: Session, rows: list[dict[str, Any]]) -> dict[int, int]:
        if any(row["standing_order_id"] == bad for row in rows):
            raise IntegrityError("INSERT INTO orders", {}, Exception("refused by the database"))
        return insert(session, rows)

    monkeypatch.setattr(so_rules, "_insert_orders", refusing)
    summary = _run(app, day)
    results = {o.standing_order_id: o.result for o in summary.outcomes}
    assert results == {i: ("failed" if i == bad else "created") for i in ids}
    failed = next(o for o in summary.outcomes if o.result == "failed")
    assert failed.message == "Databasen avviste ordren." and failed.name == f"Plan {day} 2"
    with db_session(app) as s:
        made = s.scalar(select(func.count()).select_from(Order).where(Order.standing_order_id.in_(ids)))
        assert made == 5


def test_cli_prints_progress_lines_for_a_long_run(app: Flask, world: World) -> None:
    day = _monday(3)
    _add_plans(app, world, 120, day)
    result = app.test_cli_runner().invoke(args=["portal", "standing-orders", "--date", day.isoformat()])
    assert result.exit_code == 0, result.output
    assert "120 av 120 faste ordre (120 laget, 0 fantes fra før, 0 avvist, 0 feilet)" in result.output
    assert "[1/120]" not in result.output  # no line per plan on a long run
    assert "Ferdig: 120 opprettet, 0 fantes fra før, 0 avvist, 0 feilet." in result.output


@pytest.mark.postgres
def test_two_runs_at_once_in_small_chunks_make_each_order_once(app: Flask, world: World) -> None:
    """Three runs, each in its own session and connection, over the same 60 plans in chunks of 7:
    every delivery gets one order, every run accounts for every plan, the budget mail goes once."""
    if not is_postgres(app):
        pytest.skip("needs PostgreSQL: concurrent writers")
    day = _monday(3)
    with db_session(app) as s:
        s.add(Budget(company_id=world.a.company.id, user_id=None, period="year", amount=Decimal("3000.00")))
        s.commit()
    ids = _add_plans(app, world, 60, day, created_by=True)
    barrier = threading.Barrier(3)
    results: list[so_rules.RunSummary] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            with app.app_context(), Session(db.engine, expire_on_commit=False) as s:
                barrier.wait()
                results.append(so_rules.generate_due(s, day, chunk_size=7))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert sum(r.count("created") for r in results) == 60
    for r in results:
        assert r.count("failed") == 0 and r.count("created") + r.count("exists") == 60
    with db_session(app) as s:
        per_plan = dict(
            s.execute(
                select(Order.standing_order_id, func.count())
                .where(Order.standing_order_id.in_(ids))
                .group_by(Order.standing_order_id)
            ).all()
        )
        assert per_plan == dict.fromkeys(ids, 1)
        assert s.scalar(select(func.count()).select_from(MailOutbox).where(MailOutbox.kind == "budget_exceeded")) == 1
        lines = s.scalar(
            select(func.count()).select_from(OrderLine).join(Order).where(Order.standing_order_id.in_(ids))
        )
        assert lines == 60


# --- send-mail: one connection per batch, bulk marks, one bad mail alone ------------------------


class CountingCollector(Collector):
    """Counts the SMTP sessions (one EHLO each) besides keeping the messages."""

    def __init__(self) -> None:
        super().__init__()
        self.sessions = 0

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        with self.lock:
            self.sessions += 1
        session.host_name = hostname
        return responses


@pytest.fixture()
def counting_smtp(app: Flask) -> Iterator[CountingCollector]:
    handler, port = CountingCollector(), _free_port()
    controller = _start(handler, port)
    with _mail_to(app, port):
        try:
            yield handler
        finally:
            controller.stop()


def _queue(app: Flask, addresses: list[str], subject: str = "Ordrebekreftelse") -> list[int]:
    with app.app_context(), db_session(app) as s:
        rows = [
            queue_mail(s, kind="test", to=to, subject=f"{subject} {i}", text="Hei!") for i, to in enumerate(addresses)
        ]
        s.commit()
        return [r.id for r in rows]


def _deliver(app: Flask, **kwargs: Any) -> mail_delivery.DeliveryReport:
    with app.app_context(), db_session(app) as s:
        return deliver(s, **kwargs)


def test_one_smtp_connection_per_batch(app: Flask, world: World, counting_smtp: CountingCollector) -> None:
    ids = _queue(app, [f"kunde{i}@example.no" for i in range(25)])
    # One sender: with several, claims made at the same moment share the rows out (SKIP LOCKED),
    # and how many batches that makes depends on timing.
    report = _deliver(app, batch_size=10, senders=1)
    assert (report.sent, report.failed) == (25, 0)
    assert counting_smtp.sessions == 3  # 10 + 10 + 5
    assert sorted(counting_smtp.outbox_ids()) == ids


def test_the_statements_of_a_batch_do_not_grow_with_the_mails(
    app: Flask, world: World, counting_smtp: CountingCollector
) -> None:
    def statements(n: int) -> int:
        _queue(app, [f"kunde{i}@example.no" for i in range(n)])
        with StatementCounter(db_engine(app)) as counter:
            assert _deliver(app, batch_size=100).sent == n
        return counter.count

    few, many = statements(3), statements(60)
    assert few == many and many <= 8, (few, many)  # claim, mark sent, the empty claim that ends it


def test_a_mail_that_cannot_be_sent_fails_alone_and_the_run_goes_on(
    app: Flask, world: World, counting_smtp: CountingCollector
) -> None:
    """An address smtplib cannot even write (not ASCII) breaks off its SMTP transaction halfway; the
    connection is reset and the rest of the batch goes out over it."""
    good = _queue(app, ["kari@example.no", "ola@example.no"])
    bad = _queue(app, ["ærlig@example.no"])
    rest = _queue(app, ["per@example.no", "pål@example.no".replace("å", "a")])
    report = _deliver(app, now=utcnow() + dt.timedelta(seconds=1))
    assert (report.sent, report.failed, report.outage) == (4, 1, None)
    assert [mail_id for mail_id, _error in report.errors] == bad
    assert sorted(counting_smtp.outbox_ids()) == good + rest
    assert counting_smtp.sessions == 1
    with db_session(app) as s:
        row = s.get(MailOutbox, bad[0])
        assert row.sent_at is None and row.attempts == 1 and row.last_error
        assert row.next_attempt_at > utcnow()  # waits with backoff like any failure


def test_cr_lf_never_becomes_a_header(app: Flask, world: World, counting_smtp: CountingCollector) -> None:
    """Queued: CR/LF stripped from subject and address. A row written before that (straight into
    the table) is sent with its subject on one line, and nothing stops the run."""
    [queued] = _queue(app, ["kari@example.no"], subject="Hjelp\r\nBcc: alle@example.no\r\n")
    with db_session(app) as s:
        assert s.get(MailOutbox, queued).subject == "Hjelp Bcc: alle@example.no 0"
        raw = MailOutbox(
            kind="inquiry_answered",
            to_address="ola@example.no\r\n",
            subject="Svar på «Levering»\r\nX-Injected: ja",
            body_text="Hei!",
            next_attempt_at=utcnow() - dt.timedelta(minutes=1),
        )
        s.add(raw)
        s.commit()
        raw_id = raw.id
    report = _deliver(app)
    assert (report.sent, report.failed) == (2, 0)
    by_id = {int(m[OUTBOX_HEADER]): m for m in counting_smtp.messages}
    assert by_id[raw_id]["Subject"] == "Svar på «Levering» X-Injected: ja"
    assert by_id[raw_id]["X-Injected"] is None and by_id[queued]["Bcc"] is None
    assert by_id[raw_id]["To"] == "ola@example.no"


def test_cli_send_mail_goes_on_after_a_bad_mail(app: Flask, world: World, counting_smtp: CountingCollector) -> None:
    _queue(app, ["ærlig@example.no", "kari@example.no"])
    result = app.test_cli_runner().invoke(args=["portal", "send-mail"])
    assert result.exit_code == 0, result.output
    assert "Ferdig: 1 sendt, 1 feilet, 1 igjen i utboksen." in result.output
