"""Accounts: "Min profil" (own contact details, password, newsletter) and "Brukere" (a company's users).

Rules, once, for the HTML views and the REST API:

* Password policy: app/domain/passwords.py (length, not the username, not common or guessable),
  for every password a person sets. Hashed with werkzeug like FAB (FAB_PASSWORD_HASH_METHOD,
  default scrypt).
* Security stamp: every session and API token carries the user's `security_stamp`
  (app/security.py). Setting a new password or deactivating a user gives a new stamp, so every
  other session and token of that user ends at once. This holds through every door (our pages,
  FAB's user admin and password reset, the CLI): attribute events below rotate the stamp
  whenever `password` is set or `active` turns False.
* Users of a company are managed by its customer admins (their own company only) and by
  customer service and Admin (any company). A new user gets a customer role only (Admin may
  also create supplier staff, without a company) and a welcome mail with a link to set the
  password; the link expires (PASSWORD_LINK_HOURS) and works once (it is bound to the current
  password hash and stamp). A company always keeps at least one active customer admin.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Collection, Iterable
from typing import Any

from flask import current_app
from flask_appbuilder.security.sqla.models import Role
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import event, func, inspect, select
from sqlalchemy.orm import InstanceState, Session
from werkzeug.security import check_password_hash, generate_password_hash

from app.domain import audit
from app.domain.actors import Actor
from app.domain.errors import (
    Forbidden,
    NotAllowed,
    NotFound,
    ValidationFailed,
)
from app.domain.links import portal_link
from app.domain.mail import queue_template_mail
from app.domain.passwords import check_password, password_problem
from app.domain.validation import InvalidValue, validate_email, validate_phone
from app.models import Company, MailOutbox, PortalUser, new_security_stamp
from app.roles import ALL_ROLES, CUSTOMER_ADMIN, CUSTOMER_ROLES

CUSTOMER_USER = "CustomerUser"

PASSWORD_LINK_HOURS = 72  # overridable with the config key of the same name
_LINK_SALT = "kundeportal.set-password"

_USERNAME = re.compile(r"^[A-Za-z0-9._@-]{3,64}$")

MSG_LAST_ADMIN = _l("Bedriften må ha minst én aktiv administrator. Gjør en annen bruker til administrator først.")
MSG_STAFF_USER = _l("Våre egne ansatte administreres av systemadministrator.")
MSG_LINK_EXPIRED = _l("Lenken er utløpt. Be administratoren i bedriften din (eller kundeservice) om en ny lenke.")
MSG_LINK_INVALID = _l("Lenken er ugyldig. Sjekk at du har kopiert hele lenken fra e-posten.")
MSG_LINK_USED = _l("Lenken er allerede brukt eller erstattet av en nyere. Logg inn, eller be om en ny lenke.")
MSG_NO_COMPANY = _l("Fant ingen bedrift med dette kundenummeret.")
MSG_NO_ROLE = _l("Velg minst én rolle.")
MSG_CUSTOMER_NEEDS_COMPANY = _l("En kundebruker må høre til en bedrift (kundenummer).")
MSG_CUSTOMER_ROLES_ONLY = _l("Brukere hos en kunde kan bare ha kunderoller.")

# The field a refused set-password link is reported on (the page shows it instead of the form).
LINK_FIELD = "link"


class PasswordLinkInvalid(ValidationFailed):
    """The set-password link is expired, used, replaced or not ours (shown on the page)."""

    def __init__(self, message: Any) -> None:
        super().__init__({LINK_FIELD: str(message)})


# --- the security stamp follows password and active, whoever changes them ----------------------


@event.listens_for(PortalUser.password, "set")
def _new_stamp_on_password(target: PortalUser, value: Any, oldvalue: Any, initiator: Any) -> None:
    if value != oldvalue:
        target.security_stamp = new_security_stamp()


@event.listens_for(PortalUser.active, "set")
def _new_stamp_on_deactivation(target: PortalUser, value: Any, oldvalue: Any, initiator: Any) -> None:
    if value is False and oldvalue is not False:
        target.security_stamp = new_security_stamp()


# --- passwords --------------------------------------------------------------------------------


def hash_password(password: str) -> str:
    """Hashed like FAB's own password reset (same method and salt length settings)."""
    config = current_app.config
    return generate_password_hash(
        password,
        method=config.get("FAB_PASSWORD_HASH_METHOD", "scrypt"),
        salt_length=config.get("FAB_PASSWORD_HASH_SALT_LENGTH", 16),
    )


