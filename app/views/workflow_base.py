"""Shared glue for the workflow pages (ordering, approval, order and quote actions)."""
from __future__ import annotations

from typing import Any, Optional

from flask import abort, flash, g
from markupsafe import Markup

from ..domain.actors import Actor
from ..domain.errors import DomainError, NotFound, ValidationFailed
from ..domain.orders import LineInput
from ..extensions import db


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


def _int(value: Optional[str]) -> tuple[Optional[int], bool]:
    value = (value or "").strip()
    if not value:
        return None, True
    try:
        return int(value), True
    except ValueError:
        return None, False


def parse_lines(form: Any, max_lines: int = 50) -> tuple[list[LineInput], dict[str, str]]:
    """Lines posted as lines-<i>-product_id, -quantity, -width, -depth, -fabric, -colour.

    Returns LineInputs for the rows that have a product, and field errors for values that are not
    whole numbers (the domain checks everything else).
    """
    lines: list[LineInput] = []
    errors: dict[str, str] = {}
    for i in range(max_lines):
        prefix = f"lines-{i}-"
        if prefix + "product_id" not in form:
            continue
        product_id, ok = _int(form.get(prefix + "product_id"))
        if product_id is None and not (form.get(prefix + "quantity") or "").strip():
            continue  # an empty row the user added but did not fill
        n = len(lines)
        values: dict[str, Any] = {"product_id": product_id}
        for field, label in (("quantity", "Antall"), ("width", "Bredde"), ("depth", "Dybde")):
            value, ok = _int(form.get(prefix + field))
            if not ok:
                errors[f"lines[{n}].{field}"] = f"{label} må være et helt tall."
            values[field] = value
        values["fabric"] = (form.get(prefix + "fabric") or "").strip() or None
        values["colour"] = (form.get(prefix + "colour") or "").strip() or None
        lines.append(LineInput(**values))
    return lines, errors


def field_error(errors: dict[str, str], key: str) -> Markup:
    message = errors.get(key)
    return Markup('<span class="help-block text-danger">{}</span>').format(message) if message else Markup("")
