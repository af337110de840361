"""Delivering the outbox (`portal send-mail`) to a real SMTP server on localhost (aiosmtpd).

At least once, never lost: a row is marked sent only after the server accepted it; a refused
mail and an unreachable server (connection refused) leave rows queued with a backoff; `--all`
retries those at once; two senders at once never send a row twice (PostgreSQL: SKIP LOCKED).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import socket
import threading
from collections.abc import Iterator
from email import policy
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.domain import mail as mail_delivery
from app.domain.mail import OUTBOX_HEADER, SuppressedSending, backoff, claim, deliver, queue_mail
from app.extensions import db
from app.models import MailOutbox, utcnow
from tests.factories import World
from tests.helpers import db_session, is_postgres

REFUSED = "avvist@example.no"


class Collector:
    """aiosmtpd handler: keeps every accepted message; refuses one recipient with 550."""

    def __init__(self, delay: float = 0.0) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.delay = delay
        self.lock = threading.Lock()

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any) -> str:
        if address == REFUSED:
            return "550 5.1.1 Mottakeren finnes ikke"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        message = email.message_from_bytes(envelope.content, policy=policy.default)
        with self.lock:
            self.messages.append(message)  # type: ignore[arg-type]
        return "250 Message accepted for delivery"

    def outbox_ids(self) -> list[int]:
        return [int(m[OUTBOX_HEADER]) for m in self.messages]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start(handler: Collector, port: int) -> Controller:
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    return controller


@pytest.fixture()
def smtp(app: Flask) -> Iterator[tuple[Collector, int]]:
    """A real SMTP server on a free port, and Flask-Mail pointed at it (sending not suppressed)."""
    handler, port = Collector(), _free_port()
    controller = _start(handler, port)
    with _mail_to(app, port):
        try:
            yield handler, port
        finally:
            controller.stop()


class _mail_to:
    """Point app.extensions["mail"] at 127.0.0.1:port with sending on (TESTING suppresses it)."""

    def __init__(self, app: Flask, port: int) -> None:
        self.state = app.extensions["mail"]
        self.port = port

    def __enter__(self) -> None:
        self.saved = (self.state.server, self.state.port, self.state.suppress, self.state.default_sender)
        self.state.server, self.state.port, self.state.suppress = "127.0.0.1", self.port, False
        self.state.default_sender = "Kundeportal <kundeservice@kundeportal.no>"

    def __exit__(self, *exc: Any) -> None:
        self.state.server, self.state.port, self.state.suppress, self.state.default_sender = self.saved


def _queue(app: Flask, *addresses: str) -> list[int]:
    with app.app_context(), db_session(app) as s:
        rows = [
            queue_mail(
                s,
                kind="test",
                to=to,
                subject=f"Ordrebekreftelse {i} – ærlig talt",
                text=f"Hei {to}!\n\nTakk for bestillingen. Æ, ø og å.",
                link="http://portal/orderview/show/1",
            )
            for i, to in enumerate(addresses)
        ]
        s.commit()
        return [r.id for r in rows]


def _rows(app: Flask) -> dict[int, MailOutbox]:
    with app.app_context(), db_session(app) as s:
        return {r.id: r for r in s.scalars(select(MailOutbox))}


def _deliver(app: Flask, **kwargs: Any) -> mail_delivery.DeliveryReport:
    with app.app_context(), db_session(app) as s:
        return deliver(s, **kwargs)


def _soon(seconds: float = 1) -> dt.datetime:
    return utcnow() + dt.timedelta(seconds=seconds)


# --- the happy path -------------------------------------------------------------------------


def test_backoff_doubles_up_to_six_hours() -> None:
    assert [backoff(n).total_seconds() / 60 for n in (1, 2, 3, 4)] == [1, 2, 4, 8]
    assert backoff(30) == dt.timedelta(hours=6) and backoff(0) == dt.timedelta(minutes=1)


def test_sends_plain_text_and_html_and_marks_rows_sent(app: Flask, world: World, smtp: tuple[Collector, int]) -> None:
    handler, _port = smtp
    ids = _queue(app, "kari@example.no", "ola@example.no")
    report = _deliver(app)
    assert (report.sent, report.failed, report.outage) == (2, 0, None)
    assert sorted(handler.outbox_ids()) == ids
    message = handler.messages[0]
    assert message["Subject"].startswith("Ordrebekreftelse") and "ærlig talt" in message["Subject"]
    # Flask-Mail: multipart/mixed around multipart/alternative (plain text + HTML).
    assert any(part.get_content_type() == "multipart/alternative" for part in message.walk())
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "Æ, ø og å" in text and "http://portal/orderview/show/1" in text
    assert '<a href="http://portal/orderview/show/1">' in html
    for row in _rows(app).values():
        assert row.sent_at is not None and row.attempts == 1 and row.last_error is None
    assert _deliver(app).sent == 0  # nothing twice


def test_the_wire_text_keeps_subject_recipient_and_bodies_exactly(
    app: Flask, world: World, smtp: tuple[Collector, int]
) -> None:
    """Mails are written with the compat32 policy: long Norwegian subjects fold and decode back
    exactly, every line ends in CRLF and stays under SMTP's 998 characters, each part has its own
    boundary, and the bodies arrive as written."""
    handler, _port = smtp
    subject = "Ordre 100123 fra Hansen Interiør AS er godkjent – æøå ÆØÅ – " * 4 + "slutt"
    text = "Hei!\n\n" + "Leveringsdato 12.12.2026, bestilt av Kari Åsheim. " * 40
    with app.app_context(), db_session(app) as s:
        queue_mail(s, kind="test", to="kari@example.no", subject=subject, text=text, link="http://portal/x")
        s.commit()
    assert _deliver(app).sent == 1
    message = handler.messages[0]
    assert message["Subject"] == subject and message["To"] == "kari@example.no"
    assert "Leveringsdato 12.12.2026, bestilt av Kari Åsheim." in message.get_body(("plain",)).get_content()
    raw = message.as_bytes(policy=policy.SMTP)
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))
    boundaries = [part.get_boundary() for part in message.walk() if part.is_multipart()]
    assert len(boundaries) == 2 and len(set(boundaries)) == 2


def test_a_subject_longer_than_the_outbox_holds_is_shortened(app: Flask, world: World) -> None:
    with app.app_context(), db_session(app) as s:
        row = queue_mail(s, kind="test", to="kari@example.no", subject="Svar på henvendelse: " + "ø" * 400, text="x")
        s.commit()
        assert len(row.subject) == 300 and row.subject.endswith("…")


def test_the_real_order_confirmation_links_to_the_order(app: Flask, world: World, smtp: tuple[Collector, int]) -> None:
    from app.domain.actors import Actor
    from app.domain.orders import LineInput, place_order

    with app.app_context(), db_session(app) as s:
        user = world.a.user
        order = place_order(
            s,
            actor=Actor(
                id=user.id,
                name=user.full_name,
                company_id=user.company_id,
                roles=frozenset({"CustomerUser"}),
                email=user.email,
            ),
            company_id=world.a.company.id,
            delivery_address_id=world.a.address.id,
            lines=[LineInput(product_id=world.product.id, quantity=1)],
        )
        s.commit()
    assert _deliver(app).sent == 1
    message = smtp[0].messages[0]
    assert message["To"] == "hansen.bruker@example.no" and message["Subject"] == f"Ordrebekreftelse {order.number}"
    link = f"/orderview/show/{order.id}"
    assert link in message.get_body(("plain",)).get_content() and link in message.get_body(("html",)).get_content()
    assert "Til godkjenning" in message.get_body(("plain",)).get_content()


# --- failures: one refused mail, an outage, recovery ----------------------------------------


def test_a_refused_mail_waits_with_backoff_while_the_others_go(
    app: Flask, world: World, smtp: tuple[Collector, int]
) -> None:
    handler, _port = smtp
    good, bad, other = _queue(app, "kari@example.no", REFUSED, "ola@example.no")
    now = _soon()
    report = _deliver(app, now=now)
    assert (report.sent, report.failed) == (2, 1) and report.errors[0][0] == bad
    rows = _rows(app)
    assert rows[good].sent_at and rows[other].sent_at and rows[bad].sent_at is None
    assert rows[bad].attempts == 1 and "550" in rows[bad].last_error
    assert rows[bad].next_attempt_at == now + dt.timedelta(minutes=1)
    # Waiting out its backoff: not tried again by a plain run, but by --all.
    assert _deliver(app, now=now + dt.timedelta(seconds=30)).failed == 0
    assert _deliver(app, now=now + dt.timedelta(seconds=30), include_waiting=True).failed == 1
    row = _rows(app)[bad]
    assert row.attempts == 2 and row.next_attempt_at == now + dt.timedelta(seconds=30) + dt.timedelta(minutes=2)
    assert _deliver(app, now=now + dt.timedelta(minutes=3)).failed == 1  # due again
    assert sorted(handler.outbox_ids()) == [good, other]


def test_smtp_outage_leaves_everything_queued_and_all_recovers(app: Flask, world: World) -> None:
    port = _free_port()  # nothing listens here: connection refused
    ids = _queue(app, "kari@example.no", "ola@example.no", "per@example.no")
    now = _soon()
    with _mail_to(app, port):
        report = _deliver(app, now=now, batch_size=2)
        assert report.sent == 0 and report.outage and "SMTP-serveren svarer ikke" in report.outage
        rows = _rows(app)
        assert all(r.sent_at is None for r in rows.values())
        # The run stopped at the first batch: the other row was not even tried.
        assert sorted(r.attempts for r in rows.values()) == [0, 1, 1]
        assert all("svarer ikke" in (r.last_error or "") for r in rows.values() if r.attempts)
        # The server comes back. A plain run leaves the waiting rows alone; --all sends them.
        handler = Collector()
        controller = _start(handler, port)
        try:
            assert _deliver(app, now=now).sent == 1  # the one never tried
            report = _deliver(app, now=now, include_waiting=True)
            assert (report.sent, report.outage) == (2, None)
        finally:
            controller.stop()
    assert sorted(handler.outbox_ids()) == ids
    assert all(r.sent_at is not None and r.last_error is None for r in _rows(app).values())


def test_cli_send_mail(app: Flask, world: World, smtp: tuple[Collector, int]) -> None:
    _queue(app, "kari@example.no", REFUSED)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["portal", "send-mail"])
    assert result.exit_code == 0, result.output
    assert "Ferdig: 1 sendt, 1 feilet, 1 igjen i utboksen." in result.output
    assert "550" in result.output  # the refused mail's error (on stderr)
    result = runner.invoke(args=["portal", "send-mail", "--all"])
    assert "Ferdig: 0 sendt, 1 feilet, 1 igjen i utboksen." in result.output


def test_cli_send_mail_reports_an_outage_with_exit_status_1(app: Flask, world: World) -> None:
    _queue(app, "kari@example.no")
    with _mail_to(app, _free_port()):
        result = app.test_cli_runner().invoke(args=["portal", "send-mail"])
    assert result.exit_code == 1
    assert "Ferdig: 0 sendt, 0 feilet, 1 igjen i utboksen." in result.output
    assert "Stoppet: SMTP-serveren svarer ikke" in result.output


def test_suppressed_sending_marks_nothing_sent(app: Flask, world: World) -> None:
    ids = _queue(app, "kari@example.no")
    assert app.extensions["mail"].suppress  # TESTING
    with pytest.raises(SuppressedSending):
        _deliver(app)
    assert _rows(app)[ids[0]].sent_at is None and _rows(app)[ids[0]].attempts == 0


# --- claiming: never twice at once, taken over after a crash ---------------------------------


def test_a_claimed_row_is_left_alone_until_its_lease_runs_out(app: Flask, world: World) -> None:
    ids = _queue(app, "kari@example.no", "ola@example.no")
    now = _soon()
    with app.app_context(), db_session(app) as first, db_session(app) as second:
        assert claim(first, now) == ids
        assert claim(second, now) == [] and claim(second, now, include_waiting=True) == []
        # The first sender died without a word: after the lease another takes the rows over.
        assert claim(second, now + mail_delivery.LEASE + dt.timedelta(seconds=1)) == ids
    assert [r.attempts for r in _rows(app).values()] == [2, 2]


def test_two_senders_at_once_never_send_a_row_twice(app: Flask, world: World) -> None:
    """PostgreSQL: SKIP LOCKED, the senders share the work. SQLite: the conditional UPDATE of each
    claim lets only one sender take a row (one writer at a time)."""

    handler, port = Collector(delay=0.005), _free_port()
    controller = _start(handler, port)
    ids = _queue(app, *[f"kunde{i}@example.no" for i in range(60)])
    barrier = threading.Barrier(3)
    reports: list[mail_delivery.DeliveryReport] = []
    errors: list[BaseException] = []

    def sender() -> None:
        try:
            with app.app_context(), Session(db.engine) as s:
                barrier.wait()
                reports.append(deliver(s, batch_size=4))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    try:
        with _mail_to(app, port):
            threads = [threading.Thread(target=sender) for _ in range(3)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
    finally:
        controller.stop()
    assert not errors, errors
    received = handler.outbox_ids()
    assert len(received) == len(set(received)) == 60 and sorted(received) == ids
    assert sum(r.sent for r in reports) == 60
    if is_postgres(app):  # they really worked side by side
        assert sum(1 for r in reports if r.sent) >= 2, [r.sent for r in reports]
    assert all(r.sent_at is not None and r.attempts == 1 for r in _rows(app).values())
