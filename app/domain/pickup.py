"""Klikk og Hent: a reservation's way through its states.

    reserved ──ready──▶ ready ──collected──▶ collected
        │                 │
        ├──expired────────┤──▶ expired        (customer service: not picked up in time)
        └──cancelled──────┘──▶ cancelled      (customer service, or the customer itself)

`reserved` and `ready` are active, the others finished (final). Every move is a conditional
UPDATE (`WHERE status IN (<allowed from>)`), so two people moving the same reservation at once
cannot both win: the second is told what happened.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Sequence
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from sqlalchemy.orm import Session, joinedload

from app.domain import labels
from app.domain.actors import Actor
from app.domain.errors import (
    AlreadyHandled,
    Forbidden,
    NotAllowed,
    ValidationFailed,
    get_visible,
)
from app.domain.guarded import rows_changed
from app.domain.validation import InvalidValue
from app.models import PickupReservation, ReservationStatus, utcnow

RESERVED, READY = ReservationStatus.reserved.value, ReservationStatus.ready.value
COLLECTED, EXPIRED, CANCELLED = (
    ReservationStatus.collected.value,
    ReservationStatus.expired.value,
    ReservationStatus.cancelled.value,
)
ACTIVE = (RESERVED, READY)
FINISHED = (COLLECTED, EXPIRED, CANCELLED)
FINISHED_LIMIT = 100
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud at the counter
CODE_LENGTH = 6
NO_ITEMS = _l("Legg til minst én vare.")
BAD_ITEM = _l("Hver vare trenger sku og et antall større enn null.")

# to-status -> the statuses it may come from
TRANSITIONS: dict[str, tuple[str, ...]] = {
    READY: (RESERVED,),
    COLLECTED: (READY,),
    EXPIRED: ACTIVE,
    CANCELLED: ACTIVE,
}


def is_active(reservation: PickupReservation) -> bool:
    return reservation.status in ACTIVE


def new_pickup_code() -> str:
    """The code the customer shows at the counter, e.g. "K7MX2P"."""
    return "".join(secrets.choice(CODE_ALPHABET) for _i in range(CODE_LENGTH))


def validate_items(items: Any) -> list[dict[str, Any]]:
    """What was reserved: [{"sku": str, "name": str, "quantity": int > 0}, ...], at least one."""
    if not isinstance(items, list) or not items:
        raise InvalidValue(NO_ITEMS)
    for entry in items:
        if not (
            isinstance(entry, dict)
            and isinstance(entry.get("sku"), str)
            and entry["sku"].strip()
            and isinstance(entry.get("quantity"), int)
            and not isinstance(entry["quantity"], bool)
            and entry["quantity"] > 0
        ):
            raise InvalidValue(BAD_ITEM)
    return items


def moves_for(reservation: PickupReservation, actor: Actor) -> list[str]:
    """The statuses this actor may move this reservation to now (for the page's buttons)."""
    if actor.is_customer_service:
        return [to for to, sources in TRANSITIONS.items() if reservation.status in sources]
    if actor.is_customer and actor.company_id == reservation.company_id and is_active(reservation):
        return [CANCELLED]
    return []


def get_reservation(session: Session, reservation_id: Any) -> PickupReservation:
    """Through the tenant-scoped session: another company's reservation does not exist (404)."""
    return get_visible(session, PickupReservation, reservation_id, _("Fant ikke reservasjonen."))


def move(session: Session, reservation_id: Any, actor: Actor, to_status: str) -> PickupReservation:
    """Move a reservation to `to_status` if the rules allow it and nobody got there first."""
    reservation = get_reservation(session, reservation_id)
    if to_status not in TRANSITIONS:
        raise ValidationFailed({"status": _("Ukjent status.")})
    if not actor.is_customer_service and not (actor.is_customer and to_status == CANCELLED):
        raise Forbidden(_("Du har ikke tilgang til å endre reservasjonen."))
    sources = TRANSITIONS[to_status]
    current = reservation.status
    if current not in sources:
        raise NotAllowed(_refusal(current, to_status))
    changed = rows_changed(
        session,
        update(PickupReservation)
        .where(PickupReservation.id == reservation.id, PickupReservation.status.in_(sources))
        .values(status=to_status)
        .execution_options(synchronize_session=False),
    )
    session.expire(reservation, ["status"])
    if changed != 1:
        session.refresh(reservation, ["status"])
        raise AlreadyHandled(
            _(
                "Reservasjonen ble endret av noen andre i mellomtiden (nå: %(status)s).",
                status=labels.label(labels.RESERVATION_STATUS, reservation.status),
            )
        )
    return reservation


def _refusal(current: str, to_status: str) -> str:
    now = labels.label(labels.RESERVATION_STATUS, current)
    if current in FINISHED:
        return _("Reservasjonen er avsluttet (%(status)s) og kan ikke endres.", status=now)
    if to_status == COLLECTED:
        return _("Reservasjonen må være klar til henting før den kan registreres som hentet.")
    return _("Reservasjonen kan ikke endres fra %(status)s.", status=now)


def set_deadline(session: Session, reservation_id: Any, actor: Actor, deadline: Any) -> PickupReservation:
    """Customer service moves the pickup deadline of an active reservation."""
    reservation = get_reservation(session, reservation_id)
    if not actor.is_customer_service:
        raise Forbidden(_("Du har ikke tilgang til å endre reservasjonen."))
    if not isinstance(deadline, dt.datetime):
        raise ValidationFailed({"pickup_deadline": _("Skriv et tidspunkt for når varene må hentes.")})
    if deadline.tzinfo is None:
        deadline = deadline.replace(tzinfo=dt.UTC)
    if deadline.replace(microsecond=0) == reservation.pickup_deadline.replace(microsecond=0):
        return reservation  # the form shows whole seconds: an untouched field is no change
    if not is_active(reservation):
        raise ValidationFailed({"pickup_deadline": _("Fristen kan bare endres for en aktiv reservasjon.")})
    reservation.pickup_deadline = deadline
    session.flush()
    return reservation


def company_reservations(session: Session) -> tuple[Sequence[PickupReservation], Sequence[PickupReservation]]:
    """(active, finished) reservations the session may see: active by deadline, finished newest
    first (the latest FINISHED_LIMIT). Two statements, store loaded with each."""
    base = select(PickupReservation).options(joinedload(PickupReservation.store))
    active = session.scalars(
        base.where(PickupReservation.status.in_(ACTIVE)).order_by(
            PickupReservation.pickup_deadline.asc(), PickupReservation.id
        )
    ).all()
    finished = session.scalars(
        base.where(PickupReservation.status.in_(FINISHED))
        .order_by(PickupReservation.created_at.desc(), PickupReservation.id.desc())
        .limit(FINISHED_LIMIT)
    ).all()
    return active, finished


def overdue(reservation: PickupReservation, now: dt.datetime | None = None) -> bool:
    """An active reservation whose pickup deadline has passed (customer service may expire it)."""
    return is_active(reservation) and reservation.pickup_deadline < (now or utcnow())
