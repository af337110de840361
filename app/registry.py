"""The one place that adds every page, link, menu category and REST API to AppBuilder.

Menus: FAB shows an item to a role with `menu_access` on the item's name (app/domain/setup.py grants
it for every view a role can list). Views used by both sides appear in one menu for everyone
("Ordre", "Katalog"); where the supplier's and the customer's work differ the same view has one
item per side, shown by a `menu_cond` ("Kunder" for supplier staff, "Min side" for customers).
Menu item *names* are stable identifiers (permissions refer to them); labels are Norwegian.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import plotly
from flask import Flask, Response, send_file
from flask_appbuilder import AppBuilder
from flask_babel import lazy_gettext as _l

from app.api.accounts import UserApi
from app.api.audit import AuditApi
from app.api.budgets import BudgetApi
from app.api.catalogue import ProductApi
from app.api.companies import CompanyApi, DeliveryAddressApi
from app.api.inquiries import InquiryApi
from app.api.internal_approval import ApprovalRuleApi
from app.api.mfa import MfaApi
from app.api.notices import NoticeApi
from app.api.orders import OrderApi
from app.api.pickup import PickupReservationApi
from app.api.quick_order import QuickOrderApi
from app.api.quotes import QuoteApi
from app.api.shopping_lists import ShoppingListApi
from app.api.standing_orders import StandingOrderApi
from app.api.statements import StatementApi
from app.views.accounts import CompanyUserView, MfaView, PasswordLinkView, ProfileView, enforce_enrolment
from app.views.approvals import ApprovalQueueView
from app.views.audit import AuditView, record_denial
from app.views.base import is_customer, is_supplier
from app.views.budgets import BudgetDashboardView, BudgetView
from app.views.catalogue import ProductView, StoreView
from app.views.companies import CompanyView, DeliveryAddressView, MyCompanyView
from app.views.fragments import navbar_menu
from app.views.inquiries import InquiryView
from app.views.internal_approval import InternalApprovalView, order_panel
from app.views.list_rows import list_rows
from app.views.notices import NoticeView, page_bell
from app.views.orders import (
    NewOrderView,
    OrderActionsView,
    OrderLineView,
    OrderView,
    ProductSearchView,
)
from app.views.pickup import PickupReservationView
from app.views.quick_order import QuickOrderView
from app.views.quotes import QuoteActionsView, QuoteLineView, QuoteView
from app.views.reports import REPORTS, ReportsView
from app.views.shopping_lists import ShoppingListFormView, ShoppingListView, reorder_form
from app.views.shopping_lists import list_notice as shopping_list_notice
from app.views.standing_orders import (
    StandingOrderFormView,
    StandingOrderView,
    list_notice,
)
from app.views.statements import StatementView, may_see_statement


class Category(NamedTuple):
    name: str  # stable identifier (menu_access permissions name it)
    label: Any
    icon: str


ORDERS = Category("Ordre", _l("Ordre"), "fa-shopping-cart")
CUSTOMERS = Category("Kunder", _l("Kunder"), "fa-building")
MY_PAGE = Category("Min side", _l("Min side"), "fa-home")
CATALOGUE = Category("Katalog", _l("Katalog"), "fa-th-list")
REPORTS_MENU = Category("Rapporter", _l("Rapporter"), "fa-bar-chart")

APIS = (
    CompanyApi,
    DeliveryAddressApi,
    ProductApi,
    OrderApi,
    QuoteApi,
    BudgetApi,
    StandingOrderApi,
    ShoppingListApi,
    InquiryApi,
    PickupReservationApi,
    UserApi,
    AuditApi,
    ApprovalRuleApi,
)

PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
PLOTLY_JS_URL = f"/static/vendor/plotly-{plotly.__version__}.min.js"  # the version in the name: cache forever


def register_all(app: Flask, appbuilder: AppBuilder) -> None:
    registered: dict[type, Any] = {}

    def add(
        view: type,
        name: str,
        label: Any,
        category: Category,
        icon: str,
        cond: Callable[[], bool] | None = None,
        href: str | None = None,
    ) -> Any:
        # A second menu item for a view must point at the registered instance: FAB would build a
        # new, unregistered instance from the class (no endpoint, a broken link).
        instance = appbuilder.add_view(
            registered.get(view, view),
            name,
            href=href,
            label=label,
            icon=icon,
            category=category.name,
            category_label=category.label,
            category_icon=category.icon,
            menu_cond=cond,
        )
        registered.setdefault(view, instance)
        return instance

    def link(
        name: str,
        href: str,
        label: Any,
        category: Category,
        icon: str,
        baseview: Any,
        cond: Callable[[], bool] | None = None,
    ) -> None:
        appbuilder.add_link(
            name,
            href=href,
            label=label,
            icon=icon,
            category=category.name,
            category_label=category.label,
            category_icon=category.icon,
            baseview=baseview,
            cond=cond,
        )

    # Ordre: the same lists for everyone (the guard scopes customers to their company).
    add(OrderView, "Orders", _l("Ordreoversikt"), ORDERS, "fa-list")
    add(QuoteView, "Quotes", _l("Tilbud"), ORDERS, "fa-file-text-o")
    add(StandingOrderView, "StandingOrders", _l("Faste ordre"), ORDERS, "fa-repeat", cond=is_supplier)
    add(ApprovalQueueView, "Til godkjenning", _l("Til godkjenning"), ORDERS, "fa-check-square-o")
    add(NewOrderView, "Ny bestilling", _l("Ny bestilling"), ORDERS, "fa-cart-plus")
    add(QuoteActionsView, "Nytt tilbud", _l("Nytt tilbud"), ORDERS, "fa-file-text-o", href="/tilbud/ny")
    # Hurtigbestilling: pasted or uploaded lines, handed to Ny bestilling or Nytt tilbud.
    add(QuickOrderView, "Hurtigbestilling", _l("Hurtigbestilling"), ORDERS, "fa-bolt")
    # Handlelister: the company's lists (supplier staff read every company's).
    add(ShoppingListView, "ShoppingLists", _l("Handlelister"), ORDERS, "fa-list-alt")

    # Kunder: the supplier's view of all customer companies.
    add(CompanyView, "Companies", _l("Bedrifter"), CUSTOMERS, "fa-building-o")
    user_view = appbuilder.sm.user_view
    if user_view is not None:
        # FAB files its user admin under "Security" (Admin only); customer service needs it here.
        security = appbuilder.menu.find("Security")
        if security is not None:
            security.childs = [c for c in security.childs if c.baseview is not user_view]
        link(
            "CustomerUsers",
            f"{user_view.endpoint}.list",
            _l("Brukere"),
            CUSTOMERS,
            "fa-users",
            user_view,
            cond=is_supplier,
        )
    add(DeliveryAddressView, "DeliveryAddresses", _l("Leveringsadresser"), CUSTOMERS, "fa-truck", cond=is_supplier)
    add(BudgetView, "Budgets", _l("Bruksgrenser"), CUSTOMERS, "fa-tachometer", cond=is_supplier)
    add(InquiryView, "Inquiries", _l("Henvendelser"), CUSTOMERS, "fa-comments", cond=is_supplier)
    add(
        PickupReservationView, "PickupReservations", _l("Klikk og Hent"), CUSTOMERS, "fa-shopping-bag", cond=is_supplier
    )

    # Revisjonslogg: Admin reads all of it (here), a customer admin its company's (Min side).
    add(AuditView, "AuditLog", _l("Revisjonslogg"), CUSTOMERS, "fa-history", cond=is_supplier)

    # Min side: a customer's own company.
    add(MyCompanyView, "MyCompany", _l("Bedriftsinformasjon"), MY_PAGE, "fa-building-o")
    add(DeliveryAddressView, "MyDeliveryAddresses", _l("Leveringsadresser"), MY_PAGE, "fa-truck", cond=is_customer)
    add(CompanyUserView, "CompanyUsers", _l("Brukere"), MY_PAGE, "fa-users")
    add(BudgetView, "MyBudgets", _l("Bruksgrense"), MY_PAGE, "fa-tachometer", cond=is_customer)
    add(StandingOrderView, "MyStandingOrders", _l("Faste ordre"), MY_PAGE, "fa-repeat", cond=is_customer)
    add(InquiryView, "MyInquiries", _l("Henvendelser"), MY_PAGE, "fa-comments", cond=is_customer)
    add(
        PickupReservationView, "MyPickupReservations", _l("Klikk og Hent"), MY_PAGE, "fa-shopping-bag", cond=is_customer
    )
    add(AuditView, "MyAuditLog", _l("Revisjonslogg"), MY_PAGE, "fa-history", cond=is_customer)
    # Godkjenning hos dere: the company's own approval queue and its rules (customer admins).
    add(InternalApprovalView, "MyInternalApproval", _l("Godkjenning hos dere"), MY_PAGE, "fa-check-circle-o")
    # The budget dashboard: "Min side" for the customer admin, "Kunder" for supplier staff (any company).
    dashboard = add(
        BudgetDashboardView,
        "MyBudgetDashboard",
        _l("Bruksgrense – oversikt"),
        MY_PAGE,
        "fa-bar-chart",
        cond=is_customer,
    )
    link(
        "BudgetDashboard",
        "BudgetDashboardView.index",
        _l("Bruksgrenser – oversikt"),
        CUSTOMERS,
        "fa-bar-chart",
        dashboard,
        cond=is_supplier,
    )

    # Kontoutskrift: "Min side" for the customer admin, "Kunder" for supplier staff (any company).
    statement = add(StatementView, "MyStatement", _l("Kontoutskrift"), MY_PAGE, "fa-file-text", cond=is_customer)
    link(
        "Statement", "StatementView.index", _l("Kontoutskrift"), CUSTOMERS, "fa-file-text", statement, cond=is_supplier
    )

    # Katalog
    add(ProductView, "Products", _l("Produkter"), CATALOGUE, "fa-cube")
    add(StoreView, "Stores", _l("Butikker"), CATALOGUE, "fa-map-marker")

    # Rapporter: one view, one menu item per report.
    reports: Any | None = None
    for report in REPORTS:
        href = f"ReportsView.{report.method}"
        if reports is None:
            reports = add(ReportsView, report.menu_name, report.title, REPORTS_MENU, report.icon, href=href)
        else:
            link(report.menu_name, href, report.title, REPORTS_MENU, report.icon, reports)

    # Reached from other pages only: an order's or a quote's page, Min profil (the navbar's user
    # menu), the welcome mail's set-password page, the standing order forms, the product search.
    for view in (
        OrderLineView,
        QuoteLineView,
        ProfileView,
        MfaView,
        PasswordLinkView,
        OrderActionsView,
        ProductSearchView,
        StandingOrderFormView,
        ShoppingListFormView,
        NoticeView,  # Varsler: the navbar's bell
    ):
        appbuilder.add_view_no_menu(view)

    # Category items show only on the side they belong to (an empty dropdown otherwise).
    for name, cond in ((CUSTOMERS.name, is_supplier), (MY_PAGE.name, is_customer)):
        item = appbuilder.menu.find(name)
        if item is not None:
            item.cond = cond

    for api in APIS:
        appbuilder.add_api(api)
    # Not a model resource (no list, no ids): the caller's own two-factor login.
    appbuilder.add_api(MfaApi)
    # Not a model resource either: checks quick-order rows, saves nothing.
    appbuilder.add_api(QuickOrderApi)
    appbuilder.add_api(StatementApi)  # not a model resource either: one company's statement
    appbuilder.add_api(NoticeApi)  # the caller's own notices and mail choices

    # After the user is known (FAB's before_request, the tenant): a user whose role requires
    # two-factor login is sent to set it up first.
    app.before_request(enforce_enrolment)
    app.after_request(record_denial)  # every 403 of a logged-in user goes into the audit log
    app.add_url_rule(PLOTLY_JS_URL, "plotly_js", plotly_js)  # `url_for("plotly_js")` on every chart page
    app.jinja_env.globals["standing_order_list_notice"] = list_notice
    app.jinja_env.globals["reorder_form"] = reorder_form  # "Bestill igjen" on orders, quotes, lists
    app.jinja_env.globals["shopping_list_notice"] = shopping_list_notice
    app.jinja_env.globals["may_see_statement"] = may_see_statement  # the company pages' Kontoutskrift link
    app.jinja_env.globals["navbar_menu"] = navbar_menu  # appbuilder/navbar_menu.html
    app.jinja_env.globals["list_rows"] = list_rows  # a list page's rows (portal_list.html)
    app.jinja_env.globals["notice_bell"] = page_bell  # the navbar's bell (appbuilder/navbar_right.html)
    app.jinja_env.globals["internal_approval_panel"] = order_panel


def plotly_js() -> Response:
    """The plotly.js bundled with the installed Python package; public like any static file (no data)."""
    response = send_file(PLOTLY_JS, mimetype="text/javascript", max_age=365 * 24 * 3600, conditional=True)
    response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    return response
