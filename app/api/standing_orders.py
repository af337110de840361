"""Standing orders (Faste ordre): customers read their company's plans; the customer admin keeps them.

Only for companies that pay by invoice: for others every write answers 409 with the reason
("Kun tilgjengelig for fakturakunder."). Every rule is app/domain/standing_orders.py's.
"""

from __future__ import annotations

from typing import Any, ClassVar

from flask import Response
from flask_appbuilder.api import expose
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_appbuilder.security.decorators import permission_name, protect
from flask_babel import lazy_gettext as _
from marshmallow import fields, validate
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from app.api.base import PortalModelRestApi, current_actor, ids_in_range, safe
from app.api.fields import (
    InputSchema,
    LineIn,
    OutputSchema,
    RelatedId,
    codes_of,
    computed,
    line_inputs,
    line_list,
)
from app.domain import labels
from app.domain import standing_orders as rules
from app.domain.formatting import oslo_today
from app.extensions import db
from app.models import Company, DeliveryAddress, Frequency, StandingOrder, StandingOrderLine
from app.tenancy import current_tenant


class StandingOrderLineOut(OutputSchema):
    id = fields.Integer()
    product_id = fields.Integer()
    sku = fields.String(attribute="product.sku")
    product_name = fields.String(attribute="product.name")
    quantity = fields.Integer()
    width = fields.Integer()
    depth = fields.Integer()
    fabric = fields.String()
    colour = fields.String()


def _small_int(maximum: int) -> fields.Integer:
    # Kept inside SQL's integer range; the domain says what the allowed values are.
    return fields.Integer(
        allow_none=True, strict=True, validate=validate.Range(min=-maximum, max=maximum, error=_("Ugyldig verdi."))
    )


class StandingOrderUpdateIn(InputSchema):
    """PUT body: any of the fields; `lines` replaces all lines when sent."""

    name = fields.String(allow_none=True, validate=validate.Length(max=200))
    delivery_address_id = RelatedId(DeliveryAddress, allow_none=True)
    frequency = fields.String(
        allow_none=True, validate=validate.Length(max=20), metadata=codes_of(Frequency, nullable=True)
    )
    interval_weeks = _small_int(1000)
    weekday = _small_int(1000)
    day_of_month = _small_int(1000)
    start_date = fields.Date(allow_none=True)
    end_date = fields.Date(allow_none=True)
    active = fields.Boolean()
    holiday_shift = fields.Boolean()
    lines = fields.List(fields.Nested(LineIn), allow_none=False)


class CustomerStandingOrderIn(StandingOrderUpdateIn):
    """POST body of a customer admin: the company is the user's."""

    lines = line_list(LineIn)


class StandingOrderIn(CustomerStandingOrderIn):
    """POST body of supplier staff with the permission (Admin): they name the company."""

    company_id = RelatedId(Company, required=True)


class PauseIn(InputSchema):
    until = fields.Date(required=True, allow_none=True)


class SkipIn(InputSchema):
    date = fields.Date(required=True, allow_none=True)


class DeliveryOut(OutputSchema):
    """A coming delivery: planned on `planned`, delivered on `delivery_date` (the next working day
    when planned on a public holiday and the plan moves them); `holiday` names the holiday."""

    planned = fields.Date()
    delivery_date = fields.Date(attribute="delivered")
    holiday = fields.String(allow_none=True)
    moved = fields.Boolean()


def _lines(standing: StandingOrder) -> list[StandingOrderLine]:
    stmt = (
        select(StandingOrderLine)
        .options(joinedload(StandingOrderLine.product))
        .where(StandingOrderLine.standing_order_id == standing.id)
        .order_by(StandingOrderLine.id)
    )
    return list(db.session.scalars(stmt))


def _plan_input(data: dict[str, Any]) -> rules.PlanInput:
    values = {k: v for k, v in data.items() if k in rules.PLAN_FIELDS}
    if "lines" in data:
        values["lines"] = line_inputs(data["lines"])
    return rules.PlanInput(**values)