def _personal(user: PortalUser) -> tuple[str | None, ...]:
    """What the user's password must not be built from, besides the username."""
    return (user.first_name, user.last_name, user.email)


def new_password_problem(password: str, user: PortalUser | None) -> str | None:
    """The policy for this user's new password (not built from the user's username, name or e-mail)."""
    if user is None:
        return password_problem(password)
    return password_problem(password, user.username, personal=_personal(user))


def check_new_password(password: Any, user: PortalUser) -> str:
    """The password if it meets the policy for this user; else ValidationFailed on "password"."""
    return check_password(password, user.username, personal=_personal(user))


def _new_password_errors(password: str, confirm: str, user: PortalUser) -> dict[str, str]:
    errors: dict[str, str] = {}
    if not password:
        errors["password"] = _("Skriv et nytt passord.")
    else:
        problem = new_password_problem(password, user)
        if problem:
            errors["password"] = problem
        elif confirm != password:
            errors["confirm_password"] = _("Passordene er ikke like.")
    return errors


def change_password(session: Session, actor: Actor, *, current: str, password: str, confirm: str) -> PortalUser:
    """The user's own password: the current one first, then the policy. A new stamp ends the
    user's other sessions and API tokens (the caller keeps its own session by storing the new
    stamp in it)."""
    user = _own_user(session, actor)
    errors: dict[str, str] = {}
    if not current or not user.password or not check_password_hash(user.password, current):
        errors["current_password"] = _("Nåværende passord er feil.")
    errors.update(_new_password_errors(password or "", confirm or "", user))
    if not errors and current == password:
        errors["password"] = _("Det nye passordet må være forskjellig fra det nåværende.")
    if errors:
        raise ValidationFailed(errors)
    user.password = hash_password(password)  # rotates the stamp (event above)
    _audit_password(session, user, "own", actor=actor)
    session.flush()
    return user


def _audit_password(
    session: Session, user: PortalUser, how: str, actor: Any = None, actor_name: str | None = None
) -> None:
    """A password was set (never the password or its hash): "own" (Min profil), "link" (the
    set-password link; the user is the actor), "admin_reset" (Admin), "cli" (on the server)."""
    audit.record(
        session,
        audit.PASSWORD_CHANGED,
        actor=actor,
        actor_name=actor_name,
        target=("user", user.id),
        company_id=user.company_id,
        details={"how": how, "username": user.username},
    )


def _set_password(session: Session, user: PortalUser, password: Any) -> PortalUser:
    # A new hash rotates the stamp: the user's sessions and API tokens end.
    user.password = hash_password(check_new_password(password, user))
    user.fail_login_count = 0
    session.flush()
    return user


def reset_password(session: Session, actor: Actor, user_id: int, password: Any) -> PortalUser:
    """The user admin's "reset password" (FAB's form): Admin sets another user's password, same
    policy. Everybody else sends a set-password link instead (`send_password_link`)."""
    if not actor.has_role("Admin"):
        raise Forbidden(_("Bare systemadministrator kan sette passordet til en annen bruker."))
    user = session.get(PortalUser, user_id)
    if user is None:
        raise NotFound(_("Brukeren finnes ikke."))
    _set_password(session, user, password)
    _audit_password(session, user, "admin_reset", actor=actor)
    return user


