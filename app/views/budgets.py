"""Bruksgrenser: the budget list and form (BudgetView) and the dashboard with charts
(BudgetDashboardView). Rules: app/domain/budgets.py."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from flask import current_app, g, request
from flask.typing import ResponseReturnValue
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.fields import QuerySelectField
from flask_appbuilder.fieldwidgets import Select2Widget
from flask_appbuilder.security.decorators import permission_name
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import joinedload
from wtforms import BooleanField

from app.domain import budgets as rules
from app.domain import labels
from app.domain.budgets import consumption
from app.domain.formatting import format_nok, oslo_today
from app.extensions import db
from app.models import Budget, Company, PortalUser
from app.views.base import (
    PortalInterface,
    PortalModelView,
    code_select,
    company_lookup_field,
    company_scoped,
    fmt_code,
    fmt_datetime,
    fmt_nok,
    fmt_yes_no,
    form_company_id,
    user_can,
)
from app.views.forms import MoneyField, current_actor


def _consumed(budget: Budget) -> str:
    """This period's consumption; the list computes a whole page in one query (see values())."""
    cache = g.setdefault("_budget_consumption", {})
    if budget.id not in cache:
        cache.update(consumption(current_app.extensions["appbuilder"].session, [budget], oslo_today()))
    return fmt_nok(cache.get(budget.id))


class BudgetView(PortalModelView):
    datamodel = PortalInterface(Budget, list_options=[joinedload(Budget.company), joinedload(Budget.user)])
    base_permissions = ["can_list", "can_show", "can_add", "can_edit", "can_delete"]

    list_title = _l("Bruksgrense")
    show_title = _l("Bruksgrense")
    add_title = _l("Ny bruksgrense")
    edit_title = _l("Endre bruksgrense")
    label_columns = {
        "company": _l("Bedrift"),
        "user": _l("Bruker"),
        "who": _l("Gjelder"),
        "period": _l("Periode"),
        "amount": _l("Beløp eks. mva."),
        "consumed": _l("Forbruk denne perioden"),
        "active": _l("Aktiv"),
        "created_at": _l("Opprettet"),
    }
    formatters_columns = {
        "period": fmt_code(labels.BUDGET_PERIOD),
        "amount": fmt_nok,
        "active": fmt_yes_no,
        "created_at": fmt_datetime,
    }
    computed_columns = {
        "who": lambda b: who(b),  # who() is defined below
        "consumed": _consumed,
    }
    list_columns = ["company", "who", "period", "amount", "consumed", "active"]
    list_columns_customer = ["who", "period", "amount", "consumed", "active"]
    order_columns = ["period", "amount", "active"]
    base_order = ("created_at", "desc")
    search_columns = ["period", "active"]
    search_form_extra_fields = {"period": code_select(_l("Periode"), labels.BUDGET_PERIOD, search=True)}
    show_columns = ["company", "who", "period", "amount", "consumed", "active", "created_at"]
    add_columns = edit_columns = ["company", "user", "period", "amount", "active"]
    add_form_extra_fields = edit_form_extra_fields = {
        "company": company_lookup_field(),
        "period": code_select(_l("Periode"), labels.BUDGET_PERIOD),
    }
    # Users offered: the company's own (customer side: the guard; supplier: the budget's company).
    add_form_query_rel_fields = edit_form_query_rel_fields = {"user": company_scoped()}
    # The amount (decimal comma, the domain's rule) and the user select: budget_form_fields() (__init__).
    validators_columns: dict[str, Any] = {}
    description_columns = {
        "user": _l("Tomt: grensen gjelder alle brukerne i bedriften samlet."),
        "amount": _l("Myk grense: ordre over grensen blir lagt inn, men merket, og administratorene varsles."),
    }
    list_template = "budgets/list.html"  # adds the way to the dashboard (charts)

    def __init__(self, **kwargs: Any) -> None:
        fields = {**self.add_form_extra_fields, **budget_form_fields()}
        self.add_form_extra_fields = self.edit_form_extra_fields = fields
        super().__init__(**kwargs)

    def values(self, items: Iterable[Any], columns: Sequence[str]) -> list[dict[str, Any]]:
        items = list(items)
        if "consumed" in columns and items:
            g.setdefault("_budget_consumption", {}).update(consumption(self.datamodel.session, items, oslo_today()))
        return super().values(items, columns)


def _company_users() -> list[PortalUser]:
    return list(
        db.session.scalars(
            select(PortalUser)
            .where(PortalUser.company_id == form_company_id())
            .order_by(PortalUser.first_name, PortalUser.last_name, PortalUser.username)
        )
    )


