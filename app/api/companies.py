"""Companies (Bedriftsinformasjon) and their delivery addresses (Leveringsadresse).

A customer reads only its own company (the guard scopes `Company.id`) and, as CustomerAdmin,
keeps its own delivery addresses; customer service edits every company and address.
"""
from __future__ import annotations

from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_babel import lazy_gettext as _

from ..domain import labels
from ..domain.validation import validate_amount, validate_org_number, validate_postal_code
from ..models import Company, CompanyKind, DeliveryAddress, PaymentTerms
from .base import FieldError, PortalModelRestApi
from .fields import domain_validator, one_of

_COMPANY_FIELDS = [
    "name", "org_number", "postal_street", "postal_code", "postal_city", "kind", "payment_terms",
    "credit_limit", "requires_approval", "email", "phone", "active",
]


class CompanyApi(PortalModelRestApi):
    """/api/v1/company/ — money (`credit_limit`) is a string with two decimals."""

    resource_name = "company"
    list_title = _("Kundekontoer")
    show_title = _("Kundekonto")
    add_title = _("Ny kundekonto")
    edit_title = _("Endre kundekonto")
    datamodel = SQLAInterface(Company)
    tenant_owned = False
    label_fields = {"kind": labels.COMPANY_KIND, "payment_terms": labels.PAYMENT_TERMS}
    list_columns = [
        "id", "customer_number", "name", "org_number", "kind", "kind_label", "payment_terms",
        "payment_terms_label", "credit_limit", "requires_approval", "postal_street", "postal_code",
        "postal_city", "email", "phone", "active", "created_at",
    ]
    show_columns = list_columns
    add_columns = ["customer_number", *_COMPANY_FIELDS]
    # The customer number is the company's key in other systems: fixed once created.
    edit_columns = list(_COMPANY_FIELDS)
    search_columns = ["customer_number", "name", "org_number", "kind", "payment_terms", "requires_approval",
                      "active", "postal_city", "created_at"]
    base_order = ("name", "asc")
    validators_columns = {
        "org_number": domain_validator(validate_org_number),
        "postal_code": domain_validator(validate_postal_code),
        "credit_limit": domain_validator(validate_amount),
        "kind": one_of(CompanyKind),
        "payment_terms": one_of(PaymentTerms),
    }

    def pre_add(self, item: Company) -> None:
        super().pre_add(item)
        taken = self.datamodel.session.query(Company.id).filter(
            Company.customer_number == item.customer_number).first()
        if taken is not None:
            raise FieldError("customer_number", _("Kundenummeret er allerede i bruk."))


class DeliveryAddressApi(PortalModelRestApi):
    """/api/v1/delivery_address/ — CustomerAdmin: own company (no company_id in the body);
    CustomerService: any company, `company_id` required when creating."""

    resource_name = "delivery_address"
    list_title = _("Leveringsadresser")
    show_title = _("Leveringsadresse")
    add_title = _("Ny leveringsadresse")
    edit_title = _("Endre leveringsadresse")
    datamodel = SQLAInterface(DeliveryAddress)
    list_columns = [
        "id", "company_id", "company.name", "company.customer_number", "recipient_name", "street",
        "postal_code", "city", "active",
    ]
    show_columns = list_columns
    add_columns = ["company_id", "recipient_name", "street", "postal_code", "city", "active"]
    edit_columns = ["recipient_name", "street", "postal_code", "city", "active"]
    search_columns = ["company_id", "recipient_name", "street", "postal_code", "city", "active"]
    base_order = ("recipient_name", "asc")
    validators_columns = {"postal_code": domain_validator(validate_postal_code)}
