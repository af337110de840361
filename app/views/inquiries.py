"""Henvendelser: the company's inquiries with their message threads (Min side), and customer
service's queue of all inquiries (open first, oldest first). Rules: app/domain/inquiries.py."""

from __future__ import annotations

from typing import Any

from flask import flash, g, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_appbuilder.baseviews import expose
from flask_appbuilder.security.decorators import has_access, permission_name
from flask_appbuilder.urltools import get_order_args, get_page_args, get_page_size_args
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import joinedload, selectinload
from wtforms import TextAreaField
from wtforms.validators import DataRequired, Length

from app.domain import inquiries, labels
from app.models import Company, Inquiry, InquiryStatus
from app.views.base import (
    LookupField,
    PortalInterface,
    PortalModelView,
    code_select,
    fmt_code,
    fmt_datetime,
    is_customer,
    is_supplier,
    user_can,
)
from app.views.forms import DomainFormMixin, current_actor, domain_action


class InquiryInterface(PortalInterface):
    """Without a chosen sort, supplier staff get the queue order and customers the newest first."""

    def query(
        self,
        filters=None,
        order_column="",
        order_direction="",
        page=None,
        page_size=None,
        select_columns=None,
        outer_default_load=False,
    ):
        if order_column:
            return super().query(
                filters, order_column, order_direction, page, page_size, select_columns, outer_default_load
            )
        if not is_supplier():
            return super().query(filters, "created_at", "desc", page, page_size, select_columns, outer_default_load)
        query = self.session.query(self.obj)
        count = self.query_count(query, filters, select_columns)
        query = self.apply_all(
            query.order_by(*inquiries.queue_order()),
            filters,
            "",
            "",
            page,
            page_size,
            select_columns,
            outer_default_load,
        )
        if self.list_options:
            query = query.options(*self.list_options)
        return count, query.all()


