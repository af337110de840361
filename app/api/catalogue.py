"""The product catalogue (read-only for everybody through the API)."""

from __future__ import annotations

from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_babel import lazy_gettext as _
from marshmallow import fields

from app.api.base import PortalModelRestApi
from app.api.fields import computed
from app.models import Product


class ProductApi(PortalModelRestApi):
    """/api/v1/product/ — `unit_price` (NOK ex. VAT) and `vat_rate` (%) are 2-decimal strings.

    `variants` lists the allowed options per kind, e.g. {"fabric": ["Ull grå"], "colour": ["Eik"]};
    width/depth ranges are in cm (null: not configurable in that dimension).
    """

    resource_name = "product"
    list_title = _("Produkter")
    show_title = _("Produkt")
    datamodel = SQLAInterface(Product)
    tenant_owned = False
    virtual_fields = {"is_configurable": computed(lambda p: p.is_configurable, fields.Boolean)}
    list_columns = [
        "id",
        "sku",
        "name",
        "unit_price",
        "vat_rate",
        "is_configurable",
        "min_width",
        "max_width",
        "min_depth",
        "max_depth",
        "variants",
        "active",
    ]
    show_columns = [*list_columns[:3], "description", *list_columns[3:]]
    search_columns = ["sku", "name", "description", "active", "unit_price"]
    base_order = ("name", "asc")
