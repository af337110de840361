"""Kontoutskrift: the account statement page, its downloads (PDF, CSV, XLSX) and "Registrer
innbetaling". Rules and numbers: app/domain/statements.py; files: app/domain/statement_files.py.

A customer admin sees the own company ("Min side"); supplier staff choose a company by customer
number or come from the company's page (`?company_id=`). Customer users have no permission.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from flask import Response, abort, current_app, flash, g, redirect, request, stream_with_context, url_for
from flask.typing import ResponseReturnValue
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.security.decorators import permission_name
from flask_babel import gettext as _
from sqlalchemy import select

from app.domain import statement_files as files
from app.domain import statements as rules
from app.domain import throttle
from app.domain.errors import DomainError, NotFound, ValidationFailed
from app.domain.formatting import format_month, format_nok, oslo_today
from app.extensions import db
from app.models import Company
from app.roles import ROLE_PERMISSIONS
from app.views import throttling
from app.views.base import user_can
from app.views.forms import current_actor, domain_action
from app.views.throttling import per_user

MIMETYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
COLOURS = {"exposure": "#1f77b4", "limit": "#d62728"}
SEPARATORS = ", "  # Plotly: decimal comma, space between thousands (as format_nok)


def may_see_statement() -> bool:
    """May the logged-in user open Kontoutskrift? From app/roles.py and the user's roles (loaded with
    the user), without asking the database: for the links on the company pages."""
    roles = {role.name for role in getattr(g.user, "roles", None) or ()}
    return "Admin" in roles or any("can_list" in ROLE_PERMISSIONS.get(r, {}).get("StatementView", ()) for r in roles)


class StatementView(BaseView):
    route_base = "/kontoutskrift"
    default_view = "index"
    base_permissions = ["can_list", "can_pay"]

    # --- choosing the company -------------------------------------------------------------------

    def _company(self) -> tuple[Company | None, dict[str, Any]]:
        """The company asked for and the picker's state; a foreign company for a customer: 404."""
        actor = current_actor()
        picker: dict[str, Any] = {"supplier": not actor.is_customer, "customer_number": "", "company_error": None}
        company_id: Any = request.args.get("company_id")
        if not actor.is_customer and not company_id:
            number = (request.args.get("kunde") or "").strip()[:20]
            picker["customer_number"] = number
            if not number:
                return None, picker
            found = db.session.scalar(select(Company.id).where(Company.customer_number == number))
            if found is None:
                picker["company_error"] = _("Fant ingen bedrift med kundenummer %(number)s.", number=number)
                return None, picker
            company_id = found
        try:
            company = rules.statement_company(db.session, actor, company_id)
        except NotFound:
            abort(404)
        except ValidationFailed as exc:
            picker["company_error"] = next(iter(exc.errors.values()))
            return None, picker
        except DomainError:
            abort(403)
        if not actor.is_customer:
            picker["customer_number"] = company.customer_number
        return company, picker

    def _period(self, today: dt.date) -> tuple[dt.date, dt.date, dict[str, str]]:
        try:
            start, end = rules.parse_period(request.args.get("fra"), request.args.get("til"), today)
            return start, end, {}
        except ValidationFailed as exc:
            start, end = rules.default_period(today)
            return start, end, dict(exc.errors)

    def _args(self, company: Company, start: dt.date, end: dt.date) -> dict[str, Any]:
        args: dict[str, Any] = {"fra": start.isoformat(), "til": end.isoformat()}
        if not current_actor().is_customer:
            args["company_id"] = company.id
        return args

    # --- the page -------------------------------------------------------------------------------

    @expose("/")
    @has_access
    @permission_name("list")
    def index(self) -> ResponseReturnValue:
        company, picker = self._company()
        context: dict[str, Any] = dict(picker)
        context["company"] = company
        if company is not None:
            today = oslo_today()
            start, end, period_errors = self._period(today)
            st = rules.statement(db.session, company, start=start, end=end, today=today)
            args = self._args(company, start, end)
            context.update(
                st=st,
                period_errors=period_errors,
                fra=request.args.get("fra") if period_errors else start.isoformat(),
                til=request.args.get("til") if period_errors else end.isoformat(),
                figure=exposure_figure(st),
                history_rows=[(format_month(p.month), p.exposure) for p in st.history],
                downloads={
                    "pdf": url_for("StatementView.pdf", **args),
                    "csv": url_for("StatementView.export", kind="csv", **args),
                    "xlsx": url_for("StatementView.export", kind="xlsx", **args),
                },
                may_pay=user_can("can_pay", "StatementView"),
                today_iso=today.isoformat(),
            )
        return self.render_template("statements/statement.html", **context)

    # --- downloads ------------------------------------------------------------------------------

    def _for_file(self) -> tuple[rules.Statement, str]:
        company, _picker = self._company()
        if company is None:
            abort(404)
        today = oslo_today()
        start, end, errors = self._period(today)
        if errors:
            abort(400)
        st = rules.statement(db.session, company, start=start, end=end, today=today, history=False, limit=None)
        return st, files.filename(company.customer_number, today)

    @expose("/kontoutskrift.pdf")
    @has_access
    @permission_name("list")
    @per_user(throttle.PDF_DOWNLOAD)
    def pdf(self) -> ResponseReturnValue:
        st, name = self._for_file()
        pdf = files.render_pdf(st, files.supplier_from_config(current_app.config))
        return Response(
            pdf, mimetype="application/pdf", headers={"Content-Disposition": f'attachment; filename="{name}.pdf"'}
        )

    @expose("/eksport/<kind>")
    @has_access
    @permission_name("list")
    def export(self, kind: str) -> ResponseReturnValue:
        if kind not in MIMETYPES:
            abort(404)
        if not throttling.attempt(throttle.CSV_EXPORT):  # the same per-user budget as every CSV download
            abort(429)
        st, name = self._for_file()
        rows = files.rows(st)

        def pieces() -> Iterator[bytes]:
            if kind == "csv":
                yield from files.csv_chunks(rows, files.COLUMNS)
            else:
                yield from files.xlsx_chunks(rows, files.COLUMNS, title="Kontoutskrift")

        response = Response(stream_with_context(pieces()), mimetype=MIMETYPES[kind])
        response.headers["Content-Type"] = MIMETYPES[kind]
        response.headers["Content-Disposition"] = f'attachment; filename="{name}.{kind}"'
        return response

    # --- Registrer innbetaling ------------------------------------------------------------------

    @expose("/faktura/<int:pk>/innbetaling", methods=["POST"])
    @has_access
    @permission_name("pay")
    def pay(self, pk: int) -> ResponseReturnValue:
        paid_on: dt.date | None = None
        raw = (request.form.get("paid_on") or "").strip()
        back = request.form.get("company_id", type=int)
        if raw:
            try:
                paid_on = dt.date.fromisoformat(raw[:10])
            except ValueError:
                flash(_("Skriv en dato (åååå-mm-dd)."), "danger")
                return self._back(back)
        with domain_action() as done:  # another company's (for staff: none) or a missing invoice: 404
            invoice = rules.register_payment(db.session, pk, current_actor(), paid_on=paid_on)
        if done.ok:
            flash(
                _(
                    "Innbetaling på faktura %(number)s (%(amount)s) er registrert.",
                    number=invoice.number,
                    amount=format_nok(invoice.amount),
                ),
                "success",
            )
            back = invoice.company_id
        return self._back(back)

    def _back(self, company_id: int | None) -> ResponseReturnValue:
        if company_id:
            return redirect(url_for("StatementView.index", company_id=company_id))
        return redirect(url_for("StatementView.index"))