def _user_label(user: PortalUser) -> str:
    return user.full_name if user.active else str(_l("%(name)s (deaktivert)", name=user.full_name))


def budget_user_field() -> QuerySelectField:
    return QuerySelectField(
        _l("Bruker"),
        query_func=_company_users,
        get_pk_func=lambda user: user.id,
        get_label=_user_label,
        allow_blank=True,
        blank_text=_l("(alle brukere)"),
        widget=Select2Widget(),
        description=_l("Tomt: grensen gjelder alle brukerne i bedriften samlet."),
    )


def budget_form_fields() -> dict[str, Any]:
    return {
        "user": budget_user_field(),
        "amount": MoneyField(
            _l("Beløp eks. mva."),
            rule=rules.validate_budget_amount,
            description=_l("Myk grense: ordre over grensen blir lagt inn, men merket, og administratorene varsles."),
        ),
        # Unticked must be allowed (FAB makes a NOT NULL boolean column "required").
        "active": BooleanField(
            _l("Aktiv"), default=True, description=_l("En bruksgrense som ikke er aktiv, gjelder ikke.")
        ),
    }


# How many periods the picker offers, newest first (older ones can still be opened by URL).
PICKER_LENGTH = {"month": 12, "quarter": 8, "year": 5}
COLOURS = {"ok": "#2e7d32", "warn": "#ef8f00", "over": "#c62828", "limit": "#90a4ae", "line": "#1565c0"}
# Norwegian number format in Plotly: decimal comma, (thin) space between thousands.
SEPARATORS = ", "


def who(budget: Budget) -> str:
    """Whom a budget applies to: its user, or everyone in the company."""
    return budget.user.full_name if budget.user is not None else _("Alle brukere")


def _money(value: Decimal) -> float:
    return float(value)


def _bar_figure(rows: list[dict]) -> dict[str, Any]:
    names = [who(r["budget"]) for r in rows]
    return {
        "data": [
            {
                "type": "bar",
                "name": _("Forbruk"),
                "x": names,
                "y": [_money(r["used"]) for r in rows],
                "marker": {"color": [COLOURS[r["level"]] for r in rows]},
                "customdata": [format_nok(r["used"]) for r in rows],
                "hovertemplate": "%{x}<br>" + _("Forbruk") + ": %{customdata}<extra></extra>",
            },
            {
                "type": "bar",
                "name": _("Grense"),
                "x": names,
                "y": [_money(r["budget"].amount) for r in rows],
                "marker": {"color": COLOURS["limit"]},
                "customdata": [format_nok(r["budget"].amount) for r in rows],
                "hovertemplate": "%{x}<br>" + _("Grense") + ": %{customdata}<extra></extra>",
            },
        ],
        "layout": {
            # Few budgets: narrower bars (one budget would otherwise fill the whole chart).
            "barmode": "group",
            "bargap": 0.55 if len(rows) <= 2 else 0.3,
            "bargroupgap": 0.08,
            "separators": SEPARATORS,
            "height": 380,
            "margin": {"l": 70, "r": 10, "t": 10, "b": 60},
            "legend": {"orientation": "h", "y": 1.08, "x": 0},
            "yaxis": {
                "title": {"text": _("kr eks. mva.")},
                "tickformat": ",.0f",
                "rangemode": "tozero",
                "automargin": True,
            },
            "xaxis": {"automargin": True},
            "font": {"size": 13},
        },
    }


