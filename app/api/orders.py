"""Orders (Ordreoversikt), read-only for now: issue 3 adds POST with the domain rules.

A customer sees all orders of its own company, whoever placed them and on any channel.
"""
from __future__ import annotations

from typing import Any

from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_babel import lazy_gettext as _
from marshmallow import Schema, fields
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from ..extensions import db
from ..domain import labels
from ..models import Order, OrderLine
from .base import PortalModelRestApi, tracking_url
from .fields import code_label, computed, money, money_field


class OrderLineOut(Schema):
    line_no = fields.Integer()
    product_id = fields.Integer()
    sku = fields.String(attribute="product.sku")
    product_name = fields.String(attribute="product.name")
    quantity = fields.Integer()
    delivered_quantity = fields.Integer()
    status = fields.String()
    status_label = fields.Function(lambda line: code_label(labels.LINE_STATUS, line.status))
    unit_price = money_field()
    vat_rate = money_field()
    line_total = money_field()
    width = fields.Integer()
    depth = fields.Integer()
    fabric = fields.String()
    colour = fields.String()


class OrderEventOut(Schema):
    at = fields.DateTime()
    from_status = fields.String()
    from_status_label = fields.Function(lambda e: code_label(labels.ORDER_STATUS, e.from_status))
    to_status = fields.String()
    to_status_label = fields.Function(lambda e: code_label(labels.ORDER_STATUS, e.to_status))
    actor_name = fields.String()
    reason = fields.String()


class ShipmentOut(Schema):
    id = fields.Integer()
    carrier = fields.String()
    carrier_label = fields.Function(lambda s: code_label(labels.CARRIER, s.carrier))
    waybill_number = fields.String()
    tracking_url = fields.Function(lambda s: tracking_url(s.carrier, s.waybill_number))
    shipped_at = fields.DateTime()
    delivered_at = fields.DateTime()
    signed_by = fields.String()


class InvoiceOut(Schema):
    id = fields.Integer()
    number = fields.String()
    invoice_date = fields.Date()
    due_date = fields.Date()
    amount = money_field()
    paid = fields.Boolean()


def _lines(order: Order) -> list[OrderLine]:
    # One query with the products joined, not one per line.
    stmt = (select(OrderLine).options(joinedload(OrderLine.product))
            .where(OrderLine.order_id == order.id).order_by(OrderLine.line_no))
    return list(db.session.scalars(stmt))


def _total_inc_vat(order: Order) -> Any:
    return (order.total_ex_vat or 0) + (order.total_vat or 0)


class OrderApi(PortalModelRestApi):
    """/api/v1/order/ — codes `status`/`channel` with `*_label`; money as 2-decimal strings.

    Filter with FAB's rison `q`, e.g. `?q=(filters:!((col:status,opr:eq,value:processing)))`;
    filterable: number, status, channel, company_id, created_at, customer_reference,
    delivery_date, over_budget, created_by_id, quote_id. The item adds lines, status history
    (events), shipments with tracking links and invoices.
    """

    resource_name = "order"
    list_title = _("Ordreoversikt")
    show_title = _("Ordre")
    datamodel = SQLAInterface(Order)
    label_fields = {"status": labels.ORDER_STATUS, "channel": labels.ORDER_CHANNEL}
    virtual_fields = {
        "total_inc_vat": money(_total_inc_vat),
        "lines": computed(_lines, fields.Nested, OrderLineOut, many=True),
        "events": computed(lambda o: o.events, fields.Nested, OrderEventOut, many=True),
        "shipments": computed(lambda o: o.shipments, fields.Nested, ShipmentOut, many=True),
        "invoices": computed(lambda o: o.invoices, fields.Nested, InvoiceOut, many=True),
    }
    list_columns = [
        "id", "number", "company_id", "company.name", "company.customer_number", "channel", "channel_label",
        "status", "status_label", "created_at", "customer_reference", "delivery_address_id",
        "delivery_address.recipient_name", "delivery_address.city", "created_by_id", "created_by.first_name",
        "created_by.last_name", "total_ex_vat", "total_vat", "total_inc_vat", "over_budget", "delivery_date",
        "quote_id", "standing_order_id",
    ]
    show_columns = [*list_columns, "lines", "events", "shipments", "invoices"]
    search_columns = ["number", "status", "channel", "company_id", "created_at", "customer_reference",
                      "delivery_date", "over_budget", "created_by_id", "quote_id"]
    base_order = ("created_at", "desc")
