"""Placing an order: lines, prices, budgets and the confirmation mail."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from app.domain import internal_approval, notices
from app.domain.actors import Actor
from app.domain.catalogue import LineInput, check_lines
from app.domain.companies import delivery_address_error
from app.domain.errors import NotFound, ValidationFailed
from app.domain.lifecycle import assign_number, record_event
from app.domain.links import portal_link
from app.domain.mail import queue_template_mail
from app.domain.pricing import catalogue_price, order_totals
from app.models import (
    Company,
    Order,
    OrderChannel,
    OrderLine,
    OrderStatus,
    PortalUser,
    Product,
)

NO_CUSTOMER_ACCOUNT = _l("Fant ikke kundekontoen.")


def place_order(
    session: Session,
    *,
    actor: Actor,
    company_id: int,
    delivery_address_id: int | None,
    lines: Sequence[LineInput],
    channel: str = OrderChannel.webshop.value,
    customer_reference: str | None = None,
    quote_id: int | None = None,
    standing_order_id: int | None = None,
    delivery_date: dt.date | None = None,
) -> Order:
    """Validate and create an order with its lines, first status event and confirmation mail.

    Raises ValidationFailed (field → message) and writes nothing when any input is bad.
    """
    if actor.is_customer and actor.company_id != company_id:
        raise NotFound(NO_CUSTOMER_ACCOUNT)
    company = session.get(Company, company_id)
    if company is None:
        raise ValidationFailed({"company_id": str(NO_CUSTOMER_ACCOUNT)})
    errors: dict[str, str] = {}
    if channel not in {c.value for c in OrderChannel}:
        errors["channel"] = _("Ukjent kanal.")
    address_error = delivery_address_error(session, company_id, delivery_address_id)
    if address_error:
        errors["delivery_address_id"] = address_error
    line_errors, products = check_lines(session, lines)
    errors.update(line_errors)
    if errors:
        raise ValidationFailed(errors)

    order, rows = build_order(
        company,
        actor,
        lines,
        products,
        channel=channel,
        delivery_address_id=delivery_address_id,
        customer_reference=(customer_reference or None),
        quote_id=quote_id,
        standing_order_id=standing_order_id,
        delivery_date=delivery_date,
    )
    order.lines = [OrderLine(**row) for row in rows]
    session.add(order)
    assign_number(order, session)
    # The company's own approval rules (Godkjenning hos dere) may hold the order first.
    held_reason = internal_approval.hold_if_required(session, order, actor)
    record_event(session, order, actor, None, order.status, held_reason or placed_reason(order))
    confirmation_mail(session, order, actor)
    notices.order_waiting(session, order)  # a dealer order: the sellers' bell
    if held_reason:
        internal_approval.notify_internal_approval_waiting(session, order)
    from app.domain.budgets import (
        apply_budgets,  # budgets flag the order and notify once per period
    )

    apply_budgets(session, order)
    return order


def build_order(
    company: Company,
    actor: Actor,
    lines: Sequence[LineInput],
    products: Mapping[int, Product],
    **values: Any,
) -> tuple[Order, list[dict[str, Any]]]:
    """The order place_order makes from checked lines, not yet in the session, and its lines as
    rows: order_values as an Order."""
    row, rows = order_values(company, actor, lines, products, **values)
    return Order(**row), rows


def order_values(
    company: Company,
    actor: Actor,
    lines: Sequence[LineInput],
    products: Mapping[int, Product],
    **values: Any,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The order's column values and its lines as rows (the standing-order job inserts both in
    bulk): status by the company's approval rule, each line at the product's price and VAT rate,
    the totals."""
    status = OrderStatus.pending_approval.value if company.requires_approval else OrderStatus.processing.value
    row = {"company_id": company.id, "status": status, "created_by_id": actor.id, **values}
    rows = []
    for i, ln in enumerate(lines, start=1):
        product = products[ln.product_id]  # type: ignore[index]  # the lines were checked: each names a product
        price = catalogue_price(product, ln)
        rows.append(
            {
                "company_id": company.id,
                "line_no": i,
                "product_id": product.id,
                "quantity": ln.quantity,
                "unit_price": price,
                "vat_rate": product.vat_rate,
                "width": ln.width,
                "depth": ln.depth,
                "fabric": ln.fabric or None,
                "colour": ln.colour or None,
            }
        )
    row["total_ex_vat"], row["total_vat"] = order_totals(rows)
    return row, rows


def placed_reason(order: Order) -> Any:
    """The reason on the first event of a placed order."""
    return placed_reason_of(order.status)


def placed_reason_of(status: str) -> Any:
    """The reason on the first event of an order placed in `status`."""
    return _l("Venter på godkjenning fra selger") if status == OrderStatus.pending_approval.value else None


def confirmation_address(session: Session, created_by_id: int | None, actor: Actor) -> str | None:
    """Where the order confirmation goes: the order's creator, or the actor's address."""
    recipient = session.get(PortalUser, created_by_id) if created_by_id else None
    return (recipient.email if recipient else None) or actor.email


def confirmation_context(order: Order) -> dict[str, Any]:
    """The order confirmation's template values but the link."""
    return {
        "order": order,
        "waiting": order.status == OrderStatus.pending_approval.value,
        "waiting_internal": order.status == OrderStatus.pending_internal_approval.value,
    }


def order_link(order_id: Any) -> str:
    return portal_link(f"/orderview/show/{order_id}")


def confirmation_mail(session: Session, order: Order, actor: Actor) -> None:
    """Queue the order confirmation to the order's creator (or the actor's address)."""
    to = confirmation_address(session, order.created_by_id, actor)
    if not to:
        return
    queue_template_mail(
        session,
        kind="order_confirmation",
        to=to,
        template="order_confirmation",
        link=order_link(order.id),
        **confirmation_context(order),
    )
