"""The audit log: who did what to which row, when (UTC), for which company, from where, and how it
went. An entry is added in the transaction of the change it records (a rolled-back change leaves
none) and, once committed, goes out as one JSON log line on the `portal.audit` logger; JSON escapes
CR/LF, so user text in an entry cannot forge a line. The table takes INSERTs only (migration 0007).
"""

from __future__ import annotations

import json
import logging
from contextvars import ContextVar
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement, event, true
from sqlalchemy.orm import Session

from app.domain.actors import Actor
from app.models import AuditEntry, utcnow

log = logging.getLogger("portal.audit")

# --- what is recorded (the `action` column) ----------------------------------------------------
LOGIN = "login"
LOGOUT = "logout"
MFA = "mfa"
ACCESS_DENIED = "access_denied"
ORDER_APPROVED = "order_approved"
ORDER_REJECTED = "order_rejected"
ORDER_CANCELLED = "order_cancelled"
USER_CHANGED = "user_changed"
ROLE_CHANGED = "role_changed"
COMPANY_CHANGED = "company_changed"
PASSWORD_CHANGED = "password_changed"
INVOICE_PAID = "invoice_paid"  # Kontoutskrift: "Registrer innbetaling" (app/domain/statements.py)

# --- how it went (the `outcome` column) --------------------------------------------------------
OK = "ok"
FAILED = "failed"
DENIED = "denied"

# Labels for people (the list and the API's `<column>_label`), in bokmål.
ACTION_LABELS: dict[str, Any] = {
    LOGIN: _l("Innlogging"),
    LOGOUT: _l("Utlogging"),
    MFA: _l("Tofaktor"),
    ACCESS_DENIED: _l("Ingen tilgang"),
    ORDER_APPROVED: _l("Ordre godkjent"),
    ORDER_REJECTED: _l("Ordre avvist"),
    ORDER_CANCELLED: _l("Ordre kansellert"),
    USER_CHANGED: _l("Bruker endret"),
    ROLE_CHANGED: _l("Rolle endret"),
    COMPANY_CHANGED: _l("Bedrift endret"),
    PASSWORD_CHANGED: _l("Passord endret"),
    INVOICE_PAID: _l("Innbetaling registrert"),
}
OUTCOME_LABELS: dict[str, Any] = {OK: _l("OK"), FAILED: _l("Mislyktes"), DENIED: _l("Avvist")}

# Bounds for text taken from a request (a denied path can be as long as the client likes).
MAX_PATH = 300

_PENDING_KEY = "portal.audit.pending"
_LINES_KEY = "portal.audit.lines"


# The client's address (behind the proxy: from ProxyFix), set by the web layer for each request
# (app/__init__.py); None in jobs and the CLI.
_client_addr: ContextVar[str | None] = ContextVar("portal_audit_client_addr", default=None)


def set_client_addr(addr: str | None) -> None:
    _client_addr.set(addr)


def client_addr() -> str | None:
    return _client_addr.get()


def _actor_fields(actor: Actor | Any | None) -> tuple[int | None, str | None, int | None]:
    if actor is None:
        return None, None, None
    if isinstance(actor, Actor):
        return actor.id, actor.name, actor.company_id
    # a user row (PortalUser): the username names it best in a log
    return getattr(actor, "id", None), getattr(actor, "username", None), getattr(actor, "company_id", None)


def record(
    session: Session,
    action: str,
    *,
    actor: Actor | Any | None = None,
    outcome: str = OK,
    target: tuple[str, Any] | None = None,
    company_id: int | None = None,
    details: dict[str, Any] | None = None,
    actor_name: str | None = None,
) -> AuditEntry:
    """Add an entry to the session's transaction. `target` is (type, id), e.g. ("order", 7);
    `company_id` is the tenant the entry belongs to (default: the actor's company)."""
    actor_id, name, actor_company = _actor_fields(actor)
    entry = AuditEntry(
        at=utcnow(),
        actor_id=actor_id,
        actor_name=(actor_name or name or None),
        action=action,
        outcome=outcome,
        target_type=target[0] if target else None,
        target_id=str(target[1]) if target and target[1] is not None else None,
        company_id=company_id if company_id is not None else actor_company,
        client_addr=client_addr(),
        details=details or None,
    )
    session.add(entry)
    session.info.setdefault(_PENDING_KEY, []).append(entry)
    return entry


def log_line(entry: AuditEntry) -> str:
    """The entry as one line of JSON."""
    return json.dumps(
        {
            "audit": True,
            "at": entry.at.isoformat() if entry.at else None,
            "id": entry.id,
            "actor_id": entry.actor_id,
            "actor": entry.actor_name,
            "action": entry.action,
            "outcome": entry.outcome,
            "target_type": entry.target_type,
            "target_id": entry.target_id,
            "company_id": entry.company_id,
            "client_addr": entry.client_addr,
            "details": entry.details,
        },
        ensure_ascii=True,
        default=str,
        sort_keys=True,
    )


@event.listens_for(Session, "before_commit")
def _render_pending(session: Session) -> None:
    entries = session.info.pop(_PENDING_KEY, None)
    if entries:
        session.flush()  # ids and defaults, while the transaction is still open
        session.info[_LINES_KEY] = [log_line(entry) for entry in entries]


@event.listens_for(Session, "after_commit")
def _log_committed(session: Session) -> None:
    for line in session.info.pop(_LINES_KEY, ()):
        log.info("%s", line)


@event.listens_for(Session, "after_rollback")
def _forget_rolled_back(session: Session) -> None:
    session.info.pop(_PENDING_KEY, None)
    session.info.pop(_LINES_KEY, None)


# --- who reads what ------------------------------------------------------------------------------


def visible_to(actor: Actor) -> ColumnElement[bool]:
    """The entries `actor` may read: a customer (admin) its own company's only; supplier staff
    (whose role holds the read permission: Admin) all. AuditEntry is not TenantScoped (an entry
    may belong to no company), so the list and the API scope it with this, explicitly."""
    if actor.is_customer:
        return AuditEntry.company_id == actor.company_id
    return true()


# --- FAB's role admin (app/views/audit.py hooks RoleModelView) ---------------------------------


def _pairs(items: Any) -> list[str]:
    return sorted(str(item) for item in items or ())


def role_snapshot(role: Any) -> tuple[str, list[str]]:
    """A role's name and permissions as they are before an edit (taken before the form is
    applied: FAB's form may flush the new name before its pre_update hook runs)."""
    return role.name, _pairs(role.permissions)


def role_changed(
    session: Session, actor: Actor | None, role: Any, change: str, before: tuple[str, list[str]] | None = None
) -> AuditEntry | None:
    """A role created, edited, deleted or copied in FAB's role admin, added to the change's
    transaction. An edit names what changed against `before` (role_snapshot): the name (old ->
    new) and the permissions added and removed; an edit that changes nothing is not logged."""
    details: dict[str, Any] = {"change": change, "name": role.name}
    if change == "updated":
        old_name, old_perms = before if before is not None else role_snapshot(role)
        new_perms = _pairs(role.permissions)
        added = sorted(set(new_perms) - set(old_perms))
        removed = sorted(set(old_perms) - set(new_perms))
        if old_name == role.name and not (added or removed):
            return None
        if old_name != role.name:
            details["old_name"] = old_name
        details.update(permissions_added=added, permissions_removed=removed)
    elif change in ("created", "copied"):
        details["permissions"] = _pairs(role.permissions)
    return record(session, ROLE_CHANGED, actor=actor, target=("role", role.id), company_id=None, details=details)
