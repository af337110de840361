"""Orders: placing one, validating configuration, cancelling, and the status history."""
from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Iterable, Optional, Sequence

from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session

from ..models import (
    Company,
    DeliveryAddress,
    Order,
    OrderChannel,
    OrderEvent,
    OrderLine,
    OrderStatus,
    PortalUser,
    Product,
    Shipment,
    utcnow,
)
from .actors import Actor
from .errors import NotAllowed, NotFound, ValidationFailed
from .formatting import format_nok, oslo_today, to_oslo
from .links import portal_link
from .notifications import queue_mail
from .pricing import order_totals

# Statuses in which nothing has left the warehouse yet.
NOT_SHIPPED = (OrderStatus.pending_approval.value, OrderStatus.processing.value)


@dataclass(frozen=True)
class LineInput:
    product_id: Optional[int]
    quantity: Optional[int]
    width: Optional[int] = None
    depth: Optional[int] = None
    fabric: Optional[str] = None
    colour: Optional[str] = None
    unit_price: Optional[Decimal] = None  # only for frozen quote prices; never from a customer


# --- configuration (producibility) ----------------------------------------------------------


def configuration_errors(product: Product, line: LineInput | OrderLine) -> dict[str, str]:
    """Field → Norwegian message for every way this line breaks the product's configuration."""
    errors: dict[str, str] = {}
    for field, low, high, label in (
        ("width", product.min_width, product.max_width, "Bredde"),
        ("depth", product.min_depth, product.max_depth, "Dybde"),
    ):
        value = getattr(line, field)
        if low is None and high is None:
            if value is not None:
                errors[field] = f"{product.name} har ikke valgbar {label.lower()}."
            continue
        if value is None:
            errors[field] = f"{label} må fylles ut for {product.name}."
        elif (low is not None and value < low) or (high is not None and value > high):
            errors[field] = f"{label} må være mellom {low} og {high} cm"
    variants = product.variants or {}
    for field, label in (("fabric", "Stoff"), ("colour", "Farge")):
        value = getattr(line, field)
        allowed = variants.get(field) or []
        if not allowed:
            if value:
                errors[field] = f"{product.name} har ikke valg av {label.lower()}."
            continue
        if not value:
            errors[field] = f"Velg {label.lower()} for {product.name}."
        elif value not in allowed:
            errors[field] = f"{label} «{value}» finnes ikke for {product.name}. Velg en av: {', '.join(allowed)}"
    return errors


# --- numbers, events -----------------------------------------------------------------------


def assign_number(obj: Order, session: Session, prefix: str = "", base: int = 100000) -> None:
    """Unique human number from the row id (flushes once to get the id; no read-then-write race)."""
    if obj.number is None:
        obj.number = f"tmp-{uuid.uuid4().hex[:16]}"
    session.flush()
    obj.number = f"{prefix}{base + obj.id}"


def record_event(session: Session, order: Order, actor: Actor, from_status: Optional[str], to_status: str,
                 reason: Optional[str] = None, at: Optional[dt.datetime] = None) -> OrderEvent:
    event = OrderEvent(order_id=order.id, company_id=order.company_id, actor_id=actor.id,
                       actor_name=actor.name, from_status=from_status, to_status=to_status,
                       reason=reason, at=at or utcnow())
    session.add(event)
    return event


