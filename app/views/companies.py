"""Bedrifter and Min side > Bedriftsinformasjon (CompanyView, MyCompanyView) and the delivery addresses of a company (DeliveryAddressView). Rules: app/domain/companies.py."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, url_for
from flask.typing import ResponseReturnValue
from flask_appbuilder.baseviews import expose
from flask_appbuilder.fieldwidgets import BS3TextFieldWidget
from flask_appbuilder.security.decorators import has_access, permission_name
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import joinedload, selectinload
from wtforms import BooleanField, StringField
from wtforms.validators import DataRequired, Length, Optional

from app.domain import companies, labels
from app.domain.validation import (
    validate_email,
    validate_org_number,
    validate_phone,
    validate_postal_code,
)
from app.extensions import db
from app.models import Company, DeliveryAddress
from app.tenancy import current_tenant
from app.views.base import (
    PortalInterface,
    PortalModelView,
    code_select,
    company_lookup_field,
    domain_rule,
    fmt_code,
    fmt_datetime,
    fmt_nok,
    fmt_yes_no,
    is_customer,
    user_can,
)
from app.views.forms import DomainFormMixin, MoneyField, ReadOnlyField, current_actor, form_values

LABELS = companies.FIELD_LABELS

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


class CustomerNumberField(StringField):
    """The customer number of a new company, marked required. Its format is checked with the
    other fields; whether it is taken, by `companies.create_company` (its message next to it)."""

    def __init__(self, label: Any = None, **kwargs: Any) -> None:
        kwargs.setdefault("widget", BS3TextFieldWidget())
        kwargs.setdefault("validators", [domain_rule(companies.clean_customer_number)])
        super().__init__(label, **kwargs)
        self.flags.required = True


def _history(company: Company) -> list[companies.HistoryRow]:
    return companies.history_rows(companies.company_history(db.session, company.id))


class CompanyView(DomainFormMixin, PortalModelView):
    """All customer companies (supplier staff). Customer service edits them."""

    datamodel = PortalInterface(Company)
    base_permissions = ["can_list", "can_show", "can_add", "can_edit"]

    list_title = _l("Bedrifter")
    show_title = _l("Bedrift")
    add_title = _l("Ny bedrift")
    edit_title = _l("Endre bedrift")

    label_columns = dict(LABELS)  # FAB adds the labels of the other columns to this dict
    formatters_columns = COMPANY_FORMATTERS
    list_columns = [
        "customer_number",
        "name",
        "org_number",
        "kind",
        "payment_terms",
        "credit_limit",
        "requires_approval",
        "active",
    ]
    order_columns = ["customer_number", "name", "org_number", "credit_limit"]
    base_order = ("name", "asc")
    search_columns = ["customer_number", "name", "org_number", "kind", "payment_terms", "requires_approval", "active"]
    search_form_extra_fields = {
        "kind": code_select(LABELS["kind"], labels.COMPANY_KIND, search=True),
        "payment_terms": code_select(LABELS["payment_terms"], labels.PAYMENT_TERMS, search=True),
    }
    show_fieldsets = COMPANY_FIELDSETS
    show_template = "portal/company_show.html"
    # The customer number is the company's key in other systems: set once, never edited.
    add_columns = list(companies.CREATE_FIELDS)
    edit_columns = list(companies.SUPPLIER_FIELDS)
    edit_form_extra_fields = {
        "kind": code_select(LABELS["kind"], labels.COMPANY_KIND),
        "payment_terms": code_select(LABELS["payment_terms"], labels.PAYMENT_TERMS),
        # FAB marks a NOT NULL boolean as required, and an unticked box then never validates.
        "requires_approval": BooleanField(
            LABELS["requires_approval"],
            description=_l("Ordre fra bedriften må godkjennes av en selger før de behandles."),
        ),
        "active": BooleanField(LABELS["active"], default=True),
        # "75 000,00" as people type it, shown so again (FAB's DecimalField refuses it, shows "0.00").
        "credit_limit": MoneyField(
            LABELS["credit_limit"], description=_l("I kroner. Brukes i kredittsjekken når selger godkjenner ordre.")
        ),
    }
    # Not FAB's own field: that would check uniqueness itself, with its own message.
    add_form_extra_fields = {
        **edit_form_extra_fields,
        "customer_number": CustomerNumberField(LABELS["customer_number"]),
    }
    # The rules are app/domain's (create_company and update_company check them again): here every
    # field's message shows at once, and FAB's length checks see the normalised value ("923 609 016").
    validators_columns = {
        "name": [DataRequired(), Length(max=200)],
        "org_number": [DataRequired(), domain_rule(validate_org_number)],
        "postal_code": [Optional(), domain_rule(validate_postal_code)],
        "email": [Optional(), domain_rule(validate_email)],
        "phone": [Optional(), domain_rule(validate_phone)],
    }
    description_columns = {
        "credit_limit": _l("I kroner. Brukes i kredittsjekken når selger godkjenner ordre."),
        "requires_approval": _l("Ordre fra bedriften må godkjennes av en selger før de behandles."),
    }

    def __init__(self, **kwargs: Any) -> None:
        from app.views.companies import DeliveryAddressView
        from app.views.orders import OrderView
        from app.views.quotes import QuoteView

        # On a company's page: its delivery addresses, orders and quotes ("+" opens the add
        # form for this company, FAB passes it as `_flt_0_company`).
        self.related_views = [DeliveryAddressView, OrderView, QuoteView]
        super().__init__(**kwargs)

    def show_context(self, item: Company) -> dict[str, Any]:
        return {"history": _history(item), "can_edit": user_can("can_edit", "CompanyView")}

    def domain_add(self, form: Any) -> Company:
        return companies.create_company(
            self.datamodel.session, current_actor(), form_values(form, companies.CREATE_FIELDS)
        )

    def domain_edit(self, item: Company, form: Any) -> Company:
        companies.update_company(
            self.datamodel.session, item.id, current_actor(), form_values(form, companies.SUPPLIER_FIELDS)
        )
        return item


def _read_only(label: Any, formatter: Any = None) -> ReadOnlyField:
    return ReadOnlyField(label, formatter=formatter, description=companies.SUPPLIER_ONLY_NOTE)


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
    label_columns = dict(LABELS)  # FAB adds the labels of the other columns to this dict
    formatters_columns = COMPANY_FORMATTERS
    list_columns = ["customer_number", "name", "org_number", "postal_city"]
    order_columns = ["name"]
    search_columns = ["name"]
    show_fieldsets = COMPANY_FIELDSETS
    show_template = "portal/my_company_show.html"
    edit_columns = [
        "customer_number",
        "name",
        "org_number",
        "kind",
        "payment_terms",
        "credit_limit",
        "requires_approval",
        "email",
        "phone",
        "postal_street",
        "postal_code",
        "postal_city",
    ]
    edit_form_extra_fields = {
        field: _read_only(LABELS[field], COMPANY_FORMATTERS.get(field))
        for field in (
            "customer_number",
            "name",
            "org_number",
            "kind",
            "payment_terms",
            "credit_limit",
            "requires_approval",
            "email",
            "phone",
        )
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
        companies.update_company(
            self.datamodel.session, item.id, current_actor(), form_values(form, companies.POSTAL_FIELDS)
        )
        return item

    @expose("/mine/")
    @has_access
    @permission_name("show")
    def mine(self) -> ResponseReturnValue:
        tenant = current_tenant()
        if tenant is None:  # supplier staff have no company of their own
            return redirect(url_for(f"{self.endpoint}.list"))
        return redirect(url_for(f"{self.endpoint}.show", pk=tenant))


class DeliveryAddressView(DomainFormMixin, PortalModelView):
    """Customers see their own addresses (customer admins edit them); supplier staff see all."""

    datamodel = PortalInterface(DeliveryAddress, list_options=[joinedload(DeliveryAddress.company)])
    base_permissions = ["can_list", "can_show", "can_add", "can_edit"]

    list_title = _l("Leveringsadresser")
    show_title = _l("Leveringsadresse")
    add_title = _l("Ny leveringsadresse")
    edit_title = _l("Endre leveringsadresse")

    label_columns = {
        "recipient_name": _l("Varemottaker"),
        "street": _l("Gateadresse"),
        "postal_code": _l("Postnummer"),
        "city": _l("Poststed"),
        "company": _l("Bedrift"),
        "active": _l("Aktiv"),
    }
    formatters_columns = {"active": fmt_yes_no}
    list_columns = ["recipient_name", "street", "postal_code", "city", "company", "active"]
    list_columns_customer = ["recipient_name", "street", "postal_code", "city", "active"]
    order_columns = ["recipient_name", "street", "postal_code", "city", "active"]
    base_order = ("recipient_name", "asc")
    search_columns = ["recipient_name", "street", "postal_code", "city", "active"]
    show_columns = ["recipient_name", "street", "postal_code", "city", "company", "active"]
    add_columns = ["company", "recipient_name", "street", "postal_code", "city", "active"]
    # An address never moves to another company.
    edit_columns = ["recipient_name", "street", "postal_code", "city", "active"]
    add_form_extra_fields = {"company": company_lookup_field()}
    validators_columns = {
        "recipient_name": [DataRequired(message=_l("Feltet må fylles ut.")), Length(max=200)],
        "street": [DataRequired(message=_l("Feltet må fylles ut.")), Length(max=200)],
        "postal_code": [DataRequired(message=_l("Feltet må fylles ut.")), domain_rule(validate_postal_code)],
        "city": [DataRequired(message=_l("Feltet må fylles ut.")), Length(max=100)],
    }
    description_columns = {
        "active": _l(
            "Bare aktive adresser kan velges i nye ordre. Adresser slettes aldri, så gamle ordre beholder sin."
        ),
    }
    domain_field_names = {"company_id": "company"}

    def domain_add(self, form: Any) -> DeliveryAddress:
        company = None if is_customer() else getattr(form.company, "object", None)
        return companies.create_address(
            self.datamodel.session,
            current_actor(),
            form_values(form, companies.ADDRESS_FIELDS),
            company_id=company.id if company is not None else None,
        )

    def domain_edit(self, item: DeliveryAddress, form: Any) -> DeliveryAddress:
        old_id = item.id
        saved = companies.update_address(
            self.datamodel.session, item.id, current_actor(), form_values(form, companies.ADDRESS_FIELDS)
        )
        if saved.id != old_id:
            flash(
                str(
                    _l(
                        "Adressen er brukt på ordre eller tilbud. Der er den gamle adressen beholdt (deaktivert), "
                        "og endringen er lagret som en ny adresse."
                    )
                ),
                "info",
            )
        return saved
