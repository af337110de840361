"""Orders: the overview (list and page), placing an order, the actions on one (cancel, invoice copy)
and fulfilment (shipments, invoices)."""

from app.views.orders.actions import OrderActionsView
from app.views.orders.overview import OrderLineView, OrderView
from app.views.orders.placing import NewOrderView, ProductSearchView

__all__ = ["NewOrderView", "OrderActionsView", "OrderLineView", "OrderView", "ProductSearchView"]
