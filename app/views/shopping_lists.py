"""Handlelister (shopping lists) and "Bestill igjen": the pages. Rules: app/domain/shopping_lists.py
and app/domain/orders/reorder.py.

Both hand lines to the order form to review (NewOrderView's `prefill`): a form on the page posts the
lines there, so nothing is ordered before the customer sends the order form.
"""

from __future__ import annotations

from typing import Any

from flask import url_for

from app.domain.orders import reorder
from app.views.base import is_customer, user_can
from app.views.orders.placing import PREFILL_FIELD


def reorder_form(item: Any) -> dict[str, Any] | None:
    """Template global: "Bestill igjen" for an order or a quote (or any row with `lines` loaded with
    their products): the lines as order-form input, and those that cannot be ordered as before.
    None when the user does not order (supplier staff) or there is nothing to order."""
    if not is_customer() or not user_can("can_new", "NewOrderView"):
        return None
    lines = reorder.reorder_lines(item.lines)
    if not lines:
        return None
    return {
        "url": url_for("NewOrderView.new"),
        "field": PREFILL_FIELD,
        "lines": lines,
        "flagged": [r for r in lines if not r.orderable],
    }
