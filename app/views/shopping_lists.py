"""Handlelister (shopping lists) and "Bestill igjen": the pages. Rules: app/domain/shopping_lists.py
and app/domain/orders/reorder.py.

Both hand lines to the order form to review (NewOrderView's `prefill`): a form on the page posts the
lines there, so nothing is ordered before the customer sends the order form.
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.security.decorators import permission_name
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from sqlalchemy.orm import joinedload, selectinload

from app.domain import shopping_lists as rules
from app.domain.catalogue import LineInput
from app.domain.errors import NotFound
from app.domain.orders import reorder
from app.extensions import db
from app.models import Order, ShoppingList, ShoppingListLine
from app.views.base import PortalInterface, PortalModelView, fmt_datetime, is_customer, user_can
from app.views.forms import current_actor, domain_action, form_id, parse_lines
from app.views.orders.overview import line_configuration
from app.views.orders.placing import PREFILL_FIELD, product_json


def reorder_form(item: Any) -> dict[str, Any] | None:
    """Template global: "Bestill igjen" for an order or a quote (or any row with `lines` loaded with
    their products): the lines as order-form input, and those that cannot be ordered as before.
    None when the user does not order (supplier staff) or there is nothing to order."""
    if not is_customer() or not user_can("can_new", "NewOrderView"):
        return None
    lines = reorder.reorder_lines(item.lines)
    if not lines:
        return None
    to_list = None
    if isinstance(item, Order) and user_can("can_new", FORM_VIEW):
        to_list = url_for(f"{FORM_VIEW}.from_order", pk=item.id)
    return {
        "url": url_for("NewOrderView.new"),
        "field": PREFILL_FIELD,
        "lines": lines,
        "flagged": [r for r in lines if not r.orderable],
        "to_list": to_list,  # "Legg i handleliste" (an order's page)
    }


# --- Handlelister: list and page ------------------------------------------------------------------


def _creator(item: ShoppingList) -> str:
    return item.created_by.full_name if item.created_by else ""


def _configuration(line: ShoppingListLine) -> str:
    return line_configuration(line)


def show_context(item: ShoppingList) -> dict[str, Any]:
    """What a list's page shows besides FAB's fields: its lines (loaded with their products: no
    query per line), what the user may do, and the forms to order from it."""
    actor = current_actor()
    keeper = rules.may_keep(actor, item)
    lines = []
    for ln, ro in zip(item.lines, rules.list_reorder_lines(item), strict=True):
        product = ln.product
        variants = (product.variants or {}) if product is not None else {}
        lines.append(
            {
                "id": ln.id,
                "row": ro,
                "sku": product.sku if product else "",
                "product": product.name if product else "",
                "configuration": _configuration(ln),
                "quantity": ln.quantity,
                "width": ln.width,
                "depth": ln.depth,
                "fabric": ln.fabric,
                "colour": ln.colour,
                "has_width": bool(product and (product.min_width or product.max_width)),
                "has_depth": bool(product and (product.min_depth or product.max_depth)),
                "fabrics": variants.get("fabric") or [],
                "colours": variants.get("colour") or [],
                "unit_price": ro.unit_price,
            }
        )
    return {
        "shopping_list": item,
        "lines": lines,
        "keeper": keeper,
        "keeper_note": None if keeper or not actor.is_customer else rules.NOT_KEEPER,
        "staff_note": rules.STAFF_READ_ONLY if not actor.is_customer else None,
        "order_form": reorder_form(item),
        "product_json": product_json,
    }


def list_notice() -> dict[str, Any]:
    """Template global of the list page: may the user make a list here."""
    customer = is_customer()
    return {
        "customer": customer,
        "can_new": customer and user_can("can_new", FORM_VIEW),
        "staff_note": rules.STAFF_READ_ONLY,
    }


class ShoppingListView(PortalModelView):
    datamodel = PortalInterface(
        ShoppingList,
        list_options=[joinedload(ShoppingList.company), joinedload(ShoppingList.created_by)],
        item_options=[
            joinedload(ShoppingList.company),
            joinedload(ShoppingList.created_by),
            selectinload(ShoppingList.lines).joinedload(ShoppingListLine.product),
        ],
    )
    # Changes go through ShoppingListFormView (the rules decide who keeps a list).
    base_permissions = ["can_list", "can_show"]

    list_title = _l("Handlelister")
    show_title = _l("Handleliste")
    label_columns = {
        "name": _l("Navn"),
        "company": _l("Bedrift"),
        "created_by": _l("Laget av"),
        "created_at": _l("Laget"),
        "updated_at": _l("Sist endret"),
    }
    formatters_columns = {"created_at": fmt_datetime, "updated_at": fmt_datetime}
    computed_columns = {"created_by": _creator}
    list_columns = ["name", "company", "created_by", "updated_at"]
    list_columns_customer = ["name", "created_by", "updated_at"]
    order_columns = ["name"]
    base_order = ("name", "asc")
    search_columns = ["name"]
    show_fieldsets = [
        (_l("Handleliste"), {"fields": ["name", "company", "created_by", "created_at", "updated_at"]}),
    ]
    list_template = "shopping_lists/list.html"
    show_template = "shopping_lists/show.html"

    def show_context(self, item: ShoppingList) -> dict[str, Any]:
        return show_context(item)


# --- Handlelister: the changes ---------------------------------------------------------------------

FORM_VIEW = "ShoppingListFormView"


def _one_line(form: Any) -> tuple[LineInput | None, dict[str, str]]:
    """The line of a line's own form (fields lines-0-*), or the field errors of its numbers."""
    lines, errors = parse_lines(form, max_lines=1)
    return (lines[0] if lines else None), {k.split(".", 1)[-1]: v for k, v in errors.items()}


