"""Standing orders (Fast ordre), read-only through the API for now."""
from __future__ import annotations

from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_babel import lazy_gettext as _
from marshmallow import Schema, fields
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from ..extensions import db
from ..domain import labels
from ..models import StandingOrder, StandingOrderLine
from .base import PortalModelRestApi
from .fields import computed


class StandingOrderLineOut(Schema):
    id = fields.Integer()
    product_id = fields.Integer()
    sku = fields.String(attribute="product.sku")
    product_name = fields.String(attribute="product.name")
    quantity = fields.Integer()
    width = fields.Integer()
    depth = fields.Integer()
    fabric = fields.String()
    colour = fields.String()


def _lines(standing: StandingOrder) -> list[StandingOrderLine]:
    stmt = (select(StandingOrderLine).options(joinedload(StandingOrderLine.product))
            .where(StandingOrderLine.standing_order_id == standing.id).order_by(StandingOrderLine.id))
    return list(db.session.scalars(stmt))


class StandingOrderApi(PortalModelRestApi):
    """/api/v1/standing_order/ — the plan: `frequency` (weekly|every_n_weeks|monthly) with
    `interval_weeks`, `weekday` (0 = Monday) or `day_of_month`; dates as YYYY-MM-DD."""

    resource_name = "standing_order"
    list_title = _("Faste ordre")
    show_title = _("Fast ordre")
    datamodel = SQLAInterface(StandingOrder)
    label_fields = {"frequency": labels.FREQUENCY}
    virtual_fields = {"lines": computed(_lines, fields.Nested, StandingOrderLineOut, many=True)}
    list_columns = [
        "id", "company_id", "company.name", "name", "delivery_address_id", "delivery_address.recipient_name",
        "frequency", "frequency_label", "interval_weeks", "weekday", "day_of_month", "start_date", "end_date",
        "paused_until", "skip_date", "active", "created_by_id", "created_at",
    ]
    show_columns = [*list_columns, "lines"]
    search_columns = ["company_id", "name", "frequency", "active", "start_date", "created_at"]
    base_order = ("created_at", "desc")
