"""What a user does with a placed order: cancel it (within the cancel window)."""

from __future__ import annotations

import datetime as dt

from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString
from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from app.domain import audit
from app.domain.actors import Actor
from app.domain.errors import NotAllowed
from app.domain.formatting import oslo_today, to_oslo
from app.domain.lifecycle import CANCELLED, NOT_SHIPPED, change_status, get_order
from app.models import (
    Order,
    Shipment,
)

ALREADY_SHIPPED = _l("Ordren kan ikke kanselleres fordi den allerede er sendt, fakturert eller avsluttet.")
HAS_SHIPMENT = _l("Ordren kan ikke kanselleres fordi det allerede er registrert en levering.")
SAME_DAY_ONLY = _l("En ordre kan bare kanselleres samme dag som den ble lagt inn. Kontakt kundeservice.")
MAY_NOT_CANCEL = _l("Du har ikke tilgang til å kansellere ordrer.")
CANCELLED_MEANWHILE = _l("Ordren ble endret av noen andre i mellomtiden og kan ikke kanselleres.")


def cancel_refusal(
    order: Order,
    actor: Actor,
    has_shipment: bool,
    now: dt.datetime | None = None,
) -> LazyString | None:
    """Why this actor may not cancel this order now, or None when allowed."""
    if order.status not in NOT_SHIPPED:
        return ALREADY_SHIPPED
    if has_shipment:
        return HAS_SHIPMENT
    if actor.is_customer_service:
        return None
    if actor.is_customer and actor.company_id == order.company_id:
        if oslo_today(now) != to_oslo(order.created_at).date():
            return SAME_DAY_ONLY
        return None
    return MAY_NOT_CANCEL


def can_cancel(session: Session, order: Order, actor: Actor, now: dt.datetime | None = None) -> bool:
    return cancel_refusal(order, actor, _has_shipment(session, order.id), now) is None


def _has_shipment(session: Session, order_id: int) -> bool:
    return bool(session.scalar(select(exists().where(Shipment.order_id == order_id))))


def cancel_order(
    session: Session, order_id: int, actor: Actor, reason: str | None = None, now: dt.datetime | None = None
) -> Order:
    order = get_order(session, order_id)
    refusal = cancel_refusal(order, actor, _has_shipment(session, order.id), now)
    if refusal is not None:
        raise NotAllowed(refusal)
    no_shipment = ~exists().where(Shipment.order_id == Order.id)
    from_status = order.status
    if not change_status(
        session, order, actor, "cancel", CANCELLED, reason or _l("Kansellert"), extra_where=[no_shipment]
    ):
        raise NotAllowed(CANCELLED_MEANWHILE)
    audit.record(
        session,
        audit.ORDER_CANCELLED,
        actor=actor,
        target=("order", order.id),
        company_id=order.company_id,
        details={"number": order.number, "from_status": from_status, "reason": reason or None},
    )
    return order
