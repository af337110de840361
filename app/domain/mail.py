"""Mail: queue a mail in the outbox (in the caller's transaction) and deliver the outbox with retries."""

from __future__ import annotations

import contextlib
import datetime as dt
import email.charset
import email.policy
import re
import secrets
import smtplib
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from email.header import Header
from email.mime.text import MIMEText
from html import escape
from typing import Any

from flask import current_app
from flask_babel import force_locale
from flask_mail import BadHeaderError, Connection, Message
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.models import MailOutbox, utcnow


def header_text(value: str) -> str:
    """A value that becomes a mail header (subject, address) on one line: CR/LF and the
    whitespace around them become one space, so no text can add a header of its own."""
    return _LINE_BREAKS.sub(" ", value).strip()


_LINE_BREAKS = re.compile(r"\s*[\r\n]+\s*")
SUBJECT_MAX = 300  # the outbox column; a subject built from user text (an inquiry's) may be longer


def _fit(value: str, limit: int) -> str:
    return value if len(value) <= limit else value[: limit - 1].rstrip() + "…"


def mail_row(
    *, kind: str, to: str, subject: str, text: str, link: str | None = None, dedupe_key: str | None = None
) -> dict[str, Any]:
    """The outbox row of one mail (plain text and a simple HTML version with the link): queue_mail's,
    and the standing-order job's bulk INSERT."""
    body_text = text if not link else f"{text}\n\n{link}"
    paragraphs = "".join(f"<p>{escape(p)}</p>" for p in text.split("\n\n"))
    body_html = paragraphs + (f'<p><a href="{escape(link)}">{escape(link)}</a></p>' if link else "")
    return {
        "kind": kind,
        "to_address": header_text(to),
        "subject": _fit(header_text(subject), SUBJECT_MAX),
        "body_text": body_text,
        "body_html": body_html,
        "dedupe_key": dedupe_key,
    }


def queue_mail(
    session: Session,
    *,
    kind: str,
    to: str,
    subject: str,
    text: str,
    link: str | None = None,
    dedupe_key: str | None = None,
) -> MailOutbox:
    """Add one mail to the outbox (plain text and a simple HTML version with the link)."""
    mail = MailOutbox(**mail_row(kind=kind, to=to, subject=subject, text=text, link=link, dedupe_key=dedupe_key))
    session.add(mail)
    return mail


def render_template_mail(template: str, link: str | None = None, **context: Any) -> tuple[str, str]:
    """(subject, text) of app/templates/mail/<template>.txt: its first line is the subject, the rest
    the text (paragraphs apart by a blank line)."""
    # Mail is written in bokmål whatever language the sender's page is in (amounts, dates too).
    with force_locale("nb"):
        rendered = current_app.jinja_env.get_template(f"mail/{template}.txt").render(link=link, **context)
    subject, _newline, text = rendered.strip().partition("\n")
    return subject.strip(), text.strip()


def queue_template_mail(
    session: Session,
    *,
    kind: str,
    to: str,
    template: str,
    link: str | None = None,
    dedupe_key: str | None = None,
    **context: Any,
) -> MailOutbox:
    """Render app/templates/mail/<template>.txt and queue it (render_template_mail); `link` is added
    below the text."""
    subject, text = render_template_mail(template, link=link, **context)
    return queue_mail(session, kind=kind, to=to, subject=subject, text=text, link=link, dedupe_key=dedupe_key)


def _mark(name: str) -> str:
    return f"\ue000{name}\ue000"  # a private-use character: in no template and no value, not white space


