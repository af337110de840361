"""Handlelister (shopping lists) and "Bestill igjen" through the API.

/api/v1/shopping_list/: every user of a company reads its lists (supplier staff every company's);
a customer user makes lists; a list is changed by its creator and the company's customer admins
(others get 409 with the reason). The lines to order again of an order or a quote, with today's
prices and what can no longer be ordered: GET /reorder_lines/order/<id> and /reorder_lines/quote/<id>
(another company's order or quote is 404). Every rule is app/domain/shopping_lists.py's.
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
from app.api.fields import InputSchema, LineIn, Money, OutputSchema, computed, line_inputs, line_list
from app.domain import shopping_lists as rules
from app.domain.catalogue import LineInput
from app.domain.orders import reorder
from app.extensions import db
from app.models import ShoppingList, ShoppingListLine


class ReorderLineOut(OutputSchema):
    """A line to order (again): as the order form reads it, with today's price and, if it cannot be
    ordered as it stands, why (`problem`)."""

    id = fields.Integer()
    product_id = fields.Integer(attribute="line.product_id")
    sku = fields.String(attribute="product.sku")
    product_name = fields.String(attribute="product.name")
    quantity = fields.Integer(attribute="line.quantity")
    width = fields.Integer(attribute="line.width")
    depth = fields.Integer(attribute="line.depth")
    fabric = fields.String(attribute="line.fabric")
    colour = fields.String(attribute="line.colour")
    unit_price = Money()
    orderable = fields.Boolean()
    problem = fields.String()


class _ListLine:
    """A list line for ReorderLineOut: its id, and its row to order."""

    def __init__(self, line_id: int, row: reorder.ReorderLine) -> None:
        self.id = line_id
        self.line, self.product, self.problem = row.line, row.product, row.problem
        self.unit_price, self.orderable = row.unit_price, row.orderable


def _lines(item: ShoppingList) -> list[_ListLine]:
    stmt = (
        select(ShoppingListLine)
        .options(joinedload(ShoppingListLine.product))
        .where(ShoppingListLine.shopping_list_id == item.id)
        .order_by(ShoppingListLine.id)
    )
    rows = list(db.session.scalars(stmt))
    return [_ListLine(ln.id, r) for ln, r in zip(rows, reorder.reorder_lines(rows), strict=True)]


class ShoppingListIn(InputSchema):
    """POST body: the name, and lines to start with (may be none)."""

    name = fields.String(required=True, validate=validate.Length(max=rules.MAX_NAME))
    lines = line_list(LineIn)


class ShoppingListUpdateIn(InputSchema):
    """PUT body: a new name (the lines have their own routes)."""

    name = fields.String(required=True, validate=validate.Length(max=rules.MAX_NAME))


class LinesIn(InputSchema):
    lines = line_list(LineIn)


def _line(data: dict[str, Any]) -> LineInput:
    return line_inputs([data])[0]


class ShoppingListApi(PortalModelRestApi):
    """/api/v1/shopping_list/ — a company's Handlelister. The item adds `lines` (each with `product_id`,
    `quantity`, `width`, `depth`, `fabric`, `colour`, today's `unit_price`, `orderable` and the `problem`
    when it cannot be ordered as it stands) and `may_edit` (may the caller change the list).

    POST {name, lines?} (customer users; the company is the user's). PUT {name}. DELETE. Lines: POST
    `/<id>/lines` {lines: [...]}, PUT `/line/<line id>` {product_id, quantity, width, depth, fabric,
    colour}, DELETE `/line/<line id>`. A list is changed by its creator and the customer admins of
    its company (others, and supplier staff: 409). To order a list, post its lines to the order API.
    """

    resource_name = "shopping_list"
    list_title = _("Handlelister")
    show_title = _("Handleliste")
    add_title = _("Ny handleliste")
    edit_title = _("Endre handleliste")
    datamodel = SQLAInterface(ShoppingList)
    virtual_fields = {
        "lines": computed(_lines, fields.Nested, ReorderLineOut, many=True),
        "may_edit": computed(lambda item: rules.may_keep(current_actor(), item), fields.Boolean),
    }
    list_columns = [
        "id",
        "company_id",
        "company.name",
        "name",
        "created_by_id",
        "created_by.first_name",
        "created_by.last_name",
        "created_at",
        "updated_at",
    ]
    show_columns = [*list_columns, "may_edit", "lines"]
    search_columns = ["company_id", "name", "created_by_id", "updated_at"]
    order_columns = ["name", "updated_at", "created_at"]
    base_order = ("name", "asc")
    add_model_schema = ShoppingListIn()
    edit_model_schema = ShoppingListUpdateIn()
    add_columns = ["name", "lines"]
    edit_columns = ["name"]
    customer_add_columns: ClassVar[list[str]] = []  # set in _init_model_schemas: the hand-written body

    def _init_model_schemas(self) -> None:
        super()._init_model_schemas()
        self.customer_add_model_schema = ShoppingListIn()

    @safe
    def post_headless(self) -> Response:
        data, _customer = self.new_body()
        lines = line_inputs(data.get("lines") or [])
        item = self.commit(lambda: rules.create_list(db.session, current_actor(), data["name"], lines))
        return self.response(201, id=item.id, result=self._show(item))

    @safe
    def put_headless(self, pk: Any) -> Response:
        item = rules.get_list(db.session, pk)  # the row first: another company's list is 404
        body = self.json_body()
        self._drop_company(body, item.company_id)
        data = self.load_input(ShoppingListUpdateIn(), body)
        item = self.commit(lambda: rules.rename_list(db.session, current_actor(), item.id, data["name"]))
        return self.response(200, id=item.id, result=self._show(item))

    def pre_delete(self, item: ShoppingList) -> None:
        """Only its creator and the company's customer admins delete a list (409 for others)."""
        rules.check_keeper(current_actor(), item)

    # --- lines ----------------------------------------------------------------------------

    @expose("/<int:pk>/lines", methods=["POST"])
    @protect()
    @safe
    @permission_name("put")
    @ids_in_range
    def add_lines(self, pk: int) -> Response:
        """Add lines to a shopping list.
        ---
        post:
          summary: Add lines to a shopping list; body {lines}
          parameters:
          - {in: path, name: pk, required: true, schema: {type: integer}}
          requestBody:
            required: true
            content:
              application/json:
                schema: {type: object, properties: {lines: {type: array, items: {type: object}}}}
          responses:
            200: {description: The shopping list}
            400: {$ref: '#/components/responses/400'}
            403: {$ref: '#/components/responses/403'}
            404: {$ref: '#/components/responses/404'}
            409: {description: Only its creator and the customer admins change a list}
        """
        rules.get_list(db.session, pk)  # the row first: another company's list is 404 whatever the body
        data = self.load_input(LinesIn(), self.json_body())
        item = self.commit(lambda: rules.add_lines(db.session, current_actor(), pk, line_inputs(data["lines"])))
        return self.response(200, id=item.id, result=self._show(item))

    @expose("/line/<int:pk>", methods=["PUT"])
    @protect()
    @safe
    @permission_name("put")
    @ids_in_range
    def put_line(self, pk: int) -> Response:
        """Change a line of a shopping list.
        ---
        put:
          summary: Change a shopping list line; body {product_id, quantity, width, depth, fabric, colour}
          parameters:
          - {in: path, name: pk, required: true, schema: {type: integer}}
          requestBody:
            required: true
            content:
              application/json:
                schema: {type: object}
          responses:
            200: {description: The shopping list}
            400: {$ref: '#/components/responses/400'}
            403: {$ref: '#/components/responses/403'}
            404: {$ref: '#/components/responses/404'}
            409: {description: Only its creator and the customer admins change a list}
        """
        line = rules.get_line(db.session, pk)  # another company's line is 404 whatever the body
        list_id = line.shopping_list_id
        data = self.load_input(LineIn(), self.json_body())
        self.commit(lambda: rules.update_line(db.session, current_actor(), pk, _line(data)))
        item = rules.get_list(db.session, list_id)
        return self.response(200, id=item.id, result=self._show(item))

    @expose("/line/<int:pk>", methods=["DELETE"])
    @protect()
    @safe
    @permission_name("put")
    @ids_in_range
    def delete_line(self, pk: int) -> Response:
        """Remove a line from a shopping list.
        ---
        delete:
          summary: Remove a shopping list line
          parameters:
          - {in: path, name: pk, required: true, schema: {type: integer}}
          responses:
            200: {description: The shopping list}
            403: {$ref: '#/components/responses/403'}
            404: {$ref: '#/components/responses/404'}
            409: {description: Only its creator and the customer admins change a list}
        """
        rules.get_line(db.session, pk)  # another company's line is 404
        item = self.commit(lambda: rules.remove_line(db.session, current_actor(), pk))
        return self.response(200, id=item.id, result=self._show(item))

    # --- Bestill igjen ------------------------------------------------------------------------

    @expose("/reorder_lines/order/<int:pk>", methods=["GET"])
    @protect()
    @safe
    @permission_name("get")
    @ids_in_range
    def order_reorder_lines(self, pk: int) -> Response:
        """The lines of an order to order again, at today's prices, flagged where they cannot.
        ---
        get:
          summary: An order's lines as order input (Bestill igjen)
          parameters:
          - {in: path, name: pk, required: true, schema: {type: integer}}
          responses:
            200: {description: '{"result": [lines]}'}
            403: {$ref: '#/components/responses/403'}
            404: {$ref: '#/components/responses/404'}
        """
        rows = reorder.order_reorder_lines(db.session, pk)
        return self.response(200, result=ReorderLineOut(many=True).dump(rows))

    @expose("/reorder_lines/quote/<int:pk>", methods=["GET"])
    @protect()
    @safe
    @permission_name("get")
    @ids_in_range
    def quote_reorder_lines(self, pk: int) -> Response:
        """The lines of a quote to order again, at today's prices (not the quote's), flagged where they cannot.
        ---
        get:
          summary: A quote's lines as order input at today's prices (Bestill igjen)
          parameters:
          - {in: path, name: pk, required: true, schema: {type: integer}}
          responses:
            200: {description: '{"result": [lines]}'}
            403: {$ref: '#/components/responses/403'}
            404: {$ref: '#/components/responses/404'}
        """
        rows = reorder.quote_reorder_lines(db.session, pk)
        return self.response(200, result=ReorderLineOut(many=True).dump(rows))
