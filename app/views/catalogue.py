"""Katalog: products and the supplier's stores (read-only for everyone but Admin)."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l

from app.models import Product, Store
from app.views.base import PortalInterface, PortalModelView, fmt_nok, fmt_yes_no

VARIANT_LABELS = {"fabric": _l("Stoff"), "colour": _l("Farge")}


def _range(low: Any, high: Any) -> str:
    if low is None and high is None:
        return ""
    return f"{low if low is not None else ''}–{high if high is not None else ''} cm"


def _variants(product: Product) -> str:
    parts = []
    for key, values in (product.variants or {}).items():
        name = str(VARIANT_LABELS.get(key, key))
        parts.append(f"{name}: {', '.join(str(v) for v in values or [])}")
    return "\n".join(parts)


class ProductView(PortalModelView):
    datamodel = PortalInterface(Product)
    base_permissions = ["can_list", "can_show"]

    list_title = _l("Produkter")
    show_title = _l("Produkt")
    label_columns = {
        "sku": _l("Varenummer"),
        "name": _l("Navn"),
        "description": _l("Beskrivelse"),
        "unit_price": _l("Pris eks. mva."),
        "vat_rate": _l("Mva-sats (%)"),
        "is_configurable": _l("Konfigurerbar"),
        "width_range": _l("Bredde"),
        "depth_range": _l("Dybde"),
        "variant_text": _l("Varianter"),
        "active": _l("Aktiv"),
    }
    formatters_columns = {"unit_price": fmt_nok, "is_configurable": fmt_yes_no, "active": fmt_yes_no}
    computed_columns = {
        "width_range": lambda p: _range(p.min_width, p.max_width),
        "depth_range": lambda p: _range(p.min_depth, p.max_depth),
        "variant_text": _variants,
    }
    list_columns = ["sku", "name", "unit_price", "vat_rate", "is_configurable", "active"]
    order_columns = ["sku", "name", "unit_price"]
    base_order = ("name", "asc")
    search_columns = ["sku", "name", "description", "active"]
    show_fieldsets = [
        (_l("Produkt"), {"fields": ["sku", "name", "description", "unit_price", "vat_rate", "active"]}),
        (_l("Konfigurasjon"), {"fields": ["is_configurable", "width_range", "depth_range", "variant_text"]}),
    ]


class StoreView(PortalModelView):
    datamodel = PortalInterface(Store)
    base_permissions = ["can_list", "can_show"]

    list_title = _l("Butikker")
    show_title = _l("Butikk")
    label_columns = {
        "name": _l("Navn"),
        "street": _l("Gateadresse"),
        "postal_code": _l("Postnummer"),
        "city": _l("Poststed"),
        "opening_hours": _l("Åpningstider"),
    }
    list_columns = ["name", "street", "postal_code", "city", "opening_hours"]
    order_columns = ["name", "city"]
    base_order = ("name", "asc")
    search_columns = ["name", "city", "postal_code"]
    show_columns = ["name", "street", "postal_code", "city", "opening_hours"]
