"""Exactly once: an order (or a standing order) made under a key (a form's one-time token, or
the API's Idempotency-Key header) is made once per user; the same key again finds that row.

The key is claimed by inserting its row in the order's own transaction, before the order is made.
The unique constraint (user_id, scope, key) is the arbiter: on PostgreSQL a second transaction
claiming the same key waits on the first one's row until it commits (then its insert fails and it
reads the first order) or rolls back (then its insert goes through and it makes the order). A
refused order (bad input) rolls back the claim with it, so the key stays free for the corrected
submit. After LIFETIME a key is free again; `purge` deletes the old rows.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from flask_babel import gettext as _
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.domain.errors import DomainError
from app.models import IdempotencyKey, Order, StandingOrder, utcnow

FORM = "order_form"  # the one-time token of "Ny bestilling"
API = "api_order"  # the Idempotency-Key header of POST /api/v1/order/
STANDING_FORM = "standing_form"  # the one-time token of "Ny fast ordre"
LIFETIME = dt.timedelta(hours=24)
MAX_KEY_LENGTH = 200  # the column's size
# Letters, digits and - _ . : (UUIDs, ULIDs, base64url tokens): nothing to trip over in logs.
_KEY = re.compile(r"[A-Za-z0-9_.:-]+")


class KeyReused(DomainError):
    """The key was first used with another request body: a conflict with what the key already
    stands for, answered 409 like every other refusal of the current state (the portal answers
    400 for bad input and 409 for a conflict, never 422)."""

    status = 409


Made = TypeVar("Made", Order, StandingOrder)
# The key's column that names what it made.
_LINK = {Order: "order_id", StandingOrder: "standing_order_id"}


@dataclass(frozen=True)
class Placed(Generic[Made]):
    """The row under the key, and whether this call made it (False: an earlier call did)."""

    row: Made
    made_now: bool


def valid_key(key: str | None) -> bool:
    """A key the table can hold: 1-200 characters of letters, digits and - _ . :"""
    return key is not None and 0 < len(key) <= MAX_KEY_LENGTH and _KEY.fullmatch(key) is not None


def fingerprint(body: Any) -> str:
    """SHA-256 of the body as canonical JSON: the same content always has the same print."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def once(
    session: Session,
    *,
    user_id: int,
    scope: str,
    key: str,
    make: Callable[[], Made],
    model: type[Made] = Order,
    body_print: str | None = None,
    now: dt.datetime | None = None,
) -> Placed[Made]:
    """The `model` row made under (user, scope, key): `make()`'s new row the first time, the
    first one after that (within LIFETIME). Nothing is committed here: the claim is part of the
    caller's transaction, like the row. With `body_print`, a key first used with another print
    raises KeyReused."""
    if not valid_key(key):
        raise ValueError("invalid idempotency key")  # the view/API checks the key before
    now = now or utcnow()
    mine = (IdempotencyKey.user_id == user_id, IdempotencyKey.scope == scope, IdempotencyKey.key == key)
    # An expired key is free again: its row goes, in this transaction, before the claim.
    session.execute(delete(IdempotencyKey).where(*mine, IdempotencyKey.created_at < now - LIFETIME))
    claim = IdempotencyKey(user_id=user_id, scope=scope, key=key, fingerprint=body_print, created_at=now)
    try:
        with session.begin_nested():
            session.add(claim)
            session.flush()  # PostgreSQL: waits here while another transaction holds the same key
    except IntegrityError:
        return _earlier(session, mine, model, body_print)
    row = make()
    session.flush()
    setattr(claim, _LINK[model], row.id)
    return Placed(row=row, made_now=True)


def _earlier(session: Session, mine: tuple[Any, ...], model: type[Made], body_print: str | None) -> Placed[Made]:
    """The key is taken (committed by another transaction): what it made."""
    existing = session.scalars(select(IdempotencyKey).where(*mine)).one()
    row_id = getattr(existing, _LINK[model])
    order = session.get(model, row_id) if row_id is not None else None
    if order is None:  # a key always commits with its row; the row's deletion takes the key (cascade)
        raise LookupError("idempotency key without its row")
    if body_print is not None and existing.fingerprint is not None and existing.fingerprint != body_print:
        raise KeyReused(
            _(
                "Denne Idempotency-Key er allerede brukt til ordre %(number)s, med et annet innhold. "
                "Bruk en ny nøkkel for en ny bestilling.",
                number=getattr(order, "number", order.id),
            )
        )
    return Placed(row=order, made_now=False)


def purge(session: Session, now: dt.datetime | None = None) -> int:
    """Delete the keys older than LIFETIME (they no longer hold anything back); their number."""
    cutoff = (now or utcnow()) - LIFETIME
    result = session.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at < cutoff))
    return int(getattr(result, "rowcount", 0) or 0)