class Stencils:
    """Many mails of a few templates that differ in some plain values (an order's number, its link):
    each template is rendered once per `key` with a marker in place of each such value, and a mail
    is that text with the markers replaced by its values. The result is what rendering with the
    values gives, for values a template prints as they are (no filter on them): the standing-order
    job's confirmation mails, without rendering a template and formatting its amounts per order."""

    def __init__(self) -> None:
        self._renders: dict[tuple[Any, ...], tuple[str, str]] = {}

    def row(
        self,
        key: Any,
        *,
        kind: str,
        to: str,
        template: str,
        link: str | None,
        values: dict[str, str],
        context: Callable[[dict[str, str]], dict[str, Any]],
        dedupe_key: str | None = None,
    ) -> dict[str, Any]:
        """The outbox row (mail_row) of `template` rendered with `context(marks)`, the context with
        `marks[name]` where `values[name]` goes; `key`: what else the render depends on."""
        cache_key = (template, link is not None, key)
        rendered = self._renders.get(cache_key)
        if rendered is None:
            marks = {name: _mark(name) for name in values}
            rendered = render_template_mail(template, link=_mark("link") if link else None, **context(marks))
            self._renders[cache_key] = rendered
        subject, text = rendered
        for name, value in (*values.items(), ("link", link or "")):
            subject, text = subject.replace(_mark(name), value), text.replace(_mark(name), value)
        return mail_row(kind=kind, to=to, subject=subject, text=text, link=link, dedupe_key=dedupe_key)


LEASE = dt.timedelta(minutes=10)
BACKOFF_BASE = dt.timedelta(minutes=1)
BACKOFF_MAX = dt.timedelta(hours=6)
BATCH_SIZE = 200  # mails claimed at once and sent over one SMTP connection
SENDERS = 3  # batches sent at once on PostgreSQL (while one waits for the SMTP server, another writes)
SMTP_TIMEOUT = 30  # seconds; a server that accepts the connection and then hangs must not hang us
OUTBOX_HEADER = "X-Kundeportal-Outbox-Id"  # lets a receiver recognise a repeated delivery


def backoff(attempts: int) -> dt.timedelta:
    """Wait after the `attempts`-th failed attempt: 1, 2, 4, 8 ... minutes, at most 6 hours."""
    return min(BACKOFF_BASE * (2 ** max(attempts - 1, 0)), BACKOFF_MAX)


@dataclass
class DeliveryReport:
    sent: int = 0
    failed: int = 0
    outage: str | None = None  # why the SMTP server could not be reached (the run stopped)
    errors: list[tuple[int, str]] = field(default_factory=list)  # (outbox id, error)

    @property
    def ok(self) -> bool:
        return self.outage is None and not self.failed


class SmtpUnavailable(Exception):
    """The SMTP server cannot be reached or dropped the connection: nothing more goes out now."""


class SuppressedSending(RuntimeError):
    """MAIL_SUPPRESS_SEND is on: rows must not be marked sent when nothing was sent."""


# --- claiming -------------------------------------------------------------------------------


def _due(now: dt.datetime, include_waiting: bool) -> Any:
    condition = MailOutbox.next_attempt_at <= now
    if include_waiting:
        # Rows in backoff carry their last error; rows a sender holds right now do not.
        condition = condition | MailOutbox.last_error.is_not(None)
    return MailOutbox.sent_at.is_(None) & condition


@dataclass(frozen=True)
class Claimed:
    """A claimed outbox row: what sending it needs."""

    id: int
    to_address: str
    subject: str
    body_text: str
    body_html: str | None
    attempts: int