def set_password_by_username(session: Session, username: str, password: Any) -> PortalUser:
    """`portal set-password USERNAME` (an operator on the server): the policy holds there too."""
    user = session.execute(
        select(PortalUser).where(PortalUser.username == username).execution_options(skip_tenant_scope=True)
    ).scalar_one_or_none()
    if user is None:
        raise NotFound(_("Brukeren finnes ikke."))
    _set_password(session, user, password)
    _audit_password(session, user, "cli", actor_name="portal set-password")
    return user


# --- own profile ------------------------------------------------------------------------------


def _own_user(session: Session, actor: Actor) -> PortalUser:
    user = session.get(PortalUser, actor.id) if actor.id is not None else None
    if user is None:
        raise NotFound(_("Brukeren finnes ikke."))
    return user


def _clean_text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _contact_errors(first_name: str, last_name: str, email: str, phone: str) -> dict[str, str]:
    errors: dict[str, str] = {}
    for field, value, missing in (
        ("first_name", first_name, _("Skriv fornavnet.")),
        ("last_name", last_name, _("Skriv etternavnet.")),
    ):
        if not value:
            errors[field] = missing
        elif len(value) > 64:
            errors[field] = _("Høyst %(max)s tegn.", max=64)
    if not email:
        errors["email"] = _("Skriv e-postadressen.")
    for field, value, rule in (("email", email, validate_email), ("phone", phone, validate_phone)):
        if value:
            try:
                rule(value)
            except InvalidValue as exc:
                errors[field] = str(exc.message)
    return errors


def _taken(session: Session, column: Any, value: str, except_id: int | None = None) -> bool:
    """Unique across ALL companies (logins and e-mail addresses are global): read past the scope."""
    stmt = select(PortalUser.id).where(func.lower(column) == value.lower()).limit(1)
    if except_id is not None:
        stmt = stmt.where(PortalUser.id != except_id)
    return session.execute(stmt.execution_options(skip_tenant_scope=True)).first() is not None


def update_contact(
    session: Session, actor: Actor, *, first_name: Any, last_name: Any, email: Any, phone: Any
) -> PortalUser:
    """Min profil: the user's own name, e-mail and phone (username, company and roles are not theirs to change)."""
    user = _own_user(session, actor)
    first, last = _clean_text(first_name), _clean_text(last_name)
    mail, tel = _clean_text(email), _clean_text(phone)
    errors = _contact_errors(first, last, mail, tel)
    if "email" not in errors and _taken(session, PortalUser.email, mail, except_id=user.id):
        errors["email"] = _("E-postadressen er allerede i bruk av en annen bruker.")
    if errors:
        raise ValidationFailed(errors)
    new = {"first_name": first, "last_name": last, "email": mail, "phone": tel or None}
    changed = {
        k: {"old": getattr(user, k), "new": v} for k, v in new.items() if (getattr(user, k) or None) != (v or None)
    }
    user.first_name, user.last_name, user.email, user.phone = first, last, mail, tel or None
    if changed:
        _audit_user(session, actor, user, "contact_updated", fields=changed)
    session.flush()
    return user


def set_newsletter(session: Session, actor: Actor, subscribe: bool) -> PortalUser:
    user = _own_user(session, actor)
    user.newsletter = bool(subscribe)
    session.flush()
    return user


# --- set-password links -----------------------------------------------------------------------


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=_LINK_SALT)


def _fingerprint(user: PortalUser) -> str:
    """Changes when the password is set or the stamp rotates: a link works once."""
    raw = f"{user.id}|{user.password or ''}|{user.security_stamp or ''}"
    return hashlib.sha256(raw.encode()).hexdigest()[:24]


def link_hours() -> int:
    return int(current_app.config.get("PASSWORD_LINK_HOURS", PASSWORD_LINK_HOURS))


def password_link_token(user: PortalUser) -> str:
    return _serializer().dumps({"u": user.id, "f": _fingerprint(user)})


def password_link(user: PortalUser) -> str:
    return portal_link(f"/passord/{password_link_token(user)}")