def _money(value: Decimal) -> float:
    return float(value)


def exposure_figure(st: rules.Statement) -> dict[str, Any]:
    """Plotly figure: the exposure at each month's end (this month: now) against the credit limit."""
    months = [p.month.isoformat() for p in st.history]
    labels = [format_month(p.month) for p in st.history]
    top = max([st.credit_limit, *(p.exposure for p in st.history), Decimal("1")]) * Decimal("1.15")
    return {
        "data": [
            {
                "type": "bar",
                "name": _("Eksponering"),
                "x": months,
                "y": [_money(p.exposure) for p in st.history],
                "marker": {
                    "color": [
                        COLOURS["limit"] if p.exposure > st.credit_limit else COLOURS["exposure"] for p in st.history
                    ]
                },
                "customdata": [[label, format_nok(p.exposure)] for label, p in zip(labels, st.history, strict=True)],
                "hovertemplate": "%{customdata[0]}<br>" + _("Eksponering") + ": %{customdata[1]}<extra></extra>",
            },
            {
                "type": "scatter",
                "mode": "lines",
                "name": _("Kredittgrense"),
                "x": months,
                "y": [_money(st.credit_limit)] * len(months),
                "line": {"dash": "dash", "width": 2, "color": COLOURS["limit"]},
                "hovertemplate": _("Kredittgrense") + ": " + format_nok(st.credit_limit) + "<extra></extra>",
            },
        ],
        "layout": {
            "separators": SEPARATORS,
            "height": 360,
            "margin": {"l": 80, "r": 10, "t": 10, "b": 50},
            "legend": {"orientation": "h", "y": 1.1, "x": 0},
            "font": {"size": 13},
            "xaxis": {"type": "date", "tickformat": "%m.%Y", "dtick": "M1", "automargin": True},
            "yaxis": {
                "title": {"text": _("kr inkl. mva.")},
                "tickformat": ",.0f",
                "range": [0, _money(top)],
                "automargin": True,
            },
        },
    }