class StandingOrderApi(PortalModelRestApi):
    """/api/v1/standing_order/ — the plan: `frequency` (weekly|every_n_weeks|monthly) with
    `interval_weeks`, `weekday` (0 = Monday) or `day_of_month` (1-31; the last day of a shorter
    month); `start_date`, optional `end_date`, `paused_until` (no deliveries up to and including
    it), `skip_date` (one delivery left out), `holiday_shift` (a delivery planned on a Norwegian public
    holiday is delivered on the next working day; default true); dates as YYYY-MM-DD. The item adds
    `lines`, `plan_label`, `next_deliveries` (the next five planned dates) and `upcoming_deliveries`
    (the same, each with its delivery date and the holiday it falls on, if any).

    POST (customer admin; company from the user): `name`, `delivery_address_id`, the plan fields,
    `lines` ([{product_id, quantity, width, depth, fabric, colour}]). PUT: any of these and
    `active`; `lines` replaces the lines. POST `/<id>/pause` {until: date|null} and `/<id>/skip`
    {date: date|null}. Companies that do not pay by invoice get 409.
    """

    resource_name = "standing_order"
    list_title = _("Faste ordre")
    show_title = _("Fast ordre")
    add_title = _("Ny fast ordre")
    edit_title = _("Endre fast ordre")
    datamodel = SQLAInterface(StandingOrder)
    label_fields = {"frequency": labels.FREQUENCY}
    virtual_fields = {
        "lines": computed(_lines, fields.Nested, StandingOrderLineOut, many=True),
        "plan_label": computed(rules.plan_text, fields.String),
        "next_deliveries": computed(lambda so: rules.next_deliveries(so, oslo_today()), fields.List, fields.Date()),
        "upcoming_deliveries": computed(
            lambda so: rules.upcoming(so, oslo_today()), fields.List, fields.Nested(DeliveryOut)
        ),
    }
    list_columns = [
        "id",
        "company_id",
        "company.name",
        "name",
        "delivery_address_id",
        "delivery_address.recipient_name",
        "frequency",
        "frequency_label",
        "interval_weeks",
        "weekday",
        "day_of_month",
        "start_date",
        "end_date",
        "paused_until",
        "skip_date",
        "active",
        "holiday_shift",
        "created_by_id",
        "created_at",
    ]
    show_columns = [*list_columns, "plan_label", "next_deliveries", "upcoming_deliveries", "lines"]
    search_columns = ["company_id", "name", "frequency", "active", "start_date", "created_at"]
    base_order = ("created_at", "desc")
    add_model_schema = StandingOrderIn()
    edit_model_schema = StandingOrderUpdateIn()
    add_columns = [
        "company_id",
        "name",
        "delivery_address_id",
        "frequency",
        "interval_weeks",
        "weekday",
        "day_of_month",
        "start_date",
        "end_date",
        "holiday_shift",
        "lines",
    ]
    edit_columns = [
        "name",
        "delivery_address_id",
        "frequency",
        "interval_weeks",
        "weekday",
        "day_of_month",
        "start_date",
        "end_date",
        "active",
        "holiday_shift",
        "lines",
    ]
    customer_add_columns: ClassVar[list[str]] = []  # set in _init_model_schemas: the hand-written body

    def _init_model_schemas(self) -> None:
        super()._init_model_schemas()
        self.customer_add_model_schema = CustomerStandingOrderIn()

    @safe
    def post_headless(self) -> Response:
        data, customer = self.new_body()
        company_id = current_tenant() if customer else data.pop("company_id")
        item = self.commit(
            lambda: rules.create_standing_order(db.session, current_actor(), company_id, _plan_input(data))
        )
        return self.response(201, id=item.id, result=self._show(item))

    @safe
    def put_headless(self, pk: Any) -> Response:
        item = rules.get_standing_order(db.session, pk)  # the row first: another company's plan is 404
        body = self.json_body()
        self._drop_company(body, item.company_id)
        data = self.load_input(StandingOrderUpdateIn(), body)
        item = self.commit(
            lambda: rules.update_standing_order(
                db.session, item.id, current_actor(), _plan_input(data), provided=set(data)
            )
        )
        return self.response(200, id=item.id, result=self._show(item))

    @expose("/<int:pk>/pause", methods=["POST"])
    @protect()
    @safe
    @permission_name("pause")
    @ids_in_range
    def pause(self, pk: int) -> Response:
        """Pause deliveries up to and including a date (null ends the pause).
        ---
        post:
          summary: Pause a standing order; body {until}
          parameters:
          - {in: path, name: pk, required: true, schema: {type: integer}}
          requestBody:
            required: true
            content:
              application/json:
                schema: {type: object, properties: {until: {type: string, format: date, nullable: true}}}
          responses:
            200: {description: The standing order}
            400: {$ref: '#/components/responses/400'}
            403: {$ref: '#/components/responses/403'}
            404: {$ref: '#/components/responses/404'}
            409: {description: Only for companies that pay by invoice}
        """
        return self._set_date(pk, PauseIn(), "until", rules.pause)

    @expose("/<int:pk>/skip", methods=["POST"])
    @protect()
    @safe
    @permission_name("skip")
    @ids_in_range
    def skip(self, pk: int) -> Response:
        """Leave out one upcoming delivery (null delivers it again).
        ---
        post:
          summary: Skip one delivery of a standing order; body {date}
          parameters:
          - {in: path, name: pk, required: true, schema: {type: integer}}
          requestBody:
            required: true
            content:
              application/json:
                schema: {type: object, properties: {date: {type: string, format: date, nullable: true}}}
          responses:
            200: {description: The standing order}
            400: {$ref: '#/components/responses/400'}
            403: {$ref: '#/components/responses/403'}
            404: {$ref: '#/components/responses/404'}
            409: {description: Only for companies that pay by invoice}
        """
        return self._set_date(pk, SkipIn(), "date", rules.skip)

    def _set_date(self, pk: int, schema: InputSchema, field: str, change: Any) -> Response:
        """Pause and skip: the date from the body, then the domain's change."""
        rules.get_standing_order(db.session, pk)  # the row first: another company's plan is 404 whatever the body
        data = self.load_input(schema, self.json_body())
        item = self.commit(lambda: change(db.session, pk, current_actor(), data[field]))
        return self.response(200, id=pk, result=self._show(item))
