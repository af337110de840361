"""Tilbud: the quote list and page (QuoteView, QuoteLineView), and the quote workflow pages: make a new one, send it, decline it, and "Bestill" (convert to an order). Rules: app/domain/quotes.py."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from flask import flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.security.decorators import permission_name
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from app.domain import companies, labels, quotes
from app.domain.catalogue import LineInput
from app.domain.formatting import oslo_today
from app.domain.pricing import order_totals
from app.extensions import db
from app.models import Company, DeliveryAddress, Product, Quote, QuoteLine
from app.views.base import (
    LookupField,
    PortalInterface,
    PortalModelView,
    code_select,
    company_scoped,
    fmt_date,
    fmt_datetime,
    fmt_nok,
    user_can,
)
from app.views.forms import (
    DomainFormMixin,
    MoneyField,
    current_actor,
    domain_action,
    form_id,
    form_values,
    parse_lines,
)
from app.views.orders.overview import date_search_field, line_configuration
from app.views.orders.placing import PREFILL_FIELD, QUOTE, form_pricing, prefilled_lines, product_json

QUOTE_LABELS = {
    "number": _l("Tilbudsnummer"),
    "created_at": _l("Opprettet"),
    "company": _l("Bedrift"),
    "status": _l("Status"),
    "end_customer_ref": _l("Sluttkundereferanse"),
    "valid_until": _l("Gyldig til"),
    "delivery_address": _l("Leveringsadresse"),
    "created_by": _l("Laget av"),
    "note": _l("Merknad"),
    "order": _l("Ordre"),
    "total_ex_vat": _l("Sum eks. mva."),
    "total_inc_vat": _l("Sum inkl. mva."),
}


def _quote_status(quote: Quote) -> str:
    # A quote past its valid-until date shows as expired even before a job marks it (domain rule).
    return labels.label(labels.QUOTE_STATUS, quotes.effective_status(quote))


class QuoteView(DomainFormMixin, PortalModelView):
    datamodel = PortalInterface(
        Quote,
        list_options=[joinedload(Quote.company), joinedload(Quote.created_by)],
        item_options=[
            joinedload(Quote.company),
            joinedload(Quote.created_by),
            joinedload(Quote.delivery_address),
            joinedload(Quote.order),
            selectinload(Quote.lines).joinedload(QuoteLine.product),
        ],
    )
    # `can_add` only opens "Nytt tilbud" (QuoteActionsView.new): quotes are made with their lines there.
    base_permissions = ["can_list", "can_show", "can_add", "can_edit"]

    list_title = _l("Tilbud")
    show_title = _l("Tilbud")
    edit_title = _l("Endre tilbud")
    label_columns = QUOTE_LABELS
    formatters_columns = {"created_at": fmt_datetime, "valid_until": fmt_date}
    computed_columns = {"status": _quote_status}
    list_columns = ["number", "created_at", "company", "end_customer_ref", "valid_until", "status", "created_by"]
    list_columns_customer = ["number", "created_at", "end_customer_ref", "valid_until", "status", "created_by"]
    order_columns = ["number", "created_at", "valid_until", "status", "end_customer_ref"]
    base_order = ("created_at", "desc")
    number_prefix_columns = ("number",)
    search_columns = ["number", "status", "end_customer_ref", "valid_until", "created_at"]
    search_form_extra_fields = {
        "status": code_select(_l("Status"), labels.QUOTE_STATUS, search=True),
        "valid_until": date_search_field(_l("Gyldig til")),
        "created_at": date_search_field(_l("Opprettet")),
    }
    show_fieldsets = [
        (
            _l("Tilbud"),
            {
                "fields": [
                    "number",
                    "status",
                    "company",
                    "end_customer_ref",
                    "valid_until",
                    "created_at",
                    "created_by",
                    "note",
                    "order",
                ]
            },
        ),
    ]
    show_template = "portal/quote_show.html"

    # The delivery address select offers only the addresses of the quote's company.
    edit_columns = ["end_customer_ref", "valid_until", "delivery_address", "note"]
    add_columns = edit_columns  # FAB builds an add form from these; `add` never shows it
    edit_form_query_rel_fields = {"delivery_address": company_scoped()}
    validators_columns = {
        "valid_until": [DataRequired(message=_l("Gyldig til må fylles ut."))],
        "end_customer_ref": [Optional(), Length(max=200)],
    }
    description_columns = {
        "delivery_address": _l("Leveringsadressene til tilbudets bedrift."),
        "end_customer_ref": _l("Forhandlerens kunde, f.eks. navn eller ordrenummer hos forhandleren."),
    }
    domain_field_names = {"delivery_address_id": "delivery_address"}

    @expose("/add", methods=["GET", "POST"])
    @has_access
    def add(self) -> ResponseReturnValue:
        """ "Nytt tilbud" (for the company the list was opened for): a quote is made with its lines."""
        company_id = form_id(request.args, "_flt_0_company")
        company = db.session.get(Company, company_id) if company_id is not None else None
        args = {"customer_number": company.customer_number} if company is not None else {}
        return redirect(url_for("QuoteActionsView.new", **args))

    def domain_edit(self, item: Quote, form: Any) -> Quote:
        values = form_values(form, ("end_customer_ref", "valid_until", "note"))
        address = form.delivery_address.data
        values["delivery_address_id"] = address.id if address is not None else None
        return quotes.update_quote(db.session, item.id, current_actor(), values)

    def show_context(self, item: Quote) -> dict[str, Any]:
        lines = [
            {
                "id": ln.id,
                "line_no": ln.line_no,
                "sku": ln.product.sku if ln.product else "",
                "product": ln.product.name if ln.product else "",
                "quantity": ln.quantity,
                "configuration": line_configuration(ln),
                "unit_price": ln.unit_price,
                "line_total": ln.line_total,
            }
            for ln in item.lines
        ]
        totals = order_totals(item.lines)
        return {
            "quote": item,
            "lines": lines,
            "totals": totals,
            "status_label": _quote_status(item),
            "editable": quotes.may_change(item),
            "actions": self._actions(item),
        }

    def _actions(self, quote: Quote) -> dict[str, str]:
        """Workflow buttons (QuoteActionsView) this user may use on this quote now."""
        actions: dict[str, str] = {}
        if quotes.may_send(quote) and user_can("can_send", "QuoteActionsView"):
            actions["send"] = url_for("QuoteActionsView.send", pk=quote.id)
        if quotes.is_open(quote) and user_can("can_convert", "QuoteActionsView"):
            actions["convert"] = url_for("QuoteActionsView.convert", pk=quote.id)
        if quotes.is_open(quote) and user_can("can_decline", "QuoteActionsView"):
            actions["decline"] = url_for("QuoteActionsView.decline", pk=quote.id)
        return actions


# --- lines -----------------------------------------------------------------------------------


class QuoteLineView(DomainFormMixin, PortalModelView):
    """Quote lines: edited by sellers from the quote's page (no menu). Numbers, VAT, prices and the
    line check: app/domain/quotes.py."""

    datamodel = PortalInterface(QuoteLine, list_options=[joinedload(QuoteLine.quote), joinedload(QuoteLine.product)])
    base_permissions = ["can_list", "can_show", "can_add", "can_edit", "can_delete"]

    list_title = _l("Tilbudslinjer")
    show_title = _l("Tilbudslinje")
    add_title = _l("Ny tilbudslinje")
    edit_title = _l("Endre tilbudslinje")
    label_columns = {
        "quote": _l("Tilbud"),
        "line_no": _l("Linje"),
        "product": _l("Produkt (varenummer)"),
        "quantity": _l("Antall"),
        "width": _l("Bredde (cm)"),
        "depth": _l("Dybde (cm)"),
        "fabric": _l("Stoff"),
        "colour": _l("Farge"),
        "configuration": _l("Mål og variant"),
        "unit_price": _l("Enhetspris eks. mva."),
        "vat_rate": _l("Mva-sats (%)"),
        "line_total": _l("Linjesum eks. mva."),
    }
    formatters_columns = {"unit_price": fmt_nok, "line_total": fmt_nok}
    computed_columns = {"configuration": line_configuration}
    list_columns = ["quote", "line_no", "product", "quantity", "configuration", "unit_price", "line_total"]
    order_columns = ["line_no", "quantity"]
    base_order = ("id", "desc")
    search_columns = ["quantity"]
    show_columns = ["quote", "line_no", "product", "quantity", "configuration", "unit_price", "vat_rate", "line_total"]
    # Opened from the quote's page the quote is given (`_flt_0_quote`) and hidden; typed otherwise.
    add_columns = ["quote", "product", "quantity", "width", "depth", "fabric", "colour", "unit_price"]
    edit_columns = ["product", "quantity", "width", "depth", "fabric", "colour", "unit_price"]
    supplier_only_columns = ()
    _product_field = LookupField(
        _l("Produkt (varenummer)"),
        model=Product,
        key="sku",
        not_found=_l("Fant ikke noe produkt med dette varenummeret."),
    )
    _price_field = MoneyField(_l("Enhetspris eks. mva."), required=False, description=_l("Tomt: produktets listepris."))
    add_form_extra_fields = {
        "quote": LookupField(_l("Tilbud (tilbudsnummer)"), model=Quote, key="number", not_found=quotes.NOT_FOUND),
        "product": _product_field,
        "unit_price": _price_field,
    }
    edit_form_extra_fields = {"product": _product_field, "unit_price": _price_field}
    validators_columns = {
        "quantity": [InputRequired(message=_l("Antall må fylles ut."))],
        "unit_price": [Optional()],
    }
    description_columns = {"unit_price": _l("Tomt: produktets listepris.")}
    domain_field_names = {"product_id": "product"}

    @staticmethod
    def _line(form: Any) -> LineInput:
        product = form.product.object
        return LineInput(
            product_id=product.id if product is not None else None,
            quantity=form.quantity.data,
            width=form.width.data,
            depth=form.depth.data,
            fabric=form.fabric.data,
            colour=form.colour.data,
            unit_price=form.unit_price.data,
        )

    def domain_add(self, form: Any) -> QuoteLine:
        quote = form.quote.object
        return quotes.add_quote_line(
            db.session, quote.id if quote is not None else None, current_actor(), self._line(form)
        )

    def domain_edit(self, item: QuoteLine, form: Any) -> QuoteLine:
        return quotes.update_quote_line(db.session, item.id, current_actor(), self._line(form))

    def _delete(self, pk):
        with domain_action() as done:
            quotes.remove_quote_line(db.session, pk, current_actor())
        if done.ok:
            flash(str(self.delete_row_message), "success")


class QuoteActionsView(BaseView):
    route_base = "/tilbud"
    default_view = "new"
    base_permissions = ["can_new", "can_convert", "can_send", "can_decline"]

    @expose("/ny", methods=["GET", "POST"])
    @has_access
    @permission_name("new")
    def new(self) -> ResponseReturnValue:
        actor = current_actor()
        errors: dict[str, str] = {}
        lines: list[LineInput] = []
        company = None
        matches: list[Company] = []
        customer_number = (request.values.get("customer_number") or "").strip()
        if actor.is_customer:
            company = db.session.get(Company, actor.company_id)
        elif customer_number:
            # A seller names the customer by number or by a part of its name (no <select> of
            # every company); several matches are offered to choose from.
            matches = companies.find_companies(db.session, customer_number)
            if len(matches) == 1:
                company = matches[0]
            elif not matches:
                errors["customer_number"] = _(
                    "Fant ingen kunde med kundenummer eller navn «%(term)s».", term=customer_number
                )
        if request.method == "POST" and company is not None and request.form.get(PREFILL_FIELD):
            lines, errors = prefilled_lines(request.form)
        elif request.method == "POST" and company is not None:
            # Special prices per line only from a seller (the domain ignores them from dealers too).
            lines, errors = parse_lines(request.form, prices=not actor.is_customer)
            valid_until = None
            try:
                valid_until = dt.date.fromisoformat((request.form.get("valid_until") or "").strip())
            except ValueError:
                errors["valid_until"] = _("Skriv en gyldig dato.")
            if not errors:
                with domain_action(errors_on_page=True) as done:
                    quote = quotes.create_quote(
                        db.session,
                        actor=actor,
                        company_id=company.id,
                        valid_until=valid_until,
                        lines=lines,
                        end_customer_ref=(request.form.get("end_customer_ref") or "").strip()[:200],
                        delivery_address_id=form_id(request.form, "delivery_address_id"),
                        note=(request.form.get("note") or "").strip(),
                    )
                if done.ok:
                    flash(_("Tilbud %(number)s er lagret som utkast.", number=quote.number), "success")
                    return redirect(url_for("QuoteView.show", pk=quote.id))
                errors = done.errors
            flash(_("Tilbudet er ikke lagret. Rett feltene som er merket."), "danger")
        addresses = []
        if company is not None:
            addresses = db.session.scalars(
                select(DeliveryAddress)
                .where(DeliveryAddress.company_id == company.id, DeliveryAddress.active.is_(True))
                .order_by(DeliveryAddress.recipient_name)
            ).all()
        products = {
            p.id: p
            for p in db.session.scalars(
                select(Product).where(Product.id.in_({ln.product_id for ln in lines if ln.product_id}))
            )
        }
        return self.render_template(
            "workflow/new_quote.html",
            company=company,
            addresses=addresses,
            lines=lines,
            errors=errors,
            products=products,
            product_json=product_json,
            form=request.form,
            is_customer=actor.is_customer,
            customer_number=customer_number,
            matches=matches if company is None else [],
            default_valid=(oslo_today() + dt.timedelta(days=30)).isoformat(),
            priced=form_pricing(actor, QUOTE, lines),
            price_form=QUOTE,
        )

    def _act(self, pk: int, action: Callable[..., Any], done_message: str) -> ResponseReturnValue:
        with domain_action() as done:
            action(db.session, pk, current_actor())
        if done.ok:
            flash(done_message, "success")
        return redirect(url_for("QuoteView.show", pk=pk))

    @expose("/<int:pk>/send", methods=["POST"])
    @has_access
    @permission_name("send")
    def send(self, pk: int) -> ResponseReturnValue:
        return self._act(pk, quotes.send_quote, _("Tilbudet er sendt."))

    @expose("/<int:pk>/avslaa", methods=["POST"])
    @has_access
    @permission_name("decline")
    def decline(self, pk: int) -> ResponseReturnValue:
        return self._act(pk, quotes.decline_quote, _("Tilbudet er avslått."))

    @expose("/<int:pk>/bestill", methods=["POST"])
    @has_access
    @permission_name("convert")
    def convert(self, pk: int) -> ResponseReturnValue:
        with domain_action() as done:
            order = quotes.convert_quote(
                db.session, pk, current_actor(), delivery_address_id=form_id(request.form, "delivery_address_id")
            )
        if not done.ok:
            return redirect(url_for("QuoteView.show", pk=pk))
        flash(_("Tilbudet er bestilt som ordre %(number)s.", number=order.number), "success")
        return redirect(url_for("OrderView.show", pk=order.id))