def _line_figure(budget: Budget, series: dict) -> dict[str, Any]:
    start, last = series["start"], series["last"]
    data: list[dict[str, Any]] = []
    if series["days"]:
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "line": {"shape": "hv", "width": 3, "color": COLOURS["line"]},
                "name": _("Forbruk (akkumulert)"),
                "x": [d.isoformat() for d, _v in series["days"]],
                "y": [_money(v) for _d, v in series["days"]],
                "customdata": [format_nok(v) for _d, v in series["days"]],
                "hovertemplate": "%{x|%d.%m.%Y}<br>" + _("Forbruk") + ": %{customdata}<extra></extra>",
            }
        )
    data.append(
        {
            "type": "scatter",
            "mode": "lines",
            "line": {"dash": "dash", "width": 2, "color": COLOURS["over"]},
            "name": _("Grense"),
            "x": [start.isoformat(), last.isoformat()],
            "y": [_money(budget.amount), _money(budget.amount)],
            "hovertemplate": _("Grense") + ": " + format_nok(budget.amount) + "<extra></extra>",
        }
    )
    top = _axis_top(budget, series)
    annotations: list[dict[str, Any]] = []
    if series["forecast"]:
        (today, used), (last_day, total) = series["forecast"]
        points = _clipped_forecast(today, used, last_day, total, top)
        data.append(
            {
                "type": "scatter",
                "mode": "lines+markers",
                "line": {"dash": "dot", "width": 2, "color": COLOURS["warn"]},
                "name": _("Prognose"),
                "x": [x for x, _v in points],
                "y": [_money(v) for _x, v in points],
                "customdata": [format_nok(used), format_nok(total)][: len(points)],
                "hovertemplate": "%{x|%d.%m.%Y}<br>" + _("Prognose") + ": %{customdata}<extra></extra>",
            }
        )
        # The forecast's value stands at its end, also when the line leaves the chart at the top.
        label = _("Prognose %(date)s: %(amount)s", date=last_day.strftime("%d.%m."), amount=format_nok(total))
        if total > top:
            label += " ↑"
        annotations.append(
            {
                "x": points[-1][0],
                "y": _money(min(total, top)),
                "text": label,
                "showarrow": False,
                "xanchor": "right",
                "yanchor": "bottom",
                "font": {"color": COLOURS["over"] if total > budget.amount else "#555"},
            }
        )
    return {
        "data": data,
        "layout": {
            "separators": SEPARATORS,
            "height": 380,
            "margin": {"l": 70, "r": 10, "t": 10, "b": 50},
            "legend": {"orientation": "h", "y": 1.08, "x": 0},
            "font": {"size": 13},
            "annotations": annotations,
            # Half a day of room at both ends, so the first and the last point are not cut.
            "xaxis": {
                "type": "date",
                "tickformat": "%d.%m",
                "automargin": True,
                "range": [f"{start - dt.timedelta(days=1):%Y-%m-%d} 12:00", f"{last:%Y-%m-%d} 12:00"],
            },
            # Scaled around the limit (not the forecast), so the limit line keeps its place.
            "yaxis": {
                "title": {"text": _("kr eks. mva.")},
                "tickformat": ",.0f",
                "range": [0, _money(top)],
                "automargin": True,
            },
        },
    }


# Room above the larger of the limit and the consumption so far.
AXIS_HEADROOM = Decimal("1.2")


def _axis_top(budget: Budget, series: dict) -> Decimal:
    """The y-axis' top: the larger of the limit and the consumption so far, plus a fifth."""
    return max(budget.amount, series["used"], Decimal("1")) * AXIS_HEADROOM


def _clipped_forecast(
    today: dt.date, used: Decimal, last: dt.date, total: Decimal, top: Decimal
) -> list[tuple[str, Decimal]]:
    """The forecast line's points; a forecast above `top` ends where the line reaches the top."""
    if total <= top or total <= used:
        return [(today.isoformat(), used), (last.isoformat(), total)]
    share = float((top - used) / (total - used))
    when = (
        dt.datetime.combine(today, dt.time())
        + (dt.datetime.combine(last, dt.time()) - dt.datetime.combine(today, dt.time())) * share
    )
    return [(today.isoformat(), used), (when.strftime("%Y-%m-%d %H:%M"), top)]


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
    def index(self) -> ResponseReturnValue:
        actor = current_actor()
        today = oslo_today()
        company: Company | None = None
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
        context: dict[str, Any] = {
            "company": company,
            "customer_number": customer_number,
            "company_error": company_error,
            "supplier": not actor.is_customer,
            "can_edit_budgets": actor.is_customer and user_can("can_add", "BudgetView"),
        }
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
            "period": period,
            "period_key": key,
            "period_choices": choices,
            "counts": counts,
            "period_labels": labels.BUDGET_PERIOD,
            "period_name": rules.period_label(period, start),
            "period_first": period_start,
            "period_last": period_end - dt.timedelta(days=1),
            "is_current": start == current_start,
            "rows": rows,
            "selected": selected,
            "series": series,
            "bar_figure": _bar_figure(rows) if rows else None,
            "line_figure": _line_figure(selected["budget"], series) if selected and series is not None else None,
            "daily_rows": _daily_rows(series) if series else [],
            "forecast_min_days": rules.FORECAST_MIN_DAYS,
            "forecast_min_orders": rules.FORECAST_MIN_ORDERS,
            "who": who,
        }
