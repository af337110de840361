"""Leveringsadresser: a company's delivery addresses / goods recipients."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import joinedload
from wtforms.validators import DataRequired, Length

from ..domain.validation import validate_postal_code
from ..models import Company, DeliveryAddress
from .base import LookupField, PortalInterface, PortalModelView, domain_rule, fmt_yes_no

COMPANY_BY_NUMBER = LookupField(
    _l("Bedrift (kundenummer)"), model=Company, key="customer_number", supplier_only=True,
    not_found=_l("Fant ingen bedrift med dette kundenummeret."),
)


class DeliveryAddressView(PortalModelView):
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
    order_columns = ["recipient_name", "street", "postal_code", "city"]
    base_order = ("recipient_name", "asc")
    search_columns = ["recipient_name", "street", "postal_code", "city", "active"]
    show_columns = ["recipient_name", "street", "postal_code", "city", "company", "active"]
    add_columns = edit_columns = ["company", "recipient_name", "street", "postal_code", "city", "active"]
    add_form_extra_fields = edit_form_extra_fields = {"company": COMPANY_BY_NUMBER}
    validators_columns = {
        "recipient_name": [DataRequired(), Length(max=200)],
        "street": [DataRequired(), Length(max=200)],
        "postal_code": [DataRequired(), domain_rule(validate_postal_code)],
        "city": [DataRequired(), Length(max=100)],
    }
