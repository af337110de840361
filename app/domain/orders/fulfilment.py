"""Customer service registers shipments and invoices; the order status follows from them.

Derived status: everything invoiced → invoiced; every line fully delivered → shipped ("Kjørt ut fra
lager"); something delivered → partially_delivered; else unchanged (processing).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.domain import labels, notices
from app.domain.actors import Actor
from app.domain.errors import Forbidden, NotAllowed, ValidationFailed
from app.domain.guarded import rows_changed
from app.domain.lifecycle import (
    EXCLUDED,
    INVOICEABLE,
    INVOICED,
    PARTIALLY_DELIVERED,
    SHIPPABLE,
    SHIPPED,
    WAITING,
    change_status,
    get_order,
    may_move,
)
from app.models import (
    Carrier,
    Company,
    Invoice,
    LineStatus,
    Order,
    OrderLine,
    PortalUser,
    Shipment,
    ShipmentLine,
    utcnow,
)

STAFF_ONLY = _l("Bare kundeservice kan registrere leveranser og fakturaer.")
CHANGED_MEANWHILE = _l("Ordren ble endret av noen andre i mellomtiden. Prøv igjen.")
NOT_SHIPPABLE = _l("Ordren kan ikke leveres i denne statusen.")
NOT_INVOICEABLE = _l("Ordren kan ikke faktureres i denne statusen.")
LINE_TAKEN = _l("Linjen ble levert av noen andre i mellomtiden. Prøv igjen.")


def tracking_url(carrier: str | None, waybill: str | None, urls: Mapping[str, Any] | None = None) -> str | None:
    """The carrier's tracking page for a waybill, from `urls` (default: config CARRIER_TRACKING_URLS,
    "{waybill}" in each); own transport and a shipment without a waybill have none. The waybill is
    quoted whole, so "/", "&" or a space in it cannot change the page or the query."""
    if urls is None:
        urls = current_app.config.get("CARRIER_TRACKING_URLS", {})
    template = urls.get(carrier or "")
    if not template or not waybill:
        return None
    return template.format(waybill=quote(waybill, safe=""))


def derive_status(lines: list[tuple[int, int]], invoiced: Decimal, total_inc_vat: Decimal, current: str) -> str:
    """(quantity, delivered) per line + invoiced amount → the status the order should have."""
    if current in EXCLUDED or current in WAITING:
        return current
    if total_inc_vat > 0 and invoiced >= total_inc_vat:
        return INVOICED
    delivered = [d for _, d in lines]
    if lines and all(d >= q for q, d in lines):
        return SHIPPED
    if any(d > 0 for d in delivered):
        return PARTIALLY_DELIVERED
    return current


def _require(actor: Actor, move: str) -> None:
    if not may_move(actor, move):
        raise Forbidden(STAFF_ONLY)


def _move(session: Session, order: Order, actor: Actor, move: str, reason: Any) -> None:
    lines = [(ln.quantity, ln.delivered_quantity) for ln in order.lines]
    invoiced = session.execute(
        select(func.coalesce(func.sum(Invoice.amount), 0)).where(Invoice.order_id == order.id)
    ).scalar_one()
    target = derive_status(lines, Decimal(invoiced), order.total_inc_vat, order.status)
    if target != order.status and not change_status(
        session, order, actor, move, target, reason, sources=[order.status]
    ):
        raise NotAllowed(CHANGED_MEANWHILE)


def register_shipment(
    session: Session,
    order_id: int,
    actor: Actor,
    *,
    carrier: str,
    waybill_number: str | None,
    quantities: Mapping[int, int],
    shipped_at: dt.datetime | None = None,
) -> Shipment:
    """Ship `quantities` (order line id → quantity) with a carrier; updates lines and the order status."""
    _require(actor, "ship")
    order = get_order(session, order_id)
    if order.status not in SHIPPABLE:
        raise NotAllowed(NOT_SHIPPABLE)
    errors: dict[str, str] = {}
    if carrier not in {c.value for c in Carrier}:
        errors["carrier"] = _("Velg transportør.")
    if carrier != Carrier.own.value and not (waybill_number or "").strip():
        errors["waybill_number"] = _("Fraktbrevnummer må fylles ut for ekstern transportør.")
    lines = {ln.id: ln for ln in order.lines}
    wanted = {lid: q for lid, q in quantities.items() if q}
    if not wanted:
        errors["lines"] = _("Velg minst én linje og et antall.")
    for lid, qty in wanted.items():
        line = lines.get(lid)
        if line is None:
            errors[f"lines[{lid}]"] = _("Linjen hører ikke til ordren.")
        elif qty < 0 or line.delivered_quantity + qty > line.quantity:
            errors[f"lines[{lid}]"] = _(
                "Kan levere høyst %(left)s på linje %(line)s.",
                left=line.quantity - line.delivered_quantity,
                line=line.line_no,
            )
    if errors:
        raise ValidationFailed(errors)
    shipment = Shipment(
        order_id=order.id,
        company_id=order.company_id,
        carrier=carrier,
        waybill_number=(waybill_number or "").strip() or None,
        shipped_at=shipped_at or utcnow(),
    )
    for lid, qty in wanted.items():
        shipment.lines.append(ShipmentLine(company_id=order.company_id, order_line_id=lid, quantity=qty))
        # Relative, guarded UPDATE: two shipments at once can never deliver more than ordered.
        done = rows_changed(
            session,
            update(OrderLine)
            .where(OrderLine.id == lid, OrderLine.delivered_quantity + qty <= OrderLine.quantity)
            .values(delivered_quantity=OrderLine.delivered_quantity + qty)
            .execution_options(synchronize_session=False),
        )
        if done != 1:
            raise NotAllowed(LINE_TAKEN)
    session.add(shipment)
    session.flush()
    for line in order.lines:
        session.refresh(line, ["delivered_quantity"])
        line.status = (
            LineStatus.delivered.value
            if line.delivered_quantity >= line.quantity
            else LineStatus.partially_delivered.value
            if line.delivered_quantity
            else LineStatus.open.value
        )
    _move(
        session,
        order,
        actor,
        "ship",
        _l(
            "Levering registrert (%(carrier)s, %(waybill)s)",
            carrier=carrier,
            waybill=shipment.waybill_number or _("egen transport"),
        ),
    )
    _tell_customer(
        session,
        order,
        "order_shipped",
        partly=order.status != SHIPPED,
        carrier=labels.label(labels.CARRIER, carrier),
        waybill=shipment.waybill_number,
        tracking=tracking_url(carrier, shipment.waybill_number),
    )
    return shipment


def _tell_customer(session: Session, order: Order, kind: str, **context: Any) -> None:
    """A notice (and, unless turned off, the mail) to whoever placed the order."""
    creator = session.get(PortalUser, order.created_by_id) if order.created_by_id else None
    if creator is not None:
        notices.announce(session, kind, [creator], ref=order.id, subject=order.number, order=order, **context)


def billing_of(company: Company) -> dict[str, str | None]:
    """Whom an invoice is issued to, kept with it: the company's name, numbers and postal address
    as they stand when the invoice is made."""
    return {
        "billing_name": company.name,
        "billing_customer_number": company.customer_number,
        "billing_org_number": company.org_number,
        "billing_street": company.postal_street,
        "billing_postal_code": company.postal_code,
        "billing_city": company.postal_city,
    }


def register_invoice(
    session: Session,
    order_id: int,
    actor: Actor,
    *,
    number: str,
    invoice_date: dt.date,
    due_date: dt.date,
    amount: Decimal | None = None,
) -> Invoice:
    """Invoice an order (default: its total incl. VAT); fully invoiced orders become `invoiced`."""
    _require(actor, "invoice")
    order = get_order(session, order_id)
    if order.status not in INVOICEABLE:
        raise NotAllowed(NOT_INVOICEABLE)
    errors: dict[str, str] = {}
    if not (number or "").strip():
        errors["number"] = _("Fakturanummer må fylles ut.")
    if due_date < invoice_date:
        errors["due_date"] = _("Forfallsdato kan ikke være før fakturadato.")
    amount = order.total_inc_vat if amount is None else Decimal(amount)
    if amount < 0:
        errors["amount"] = _("Beløpet kan ikke være negativt.")
    if errors:
        raise ValidationFailed(errors)
    invoice = Invoice(
        order_id=order.id,
        company_id=order.company_id,
        number=number.strip(),
        invoice_date=invoice_date,
        due_date=due_date,
        amount=amount,
        **billing_of(order.company),
    )
    try:
        with session.begin_nested():
            session.add(invoice)
    except IntegrityError:
        raise ValidationFailed({"number": _("Fakturanummeret finnes allerede.")}) from None
    _move(session, order, actor, "invoice", _l("Faktura %(number)s registrert", number=invoice.number))
    _tell_customer(session, order, "order_invoiced", invoice=invoice)
    return invoice
