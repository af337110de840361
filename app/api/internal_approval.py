"""Godkjenning hos dere: the company's own approval rules, /api/v1/approval_rule/.

Customer admins keep their company's rules; every rule is app/domain/internal_approval.py's (this
module reads bodies and calls it). The decisions on a waiting order are OrderApi's:
POST /api/v1/order/<id>/internal_approve and /internal_reject {reason} (app/api/orders.py).
"""

from __future__ import annotations

from flask import Response
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_babel import lazy_gettext as _
from marshmallow import fields, validate

from app.api.base import PortalModelRestApi, current_actor, ids_in_range, safe
from app.api.fields import InputSchema, Money, RelatedId, codes_of, computed
from app.domain import approvals
from app.domain import internal_approval as rules
from app.extensions import db
from app.models import ApprovalRule, ApprovalRuleKind, Company, PortalUser


class RuleIn(InputSchema):
    """A new rule: `kind` amount (with `amount`), budget, or user (with `user_id`)."""

    kind = fields.String(required=True, metadata=codes_of(ApprovalRuleKind))
    amount = Money(allow_none=True, load_default=None)
    user_id = RelatedId(PortalUser, allow_none=True, load_default=None)
    active = fields.Boolean(load_default=True)


class StaffRuleIn(RuleIn):
    company_id = RelatedId(Company, required=True)


class RuleChange(InputSchema):
    amount = Money(allow_none=True, load_default=None)
    active = fields.Boolean(allow_none=True, load_default=None)


class ApprovalRuleApi(PortalModelRestApi):
    """/api/v1/approval_rule/ — the company's own approval rules (customer admins).

    POST {kind: amount|budget|user, amount (NOK ex. VAT, for amount), user_id (a user of the
    company, for user), active}: one rule of each kind per company (per user for `user`);
    a second is 400 on `kind` / `user_id`. PUT {amount, active}: change the amount or turn the
    rule off and on (kind and user stay). DELETE removes it. `description` says the rule in words.
    """

    resource_name = "approval_rule"
    list_title = _("Regler for godkjenning hos dere")
    show_title = _("Regel for godkjenning hos dere")
    add_title = _("Ny regel")
    edit_title = _("Endre regel")
    datamodel = SQLAInterface(ApprovalRule)
    label_fields = {"kind": rules.KIND_LABELS}
    virtual_fields = {"description": computed(rules.describe, fields.String)}
    list_columns = [
        "id",
        "company_id",
        "company.name",
        "kind",
        "kind_label",
        "description",
        "amount",
        "user_id",
        "user.first_name",
        "user.last_name",
        "active",
        "created_at",
    ]
    show_columns = list_columns
    add_columns = ["company_id", "kind", "amount", "user_id", "active"]
    edit_columns = ["amount", "active"]
    search_columns = ["company_id", "kind", "user_id", "active"]
    code_filter_columns = ("kind",)
    base_order = ("created_at", "desc")
    add_model_schema = StaffRuleIn()

    def _init_model_schemas(self) -> None:
        super()._init_model_schemas()
        self.customer_add_model_schema = RuleIn()

    @safe
    def post_headless(self) -> Response:
        data, _customer = self.new_body()
        rule = self.commit(
            lambda: rules.create_rule(
                db.session,
                current_actor(),
                kind=data["kind"],
                amount=data.get("amount"),
                user_id=data.get("user_id"),
                active=data.get("active", True),
                company_id=data.get("company_id"),
            )
        )
        return self.response(201, id=rule.id, result=self._show(rule))

    @safe
    @ids_in_range
    def put_headless(self, pk: int) -> Response:
        data = self.load_input(RuleChange(), self.json_body())
        rule = self.commit(
            lambda: rules.update_rule(
                db.session, current_actor(), pk, amount=data.get("amount"), active=data.get("active")
            )
        )
        return self.response(200, id=pk, result=self._show(rule))

    @safe
    @ids_in_range
    def delete_headless(self, pk: int) -> Response:
        self.commit(lambda: rules.delete_rule(db.session, current_actor(), pk))
        return self.response(200, message=str(_("Slettet.")))


# The reason an admin gives when rejecting (OrderApi.internal_reject).
class InternalRejectIn(InputSchema):
    reason = fields.String(allow_none=True, validate=validate.Length(max=approvals.MAX_REASON))
