"""Inquiries (Henvendelser): customers open them for their own company and write in the thread;
customer service answers (the customer gets a mail), closes and corrects them for every company.
Rules: app/domain/inquiries.py."""

from __future__ import annotations

from typing import Any, ClassVar

from flask import Response
from flask_appbuilder.api import expose
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_appbuilder.security.decorators import permission_name, protect
from flask_babel import lazy_gettext as _
from marshmallow import fields

from app.api.base import PortalModelRestApi, _int_or_none, current_actor, ids_in_range, safe
from app.api.fields import InputSchema, OutputSchema, codes_of, computed, id_field, one_of
from app.domain import inquiries, labels
from app.extensions import db
from app.models import Inquiry, InquiryChannel, InquiryStatus


class InquiryMessageOut(OutputSchema):
    id = fields.Integer()
    author_name = fields.String()
    from_supplier = fields.Boolean()
    body = fields.String()
    created_at = fields.DateTime()


# Bodies: presence and length are the domain's rules (same messages as the pages); these only
# refuse unknown fields and wrong types.
class CustomerInquiryIn(InputSchema):
    subject = fields.Raw(allow_none=True, metadata={"type": "string", "description": "Emne"})
    message = fields.Raw(allow_none=True, metadata={"type": "string", "description": "Første melding"})


class StaffInquiryIn(CustomerInquiryIn):
    company_id = id_field(allow_none=True)
    channel = fields.String(allow_none=True, metadata=codes_of(InquiryChannel, nullable=True))


class MessageIn(InputSchema):
    message = fields.Raw(allow_none=True, metadata={"type": "string"})


class InquiryApi(PortalModelRestApi):
    """/api/v1/inquiry/ — `channel` (chat|contact_form|portal) and `status` (open|answered|closed)
    with `*_label`; the item adds the message thread (`messages`, oldest first).

    * POST /inquiry/ {subject, message}: a new inquiry (status open) with its first message.
      A customer's company, creator and channel `portal` are set by the server; customer service
      also sends `company_id` (required) and may send `channel`.
    * POST /inquiry/<id>/message {message}: a message in the thread. From customer service it is
      an answer (status answered, the customer who opened it gets a mail with a link); from the
      customer a reply (status open again). A closed inquiry answers 409.
    * POST /inquiry/<id>/close: customer service closes it (409 if it already is).
    * PUT /inquiry/<id> {subject, channel, status}: customer service's corrections.
    """

    resource_name = "inquiry"
    list_title = _("Henvendelser")
    show_title = _("Henvendelse")
    add_title = _("Ny henvendelse")
    edit_title = _("Endre henvendelse")
    datamodel = SQLAInterface(Inquiry)
    label_fields = {"channel": labels.INQUIRY_CHANNEL, "status": labels.INQUIRY_STATUS}
    virtual_fields = {"messages": computed(lambda i: i.messages, fields.Nested, InquiryMessageOut, many=True)}
    list_columns = [
        "id",
        "company_id",
        "company.name",
        "company.customer_number",
        "subject",
        "channel",
        "channel_label",
        "status",
        "status_label",
        "created_by_id",
        "created_by.first_name",
        "created_by.last_name",
        "created_at",
    ]
    show_columns = [*list_columns, "messages"]
    add_model_schema = StaffInquiryIn()
    add_columns = ["company_id", "subject", "message", "channel"]
    customer_add_columns: ClassVar[list[str]] = []  # set in _init_model_schemas: the hand-written body
    edit_columns = ["subject", "channel", "status"]
    search_columns = ["company_id", "status", "channel", "created_at", "subject", "created_by_id"]
    base_order = ("created_at", "desc")
    validators_columns = {"channel": one_of(InquiryChannel), "status": one_of(InquiryStatus)}

    def _init_model_schemas(self) -> None:
        super()._init_model_schemas()
        self.customer_add_model_schema = CustomerInquiryIn()

    @safe
    def post_headless(self) -> Response:
        data, _customer = self.new_body()
        inquiry = self.commit(
            lambda: inquiries.open_inquiry(
                db.session,
                current_actor(),
                data.get("subject"),
                data.get("message"),
                company_id=data.get("company_id"),
                channel=data.get("channel") or InquiryChannel.portal.value,
            )
        )
        return self.response(201, id=inquiry.id, result=self._show(inquiry))

    @safe
    def put_headless(self, pk: Any) -> Response:
        item = inquiries.get_inquiry(db.session, _int_or_none(pk))  # another company's: 404
        body = self.json_body()
        self._drop_company(body, item.company_id)
        inquiry = self.commit(lambda: inquiries.update_inquiry(db.session, item.id, current_actor(), body))
        return self.response(200, id=inquiry.id, result=self._show(inquiry))

    @expose("/<int:pk>/message", methods=["POST"])
    @protect()
    @safe
    @permission_name("reply")
    @ids_in_range
    def post_message(self, pk: int) -> Response:
        """A message in an inquiry's thread (customer service: an answer, mailed to the customer).
        ---
        post:
          summary: Write in an inquiry's thread; body {message}
          parameters:
          - {in: path, name: pk, required: true, schema: {type: integer}}
          requestBody:
            content:
              application/json:
                schema: {type: object, properties: {message: {type: string}}, required: [message]}
          responses:
            201: {description: The inquiry with its thread}
            400: {$ref: '#/components/responses/400'}
            403: {$ref: '#/components/responses/403'}
            404: {$ref: '#/components/responses/404'}
            409: {description: The inquiry is closed}
        """
        data = self.load_input(MessageIn(), self.json_body())
        message = self.commit(lambda: inquiries.add_message(db.session, pk, current_actor(), data.get("message")))
        return self.response(
            201, id=pk, message_id=message.id, result=self._show(inquiries.get_inquiry(db.session, pk))
        )

    @expose("/<int:pk>/close", methods=["POST"])
    @protect()
    @safe
    @permission_name("close")
    @ids_in_range
    def close(self, pk: int) -> Response:
        """Close an inquiry (customer service).
        ---
        post:
          summary: Close an inquiry (customer service)
          parameters:
          - {in: path, name: pk, required: true, schema: {type: integer}}
          responses:
            200: {description: The inquiry, now closed}
            403: {$ref: '#/components/responses/403'}
            404: {$ref: '#/components/responses/404'}
            409: {description: Already closed}
        """
        inquiry = self.commit(lambda: inquiries.close_inquiry(db.session, pk, current_actor()))
        return self.response(200, id=pk, result=self._show(inquiry))