def token_user_id(token: str) -> int | None:
    """The user a link is for, if the signature holds (expiry not checked): to know whose page it is."""
    try:
        data = _serializer().loads(token)
    except BadSignature:
        return None
    return data.get("u") if isinstance(data, dict) and isinstance(data.get("u"), int) else None


def user_for_link(session: Session, token: str) -> PortalUser:
    """The user a set-password link belongs to, or PasswordLinkInvalid (expired/used/not ours)."""
    try:
        data = _serializer().loads(token, max_age=link_hours() * 3600)
    except SignatureExpired as exc:
        raise PasswordLinkInvalid(str(MSG_LINK_EXPIRED)) from exc
    except BadSignature as exc:
        raise PasswordLinkInvalid(str(MSG_LINK_INVALID)) from exc
    if not isinstance(data, dict) or not isinstance(data.get("u"), int):
        raise PasswordLinkInvalid(str(MSG_LINK_INVALID))
    # The link, not a login, says who this is: read past the tenancy scope.
    user = session.execute(
        select(PortalUser).where(PortalUser.id == data["u"]).execution_options(skip_tenant_scope=True)
    ).scalar_one_or_none()
    if user is None or not user.active or data.get("f") != _fingerprint(user):
        raise PasswordLinkInvalid(str(MSG_LINK_USED))
    return user


def set_password_from_link(session: Session, token: str, *, password: str, confirm: str) -> PortalUser:
    """The public /passord/<token> page: set the password (policy); the link then stops working."""
    user = user_for_link(session, token)
    errors = _new_password_errors(password or "", confirm or "", user)
    if errors:
        raise ValidationFailed(errors)
    user.password = hash_password(password)  # new hash and stamp: the link is used up
    user.fail_login_count = 0
    _audit_password(session, user, "link", actor=user)
    session.flush()
    return user


def _queue_password_mail(session: Session, user: PortalUser, welcome: bool) -> MailOutbox:
    """The welcome mail of a new user, or a new link (app/templates/mail/user_welcome.txt, password_link.txt)."""
    kind = "user_welcome" if welcome else "password_link"
    return queue_template_mail(
        session,
        kind=kind,
        to=user.email,
        template=kind,
        link=password_link(user),
        name=f"{user.first_name} {user.last_name}".strip(),
        username=user.username,
        hours=link_hours(),
        company=user.company.name if user.company is not None else "Kundeportal",
    )


# --- managing a company's users -----------------------------------------------------------------


def may_manage_users(actor: Actor, company_id: int | None) -> bool:
    if actor.is_customer_service:
        return True
    return actor.is_customer_admin and company_id == actor.company_id


def _role(session: Session, name: str) -> Role:
    role = session.scalars(select(Role).where(Role.name == name)).first()
    if role is None:  # `portal init` has not run
        raise NotAllowed(_("Rollen %(role)s finnes ikke. Kjør `portal init`.", role=name))
    return role


def assignable_roles(actor: Actor) -> tuple[str, ...]:
    """Roles this actor may give a user: customer roles; Admin also supplier roles."""
    if actor.has_role("Admin"):
        return ALL_ROLES
    return CUSTOMER_ROLES


def role_company_errors(role_names: Collection[str], has_company: bool) -> dict[str, str]:
    """A user has a role; customer roles need a company, and a company's users have customer roles only.
    Field -> message ("role", "company_id"); empty when the roles fit."""
    names = set(role_names)
    if not names:
        return {"role": str(MSG_NO_ROLE)}
    if names & set(CUSTOMER_ROLES) and not has_company:
        return {"company_id": str(MSG_CUSTOMER_NEEDS_COMPANY)}
    if has_company and names - set(CUSTOMER_ROLES):
        return {"role": str(MSG_CUSTOMER_ROLES_ONLY)}
    return {}


