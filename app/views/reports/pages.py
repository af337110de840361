"""Rapporter: five read-only reports for the Manager (and Admin), each a Plotly chart beside a table,
a date-range filter and a CSV download of exactly the rows on the page.

Who: Manager and Admin only. Sellers and customer service have their working lists (the
approval queue, the orders); the figures across all customers are the manager's. Customers get 403
(FAB's @has_access), and the reports would be scoped to their own company by the tenancy guard anyway.

Every page and CSV needs the one permission `can_list` on ReportsView (it also shows the menu).
plotly.js is served from the installed `plotly` package (no CDN), under /static/ so the browser
may cache it (the security headers mark other pages no-store).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from dataclasses import dataclass
from typing import Any

from flask import Response, abort, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.security.decorators import permission_name
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.domain import reports as R
from app.domain import throttle
from app.domain.formatting import format_date, oslo_today
from app.extensions import db
from app.views import throttling
from app.views.reports import charts as C

EARLIEST, LATEST = dt.date(2000, 1, 1), dt.date(2099, 12, 31)


@dataclass(frozen=True)
class ReportDef:
    slug: str  # file name of the CSV
    method: str  # ReportsView method (the CSV is <method>_csv)
    title: Any
    icon: str
    single_day: bool = False  # budgets: one day picks the period, not a range

    @property
    def menu_name(self) -> str:  # a stable identifier: `menu_access` permissions name it
        return "Report" + self.method.capitalize()


REPORTS = (
    ReportDef("salg-per-maned", "sales", _l("Salg per måned"), "fa-line-chart"),
    ReportDef("ordrestatus", "statuses", _l("Ordrer per status"), "fa-tasks"),
    ReportDef("godkjenningstid", "approvals", _l("Tid til godkjenning"), "fa-clock-o"),
    ReportDef("toppkunder", "customers", _l("Topp 10 kunder"), "fa-trophy"),
    ReportDef("bruksgrenser", "budgets", _l("Forbruk av bruksgrenser"), "fa-tachometer", single_day=True),
)
BY_METHOD = {r.method: r for r in REPORTS}


# --- the filter -----------------------------------------------------------------------------


def _parse_day(raw: str | None) -> tuple[dt.date | None, str | None]:
    """(date, error): ISO (what <input type=date> sends) or dd.mm.yyyy; blank is (None, None)."""
    raw = (raw or "").strip()
    if not raw:
        return None, None
    day: dt.date | None = None
    for fmt in ("%Y-%m-%d", "%d.%m.%Y"):
        try:
            day = dt.datetime.strptime(raw, fmt).date()
            break
        except ValueError:
            continue
    if day is None:
        return None, _("Skriv datoen som dd.mm.åååå.")
    if not EARLIEST <= day <= LATEST:
        return None, _(
            "Velg en dato mellom %(first)s og %(last)s.", first=format_date(EARLIEST), last=format_date(LATEST)
        )
    return day, None


@dataclass
class Filter:
    period: R.Period
    day: dt.date  # the budgets report's reference day
    errors: dict[str, str]

    def query(self, single_day: bool) -> dict[str, str]:
        if single_day:
            return {"dato": self.day.isoformat()}
        return {"fra": self.period.first.isoformat(), "til": self.period.last.isoformat()}


def parse_filter(args: Any, today: dt.date | None = None) -> Filter:
    """The period (default: the last 12 months) and day (default: today) asked for; a bad value gives a
    message for its field and the default, so the page (and its CSV) always shows something sensible."""
    today = today or oslo_today()
    default = R.default_period(today)
    errors: dict[str, str] = {}
    first, error = _parse_day(args.get("fra"))
    if error:
        errors["fra"] = error
    last, error = _parse_day(args.get("til"))
    if error:
        errors["til"] = error
    if first is None and last is not None:  # only "til": the 12 months up to it
        default = R.default_period(last)
    first, last = first or default.first, last or default.last
    if first > last:
        errors["til"] = _("Til-datoen kan ikke være før fra-datoen.")
        first, last = default.first, default.last
    elif (last - first).days >= R.MAX_DAYS:
        errors["fra"] = _("Velg en periode på høyst fem år.")
        first, last = default.first, default.last
    day, error = _parse_day(args.get("dato"))
    if error:
        errors["dato"] = error
    return Filter(R.Period(first, last), day or today, errors)


# --- building a report ------------------------------------------------------------------------


def build(method: str, flt: Filter) -> C.Content:
    session = db.session
    if method == "sales":
        return C.sales(R.sales_by_month(session, flt.period))
    if method == "statuses":
        return C.statuses(R.status_report(session, flt.period))
    if method == "approvals":
        return C.approvals(R.approval_report(session, flt.period))
    if method == "customers":
        return C.customers(R.top_customers(session, flt.period))
    if method == "budgets":
        return C.budgets(R.budget_report(session, flt.day))
    raise LookupError(method)


def csv_response(table: C.Table, filename: str) -> Response:
    """`;`-separated, decimal comma, UTF-8 with BOM (Excel in Norway opens it as it is)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    writer.writerow([c.label for c in table.columns])
    for row in table.all_rows:
        writer.writerow([C.csv_cell(v, c.kind) for v, c in zip(row, table.columns, strict=True)])
    body = buffer.getvalue().encode("utf-8-sig")
    response = Response(body, mimetype="text/csv")
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


