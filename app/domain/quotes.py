"""Tilbud: created by a seller for a dealer or by the dealer's own users; "Bestill" makes an order.

States: draft → sent → accepted (became an order) / declined / expired. A quote whose valid-until
date (Europe/Oslo) has passed counts as expired even before a job marks it.

A quote may change (header and lines) only while it is a draft or sent (`EDITABLE`, the stored
status: a sent quote past its date may still get a later valid-until date). Its lines carry the
product's VAT rate and the catalogue price, unless a seller gives a special price.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app.domain.actors import Actor
from app.domain.catalogue import LineInput, check_lines
from app.domain.companies import delivery_address_error
from app.domain.errors import (
    AlreadyHandled,
    Forbidden,
    NotAllowed,
    NotFound,
    ValidationFailed,
    get_visible,
)
from app.domain.formatting import format_date, oslo_today
from app.domain.guarded import rows_changed
from app.domain.lifecycle import assign_number, number_from_id
from app.domain.orders import place_order
from app.models import (
    Company,
    Order,
    OrderChannel,
    Product,
    Quote,
    QuoteLine,
    QuoteStatus,
)
from app.roles import CUSTOMER_ROLES, SELLERS

QUOTE_AUTHORS = (*SELLERS, *CUSTOMER_ROLES)
# The stored statuses in which a quote may still change, be sent on, ordered or declined.
EDITABLE = (QuoteStatus.draft.value, QuoteStatus.sent.value)
# What a header change may touch (pages and API alike).
HEADER_FIELDS = ("end_customer_ref", "valid_until", "delivery_address_id", "note")

# Quote numbers: T + (300000 + id), e.g. T300042.
NUMBER_PREFIX = "T"
NUMBER_BASE = 300000

LOCKED = _l("Bare utkast og sendte tilbud kan endres.")
NOT_FOUND = _l("Fant ikke tilbudet.")
LINE_NOT_FOUND = _l("Fant ikke tilbudslinjen.")
CHANGED_MEANWHILE = _l("Tilbudet ble endret av noen andre i mellomtiden.")


# --- status ---------------------------------------------------------------------------------


def effective_status(quote: Quote, today: dt.date | None = None) -> str:
    if quote.status in EDITABLE and quote.valid_until < (today or oslo_today()):
        return QuoteStatus.expired.value
    return quote.status


def may_change(quote: Quote) -> bool:
    """May the header and the lines still change (the stored status: draft or sent)?"""
    return quote.status in EDITABLE


def require_changeable(quote: Quote) -> None:
    if not may_change(quote):
        raise NotAllowed(LOCKED)


def may_send(quote: Quote, today: dt.date | None = None) -> bool:
    return effective_status(quote, today) == QuoteStatus.draft.value


def is_open(quote: Quote, today: dt.date | None = None) -> bool:
    """May the quote be ordered ("Bestill") or declined now (draft or sent, not past its date)?"""
    return effective_status(quote, today) in EDITABLE


def quote_number(quote_id: int) -> str:
    """The number of the quote with this id (demo and bench data write it without the ORM)."""
    return number_from_id(quote_id, NUMBER_PREFIX, NUMBER_BASE)


def number_quote(session: Session, quote: Quote) -> None:
    """Give a new quote its number from its id (flushes once; no read-then-write race)."""
    assign_number(quote, session, prefix=NUMBER_PREFIX, base=NUMBER_BASE)


# --- reading ----------------------------------------------------------------------------------


def get_quote(session: Session, quote_id: Any) -> Quote:
    return get_visible(session, Quote, quote_id, NOT_FOUND)


def get_quote_line(session: Session, line_id: Any) -> QuoteLine:
    return get_visible(session, QuoteLine, line_id, LINE_NOT_FOUND)


# --- lines --------------------------------------------------------------------------------------


def unit_price(actor: Actor, product: Product, special: Decimal | None) -> Decimal:
    """The catalogue price, unless a seller gives a special one (dealers never set prices)."""
    return special if special is not None and actor.is_seller else product.unit_price


def _line_values(actor: Actor, product: Product, line: LineInput) -> dict[str, Any]:
    return {
        "product_id": product.id,
        "quantity": line.quantity,
        "vat_rate": product.vat_rate,
        "unit_price": unit_price(actor, product, line.unit_price),
        "width": line.width,
        "depth": line.depth,
        "fabric": line.fabric or None,
        "colour": line.colour or None,
    }


def _checked_lines(
    session: Session, actor: Actor, lines: Sequence[LineInput]
) -> tuple[dict[str, str], list[dict[str, Any]]]:
    """The line check (app/domain/catalogue.py) and the price rule: errors keyed
    `lines[<i>].<field>`, and the values to store for each line that names a product."""
    errors, products = check_lines(session, lines)
    values: list[dict[str, Any]] = []
    for i, ln in enumerate(lines):
        product = products.get(ln.product_id) if ln.product_id else None
        if product is None or f"lines[{i}].product_id" in errors:
            continue
        line = _line_values(actor, product, ln)
        if line["unit_price"] is not None and line["unit_price"] < 0:
            errors[f"lines[{i}].unit_price"] = _("Prisen kan ikke være negativ.")
        values.append(line)
    return errors, values


def _one_line(session: Session, actor: Actor, line: LineInput) -> dict[str, Any]:
    """One line's values; a refusal names the line's fields (`quantity`, `width`, ...)."""
    errors, values = _checked_lines(session, actor, [line])
    if errors:
        raise ValidationFailed({key.removeprefix("lines[0]."): message for key, message in errors.items()})
    return values[0]


def next_line_no(session: Session, quote: Quote) -> int:
    last = session.scalar(select(func.max(QuoteLine.line_no)).where(QuoteLine.quote_id == quote.id))
    return (last or 0) + 1


def add_quote_line(session: Session, quote_id: Any, actor: Actor, line: LineInput) -> QuoteLine:
    """A new last line of a draft or sent quote."""
    quote = get_quote(session, quote_id)
    require_changeable(quote)
    row = QuoteLine(
        company_id=quote.company_id, line_no=next_line_no(session, quote), **_one_line(session, actor, line)
    )
    quote.lines.append(row)
    session.flush()
    return row


def update_quote_line(session: Session, line_id: Any, actor: Actor, line: LineInput) -> QuoteLine:
    """Change a line (product, quantity, configuration, a seller's price); it keeps its number."""
    row = get_quote_line(session, line_id)
    require_changeable(row.quote)
    for name, value in _one_line(session, actor, line).items():
        setattr(row, name, value)
    session.flush()
    return row


def remove_quote_line(session: Session, line_id: Any, actor: Actor) -> Quote:
    row = get_quote_line(session, line_id)
    quote = row.quote
    require_changeable(quote)
    quote.lines.remove(row)
    session.flush()
    return quote


# --- the quote ------------------------------------------------------------------------------


def _valid_until_error(valid_until: dt.date | None, today: dt.date) -> str | None:
    if valid_until is None:
        return _("Gyldig til må fylles ut.")
    if valid_until < today:
        return _("Gyldig til kan ikke være tilbake i tid.")
    return None


def create_quote(
    session: Session,
    *,
    actor: Actor,
    company_id: int,
    valid_until: dt.date | None,
    lines: Sequence[LineInput],
    end_customer_ref: str | None = None,
    delivery_address_id: int | None = None,
    note: str | None = None,
    today: dt.date | None = None,
) -> Quote:
    """The one way a quote comes to be: a draft with its lines, priced and numbered here."""
    if not actor.has_role(*QUOTE_AUTHORS):
        raise Forbidden(_("Du har ikke tilgang til å lage tilbud."))
    if actor.is_customer and actor.company_id != company_id:
        raise NotFound(_("Fant ikke kundekontoen."))
    errors: dict[str, str] = {}
    company = session.get(Company, company_id)
    if company is None:
        raise ValidationFailed({"company_id": _("Velg en kundekonto.")})
    date_error = _valid_until_error(valid_until, today or oslo_today())
    if date_error:
        errors["valid_until"] = date_error
    if delivery_address_id is not None:
        address_error = delivery_address_error(session, company_id, delivery_address_id)
        if address_error:
            errors["delivery_address_id"] = address_error
    line_errors, line_values = _checked_lines(session, actor, lines)
    errors.update(line_errors)
    if errors:
        raise ValidationFailed(errors)
    quote = Quote(
        company_id=company_id,
        valid_until=valid_until,
        end_customer_ref=end_customer_ref or None,
        delivery_address_id=delivery_address_id,
        created_by_id=actor.id,
        note=note or None,
        status=QuoteStatus.draft.value,
    )
    quote.lines.extend(
        QuoteLine(company_id=company_id, line_no=no, **values) for no, values in enumerate(line_values, start=1)
    )
    session.add(quote)
    number_quote(session, quote)
    return quote


def update_quote(
    session: Session, quote_id: Any, actor: Actor, changes: Mapping[str, Any], today: dt.date | None = None
) -> Quote:
    """Change the header of a draft or sent quote: the HEADER_FIELDS present in `changes`."""
    quote = get_quote(session, quote_id)
    require_changeable(quote)
    values = {name: changes[name] for name in HEADER_FIELDS if name in changes}
    errors: dict[str, str] = {}
    if "valid_until" in values and values["valid_until"] != quote.valid_until:
        date_error = _valid_until_error(values["valid_until"], today or oslo_today())
        if date_error:
            errors["valid_until"] = date_error
    address_id = values.get("delivery_address_id")
    if address_id is not None and address_id != quote.delivery_address_id:
        address_error = delivery_address_error(session, quote.company_id, address_id)
        if address_error:
            errors["delivery_address_id"] = address_error
    if errors:
        raise ValidationFailed(errors)
    for name in ("end_customer_ref", "note"):
        if name in values:
            values[name] = (values[name] or "").strip() or None
    for name, value in values.items():
        if getattr(quote, name) != value:
            setattr(quote, name, value)
    session.flush()
    return quote


def _move(session: Session, quote: Quote, allowed: Sequence[str], to: str) -> None:
    done = rows_changed(
        session,
        update(Quote)
        .where(Quote.id == quote.id, Quote.status.in_(allowed))
        .values(status=to)
        .execution_options(synchronize_session=False),
    )
    if done != 1:
        raise AlreadyHandled(CHANGED_MEANWHILE)
    session.expire(quote, ["status"])


def send_quote(session: Session, quote_id: Any, actor: Actor, today: dt.date | None = None) -> Quote:
    quote = get_quote(session, quote_id)
    if not may_send(quote, today):
        raise NotAllowed(_("Bare utkast kan sendes."))
    _move(session, quote, [QuoteStatus.draft.value], QuoteStatus.sent.value)
    return quote


def decline_quote(session: Session, quote_id: Any, actor: Actor, today: dt.date | None = None) -> Quote:
    quote = get_quote(session, quote_id)
    if not is_open(quote, today):
        raise NotAllowed(_("Tilbudet kan ikke avslås i denne statusen."))
    _move(session, quote, EDITABLE, QuoteStatus.declined.value)
    return quote


def convert_quote(
    session: Session,
    quote_id: Any,
    actor: Actor,
    *,
    delivery_address_id: int | None = None,
    today: dt.date | None = None,
) -> Order:
    """ "Bestill": the quote becomes an order with its prices frozen, channel `quote`, linked both ways."""
    if not actor.has_role(*QUOTE_AUTHORS):
        raise Forbidden(_("Du har ikke tilgang til å bestille tilbud."))
    quote = get_quote(session, quote_id)
    if effective_status(quote, today) == QuoteStatus.expired.value:
        raise NotAllowed(
            _(
                "Tilbudet gikk ut %(date)s og kan ikke bestilles. Be selgeren om et nytt tilbud.",
                date=format_date(quote.valid_until),
            )
        )
    if not is_open(quote, today):
        raise NotAllowed(_("Tilbudet er allerede bestilt eller avslått."))
    address_id = delivery_address_id or quote.delivery_address_id
    if address_id is None:
        raise ValidationFailed({"delivery_address_id": _("Velg leveringsadresse for ordren.")})
    # Claim the quote first: a second "Bestill" at the same moment finds it accepted and stops.
    _move(session, quote, EDITABLE, QuoteStatus.accepted.value)
    lines = [
        LineInput(
            product_id=ln.product_id,
            quantity=ln.quantity,
            width=ln.width,
            depth=ln.depth,
            fabric=ln.fabric,
            colour=ln.colour,
            unit_price=ln.unit_price,
        )
        for ln in quote.lines
    ]
    return place_order(
        session,
        actor=actor,
        company_id=quote.company_id,
        delivery_address_id=address_id,
        lines=lines,
        channel=OrderChannel.quote.value,
        customer_reference=quote.end_customer_ref,
        quote_id=quote.id,
    )
