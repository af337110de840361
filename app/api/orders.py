"""Orders (Ordreoversikt) and what is done to them: place, approve, reject, cancel, ship, bill.

A customer sees all orders of its own company, whoever placed them and on any channel. Every
rule is app/domain's (orders, approvals, fulfilment): this module reads bodies and calls the domain
function; a refusal is answered by `safe` (app/api/base.py: ValidationFailed 400 per field,
Forbidden 403, NotFound 404, NotAllowed/AlreadyHandled 409). Approve and reject: app/api/approvals.py.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, ClassVar

from flask import Response, current_app, request
from flask_appbuilder.api import expose
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_appbuilder.security.decorators import permission_name, protect
from flask_babel import lazy_gettext as _
from marshmallow import fields, validate
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from app.api import openapi
from app.api.approvals import OrderApprovalRoutes
from app.api.base import PortalModelRestApi, current_actor, ids_in_range, safe
from app.api.fields import (
    InputSchema,
    LineIn,
    LineInputSchema,
    Money,
    OutputSchema,
    RelatedId,
    code_label,
    codes_of,
    computed,
    domain_validator,
    id_field,
    line_inputs,
    line_list,
    money,
    money_field,
    quantity_field,
)
from app.api.internal_approval import InternalRejectIn
from app.domain import idempotency, internal_approval, labels, pricing, throttle
from app.domain import orders as order_rules
from app.domain.orders import fulfilment
from app.domain.validation import validate_amount
from app.extensions import db
from app.filters import FilterNumberPrefix
from app.models import Carrier, Company, DeliveryAddress, LineStatus, Order, OrderChannel, OrderLine
from app.tenancy import current_tenant

IDEMPOTENCY_HEADER = "Idempotency-Key"
BAD_IDEMPOTENCY_KEY = _("Idempotency-Key må være 1–200 tegn: bokstaver a–z og A–Z, sifre og - _ . :")

# --- request bodies -------------------------------------------------------------------------

MSG_TOO_MANY_PDFS = _("For mange nedlastinger på kort tid. Vent litt og prøv igjen.")


class OrderIn(InputSchema):
    """POST body of a customer: the company is the user's, the prices the catalogue's."""

    delivery_address_id = RelatedId(DeliveryAddress, allow_none=True)
    customer_reference = fields.String(allow_none=True, validate=validate.Length(max=200))
    lines = line_list(LineIn)


class PriceIn(InputSchema):
    """POST /order/price: the lines of an order being written (as in OrderIn)."""

    lines = line_list(LineIn)


class StaffOrderIn(OrderIn):
    """POST body of supplier staff (Admin): they name the company."""

    company_id = RelatedId(Company, required=True)


class ShipmentLineIn(LineInputSchema):
    order_line_id = id_field(required=True)
    quantity = quantity_field(required=True)


class ShipmentIn(InputSchema):
    carrier = fields.String(allow_none=True, load_default=None, metadata=codes_of(Carrier, nullable=True))
    waybill_number = fields.String(allow_none=True, validate=validate.Length(max=60))
    lines = line_list(ShipmentLineIn)


class InvoiceIn(InputSchema):
    number = fields.String(load_default="", validate=validate.Length(max=20))
    invoice_date = fields.Date(required=True)
    due_date = fields.Date(required=True)
    amount = Money(allow_none=True, validate=domain_validator(validate_amount))


# --- results --------------------------------------------------------------------------------


class OrderLineOut(OutputSchema):
    line_no = fields.Integer()
    product_id = fields.Integer()
    sku = fields.String(attribute="product.sku")
    product_name = fields.String(attribute="product.name")
    quantity = fields.Integer()
    delivered_quantity = fields.Integer()
    status = fields.String(metadata=codes_of(LineStatus, nullable=True))
    status_label = fields.Function(labels.line_status)
    unit_price = money_field()
    vat_rate = money_field()
    line_total = money_field()
    width = fields.Integer()
    depth = fields.Integer()
    fabric = fields.String()
    colour = fields.String()


class OrderEventOut(OutputSchema):
    at = fields.DateTime()
    from_status = fields.String()
    from_status_label = fields.Function(lambda e: code_label(labels.ORDER_STATUS, e.from_status))
    to_status = fields.String()
    to_status_label = fields.Function(lambda e: code_label(labels.ORDER_STATUS, e.to_status))
    actor_name = fields.String()
    reason = fields.String()


class ShipmentOut(OutputSchema):
    id = fields.Integer()
    carrier = fields.String(metadata=codes_of(Carrier, nullable=True))
    carrier_label = fields.Function(lambda s: code_label(labels.CARRIER, s.carrier))
    waybill_number = fields.String()
    tracking_url = fields.Function(lambda s: order_rules.tracking_url(s.carrier, s.waybill_number))
    shipped_at = fields.DateTime()
    delivered_at = fields.DateTime()
    signed_by = fields.String()


class InvoiceOut(OutputSchema):
    id = fields.Integer()
    number = fields.String()
    invoice_date = fields.Date()
    due_date = fields.Date()
    amount = money_field()
    paid = fields.Boolean()


def _lines(order: Order) -> list[OrderLine]:
    # One query with the products joined, not one per line.
    stmt = (
        select(OrderLine)
        .options(joinedload(OrderLine.product))
        .where(OrderLine.order_id == order.id)
        .order_by(OrderLine.line_no)
    )
    return list(db.session.scalars(stmt))


class OrderApi(OrderApprovalRoutes, PortalModelRestApi):
    """/api/v1/order/ — codes `status`/`channel` with `*_label`; money as 2-decimal strings.

    Filter with FAB's rison `q`, e.g. `?q=(filters:!((col:status,opr:eq,value:processing)))`;
    filterable: number, status and channel (codes: `eq`, `neq`, `in`, `nin`), company_id,
    created_at (`gt`/`lt` for a date range), customer_reference, delivery_date, over_budget,
    created_by_id, quote_id, standing_order_id.
    The order number also has `numpre` (exact or prefix match, served by an index):
    `(col:number,opr:numpre,value:'1001')`. The item adds lines, status history (events),
    shipments with tracking links and invoices. `count` is exact up to 10 000 and 10 001
    ("over 10 000", `count_exact` false) beyond it; for a full export, page by `created_at`.

    POST (customers; company from the user, channel `webshop`): `delivery_address_id`,
    optional `customer_reference`, `lines` ([{product_id, quantity, width, depth, fabric,
    colour}]); prices, totals, number and status come from the server. Supplier staff with the
    permission also send `company_id` (channel `seller`). Workflow: POST `/<id>/approve`,
    `/<id>/reject` {reason}, `/<id>/cancel` {reason?}, `/<id>/shipment`, `/<id>/invoice`;
    GET `/<id>/invoice/<invoice_id>/pdf` (Fakturakopi).
    """

    resource_name = "order"
    throttled_routes = frozenset({"invoice_copy"})

    def operation_helper(
        self,
        path: str | None = None,
        operations: dict[str, Any] | None = None,
        methods: list[str] | None = None,
        func: Callable[..., Response] | None = None,
        **kwargs: Any,
    ) -> None:
        super().operation_helper(path=path, operations=operations, methods=methods, func=func, **kwargs)
        if func is not None and func.__name__ == "post" and operations and "post" in operations:
            openapi.document_idempotency_key(operations["post"], IDEMPOTENCY_HEADER)

    list_title = _("Ordreoversikt")
    show_title = _("Ordre")
    add_title = _("Ny ordre")
    datamodel = SQLAInterface(Order)
    label_fields = {"status": labels.ORDER_STATUS, "channel": labels.ORDER_CHANNEL}
    virtual_fields = {
        "total_inc_vat": money(lambda o: o.total_inc_vat),
        "lines": computed(_lines, fields.Nested, OrderLineOut, many=True),
        "events": computed(lambda o: o.events, fields.Nested, OrderEventOut, many=True),
        "shipments": computed(lambda o: o.shipments, fields.Nested, ShipmentOut, many=True),
        "invoices": computed(lambda o: o.invoices, fields.Nested, InvoiceOut, many=True),
    }
    list_columns = [
        "id",
        "number",
        "company_id",
        "company.name",
        "company.customer_number",
        "channel",
        "channel_label",
        "status",
        "status_label",
        "created_at",
        "customer_reference",
        "delivery_address_id",
        "delivery_address.recipient_name",
        "delivery_address.city",
        "created_by_id",
        "created_by.first_name",
        "created_by.last_name",
        "total_ex_vat",
        "total_vat",
        "total_inc_vat",
        "over_budget",
        "delivery_date",
        "quote_id",
        "standing_order_id",
    ]
    show_columns = [*list_columns, "lines", "events", "shipments", "invoices"]
    search_columns = [
        "number",
        "status",
        "channel",
        "company_id",
        "created_at",
        "customer_reference",
        "delivery_date",
        "over_budget",
        "created_by_id",
        "quote_id",
        "standing_order_id",
    ]
    # LIKE 'prefix%' on ix_orders_number_prefix; FAB's own `sw` is ILIKE, which cannot use it.
    search_filters = {"number": [FilterNumberPrefix]}
    code_filter_columns = ("status", "channel")
    base_order = ("created_at", "desc")
    # POST has its own body (lines) for app/domain/orders.place_order.
    add_model_schema = StaffOrderIn()
    add_columns = ["company_id", "delivery_address_id", "customer_reference", "lines"]
    customer_add_columns: ClassVar[list[str]] = []  # set in _init_model_schemas: the hand-written body

    def _init_model_schemas(self) -> None:
        super()._init_model_schemas()
        self.customer_add_model_schema = OrderIn()

    # --- placing an order ---------------------------------------------------------------

    @safe
    def post_headless(self) -> Response:
        """Place an order; exactly once per `Idempotency-Key` header, if one is sent.

        Without the header every POST makes an order. With it (1-200 characters: letters, digits
        and `- _ . :`, e.g. a UUID), the first POST makes the order and answers 201; the same key
        from the same user within 24 hours makes nothing and answers 201 again with the same order
        id and the order as it is now, and the header `Idempotent-Replayed: true`. That holds for
        two requests at the same moment too (one order; the other waits for it). The key is per
        user: another user's same key is theirs. After 24 hours the key is free again.
        A key that is too long or has other characters: 400 naming `Idempotency-Key`. The same key
        with a different body: 409, nothing made. A refused order (400) does not use up the key.
        """
        key = request.headers.get(IDEMPOTENCY_HEADER)
        if key is not None and not idempotency.valid_key(key):
            return self.response_400_fields({IDEMPOTENCY_HEADER: [str(BAD_IDEMPOTENCY_KEY)]})
        data, customer = self.new_body()
        company_id = current_tenant() if customer else data["company_id"]
        channel = OrderChannel.webshop.value if customer else OrderChannel.seller.value
        actor = current_actor()

        def make() -> Order:
            return order_rules.place_order(
                db.session,
                actor=actor,
                company_id=company_id,  # type: ignore[arg-type]  # a customer request always has its tenant
                delivery_address_id=data.get("delivery_address_id"),
                lines=line_inputs(data["lines"]),
                channel=channel,
                customer_reference=data.get("customer_reference"),
            )

        if key is None:
            order = self.commit(make)
            return self.response(201, id=order.id, result=self._show(order))
        placed = self.commit(
            lambda: idempotency.once(
                db.session,
                user_id=actor.id,  # type: ignore[arg-type]  # a logged-in caller has an id
                scope=idempotency.API,
                key=key,
                make=make,
                body_print=idempotency.fingerprint({"company_id": company_id, **data}),
            )
        )
        response = self.response(201, id=placed.row.id, result=self._show(placed.row))
        if not placed.made_now:
            response.headers["Idempotent-Replayed"] = "true"
        return response

    # --- prices while an order is written ----------------------------------------------

    @expose("/price", methods=["POST"])
    @protect()
    @safe
    @permission_name("post")
    def price(self) -> Response:
        """Price order lines without placing anything: the rules POST / applies (the line check,
        catalogue prices, VAT per rate), and for a customer what each of its budgets has left after
        such an order (amount − consumption − this order, ex. VAT). A line whose measures or
        variants are wrong is priced still and named in `errors`; a body that is not lines is 400.
        ---
        post:
          summary: Price order lines (nothing is placed)
          requestBody:
            required: true
            content:
              application/json:
                schema:
                  type: object
                  properties:
                    lines:
                      type: array
                      items:
                        type: object
                        required: [product_id, quantity]
                        properties:
                          product_id: {type: integer}
                          quantity: {type: integer, minimum: 1}
                          width: {type: integer, nullable: true}
                          depth: {type: integer, nullable: true}
                          fabric: {type: string, nullable: true}
                          colour: {type: string, nullable: true}
          responses:
            200:
              description: >-
                `lines` (per line: unit_price, total (null until the line has a product and a valid
                quantity), errors by field), `errors` (all, keyed as POST / names them:
                `lines[0].width`), total_ex_vat, total_vat, total_inc_vat, `budgets` (id, user_id,
                period, amount, used, left, level)
            400: {$ref: '#/components/responses/400'}
            403: {$ref: '#/components/responses/403'}
        """
        data = self.load_input(PriceIn(), self.json_body())
        priced = pricing.price_lines(db.session, current_actor(), line_inputs(data["lines"]), with_budgets=True)
        errors = {key: str(message) for key, message in priced.errors.items()}
        lines = []
        for i, line in enumerate(priced.lines):
            prefix = f"lines[{i}]."
            lines.append(
                {
                    "unit_price": None if line.unit_price is None else str(line.unit_price),
                    "total": None if line.total is None else str(line.total),
                    "errors": {k.removeprefix(prefix): m for k, m in errors.items() if k.startswith(prefix)},
                }
            )
        totals = priced.totals
        return self.response(
            200,
            lines=lines,
            errors=errors,
            total_ex_vat=str(totals.ex_vat),
            total_vat=str(totals.vat),
            total_inc_vat=str(totals.inc_vat),
            budgets=[
                {
                    "id": b.budget.id,
                    "user_id": b.budget.user_id,
                    "period": b.budget.period,
                    "amount": str(b.budget.amount),
                    "used": str(b.used),
                    "left": str(b.left),
                    "level": b.level,
                }
                for b in priced.budgets
            ],
        )

    # --- cancelling (approve and reject: OrderApprovalRoutes, app/api/approvals.py) ------

    @expose("/<int:pk>/cancel", methods=["POST"])
    @protect()
    @safe
    @permission_name("cancel")
    @ids_in_range
    def cancel(self, pk: int) -> Response:
        """Cancel an order (customers: the same day and before any shipment; customer service:
        before it ships).
        ---
        post:
          summary: Cancel an order; optional body {reason}
          parameters:
          - {in: path, name: pk, required: true, schema: {type: integer}}
          requestBody:
            required: false
            content:
              application/json:
                schema: {type: object, properties: {reason: {type: string}}}
          responses:
            200: {description: The order, now cancelled}
            403: {$ref: '#/components/responses/403'}
            404: {$ref: '#/components/responses/404'}
            409: {description: The order can no longer be cancelled (message says why)}
        """
        return self.with_reason(
            pk, lambda session, oid, actor, reason: order_rules.cancel_order(session, oid, actor, reason=reason)
        )

    # --- Godkjenning hos dere: the company's own approval (app/domain/internal_approval.py) ----

    @expose("/<int:pk>/internal_approve", methods=["POST"])
    @protect()
    @safe
    @permission_name("internal_approve")
    @ids_in_range
    def internal_approve(self, pk: int) -> Response:
        """Approve an order waiting for the company's own approval (customer admins), exactly once.
        ---
        post:
          summary: Approve an order waiting for your company's approval (customer admins)
          parameters:
          - {in: path, name: pk, required: true, schema: {type: integer}}
          responses:
            200: {description: "The order, now pending the supplier's approval (dealers) or processing"}
            403: {$ref: '#/components/responses/403'}
            404: {$ref: '#/components/responses/404'}
            409: {description: Already handled}
        """
        order = self.commit(lambda: internal_approval.approve(db.session, pk, current_actor()))
        return self.response(200, id=pk, result=self._show(order))

    @expose("/<int:pk>/internal_reject", methods=["POST"])
    @protect()
    @safe
    @permission_name("internal_reject")
    @ids_in_range
    def internal_reject(self, pk: int) -> Response:
        """Reject an order waiting for the company's own approval, with a reason.
        ---
        post:
          summary: Reject an order waiting for your company's approval (customer admins); body {reason}
          parameters:
          - {in: path, name: pk, required: true, schema: {type: integer}}
          requestBody:
            content:
              application/json:
                schema: {type: object, properties: {reason: {type: string, maxLength: 2000}}, required: [reason]}
          responses:
            200: {description: The order, now rejected}
            400: {$ref: '#/components/responses/400'}
            403: {$ref: '#/components/responses/403'}
            404: {$ref: '#/components/responses/404'}
            409: {description: Already handled}
        """
        data = self.load_input(InternalRejectIn(), self.optional_body())
        order = self.commit(lambda: internal_approval.reject(db.session, pk, current_actor(), data.get("reason")))
        return self.response(200, id=pk, result=self._show(order))

    # --- customer service: shipments and invoices ---------------------------------------

    @expose("/<int:pk>/shipment", methods=["POST"])
    @protect()
    @safe
    @permission_name("ship")
    @ids_in_range
    def shipment(self, pk: int) -> Response:
        """Register a shipment; the order becomes partially delivered or shipped.
        ---
        post:
          summary: Register a shipment (customer service)
          parameters:
          - {in: path, name: pk, required: true, schema: {type: integer}}
          requestBody:
            required: true
            content:
              application/json:
                schema:
                  type: object
                  properties:
                    carrier: {type: string, enum: [collicare, schenker, postnord, bring, own]}
                    waybill_number: {type: string}
                    lines:
                      type: array
                      items:
                        type: object
                        properties: {order_line_id: {type: integer}, quantity: {type: integer}}
          responses:
            201: {description: 'The shipment id and the order'}
            400: {$ref: '#/components/responses/400'}
            403: {$ref: '#/components/responses/403'}
            404: {$ref: '#/components/responses/404'}
            409: {description: The order cannot be shipped in its status}
        """
        data = self.load_input(ShipmentIn(), self.json_body())
        quantities: dict[int, int] = {}
        index_of: dict[int, int] = {}
        for i, line in enumerate(data["lines"]):
            quantities[line["order_line_id"]] = quantities.get(line["order_line_id"], 0) + line["quantity"]
            index_of.setdefault(line["order_line_id"], i)
        shipment = self.commit(
            lambda: fulfilment.register_shipment(
                db.session,
                pk,
                current_actor(),
                carrier=data["carrier"],
                waybill_number=data.get("waybill_number"),
                quantities=quantities,
            ),
            rename=lambda key: _line_position(key, index_of),
        )
        return self._registered("shipment_id", shipment)

    @expose("/<int:pk>/invoice", methods=["POST"])
    @protect()
    @safe
    @permission_name("bill")
    @ids_in_range
    def invoice(self, pk: int) -> Response:
        """Register an invoice (default amount: the order's total incl. VAT).
        ---
        post:
          summary: Register an invoice (customer service)
          parameters:
          - {in: path, name: pk, required: true, schema: {type: integer}}
          requestBody:
            required: true
            content:
              application/json:
                schema:
                  type: object
                  required: [number, invoice_date, due_date]
                  properties:
                    number: {type: string}
                    invoice_date: {type: string, format: date}
                    due_date: {type: string, format: date}
                    amount: {type: string, format: decimal, example: '1250.00'}
          responses:
            201: {description: 'The invoice id and the order'}
            400: {$ref: '#/components/responses/400'}
            403: {$ref: '#/components/responses/403'}
            404: {$ref: '#/components/responses/404'}
            409: {description: The order cannot be invoiced in its status}
        """
        data = self.load_input(InvoiceIn(), self.json_body())
        invoice = self.commit(
            lambda: fulfilment.register_invoice(
                db.session,
                pk,
                current_actor(),
                number=data["number"],
                invoice_date=data["invoice_date"],
                due_date=data["due_date"],
                amount=data.get("amount"),
            )
        )
        return self._registered("invoice_id", invoice)

    @expose("/<int:pk>/invoice/<int:invoice_id>/pdf", methods=["GET"])
    @protect()
    @safe
    @permission_name("invoice_copy")
    @ids_in_range
    def invoice_copy(self, pk: int, invoice_id: int) -> Response:
        """Fakturakopi: the invoice as a PDF attachment.
        ---
        get:
          summary: Download an invoice copy (PDF)
          parameters:
          - {in: path, name: pk, required: true, schema: {type: integer}}
          - {in: path, name: invoice_id, required: true, schema: {type: integer}}
          responses:
            200:
              description: fakturakopi-<number>.pdf
              content: {application/pdf: {schema: {type: string, format: binary}}}
            403: {$ref: '#/components/responses/403'}
            404: {$ref: '#/components/responses/404'}
        """
        if not throttle.of(current_app).attempt(db.session, throttle.PDF_DOWNLOAD, str(current_actor().id)):
            return self.response(429, message=str(MSG_TOO_MANY_PDFS))
        filename, pdf = order_rules.invoice_copy(db.session, invoice_id, current_app.config, order_id=pk)
        return Response(
            pdf, mimetype="application/pdf", headers={"Content-Disposition": f'attachment; filename="{filename}"'}
        )

    def _registered(self, key: str, row: Any) -> Response:
        """201 for a shipment or invoice just registered: its id (also as `key`) and the order now."""
        return self.response(201, **{"id": row.id, key: row.id}, result=self._show(row.order))


_LINE_ID_KEY = re.compile(r"^lines\[(\d+)\]$")


def _line_position(key: str, index_of: dict[int, int]) -> str:
    """register_shipment names a line by its order line id ("lines[57]"); the answer names the
    entry of the body ("lines[0]"), so the client finds what it sent."""
    match = _LINE_ID_KEY.match(key)
    if match and int(match.group(1)) in index_of:
        return f"lines[{index_of[int(match.group(1))]}]"
    return key
