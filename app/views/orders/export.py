"""Eksport of the order list (CSV, XLSX; optionally "med ordrelinjer"): the routes of OrderView that
hand the list's own filtered query (FAB's search filters from the URL, the tenancy guard) to
app/domain/orders/export.py and stream its pieces. Who may list the orders may export the list
they see: customers (both roles) their company's, staff the orders their filters show."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

from flask import Response, abort, flash, redirect, request, stream_with_context, url_for
from flask_appbuilder.exceptions import FABException
from flask_appbuilder.urltools import get_filter_args, get_order_args
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import SQLAlchemyError

from app.domain import throttle
from app.domain.formatting import oslo_today
from app.domain.orders import export as E
from app.extensions import db
from app.models import Order
from app.views import throttling

MIMETYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def filtered_order_ids(view: Any) -> Any:
    """The ids of the orders the list shows with the request's filters, as a subquery (built now:
    FAB's filter object is shared between requests, the stream runs later)."""
    get_filter_args(view._filters)
    filters = view._filters.get_joined_filters(view._base_filters)
    order_column, order_direction = get_order_args().get(view.__class__.__name__, ("", ""))
    query = view.datamodel._apply_inner_all(
        db.session.query(Order), filters, order_column, order_direction, aliases_mapping={}
    )
    return query.with_entities(Order.id.label("id")).order_by(None).subquery("export_ids")


def export_response(view: Any, kind: str) -> Any:
    if kind not in MIMETYPES:
        abort(404)
    if not throttling.attempt(throttle.CSV_EXPORT):  # the same per-user budget as every CSV download
        abort(429)
    with_lines = request.args.get("linjer") in ("1", "y", "on", "true")
    cols = E.columns(with_lines)
    try:
        order_ids = filtered_order_ids(view)
        rows = E.export_rows(db.session, order_ids, with_lines)
        first = next(rows, None)  # the first chunk read now: a bad filter value is answered here
    except (FABException, SQLAlchemyError):
        # A filter value the list cannot use ("abc" for a date, an id out of range): as the list says it.
        db.session.rollback()
        flash(str(_l("Søket kunne ikke utføres. Sjekk verdiene i filteret.")), "warning")
        return redirect(url_for(f"{view.endpoint}.list"))

    # The later chunks are read while the answer streams, in the request's context (stream_with_context:
    # the tenancy guard still scopes each chunk's query).
    all_rows = itertools.chain([] if first is None else [first], rows)

    def pieces() -> Iterator[bytes]:
        yield from (E.csv_chunks(all_rows, cols) if kind == "csv" else E.xlsx_chunks(all_rows, cols))

    response = Response(stream_with_context(pieces()), mimetype=MIMETYPES[kind])
    response.headers["Content-Type"] = MIMETYPES[kind]
    response.headers["Content-Disposition"] = f'attachment; filename="{E.filename(kind, with_lines, oslo_today())}"'
    return response


def export_links(view_name: str = "OrderView") -> dict[str, str]:
    """The export links with the list's current filters and sort (the query string as it is)."""
    from flask import url_for

    args: dict[str, Any] = {k: v for k, v in request.args.items(multi=False) if k.startswith(("_flt_", "_oc_", "_od_"))}
    links: dict[str, str] = {}
    for kind in MIMETYPES:
        links[kind] = url_for(f"{view_name}.export", **{"kind": kind, **args})
        links[f"{kind}_lines"] = url_for(f"{view_name}.export", **{"kind": kind, "linjer": "1", **args})
    return links
