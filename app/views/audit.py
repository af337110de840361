"""Revisjonslogg: the audit log, read-only. Admin reads every entry; a customer admin its own
company's ("Min side"). Also the two web-layer hooks that feed the log: authorization denials
(`record_denial`, an after_request hook: every 403 a logged-in user gets, from FAB's permission
checks on pages and APIs and from our own) and FAB's role admin (`audited_roles`)."""

from __future__ import annotations

import json
from typing import Any

from flask import Response, g, request
from flask_appbuilder.actions import action
from flask_appbuilder.models.filters import BaseFilter
from flask_appbuilder.models.sqla.filters import FilterEqual
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from app.domain import audit
from app.domain.actors import Actor
from app.extensions import db
from app.models import AuditEntry, Company, PortalUser
from app.views.base import PortalInterface, PortalModelView, code_select, fmt_code, fmt_datetime
from app.views.forms import current_actor
from app.views.orders.overview import FilterOsloDayFrom, FilterOsloDayTo, date_search_field

LABELS = {
    "at": _l("Tidspunkt"),
    "actor_name": _l("Hvem"),
    "actor_id": _l("Bruker-id"),
    "action": _l("Hendelse"),
    "outcome": _l("Utfall"),
    "target": _l("Gjelder"),
    "target_type": _l("Gjelder (type)"),
    "target_id": _l("Gjelder (id)"),
    "company": _l("Bedrift"),
    "company_id": _l("Bedrift (kundenummer)"),
    "client_addr": _l("Klientadresse"),
    "details": _l("Detaljer"),
    "summary": _l("Detaljer"),
}
SUMMARY_LENGTH = 160


def target_text(entry: AuditEntry) -> str:
    return f"{entry.target_type} {entry.target_id}" if entry.target_type else ""


def details_summary(entry: AuditEntry) -> str:
    """The details on one line for the list (the whole of them on the entry's page)."""
    text = json.dumps(entry.details, ensure_ascii=False, sort_keys=True) if entry.details else ""
    return text if len(text) <= SUMMARY_LENGTH else text[: SUMMARY_LENGTH - 1] + "…"


def details_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True) if value else ""


class FilterVisibleEntries(BaseFilter):
    """The base filter of the list and of every entry's page: app/domain/audit.py's rule."""

    name = "visible audit entries"

    def apply(self, query: Any, value: Any) -> Any:
        return query.filter(audit.visible_to(current_actor()))


class FilterCustomerNumber(BaseFilter):
    """Bedrift by customer number: the index on (company_id, at) serves it."""

    name = _l("Kundenummer er")
    arg_name = "kundenr"

    def apply(self, query: Any, value: Any) -> Any:
        number = str(value or "").strip()
        if not number:
            return query
        company = select(Company.id).where(Company.customer_number == number).scalar_subquery()
        return query.filter(AuditEntry.company_id == company)


class FilterUsername(BaseFilter):
    """Who, by username: the index on (actor_id, at) serves it."""

    name = _l("Brukernavn er")
    arg_name = "brukernavn"

    def apply(self, query: Any, value: Any) -> Any:
        username = str(value or "").strip()
        if not username:
            return query
        user = select(PortalUser.id).where(PortalUser.username == username).scalar_subquery()
        return query.filter(AuditEntry.actor_id == user)


