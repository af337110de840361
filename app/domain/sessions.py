"""Sessions on the server and revoked API tokens.

A browser login is a `LoginSession` row; the session cookie carries only its id. Every request
finds the row together with the user (app/security.py's user loader), so logout, the idle timeout
and the absolute lifetime end the session here, whatever copy of the cookie is left. A request
writes the row at most once a minute (`TOUCH_EVERY`), not on every page.

An API token (JWT) carries its id (`jti`); logout puts it on the blocklist (`RevokedToken`) until
it would have expired anyway.
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from sqlalchemy import delete, or_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.domain.guarded import rows_changed
from app.models import LoginSession, RevokedToken, utcnow

TOUCH_EVERY = dt.timedelta(minutes=1)

# Why a session is over (`ended`'s answer).
LOGGED_OUT = "logged_out"
IDLE = "idle"
TOO_OLD = "too_old"


def start(session: Session, user: Any, *, client_addr: str | None = None) -> str:
    """A new session of the user, in the caller's transaction; returns its id (for the cookie)."""
    sid = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(
        LoginSession(
            id=sid,
            user_id=user.id,
            created_at=now,
            last_seen_at=now,
            client_addr=(client_addr or None) and client_addr[:64],
        )
    )
    return sid


def ended(
    row: LoginSession, *, idle: dt.timedelta, max_age: dt.timedelta, now: dt.datetime | None = None
) -> str | None:
    """None while the session holds, else why it is over."""
    now = now or utcnow()
    if row.ended_at is not None:
        return LOGGED_OUT
    if now - row.created_at >= max_age:
        return TOO_OLD
    if now - row.last_seen_at >= idle:
        return IDLE
    return None


def needs_touch(row: LoginSession, now: dt.datetime | None = None) -> bool:
    return (now or utcnow()) - row.last_seen_at >= TOUCH_EVERY


def touch(session: Session, sid: str, now: dt.datetime | None = None) -> None:
    """The session was used now (its idle time starts again)."""
    session.execute(
        update(LoginSession)
        .where(LoginSession.id == sid, LoginSession.ended_at.is_(None))
        .values(last_seen_at=now or utcnow())
        .execution_options(synchronize_session=False)
    )


def end(session: Session, sid: str | None) -> bool:
    """End a session (logout, timeout); True if it was still going."""
    if not sid:
        return False
    return bool(
        rows_changed(
            session,
            update(LoginSession)
            .where(LoginSession.id == sid, LoginSession.ended_at.is_(None))
            .values(ended_at=utcnow())
            .execution_options(synchronize_session=False),
        )
    )


def revoke_token(session: Session, payload: dict[str, Any]) -> bool:
    """Put a decoded JWT on the blocklist until it expires; True if it was not there yet."""
    jti = payload.get("jti")
    if not jti:
        return False
    exp = payload.get("exp")
    expires = dt.datetime.fromtimestamp(int(exp), dt.UTC) if exp else utcnow() + dt.timedelta(days=365)
    sub = payload.get("sub")
    try:
        with session.begin_nested():
            session.add(
                RevokedToken(
                    jti=str(jti)[:64],
                    user_id=int(sub) if sub is not None and str(sub).isdigit() else None,
                    token_type=str(payload.get("type", "access"))[:10],
                    expires_at=expires,
                    revoked_at=utcnow(),
                )
            )
    except IntegrityError:  # revoked already (two logouts with the same token)
        return False
    return True


def purge(session: Session, *, max_age: dt.timedelta) -> tuple[int, int]:
    """Delete sessions that have ended or outlived `max_age`, and blocklist rows of tokens that
    have expired anyway. Returns (sessions, tokens) deleted."""
    now = utcnow()
    sessions = session.execute(
        delete(LoginSession).where(or_(LoginSession.ended_at.is_not(None), LoginSession.created_at < now - max_age))
    )
    tokens = session.execute(delete(RevokedToken).where(RevokedToken.expires_at < now))
    return int(getattr(sessions, "rowcount", 0) or 0), int(getattr(tokens, "rowcount", 0) or 0)
