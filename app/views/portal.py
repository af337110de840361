"""Min side: budgets (Bruksgrense), standing orders (Faste ordre), inquiries (Henvendelser) and
click-and-collect reservations (Klikk og Hent). Supplier staff read them for every company.

Inquiries and reservations live in views/inquiries.py and views/pickup.py (re-exported here)."""
from __future__ import annotations

from typing import Any, Iterable, Sequence

from flask import current_app, g
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import joinedload, selectinload

from ..domain import labels
from ..domain.budgets import consumption
from ..domain.formatting import oslo_today
from ..models import (
    Budget,
    Company,
    StandingOrder,
    StandingOrderLine,
)
from .base import (
    LookupField,
    PortalInterface,
    PortalModelView,
    code_select,
    company_scoped,
    fmt_code,
    fmt_date,
    fmt_datetime,
    fmt_nok,
    fmt_yes_no,
)


def _company_field() -> LookupField:
    return LookupField(_l("Bedrift (kundenummer)"), model=Company, key="customer_number", supplier_only=True,
                       not_found=_l("Fant ingen bedrift med dette kundenummeret."))


# --- Bruksgrense ----------------------------------------------------------------------------


def _consumed(budget: Budget) -> str:
    """This period's consumption; the list computes a whole page in one query (see values())."""
    cache = g.setdefault("_budget_consumption", {})
    if budget.id not in cache:
        cache.update(consumption(current_app.appbuilder.session, [budget], oslo_today()))
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
        "who": lambda b: b.user.get_full_name() if b.user else str(_l("Alle brukere")),
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
        "company": _company_field(),
        "period": code_select(_l("Periode"), labels.BUDGET_PERIOD),
    }
    # Users offered: the company's own (customer side: the guard; supplier: the budget's company).
    add_form_query_rel_fields = edit_form_query_rel_fields = {"user": company_scoped()}
    # The amount (decimal comma, the domain's rule) and the user select: views/budget_form.py (__init__).
    validators_columns: dict[str, Any] = {}
    description_columns = {
        "user": _l("Tomt: grensen gjelder alle brukerne i bedriften samlet."),
        "amount": _l("Myk grense: ordre over grensen blir lagt inn, men merket, og administratorene varsles."),
    }
    list_template = "budgets/list.html"  # adds the way to the dashboard (charts)

    def __init__(self, **kwargs: Any) -> None:
        from .budget_form import budget_form_fields

        fields = {**self.add_form_extra_fields, **budget_form_fields()}
        self.add_form_extra_fields = self.edit_form_extra_fields = fields
        super().__init__(**kwargs)

    def values(self, items: Iterable[Any], columns: Sequence[str]) -> list[dict[str, Any]]:
        items = list(items)
        if "consumed" in columns and items:
            g.setdefault("_budget_consumption", {}).update(
                consumption(self.datamodel.session, items, oslo_today()))
        return super().values(items, columns)


# --- Faste ordre ----------------------------------------------------------------------------


def plan_text(so: StandingOrder) -> str:
    """"Hver 2. uke, mandag" / "Hver måned, den 15." — the delivery plan in words."""
    weekday = labels.label(labels.WEEKDAY, so.weekday) if so.weekday is not None else ""
    if so.frequency == "every_n_weeks":
        text = str(_l("Hver %(n)s. uke", n=so.interval_weeks or 1))
    else:
        text = labels.label(labels.FREQUENCY, so.frequency)
    if so.frequency == "monthly" and so.day_of_month:
        return f"{text}, {_l('den %(day)s.', day=so.day_of_month)}"
    return f"{text}, {weekday}" if weekday else text


class StandingOrderView(PortalModelView):
    datamodel = PortalInterface(
        StandingOrder,
        list_options=[joinedload(StandingOrder.company), joinedload(StandingOrder.delivery_address)],
        item_options=[joinedload(StandingOrder.company), joinedload(StandingOrder.delivery_address),
                      joinedload(StandingOrder.created_by),
                      selectinload(StandingOrder.lines).joinedload(StandingOrderLine.product)],
    )
    base_permissions = ["can_list", "can_show"]

    list_title = _l("Faste ordre")
    show_title = _l("Fast ordre")
    label_columns = {
        "name": _l("Navn"),
        "company": _l("Bedrift"),
        "plan": _l("Leveringsplan"),
        "delivery_address": _l("Leveringsadresse"),
        "start_date": _l("Startdato"),
        "end_date": _l("Sluttdato"),
        "paused_until": _l("Pause til og med"),
        "skip_date": _l("Hopper over"),
        "next_delivery": _l("Neste levering"),
        "active": _l("Aktiv"),
        "created_by": _l("Opprettet av"),
        "created_at": _l("Opprettet"),
        "frequency": _l("Frekvens"),
    }
    formatters_columns = {
        "start_date": fmt_date,
        "end_date": fmt_date,
        "paused_until": fmt_date,
        "skip_date": fmt_date,
        "active": fmt_yes_no,
        "created_at": fmt_datetime,
        "frequency": fmt_code(labels.FREQUENCY),
    }
    computed_columns = {"plan": plan_text}
    list_columns = ["name", "company", "plan", "next_delivery", "delivery_address", "start_date", "end_date", "active"]
    list_columns_customer = ["name", "plan", "next_delivery", "delivery_address", "start_date", "end_date",
                             "paused_until", "active"]
    order_columns = ["name", "start_date", "end_date"]
    base_order = ("created_at", "desc")
    search_columns = ["name", "active", "start_date"]
    show_fieldsets = [
        (_l("Fast ordre"), {"fields": ["name", "company", "plan", "delivery_address", "start_date", "end_date",
                                       "paused_until", "skip_date", "active", "created_by", "created_at"]}),
    ]
    # Next deliveries, generated orders, pause/skip and "Opprett fast ordre": views/standing_order_pages.py.
    list_template = "standing_orders/list.html"
    show_template = "standing_orders/show.html"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        from ..domain.standing_orders import plan_text as domain_plan_text
        from .standing_order_pages import next_delivery_text

        self.computed_columns.update({"plan": domain_plan_text, "next_delivery": next_delivery_text})

    def show_context(self, item: StandingOrder) -> dict[str, Any]:
        from .standing_order_pages import show_context

        return show_context(item)


# --- Henvendelser and Klikk og Hent: their own modules (views/inquiries.py, views/pickup.py) ---

from .inquiries import InquiryView  # noqa: E402,F401
from .pickup import PickupReservationView  # noqa: E402,F401