class AuditView(PortalModelView):
    """The audit log, newest first; read-only (no add, edit or delete routes exist)."""

    route_base = "/revisjonslogg"
    datamodel = PortalInterface(AuditEntry, list_options=[joinedload(AuditEntry.company)])
    base_permissions = ["can_list", "can_show"]
    base_filters = [["id", FilterVisibleEntries, lambda: None]]
    base_order = ("at", "desc")

    list_title = _l("Revisjonslogg")
    show_title = _l("Hendelse i revisjonsloggen")
    label_columns = LABELS
    list_columns = ["at", "actor_name", "action", "outcome", "target", "company", "client_addr", "summary"]
    list_columns_customer = ["at", "actor_name", "action", "outcome", "target", "client_addr", "summary"]
    show_columns = [
        "at",
        "actor_name",
        "actor_id",
        "action",
        "outcome",
        "target_type",
        "target_id",
        "company",
        "client_addr",
        "details",
    ]
    order_columns = ["at"]
    code_filter_columns = ("action", "outcome")
    search_columns = ["action", "outcome", "actor_id", "company_id", "at"]
    search_form_extra_fields = {
        "action": code_select(_l("Hendelse"), audit.ACTION_LABELS, search=True),
        "outcome": code_select(_l("Utfall"), audit.OUTCOME_LABELS, search=True),
        "at": date_search_field(_l("Tidspunkt")),
    }
    formatters_columns = {
        "at": fmt_datetime,
        "action": fmt_code(audit.ACTION_LABELS),
        "outcome": fmt_code(audit.OUTCOME_LABELS),
        "details": details_text,
    }
    computed_columns = {"target": target_text, "summary": details_summary}

    def _init_properties(self) -> None:
        super()._init_properties()
        filters = {
            # Tidspunkt by whole days in Oslo time (times are stored in UTC).
            "at": [FilterOsloDayFrom("at", self.datamodel), FilterOsloDayTo("at", self.datamodel)],
            "actor_id": [FilterUsername("actor_id", self.datamodel), FilterEqual("actor_id", self.datamodel)],
            "company_id": [FilterCustomerNumber("company_id", self.datamodel)],
        }
        for column, flts in filters.items():
            self._filters.get_search_filters()[column] = flts
            self._filters._all_filters[column] = flts


# --- authorization denials -------------------------------------------------------------------------


def record_denial(response: Response) -> Response:
    """after_request: a logged-in user refused with 403 (FAB's `has_access` on a page aborts
    with 403, its `protect` on the API answers 403, and so do our own checks) is an entry.

    One hook for every door, instead of one per check. Not logged in (a redirect to the login
    page, 401) is not a denial: logins are recorded by themselves. The entry is written in a
    session of its own: the request's transaction has nothing to keep."""
    if response.status_code != 403:
        return response
    user = g.get("portal_user") or g.get("user")
    if user is None or not getattr(user, "is_authenticated", False) or getattr(user, "id", None) is None:
        return response
    with Session(db.engine) as session:
        audit.record(
            session,
            audit.ACCESS_DENIED,
            actor=user,
            outcome=audit.DENIED,
            details={
                "method": request.method,
                "path": request.path[: audit.MAX_PATH],
                "endpoint": request.endpoint,
            },
        )
        session.commit()
    return response


# --- FAB's role admin ----------------------------------------------------------------------------


class _RoleChangesAudited:
    """FAB's RoleModelView, with each create, edit, delete and copy in the audit log. The entry is
    added in pre_* hooks: FAB commits right after them, so the entry and the change are one
    transaction (a refused change leaves no entry)."""

    datamodel: Any

    def _actor(self) -> Actor:
        return current_actor()

    def pre_add(self, item: Any) -> None:
        super().pre_add(item)  # type: ignore[misc]
        audit.role_changed(self.datamodel.session, self._actor(), item, "created")

    def _edit(self, pk: Any) -> Any:
        # The role as it was, before FAB applies the form (per request: views are shared by threads).
        role = self.datamodel.get(pk)
        if role is not None:
            g.audit_role_before = audit.role_snapshot(role)
        return super()._edit(pk)  # type: ignore[misc]

    def pre_update(self, item: Any) -> None:
        super().pre_update(item)  # type: ignore[misc]
        before = g.pop("audit_role_before", None)
        audit.role_changed(self.datamodel.session, self._actor(), item, "updated", before=before)

    def pre_delete(self, item: Any) -> None:
        super().pre_delete(item)  # type: ignore[misc]  # FAB refuses a role that has users
        audit.role_changed(self.datamodel.session, self._actor(), item, "deleted")

    @action("copyrole", _l("Copy Role"), _l("Copy the selected roles?"), icon="fa-copy", single=False)
    def copy_role(self, items: Any) -> Any:
        """FAB's copy, each copy with its entry (FAB's adds the copies without pre_add)."""
        from flask import redirect

        self.update_redirect()  # type: ignore[attr-defined]
        for item in items:
            new_role = item.__class__()
            new_role.name = f"{item.name} copy"
            new_role.permissions = item.permissions
            audit.role_changed(self.datamodel.session, self._actor(), new_role, "copied")
            self.datamodel.add(new_role)
        return redirect(self.get_redirect())  # type: ignore[attr-defined]


def audited_roles(view: type) -> type:
    """`view` (FAB's RoleModelView) with its changes in the audit log; same class name, so FAB's
    permission and endpoint names stay as they are."""
    return type(view.__name__, (_RoleChangesAudited, view), {"__module__": __name__})
