"""Henvendelser: inquiries and their message threads.

* A customer (admin or user) opens an inquiry for its own company with a subject and a first
  message; customer service may open one for any company (e.g. after a phone call).
* Customer service answers in the thread: the inquiry becomes `answered` and the customer who
  opened it gets a mail (outbox, same transaction) with a link to the inquiry. A customer's reply
  puts it back to `open`. Customer service closes it; a closed inquiry takes no more messages.
* Status changes are conditional UPDATEs: a message and a close racing each other cannot leave a
  message in a closed inquiry.
* Customer service's queue: open first, then answered, then closed; oldest first in each.
"""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from sqlalchemy import case, update
from sqlalchemy.orm import Session

from app.domain import notices
from app.domain.actors import Actor
from app.domain.errors import Forbidden, NotAllowed, ValidationFailed, get_visible
from app.domain.guarded import rows_changed
from app.domain.links import portal_link
from app.domain.mail import queue_template_mail
from app.domain.validation import InvalidValue, validate_choice
from app.models import (
    Company,
    Inquiry,
    InquiryChannel,
    InquiryMessage,
    InquiryStatus,
    PortalUser,
    utcnow,
)

MAX_SUBJECT = 200
MAX_MESSAGE = 5000
OPEN, ANSWERED, CLOSED = (InquiryStatus.open.value, InquiryStatus.answered.value, InquiryStatus.closed.value)


def may_write(actor: Actor) -> bool:
    """Customers write in their own company's threads; customer service in every thread."""
    return actor.is_customer or actor.is_customer_service


def queue_order() -> tuple[Any, ...]:
    """ORDER BY of customer service's queue: open, answered, closed; oldest first within each."""
    rank = case({OPEN: 0, ANSWERED: 1}, value=Inquiry.status, else_=2)
    return rank, Inquiry.created_at.asc(), Inquiry.id.asc()


def _text(value: Any, limit: int, missing: str) -> str:
    if value is not None and not isinstance(value, str):
        raise InvalidValue(_("Skriv tekst."))
    text = (value or "").strip()
    if not text:
        raise InvalidValue(missing)
    if len(text) > limit:
        raise InvalidValue(_("Høyst %(max)s tegn.", max=limit))
    return text


def get_inquiry(session: Session, inquiry_id: Any) -> Inquiry:
    """Through the tenant-scoped session: another company's inquiry does not exist (404)."""
    return get_visible(session, Inquiry, inquiry_id, _("Fant ikke henvendelsen."))


def open_inquiry(
    session: Session,
    actor: Actor,
    subject: Any,
    message: Any,
    company_id: int | None = None,
    channel: str = InquiryChannel.portal.value,
) -> Inquiry:
    """ "Ny henvendelse": the inquiry (status open) with its first message, or ValidationFailed."""
    if not may_write(actor):
        raise Forbidden(_("Du har ikke tilgang til å opprette henvendelser."))
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    for field, raw, limit, missing in (
        ("subject", subject, MAX_SUBJECT, _("Skriv et emne.")),
        ("message", message, MAX_MESSAGE, _("Skriv en melding.")),
    ):
        try:
            values[field] = _text(raw, limit, missing)
        except InvalidValue as exc:
            errors[field] = str(exc.message)
    if actor.is_customer:
        company_id = actor.company_id
        channel = InquiryChannel.portal.value  # a customer writes in the portal, whatever it sends
    else:
        if company_id is None or session.get(Company, company_id) is None:
            errors["company_id"] = _("Velg bedriften henvendelsen gjelder.")
        try:
            channel = validate_choice(channel, InquiryChannel)
        except InvalidValue as exc:
            errors["channel"] = str(exc.message)
    if errors:
        raise ValidationFailed(errors)
    now = utcnow()
    inquiry = Inquiry(
        company_id=company_id,
        subject=values["subject"],
        channel=channel,
        status=OPEN,
        created_by_id=actor.id,
        created_at=now,
    )
    inquiry.messages.append(
        InquiryMessage(
            company_id=company_id,
            author_id=actor.id,
            author_name=actor.name,
            from_supplier=not actor.is_customer,
            body=values["message"],
            created_at=now,
        )
    )
    session.add(inquiry)
    session.flush()
    return inquiry


