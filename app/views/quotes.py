"""Tilbud: the quote list and page (QuoteView, QuoteLineView), and the quote workflow pages: make a new one, send it, decline it, and "Bestill" (convert to an order)."""
from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from typing import Any, Callable

from flask import flash, g, redirect, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.security.decorators import permission_name
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload, selectinload
from wtforms import IntegerField, StringField
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)

from app.domain import labels, quotes
from app.domain.errors import DomainError, ValidationFailed
from app.domain.formatting import oslo_today
from app.domain.orders import LineInput, assign_number, configuration_errors
from app.domain.pricing import order_totals
from app.domain.quotes import CONVERTIBLE, effective_status
from app.domain.validation import validate_not_past
from app.extensions import db
from app.models import Company, DeliveryAddress, Product, Quote, QuoteLine, QuoteStatus
from app.views.base import (
    FormRefused,
    LookupField,
    PortalInterface,
    PortalModelView,
    code_select,
    company_scoped,
    domain_rule,
    fmt_date,
    fmt_datetime,
    fmt_nok,
    user_can,
)
from app.views.forms import current_actor, fail, form_id, parse_lines
from app.views.orders.overview import date_search_field, line_configuration
from app.views.orders.placing import product_json

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
    return labels.label(labels.QUOTE_STATUS, effective_status(quote))


class QuoteView(PortalModelView):
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
    base_permissions = ["can_list", "can_show", "can_add", "can_edit"]

    list_title = _l("Tilbud")
    show_title = _l("Tilbud")
    add_title = _l("Nytt tilbud")
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
        (_l("Tilbud"), {"fields": ["number", "status", "company", "end_customer_ref", "valid_until", "created_at",
                                   "created_by", "note", "order"]}),
    ]
    show_template = "portal/quote_show.html"

    # The company is typed as its customer number; the delivery address select offers only that
    # company's addresses: on edit the quote's company, on add the company the form was opened for
    # from the company's page (else none yet: pick it when editing the draft).
    add_columns = ["company", "end_customer_ref", "valid_until", "delivery_address", "note"]
    edit_columns = ["end_customer_ref", "valid_until", "delivery_address", "note"]
    add_form_extra_fields = {
        "company": LookupField(_l("Bedrift (kundenummer)"), model=Company, key="customer_number",
                               supplier_only=True, not_found=_l("Fant ingen bedrift med dette kundenummeret.")),
    }
    add_form_query_rel_fields = edit_form_query_rel_fields = {"delivery_address": company_scoped()}
    validators_columns = {
        "valid_until": [DataRequired(message=_l("Gyldig til må fylles ut.")), domain_rule(validate_not_past)],
        "end_customer_ref": [Optional(), Length(max=200)],
    }
    description_columns = {
        "delivery_address": _l("Leveringsadressene til tilbudets bedrift."),
        "end_customer_ref": _l("Forhandlerens kunde, f.eks. navn eller ordrenummer hos forhandleren."),
    }

    def before_save(self, item: Quote, is_new: bool) -> None:
        if not is_new:
            if item.status not in CONVERTIBLE:
                raise FormRefused(str(_l("Tilbudet er bestilt eller avslått og kan ikke endres.")))
            return
        if item.company is None and item.company_id is None and g.get("_tenant_company_id") is None:
            raise FormRefused(str(_l("Velg bedriften tilbudet gjelder (kundenummer).")))
        item.status = QuoteStatus.draft.value
        item.created_by_id = getattr(g.get("user"), "id", None)
        session = self.datamodel.session
        session.add(item)
        assign_number(item, session, prefix="T", base=300000)  # type: ignore[arg-type]

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
        return {"quote": item, "lines": lines, "totals": totals, "status_label": _quote_status(item),
                "editable": item.status in CONVERTIBLE, "actions": self._actions(item)}

    def _actions(self, quote: Quote) -> dict[str, str]:
        """Workflow buttons (views/quote_actions.py) this user may use on this quote now."""
        status = effective_status(quote)
        actions: dict[str, str] = {}
        if status == QuoteStatus.draft.value and user_can("can_send", "QuoteActionsView"):
            actions["send"] = url_for("QuoteActionsView.send", pk=quote.id)
        if status in CONVERTIBLE and user_can("can_convert", "QuoteActionsView"):
            actions["convert"] = url_for("QuoteActionsView.convert", pk=quote.id)
        if status in CONVERTIBLE and user_can("can_decline", "QuoteActionsView"):
            actions["decline"] = url_for("QuoteActionsView.decline", pk=quote.id)
        return actions


