"""Mail: queue a mail in the outbox (in the caller's transaction) and deliver the outbox with retries."""

from __future__ import annotations

import datetime as dt
import smtplib
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from html import escape
from typing import Any

from flask import current_app
from flask_babel import force_locale
from flask_mail import Connection, Message
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.domain.statements import rows_changed
from app.models import MailOutbox, utcnow


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
    body_text = text if not link else f"{text}\n\n{link}"
    paragraphs = "".join(f"<p>{escape(p)}</p>" for p in text.split("\n\n"))
    body_html = paragraphs + (f'<p><a href="{escape(link)}">{escape(link)}</a></p>' if link else "")
    mail = MailOutbox(
        kind=kind, to_address=to, subject=subject, body_text=body_text, body_html=body_html, dedupe_key=dedupe_key
    )
    session.add(mail)
    return mail


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
    """Render app/templates/mail/<template>.txt and queue it. The template's first line is the
    subject, the rest the text (paragraphs apart by a blank line); `link` is added below it."""
    # Mail is written in bokmål whatever language the sender's page is in (amounts, dates too).
    with force_locale("nb"):
        rendered = current_app.jinja_env.get_template(f"mail/{template}.txt").render(link=link, **context)
    subject, _newline, text = rendered.strip().partition("\n")
    return queue_mail(
        session, kind=kind, to=to, subject=subject.strip(), text=text.strip(), link=link, dedupe_key=dedupe_key
    )


LEASE = dt.timedelta(minutes=10)
BACKOFF_BASE = dt.timedelta(minutes=1)
BACKOFF_MAX = dt.timedelta(hours=6)
BATCH_SIZE = 50
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


def claim(
    session: Session, now: dt.datetime, include_waiting: bool = False, after_id: int = 0, limit: int = BATCH_SIZE
) -> list[int]:
    """Claim up to `limit` due rows with an id above `after_id`, in a transaction of its own.

    Returns the claimed ids (ascending). The session must have no transaction of its own pending.
    """
    session.rollback()
    due = _due(now, include_waiting) & (MailOutbox.id > after_id)
    lease = {"next_attempt_at": now + LEASE, "attempts": MailOutbox.attempts + 1, "last_error": None}
    if session.get_bind().dialect.name == "postgresql":
        ids = list(
            session.scalars(
                select(MailOutbox.id).where(due).order_by(MailOutbox.id).limit(limit).with_for_update(skip_locked=True)
            )
        )
        if ids:
            session.execute(
                update(MailOutbox)
                .where(MailOutbox.id.in_(ids))
                .values(**lease)
                .execution_options(synchronize_session=False)
            )
    else:
        candidates = list(session.scalars(select(MailOutbox.id).where(due).order_by(MailOutbox.id).limit(limit)))
        ids = []
        for mail_id in candidates:
            # Compare-and-set: only the sender whose UPDATE still finds the row due gets it.
            changed = rows_changed(
                session,
                update(MailOutbox)
                .where(MailOutbox.id == mail_id, due)
                .values(**lease)
                .execution_options(synchronize_session=False),
            )
            if changed == 1:
                ids.append(mail_id)
    session.commit()
    return ids


def _mark_sent(session: Session, mail_id: int, now: dt.datetime) -> None:
    session.execute(
        update(MailOutbox)
        .where(MailOutbox.id == mail_id, MailOutbox.sent_at.is_(None))
        .values(sent_at=now, last_error=None)
        .execution_options(synchronize_session=False)
    )
    session.commit()


def _mark_failed(session: Session, mail_ids: list[int], error: str, now: dt.datetime) -> None:
    """Back to waiting: the next attempt after a backoff that grows with the attempts so far."""
    for row in session.execute(select(MailOutbox.id, MailOutbox.attempts).where(MailOutbox.id.in_(mail_ids))):
        session.execute(
            update(MailOutbox)
            .where(MailOutbox.id == row.id, MailOutbox.sent_at.is_(None))
            .values(last_error=error[:2000], next_attempt_at=now + backoff(row.attempts))
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


def _message(row: MailOutbox) -> Message:
    return Message(
        subject=row.subject,
        recipients=[row.to_address],
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
    return f"{type(exc).__name__}: {exc}"


_OUTAGE = (
    smtplib.SMTPConnectError,
    smtplib.SMTPServerDisconnected,
    smtplib.SMTPHeloError,
    smtplib.SMTPAuthenticationError,
    smtplib.SMTPNotSupportedError,
    OSError,
)


def _send_batch(session: Session, ids: list[int], report: DeliveryReport, clock: Callable[[], dt.datetime]) -> None:
    """Send claimed rows over one connection. Raises SmtpUnavailable after marking the unsent rows."""
    rows = {r.id: r for r in session.scalars(select(MailOutbox).where(MailOutbox.id.in_(ids)))}
    session.commit()  # read; no transaction stays open while we talk to the SMTP server
    pending = [i for i in ids if i in rows]
    mail_state = current_app.extensions["mail"]
    try:
        with _TimedConnection(mail_state) as connection:
            while pending:
                mail_id = pending[0]
                try:
                    connection.send(_message(rows[mail_id]))
                except (smtplib.SMTPRecipientsRefused, smtplib.SMTPDataError, smtplib.SMTPSenderRefused) as exc:
                    # This mail was refused, the server is fine: the others go on.
                    pending.pop(0)
                    report.failed += 1
                    report.errors.append((mail_id, _describe(exc)))
                    _mark_failed(session, [mail_id], _describe(exc), clock())
                    continue
                pending.pop(0)
                _mark_sent(session, mail_id, clock())
                report.sent += 1
    except _OUTAGE + (socket.timeout,) as exc:
        if not pending:  # everything went out; only saying goodbye (QUIT) failed
            return
        error = f"SMTP-serveren svarer ikke ({mail_state.server}:{mail_state.port}): {_describe(exc)}"
        _mark_failed(session, pending, error, clock())
        raise SmtpUnavailable(error) from exc


def deliver(
    session: Session,
    include_waiting: bool = False,
    now: dt.datetime | None = None,
    batch_size: int = BATCH_SIZE,
    progress: Callable[[DeliveryReport], None] | None = None,
) -> DeliveryReport:
    """Send every due row of the outbox once (each row at most once per run). Needs an app context.

    `now` fixes the clock (tests); otherwise the real time is read for every step.
    """
    if current_app.extensions["mail"].suppress:
        raise SuppressedSending("MAIL_SUPPRESS_SEND er på: ingen e-post sendes, og utboksen blir stående.")
    clock: Callable[[], dt.datetime] = (lambda: now) if now is not None else utcnow
    report = DeliveryReport()
    after_id = 0
    while True:
        ids = claim(session, clock(), include_waiting, after_id=after_id, limit=batch_size)
        if not ids:
            break
        after_id = ids[-1]
        try:
            _send_batch(session, ids, report, clock)
        except SmtpUnavailable as exc:
            report.outage = str(exc)
            break
        finally:
            if progress is not None:
                progress(report)
    return report


def pending_count(session: Session) -> int:
    from sqlalchemy import func

    return int(session.scalar(select(func.count()).select_from(MailOutbox).where(MailOutbox.sent_at.is_(None))) or 0)
