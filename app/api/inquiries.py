"""Inquiries (Henvendelser): customers open them for their own company, customer service
keeps them (status, subject) for every company."""
from __future__ import annotations

from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_babel import lazy_gettext as _
from marshmallow import Schema, fields

from ..domain import labels
from ..models import Inquiry, InquiryChannel, InquiryStatus
from .base import PortalModelRestApi, is_customer_request
from .fields import computed, one_of


class InquiryMessageOut(Schema):
    id = fields.Integer()
    author_name = fields.String()
    from_supplier = fields.Boolean()
    body = fields.String()
    created_at = fields.DateTime()


class InquiryApi(PortalModelRestApi):
    """/api/v1/inquiry/ — `channel` (chat|contact_form|portal) and `status` (open|answered|closed)
    with `*_label`; the item adds the message thread.

    A customer POSTs only `subject`: company, creator, channel `portal` and status `open` are
    set by the server. Customer service also sends `company_id` (required) and may set
    `channel`/`status`.
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
        "id", "company_id", "company.name", "company.customer_number", "subject", "channel", "channel_label",
        "status", "status_label", "created_by_id", "created_by.first_name", "created_by.last_name", "created_at",
    ]
    show_columns = [*list_columns, "messages"]
    add_columns = ["company_id", "subject", "channel", "status"]
    customer_add_columns = ["subject"]
    edit_columns = ["subject", "channel", "status"]
    search_columns = ["company_id", "status", "channel", "created_at", "subject", "created_by_id"]
    base_order = ("created_at", "desc")
    validators_columns = {"channel": one_of(InquiryChannel), "status": one_of(InquiryStatus)}

    def pre_add(self, item: Inquiry) -> None:
        super().pre_add(item)
        if is_customer_request():
            item.channel = InquiryChannel.portal.value
            item.status = InquiryStatus.open.value
