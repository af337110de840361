"""The order lifecycle: order numbers, status changes and their history."""
from __future__ import annotations

import datetime as dt
import uuid
from typing import Optional, Sequence

from sqlalchemy import update
from sqlalchemy.orm import Session

from app.domain.actors import Actor
from app.domain.errors import NotFound
from app.models import (
    Order,
    OrderEvent,
    OrderStatus,
    utcnow,
)

# Statuses in which nothing has left the warehouse yet.
NOT_SHIPPED = (OrderStatus.pending_approval.value, OrderStatus.processing.value)



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




def get_order(session: Session, order_id: int) -> Order:
    order = session.get(Order, order_id)
    if order is None:
        raise NotFound("Fant ikke ordren.")
    return order