class ReportsView(BaseView):
    route_base = "/rapporter"
    default_view = "sales"
    base_permissions = ["can_list"]

    def _page(self, method: str) -> Any:
        report = BY_METHOD[method]
        flt = parse_filter(request.args)
        content = build(method, flt)
        # Any, not str: url_for's own keyword arguments (_external: bool, ...) would claim a dict[str, str].
        query: dict[str, Any] = flt.query(report.single_day)
        csv_links = {t.key: url_for(f"ReportsView.{method}_csv", tabell=t.key, **query) for t in content.tables}
        return self.render_template(
            "reports/report.html",
            report=report,
            reports=REPORTS,
            content=content,
            flt=flt,
            figure_json=json.dumps(content.figure),
            csv_links=csv_links,
            cell=C.html_cell,
            plotly_js=url_for("plotly_js"),
        )

    def _csv(self, method: str) -> Response:
        if not throttling.attempt(throttle.CSV_EXPORT):  # every CSV route comes here
            abort(429)
        report = BY_METHOD[method]
        flt = parse_filter(request.args)
        content = build(method, flt)
        key = request.args.get("tabell") or content.tables[0].key
        table = next((t for t in content.tables if t.key == key), None)
        if table is None:
            abort(404)
        if report.single_day:
            span = flt.day.isoformat()
        else:
            span = f"{flt.period.first.isoformat()}_{flt.period.last.isoformat()}"
        suffix = "" if table is content.tables[0] else f"-{table.key}"
        return csv_response(table, f"{report.slug}{suffix}_{span}.csv")

    # One page and one CSV route per report; all need `can_list` (read-only).

    @expose("/salg/")
    @has_access
    @permission_name("list")
    def sales(self) -> Any:
        return self._page("sales")

    @expose("/salg.csv")
    @has_access
    @permission_name("list")
    def sales_csv(self) -> Response:
        return self._csv("sales")

    @expose("/ordrestatus/")
    @has_access
    @permission_name("list")
    def statuses(self) -> Any:
        return self._page("statuses")

    @expose("/ordrestatus.csv")
    @has_access
    @permission_name("list")
    def statuses_csv(self) -> Response:
        return self._csv("statuses")

    @expose("/godkjenningstid/")
    @has_access
    @permission_name("list")
    def approvals(self) -> Any:
        return self._page("approvals")

    @expose("/godkjenningstid.csv")
    @has_access
    @permission_name("list")
    def approvals_csv(self) -> Response:
        return self._csv("approvals")

    @expose("/toppkunder/")
    @has_access
    @permission_name("list")
    def customers(self) -> Any:
        return self._page("customers")

    @expose("/toppkunder.csv")
    @has_access
    @permission_name("list")
    def customers_csv(self) -> Response:
        return self._csv("customers")

    @expose("/bruksgrenser/")
    @has_access
    @permission_name("list")
    def budgets(self) -> Any:
        return self._page("budgets")

    @expose("/bruksgrenser.csv")
    @has_access
    @permission_name("list")
    def budgets_csv(self) -> Response:
        return self._csv("budgets")
