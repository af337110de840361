"""Bedrifter: the supplier's company register (CompanyView) and a customer's own page (MyCompanyView)."""
from __future__ import annotations

from typing import Any

from flask import redirect, url_for
from flask_appbuilder.baseviews import expose
from flask_appbuilder.security.decorators import has_access, permission_name
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import selectinload
from wtforms.validators import DataRequired, Email, Length, Optional, Regexp

from ..domain import labels
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
)

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

class CompanyView(PortalModelView):
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
    add_columns = edit_columns = [
        "customer_number", "name", "org_number", "kind", "payment_terms", "credit_limit", "requires_approval",
        "postal_street", "postal_code", "postal_city", "email", "phone", "active",
    ]
    add_form_extra_fields = edit_form_extra_fields = {
        "kind": code_select(_l("Kundetype"), labels.COMPANY_KIND),
        "payment_terms": code_select(_l("Betalingsbetingelser"), labels.PAYMENT_TERMS),
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


class MyCompanyView(PortalModelView):
    """Bedriftsinformasjon: a customer's own company (the guard shows them only their own)."""

    datamodel = PortalInterface(Company, item_options=[selectinload(Company.delivery_addresses)])
    base_permissions = ["can_list", "can_show"]
    default_view = "mine"

    list_title = _l("Bedriftsinformasjon")
    show_title = _l("Bedriftsinformasjon")
    label_columns = COMPANY_LABELS
    formatters_columns = COMPANY_FORMATTERS
    list_columns = ["customer_number", "name", "org_number", "postal_city"]
    order_columns = ["name"]
    search_columns = ["name"]
    show_fieldsets = COMPANY_FIELDSETS
    show_template = "portal/my_company_show.html"

    @expose("/mine/")
    @has_access
    @permission_name("show")
    def mine(self):  # type: ignore[no-untyped-def]
        tenant = current_tenant()
        if tenant is None:  # supplier staff have no company of their own
            return redirect(url_for(f"{self.endpoint}.list"))
        return redirect(url_for(f"{self.endpoint}.show", pk=tenant))