def change_status(session: Session, order: Order, actor: Actor, allowed_from: Sequence[str], to_status: str,
                  reason: Optional[str] = None, extra_where: Sequence = ()) -> bool:
    """Conditional UPDATE: moves the order only if it is still in one of `allowed_from`.

    Returns False when another transaction got there first; the caller decides what to say.
    """
    from_status = order.status
    result = session.execute(
        update(Order)
        .where(Order.id == order.id, Order.status.in_(allowed_from), *extra_where)
        .values(status=to_status)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return False
    order.status = to_status
    session.expire(order, ["status"])
    record_event(session, order, actor, from_status, to_status, reason)
    return True


# --- placing an order -----------------------------------------------------------------------


def place_order(
    session: Session,
    *,
    actor: Actor,
    company_id: int,
    delivery_address_id: Optional[int],
    lines: Sequence[LineInput],
    channel: str = OrderChannel.webshop.value,
    customer_reference: Optional[str] = None,
    quote_id: Optional[int] = None,
    standing_order_id: Optional[int] = None,
    delivery_date: Optional[dt.date] = None,
) -> Order:
    """Validate and create an order with its lines, first status event and confirmation mail.

    Raises ValidationFailed (field → message) and writes nothing when any input is bad.
    """
    if actor.is_customer and actor.company_id != company_id:
        raise NotFound("Fant ikke kundekontoen.")
    company = session.get(Company, company_id)
    if company is None:
        raise ValidationFailed({"company_id": "Fant ikke kundekontoen."})
    errors: dict[str, str] = {}
    if channel not in {c.value for c in OrderChannel}:
        errors["channel"] = "Ukjent kanal."
    address = session.get(DeliveryAddress, delivery_address_id) if delivery_address_id else None
    if address is None or address.company_id != company_id:
        errors["delivery_address_id"] = "Velg en leveringsadresse for kundekontoen."
    elif not address.active:
        errors["delivery_address_id"] = "Leveringsadressen er deaktivert. Velg en annen."
    if not lines:
        errors["lines"] = "Ordren må ha minst én linje."
    product_ids = {ln.product_id for ln in lines if ln.product_id}
    products = {p.id: p for p in session.scalars(select(Product).where(Product.id.in_(product_ids)))} if product_ids else {}
    for i, ln in enumerate(lines):
        key = f"lines[{i}]"
        product = products.get(ln.product_id) if ln.product_id else None
        if product is None or not product.active:
            errors[f"{key}.product_id"] = "Velg et produkt fra katalogen."
            continue
        if ln.quantity is None or ln.quantity <= 0:
            errors[f"{key}.quantity"] = "Antall må være minst 1."
        for field, message in configuration_errors(product, ln).items():
            errors[f"{key}.{field}"] = message
    if errors:
        raise ValidationFailed(errors)

    status = OrderStatus.pending_approval.value if company.requires_approval else OrderStatus.processing.value
    order = Order(
        company_id=company_id, channel=channel, status=status, delivery_address_id=address.id,  # type: ignore[union-attr]
        created_by_id=actor.id, customer_reference=(customer_reference or None), quote_id=quote_id,
        standing_order_id=standing_order_id, delivery_date=delivery_date,
    )
    priced = []
    for i, ln in enumerate(lines, start=1):
        product = products[ln.product_id]  # type: ignore[index]
        price = ln.unit_price if ln.unit_price is not None else product.unit_price
        order.lines.append(OrderLine(
            company_id=company_id, line_no=i, product_id=product.id, quantity=ln.quantity,
            unit_price=price, vat_rate=product.vat_rate, width=ln.width, depth=ln.depth,
            fabric=ln.fabric or None, colour=ln.colour or None,
        ))
        priced.append({"unit_price": price, "quantity": ln.quantity, "vat_rate": product.vat_rate})
    order.total_ex_vat, order.total_vat = order_totals(priced)
    session.add(order)
    assign_number(order, session)
    record_event(session, order, actor, None, status,
                 "Venter på godkjenning fra selger" if status == OrderStatus.pending_approval.value else None)
    _confirmation_mail(session, order, actor)
    from .budgets import apply_budgets  # budgets flag the order and notify once per period

    apply_budgets(session, order)
    return order


def _confirmation_mail(session: Session, order: Order, actor: Actor) -> None:
    recipient = session.get(PortalUser, order.created_by_id) if order.created_by_id else None
    to = (recipient.email if recipient else None) or actor.email
    if not to:
        return
    waiting = order.status == OrderStatus.pending_approval.value
    text = (
        f"Takk for bestillingen!\n\nOrdrenummer: {order.number}\n"
        f"Sum eks. mva: {format_nok(order.total_ex_vat)}\nSum inkl. mva: {format_nok(order.total_inc_vat)}\n\n"
        + ("Ordren har status «Til godkjenning» og er ikke akseptert før en selger hos oss har godkjent den."
           if waiting else "Ordren er under behandling.")
        + "\n\nKontroller at ordrebekreftelsen stemmer med ønsket oppsett (antall, mål og varianter)."
    )
    queue_mail(session, kind="order_confirmation", to=to, subject=f"Ordrebekreftelse {order.number}",
               text=text, link=portal_link(f"/orderview/show/{order.id}"))


# --- cancelling -----------------------------------------------------------------------------


def cancel_refusal(order: Order, actor: Actor, has_shipment: bool, now: Optional[dt.datetime] = None) -> Optional[str]:
    """Why this actor may not cancel this order now (Norwegian), or None when allowed."""
    if order.status not in NOT_SHIPPED:
        return "Ordren kan ikke kanselleres fordi den allerede er sendt, fakturert eller avsluttet."
    if has_shipment:
        return "Ordren kan ikke kanselleres fordi det allerede er registrert en levering."
    if actor.has_role("CustomerService", "Admin"):
        return None
    if actor.is_customer and actor.company_id == order.company_id:
        if oslo_today(now) != to_oslo(order.created_at).date():
            return "En ordre kan bare kanselleres samme dag som den ble lagt inn. Kontakt kundeservice."
        return None
    return "Du har ikke tilgang til å kansellere ordrer."


def can_cancel(session: Session, order: Order, actor: Actor, now: Optional[dt.datetime] = None) -> bool:
    return cancel_refusal(order, actor, _has_shipment(session, order.id), now) is None


def _has_shipment(session: Session, order_id: int) -> bool:
    return bool(session.scalar(select(exists().where(Shipment.order_id == order_id))))


def get_order(session: Session, order_id: int) -> Order:
    order = session.get(Order, order_id)
    if order is None:
        raise NotFound("Fant ikke ordren.")
    return order


def cancel_order(session: Session, order_id: int, actor: Actor, reason: Optional[str] = None,
                 now: Optional[dt.datetime] = None) -> Order:
    order = get_order(session, order_id)
    refusal = cancel_refusal(order, actor, _has_shipment(session, order.id), now)
    if refusal:
        raise NotAllowed(refusal)
    no_shipment = ~exists().where(Shipment.order_id == Order.id)
    if not change_status(session, order, actor, NOT_SHIPPED, OrderStatus.cancelled.value,
                         reason or "Kansellert", extra_where=[no_shipment]):
        raise NotAllowed("Ordren ble endret av noen andre i mellomtiden og kan ikke kanselleres.")
    return order
