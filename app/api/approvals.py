"""The seller's decision on an order waiting for approval: POST /order/<id>/approve and
/order/<id>/reject {reason}. A mixin of OrderApi (same resource, same permissions: can_approve,
can_reject on OrderApi); every rule is app/domain/approvals.py's."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from flask import Response
from flask_appbuilder.api import expose
from flask_appbuilder.security.decorators import permission_name, protect
from marshmallow import fields, validate

from app.api.base import PortalModelRestApi, current_actor, ids_in_range, safe
from app.api.fields import InputSchema
from app.domain import approvals
from app.extensions import db
from app.models import Order


class ReasonIn(InputSchema):
    reason = fields.String(allow_none=True, validate=validate.Length(max=approvals.MAX_REASON))


class ApproveIn(InputSchema):
    override_reason = fields.String(allow_none=True, validate=validate.Length(max=approvals.MAX_REASON))


# A domain function (session, order id, actor, reason) -> the order it changed.
ReasonAction = Callable[[Any, int, Any, str | None], Order]


# The mixin runs as part of OrderApi: type checkers see the API's methods, FAB sees plain routes.
if TYPE_CHECKING:
    _RestApi = PortalModelRestApi
else:
    _RestApi = object


class OrderApprovalRoutes(_RestApi):
    """Routes of OrderApi (a PortalModelRestApi): approve and reject, and the body with a reason
    that reject and cancel share."""

    @expose("/<int:pk>/approve", methods=["POST"])
    @protect()
    @safe
    @permission_name("approve")
    @ids_in_range
    def approve(self, pk: int) -> Response:
        """Approve a pending order (Til godkjenning -> Under behandling), exactly once.

        An order that fails the producibility or the credit check is approved only with
        `override_reason`; without one the answer is 409 with `failed_checks`.
        ---
        post:
          summary: Approve an order waiting for approval (sellers); body {override_reason} for an order failing a check
          parameters:
          - {in: path, name: pk, required: true, schema: {type: integer}}
          requestBody:
            required: false
            content:
              application/json:
                schema:
                  type: object
                  properties:
                    override_reason: {type: string, maxLength: 2000, description: Why the order is approved although it fails a check}
          responses:
            200: {description: The order, now processing}
            400: {$ref: '#/components/responses/400'}
            403: {$ref: '#/components/responses/403'}
            404: {$ref: '#/components/responses/404'}
            409:
              description: Already handled, or the order fails a check and no override_reason was given
              content:
                application/json:
                  schema:
                    type: object
                    properties:
                      message: {type: string}
                      failed_checks: {type: array, items: {type: string, enum: [producibility, credit]}}
        """
        data = self.load_input(ApproveIn(), self.optional_body())
        try:
            order = self.commit(
                lambda: approvals.approve_order(db.session, pk, current_actor(), data.get("override_reason"))
            )
        except approvals.NeedsOverride as exc:
            db.session.rollback()
            return self.response(409, message=str(exc.message), failed_checks=exc.failed)
        return self.response(200, id=pk, result=self._show(order))

    @expose("/<int:pk>/reject", methods=["POST"])
    @protect()
    @safe
    @permission_name("reject")
    @ids_in_range
    def reject(self, pk: int) -> Response:
        """Reject a pending order with a reason.
        ---
        post:
          summary: Reject an order waiting for approval (sellers); body {reason}
          parameters:
          - {in: path, name: pk, required: true, schema: {type: integer}}
          requestBody:
            content:
              application/json:
                schema: {type: object, properties: {reason: {type: string}}, required: [reason]}
          responses:
            200: {description: The order, now rejected}
            400: {$ref: '#/components/responses/400'}
            403: {$ref: '#/components/responses/403'}
            404: {$ref: '#/components/responses/404'}
            409: {description: Already handled}
        """
        return self.with_reason(pk, approvals.reject_order)

    def with_reason(self, pk: int, action: ReasonAction) -> Response:
        """Run `action` on order `pk` with the body's optional {reason}; answer the changed order."""
        data = self.load_input(ReasonIn(), self.optional_body())
        order = self.commit(lambda: action(db.session, pk, current_actor(), data.get("reason")))
        return self.response(200, id=pk, result=self._show(order))
