"""The tenancy guard: a customer-side request only ever sees and writes its own company's rows.

Held at the data layer, so every door (views, actions, REST, form choices, searches, exports)
goes through it:

* reads: `do_orm_execute` adds `company_id = <tenant>` to every ORM SELECT of a tenant-owned
  model (`with_loader_criteria`), `Company.id = <tenant>` and `PortalUser.company_id = <tenant>`;
* writes: `before_flush` sets `company_id` of new rows from the user, refuses rows of another
  company, and refuses links (foreign keys) from a tenant-owned row to another company's row.
  The link check holds for supplier staff and the CLI too: an order of company A can never point
  at company B's delivery address, whoever saves it.

Roles are guarded too: a customer-side request only grants customer roles and never writes FAB's
role/permission tables; only an Admin grants a supplier role.

Limit of the read scope: it applies to the ORM entities a statement selects, joins or selects
from (also in subqueries built with `select(Entity...)`). A table that only appears in a WHERE
clause, e.g. `exists().where(OrderLine.product_id == Product.id)` or a Core `Table`, is NOT
scoped: write `select(OrderLine.id).where(...).exists()` instead (tests/test_tenancy_guard.py).

The tenant of the current request is resolved once per request in `resolve_request_tenant`
(session cookie or JWT) and kept on `flask.g`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask import current_app, g, has_request_context, request
from sqlalchemy import event, inspect, select
from sqlalchemy.orm import ORMExecuteState, Session, with_loader_criteria
from sqlalchemy.orm.attributes import get_history

from app.models import TENANT_MODELS, Company, PortalUser, Product, Store, TenantScoped
from app.roles import CUSTOMER_ROLES

_UNRESOLVED = object()
_AUTH_PATHS = frozenset({"/login/", "/api/v1/security/login"})


class TenantViolation(Exception):
    """A write that would cross a company boundary. `field` names the offending attribute."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def set_request_tenant(company_id: int | None) -> None:
    g._tenant_company_id = company_id


def clear_request_tenant() -> None:
    g.pop("_tenant_company_id", None)
    g.pop("_tenant_criteria", None)


def current_tenant() -> int | None:
    """The company id that scopes this request, or None (supplier staff, anonymous, CLI)."""
    if not has_request_context():
        return None
    value = g.get("_tenant_company_id", _UNRESOLVED)
    if value is _UNRESOLVED:
        return None
    return value


def resolve_request_tenant() -> None:
    """before_request: find the logged-in user (cookie, else JWT) and remember its company."""
    from flask_jwt_extended import current_user as jwt_user
    from flask_jwt_extended import verify_jwt_in_request
    from flask_login import current_user

    company_id: int | None = None
    user: Any = None
    if request.path in _AUTH_PATHS:
        # Logging in looks a user up by name across all companies; it reads nothing else.
        set_request_tenant(None)
        return
    if current_user and current_user.is_authenticated:
        user = current_user
    else:
        try:
            if verify_jwt_in_request(optional=True):
                user = jwt_user
        except Exception:  # invalid/expired token: the endpoint itself answers 401
            user = None
    if user is not None and getattr(user, "is_authenticated", True):
        company_id = getattr(user, "company_id", None)
        g.portal_user = user
    set_request_tenant(company_id)


# --- reads ----------------------------------------------------------------------------------


def _scope_reads(state: ORMExecuteState) -> None:
    # Bulk ORM UPDATE/DELETE (conditional status changes) are scoped too, not just SELECTs.
    if not (state.is_select or state.is_update or state.is_delete):
        return
    if state.execution_options.get("skip_tenant_scope"):
        return
    tenant = current_tenant()
    if tenant is None:
        return
    state.statement = state.statement.options(*_tenant_criteria(tenant))


def _tenant_criteria(tenant: int) -> tuple[Any, ...]:
    """The three criteria of a tenant, built once per request (a page runs several statements)."""
    cached = g.get("_tenant_criteria")
    if cached is not None and cached[0] == tenant:
        return cached[1]
    criteria = (
        with_loader_criteria(TenantScoped, lambda cls: cls.company_id == tenant, include_aliases=True),
        with_loader_criteria(Company, lambda cls: cls.id == tenant, include_aliases=True),
        with_loader_criteria(PortalUser, lambda cls: cls.company_id == tenant, include_aliases=True),
    )
    g._tenant_criteria = (tenant, criteria)
    return criteria