def company_by_customer_number(session: Session, number: Any) -> int | None:
    """The id of the company with this customer number, through the (tenant-scoped) session:
    a customer finds only its own. None for a blank number; ValidationFailed when none has it."""
    text = _clean_text(number)
    if not text:
        return None
    company_id = session.scalar(select(Company.id).where(Company.customer_number == text))
    if company_id is None:
        raise ValidationFailed({"customer_number": str(MSG_NO_COMPANY)})
    return company_id


def create_user(
    session: Session,
    actor: Actor,
    *,
    first_name: Any,
    last_name: Any,
    email: Any,
    username: Any,
    role: Any = CUSTOMER_USER,
    phone: Any = None,
    company_id: int | None = None,
    customer_number: Any = None,
) -> tuple[PortalUser, MailOutbox]:
    """A new user with a welcome mail (set-password link) in the outbox, in the caller's transaction.

    Customer admins create users of their own company only (`company_id` is theirs; naming
    another company is refused); customer service names any company, by `company_id` or by
    `customer_number`. Customer roles only, except that Admin may create supplier staff (no company).
    """
    if actor.is_customer and not actor.is_customer_admin:
        raise Forbidden(_("Bare administratoren i bedriften kan opprette brukere."))
    if not actor.is_customer and not actor.is_customer_service:
        raise Forbidden(_("Du kan ikke opprette brukere."))
    if company_id is None:
        company_id = company_by_customer_number(session, customer_number)
    if actor.is_customer:
        if company_id is not None and company_id != actor.company_id:
            raise ValidationFailed({"company_id": _("Du kan bare opprette brukere i din egen bedrift.")})
        company_id = actor.company_id

    first, last = _clean_text(first_name), _clean_text(last_name)
    mail, tel = _clean_text(email), _clean_text(phone)
    login = _clean_text(username)
    errors = _contact_errors(first, last, mail, tel)
    if not login:
        errors["username"] = _("Skriv et brukernavn.")
    elif not _USERNAME.match(login):
        errors["username"] = _(
            "Brukernavnet kan ha 3–64 tegn: bokstaver a–z, tall, punktum, bindestrek, understrek og @."
        )
    elif _taken(session, PortalUser.username, login):
        errors["username"] = _("Brukernavnet er allerede i bruk. Velg et annet.")
    if "email" not in errors and _taken(session, PortalUser.email, mail):
        errors["email"] = _("E-postadressen er allerede i bruk av en annen bruker.")

    company: Company | None = None
    if company_id is not None:
        company = session.get(Company, company_id)  # scoped: a customer sees only its own
        if company is None:
            errors["company_id"] = str(MSG_NO_COMPANY)
    role_name = role if isinstance(role, str) else ""
    if role_name not in assignable_roles(actor):
        errors["role"] = _("Velg rollen «Bruker» eller «Administrator hos kunde».")
    else:
        errors.update(role_company_errors({role_name}, company_id is not None))
    if errors:
        raise ValidationFailed(errors)

    user = PortalUser(
        first_name=first,
        last_name=last,
        email=mail,
        username=login,
        phone=tel or None,
        company=company,
        active=True,
        newsletter=False,
        # Nobody knows this password: the user chooses one from the welcome mail.
        password=hash_password(secrets.token_urlsafe(32)),
    )
    user.roles = [_role(session, role_name)]
    session.add(user)
    session.flush()
    _audit_user(session, actor, user, "created", roles=[role_name])
    mail_row = _queue_password_mail(session, user, welcome=True)
    session.flush()
    return user, mail_row


def _managed_user(session: Session, actor: Actor, user_id: int) -> PortalUser:
    """A customer user this actor may manage; another company's user is NotFound (404)."""
    user = session.get(PortalUser, user_id)  # scoped to the customer's company by the guard
    if user is None or (actor.is_customer and user.company_id != actor.company_id):
        raise NotFound(_("Brukeren finnes ikke."))
    if not may_manage_users(actor, user.company_id):
        raise Forbidden(_("Bare administratoren i bedriften kan endre brukere."))
    if user.company_id is None:
        raise NotAllowed(str(MSG_STAFF_USER))
    return user


