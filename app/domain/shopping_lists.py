"""Handlelister: named lists of lines a company's users order from.

Who may do what:
* every user of the company reads the company's lists and orders from them ("Legg i bestilling");
* a customer user makes lists; a list is kept (renamed, its lines changed, deleted) by the user who
  made it and by the company's customer admins;
* supplier staff read every company's lists (customer service helping on the phone) but change
  none: a list is the customer's own working tool, and staff order for customers through quotes.

A list has at most MAX_LINES lines (as an order), its name is unique within the company (the
unique constraint also decides two users creating the same list at once). Lines are checked as
order lines are (an orderable product, quantity, size and variants the product allows); a product
taken out of the catalogue later stays on the list and is flagged when the list is ordered.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload, selectinload

from app.domain.actors import Actor
from app.domain.catalogue import MAX_LINES, LineInput, line_errors, products_by_id
from app.domain.errors import NotAllowed, NotFound, ValidationFailed, get_visible
from app.domain.orders.reorder import ReorderLine, order_reorder_lines, reorder_lines, row_id
from app.models import ShoppingList, ShoppingListLine, utcnow

MAX_NAME = 200
# The "add to an existing list" choice on an order offers the most recently changed lists only.
CHOICE_LIMIT = 50

LIST_NOT_FOUND = _l("Fant ikke handlelisten.")
LINE_NOT_FOUND = _l("Fant ikke linjen på handlelisten.")
STAFF_READ_ONLY = _l("Handlelister er kundens egne: de lages og endres av brukere hos kunden.")
NOT_KEEPER = _l("Bare den som laget handlelisten, eller en administrator hos dere, kan endre den.")


# --- reading ------------------------------------------------------------------------------------


def get_list(session: Session, list_id: Any, *, with_lines: bool = False) -> ShoppingList:
    """A list the user can see (another company's list is NotFound), optionally with its creator and
    its lines and their products: two queries whatever the number of lines."""
    if not with_lines:
        return get_visible(session, ShoppingList, list_id, LIST_NOT_FOUND)
    pk = row_id(list_id)
    found = session.scalars(
        select(ShoppingList)
        .options(
            joinedload(ShoppingList.created_by),
            selectinload(ShoppingList.lines).joinedload(ShoppingListLine.product),
        )
        .where(ShoppingList.id == pk)  # through the tenancy guard
    ).first()
    if found is None:
        raise NotFound(str(LIST_NOT_FOUND))
    return found


def may_keep(actor: Actor, shopping_list: ShoppingList) -> bool:
    """May the actor rename, change the lines of or delete the list: its creator, or a customer admin
    of its company. Supplier staff read only."""
    if not actor.is_customer or actor.company_id != shopping_list.company_id:
        return False
    return shopping_list.created_by_id == actor.id or actor.is_customer_admin


def may_create(actor: Actor) -> bool:
    return actor.is_customer


def editable_lists(session: Session, actor: Actor, limit: int = CHOICE_LIMIT) -> list[ShoppingList]:
    """The lists the actor may add lines to, most recently changed first (at most `limit`)."""
    if not actor.is_customer:
        return []
    query = select(ShoppingList).order_by(ShoppingList.updated_at.desc(), ShoppingList.id.desc()).limit(limit)
    if not actor.is_customer_admin:
        query = query.where(ShoppingList.created_by_id == actor.id)
    return list(session.scalars(query))


def list_reorder_lines(shopping_list: ShoppingList, line_ids: Iterable[int] | None = None) -> list[ReorderLine]:
    """The list's lines (all, or those with the given ids, in the list's order) to order, each flagged
    if it cannot be ordered today. The lines must be loaded with their products (get_list)."""
    wanted = None if line_ids is None else set(line_ids)
    return reorder_lines(ln for ln in shopping_list.lines if wanted is None or ln.id in wanted)


# --- checks -------------------------------------------------------------------------------------


def check_keeper(actor: Actor, shopping_list: ShoppingList) -> None:
    """NotAllowed (with the reason) unless the actor may change the list (may_keep)."""
    if not actor.is_customer:
        raise NotAllowed(str(STAFF_READ_ONLY))
    if not may_keep(actor, shopping_list):
        raise NotAllowed(str(NOT_KEEPER))


def _clean_name(name: Any) -> str:
    text = " ".join(str(name or "").split())
    if not text:
        raise ValidationFailed({"name": _("Gi handlelisten et navn.")})
    if len(text) > MAX_NAME:
        raise ValidationFailed({"name": _("Navnet kan være høyst %(max)s tegn.", max=MAX_NAME)})
    return text


def _name_taken(session: Session, name: str, but: int | None = None) -> bool:
    query = select(ShoppingList.id).where(ShoppingList.name == name)  # the guard: this company's lists
    if but is not None:
        query = query.where(ShoppingList.id != but)
    return session.scalar(query.limit(1)) is not None


NAME_TAKEN = _l("Dere har allerede en handleliste med dette navnet.")


def _check_lines(session: Session, lines: Sequence[LineInput], existing: int = 0) -> None:
    """Lines as order lines are checked (catalogue.line_errors), keyed lines[<i>].<field>."""
    if existing + len(lines) > MAX_LINES:
        raise ValidationFailed({"lines": _("En handleliste kan ha høyst %(max)s linjer.", max=MAX_LINES)})
    if not lines:
        return
    errors = line_errors(lines, products_by_id(session, (ln.product_id for ln in lines)))
    if errors:
        raise ValidationFailed(errors)


def _row(shopping_list: ShoppingList, ln: LineInput) -> ShoppingListLine:
    return ShoppingListLine(
        company_id=shopping_list.company_id,
        product_id=ln.product_id,
        quantity=ln.quantity,
        width=ln.width,
        depth=ln.depth,
        fabric=ln.fabric or None,
        colour=ln.colour or None,
    )


def _flush_name(session: Session) -> None:
    """Flush; a name another user took a moment ago (the unique constraint) is the same refusal."""
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:
        if "uq_shopping_lists_company_name" in str(exc.orig) or "shopping_lists.company_id" in str(exc.orig):
            raise ValidationFailed({"name": str(NAME_TAKEN)}) from exc
        raise


# --- changes ------------------------------------------------------------------------------------


def create_list(session: Session, actor: Actor, name: Any, lines: Sequence[LineInput] = ()) -> ShoppingList:
    """A new list of the actor's company, made by the actor, with the lines (may be none)."""
    if not may_create(actor):
        raise NotAllowed(str(STAFF_READ_ONLY))
    clean = _clean_name(name)
    if _name_taken(session, clean):
        raise ValidationFailed({"name": str(NAME_TAKEN)})
    _check_lines(session, lines)
    shopping_list = ShoppingList(company_id=actor.company_id, name=clean, created_by_id=actor.id)
    shopping_list.lines = [_row(shopping_list, ln) for ln in lines]
    session.add(shopping_list)
    _flush_name(session)
    return shopping_list


