"""Companies (Bedriftsinformasjon) and their delivery addresses (Leveringsadresse).

A customer reads only its own company (the guard scopes `Company.id`) and, as CustomerAdmin,
changes its postal address and keeps its delivery addresses; customer service edits every
company and address. Changes go through app/domain/companies.py.
"""

from __future__ import annotations

from typing import Any

from flask import Response
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_babel import lazy_gettext as _
from marshmallow import fields

from app.api.base import (
    PortalModelRestApi,
    _int_or_none,
    current_actor,
    is_customer_request,
    safe,
)
from app.api.fields import MSG_NOT_FOUND, OutputSchema, computed
from app.domain import companies, labels
from app.domain.errors import NotFound
from app.extensions import db
from app.models import Company, CompanyChange, DeliveryAddress
from app.tenancy import current_tenant


class CompanyChangeOut(OutputSchema):
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

    POST creates a company (customer service): `customer_number` (digits, not in use), `name`
    and `org_number` are required; the other fields get their defaults when left out. A refusal
    is 400 naming the field, with the same messages as the page.
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
        "id",
        "customer_number",
        "name",
        "org_number",
        "kind",
        "kind_label",
        "payment_terms",
        "payment_terms_label",
        "credit_limit",
        "requires_approval",
        "postal_street",
        "postal_code",
        "postal_city",
        "email",
        "phone",
        "active",
        "created_at",
    ]
    show_columns = [*list_columns, "changes"]
    virtual_fields = {"changes": computed(_changes, fields.Nested, CompanyChangeOut, many=True)}
    add_columns = list(companies.CREATE_FIELDS)
    # The customer number is the company's key in other systems: fixed once created.
    edit_columns = list(companies.SUPPLIER_FIELDS)
    search_columns = [
        "customer_number",
        "name",
        "org_number",
        "kind",
        "payment_terms",
        "requires_approval",
        "active",
        "postal_city",
        "created_at",
    ]
    base_order = ("name", "asc")

    @safe
    def post_headless(self) -> Response:
        body = self.json_body()
        company = self.commit(lambda: companies.create_company(db.session, current_actor(), body))
        return self.response(201, id=company.id, result=self._show(company))

    @safe
    def put_headless(self, pk: Any) -> Response:
        company = _visible(self, pk)
        body = self.json_body()
        self.commit(lambda: companies.update_company(db.session, company.id, current_actor(), body))
        return self.response(200, id=company.id, result=self._show(company))


def _visible(api: PortalModelRestApi, pk: Any) -> Any:
    """The row `pk` names if this user can see it (tenant-scoped session), else NotFound (404)."""
    item_id = _int_or_none(pk)
    item = api.datamodel.get(item_id, api._base_filters) if item_id is not None else None
    if item is None:
        raise NotFound(str(MSG_NOT_FOUND))
    return item


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
        "id",
        "company_id",
        "company.name",
        "company.customer_number",
        "recipient_name",
        "street",
        "postal_code",
        "city",
        "active",
    ]
    show_columns = list_columns
    add_columns = ["company_id", "recipient_name", "street", "postal_code", "city", "active"]
    edit_columns = ["recipient_name", "street", "postal_code", "city", "active"]
    search_columns = ["company_id", "recipient_name", "street", "postal_code", "city", "active"]
    base_order = ("recipient_name", "asc")

    @safe
    def post_headless(self) -> Response:
        body = self.json_body()
        if is_customer_request():
            self._drop_company(body, current_tenant())  # a customer's addresses are its own company's
        company_id = body.pop("company_id", None)
        address = self.commit(
            lambda: companies.create_address(db.session, current_actor(), body, company_id=company_id)
        )
        return self.response(201, id=address.id, result=self._show(address))

    @safe
    def put_headless(self, pk: Any) -> Response:
        address = _visible(self, pk)
        address_id = address.id
        body = self.json_body()
        self._drop_company(body, address.company_id)
        saved = self.commit(lambda: companies.update_address(db.session, address_id, current_actor(), body))
        extra = {"replaced_id": address_id} if saved.id != address_id else {}
        return self.response(200, id=saved.id, result=self._show(saved), **extra)