# --- writes ---------------------------------------------------------------------------------

# Foreign keys to users that must point at a user of the row's own company. Every other user
# link (created_by, author, actor) may also point at supplier staff, never at another company.
_SAME_COMPANY_USER_FKS: dict[str, tuple[str, ...]] = {"budgets": ("user_id",), "approval_rules": ("user_id",)}
_TENANT_TABLES = {m.__table__.name: m for m in TENANT_MODELS}
_SUPPLIER_ONLY = (Product, Store)


def _owner_of(session: Session, table_name: str, pk: Any) -> int | None:
    """Company of a referenced row, read with Core on the flush's connection (no ORM scoping)."""
    if table_name == "ab_user":
        table = PortalUser.__table__
    else:
        table = _TENANT_TABLES[table_name].__table__
    return session.connection().execute(select(table.c.company_id).where(table.c.id == pk)).scalar()


def _linked_rows(obj: Any) -> Iterable[tuple[str, str, Any, bool]]:
    """(attribute, referenced table, referenced id or object, supplier staff allowed) for each
    tenant-relevant link of obj."""
    table = obj.__table__
    strict_user_fks = set(_SAME_COMPANY_USER_FKS.get(table.name, ()))
    mapper = obj.__mapper__
    for rel in mapper.relationships:
        if rel.direction.name != "MANYTOONE":
            continue
        target = rel.mapper.local_table.name
        if target not in _TENANT_TABLES and target != "ab_user":
            continue
        related = obj.__dict__.get(rel.key)
        if related is not None:
            local_cols = {c.name for c in rel.local_columns}
            yield rel.key, target, related, target == "ab_user" and not (local_cols & strict_user_fks)
    for fk in table.foreign_keys:
        target = fk.column.table.name
        col = fk.parent.name
        if target in _TENANT_TABLES or target == "ab_user":
            value = getattr(obj, mapper.get_property_by_column(fk.parent).key, None)
            if value is not None:
                yield col, target, value, target == "ab_user" and col not in strict_user_fks


def _company_key(obj: Any) -> Any:
    """Which company a row in memory belongs to, also before its foreign keys are synced."""
    if obj.company_id is not None:
        return obj.company_id
    company = obj.__dict__.get("company")
    if company is None:
        return None
    return company.id if company.id is not None else ("new", id(company))


def _check_links(session: Session, obj: TenantScoped) -> None:
    company = _company_key(obj)
    for field, target, ref, staff_ok in _linked_rows(obj):
        if isinstance(ref, (TenantScoped, PortalUser)):
            owner = _company_key(ref)
        else:
            owner = _owner_of(session, target, ref)
        if owner is None and staff_ok:
            continue  # a supplier user (no company), e.g. the seller who created a quote
        if owner is None or owner != company:
            raise TenantViolation("Valget tilhører ikke denne kundekontoen.", field=field)


def _security_models() -> tuple[type, ...]:
    from flask_appbuilder.security.sqla.models import (
        Group,
        Permission,
        PermissionView,
        Role,
        ViewMenu,
    )

    return (Role, Permission, ViewMenu, PermissionView, Group)


# Collections that change as a side effect (backref) of editing a user's roles or groups.
_USER_BACKREFS = frozenset({"user", "users"})


def _security_row_changed(obj: Any) -> bool:
    state = inspect(obj)
    # Iterating `mapper.attrs` yields the properties themselves (not their names, as a dict would).
    return any(
        state.attrs[prop.key].history.has_changes() for prop in state.mapper.attrs if prop.key not in _USER_BACKREFS
    )


def _acting_user_is_admin() -> bool:
    if not has_request_context():
        return True  # CLI: `portal init` / `portal demo`
    user = g.get("portal_user")
    if user is None:
        from flask_login import current_user

        user = current_user if getattr(current_user, "is_authenticated", False) else None
    if user is None:
        return False
    admin_role = current_app.config.get("AUTH_ROLE_ADMIN", "Admin")
    # The roles the user had before this flush: a user editing itself must not count its new ones.
    history = inspect(user).attrs["roles"].load_history()
    return any(r.name == admin_role for r in (*history.unchanged, *history.deleted))


