"""Quotes (Tilbud): everybody reads (customers their own company's), sellers create and edit.

Creating goes through app/domain/quotes.create_quote (numbers, prices, producibility); status
changes (send, decline, order) are the quote workflow's, not PUT's.
"""
from __future__ import annotations

from flask import Response
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_babel import lazy_gettext as _
from marshmallow import Schema, ValidationError, fields
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import joinedload

from ..domain import labels
from ..domain import quotes as quote_rules
from ..domain.errors import DomainError, NotAllowed
from ..domain.orders import LineInput
from ..domain.validation import validate_not_past
from ..extensions import db
from ..models import Company, DeliveryAddress, Product, Quote, QuoteLine
from ..security import TenantViolation
from .base import PortalModelRestApi, current_actor
from .fields import InputSchema, RelatedId, code_label, computed, domain_validator, money_field


class QuoteLineOut(Schema):
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


class QuoteLineIn(InputSchema):
    product_id = RelatedId(Product, required=True)
    quantity = fields.Integer(required=True, strict=True)
    width = fields.Integer(allow_none=True, strict=True)
    depth = fields.Integer(allow_none=True, strict=True)
    fabric = fields.String(allow_none=True)
    colour = fields.String(allow_none=True)
    unit_price = money_field(allow_none=True)  # a seller's special price; else the list price


class QuoteIn(InputSchema):
    """POST body (the schema FAB's `QuoteApi.post` documents is the header part of this)."""

    company_id = RelatedId(Company, required=True)
    valid_until = fields.Date(required=True)
    end_customer_ref = fields.String(allow_none=True)
    delivery_address_id = RelatedId(DeliveryAddress, allow_none=True)
    note = fields.String(allow_none=True)
    lines = fields.List(fields.Nested(QuoteLineIn), required=True)


def _lines(quote: Quote) -> list[QuoteLine]:
    stmt = (select(QuoteLine).options(joinedload(QuoteLine.product))
            .where(QuoteLine.quote_id == quote.id).order_by(QuoteLine.line_no))
    return list(db.session.scalars(stmt))


class QuoteApi(PortalModelRestApi):
    """/api/v1/quote/ — `status` with `status_label`, plus `effective_status` (a sent quote past
    its valid-until date counts as `expired`); lines in the item; money as 2-decimal strings.

    POST (sellers): `company_id`, `valid_until` (YYYY-MM-DD, not in the past), `lines`
    ([{product_id, quantity, width, depth, fabric, colour, unit_price}], at least one),
    optional `end_customer_ref`, `delivery_address_id` (of that company), `note`. The number,
    prices, creator and status `draft` come from the server. PUT changes the header of a quote
    that is still a draft or sent: `end_customer_ref`, `valid_until`, `delivery_address_id`, `note`.
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
            lambda q: code_label(labels.QUOTE_STATUS, quote_rules.effective_status(q)), fields.String),
        "lines": computed(_lines, fields.Nested, QuoteLineOut, many=True),
    }
    list_columns = [
        "id", "number", "company_id", "company.name", "company.customer_number", "status", "status_label",
        "effective_status", "effective_status_label", "end_customer_ref", "valid_until", "delivery_address_id",
        "delivery_address.recipient_name", "created_by_id", "created_by.first_name", "created_by.last_name",
        "created_at",
    ]
    show_columns = [*list_columns, "note", "lines"]
    # POST has its own body (header and lines) for app/domain/quotes.create_quote.
    add_model_schema = QuoteIn()
    add_columns = ["company_id", "valid_until", "end_customer_ref", "delivery_address_id", "note", "lines"]
    customer_add_columns: list[str] = []  # customers may not create quotes through the API (yet)
    edit_columns = ["end_customer_ref", "valid_until", "delivery_address_id", "note"]
    search_columns = ["number", "status", "company_id", "created_at", "valid_until", "end_customer_ref",
                      "created_by_id"]
    base_order = ("created_at", "desc")
    validators_columns = {"valid_until": domain_validator(validate_not_past)}

    def post_headless(self) -> Response:
        body, error = self._json_body()
        if error is not None:
            return error
        try:
            data = self.add_model_schema.load(body)
        except ValidationError as exc:
            return self.response_400_fields(exc.messages)
        lines = [LineInput(**line) for line in data.pop("lines")]
        try:
            quote = quote_rules.create_quote(db.session, actor=current_actor(), lines=lines, **data)
            db.session.commit()
        except DomainError as exc:
            return self.response_domain_error(exc)
        except (TenantViolation, SQLAlchemyError) as exc:
            return self._write_error(exc)
        return self.response(201, id=quote.id, result=self._show(quote))

    def pre_update(self, item: Quote) -> None:
        # The stored status: a sent quote past its date may still get a later valid-until date.
        if item.status not in quote_rules.CONVERTIBLE:
            raise NotAllowed(str(_("Tilbudet kan ikke endres etter at det er bestilt eller avslått.")))
