"""Two-factor login: TOTP (RFC 6238, pyotp) with one-time recovery codes.

A user is enrolled once a code from the authenticator app has confirmed the secret
(`mfa_enabled_at`). A code is accepted once: the time step it belongs to is kept
(`mfa_last_step`), and a conditional UPDATE lets only one of two simultaneous logins use it.
Recovery codes are stored hashed and used once, by the same kind of UPDATE.

Enrolment (Min profil and /api/v1/mfa/, the user's own account only): `start_enrolment` keeps a
new secret in `mfa_pending_secret` (never used for a login), `confirm_enrolment` makes it the
secret once a code from the app matches it and hands out the recovery codes (shown once). Turning
it off needs a current code or the password and is refused while the user's role requires it
(`MFA_REQUIRED_ROLES`, `MFA_REQUIRED_FOR_STAFF`). Supplier staff reset a user who lost the phone.
After MAX_REFUSALS wrong codes or passwords within REFUSAL_WINDOW (counted in the audit log, where
the web layers record each refusal) the current-factor checks refuse for a while (429).
Each change locks the user's row first, so two changes of one user run one after the other.
Confirming, turning off and a reset give the user a new security stamp: the user's other
sessions and API tokens end (they logged in under the old factor); new recovery codes do not.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

import pyotp
import segno
from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from app.domain import audit
from app.domain.actors import Actor
from app.domain.errors import Forbidden, NotAllowed, NotFound, ValidationFailed
from app.domain.guarded import rows_changed
from app.models import AuditEntry, MfaRecoveryCode, PortalUser, new_security_stamp, utcnow
from app.models import utcnow as audit_clock  # the clock audit entries are stamped with
from app.roles import SUPPLIER_ROLES

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


# --- who must use it ------------------------------------------------------------------------------


def required_roles(config: Mapping[str, Any] | None = None) -> frozenset[str]:
    """The roles that must use two-factor login: MFA_REQUIRED_ROLES (a list or a comma string),
    plus the supplier staff roles when MFA_REQUIRED_FOR_STAFF is on."""
    config = current_app.config if config is None else config
    listed = config.get("MFA_REQUIRED_ROLES") or ()
    if isinstance(listed, str):
        listed = listed.split(",")
    roles = {str(r).strip() for r in listed if str(r).strip()}
    if config.get("MFA_REQUIRED_FOR_STAFF"):
        roles.update(SUPPLIER_ROLES)
    return frozenset(roles)


def role_names(user: Any) -> frozenset[str]:
    roles: Collection[Any] = getattr(user, "roles", None) or ()
    return frozenset(r if isinstance(r, str) else r.name for r in roles)


def required_for(user: Any, config: Mapping[str, Any] | None = None) -> bool:
    """Whether one of the user's roles requires two-factor login (Actor or user row)."""
    names = user.roles if isinstance(user, Actor) else role_names(user)
    return bool(required_roles(config) & set(names))


def must_enrol(user: Any, config: Mapping[str, Any] | None = None) -> bool:
    """The user's role requires two-factor login, and the user has not set it up yet."""
    return required_for(user, config) and not enrolled(user)


# --- enrolment on Min profil and the API (the user's own account) --------------------------------


def _code_missing() -> str:
    return _("Skriv inn koden fra appen.")


def _wrong_code() -> str:
    return _("Koden stemmer ikke. Skriv inn den sekssifrede koden som appen viser nå.")


def _wrong_current_code() -> str:
    return _("Koden stemmer ikke. Skriv inn koden appen viser nå, eller en av gjenopprettingskodene dine.")


@dataclass(frozen=True)
class Status:
    enrolled: bool
    enabled_at: dt.datetime | None
    required: bool
    pending_secret: str | None  # a started enrolment waiting for its confirming code
    recovery_codes_left: int


@dataclass(frozen=True)
class Enrolment:
    secret: str
    uri: str  # otpauth://, what the QR code holds

    @property
    def qr_svg(self) -> str:
        return qr_svg(self.uri)


def qr_svg(uri: str) -> str:
    """The QR code of `uri` as an inline <svg> element (made here: no outside service, no script)."""
    return str(segno.make(uri, error="m").svg_inline(scale=5, title=_("QR-kode for tofaktorinnlogging")))