def _audit_user(session: Session, actor: Actor | None, user: PortalUser, change: str, **details: Any) -> None:
    """A change to a user (created, deactivated, activated, promoted, demoted, edited, a new
    password link) in the audit log; the tenant is the user's company."""
    audit.record(
        session,
        audit.USER_CHANGED,
        actor=actor,
        target=("user", user.id),
        company_id=user.company_id,
        details={"change": change, "username": user.username, **details},
    )


def _role_names(roles: Iterable[Role]) -> set[str]:
    return {r.name for r in roles}


def other_active_admins(session: Session, company_id: int, user_id: int | None) -> int:
    """Active customer admins of the company other than `user_id`. Locks the company row first
    (PostgreSQL), so two admins demoting each other at once cannot both succeed."""
    session.execute(select(Company.id).where(Company.id == company_id).with_for_update())
    stmt = (
        select(func.count(PortalUser.id))
        .join(PortalUser.roles)
        .where(Role.name == CUSTOMER_ADMIN, PortalUser.company_id == company_id, PortalUser.active.is_(True))
    )
    if user_id is not None:
        stmt = stmt.where(PortalUser.id != user_id)
    return int(session.scalar(stmt) or 0)


def _keep_one_admin(session: Session, user: PortalUser) -> None:
    if user.company_id is not None and other_active_admins(session, user.company_id, user.id) == 0:
        raise NotAllowed(str(MSG_LAST_ADMIN))


def deactivate_user(session: Session, actor: Actor, user_id: int) -> PortalUser:
    """Removes access at once: a new stamp ends the user's sessions and API tokens."""
    user = _managed_user(session, actor, user_id)
    if user.id == actor.id:
        raise NotAllowed(_("Du kan ikke deaktivere deg selv."))
    if not user.active:
        raise NotAllowed(_("Brukeren er allerede deaktivert."))
    if CUSTOMER_ADMIN in _role_names(user.roles):
        _keep_one_admin(session, user)
    user.active = False  # rotates the stamp (event above)
    _audit_user(session, actor, user, "deactivated")
    session.flush()
    return user


def activate_user(session: Session, actor: Actor, user_id: int) -> PortalUser:
    user = _managed_user(session, actor, user_id)
    if user.active:
        raise NotAllowed(_("Brukeren er allerede aktiv."))
    user.active = True
    user.fail_login_count = 0
    _audit_user(session, actor, user, "activated")
    session.flush()
    return user


def promote_user(session: Session, actor: Actor, user_id: int) -> PortalUser:
    """Bruker -> Administrator hos kunde (one customer role per user)."""
    user = _managed_user(session, actor, user_id)
    if CUSTOMER_ADMIN in _role_names(user.roles):
        raise NotAllowed(_("Brukeren er allerede administrator."))
    old = sorted(_role_names(user.roles))
    user.roles = [_role(session, CUSTOMER_ADMIN)]
    _audit_user(session, actor, user, "promoted", roles={"old": old, "new": [CUSTOMER_ADMIN]})
    session.flush()
    return user


def demote_user(session: Session, actor: Actor, user_id: int) -> PortalUser:
    """Administrator hos kunde -> Bruker, never the company's last active admin."""
    user = _managed_user(session, actor, user_id)
    if CUSTOMER_ADMIN not in _role_names(user.roles):
        raise NotAllowed(_("Brukeren er ikke administrator."))
    if user.active:
        _keep_one_admin(session, user)
    old = sorted(_role_names(user.roles))
    user.roles = [_role(session, CUSTOMER_USER)]
    _audit_user(session, actor, user, "demoted", roles={"old": old, "new": [CUSTOMER_USER]})
    session.flush()
    return user


def send_password_link(session: Session, actor: Actor, user_id: int) -> MailOutbox:
    """A fresh set-password link (e.g. the welcome link expired). Links still valid keep working
    until one of them is used (the password hash changes) or they expire; open sessions stay."""
    user = _managed_user(session, actor, user_id)
    if not user.active:
        raise NotAllowed(_("Aktiver brukeren før du sender en ny lenke."))
    _audit_user(session, actor, user, "password_link_sent")
    return _queue_password_mail(session, user, welcome=False)


