"""Hurtigbestilling through the API: `POST /api/v1/quick_order/check` reads lines pasted as text
(JSON `{"text": "..."}`) or a CSV or XLSX file (multipart, field `file`) and answers each row with
its product and its errors, by the rules of app/domain/quick_order.py (the order form's line check).
Nothing is saved: the good rows' `lines` can be sent as they are to `POST /api/v1/order/` or
`POST /api/v1/quote/`.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Response, request
from flask_appbuilder.api import expose
from flask_appbuilder.security.decorators import permission_name, protect
from marshmallow import ValidationError, fields, validate

from app.api.base import PortalBaseApi, answered
from app.api.fields import MSG_BODY_OBJECT, MSG_REQUIRED, InputSchema
from app.domain import quick_order
from app.domain.errors import ValidationFailed
from app.extensions import db

log = logging.getLogger(__name__)


class CheckIn(InputSchema):
    text = fields.String(
        required=True,
        validate=validate.Length(max=quick_order.MAX_TEXT_CHARS),
        metadata={"description": "One row per line: SKU;antall[;bredde;dybde;stoff;farge] (tab or comma too)"},
    )


def _line(line: Any) -> dict[str, Any]:
    return {
        "product_id": line.product_id,
        "quantity": line.quantity,
        "width": line.width,
        "depth": line.depth,
        "fabric": line.fabric,
        "colour": line.colour,
    }


def _row(row: quick_order.CheckedRow) -> dict[str, Any]:
    return {
        "row": row.number,
        "text": row.text,
        "sku": row.raw.cells.get("sku", ""),
        "ok": row.ok,
        "product": ({"id": row.product.id, "sku": row.product.sku, "name": row.product.name} if row.product else None),
        "line": _line(row.line) if row.line is not None else None,
        "errors": {k: [str(v)] for k, v in row.errors.items()},
    }


def _checked() -> quick_order.Checked:
    """The rows of the request's file (multipart) or text (JSON); bad input is a ValidationFailed
    or a marshmallow ValidationError naming the field."""
    if request.mimetype == "multipart/form-data":
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            raise ValidationFailed({"file": str(MSG_REQUIRED)})
        if (request.content_length or 0) > quick_order.MAX_FILE_BYTES + 64 * 1024:
            raise quick_order.too_big()
        return quick_order.check_file(db.session, upload.filename, upload.stream.read(quick_order.MAX_FILE_BYTES + 1))
    body = request.get_json(silent=True) if request.is_json else None
    if not isinstance(body, dict):
        raise ValidationError({"text": [str(MSG_BODY_OBJECT)]})
    data = CheckIn().load(body)
    return quick_order.check_text(db.session, data["text"])


class QuickOrderApi(PortalBaseApi):
    resource_name = "quick_order"
    openapi_spec_tag = "Hurtigbestilling"

    @expose("/check", methods=["POST"])
    @protect()
    @permission_name("check")
    @answered
    def check(self) -> Response:
        """Check quick-order rows against the catalogue (nothing is saved).
        ---
        post:
          summary: Check pasted or uploaded quick-order rows; answers each row with its product and errors
          requestBody:
            required: true
            content:
              application/json:
                schema:
                  type: object
                  required: [text]
                  properties:
                    text: {type: string, description: 'One row per line, SKU;antall[;bredde;dybde;stoff;farge]'}
              multipart/form-data:
                schema:
                  type: object
                  required: [file]
                  properties:
                    file: {type: string, format: binary, description: A CSV or XLSX file (first sheet)}
          responses:
            200:
              description: Every row, checked; `lines` are the good rows, ready for POST /api/v1/order/
              content:
                application/json:
                  schema:
                    type: object
                    properties:
                      count: {type: integer}
                      ok_count: {type: integer}
                      rows:
                        type: array
                        items:
                          type: object
                          properties:
                            row: {type: integer, description: The row's number in the text or sheet}
                            text: {type: string, description: The row as read}
                            sku: {type: string}
                            ok: {type: boolean}
                            product: {type: object, nullable: true}
                            line: {type: object, nullable: true}
                            errors:
                              type: object
                              additionalProperties: {type: array, items: {type: string}}
                      lines: {type: array, items: {type: object}}
        """
        checked = _checked()
        return self.response(
            200,
            count=len(checked.rows),
            ok_count=len(checked.good),
            rows=[_row(r) for r in checked.rows],
            lines=[_line(ln) for ln in checked.lines],
        )