# --- lines -----------------------------------------------------------------------------------


def _configuration(form: Any, field: Any) -> None:
    """Dimensions and variants allowed for the chosen product (the domain rule), next to the field."""
    product = getattr(form.product, "object", None)
    if product is None:
        return
    line = SimpleNamespace(**{name: (getattr(form, name).data or None) for name in ("width", "depth", "fabric",
                                                                                  "colour")})
    message = configuration_errors(product, line).get(field.name)
    if message:
        raise ValidationError(message)


class BlankableIntegerField(IntegerField):
    """An integer input where blank means "none" (so a validator can still say a value is missing)."""

    def process_formdata(self, valuelist: list[str]) -> None:
        if valuelist and not (valuelist[0] or "").strip():
            self.data = None
            return
        super().process_formdata(valuelist)


def _configuration_fields() -> dict[str, Any]:
    # Not FAB's generated fields: those stop at Optional() on a blank value, and a configurable
    # product needs to say "Bredde må fylles ut".
    return {
        "width": BlankableIntegerField(_l("Bredde (cm)"), validators=[_configuration]),
        "depth": BlankableIntegerField(_l("Dybde (cm)"), validators=[_configuration]),
        "fabric": StringField(_l("Stoff"), validators=[Length(max=100), _configuration],
                              filters=[lambda v: (v or "").strip() or None]),
        "colour": StringField(_l("Farge"), validators=[Length(max=100), _configuration],
                              filters=[lambda v: (v or "").strip() or None]),
    }


class QuoteLineView(PortalModelView):
    """Quote lines: edited by sellers from the quote's page (no menu)."""

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
    show_columns = ["quote", "line_no", "product", "quantity", "configuration", "unit_price", "vat_rate",
                    "line_total"]
    # Opened from the quote's page the quote is given (`_flt_0_quote`) and hidden; typed otherwise.
    add_columns = ["quote", "product", "quantity", "width", "depth", "fabric", "colour", "unit_price"]
    edit_columns = ["product", "quantity", "width", "depth", "fabric", "colour", "unit_price"]
    supplier_only_columns = ()
    _product_field = LookupField(_l("Produkt (varenummer)"), model=Product, key="sku",
                                 not_found=_l("Fant ikke noe produkt med dette varenummeret."))
    add_form_extra_fields = {
        "quote": LookupField(_l("Tilbud (tilbudsnummer)"), model=Quote, key="number",
                             not_found=_l("Fant ikke tilbudet.")),
        "product": _product_field,
        **_configuration_fields(),
    }
    edit_form_extra_fields = {"product": _product_field, **_configuration_fields()}
    validators_columns = {
        "quantity": [InputRequired(message=_l("Antall må fylles ut.")),
                     NumberRange(min=1, message=_l("Antall må være minst 1."))],
        "unit_price": [Optional(), NumberRange(min=0, message=_l("Prisen kan ikke være negativ."))],
    }
    description_columns = {"unit_price": _l("Tomt: produktets listepris.")}

    def before_save(self, item: QuoteLine, is_new: bool) -> None:
        quote = item.quote
        if quote is None:
            raise FormRefused(str(_l("Fant ikke tilbudet.")))
        if quote.status not in CONVERTIBLE:
            raise FormRefused(str(_l("Tilbudet er bestilt eller avslått og kan ikke endres.")))
        item.company_id = quote.company_id
        item.fabric = item.fabric or None
        item.colour = item.colour or None
        if item.product is not None:
            item.vat_rate = item.product.vat_rate
            if item.unit_price is None:
                item.unit_price = item.product.unit_price
        if is_new:
            session = self.datamodel.session
            last = session.scalar(select(func.max(QuoteLine.line_no)).where(QuoteLine.quote_id == quote.id))
            item.line_no = (last or 0) + 1

    def pre_delete(self, item: QuoteLine) -> None:
        if item.quote is not None and item.quote.status not in CONVERTIBLE:
            raise FormRefused(str(_l("Tilbudet er bestilt eller avslått og kan ikke endres.")))


