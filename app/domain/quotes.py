"""Tilbud: created by a seller for a dealer or by the dealer's own users; "Bestill" makes an order.

States: draft → sent → accepted (became an order) / declined / expired. A quote whose valid-until
date (Europe/Oslo) has passed counts as expired even before a job marks it.
"""
from __future__ import annotations

import datetime as dt
from typing import Optional, Sequence

from sqlalchemy import update
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
)
from app.domain.formatting import oslo_today
from app.domain.lifecycle import assign_number
from app.domain.orders import place_order
from app.models import (
    Company,
    Order,
    OrderChannel,
    Quote,
    QuoteLine,
    QuoteStatus,
)

QUOTE_AUTHORS = ("Seller", "Admin", "CustomerAdmin", "CustomerUser")
CONVERTIBLE = (QuoteStatus.draft.value, QuoteStatus.sent.value)


def effective_status(quote: Quote, today: Optional[dt.date] = None) -> str:
    if quote.status in CONVERTIBLE and quote.valid_until < (today or oslo_today()):
        return QuoteStatus.expired.value
    return quote.status


def create_quote(session: Session, *, actor: Actor, company_id: int, valid_until: Optional[dt.date],
                 lines: Sequence[LineInput], end_customer_ref: Optional[str] = None,
                 delivery_address_id: Optional[int] = None, note: Optional[str] = None,
                 today: Optional[dt.date] = None) -> Quote:
    if not actor.has_role(*QUOTE_AUTHORS):
        raise Forbidden("Du har ikke tilgang til å lage tilbud.")
    if actor.is_customer and actor.company_id != company_id:
        raise NotFound("Fant ikke kundekontoen.")
    errors: dict[str, str] = {}
    company = session.get(Company, company_id)
    if company is None:
        raise ValidationFailed({"company_id": "Velg en kundekonto."})
    today = today or oslo_today()
    if valid_until is None:
        errors["valid_until"] = "Gyldig til må fylles ut."
    elif valid_until < today:
        errors["valid_until"] = "Gyldig til kan ikke være tilbake i tid."
    if delivery_address_id is not None:
        address_error = delivery_address_error(session, company_id, delivery_address_id)
        if address_error:
            errors["delivery_address_id"] = address_error
    line_errors, products = check_lines(session, lines)
    errors.update(line_errors)
    quote = Quote(company_id=company_id, valid_until=valid_until, end_customer_ref=end_customer_ref or None,
                  delivery_address_id=delivery_address_id, created_by_id=actor.id, note=note or None,
                  status=QuoteStatus.draft.value)
    for i, ln in enumerate(lines):
        product = products.get(ln.product_id) if ln.product_id else None
        if product is None or f"lines[{i}].product_id" in errors:
            continue
        # Dealers never set prices; a seller may give a special price.
        price = ln.unit_price if (ln.unit_price is not None and actor.has_role("Seller", "Admin")) else product.unit_price
        if price is not None and price < 0:
            errors[f"lines[{i}].unit_price"] = "Prisen kan ikke være negativ."
        quote.lines.append(QuoteLine(company_id=company_id, line_no=i + 1, product_id=product.id,
                                     quantity=ln.quantity, unit_price=price, vat_rate=product.vat_rate,
                                     width=ln.width, depth=ln.depth, fabric=ln.fabric or None,
                                     colour=ln.colour or None))
    if errors:
        raise ValidationFailed(errors)
    session.add(quote)
    assign_number(quote, session, prefix="T", base=300000)  # type: ignore[arg-type]
    return quote


def get_quote(session: Session, quote_id: int) -> Quote:
    quote = session.get(Quote, quote_id)
    if quote is None:
        raise NotFound("Fant ikke tilbudet.")
    return quote


def _move(session: Session, quote: Quote, allowed: Sequence[str], to: str) -> None:
    done = session.execute(update(Quote).where(Quote.id == quote.id, Quote.status.in_(allowed))
                           .values(status=to).execution_options(synchronize_session=False)).rowcount
    if done != 1:
        raise AlreadyHandled("Tilbudet ble endret av noen andre i mellomtiden.")
    session.expire(quote, ["status"])


def send_quote(session: Session, quote_id: int, actor: Actor, today: Optional[dt.date] = None) -> Quote:
    quote = get_quote(session, quote_id)
    if effective_status(quote, today) != QuoteStatus.draft.value:
        raise NotAllowed("Bare utkast kan sendes.")
    _move(session, quote, [QuoteStatus.draft.value], QuoteStatus.sent.value)
    return quote


def decline_quote(session: Session, quote_id: int, actor: Actor, today: Optional[dt.date] = None) -> Quote:
    quote = get_quote(session, quote_id)
    if effective_status(quote, today) not in CONVERTIBLE:
        raise NotAllowed("Tilbudet kan ikke avslås i denne statusen.")
    _move(session, quote, CONVERTIBLE, QuoteStatus.declined.value)
    return quote


def convert_quote(session: Session, quote_id: int, actor: Actor, *, delivery_address_id: Optional[int] = None,
                  today: Optional[dt.date] = None) -> Order:
    """"Bestill": the quote becomes an order with its prices frozen, channel `quote`, linked both ways."""
    if not actor.has_role(*QUOTE_AUTHORS):
        raise Forbidden("Du har ikke tilgang til å bestille tilbud.")
    quote = get_quote(session, quote_id)
    status = effective_status(quote, today)
    if status == QuoteStatus.expired.value:
        raise NotAllowed(f"Tilbudet gikk ut {quote.valid_until.strftime('%d.%m.%Y')} og kan ikke bestilles. "
                         "Be selgeren om et nytt tilbud.")
    if status not in CONVERTIBLE:
        raise NotAllowed("Tilbudet er allerede bestilt eller avslått.")
    address_id = delivery_address_id or quote.delivery_address_id
    if address_id is None:
        raise ValidationFailed({"delivery_address_id": "Velg leveringsadresse for ordren."})
    # Claim the quote first: a second "Bestill" at the same moment finds it accepted and stops.
    _move(session, quote, CONVERTIBLE, QuoteStatus.accepted.value)
    lines = [LineInput(product_id=ln.product_id, quantity=ln.quantity, width=ln.width, depth=ln.depth,
                       fabric=ln.fabric, colour=ln.colour, unit_price=ln.unit_price) for ln in quote.lines]
    return place_order(session, actor=actor, company_id=quote.company_id, delivery_address_id=address_id,
                       lines=lines, channel=OrderChannel.quote.value,
                       customer_reference=quote.end_customer_ref, quote_id=quote.id)
