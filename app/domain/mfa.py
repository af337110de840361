"""Two-factor login: TOTP (RFC 6238, pyotp) with one-time recovery codes.

A user is enrolled once a code from the authenticator app has confirmed the secret
(`mfa_enabled_at`). A code is accepted once: the time step it belongs to is kept
(`mfa_last_step`), and a conditional UPDATE lets only one of two simultaneous logins use it.
Recovery codes are stored hashed and used once, by the same kind of UPDATE.
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

import pyotp
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from app.domain.statements import rows_changed
from app.models import MfaRecoveryCode, PortalUser, utcnow

ISSUER = "Kundeportal"
RECOVERY_CODES = 10
# One step (30 s) either side: the phone's clock may be a little off.
VALID_WINDOW = 1


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(user: Any, secret: str) -> str:
    """The otpauth:// URI an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name=ISSUER)


def enrolled(user: Any) -> bool:
    """The user has confirmed two-factor login: every login asks for a code."""
    return bool(getattr(user, "mfa_secret", None)) and getattr(user, "mfa_enabled_at", None) is not None


def _normalise(code: str) -> str:
    return "".join(ch for ch in (code or "") if not ch.isspace() and ch != "-")


def matching_step(secret: str, code: str, at: dt.datetime | None = None) -> int | None:
    """The time step whose TOTP code `code` is, within the allowed clock drift, or None."""
    code = _normalise(code)
    if not (len(code) == 6 and code.isdigit()):
        return None
    totp = pyotp.TOTP(secret)
    moment = at or utcnow()
    now_step = int(moment.timestamp()) // totp.interval
    for step in range(now_step - VALID_WINDOW, now_step + VALID_WINDOW + 1):
        if secrets.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def use_totp_code(session: Session, user: Any, code: str, *, secret: str | None = None) -> bool:
    """Accept a TOTP code once: True if it is right and its time step is later than any used
    before (one of two simultaneous uses wins). `secret` checks a secret not yet stored
    (confirming enrolment)."""
    secret = secret or user.mfa_secret
    if not secret:
        return False
    step = matching_step(secret, code)
    if step is None:
        return False
    won = rows_changed(
        session,
        update(PortalUser)
        .where(PortalUser.id == user.id)
        .where(or_(PortalUser.mfa_last_step.is_(None), PortalUser.mfa_last_step < step))
        .values(mfa_last_step=step)
        .execution_options(synchronize_session=False),
    )
    if won:
        user.mfa_last_step = step
    return bool(won)


def new_recovery_codes(session: Session, user: Any) -> list[str]:
    """Replace the user's recovery codes with new ones; the plain codes are shown once."""
    session.execute(MfaRecoveryCode.__table__.delete().where(MfaRecoveryCode.user_id == user.id))
    # 48 random bits each; hashed with a slow hash, as a password would be.
    codes = [f"{secrets.token_hex(3)}-{secrets.token_hex(3)}" for _ in range(RECOVERY_CODES)]
    for code in codes:
        session.add(
            MfaRecoveryCode(
                user_id=user.id, code_hash=generate_password_hash(_normalise(code), method="pbkdf2:sha256:60000")
            )
        )
    return codes


def use_recovery_code(session: Session, user: Any, code: str) -> bool:
    """Accept an unused recovery code once (one of two simultaneous uses wins)."""
    code = _normalise(code).lower()
    if len(code) != 12:
        return False
    rows = session.execute(
        select(MfaRecoveryCode.id, MfaRecoveryCode.code_hash).where(
            MfaRecoveryCode.user_id == user.id, MfaRecoveryCode.used_at.is_(None)
        )
    ).all()
    for row_id, code_hash in rows:
        if check_password_hash(code_hash, code):
            return bool(
                rows_changed(
                    session,
                    update(MfaRecoveryCode)
                    .where(MfaRecoveryCode.id == row_id, MfaRecoveryCode.used_at.is_(None))
                    .values(used_at=utcnow())
                    .execution_options(synchronize_session=False),
                )
            )
    return False


def verify_login_code(session: Session, user: Any, code: str) -> bool:
    """The second step of a login: a TOTP code, or else one of the recovery codes."""
    return use_totp_code(session, user, code) or use_recovery_code(session, user, code)
