"""Catalogue: what can be ordered, and the one check of an order, quote or standing-order line."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from app.domain.search import LIKE_ESCAPE, like_literal
from app.models import (
    OrderLine,
    Product,
)


@dataclass(frozen=True)
class LineInput:
    product_id: int | None
    quantity: int | None
    width: int | None = None
    depth: int | None = None
    fabric: str | None = None
    colour: str | None = None
    unit_price: Decimal | None = None  # only for frozen quote prices; never from a customer


MAX_QUANTITY = 99999  # beyond this a quantity is a typo; the API and the forms give the same bound
# A B2B order may be long (a quick order pasted from a spreadsheet); the forms and the API share the bound.
MAX_LINES = 500
PRODUCT_SEARCH_LIMIT = 20
SEARCH_TERM_LENGTH = 100


# --- finding products --------------------------------------------------------------------------


def search_products(session: Session, term: str, limit: int = PRODUCT_SEARCH_LIMIT) -> list[Product]:
    """Active products whose SKU starts with, or name contains, the term (at most `limit`, by name).

    The term is matched literally: "%" and "_" in it are not wildcards.
    """
    term = term.strip()[:SEARCH_TERM_LENGTH]
    query = select(Product).where(Product.active.is_(True))
    if term:
        escaped = like_literal(term)
        query = query.where(
            or_(
                Product.sku.ilike(f"{escaped}%", escape=LIKE_ESCAPE),
                Product.name.ilike(f"%{escaped}%", escape=LIKE_ESCAPE),
            )
        )
    return list(session.scalars(query.order_by(Product.name).limit(limit)))


def products_by_id(session: Session, ids: Iterable[int | None]) -> dict[int, Product]:
    """The products with these ids (active or not), by id; unknown ids and None are left out."""
    wanted = {i for i in ids if i}
    if not wanted:
        return {}
    return {p.id: p for p in session.scalars(select(Product).where(Product.id.in_(wanted)))}


# --- the line check: orders, quotes and standing orders ----------------------------------------


def configuration_errors(product: Product, line: LineInput | OrderLine) -> dict[str, str]:
    """Field → message for every way this line breaks the product's configuration."""
    errors: dict[str, str] = {}
    for field, low, high, label in (
        ("width", product.min_width, product.max_width, _l("Bredde")),
        ("depth", product.min_depth, product.max_depth, _l("Dybde")),
    ):
        value = getattr(line, field)
        if low is None and high is None:
            if value is not None:
                errors[field] = _(
                    "%(product)s har ikke valgbar %(what)s.", product=product.name, what=str(label).lower()
                )
            continue
        if value is None:
            errors[field] = _("%(what)s må fylles ut for %(product)s.", what=label, product=product.name)
        elif (low is not None and value < low) or (high is not None and value > high):
            errors[field] = _("%(what)s må være mellom %(low)s og %(high)s cm", what=label, low=low, high=high)
    variants = product.variants or {}
    for field, label in (("fabric", _l("Stoff")), ("colour", _l("Farge"))):
        value = getattr(line, field)
        allowed = variants.get(field) or []
        if not allowed:
            if value:
                errors[field] = _(
                    "%(product)s har ikke valg av %(what)s.", product=product.name, what=str(label).lower()
                )
            continue
        if not value:
            errors[field] = _("Velg %(what)s for %(product)s.", what=str(label).lower(), product=product.name)
        elif value not in allowed:
            errors[field] = _(
                "%(what)s «%(value)s» finnes ikke for %(product)s. Velg en av: %(allowed)s",
                what=label,
                value=value,
                product=product.name,
                allowed=", ".join(allowed),
            )
    return errors


def line_errors(lines: Sequence[LineInput], products: Mapping[int, Product]) -> dict[str, str]:
    """The line check on products already read (check_lines; the standing-order job reads a whole
    chunk's products at once): at least one line and at most MAX_LINES, each an orderable product
    with a quantity of 1 to MAX_QUANTITY and a valid configuration.

    Returns the errors keyed `lines` / `lines[<i>].<field>`.
    """
    if not lines:
        return {"lines": _("Velg minst ett produkt.")}
    if len(lines) > MAX_LINES:
        return {"lines": _("Høyst %(max)s linjer.", max=MAX_LINES)}
    errors: dict[str, str] = {}
    for i, ln in enumerate(lines):
        key = f"lines[{i}]"
        product = products.get(ln.product_id) if ln.product_id else None
        if product is None:
            errors[f"{key}.product_id"] = _("Velg et produkt fra katalogen.")
            continue
        if not product.active:  # a line ordered before ("Bestill igjen", a list): say why it stops here
            errors[f"{key}.product_id"] = _(
                "%(product)s kan ikke bestilles lenger. Velg et annet produkt.", product=product.name
            )
            continue
        if ln.quantity is None or ln.quantity <= 0:
            errors[f"{key}.quantity"] = _("Antall må være minst 1.")
        elif ln.quantity > MAX_QUANTITY:
            errors[f"{key}.quantity"] = _("Antall kan være høyst %(max)s.", max=MAX_QUANTITY)
        for field, message in configuration_errors(product, ln).items():
            errors[f"{key}.{field}"] = message
    return errors


def check_lines(session: Session, lines: Sequence[LineInput]) -> tuple[dict[str, str], dict[int, Product]]:
    """The one check of the lines of an order, a quote or a standing order (line_errors), reading
    their products. Returns the errors and the products by id.
    """
    if not lines or len(lines) > MAX_LINES:
        return line_errors(lines, {}), {}
    products = products_by_id(session, (ln.product_id for ln in lines))
    return line_errors(lines, products), products