def _check_user_roles(obj: PortalUser, tenant: int | None) -> None:
    """Roles decide what a user may do, so granting them is guarded like company_id.

    A customer-side request may only give customer roles (and no groups: a FAB group can carry
    any role); only an Admin may grant a supplier role (CustomerService may edit users, but must
    not be able to make anyone, itself included, Admin).
    """
    added = [r.name for r in get_history(obj, "roles").added]
    if tenant is not None:
        if any(name not in CUSTOMER_ROLES for name in added):
            raise TenantViolation("Brukere hos en kunde kan bare ha kunderoller.", "roles")
        if get_history(obj, "groups").added:
            raise TenantViolation("Brukere hos en kunde kan ikke legges i grupper.", "groups")
    elif any(name not in CUSTOMER_ROLES for name in added) and not _acting_user_is_admin():
        raise TenantViolation("Bare en systemadministrator kan gi leverandørroller.", "roles")


def _guard_flush(session: Session, flush_context: Any, instances: Any) -> None:
    tenant = current_tenant()
    security_models = _security_models()
    with session.no_autoflush:
        for obj in [*session.new, *session.dirty, *session.deleted]:
            if isinstance(obj, PortalUser) and obj not in session.deleted:
                _check_user_roles(obj, tenant)
            elif (
                # Roles and permissions are supplier business; a customer request never writes them.
                tenant is not None
                and isinstance(obj, security_models)
                and (obj in session.new or obj in session.deleted or _security_row_changed(obj))
            ):
                raise TenantViolation("Roller og rettigheter endres av oss — kontakt kundeservice.")
        for obj in list(session.new):
            if isinstance(obj, TenantScoped):
                if tenant is not None:
                    if obj.company_id is None and obj.__dict__.get("company") is None:
                        obj.company_id = tenant
                    owner = obj.company_id if obj.company_id is not None else obj.company.id
                    if owner != tenant:
                        raise TenantViolation("Du kan bare registrere data for din egen bedrift.", "company_id")
                if obj.company_id is None and obj.__dict__.get("company") is not None:
                    obj.company_id = obj.company.id
                _check_links(session, obj)
            elif tenant is not None and isinstance(obj, PortalUser):
                if obj.company_id is None:
                    obj.company_id = tenant
                if obj.company_id != tenant:
                    raise TenantViolation("Du kan bare opprette brukere i din egen bedrift.", "company_id")
            elif tenant is not None and isinstance(obj, (Company, *_SUPPLIER_ONLY)):
                raise TenantViolation("Dette endres av oss — kontakt kundeservice.")
        for obj in list(session.dirty):
            if not session.is_modified(obj):
                continue
            if isinstance(obj, TenantScoped):
                hist = get_history(obj, "company_id")
                if hist.deleted and hist.deleted[0] is not None and tenant is not None:
                    raise TenantViolation("Du kan ikke flytte data til en annen bedrift.", "company_id")
                if tenant is not None and obj.company_id != tenant:
                    raise TenantViolation("Du kan bare endre data for din egen bedrift.", "company_id")
                _check_links(session, obj)
            elif tenant is not None and isinstance(obj, PortalUser):
                hist = get_history(obj, "company_id")
                if obj.company_id != tenant or (hist.deleted and hist.deleted[0] != tenant):
                    raise TenantViolation("Du kan bare endre brukere i din egen bedrift.", "company_id")
            elif tenant is not None and isinstance(obj, Company) and obj.id != tenant:
                raise TenantViolation("Du kan bare endre din egen bedrift.")
            elif tenant is not None and isinstance(obj, _SUPPLIER_ONLY):
                raise TenantViolation("Dette endres av oss — kontakt kundeservice.")
        for obj in list(session.deleted):
            if tenant is None:
                continue
            if isinstance(obj, (TenantScoped, PortalUser)) and obj.company_id != tenant:
                raise TenantViolation("Du kan bare slette data for din egen bedrift.")
            if isinstance(obj, (Company, *_SUPPLIER_ONLY)):
                raise TenantViolation("Dette endres av oss — kontakt kundeservice.")


_installed = False


def install_tenant_guard() -> None:
    """Attach the read scope and the write guard to every SQLAlchemy Session (idempotent)."""
    global _installed
    if _installed:
        return
    event.listen(Session, "do_orm_execute", _scope_reads)
    event.listen(Session, "before_flush", _guard_flush)
    _installed = True
