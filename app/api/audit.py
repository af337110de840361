"""/api/v1/audit/ — the audit log, read-only (GET list and item; no writes exist).

Admin reads every entry; a customer admin only its own company's (another company's entry is
404, like any row that is not the caller's). Newest first. Filters: `action`, `outcome` (eq, neq,
in, nin), `actor_id`, `company_id` (eq), `at` (gt, lt: ISO 8601). `at` is UTC.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from dateutil import parser as date_parser
from flask_appbuilder.exceptions import FABException
from flask_appbuilder.models.filters import BaseFilter
from flask_appbuilder.models.sqla.filters import FilterEqual
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_babel import lazy_gettext as _

from app.api.base import PortalModelRestApi, current_actor
from app.domain import audit
from app.models import AuditEntry


class FilterVisibleEntries(BaseFilter):
    """app/domain/audit.py's rule of who reads which entries, on the list and on every item."""

    name = "visible audit entries"

    def apply(self, query: Any, value: Any) -> Any:
        return query.filter(audit.visible_to(current_actor()))


def parse_time(value: Any) -> dt.datetime | None:
    """An ISO 8601 time from a filter; without a zone it is UTC. None: not a time."""
    if not isinstance(value, str):
        return None
    try:
        parsed = date_parser.isoparse(value.strip())
    except (ValueError, OverflowError):
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=dt.UTC)


class FilterAfter(BaseFilter):
    """`at` after a time (FAB's own comparison would pass the text to the column unparsed)."""

    name = _("Etter")
    arg_name = "gt"

    def apply(self, query: Any, value: Any) -> Any:
        at = parse_time(value)
        return query if at is None else query.filter(AuditEntry.at > at)


class FilterBefore(BaseFilter):
    name = _("Før")
    arg_name = "lt"

    def apply(self, query: Any, value: Any) -> Any:
        at = parse_time(value)
        return query if at is None else query.filter(AuditEntry.at < at)


class AuditApi(PortalModelRestApi):
    resource_name = "audit"
    list_title = _("Revisjonslogg")
    show_title = _("Hendelse i revisjonsloggen")
    tenant_owned = False  # not TenantScoped (an entry may belong to no company): scoped by the base filter
    datamodel = SQLAInterface(AuditEntry)
    base_filters = [["id", FilterVisibleEntries, lambda: None]]
    base_order = ("at", "desc")
    label_fields = {"action": audit.ACTION_LABELS, "outcome": audit.OUTCOME_LABELS}
    code_filter_columns = ("action", "outcome")
    list_columns = [
        "id",
        "at",
        "actor_id",
        "actor_name",
        "action",
        "action_label",
        "outcome",
        "outcome_label",
        "target_type",
        "target_id",
        "company_id",
        "client_addr",
        "details",
    ]
    show_columns = list_columns
    order_columns = ["at"]
    search_columns = ["action", "outcome", "actor_id", "company_id", "at"]
    search_filters = {
        "actor_id": [FilterEqual],
        "company_id": [FilterEqual],
        "at": [FilterAfter, FilterBefore],
    }
    label_columns = {
        "at": _("Tidspunkt (UTC)"),
        "actor_id": _("Bruker-id"),
        "actor_name": _("Hvem"),
        "target_type": _("Gjelder (type)"),
        "target_id": _("Gjelder (id)"),
        "client_addr": _("Klientadresse"),
        "details": _("Detaljer"),
    }

    def _handle_filters_args(self, rison_args: dict[str, Any]) -> Any:
        """A time filter that is not a time is a 400 naming it, before any query runs."""
        for flt in rison_args.get("filters", []) or []:
            if isinstance(flt, dict) and flt.get("col") == "at" and parse_time(flt.get("value")) is None:
                raise FABException(str(_("Skriv tidspunktet som ISO 8601, for eksempel 2025-03-01T09:30:00+00:00.")))
        return super()._handle_filters_args(rison_args)
