"""Bestill igjen: the lines of an order, a quote or a shopping list as order-form input.

The lines are handed to the order form to review (its `prefill`), never placed from here: the form
checks them as on submit and prices them at today's catalogue price (a quote's frozen prices stay
with "Bestill" on the quote). A line whose product can no longer be ordered, or whose size or
variant the product no longer allows, is flagged here too, so the page offering "Bestill igjen"
says so before the form is opened.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from app.domain.catalogue import LineInput, configuration_errors
from app.domain.errors import NotFound
from app.domain.validation import MAX_ID
from app.models import Order, OrderLine, Product, Quote, QuoteLine

NO_LONGER_SOLD = _l("Kan ikke bestilles lenger")
ORDER_NOT_FOUND = _l("Fant ikke ordren.")
QUOTE_NOT_FOUND = _l("Fant ikke tilbudet.")


class LineLike(Protocol):
    """An order, quote or shopping-list line: a product with quantity, size and variants."""

    product_id: int
    quantity: int
    width: int | None
    depth: int | None
    fabric: str | None
    colour: str | None
    product: Product


@dataclass(frozen=True)
class ReorderLine:
    """One line to order again: the form input, its product (today's price) and why it cannot be
    ordered as it stands (None: it can)."""

    line: LineInput
    product: Product | None
    problem: str | None

    @property
    def orderable(self) -> bool:
        return self.problem is None

    @property
    def unit_price(self) -> Decimal | None:
        return self.product.unit_price if self.product is not None else None


def line_problem(product: Product | None, line: LineInput) -> str | None:
    """Why this line cannot be ordered today: the product is gone or inactive ("Kan ikke bestilles
    lenger"), or its size/variant is no longer allowed (the catalogue's message); None if it can."""
    if product is None or not product.active:
        return str(NO_LONGER_SOLD)
    errors = configuration_errors(product, line)
    if errors:
        return _("Kan ikke bestilles som før: %(reason)s", reason=next(iter(errors.values())))
    return None


def as_input(line: LineLike) -> LineInput:
    """The line as the order form reads it (no price: the form prices at today's catalogue price)."""
    return LineInput(
        product_id=line.product_id,
        quantity=line.quantity,
        width=line.width,
        depth=line.depth,
        fabric=line.fabric or None,
        colour=line.colour or None,
    )


def reorder_lines(lines: Iterable[LineLike]) -> list[ReorderLine]:
    """Lines already loaded with their products (an order's, a quote's or a list's page has them:
    no query here) as lines to order again, each flagged if it cannot be ordered today."""
    result = []
    for ln in lines:
        line = as_input(ln)
        product: Any = ln.product
        result.append(ReorderLine(line=line, product=product, problem=line_problem(product, line)))
    return result


def row_id(value: Any) -> int:
    """An id from outside (a URL, a form, a body); 0 (names no row) when it is none or out of range."""
    try:
        pk = int(value) if not isinstance(value, bool) else 0
    except (TypeError, ValueError):
        return 0
    return pk if 0 < pk <= MAX_ID else 0


def order_reorder_lines(session: Session, order_id: Any) -> list[ReorderLine]:
    """The lines of an order the user can see (another company's order is NotFound), to order again."""
    order_id = row_id(order_id)
    order = session.scalars(
        select(Order)
        .options(selectinload(Order.lines).joinedload(OrderLine.product))
        .where(Order.id == order_id)  # through the tenancy guard
    ).first()
    if order is None:
        raise NotFound(str(ORDER_NOT_FOUND))
    return reorder_lines(order.lines)


def quote_reorder_lines(session: Session, quote_id: Any) -> list[ReorderLine]:
    """The lines of a quote the user can see, to order again at today's prices."""
    quote_id = row_id(quote_id)
    quote = session.scalars(
        select(Quote)
        .options(selectinload(Quote.lines).joinedload(QuoteLine.product))
        .where(Quote.id == quote_id)  # through the tenancy guard
    ).first()
    if quote is None:
        raise NotFound(str(QUOTE_NOT_FOUND))
    return reorder_lines(quote.lines)
