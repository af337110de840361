"""Quotes (Tilbud): everybody reads (customers their own company's); sellers and the dealer's
own users create them; sellers edit the header.

Creating goes through app/domain/quotes.create_quote (numbers, prices, producibility), header
changes through update_quote (only while draft or sent); status changes (send, decline,
"Bestill" = convert to an order) are the quote workflow's routes, not PUT's.
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
    code_label,
    computed,
    line_inputs,
    line_list,
    money_field,
)
from app.domain import labels
from app.domain import quotes as quote_rules
from app.extensions import db
from app.models import Company, DeliveryAddress, Quote, QuoteLine
from app.tenancy import current_tenant


class QuoteLineOut(OutputSchema):
    line_no = fields.Integer()
    product_id = fields.Integer()
    sku = fields.String(attribute="product.sku")
    product_name = fields.String(attribute="product.name")
    quantity = fields.Integer()
    unit_price = money_field()
    vat_rate = money_field()
    line_total = money_field()
    width = fields.Integer()
    depth = fields.Integer()
    fabric = fields.String()
    colour = fields.String()


class QuoteLineIn(LineIn):
    """A seller's line: a dealer's user sends LineIn (no price; the catalogue's applies)."""

    unit_price = money_field(allow_none=True)  # a seller's special price; else the list price


class QuoteUpdateIn(InputSchema):
    """PUT body: any of the header fields (app/domain/quotes.HEADER_FIELDS)."""

    end_customer_ref = fields.String(allow_none=True, validate=validate.Length(max=200))
    valid_until = fields.Date(allow_none=True)
    delivery_address_id = RelatedId(DeliveryAddress, allow_none=True)
    note = fields.String(allow_none=True)


class CustomerQuoteIn(QuoteUpdateIn):
    """POST body of a dealer's user: the company is the user's."""

    valid_until = fields.Date(required=True)
    lines = line_list(LineIn)


class QuoteIn(CustomerQuoteIn):
    """POST body of a seller (the schema FAB's `QuoteApi.post` documents)."""

    company_id = RelatedId(Company, required=True)
    lines = line_list(QuoteLineIn)


class ConvertIn(InputSchema):
    delivery_address_id = RelatedId(DeliveryAddress, allow_none=True)


def _lines(quote: Quote) -> list[QuoteLine]:
    stmt = (
        select(QuoteLine)
        .options(joinedload(QuoteLine.product))
        .where(QuoteLine.quote_id == quote.id)
        .order_by(QuoteLine.line_no)
    )
    return list(db.session.scalars(stmt))


class QuoteApi(PortalModelRestApi):
    """/api/v1/quote/ — `status` with `status_label`, plus `effective_status` (a sent quote past
    its valid-until date counts as `expired`); lines in the item; money as 2-decimal strings.

    POST (sellers): `company_id`, `valid_until` (YYYY-MM-DD, not in the past), `lines`
    ([{product_id, quantity, width, depth, fabric, colour, unit_price}], at least one),
    optional `end_customer_ref`, `delivery_address_id` (of that company), `note`. The number,
    prices, creator and status `draft` come from the server. A dealer's own user sends the same
    without `company_id` (the user's company) and without `unit_price` (catalogue prices). PUT
    changes the header of a quote that is still a draft or sent: `end_customer_ref`,
    `valid_until`, `delivery_address_id`, `note`.

    Workflow: POST `/<id>/send`, `/<id>/decline`, and `/<id>/convert` ("Bestill", body
    `delivery_address_id` optional) -> 201 `{"order_id": ...}`: an order with the quote's prices,
    channel `quote`.
    """

    resource_name = "quote"
    list_title = _("Tilbud")
    show_title = _("Tilbud")
    add_title = _("Nytt tilbud")
    edit_title = _("Endre tilbud")
    datamodel = SQLAInterface(Quote)
    label_fields = {"status": labels.QUOTE_STATUS}
    virtual_fields = {
        "effective_status": computed(quote_rules.effective_status, fields.String),
        "effective_status_label": computed(
            lambda q: code_label(labels.QUOTE_STATUS, quote_rules.effective_status(q)), fields.String
        ),
        "lines": computed(_lines, fields.Nested, QuoteLineOut, many=True),
    }
    list_columns = [
        "id",
        "number",
        "company_id",
        "company.name",
        "company.customer_number",
        "status",
        "status_label",
        "effective_status",
        "effective_status_label",
        "end_customer_ref",
        "valid_until",
        "delivery_address_id",
        "delivery_address.recipient_name",
        "created_by_id",
        "created_by.first_name",
        "created_by.last_name",
        "created_at",
    ]
    show_columns = [*list_columns, "note", "lines"]
    # POST has its own body (header and lines) for app/domain/quotes.create_quote.
    add_model_schema = QuoteIn()
    edit_model_schema = QuoteUpdateIn()
    add_columns = ["company_id", "valid_until", "end_customer_ref", "delivery_address_id", "note", "lines"]
    customer_add_columns: ClassVar[list[str]] = []  # set in _init_model_schemas: the hand-written body
    edit_columns = ["end_customer_ref", "valid_until", "delivery_address_id", "note"]
    search_columns = [
        "number",
        "status",
        "company_id",
        "created_at",
        "valid_until",
        "end_customer_ref",
        "created_by_id",
    ]
    base_order = ("created_at", "desc")

    def _init_model_schemas(self) -> None:
        super()._init_model_schemas()
        self.customer_add_model_schema = CustomerQuoteIn()

    @safe
    def post_headless(self) -> Response:
        data, customer = self.new_body()
        if customer:
            data["company_id"] = current_tenant()
        lines = line_inputs(data.pop("lines"))
        quote = self.commit(lambda: quote_rules.create_quote(db.session, actor=current_actor(), lines=lines, **data))
        return self.response(201, id=quote.id, result=self._show(quote))

    @safe
    def put_headless(self, pk: Any) -> Response:
        quote = quote_rules.get_quote(db.session, pk)  # the row first: another company's quote is 404
        body = self.json_body()
        self._drop_company(body, quote.company_id)
        data = self.load_input(QuoteUpdateIn(), body)
        quote = self.commit(lambda: quote_rules.update_quote(db.session, quote.id, current_actor(), data))
        return self.response(200, id=quote.id, result=self._show(quote))

    # --- workflow -----------------------------------------------------------------------

    @expose("/<int:pk>/convert", methods=["POST"])
    @protect()
    @safe
    @permission_name("convert")
    @ids_in_range
    def convert(self, pk: int) -> Response:
        """ "Bestill": the quote becomes an order (prices frozen, channel quote).
        ---
        post:
          summary: Order a quote; optional body {delivery_address_id} (default the quote's)
          parameters:
          - {in: path, name: pk, required: true, schema: {type: integer}}
          requestBody:
            required: false
            content:
              application/json:
                schema: {type: object, properties: {delivery_address_id: {type: integer}}}
          responses:
            201:
              description: The new order
              content:
                application/json:
                  schema: {type: object, properties: {order_id: {type: integer}, order_number: {type: string}}}
            400: {$ref: '#/components/responses/400'}
            403: {$ref: '#/components/responses/403'}
            404: {$ref: '#/components/responses/404'}
            409: {description: 'Expired, already ordered or declined (message says which)'}
        """
        data = self.load_input(ConvertIn(), self.optional_body())
        order = self.commit(
            lambda: quote_rules.convert_quote(
                db.session, pk, current_actor(), delivery_address_id=data.get("delivery_address_id")
            )
        )
        return self.response(201, order_id=order.id, order_number=order.number, quote_id=pk)

    @expose("/<int:pk>/send", methods=["POST"])
    @protect()
    @safe
    @permission_name("send")
    @ids_in_range
    def send(self, pk: int) -> Response:
        """Send a draft quote to the customer.
        ---
        post:
          summary: Send a draft quote
          parameters:
          - {in: path, name: pk, required: true, schema: {type: integer}}
          responses:
            200: {description: The quote, now sent}
            403: {$ref: '#/components/responses/403'}
            404: {$ref: '#/components/responses/404'}
            409: {description: Only a draft can be sent}
        """
        return self._act(pk, quote_rules.send_quote)

    @expose("/<int:pk>/decline", methods=["POST"])
    @protect()
    @safe
    @permission_name("decline")
    @ids_in_range
    def decline(self, pk: int) -> Response:
        """Decline a draft or sent quote.
        ---
        post:
          summary: Decline a quote
          parameters:
          - {in: path, name: pk, required: true, schema: {type: integer}}
          responses:
            200: {description: The quote, now declined}
            403: {$ref: '#/components/responses/403'}
            404: {$ref: '#/components/responses/404'}
            409: {description: The quote cannot be declined in its status}
        """
        return self._act(pk, quote_rules.decline_quote)

    def _act(self, pk: int, action: Any) -> Response:
        quote = self.commit(lambda: action(db.session, pk, current_actor()))
        return self.response(200, id=pk, result=self._show(quote))
