"""Bedrifter: the supplier's company register (CompanyView) and a customer's own page (MyCompanyView).

Both edit forms save through app/domain/company_info.update_company (who may change which field,
the rules, the change log); the change log is shown on both pages.
"""
from __future__ import annotations

from typing import Any

from flask import g, redirect, url_for
from flask_appbuilder.baseviews import expose
from flask_appbuilder.security.decorators import has_access, permission_name
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import selectinload
from wtforms import BooleanField
from wtforms.validators import DataRequired, Email, Length, Optional, Regexp

from ..domain import company_info, labels
from ..domain.actors import Actor
from ..domain.validation import validate_org_number, validate_postal_code
from ..models import Company
from ..security import current_tenant
from .base import (
    PortalInterface,
    PortalModelView,
    code_select,
    domain_rule,
    fmt_code,
    fmt_datetime,
    fmt_nok,
    fmt_yes_no,
    user_can,
)
from .domain_forms import DomainFormMixin, ReadOnlyField, form_values

COMPANY_LABELS = {
    "customer_number": _l("Kundenummer"),
    "name": _l("Navn"),
    "org_number": _l("Organisasjonsnummer"),
    "postal_street": _l("Postadresse"),
    "postal_code": _l("Postnummer"),
    "postal_city": _l("Poststed"),
    "kind": _l("Kundetype"),
    "payment_terms": _l("Betalingsbetingelser"),
    "credit_limit": _l("Kredittgrense"),
    "requires_approval": _l("Krever godkjenning"),
    "email": _l("E-post"),
    "phone": _l("Telefon"),
    "active": _l("Aktiv"),
    "created_at": _l("Opprettet"),
    "delivery_addresses": _l("Leveringsadresser"),
}

COMPANY_FORMATTERS = {
    "kind": fmt_code(labels.COMPANY_KIND),
    "payment_terms": fmt_code(labels.PAYMENT_TERMS),
    "credit_limit": fmt_nok,
    "requires_approval": fmt_yes_no,
    "active": fmt_yes_no,
    "created_at": fmt_datetime,
}

COMPANY_FIELDSETS = [
    (_l("Bedrift"), {"fields": ["customer_number", "name", "org_number", "kind", "email", "phone", "active"]}),
    (_l("Postadresse"), {"fields": ["postal_street", "postal_code", "postal_city"]}),
    (_l("Betaling"), {"fields": ["payment_terms", "credit_limit", "requires_approval"]}),
]

def _actor() -> Actor:
    return Actor.from_user(g.user)


def _history(company: Company) -> list[company_info.HistoryRow]:
    from flask import current_app

    return company_info.history_rows(company_info.company_history(current_app.appbuilder.session, company.id))


class CompanyView(DomainFormMixin, PortalModelView):
    """All customer companies (supplier staff). Customer service edits them."""

    datamodel = PortalInterface(Company)
    base_permissions = ["can_list", "can_show", "can_add", "can_edit"]

    list_title = _l("Bedrifter")
    show_title = _l("Bedrift")
    add_title = _l("Ny bedrift")
    edit_title = _l("Endre bedrift")

    label_columns = COMPANY_LABELS
    formatters_columns = COMPANY_FORMATTERS
    list_columns = ["customer_number", "name", "org_number", "kind", "payment_terms", "credit_limit",
                    "requires_approval", "active"]
    order_columns = ["customer_number", "name", "org_number", "credit_limit"]
    base_order = ("name", "asc")
    search_columns = ["customer_number", "name", "org_number", "kind", "payment_terms", "requires_approval",
                      "active"]
    search_form_extra_fields = {
        "kind": code_select(_l("Kundetype"), labels.COMPANY_KIND, search=True),
        "payment_terms": code_select(_l("Betalingsbetingelser"), labels.PAYMENT_TERMS, search=True),
    }
    show_fieldsets = COMPANY_FIELDSETS
    show_template = "portal/company_show.html"
    # The customer number is the company's key in other systems: set once, never edited.
    add_columns = [
        "customer_number", "name", "org_number", "kind", "payment_terms", "credit_limit", "requires_approval",
        "postal_street", "postal_code", "postal_city", "email", "phone", "active",
    ]
    edit_columns = add_columns[1:]
    add_form_extra_fields = edit_form_extra_fields = {
        "kind": code_select(_l("Kundetype"), labels.COMPANY_KIND),
        "payment_terms": code_select(_l("Betalingsbetingelser"), labels.PAYMENT_TERMS),
        # FAB marks a NOT NULL boolean as required, and an unticked box then never validates.
        "requires_approval": BooleanField(
            _l("Krever godkjenning"),
            description=_l("Ordre fra bedriften må godkjennes av en selger før de behandles.")),
        "active": BooleanField(_l("Aktiv"), default=True),
    }
    validators_columns = {
        "customer_number": [DataRequired(), Regexp(r"^\d{1,20}$", message=_l("Kundenummeret består av siffer."))],
        "name": [DataRequired(), Length(max=200)],
        "org_number": [DataRequired(), domain_rule(validate_org_number)],
        "postal_code": [Optional(), domain_rule(validate_postal_code)],
        "email": [Optional(), Email(message=_l("Ugyldig e-postadresse."))],
    }
    description_columns = {
        "credit_limit": _l("I kroner. Brukes i kredittsjekken når selger godkjenner ordre."),
        "requires_approval": _l("Ordre fra bedriften må godkjennes av en selger før de behandles."),
    }

    def __init__(self, **kwargs: Any) -> None:
        from .addresses import DeliveryAddressView
        from .orders import OrderView
        from .quotes import QuoteView

        # On a company's page: its delivery addresses, orders and quotes ("+" opens the add
        # form for this company, FAB passes it as `_flt_0_company`).
        self.related_views = [DeliveryAddressView, OrderView, QuoteView]
        super().__init__(**kwargs)

    def show_context(self, item: Company) -> dict[str, Any]:
        return {"history": _history(item), "can_edit": user_can("can_edit", "CompanyView")}

    def domain_edit(self, item: Company, form: Any) -> Company:
        company_info.update_company(self.datamodel.session, item.id, _actor(),
                                    form_values(form, company_info.SUPPLIER_FIELDS))
        return item