def _move(session: Session, inquiry: Inquiry, to_status: str) -> bool:
    """Conditional UPDATE: only an inquiry that is not closed changes (False: it was closed)."""
    changed = rows_changed(
        session,
        update(Inquiry)
        .where(Inquiry.id == inquiry.id, Inquiry.status != CLOSED)
        .values(status=to_status)
        .execution_options(synchronize_session=False),
    )
    session.expire(inquiry, ["status"])
    return changed == 1


def add_message(session: Session, inquiry_id: Any, actor: Actor, body: Any) -> InquiryMessage:
    """A message in the thread. From customer service: status answered and a mail to the customer;
    from the customer: status open again. A closed inquiry is refused (NotAllowed)."""
    inquiry = get_inquiry(session, inquiry_id)
    if not may_write(actor):
        raise Forbidden(_("Du har ikke tilgang til å skrive i henvendelser."))
    try:
        text = _text(body, MAX_MESSAGE, _("Skriv en melding."))
    except InvalidValue as exc:
        raise ValidationFailed({"message": str(exc.message)}) from exc
    from_supplier = not actor.is_customer
    if not _move(session, inquiry, ANSWERED if from_supplier else OPEN):
        raise NotAllowed(_("Henvendelsen er lukket. Opprett en ny henvendelse."))
    message = InquiryMessage(
        inquiry_id=inquiry.id,
        company_id=inquiry.company_id,
        author_id=actor.id,
        author_name=actor.name,
        from_supplier=from_supplier,
        body=text,
        created_at=utcnow(),
    )
    session.add(message)
    if from_supplier:
        _answer_mail(session, inquiry, text)
    session.flush()
    return message


def _answer_mail(session: Session, inquiry: Inquiry, answer: str) -> None:
    """Tell the customer who opened the inquiry (a notice and, unless turned off, the mail); without
    such a user, mail the company's address, in Norwegian."""
    creator = session.get(PortalUser, inquiry.created_by_id) if inquiry.created_by_id else None
    context: dict[str, Any] = {"inquiry": inquiry, "answer": answer}
    if creator is not None and creator.company_id == inquiry.company_id:
        notices.announce(session, "inquiry_answered", [creator], ref=inquiry.id, subject=inquiry.subject, **context)
        return
    company = session.get(Company, inquiry.company_id)
    if company is None or not company.email:
        return
    queue_template_mail(
        session,
        kind="inquiry_answered",
        to=company.email,
        template="inquiry_answered",
        link=portal_link(f"/inquiryview/show/{inquiry.id}"),
        **context,
    )


def close_inquiry(session: Session, inquiry_id: Any, actor: Actor) -> Inquiry:
    """Customer service closes an inquiry (exactly once: a second close is told it is closed)."""
    inquiry = get_inquiry(session, inquiry_id)
    if not actor.is_customer_service:
        raise Forbidden(_("Bare kundeservice kan lukke henvendelser."))
    if not _move(session, inquiry, CLOSED):
        raise NotAllowed(_("Henvendelsen er allerede lukket."))
    return inquiry


def update_inquiry(session: Session, inquiry_id: Any, actor: Actor, changes: dict[str, Any]) -> Inquiry:
    """Customer service corrects an inquiry's subject, channel or status (e.g. reopens it)."""
    inquiry = get_inquiry(session, inquiry_id)
    if not actor.is_customer_service:
        raise Forbidden(_("Bare kundeservice kan endre henvendelser."))
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    for field, raw in changes.items():
        try:
            if field == "subject":
                values[field] = _text(raw, MAX_SUBJECT, _("Skriv et emne."))
            elif field == "channel":
                values[field] = validate_choice(raw, InquiryChannel)
            elif field == "status":
                values[field] = validate_choice(raw, InquiryStatus)
            else:
                errors[field] = _("Ukjent felt.")
        except InvalidValue as exc:
            errors[field] = str(exc.message)
    if errors:
        raise ValidationFailed(errors)
    for field, value in values.items():
        setattr(inquiry, field, value)
    session.flush()
    return inquiry