class QuoteActionsView(BaseView):
    route_base = "/tilbud"
    default_view = "new"
    base_permissions = ["can_new", "can_convert", "can_send", "can_decline"]

    @expose("/ny", methods=["GET", "POST"])
    @has_access
    @permission_name("new")
    def new(self):  # type: ignore[no-untyped-def]
        actor = current_actor()
        errors: dict[str, str] = {}
        lines: list[LineInput] = []
        company = None
        customer_number = (request.values.get("customer_number") or "").strip()
        if actor.is_customer:
            company = db.session.get(Company, actor.company_id)
        elif customer_number:
            # A seller names the dealer by customer number (no <select> of every company).
            company = db.session.scalar(select(Company).where(Company.customer_number == customer_number[:20]))
            if company is None:
                errors["customer_number"] = _("Fant ingen kunde med kundenummer %(number)s.", number=customer_number)
        if request.method == "POST" and company is not None:
            # Special prices per line only from a seller (the domain ignores them from dealers too).
            lines, errors = parse_lines(request.form, prices=not actor.is_customer)
            valid_until = None
            try:
                valid_until = dt.date.fromisoformat((request.form.get("valid_until") or "").strip())
            except ValueError:
                errors["valid_until"] = _("Skriv en gyldig dato.")
            if not errors:
                try:
                    quote = quotes.create_quote(
                        db.session, actor=actor, company_id=company.id, valid_until=valid_until,
                        lines=lines, end_customer_ref=(request.form.get("end_customer_ref") or "").strip()[:200],
                        delivery_address_id=form_id(request.form, "delivery_address_id"),
                        note=(request.form.get("note") or "").strip())
                    db.session.commit()
                except ValidationFailed as exc:
                    db.session.rollback()
                    errors = exc.errors
                except DomainError as exc:
                    fail(exc)
                else:
                    flash(_("Tilbud %(number)s er lagret som utkast.", number=quote.number), "success")
                    return redirect(url_for("QuoteView.show", pk=quote.id))
            flash(_("Tilbudet er ikke lagret. Rett feltene som er merket."), "danger")
        addresses = []
        if company is not None:
            addresses = db.session.scalars(select(DeliveryAddress).where(
                DeliveryAddress.company_id == company.id, DeliveryAddress.active.is_(True))
                .order_by(DeliveryAddress.recipient_name)).all()
        products = {p.id: p for p in db.session.scalars(
            select(Product).where(Product.id.in_({ln.product_id for ln in lines if ln.product_id})))}
        return self.render_template(
            "workflow/new_quote.html", company=company, addresses=addresses, lines=lines, errors=errors,
            products=products, product_json=product_json, form=request.form, is_customer=actor.is_customer,
            customer_number=customer_number, default_valid=(oslo_today() + dt.timedelta(days=30)).isoformat())

    def _act(self, pk: int, action: Callable[..., Any], done: str):  # type: ignore[no-untyped-def]
        try:
            action(db.session, pk, current_actor())
            db.session.commit()
            flash(done, "success")
        except DomainError as exc:
            fail(exc)
        return redirect(url_for("QuoteView.show", pk=pk))

    @expose("/<int:pk>/send", methods=["POST"])
    @has_access
    @permission_name("send")
    def send(self, pk: int):  # type: ignore[no-untyped-def]
        return self._act(pk, quotes.send_quote, _("Tilbudet er sendt."))

    @expose("/<int:pk>/avslaa", methods=["POST"])
    @has_access
    @permission_name("decline")
    def decline(self, pk: int):  # type: ignore[no-untyped-def]
        return self._act(pk, quotes.decline_quote, _("Tilbudet er avslått."))

    @expose("/<int:pk>/bestill", methods=["POST"])
    @has_access
    @permission_name("convert")
    def convert(self, pk: int):  # type: ignore[no-untyped-def]
        try:
            order = quotes.convert_quote(db.session, pk, current_actor(),
                                         delivery_address_id=form_id(request.form, "delivery_address_id"))
            db.session.commit()
        except DomainError as exc:
            fail(exc)
            return redirect(url_for("QuoteView.show", pk=pk))
        flash(_("Tilbudet er bestilt som ordre %(number)s.", number=order.number), "success")
        return redirect(url_for("OrderView.show", pk=order.id))
