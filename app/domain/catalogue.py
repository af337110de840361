"""Catalogue: what can be ordered, and the one check of an order, quote or standing-order line."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Optional

from app.models import (
    OrderLine,
    Product,
)


@dataclass(frozen=True)
class LineInput:
    product_id: Optional[int]
    quantity: Optional[int]
    width: Optional[int] = None
    depth: Optional[int] = None
    fabric: Optional[str] = None
    colour: Optional[str] = None
    unit_price: Optional[Decimal] = None  # only for frozen quote prices; never from a customer


# --- configuration (producibility) ----------------------------------------------------------


def configuration_errors(product: Product, line: LineInput | OrderLine) -> dict[str, str]:
    """Field → Norwegian message for every way this line breaks the product's configuration."""
    errors: dict[str, str] = {}
    for field, low, high, label in (
        ("width", product.min_width, product.max_width, "Bredde"),
        ("depth", product.min_depth, product.max_depth, "Dybde"),
    ):
        value = getattr(line, field)
        if low is None and high is None:
            if value is not None:
                errors[field] = f"{product.name} har ikke valgbar {label.lower()}."
            continue
        if value is None:
            errors[field] = f"{label} må fylles ut for {product.name}."
        elif (low is not None and value < low) or (high is not None and value > high):
            errors[field] = f"{label} må være mellom {low} og {high} cm"
    variants = product.variants or {}
    for field, label in (("fabric", "Stoff"), ("colour", "Farge")):
        value = getattr(line, field)
        allowed = variants.get(field) or []
        if not allowed:
            if value:
                errors[field] = f"{product.name} har ikke valg av {label.lower()}."
            continue
        if not value:
            errors[field] = f"Velg {label.lower()} for {product.name}."
        elif value not in allowed:
            errors[field] = f"{label} «{value}» finnes ikke for {product.name}. Velg en av: {', '.join(allowed)}"
    return errors


# --- numbers, events -----------------------------------------------------------------------


