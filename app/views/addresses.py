"""Leveringsadresser: a company's delivery addresses / goods recipients.

Adding and changing go through app/domain/addresses.py (nothing is deleted: an address is
deactivated; a change to an address already used by documents is saved as a new address).
"""
from __future__ import annotations

from typing import Any

from flask import flash, g
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import joinedload
from wtforms.validators import DataRequired, Length

from ..domain import addresses
from ..domain.actors import Actor
from ..domain.validation import validate_postal_code
from ..models import Company, DeliveryAddress
from .base import LookupField, PortalInterface, PortalModelView, domain_rule, fmt_yes_no, is_customer
from .domain_forms import DomainFormMixin, form_values

COMPANY_BY_NUMBER = LookupField(
    _l("Bedrift (kundenummer)"), model=Company, key="customer_number", supplier_only=True,
    not_found=_l("Fant ingen bedrift med dette kundenummeret."),
)


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
    add_form_extra_fields = {"company": COMPANY_BY_NUMBER}
    validators_columns = {
        "recipient_name": [DataRequired(message=_l("Feltet må fylles ut.")), Length(max=200)],
        "street": [DataRequired(message=_l("Feltet må fylles ut.")), Length(max=200)],
        "postal_code": [DataRequired(message=_l("Feltet må fylles ut.")), domain_rule(validate_postal_code)],
        "city": [DataRequired(message=_l("Feltet må fylles ut.")), Length(max=100)],
    }
    description_columns = {
        "active": _l("Bare aktive adresser kan velges i nye ordre. Adresser slettes aldri, så gamle ordre "
                     "beholder sin."),
    }
    domain_field_names = {"company_id": "company"}

    def domain_add(self, form: Any) -> DeliveryAddress:
        company = None if is_customer() else getattr(form.company, "object", None)
        return addresses.create_address(self.datamodel.session, Actor.from_user(g.user),
                                        form_values(form, addresses.FIELDS),
                                        company_id=company.id if company is not None else None)

    def domain_edit(self, item: DeliveryAddress, form: Any) -> DeliveryAddress:
        old_id = item.id
        saved = addresses.update_address(self.datamodel.session, item.id, Actor.from_user(g.user),
                                         form_values(form, addresses.FIELDS))
        if saved.id != old_id:
            flash(str(_l("Adressen er brukt på ordre eller tilbud. Der er den gamle adressen beholdt (deaktivert), "
                         "og endringen er lagret som en ny adresse.")), "info")
        return saved