def rename_list(session: Session, actor: Actor, list_id: Any, name: Any) -> ShoppingList:
    shopping_list = get_list(session, list_id)
    check_keeper(actor, shopping_list)
    clean = _clean_name(name)
    if _name_taken(session, clean, but=shopping_list.id):
        raise ValidationFailed({"name": str(NAME_TAKEN)})
    shopping_list.name = clean
    shopping_list.updated_at = utcnow()
    _flush_name(session)
    return shopping_list


def delete_list(session: Session, actor: Actor, list_id: Any) -> str:
    """Delete the list and its lines; returns its name (for the message)."""
    shopping_list = get_list(session, list_id)
    check_keeper(actor, shopping_list)
    name = shopping_list.name
    session.delete(shopping_list)
    session.flush()
    return name


def add_lines(session: Session, actor: Actor, list_id: Any, lines: Sequence[LineInput]) -> ShoppingList:
    """Append lines to the list (at least one)."""
    shopping_list = get_list(session, list_id, with_lines=True)
    check_keeper(actor, shopping_list)
    if not lines:
        raise ValidationFailed({"lines": _("Velg minst ett produkt.")})
    _check_lines(session, lines, existing=len(shopping_list.lines))
    shopping_list.lines.extend(_row(shopping_list, ln) for ln in lines)
    shopping_list.updated_at = utcnow()
    session.flush()
    return shopping_list


def get_line(session: Session, line_id: Any) -> ShoppingListLine:
    return get_visible(session, ShoppingListLine, line_id, LINE_NOT_FOUND)


def update_line(session: Session, actor: Actor, line_id: Any, line: LineInput) -> ShoppingListLine:
    """Change a line's product, quantity, size or variants (checked as an order line)."""
    row = get_line(session, line_id)
    check_keeper(actor, row.shopping_list)
    errors = line_errors([line], products_by_id(session, [line.product_id]))
    if errors:
        # One line: its fields without the index, as the line's own form names them.
        raise ValidationFailed({key.split(".", 1)[-1]: message for key, message in errors.items()})
    row.product_id = line.product_id  # type: ignore[assignment]  # checked above: a product
    row.quantity = line.quantity  # type: ignore[assignment]  # checked above: 1..MAX_QUANTITY
    row.width, row.depth = line.width, line.depth
    row.fabric, row.colour = line.fabric or None, line.colour or None
    row.shopping_list.updated_at = utcnow()
    session.flush()
    return row


def remove_line(session: Session, actor: Actor, line_id: Any) -> ShoppingList:
    row = get_line(session, line_id)
    shopping_list = row.shopping_list
    check_keeper(actor, shopping_list)
    session.delete(row)
    shopping_list.updated_at = utcnow()
    session.flush()
    return shopping_list


def add_order_lines(
    session: Session,
    actor: Actor,
    order_id: Any,
    *,
    line_indexes: Iterable[int] | None = None,
    list_id: Any = None,
    new_name: Any = None,
) -> ShoppingList:
    """An order's lines (all, or those at the given positions) onto an existing list the actor keeps,
    or onto a new list named `new_name`. A line whose product can no longer be ordered is left
    out (it could not be ordered from the list either); if that leaves none, nothing is saved."""
    lines = order_reorder_lines(session, order_id)
    if line_indexes is not None:
        wanted = set(line_indexes)
        lines = [r for i, r in enumerate(lines) if i in wanted]
    chosen = [r.line for r in lines if r.orderable]
    if not chosen:
        raise ValidationFailed({"lines": _("Velg minst én linje som kan bestilles.")})
    if list_id:
        return add_lines(session, actor, list_id, chosen)
    if not (str(new_name or "").strip()):
        raise ValidationFailed({"name": _("Velg en handleliste, eller gi den nye listen et navn.")})
    return create_list(session, actor, new_name, chosen)
