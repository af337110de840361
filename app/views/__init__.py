"""One module per area; `register_views` is the one place that adds them to AppBuilder.

Menus: FAB shows an item to a role with `menu_access` on the item's name (app/domain/setup.py grants
it for every view a role can list). Views used by both sides appear in one menu for everyone
("Ordre", "Katalog"); where the supplier's and the customer's work differ the same view has one
item per side, shown by a `menu_cond` ("Kunder" for supplier staff, "Min side" for customers).
Menu item *names* are stable identifiers (permissions refer to them); labels are Norwegian.
"""
from __future__ import annotations

from typing import Any, Callable, Optional

from flask_appbuilder import AppBuilder
from flask_babel import lazy_gettext as _l

from .addresses import DeliveryAddressView
from .base import is_customer, is_supplier
from .catalogue import ProductView, StoreView
from .companies import CompanyView, MyCompanyView
from .orders import OrderLineView, OrderView
from .portal import BudgetView, InquiryView, PickupReservationView, StandingOrderView
from .quotes import QuoteLineView, QuoteView
from .profile import PasswordLinkView, ProfileView
from .users import CompanyUserView

# (category name, label, icon). "Ordre" is shared with the workflow pages (views/workflow_menu.py).
ORDERS = ("Ordre", _l("Ordre"), "fa-shopping-cart")
CUSTOMERS = ("Kunder", _l("Kunder"), "fa-building")
MY_PAGE = ("Min side", _l("Min side"), "fa-home")
CATALOGUE = ("Katalog", _l("Katalog"), "fa-th-list")


def register_views(appbuilder: AppBuilder) -> None:
    registered: dict[type, Any] = {}

    def add(view: type, name: str, label: Any, category: tuple[str, Any, str], icon: str,
            cond: Optional[Callable[[], bool]] = None) -> Any:
        # A second menu item for a view must point at the registered instance: FAB would build a
        # new, unregistered instance from the class (no endpoint, a broken link).
        instance = appbuilder.add_view(registered.get(view, view), name, label=label, icon=icon,
                                       category=category[0], category_label=category[1],
                                       category_icon=category[2], menu_cond=cond)
        registered.setdefault(view, instance)
        return instance

    # Ordre: the same lists for everyone (the guard scopes customers to their company).
    add(OrderView, "Orders", _l("Ordreoversikt"), ORDERS, "fa-list")
    add(QuoteView, "Quotes", _l("Tilbud"), ORDERS, "fa-file-text-o")
    add(StandingOrderView, "StandingOrders", _l("Faste ordre"), ORDERS, "fa-repeat", cond=is_supplier)

    # Kunder: the supplier's view of all customer companies.
    add(CompanyView, "Companies", _l("Bedrifter"), CUSTOMERS, "fa-building-o")
    user_view = appbuilder.sm.user_view
    if user_view is not None:
        _move_user_admin(appbuilder, user_view)
    add(DeliveryAddressView, "DeliveryAddresses", _l("Leveringsadresser"), CUSTOMERS, "fa-truck", cond=is_supplier)
    add(BudgetView, "Budgets", _l("Bruksgrenser"), CUSTOMERS, "fa-tachometer", cond=is_supplier)
    add(InquiryView, "Inquiries", _l("Henvendelser"), CUSTOMERS, "fa-comments", cond=is_supplier)
    add(PickupReservationView, "PickupReservations", _l("Klikk og Hent"), CUSTOMERS, "fa-shopping-bag",
        cond=is_supplier)

    # Min side: a customer's own company.
    add(MyCompanyView, "MyCompany", _l("Bedriftsinformasjon"), MY_PAGE, "fa-building-o")
    add(DeliveryAddressView, "MyDeliveryAddresses", _l("Leveringsadresser"), MY_PAGE, "fa-truck", cond=is_customer)
    add(CompanyUserView, "CompanyUsers", _l("Brukere"), MY_PAGE, "fa-users")
    add(BudgetView, "MyBudgets", _l("Bruksgrense"), MY_PAGE, "fa-tachometer", cond=is_customer)
    add(StandingOrderView, "MyStandingOrders", _l("Faste ordre"), MY_PAGE, "fa-repeat", cond=is_customer)
    add(InquiryView, "MyInquiries", _l("Henvendelser"), MY_PAGE, "fa-comments", cond=is_customer)
    add(PickupReservationView, "MyPickupReservations", _l("Klikk og Hent"), MY_PAGE, "fa-shopping-bag",
        cond=is_customer)

    # Katalog
    add(ProductView, "Products", _l("Produkter"), CATALOGUE, "fa-cube")
    add(StoreView, "Stores", _l("Butikker"), CATALOGUE, "fa-map-marker")

    # Reached from an order's or a quote's page only.
    appbuilder.add_view_no_menu(OrderLineView)
    appbuilder.add_view_no_menu(QuoteLineView)
    # Min profil (the navbar's user menu links it) and the welcome mail's set-password page.
    appbuilder.add_view_no_menu(ProfileView)
    appbuilder.add_view_no_menu(PasswordLinkView)

    # Category items show only on the side they belong to (an empty dropdown otherwise).
    for name, cond in ((CUSTOMERS[0], is_supplier), (MY_PAGE[0], is_customer)):
        item = appbuilder.menu.find(name)
        if item is not None:
            item.cond = cond


def _move_user_admin(appbuilder: AppBuilder, user_view: Any) -> None:
    """FAB files its user admin under "Security" (Admin only); customer service needs it under "Kunder"."""
    security = appbuilder.menu.find("Security")
    if security is not None:
        security.childs = [c for c in security.childs if c.baseview is not user_view]
    appbuilder.add_link("CustomerUsers", href=f"{user_view.endpoint}.list", label=_l("Brukere"), icon="fa-users",
                        category=CUSTOMERS[0], category_label=CUSTOMERS[1], category_icon=CUSTOMERS[2],
                        baseview=user_view, cond=is_supplier)
