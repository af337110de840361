"""Companies (Bedriftsinformasjon) and their delivery addresses (Leveringsadresse).

A customer reads only its own company (the guard scopes `Company.id`) and, as CustomerAdmin,
changes its postal address and keeps its delivery addresses; customer service edits every
company and address. Changes go through app/domain/companies.py and app/domain/companies.py.
"""
from __future__ import annotations

from typing import Any

from flask import Response
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_babel import lazy_gettext as _
from marshmallow import Schema, fields

from app.api.base import (
    FieldError,
    PortalModelRestApi,
    _int_or_none,
    current_actor,
    is_customer_request,
)
from app.api.fields import computed, domain_validator, one_of
from app.domain import companies, labels
from app.domain.validation import (
    validate_amount,
    validate_org_number,
    validate_postal_code,
)
from app.extensions import db
from app.models import (
    Company,
    CompanyChange,
    CompanyKind,
    DeliveryAddress,
    PaymentTerms,
)
from app.tenancy import current_tenant

_COMPANY_FIELDS = [
    "name", "org_number", "postal_street", "postal_code", "postal_city", "kind", "payment_terms",
    "credit_limit", "requires_approval", "email", "phone", "active",
]


class CompanyChangeOut(Schema):
    at = fields.DateTime()
    actor_name = fields.String()
    field = fields.String()
    old_value = fields.String()
    new_value = fields.String()


def _changes(company: Company) -> list[CompanyChange]:
    return list(companies.company_history(db.session, company.id))


class CompanyApi(PortalModelRestApi):
    """/api/v1/company/ — money (`credit_limit`) is a string with two decimals.

    The item (`GET /company/<id>`) adds `changes`: the latest changes, newest first (who, when,
    field, old and new value as stored: codes, "true"/"false", amounts "1250.00").

    PUT sends only the fields to change (a field sent with its current value is no change).
    Customer service may change every field but `customer_number`. A customer admin may change
    the postal address only (`postal_street`, `postal_code`, `postal_city`, all three or none):
    any other changed field is refused with **400** naming the field ("Endres av oss — kontakt
    kundeservice"), like any other field the client can correct, and nothing is saved. Another
    company's id is 404; roles without PUT get 403.
    """

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
    show_columns = [*list_columns, "changes"]
    virtual_fields = {"changes": computed(_changes, fields.Nested, CompanyChangeOut, many=True)}
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

    def put_headless(self, pk: Any) -> Response:
        company_id = _int_or_none(pk)
        item = self.datamodel.get(company_id, self._base_filters) if company_id is not None else None
        if item is None:
            return self.response_404()
        body, error = self._json_body()
        if error is not None:
            return error
        _logged, error = self.run_domain(
            lambda: companies.update_company(db.session, company_id, current_actor(), body))
        if error is not None:
            return error
        return self.response(200, id=company_id, result=self._show(self.datamodel.get(company_id)))


class DeliveryAddressApi(PortalModelRestApi):
    """/api/v1/delivery_address/ — CustomerAdmin: own company (no company_id in the body);
    CustomerService: any company, `company_id` required when creating.

    Nothing is deleted (there is no DELETE): PUT {"active": false} deactivates an address. An
    address already used by an order or a quote keeps what those documents say: a PUT that
    changes its recipient, street, postal code or city saves a NEW address
    (answer: its `id`, with `replaced_id` the old one, now inactive); standing orders move to
    the new one. An address an active standing order uses cannot be deactivated (400 `active`).
    """

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

    def post_headless(self) -> Response:
        body, error = self._json_body()
        if error is not None:
            return error
        company_id = body.pop("company_id", None)
        if is_customer_request():
            if company_id is not None and company_id != current_tenant():
                error = self._strip_company({"company_id": company_id}, current_tenant())
                if error is not None:
                    return error
            company_id = None
        elif company_id is not None and (not isinstance(company_id, int) or isinstance(company_id, bool)
                                         or _int_or_none(company_id) is None):
            return self.response_400_fields({"company_id": [str(_("Velg bedriften adressen hører til."))]})
        address, error = self.run_domain(
            lambda: companies.create_address(db.session, current_actor(), body, company_id=company_id))
        if error is not None:
            return error
        return self.response(201, id=address.id, result=self._show(address))

    def put_headless(self, pk: Any) -> Response:
        address_id = _int_or_none(pk)
        item = self.datamodel.get(address_id, self._base_filters) if address_id is not None else None
        if item is None:
            return self.response_404()
        body, error = self._json_body()
        if error is not None:
            return error
        error = self._strip_company(body, item.company_id)
        if error is not None:
            return error
        saved, error = self.run_domain(
            lambda: companies.update_address(db.session, address_id, current_actor(), body))
        if error is not None:
            return error
        extra = {"replaced_id": address_id} if saved.id != address_id else {}
        return self.response(200, id=saved.id, result=self._show(saved), **extra)