def _visible_list(pk: int) -> ShoppingList:
    """The list, or 404 (another company's list) before anything of the request is read."""
    try:
        return rules.get_list(db.session, pk)
    except NotFound:
        abort(404)


def _flash_errors(errors: dict[str, Any]) -> None:
    for message in errors.values():
        flash(str(message), "danger")


class ShoppingListFormView(BaseView):
    """/handlelister/...: make a list (also from an order's lines), rename it, delete it, add, change
    and remove lines. Every change is the rules' (app/domain/shopping_lists.py); a refusal is said
    above the list's page."""

    route_base = "/handlelister"
    default_view = "new"
    base_permissions = ["can_new", "can_edit", "can_delete"]

    @staticmethod
    def _show(pk: int) -> ResponseReturnValue:
        return redirect(url_for("ShoppingListView.show", pk=pk))

    @expose("/ny", methods=["POST"])
    @has_access
    @permission_name("new")
    def new(self) -> ResponseReturnValue:
        made: ShoppingList | None = None
        with domain_action() as done:
            made = rules.create_list(db.session, current_actor(), request.form.get("name"))
        if done.ok and made is not None:
            flash(_("Handlelisten «%(name)s» er laget. Legg til varer nedenfor.", name=made.name), "success")
            return self._show(made.id)
        return redirect(url_for("ShoppingListView.list"))

    @expose("/<int:pk>/navn", methods=["POST"])
    @has_access
    @permission_name("edit")
    def rename(self, pk: int) -> ResponseReturnValue:
        with domain_action() as done:
            rules.rename_list(db.session, current_actor(), pk, request.form.get("name"))
        if done.ok:
            flash(_("Navnet er endret."), "success")
        return self._show(pk)

    @expose("/<int:pk>/slett", methods=["POST"])
    @has_access
    @permission_name("delete")
    def delete(self, pk: int) -> ResponseReturnValue:
        name = ""
        with domain_action() as done:
            name = rules.delete_list(db.session, current_actor(), pk)
        if done.ok:
            flash(_("Handlelisten «%(name)s» er slettet.", name=name), "success")
            return redirect(url_for("ShoppingListView.list"))
        return self._show(pk)

    @expose("/<int:pk>/linjer", methods=["POST"])
    @has_access
    @permission_name("edit")
    def add_lines(self, pk: int) -> ResponseReturnValue:
        _visible_list(pk)
        lines, errors = parse_lines(request.form)
        if errors:
            _flash_errors(errors)
            return self._show(pk)
        with domain_action() as done:
            rules.add_lines(db.session, current_actor(), pk, lines)
        if done.ok:
            flash(ngettext("%(num)s linje er lagt til.", "%(num)s linjer er lagt til.", len(lines)), "success")
        return self._show(pk)

    def _line_list_id(self, pk: int) -> int:
        """The list of a line the user can see (another company's line is 404)."""
        try:
            return rules.get_line(db.session, pk).shopping_list_id
        except NotFound:
            abort(404)

    @expose("/linje/<int:pk>/endre", methods=["POST"])
    @has_access
    @permission_name("edit")
    def edit_line(self, pk: int) -> ResponseReturnValue:
        list_id = self._line_list_id(pk)
        line, errors = _one_line(request.form)
        if line is None and not errors:
            errors = {"product_id": _("Velg et produkt fra katalogen.")}
        if errors or line is None:
            _flash_errors(errors)
            return self._show(list_id)
        with domain_action() as done:
            rules.update_line(db.session, current_actor(), pk, line)
        if done.ok:
            flash(_("Linjen er endret."), "success")
        return self._show(list_id)

    @expose("/linje/<int:pk>/fjern", methods=["POST"])
    @has_access
    @permission_name("edit")
    def remove_line(self, pk: int) -> ResponseReturnValue:
        list_id = self._line_list_id(pk)
        with domain_action() as done:
            rules.remove_line(db.session, current_actor(), pk)
        if done.ok:
            flash(_("Linjen er fjernet fra listen."), "success")
        return self._show(list_id)

    @expose("/fra-ordre/<int:pk>", methods=["GET", "POST"])
    @has_access
    @permission_name("new")
    def from_order(self, pk: int) -> ResponseReturnValue:
        """ "Legg i handleliste" on an order: its lines (all or chosen) onto a new or an existing list."""
        actor = current_actor()
        try:
            lines = reorder.order_reorder_lines(db.session, pk)  # another company's order: 404
        except NotFound:
            abort(404)
        order_page = url_for("OrderView.show", pk=pk)
        if not rules.may_create(actor):
            flash(str(rules.STAFF_READ_ONLY), "info")
            return redirect(order_page)
        errors: dict[str, str] = {}
        if request.method == "POST":
            chosen = [int(v) for v in request.form.getlist("line") if v.isdigit() and int(v) < len(lines)]
            made: ShoppingList | None = None
            with domain_action(errors_on_page=True) as done:
                made = rules.add_order_lines(
                    db.session,
                    actor,
                    pk,
                    line_indexes=chosen,
                    list_id=form_id(request.form, "list_id"),
                    new_name=request.form.get("name"),
                )
            if done.ok and made is not None:
                flash(_("Linjene er lagt i handlelisten «%(name)s».", name=made.name), "success")
                return self._show(made.id)
            errors = {k: str(v) for k, v in done.errors.items()}
        return self.render_template(
            "shopping_lists/from_order.html",
            order_id=pk,
            order_page=order_page,
            lines=lines,
            lists=rules.editable_lists(db.session, actor),
            errors=errors,
            form=request.form,
            posted=request.method == "POST",
        )