class InquiryView(DomainFormMixin, PortalModelView):
    datamodel = InquiryInterface(
        Inquiry,
        list_options=[joinedload(Inquiry.company), joinedload(Inquiry.created_by)],
        item_options=[joinedload(Inquiry.company), joinedload(Inquiry.created_by), selectinload(Inquiry.messages)],
    )
    base_permissions = ["can_list", "can_show", "can_add", "can_edit", "can_reply", "can_close"]

    list_title = _l("Henvendelser")
    show_title = _l("Henvendelse")
    add_title = _l("Ny henvendelse")
    edit_title = _l("Endre henvendelse")
    label_columns = {
        "subject": _l("Emne"),
        "company": _l("Bedrift"),
        "channel": _l("Kanal"),
        "status": _l("Status"),
        "created_by": _l("Fra"),
        "created_at": _l("Opprettet"),
        "message": _l("Melding"),
    }
    formatters_columns = {
        "channel": fmt_code(labels.INQUIRY_CHANNEL),
        "status": fmt_code(labels.INQUIRY_STATUS),
        "created_at": fmt_datetime,
    }
    list_columns = ["subject", "company", "channel", "status", "created_by", "created_at"]
    list_columns_customer = ["subject", "channel", "status", "created_by", "created_at"]
    order_columns = ["subject", "status", "channel", "created_at"]
    base_order = None  # InquiryInterface: queue order for supplier staff, newest first for customers
    search_columns = ["subject", "status", "channel", "created_at"]
    search_form_extra_fields = {
        "status": code_select(_l("Status"), labels.INQUIRY_STATUS, search=True),
        "channel": code_select(_l("Kanal"), labels.INQUIRY_CHANNEL, search=True),
    }
    show_fieldsets = [
        (_l("Henvendelse"), {"fields": ["subject", "company", "channel", "status", "created_by", "created_at"]}),
    ]
    show_template = "portal/inquiry_show.html"
    add_columns = ["company", "subject", "message"]
    edit_columns = ["subject", "channel", "status"]
    add_form_extra_fields = {
        "company": LookupField(
            _l("Bedrift (kundenummer)"),
            model=Company,
            key="customer_number",
            supplier_only=True,
            not_found=_l("Fant ingen bedrift med dette kundenummeret."),
        ),
        "message": TextAreaField(
            _l("Melding"), validators=[DataRequired(message=_l("Skriv en melding.")), Length(max=inquiries.MAX_MESSAGE)]
        ),
    }
    edit_form_extra_fields = {
        "channel": code_select(_l("Kanal"), labels.INQUIRY_CHANNEL),
        "status": code_select(_l("Status"), labels.INQUIRY_STATUS),
    }
    validators_columns = {"subject": [DataRequired(message=_l("Skriv et emne.")), Length(max=inquiries.MAX_SUBJECT)]}
    domain_field_names = {"company_id": "company"}
    show_after_add = True

    # --- Ny henvendelse / customer service's corrections -----------------------------------

    def domain_add(self, form: Any) -> Inquiry:
        company = None if is_customer() else getattr(form.company, "object", None)
        return inquiries.open_inquiry(
            self.datamodel.session,
            current_actor(),
            form.subject.data,
            form.message.data,
            company_id=company.id if company is not None else None,
        )

    def domain_edit(self, item: Inquiry, form: Any) -> Inquiry:
        return inquiries.update_inquiry(
            self.datamodel.session,
            item.id,
            current_actor(),
            {"subject": form.subject.data, "channel": form.channel.data, "status": form.status.data},
        )

    # --- the thread ------------------------------------------------------------------------

    def show_context(self, item: Inquiry) -> dict[str, Any]:
        open_thread = item.status != InquiryStatus.closed.value
        return {
            "closed": not open_thread,
            "can_reply": open_thread and user_can("can_reply", "InquiryView"),
            "can_close": open_thread and user_can("can_close", "InquiryView"),
            "reply_from_supplier": is_supplier(),
            "reply_error": g.get("inquiry_reply_error"),
            "reply_text": g.get("inquiry_reply_text", ""),
        }

    def _show_again(self, item: Inquiry) -> ResponseReturnValue:
        """The inquiry's page with the reply form's error next to it (nothing was saved)."""
        widgets = self._get_show_widget(item.id, item)
        widgets = self._get_related_views_widgets(
            item, orders=get_order_args(), pages=get_page_args(), page_sizes=get_page_size_args(), widgets=widgets
        )
        return self.render_template(
            self.show_template,
            pk=item.id,
            title=self.show_title,
            widgets=widgets,
            related_views=self._related_views,
            item=item,
            **self.show_context(item),
        )

    @expose("/reply/<pk>", methods=["POST"])
    @has_access
    @permission_name("reply")
    def reply(self, pk: str) -> ResponseReturnValue:
        """A message in the thread: customer service's answer (mail to the customer) or the
        customer's reply."""
        inquiry_id = self._pk_or_404(pk)
        text = request.form.get("message", "")
        with domain_action(errors_on_page=True) as done:
            inquiries.add_message(self.datamodel.session, inquiry_id, current_actor(), text)
        if done.ok:
            flash(str(_l("Svaret er sendt til kunden.") if is_supplier() else _l("Meldingen er sendt.")), "success")
        elif done.errors:  # the reply form's error next to it, what was typed kept
            g.inquiry_reply_error = next(iter(done.errors.values()))
            g.inquiry_reply_text = text
            return self._show_again(self._load_or_404(inquiry_id))
        return redirect(url_for(f"{self.endpoint}.show", pk=inquiry_id))

    @expose("/close/<pk>", methods=["POST"])
    @has_access
    @permission_name("close")
    def close(self, pk: str) -> ResponseReturnValue:
        inquiry_id = self._pk_or_404(pk)
        with domain_action() as done:
            inquiries.close_inquiry(self.datamodel.session, inquiry_id, current_actor())
        if done.ok:
            flash(str(_l("Henvendelsen er lukket.")), "success")
        return redirect(url_for(f"{self.endpoint}.show", pk=inquiry_id))
