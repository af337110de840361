"""Tilbud: quotes and their lines. Sellers create and edit them; customers read their company's quotes."""
from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from flask import g, url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload, selectinload
from wtforms import IntegerField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, ValidationError

from ..domain import labels
from ..domain.orders import assign_number, configuration_errors
from ..domain.pricing import order_totals
from ..domain.quotes import CONVERTIBLE, effective_status
from ..domain.validation import validate_not_past
from ..models import Company, Product, Quote, QuoteLine, QuoteStatus
from .base import (
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
from .orders import date_search_field, line_configuration

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

