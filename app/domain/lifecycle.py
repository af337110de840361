"""The order lifecycle: the state table (who may move an order from where to where), the status
groups derived from it, order numbers, and status changes with their history."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import update
from sqlalchemy.orm import Session

from app.domain.actors import Actor
from app.domain.errors import get_visible
from app.domain.guarded import rows_changed
from app.domain.report_totals import count_event
from app.models import (
    Order,
    OrderEvent,
    OrderStatus,
    utcnow,
)
from app.roles import CUSTOMER_ADMIN, CUSTOMER_ROLES, CUSTOMER_SERVICE, SELLERS

# --- the lifecycle as a table ------------------------------------------------------------------
#
#   (placed) ──▶ pending_approval ──approve──▶ processing ──ship──▶ partially_delivered ──ship──▶ shipped
#                     │   └──reject──▶ rejected      │  └──invoice──▶ ... ──invoice──▶ invoiced
#                     └──────cancel─────▶ cancelled ◀─┘
#
# Dealers' orders wait "Til godkjenning" (pending_approval) for a seller; others start in processing.
# Before either, an order a rule of the company's own catches (app/domain/internal_approval.py)
# waits "Venter på godkjenning hos dere" (pending_internal_approval) for a customer admin:
#
#   (placed) ──▶ pending_internal_approval ──internal_approve──▶ pending_approval (dealers) / processing
#                     ├──internal_reject──▶ rejected
#                     └──cancel──▶ cancelled
# Shipments and invoices move the order to the status its lines and invoices add up to (fulfilment).

PENDING_APPROVAL = OrderStatus.pending_approval.value
PROCESSING = OrderStatus.processing.value
SHIPPED = OrderStatus.shipped.value
PARTIALLY_DELIVERED = OrderStatus.partially_delivered.value
INVOICED = OrderStatus.invoiced.value
CANCELLED = OrderStatus.cancelled.value
REJECTED = OrderStatus.rejected.value
PENDING_INTERNAL_APPROVAL = OrderStatus.pending_internal_approval.value

ORDER_NOT_FOUND = _l("Fant ikke ordren.")


@dataclass(frozen=True)
class Move:
    sources: tuple[str, ...]  # the statuses the order may be in
    targets: tuple[str, ...]  # where it may go
    roles: tuple[str, ...]  # who may make the move (customers: see the move's own rule)
    voids: bool = False  # the order ends without a delivery: it counts for no budget and no sale


MOVES: dict[str, Move] = {
    "approve": Move((PENDING_APPROVAL,), (PROCESSING,), SELLERS),
    "reject": Move((PENDING_APPROVAL,), (REJECTED,), SELLERS, voids=True),
    # The company's own approval: a customer admin of the order's company (Admin may do everything).
    "internal_approve": Move((PENDING_INTERNAL_APPROVAL,), (PENDING_APPROVAL, PROCESSING), (CUSTOMER_ADMIN, "Admin")),
    "internal_reject": Move((PENDING_INTERNAL_APPROVAL,), (REJECTED,), (CUSTOMER_ADMIN, "Admin"), voids=True),
    # Customers cancel their own orders on the day they placed them (orders/actions.py).
    "cancel": Move(
        (PENDING_INTERNAL_APPROVAL, PENDING_APPROVAL, PROCESSING),
        (CANCELLED,),
        (*CUSTOMER_SERVICE, *CUSTOMER_ROLES),
        voids=True,
    ),
    "ship": Move((PROCESSING, PARTIALLY_DELIVERED), (PARTIALLY_DELIVERED, SHIPPED, INVOICED), CUSTOMER_SERVICE),
    "invoice": Move(
        (PROCESSING, PARTIALLY_DELIVERED, SHIPPED), (PARTIALLY_DELIVERED, SHIPPED, INVOICED), CUSTOMER_SERVICE
    ),
}

# Status groups, derived from the table.
ALL_STATUSES = tuple(s.value for s in OrderStatus)
INTERNAL_WAITING = MOVES["internal_approve"].sources  # waiting for the company's own approval
# Waiting for an approval, the supplier's or the company's own: not accepted yet, so no sale.
WAITING = (*INTERNAL_WAITING, *MOVES["approve"].sources)
NOT_SHIPPED = MOVES["cancel"].sources  # nothing has left the warehouse yet
SHIPPABLE = MOVES["ship"].sources
INVOICEABLE = MOVES["invoice"].sources
OPEN = tuple(s for s in ALL_STATUSES if any(s in m.sources for m in MOVES.values()))  # not yet final
EXCLUDED = tuple(dict.fromkeys(t for m in MOVES.values() if m.voids for t in m.targets))  # no budget, no sale
SALES = tuple(s for s in ALL_STATUSES if s not in EXCLUDED and s not in WAITING)  # accepted orders
DECISIONS = tuple(t for name in ("approve", "reject") for t in MOVES[name].targets)  # a seller's answer


def may_move(actor: Actor, name: str) -> bool:
    return actor.has_role(*MOVES[name].roles)


# Order numbers: 100000 + id, e.g. 100042, for orders from every channel and for the demo and
# bench data alike (quotes use the same rule with their own prefix and base: app/domain/quotes.py).
ORDER_NUMBER_BASE = 100000


def number_from_id(row_id: int, prefix: str = "", base: int = ORDER_NUMBER_BASE) -> str:
    """The human number of the row with this id: the one numbering rule of orders and quotes."""
    return f"{prefix}{base + row_id}"


def assign_number(obj: Any, session: Session, prefix: str = "", base: int = ORDER_NUMBER_BASE) -> None:
    """Unique human number from the row id (flushes once to get the id; no read-then-write race)."""
    if obj.number is None:
        obj.number = f"tmp-{uuid.uuid4().hex[:16]}"
    session.flush()
    obj.number = number_from_id(obj.id, prefix, base)


def record_event(
    session: Session,
    order: Order,
    actor: Actor,
    from_status: str | None,
    to_status: str,
    reason: Any = None,
    at: dt.datetime | None = None,
    counted: bool = True,
) -> OrderEvent:
    """Add a step to the order's history. A fixed reason (a lazy text) is stored in bokmål, whatever
    the language of the page it was made on: the history is read by the customer and by us.

    Every status event goes through here, so the report totals count it here too (report_totals)."""
    if reason is not None:
        with force_locale("nb"):
            reason = str(reason)
    event = OrderEvent(
        order_id=order.id,
        company_id=order.company_id,
        actor_id=actor.id,
        actor_name=actor.name,
        from_status=from_status,
        to_status=to_status,
        reason=reason,
        at=at or utcnow(),
    )
    session.add(event)
    if counted:  # else the caller counts a batch of events at once (report_totals.count_events)
        count_event(session, order, from_status, to_status, event.at)
    return event


def change_status(
    session: Session,
    order: Order,
    actor: Actor,
    move: str,
    to_status: str,
    reason: Any = None,
    extra_where: Sequence = (),
    sources: Sequence[str] = (),
) -> bool:
    """Make the table's `move` as a conditional UPDATE: the order moves only if it is still in one
    of the move's sources (or the narrower `sources`).

    Returns False when another transaction got there first; the caller decides what to say.
    """
    rule = MOVES[move]
    if to_status not in rule.targets:
        raise ValueError(f"{move} cannot lead to {to_status}")
    allowed_from = [s for s in (sources or rule.sources) if s in rule.sources]
    from_status = order.status
    changed = rows_changed(
        session,
        update(Order)
        .where(Order.id == order.id, Order.status.in_(allowed_from), *extra_where)
        .values(status=to_status)
        .execution_options(synchronize_session=False),
    )
    if changed != 1:
        return False
    order.status = to_status
    session.expire(order, ["status"])
    record_event(session, order, actor, from_status, to_status, reason)
    return True


def get_order(session: Session, order_id: int) -> Order:
    """The order through `session` (the tenancy guard scopes it): another company's is NotFound."""
    return get_visible(session, Order, order_id, ORDER_NOT_FOUND)