# What FAB's user edit form changes that the audit log names (never the password).
_EDIT_AUDITED = ("first_name", "last_name", "username", "email", "phone", "active")


def check_user_edit(session: Session, user: PortalUser, actor: Actor | None = None) -> None:
    """FAB's user edit form (customer service, Admin): the last-admin rule for `active`, roles and
    company changed there, then the changes into the audit log (in the edit's transaction).
    Reads the values before the edit from the attribute history."""
    state: InstanceState[PortalUser] = inspect(user)
    if state.transient or state.pending:
        return
    _check_last_admin(session, user, state)
    _audit_user_edit(session, user, state, actor)


def _audit_user_edit(session: Session, user: PortalUser, state: InstanceState[PortalUser], actor: Actor | None) -> None:
    """One entry for a saved edit: the fields that changed (old -> new), the roles (USER_CHANGED),
    and, when the roles changed, a ROLE_CHANGED entry too (a user's roles are access rights)."""
    changes: dict[str, Any] = {}
    for key in _EDIT_AUDITED:
        old, new = _before(state, key), getattr(user, key)
        if old != new and not (old in (None, "") and new in (None, "")):  # a blank phone stays blank
            changes[key] = {"old": old, "new": new}
    old_company, new_company = _before(state, "company"), user.company
    if old_company is not new_company:
        changes["company"] = {
            "old": old_company.customer_number if old_company is not None else None,
            "new": new_company.customer_number if new_company is not None else None,
        }
    roles_hist = state.attrs.roles.load_history()
    old_roles = sorted(_role_names([*roles_hist.unchanged, *roles_hist.deleted]))
    new_roles = sorted(_role_names(user.roles or []))
    if not changes and old_roles == new_roles:
        return
    if old_roles != new_roles:
        changes["roles"] = {"old": old_roles, "new": new_roles}
        audit.record(
            session,
            audit.ROLE_CHANGED,
            actor=actor,
            target=("user", user.id),
            company_id=new_company.id if new_company is not None else None,
            details={"change": "user_roles", "username": user.username, "old": old_roles, "new": new_roles},
        )
    audit.record(
        session,
        audit.USER_CHANGED,
        actor=actor,
        target=("user", user.id),
        company_id=new_company.id if new_company is not None else None,
        details={"change": "edited", "username": user.username, "fields": changes},
    )


def _check_last_admin(session: Session, user: PortalUser, state: InstanceState[PortalUser]) -> None:
    was_active = _before(state, "active")
    old_company = _before(state, "company")
    roles_hist = state.attrs.roles.load_history()
    old_roles = _role_names([*roles_hist.unchanged, *roles_hist.deleted])
    if not (was_active and old_company is not None and CUSTOMER_ADMIN in old_roles):
        return
    still_admin = user.active and user.company is old_company and CUSTOMER_ADMIN in _role_names(user.roles or [])
    if not still_admin and other_active_admins(session, old_company.id, user.id) == 0:
        raise NotAllowed(str(MSG_LAST_ADMIN))


def _before(state: Any, key: str) -> Any:
    history = state.attrs[key].load_history()
    if history.deleted:
        return history.deleted[0]
    if history.unchanged:
        return history.unchanged[0]
    return getattr(state.obj(), key)


def company_admins(session: Session, company_id: int) -> list[PortalUser]:
    """The active customer admins of a company (shown to its users on Min profil)."""
    stmt = (
        select(PortalUser)
        .join(PortalUser.roles)
        .where(Role.name == CUSTOMER_ADMIN, PortalUser.company_id == company_id, PortalUser.active.is_(True))
        .order_by(PortalUser.last_name, PortalUser.first_name)
    )
    return list(session.scalars(stmt))