def claim_rows(
    session: Session, now: dt.datetime, include_waiting: bool = False, after_id: int = 0, limit: int = BATCH_SIZE
) -> list[Claimed]:
    """Claim up to `limit` due rows with an id above `after_id` in one statement and a transaction
    of its own: the lease (next attempt after LEASE) keeps other senders off them.

    PostgreSQL: the rows are picked FOR UPDATE SKIP LOCKED, so senders on several hosts share the
    work and never wait for each other; SQLite has one writer at a time, and the UPDATE checks
    again that each row is still due. The session must have no transaction of its own pending.
    """
    session.rollback()
    due = _due(now, include_waiting) & (MailOutbox.id > after_id)
    # A CTE: PostgreSQL runs it once (a sub-SELECT in the WHERE may run again per row and lock more).
    picked = (
        select(MailOutbox.id)
        .where(due)
        .order_by(MailOutbox.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .cte("picked")
    )
    rows = session.execute(
        update(MailOutbox)
        .where(MailOutbox.id.in_(select(picked.c.id)), due)
        .values(next_attempt_at=now + LEASE, attempts=MailOutbox.attempts + 1, last_error=None)
        .returning(
            MailOutbox.id,
            MailOutbox.to_address,
            MailOutbox.subject,
            MailOutbox.body_text,
            MailOutbox.body_html,
            MailOutbox.attempts,
        )
        .execution_options(synchronize_session=False)
    ).all()
    session.commit()
    return sorted((Claimed(*row) for row in rows), key=lambda c: c.id)


def claim(
    session: Session, now: dt.datetime, include_waiting: bool = False, after_id: int = 0, limit: int = BATCH_SIZE
) -> list[int]:
    """The ids of claim_rows (ascending)."""
    return [c.id for c in claim_rows(session, now, include_waiting, after_id, limit)]


def _mark_sent(session: Session, mail_ids: list[int], now: dt.datetime) -> None:
    """Sent, in one statement for the batch."""
    if mail_ids:
        session.execute(
            update(MailOutbox)
            .where(MailOutbox.id.in_(mail_ids), MailOutbox.sent_at.is_(None))
            .values(sent_at=now, last_error=None)
            .execution_options(synchronize_session=False)
        )
    session.commit()


def _mark_failed(session: Session, failures: list[tuple[Claimed, str]], now: dt.datetime) -> None:
    """Back to waiting: the next attempt after a backoff that grows with the attempts so far (one
    statement per error and number of attempts; usually one for the batch)."""
    groups: dict[tuple[str, int], list[int]] = {}
    for row, error in failures:
        groups.setdefault((error[:2000], row.attempts), []).append(row.id)
    for (error, attempts), mail_ids in groups.items():
        session.execute(
            update(MailOutbox)
            .where(MailOutbox.id.in_(mail_ids), MailOutbox.sent_at.is_(None))
            .values(last_error=error, next_attempt_at=now + backoff(attempts))
            .execution_options(synchronize_session=False)
        )
    session.commit()


# --- sending --------------------------------------------------------------------------------


class _TimedConnection(Connection):
    """Flask-Mail's connection with a socket timeout (its own has none)."""

    def configure_host(self) -> smtplib.SMTP:
        state = self.mail
        smtp_class = smtplib.SMTP_SSL if state.use_ssl else smtplib.SMTP
        host = smtp_class(state.server, state.port, timeout=SMTP_TIMEOUT)
        host.set_debuglevel(int(state.debug))
        if state.use_tls:
            host.starttls()
        if state.username and state.password:
            host.login(state.username, state.password)
        return host


# Written with the compat32 policy (CRLF) and boundaries chosen up front: Flask-Mail's SMTP policy
# parses every header again while writing and compiles a regular expression per random boundary,
# which made building the MIME text most of the cost of a mail. Same structure, headers and bodies.
_WIRE = email.policy.compat32.clone(linesep="\r\n")


_LONG_LINES = email.charset.Charset("utf-8")
_LONG_LINES.body_encoding = email.charset.QP


class _WireMessage(Message):
    def _mimetext(self, text: str | None, subtype: str = "plain") -> Any:
        # 8bit as Flask-Mail writes it, but quoted-printable when a line is longer than SMTP
        # allows (998): a pasted paragraph in an inquiry is one line.
        if text and any(len(line) > 900 for line in text.splitlines()):
            return MIMEText(text, _subtype=subtype, _charset=_LONG_LINES)  # type: ignore[arg-type]
        return super()._mimetext(text, subtype)

    def _message(self) -> Any:
        msg = super()._message()
        msg.policy = _WIRE
        if self.subject:
            del msg["Subject"]
            msg["Subject"] = Header(self.subject, "utf-8")  # type: ignore[assignment]  # compat32 writes a Header
        token = secrets.token_hex(16)
        for i, part in enumerate(p for p in msg.walk() if p.is_multipart()):
            part.set_boundary(f"=={token}-{i}==")
        return msg


def _message(row: Claimed) -> Message:
    return _WireMessage(
        subject=header_text(row.subject),  # rows queued before CR/LF were stripped on the way in
        recipients=[header_text(row.to_address)],
        body=row.body_text,
        html=row.body_html or None,
        extra_headers={OUTBOX_HEADER: str(row.id)},
    )


def _describe(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = "; ".join(
            f"{addr}: {code} {msg.decode(errors='replace') if isinstance(msg, bytes) else msg}"
            for addr, (code, msg) in exc.recipients.items()
        )
        return f"Mottaker avvist: {codes}"
    if isinstance(exc, smtplib.SMTPResponseException):
        message = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else exc.smtp_error
        return f"SMTP {exc.smtp_code}: {message}"
    if isinstance(exc, BadHeaderError):
        return "Ugyldig e-posthode (linjeskift i emne eller adresse)"
    return f"{type(exc).__name__}: {exc}"


_OUTAGE = (
    smtplib.SMTPConnectError,
    smtplib.SMTPServerDisconnected,
    smtplib.SMTPHeloError,
    smtplib.SMTPAuthenticationError,
    smtplib.SMTPNotSupportedError,
    OSError,
)
# The server refused this one mail and is fine: the others go on.
_REFUSED = (smtplib.SMTPRecipientsRefused, smtplib.SMTPDataError, smtplib.SMTPSenderRefused)


class _Link:
    """One SMTP connection for a batch, opened again when a bad mail left it in an unknown state."""

    def __init__(self, mail_state: Any) -> None:
        self.mail_state = mail_state
        self.connection: _TimedConnection | None = None

    def open(self) -> _TimedConnection:
        if self.connection is None:
            connection = _TimedConnection(self.mail_state)
            connection.__enter__()
            self.connection = connection
        return self.connection

    def reset(self) -> None:
        """After a mail failed in an unexpected way: RSET, or a new connection if that fails."""
        host = self.connection.host if self.connection is not None else None
        try:
            if host is not None:
                host.rset()
                return
        except _OUTAGE + (socket.timeout, smtplib.SMTPException):
            pass
        self.drop()

    def drop(self) -> None:
        if self.connection is not None and self.connection.host is not None:
            with contextlib.suppress(OSError):
                self.connection.host.close()
        self.connection = None

    def close(self) -> None:
        """QUIT; a server that fails to say goodbye changes nothing about what was sent."""
        if self.connection is not None:
            try:
                self.connection.__exit__(None, None, None)  # type: ignore[arg-type]
            except _OUTAGE + (socket.timeout, smtplib.SMTPException):
                self.drop()
            self.connection = None


def _send_batch(
    session: Session,
    rows: list[Claimed],
    report: DeliveryReport,
    clock: Callable[[], dt.datetime],
    lock: threading.Lock | None = None,
) -> None:
    """Send claimed rows over one connection and mark them in bulk. A mail the server refuses, or
    that cannot be written at all, fails alone; the others go on. Raises SmtpUnavailable (after
    marking every row) when the server cannot be reached or drops the connection."""
    mail_state = current_app.extensions["mail"]
    link = _Link(mail_state)
    sent: list[int] = []
    failed: list[tuple[Claimed, str]] = []
    outage: str | None = None
    try:
        for i, row in enumerate(rows):
            try:
                link.open().send(_message(row))
            except _REFUSED as exc:
                failed.append((row, _describe(exc)))
                continue
            except _OUTAGE + (socket.timeout,) as exc:
                outage = f"SMTP-serveren svarer ikke ({mail_state.server}:{mail_state.port}): {_describe(exc)}"
                failed += [(r, outage) for r in rows[i:]]
                break
            except Exception as exc:  # noqa: BLE001 - one bad mail must not stop the run
                failed.append((row, _describe(exc)))
                link.reset()
                continue
            sent.append(row.id)
    finally:
        link.close() if outage is None else link.drop()
        now = clock()
        _mark_sent(session, sent, now)
        _mark_failed(session, failed, now)
    with lock or contextlib.nullcontext():
        report.sent += len(sent)
        report.failed += sum(1 for _row, error in failed if error != outage)
        report.errors += [(row.id, error) for row, error in failed if error != outage]
    if outage is not None:
        raise SmtpUnavailable(outage)


def _deliver_from(
    session: Session,
    include_waiting: bool,
    clock: Callable[[], dt.datetime],
    batch_size: int,
    report: DeliveryReport,
    progress: Callable[[DeliveryReport], None] | None,
    lock: threading.Lock,
    stop: threading.Event,
    batches: int | None = None,
    after_id: int = 0,
) -> int:
    """One sender: claim a batch (ids above `after_id`), send it, until nothing is due, `stop` is
    set (an outage) or `batches` batches are done. Returns the last id it claimed."""
    while not stop.is_set() and batches != 0:
        rows = claim_rows(session, clock(), include_waiting, after_id=after_id, limit=batch_size)
        if not rows:
            break
        after_id = rows[-1].id
        batches = None if batches is None else batches - 1
        try:
            _send_batch(session, rows, report, clock, lock)
        except SmtpUnavailable as exc:
            with lock:
                report.outage = report.outage or str(exc)
            stop.set()
        finally:
            if progress is not None:
                with lock:
                    progress(report)
    return after_id


def deliver(
    session: Session,
    include_waiting: bool = False,
    now: dt.datetime | None = None,
    batch_size: int = BATCH_SIZE,
    progress: Callable[[DeliveryReport], None] | None = None,
    senders: int | None = None,
) -> DeliveryReport:
    """Send every due row of the outbox once (each row at most once per run). Needs an app context.

    `senders` batches go out at once, each over its own SMTP connection and database session
    (default: SENDERS on PostgreSQL, where SKIP LOCKED lets them share the outbox; one on SQLite,
    and one with `include_waiting`, which would let a second sender take up a row the first has
    just failed). The others start once the first batch went out, so an outage stops the run
    at its first batch. `now` fixes the clock (tests); otherwise the real time is read for every step.
    """
    if current_app.extensions["mail"].suppress:
        raise SuppressedSending("MAIL_SUPPRESS_SEND er på: ingen e-post sendes, og utboksen blir stående.")
    clock: Callable[[], dt.datetime] = (lambda: now) if now is not None else utcnow
    engine = session.get_bind()
    if senders is None:
        senders = SENDERS if engine.dialect.name == "postgresql" and not include_waiting else 1
    report, lock, stop = DeliveryReport(), threading.Lock(), threading.Event()
    after_id = _deliver_from(session, include_waiting, clock, batch_size, report, progress, lock, stop, batches=1)
    if senders > 1 and not stop.is_set() and report.sent + report.failed:
        app = current_app._get_current_object()  # type: ignore[attr-defined]

        def sender() -> None:
            with app.app_context(), Session(engine) as own:
                _deliver_from(own, include_waiting, clock, batch_size, report, progress, lock, stop)

        threads = [threading.Thread(target=sender, name=f"send-mail-{i}") for i in range(1, senders)]
        for thread in threads:
            thread.start()
        _deliver_from(session, include_waiting, clock, batch_size, report, progress, lock, stop, after_id=after_id)
        for thread in threads:
            thread.join()
    else:
        _deliver_from(session, include_waiting, clock, batch_size, report, progress, lock, stop, after_id=after_id)
    return report


def pending_count(session: Session) -> int:
    from sqlalchemy import func

    return int(session.scalar(select(func.count()).select_from(MailOutbox).where(MailOutbox.sent_at.is_(None))) or 0)
