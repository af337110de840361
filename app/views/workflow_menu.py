"""Registers the order and quote workflow pages (issue 3) next to the CRUD views."""
from __future__ import annotations

from flask_appbuilder import AppBuilder
from flask_babel import lazy_gettext as _l

from .approvals import ApprovalQueueView
from .order_actions import OrderActionsView
from .ordering import NewOrderView, ProductSearchView
from .quote_actions import QuoteActionsView


def register_workflow_views(appbuilder: AppBuilder) -> None:
    appbuilder.add_view(ApprovalQueueView, "Til godkjenning", label=_l("Til godkjenning"), icon="fa-check-square-o",
                        category="Ordre", category_label=_l("Ordre"))
    appbuilder.add_view(NewOrderView, "Ny bestilling", label=_l("Ny bestilling"), icon="fa-cart-plus",
                        category="Ordre", category_label=_l("Ordre"))
    appbuilder.add_view(QuoteActionsView, "Nytt tilbud", href="/tilbud/ny", label=_l("Nytt tilbud"),
                        icon="fa-file-text-o", category="Ordre", category_label=_l("Ordre"))
    appbuilder.add_view_no_menu(OrderActionsView)
    appbuilder.add_view_no_menu(ProductSearchView)
