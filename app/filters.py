"""Search filters shared by the HTML lists and the REST API."""

from __future__ import annotations

from typing import Any

from flask_appbuilder.models.filters import BaseFilter
from flask_appbuilder.models.sqla.filters import get_field_setup_query
from flask_babel import lazy_gettext as _l
from sqlalchemy import or_


class FilterNumberPrefix(BaseFilter):
    """Order/quote/invoice number: exact or prefix match with LIKE, so the btree index
    (`text_pattern_ops` on PostgreSQL) serves it; FAB's "starts with" uses ILIKE, which scans."""

    name = _l("Nummer er eller starter med")
    arg_name = "numpre"

    def apply(self, query: Any, value: Any) -> Any:
        value = str(value or "").strip()
        if not value:
            return query
        query, field = get_field_setup_query(query, self.model, self.column_name)
        escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return query.filter(or_(field == value, field.like(f"{escaped}%", escape="\\")))
