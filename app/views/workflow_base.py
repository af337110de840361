"""Shared glue for the workflow pages (ordering, approval, order and quote actions)."""
from __future__ import annotations

from typing import Any, Optional

from flask import abort, flash, g
from flask_babel import gettext as _

from ..domain.actors import Actor
from ..domain.errors import DomainError, NotFound, ValidationFailed
from ..domain.orders import LineInput
from ..domain.validation import InvalidValue, validate_amount
from ..extensions import db

# Numbers beyond these never reach SQL (SQLite raises OverflowError past 64 bits, PostgreSQL an
# out-of-range error past 32): the same bounds as the REST API (app/api/fields.py).
MAX_ID = 2**31 - 1
MAX_QUANTITY = 99999


def current_actor() -> Actor:
    return Actor.from_user(g.user)


def fail(exc: DomainError) -> None:
    """Roll back and show a domain error as a flash message (404 for rows the user cannot see)."""
    db.session.rollback()
    if isinstance(exc, NotFound):
        abort(404)
    if isinstance(exc, ValidationFailed):
        for message in exc.errors.values():
            flash(message, "danger")
    else:
        flash(exc.message, "danger")


def _int(value: Optional[str], maximum: int = MAX_ID) -> tuple[Optional[int], bool]:
    """(number, ok): blank is (None, True); not a whole number, or out of range, is (None, False)."""
    value = (value or "").strip()
    if not value:
        return None, True
    try:
        number = int(value)
    except ValueError:
        return None, False
    if abs(number) > maximum:
        return None, False
    return number, True


def form_id(form: Any, name: str) -> Optional[int]:
    """A row id from a form field, or None (blank, garbage or out of range: "not chosen")."""
    number, _ok = _int(form.get(name))
    return number if number is not None and number > 0 else None


def parse_lines(form: Any, max_lines: int = 50, prices: bool = False) -> tuple[list[LineInput], dict[str, str]]:
    """Lines posted as lines-<i>-product_id, -quantity, -width, -depth, -fabric, -colour (and
    -unit_price with `prices`: a seller's special price on a quote; blank is the list price).

    Returns LineInputs for the rows that have a product, and field errors for values that are not
    whole numbers (the domain checks everything else). Rows the user left empty are dropped, so
    errors are keyed by the line's position among the filled rows (the page re-renders them so).
    """
    lines: list[LineInput] = []
    errors: dict[str, str] = {}
    messages = {"quantity": _("Antall må være et helt tall."), "width": _("Bredde må være et helt tall."),
                "depth": _("Dybde må være et helt tall.")}
    for i in range(max_lines):
        prefix = f"lines-{i}-"
        if prefix + "product_id" not in form:
            continue
        product_id = form_id(form, prefix + "product_id")
        if product_id is None and not (form.get(prefix + "quantity") or "").strip():
            continue  # an empty row the user added but did not fill
        n = len(lines)
        values: dict[str, Any] = {"product_id": product_id}
        for field in ("quantity", "width", "depth"):
            value, ok = _int(form.get(prefix + field))
            if not ok:
                errors[f"lines[{n}].{field}"] = messages[field]
            elif field == "quantity" and value is not None and value > MAX_QUANTITY:
                errors[f"lines[{n}].{field}"] = _("Antall kan være høyst 99999.")
            values[field] = value
        values["fabric"] = (form.get(prefix + "fabric") or "").strip()[:100] or None
        values["colour"] = (form.get(prefix + "colour") or "").strip()[:100] or None
        raw_price = (form.get(prefix + "unit_price") or "").replace(" ", "").replace("\u00a0", "")
        if prices and raw_price:
            try:
                values["unit_price"] = validate_amount(raw_price)
            except InvalidValue as exc:
                errors[f"lines[{n}].unit_price"] = str(exc.message)
        lines.append(LineInput(**values))
    return lines, errors

