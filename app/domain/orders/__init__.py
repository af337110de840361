"""Orders: placing one, the lifecycle (numbers, status changes, history), the actions on a placed
order (cancel) and fulfilment (shipments, invoices, tracking links, the invoice copy)."""

from app.domain.catalogue import LineInput, configuration_errors
from app.domain.lifecycle import (
    NOT_SHIPPED,
    assign_number,
    change_status,
    get_order,
    record_event,
)
from app.domain.orders.actions import can_cancel, cancel_order, cancel_refusal
from app.domain.orders.fulfilment import tracking_url
from app.domain.orders.invoice_pdf import invoice_copy
from app.domain.orders.placing import place_order

__all__ = [
    "NOT_SHIPPED",
    "LineInput",
    "assign_number",
    "can_cancel",
    "cancel_order",
    "cancel_refusal",
    "change_status",
    "configuration_errors",
    "get_order",
    "invoice_copy",
    "place_order",
    "record_event",
    "tracking_url",
]