def group_secret(secret: str) -> str:
    """The secret in groups of four, easier to type into an app by hand."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def _user_for_update(session: Session, user_id: int | None) -> PortalUser | None:
    """The user row, locked until commit (PostgreSQL): one MFA change of a user at a time."""
    if user_id is None:
        return None
    return session.execute(
        select(PortalUser)
        .where(PortalUser.id == user_id)
        .with_for_update(of=PortalUser)
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()


def _own_user(session: Session, actor: Actor) -> PortalUser:
    user = _user_for_update(session, actor.id)
    if user is None:
        raise NotFound(_("Brukeren finnes ikke."))
    return user


def recovery_codes_left(session: Session, user: Any) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(MfaRecoveryCode)
            .where(MfaRecoveryCode.user_id == user.id, MfaRecoveryCode.used_at.is_(None))
        )
        or 0
    )


def status(session: Session, actor: Actor) -> Status:
    user = session.get(PortalUser, actor.id) if actor.id is not None else None
    if user is None:
        raise NotFound(_("Brukeren finnes ikke."))
    on = enrolled(user)
    return Status(
        enrolled=on,
        enabled_at=user.mfa_enabled_at if on else None,
        required=required_for(user),
        pending_secret=user.mfa_pending_secret,
        recovery_codes_left=recovery_codes_left(session, user) if on else 0,
    )


# Wrong codes or passwords on these pages and routes (the audit log's failed MFA entries) before the
# user must wait: a stolen session cannot guess its way to turning the factor off.
MAX_REFUSALS = 10
REFUSAL_WINDOW = dt.timedelta(minutes=15)


class TooManyAttempts(NotAllowed):
    status = 429


def _check_attempts(session: Session, user: PortalUser) -> None:
    since = audit_clock() - REFUSAL_WINDOW
    refused = session.scalar(
        select(func.count())
        .select_from(AuditEntry)
        .where(
            AuditEntry.action == audit.MFA,
            AuditEntry.outcome == audit.FAILED,
            AuditEntry.actor_id == user.id,
            AuditEntry.at >= since,
        )
    )
    if (refused or 0) >= MAX_REFUSALS:
        raise TooManyAttempts(_("For mange feil koder eller passord. Vent et kvarter, og prøv igjen."))


def _check_current_code(session: Session, user: PortalUser, code: str) -> None:
    """A code of the factor in use (TOTP, or a recovery code), used up; else ValidationFailed on "code"."""
    _check_attempts(session, user)
    if not _normalise(code):
        raise ValidationFailed({"code": _code_missing()})
    if not verify_login_code(session, user, code):
        raise ValidationFailed({"code": _wrong_current_code()})


def start_enrolment(session: Session, actor: Actor, code: str = "") -> Enrolment:
    """A new secret, pending until `confirm_enrolment`. Someone already enrolled proves the current
    factor first (a code from the app or a recovery code): a stolen session cannot swap the phone."""
    user = _own_user(session, actor)
    if enrolled(user):
        _check_current_code(session, user, code)
    user.mfa_pending_secret = new_secret()
    session.flush()
    return Enrolment(user.mfa_pending_secret, provisioning_uri(user, user.mfa_pending_secret))


def pending_enrolment(session: Session, actor: Actor) -> Enrolment | None:
    user = session.get(PortalUser, actor.id) if actor.id is not None else None
    if user is None or not user.mfa_pending_secret:
        return None
    return Enrolment(user.mfa_pending_secret, provisioning_uri(user, user.mfa_pending_secret))


def confirm_enrolment(session: Session, actor: Actor, code: str) -> list[str]:
    """The pending secret becomes the user's secret once `code` is one of its codes; returns the new
    recovery codes (their plain text is shown this once). The old secret, if any, stops working."""
    user = _own_user(session, actor)
    pending = user.mfa_pending_secret
    if not pending:
        raise NotAllowed(_("Start oppsettet av tofaktorinnlogging først."))
    if not _normalise(code):
        raise ValidationFailed({"code": _code_missing()})
    step = matching_step(pending, code)
    if step is None:
        raise ValidationFailed({"code": _wrong_code()})
    replaced = enrolled(user)
    user.mfa_secret = pending
    user.mfa_pending_secret = None
    user.mfa_enabled_at = utcnow()
    # The confirming code is used: the same code cannot log in afterwards. (The old secret's step
    # does not matter any more; the new secret's codes start after this one.)
    user.mfa_last_step = step
    user.security_stamp = new_security_stamp()
    codes = new_recovery_codes(session, user)
    _record(session, actor, user, "reenrolled" if replaced else "enrolled")
    session.flush()
    return codes


def regenerate_recovery_codes(session: Session, actor: Actor, code: str) -> list[str]:
    """New recovery codes for the old ones (all of which stop working), after a current code."""
    user = _own_user(session, actor)
    if not enrolled(user):
        raise NotAllowed(_("Tofaktorinnlogging er ikke satt opp."))
    _check_current_code(session, user, code)
    codes = new_recovery_codes(session, user)
    _record(session, actor, user, "recovery_codes_regenerated")
    session.flush()
    return codes


def _clear(session: Session, user: PortalUser) -> None:
    user.mfa_secret = None
    user.mfa_enabled_at = None
    user.mfa_pending_secret = None
    user.mfa_last_step = None
    user.security_stamp = new_security_stamp()
    session.execute(MfaRecoveryCode.__table__.delete().where(MfaRecoveryCode.user_id == user.id))


def disable(session: Session, actor: Actor, *, code: str = "", password: str = "") -> PortalUser:
    """Turn two-factor login off, proven by a current code or the password; never while the user's
    role requires it."""
    user = _own_user(session, actor)
    if not enrolled(user):
        raise NotAllowed(_("Tofaktorinnlogging er ikke satt opp."))
    if required_for(user):
        raise NotAllowed(_("Rollen din krever tofaktorinnlogging, så den kan ikke skrus av."))
    if _normalise(code):
        _check_current_code(session, user, code)
        proof = "code"
    elif password:
        _check_attempts(session, user)
        if not user.password or not check_password_hash(user.password, password):
            raise ValidationFailed({"password": _("Passordet er feil.")})
        proof = "password"
    else:
        raise ValidationFailed({"code": _("Skriv inn en kode fra appen, eller passordet ditt.")})
    _clear(session, user)
    _record(session, actor, user, "disabled", proof=proof)
    session.flush()
    return user


# --- reset by supplier staff (a lost phone) --------------------------------------------------------


def may_reset(actor: Actor, user: Any) -> bool:
    """Admin resets anybody's two-factor login; customer service the customers' users."""
    if actor.is_customer:
        return False
    if actor.has_role("Admin"):
        return True
    return actor.has_role("CustomerService") and getattr(user, "company_id", None) is not None


def _reset(session: Session, actor: Actor | None, user: PortalUser, actor_name: str | None = None) -> PortalUser:
    if not enrolled(user) and not user.mfa_pending_secret:
        raise NotAllowed(_("%(username)s har ikke tofaktorinnlogging.", username=user.username))
    _clear(session, user)
    audit.record(
        session,
        audit.MFA,
        actor=actor,
        actor_name=actor_name,
        target=("user", user.id),
        company_id=user.company_id,
        details={"event": "reset", "username": user.username},
    )
    session.flush()
    return user


def reset(session: Session, actor: Actor, user_id: int) -> PortalUser:
    """Turn off another user's two-factor login (the phone is lost): the user logs in with the
    password alone and, if the role requires it, sets it up again right after. Every session and
    API token of the user ends."""
    user = _user_for_update(session, user_id)
    if user is None:
        raise NotFound(_("Brukeren finnes ikke."))
    if not may_reset(actor, user):
        raise Forbidden(_("Bare systemadministrator og kundeservice kan tilbakestille tofaktorinnlogging."))
    return _reset(session, actor, user)


def reset_by_username(session: Session, username: str) -> PortalUser:
    """`portal mfa-reset USERNAME` (an operator on the server)."""
    found = session.execute(
        select(PortalUser.id).where(PortalUser.username == username).execution_options(skip_tenant_scope=True)
    ).scalar_one_or_none()
    user = _user_for_update(session, found)
    if user is None:
        raise NotFound(_("Brukeren finnes ikke."))
    return _reset(session, None, user, actor_name="portal mfa-reset")


def _record(session: Session, actor: Actor, user: PortalUser, event: str, **details: Any) -> None:
    audit.record(
        session,
        audit.MFA,
        actor=actor,
        target=("user", user.id),
        company_id=user.company_id,
        details={"event": event, **details},
    )


def record_refusal(session: Session, actor: Actor, event: str, fields: Collection[str]) -> None:
    """A refused step (a wrong code or password) in the audit log, outcome "failed". The caller
    commits it on its own, after the refused change was rolled back."""
    audit.record(
        session,
        audit.MFA,
        actor=actor,
        outcome=audit.FAILED,
        target=("user", actor.id),
        details={"event": event, "fields": sorted(fields)},
    )