def _read_only(label: Any, formatter: Any = None) -> ReadOnlyField:
    return ReadOnlyField(label, formatter=formatter, description=company_info.SUPPLIER_ONLY_NOTE)


class MyCompanyView(DomainFormMixin, PortalModelView):
    """Bedriftsinformasjon: a customer's own company (the guard shows them only their own).

    The customer admin sees every field and changes the postal address only: the other fields
    are in the form too, read-only, each with the note that the supplier changes it.
    """

    datamodel = PortalInterface(Company, item_options=[selectinload(Company.delivery_addresses)])
    base_permissions = ["can_list", "can_show", "can_edit"]
    default_view = "mine"

    list_title = _l("Bedriftsinformasjon")
    show_title = _l("Bedriftsinformasjon")
    edit_title = _l("Endre postadresse")
    label_columns = COMPANY_LABELS
    formatters_columns = COMPANY_FORMATTERS
    list_columns = ["customer_number", "name", "org_number", "postal_city"]
    order_columns = ["name"]
    search_columns = ["name"]
    show_fieldsets = COMPANY_FIELDSETS
    show_template = "portal/my_company_show.html"
    edit_columns = ["customer_number", "name", "org_number", "kind", "payment_terms", "credit_limit",
                    "requires_approval", "email", "phone", "postal_street", "postal_code", "postal_city"]
    edit_form_extra_fields = {
        "customer_number": _read_only(_l("Kundenummer")),
        "name": _read_only(_l("Navn")),
        "org_number": _read_only(_l("Organisasjonsnummer")),
        "kind": _read_only(_l("Kundetype"), fmt_code(labels.COMPANY_KIND)),
        "payment_terms": _read_only(_l("Betalingsbetingelser"), fmt_code(labels.PAYMENT_TERMS)),
        "credit_limit": _read_only(_l("Kredittgrense"), fmt_nok),
        "requires_approval": _read_only(_l("Krever godkjenning"), fmt_yes_no),
        "email": _read_only(_l("E-post")),
        "phone": _read_only(_l("Telefon")),
    }
    edit_fieldsets = [
        (_l("Postadresse"), {"fields": ["postal_street", "postal_code", "postal_city"]}),
        (_l("Bedrift"), {"fields": ["customer_number", "name", "org_number", "kind", "email", "phone"]}),
        (_l("Betaling"), {"fields": ["payment_terms", "credit_limit", "requires_approval"]}),
    ]
    validators_columns = {
        "postal_street": [Optional(), Length(max=200)],
        "postal_code": [Optional(), domain_rule(validate_postal_code)],
        "postal_city": [Optional(), Length(max=100)],
    }
    description_columns = {
        "postal_street": _l("Gateadresse eller postboks."),
    }

    def show_context(self, item: Company) -> dict[str, Any]:
        return {"history": _history(item), "can_edit": user_can("can_edit", "MyCompanyView")}

    def domain_edit(self, item: Company, form: Any) -> Company:
        company_info.update_company(self.datamodel.session, item.id, _actor(),
                                    form_values(form, company_info.POSTAL_FIELDS))
        return item

    @expose("/mine/")
    @has_access
    @permission_name("show")
    def mine(self):  # type: ignore[no-untyped-def]
        tenant = current_tenant()
        if tenant is None:  # supplier staff have no company of their own
            return redirect(url_for(f"{self.endpoint}.list"))
        return redirect(url_for(f"{self.endpoint}.show", pk=tenant))
