"""Bruksgrense – oversikt: Plotly charts of a company's budgets, each with a table beside it.

* consumption vs. limit per budget (user, or the whole company) in the chosen period (bar chart);
* one budget's cumulative consumption over the period against its limit, with a straight-line
  forecast to the period's end (line chart).

Customer admins see their own company; supplier staff choose any company by customer number.
The figures come from app/domain/budgets.py (SQL aggregates: a fixed number of statements
whatever the number of orders); this module only shapes them for Plotly and the tables.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Optional

from flask import request
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.security.decorators import permission_name
from flask_babel import gettext as _
from sqlalchemy import select

from ..domain import budgets as rules
from ..domain import labels
from ..domain.formatting import format_date, format_nok, oslo_today
from ..extensions import db
from ..models import Budget, Company
from .base import user_can
from .workflow_base import current_actor

# How many periods the picker offers, newest first (older ones can still be opened by URL).
PICKER_LENGTH = {"month": 12, "quarter": 8, "year": 5}
COLOURS = {"ok": "#2e7d32", "warn": "#ef8f00", "over": "#c62828", "limit": "#90a4ae", "line": "#1565c0"}
# Norwegian number format in Plotly: decimal comma, (thin) space between thousands.
SEPARATORS = ", "


def who(budget: Budget) -> str:
    return budget.user.full_name if budget.user is not None else _("Alle brukere")


def _money(value: Decimal) -> float:
    return float(value)


def _bar_figure(rows: list[dict]) -> dict[str, Any]:
    names = [who(r["budget"]) for r in rows]
    return {
        "data": [
            {"type": "bar", "name": _("Forbruk"), "x": names, "y": [_money(r["used"]) for r in rows],
             "marker": {"color": [COLOURS[r["level"]] for r in rows]},
             "customdata": [format_nok(r["used"]) for r in rows],
             "hovertemplate": "%{x}<br>" + _("Forbruk") + ": %{customdata}<extra></extra>"},
            {"type": "bar", "name": _("Grense"), "x": names, "y": [_money(r["budget"].amount) for r in rows],
             "marker": {"color": COLOURS["limit"]},
             "customdata": [format_nok(r["budget"].amount) for r in rows],
             "hovertemplate": "%{x}<br>" + _("Grense") + ": %{customdata}<extra></extra>"},
        ],
        "layout": {
            # Few budgets: narrower bars (one budget would otherwise fill the whole chart).
            "barmode": "group", "bargap": 0.55 if len(rows) <= 2 else 0.3, "bargroupgap": 0.08,
            "separators": SEPARATORS, "height": 380,
            "margin": {"l": 70, "r": 10, "t": 10, "b": 60},
            "legend": {"orientation": "h", "y": 1.08, "x": 0},
            "yaxis": {"title": {"text": _("kr eks. mva.")}, "tickformat": ",.0f", "rangemode": "tozero",
                      "automargin": True},
            "xaxis": {"automargin": True},
            "font": {"size": 13},
        },
    }


def _line_figure(budget: Budget, series: dict) -> dict[str, Any]:
    start, last = series["start"], series["last"]
    data: list[dict[str, Any]] = []
    if series["days"]:
        data.append({
            "type": "scatter", "mode": "lines", "line": {"shape": "hv", "width": 3, "color": COLOURS["line"]},
            "name": _("Forbruk (akkumulert)"),
            "x": [d.isoformat() for d, _v in series["days"]], "y": [_money(v) for _d, v in series["days"]],
            "customdata": [format_nok(v) for _d, v in series["days"]],
            "hovertemplate": "%{x|%d.%m.%Y}<br>" + _("Forbruk") + ": %{customdata}<extra></extra>"})
    data.append({
        "type": "scatter", "mode": "lines", "line": {"dash": "dash", "width": 2, "color": COLOURS["over"]},
        "name": _("Grense"), "x": [start.isoformat(), last.isoformat()],
        "y": [_money(budget.amount), _money(budget.amount)],
        "hovertemplate": _("Grense") + ": " + format_nok(budget.amount) + "<extra></extra>"})
    if series["forecast"]:
        data.append({
            "type": "scatter", "mode": "lines+markers", "line": {"dash": "dot", "width": 2, "color": COLOURS["warn"]},
            "name": _("Prognose"), "x": [d.isoformat() for d, _v in series["forecast"]],
            "y": [_money(v) for _d, v in series["forecast"]],
            "customdata": [format_nok(v) for _d, v in series["forecast"]],
            "hovertemplate": "%{x|%d.%m.%Y}<br>" + _("Prognose") + ": %{customdata}<extra></extra>"})
    return {
        "data": data,
        "layout": {
            "separators": SEPARATORS, "height": 380, "margin": {"l": 70, "r": 10, "t": 10, "b": 50},
            "legend": {"orientation": "h", "y": 1.08, "x": 0}, "font": {"size": 13},
            # Half a day of room at both ends, so the first and the last point are not cut.
            "xaxis": {"type": "date", "tickformat": "%d.%m", "automargin": True,
                      "range": [f"{start - dt.timedelta(days=1):%Y-%m-%d} 12:00", f"{last:%Y-%m-%d} 12:00"]},
            "yaxis": {"title": {"text": _("kr eks. mva.")}, "tickformat": ",.0f", "rangemode": "tozero",
                      "automargin": True},
        },
    }


def _daily_rows(series: dict) -> list[dict[str, Any]]:
    """The line chart's table: the days something was ordered, with that day's and the running sum."""
    rows, previous = [], Decimal("0")
    for day, value in series["days"]:
        if value != previous:
            rows.append({"day": day, "amount": value - previous, "cumulative": value})
        previous = value
    return rows


class BudgetDashboardView(BaseView):
    route_base = "/bruksgrense/oversikt"
    default_view = "index"
    base_permissions = ["can_list"]

    @expose("/")
    @has_access
    @permission_name("list")
    def index(self):  # type: ignore[no-untyped-def]
        actor = current_actor()
        today = oslo_today()
        company: Optional[Company] = None
        customer_number = ""
        company_error = None
        if actor.is_customer:
            company = db.session.get(Company, actor.company_id)
        else:
            customer_number = (request.args.get("kunde") or "").strip()[:20]
            if customer_number:
                company = db.session.scalar(select(Company).where(Company.customer_number == customer_number))
                if company is None:
                    company_error = _("Fant ingen bedrift med kundenummer %(number)s.", number=customer_number)
        context: dict[str, Any] = {"company": company, "customer_number": customer_number,
                                   "company_error": company_error, "supplier": not actor.is_customer,
                                   "can_edit_budgets": actor.is_customer and user_can("can_add", "BudgetView")}
        if company is not None:
            context.update(self._figures(company, today))
        return self.render_template("budgets/dashboard.html", **context)

    def _figures(self, company: Company, today: dt.date) -> dict[str, Any]:
        all_budgets = rules.company_budgets(db.session, company.id)
        counts = {p: sum(1 for b in all_budgets if b.period == p) for p in rules.PERIODS}
        period = request.args.get("periode")
        if period not in rules.PERIODS:
            period = next((p for p in rules.PERIODS if counts[p]), "month")
        current_start, _end = rules.period_bounds(period, today)
        start = rules.parse_period_key(period, request.args.get("p")) or current_start
        day = today if start == current_start else start
        choices = rules.recent_periods(period, today, PICKER_LENGTH[period])
        key = rules.period_key(period, start)
        if key not in {k for k, _l in choices}:
            choices.append((key, rules.period_label(period, start)))
        budgets = [b for b in all_budgets if b.period == period]
        rows = rules.budget_rows(db.session, budgets, day)
        selected = None
        wanted = request.args.get("budsjett", type=int)
        for row in rows:
            if row["budget"].id == wanted:
                selected = row
        if selected is None and rows:
            selected = next((r for r in rows if r["level"] == "over"), rows[0])
        series = rules.cumulative(db.session, selected["budget"], day, today) if selected else None
        period_start, period_end = rules.period_bounds(period, day)
        return {
            "period": period, "period_key": key, "period_choices": choices, "counts": counts,
            "period_labels": labels.BUDGET_PERIOD, "period_name": rules.period_label(period, start),
            "period_first": period_start, "period_last": period_end - dt.timedelta(days=1),
            "is_current": start == current_start, "rows": rows, "selected": selected, "series": series,
            "bar_figure": _bar_figure(rows) if rows else None,
            "line_figure": _line_figure(selected["budget"], series) if selected else None,
            "daily_rows": _daily_rows(series) if series else [], "who": who,
            "format_date": format_date,
        }
