"""Registers the budget dashboard and the standing order pages (issue 5).

plotly.js is served once for every chart page by views/reports.py (`url_for("plotly_js")`).
"""
from __future__ import annotations

from flask import current_app
from flask_appbuilder import AppBuilder
from flask_babel import lazy_gettext as _l

from .base import is_customer, is_supplier
from .budget_dashboard import BudgetDashboardView
from .reports import register_plotly_js
from .standing_order_pages import StandingOrderFormView, list_notice


def register_budget_and_standing_order_views(appbuilder: AppBuilder) -> None:
    # "Min side" for the customer admin, "Kunder" for supplier staff (any company by customer number).
    dashboard = appbuilder.add_view(BudgetDashboardView, "MyBudgetDashboard", label=_l("Bruksgrense – oversikt"),
                                    icon="fa-bar-chart", category="Min side", category_label=_l("Min side"),
                                    category_icon="fa-home", menu_cond=is_customer)
    appbuilder.add_link("BudgetDashboard", href="BudgetDashboardView.index", label=_l("Bruksgrenser – oversikt"),
                        icon="fa-bar-chart", category="Kunder", category_label=_l("Kunder"),
                        category_icon="fa-building", baseview=dashboard, cond=is_supplier)
    appbuilder.add_view_no_menu(StandingOrderFormView)
    app = current_app  # called inside create_app's app context
    register_plotly_js(app)  # idempotent; the reports register it too
    app.jinja_env.globals["standing_order_list_notice"] = list_notice
