"""Placing an order ("Ny bestilling") and the product search behind its search-as-you-type field."""

from __future__ import annotations

import re
import secrets
from typing import Any

from flask import flash, jsonify, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.security.decorators import permission_name
from flask_babel import gettext as _
from sqlalchemy import select

from app.domain import catalogue, idempotency, pricing, quotes
from app.domain.actors import Actor
from app.domain.approvals import awaits_decision
from app.domain.budgets import budget_status
from app.domain.formatting import format_nok
from app.domain.orders import place_order
from app.extensions import db
from app.models import DeliveryAddress, Order, OrderChannel, Product
from app.views.forms import current_actor, domain_action, form_id, parse_lines


def product_json(p: Product) -> dict:
    return {
        "id": p.id,
        "text": f"{p.sku} – {p.name}",
        "sku": p.sku,
        "name": p.name,
        "unit_price": str(p.unit_price),
        "price_text": format_nok(p.unit_price),
        "min_width": p.min_width,
        "max_width": p.max_width,
        "min_depth": p.min_depth,
        "max_depth": p.max_depth,
        "fabrics": (p.variants or {}).get("fabric") or [],
        "colours": (p.variants or {}).get("colour") or [],
    }


# The form's one-time token (hidden field): a double click or a resent POST finds the first order.
TOKEN_FIELD = "order_token"
# A POST with this field (and lines-<i>-* fields) fills the form to review, and places nothing: how
# "Bestill igjen", a shopping list and a quick order hand their lines to the order form.
PREFILL_FIELD = "prefill"


def new_token() -> str:
    return secrets.token_urlsafe(24)


def prefilled_lines(form: Any) -> tuple[list[catalogue.LineInput], dict[str, str]]:
    """Lines handed to a form to review: each is checked as on submit, so a product that can no longer
    be ordered (or a size it no longer allows) is flagged next to its line before anything is sent."""
    lines, errors = parse_lines(form)
    if lines and not errors:
        errors, _products = catalogue.check_lines(db.session, lines)
    return lines, errors


# --- prices while ordering ----------------------------------------------------------------------

# The forms that use the line editor, and how each prices its lines.
ORDER, QUOTE, STANDING = "order", "quote", "standing"
PRICE_FORMS = (ORDER, QUOTE, STANDING)
LINE_FIELDS = ("product_id", "quantity", "width", "depth", "fabric", "colour", "unit_price")
_ROW_KEY = re.compile(r"^lines-(\d+)-product_id$")


def form_pricing(
    actor: Actor, kind: str, lines: list[catalogue.LineInput], statuses: list[dict[str, Any]] | None = None
) -> pricing.PricedLines:
    """The lines priced as the form's own submit will price them: an order (with the customer's
    budgets), a quote (a seller's special prices, quotes.unit_price) or a standing order."""
    if kind == QUOTE:
        return pricing.price_lines(
            db.session, actor, lines, price_of=lambda product, ln: quotes.unit_price(actor, product, ln.unit_price)
        )
    return pricing.price_lines(db.session, actor, lines, with_budgets=kind == ORDER, statuses=statuses)


def rows_of(form: Any, prices: bool) -> tuple[list[int], list[catalogue.LineInput], dict[str, str]]:
    """The form's rows as the submit reads them (parse_lines, one row at a time so that each line
    keeps the row number it has on the page): the row numbers of the filled rows, their lines, and
    the parse errors keyed `lines[<row>].<field>`."""
    numbers = sorted(int(m.group(1)) for key in form if (m := _ROW_KEY.match(key)))[: catalogue.MAX_LINES]
    rows: list[int] = []
    lines: list[catalogue.LineInput] = []
    errors: dict[str, str] = {}
    for number in numbers:
        one = {f"lines-0-{name}": form.get(f"lines-{number}-{name}", "") for name in LINE_FIELDS}
        parsed, parse_errors = parse_lines(one, max_lines=1, prices=prices)
        if not parsed:
            continue  # an empty row: the submit leaves it out too
        rows.append(number)
        lines.append(parsed[0])
        errors.update({key.replace("lines[0]", f"lines[{number}]", 1): msg for key, msg in parse_errors.items()})
    return rows, lines, errors


def budget_label(left: pricing.BudgetLeft) -> str:
    user = left.budget.user if left.budget.user_id else None
    if user is not None:
        return _("Igjen av bruksgrensen for %(name)s etter denne ordren", name=user.full_name)
    return _("Igjen av bruksgrensen for hele bedriften etter denne ordren")


def pricing_json(rows: list[int], priced: pricing.PricedLines, parse_errors: dict[str, str]) -> dict[str, Any]:
    """What the line editor shows, keyed by the row number on the page: each line's price, total and
    messages (the server's own), the totals with VAT and each budget's remainder, as amounts and as
    text (the page formats no money itself)."""
    lines: dict[str, Any] = {}
    for position, (number, price) in enumerate(zip(rows, priced.lines, strict=True)):
        prefix = f"lines[{position}]."
        errors = {key.removeprefix(prefix): str(msg) for key, msg in priced.errors.items() if key.startswith(prefix)}
        own = f"lines[{number}]."
        # A value the submit cannot read at all is named as the submit names it.
        errors.update({k.removeprefix(own): str(m) for k, m in parse_errors.items() if k.startswith(own)})
        lines[str(number)] = {
            "unit_price": None if price.unit_price is None else str(price.unit_price),
            "unit_price_text": "" if price.unit_price is None else _("à %(price)s", price=format_nok(price.unit_price)),
            "total": None if price.total is None else str(price.total),
            "total_text": format_nok(price.total),
            "errors": errors,
        }
    totals = priced.totals
    return {
        "lines": lines,
        "errors": {key: str(msg) for key, msg in priced.errors.items() if not key.startswith("lines[")},
        "total_ex_vat": str(totals.ex_vat),
        "total_vat": str(totals.vat),
        "total_inc_vat": str(totals.inc_vat),
        "totals_text": {
            "ex_vat": format_nok(totals.ex_vat),
            "vat": format_nok(totals.vat),
            "inc_vat": format_nok(totals.inc_vat),
        },
        "budgets": [
            {
                "id": b.budget.id,
                "label": budget_label(b),
                "left": str(b.left),
                "left_text": format_nok(b.left),
                "level": b.level,
            }
            for b in priced.budgets
        ],
    }


class NewOrderView(BaseView):
    route_base = "/bestill"
    default_view = "new"
    base_permissions = ["can_new"]

    @expose("/", methods=["GET", "POST"])
    @has_access
    def new(self) -> ResponseReturnValue:
        actor = current_actor()
        if not actor.is_customer:
            flash(_("Bestilling gjøres av kundens egne brukere. Lag et tilbud til kunden i stedet."), "info")
            return redirect(url_for("QuoteActionsView.new"))
        addresses = db.session.scalars(
            select(DeliveryAddress).where(DeliveryAddress.active.is_(True)).order_by(DeliveryAddress.recipient_name)
        ).all()
        errors: dict[str, str] = {}
        lines: list[catalogue.LineInput] = []
        token = request.form.get(TOKEN_FIELD, "")
        if request.method == "POST" and request.form.get(PREFILL_FIELD):
            lines, errors = prefilled_lines(request.form)
            token = new_token()
        elif request.method == "POST":
            lines, errors = parse_lines(request.form)
            address_id = form_id(request.form, "delivery_address_id")
            if token and not idempotency.valid_key(token):
                # Not a token this page makes: nothing placed, a fresh token to send again with.
                flash(
                    _("Bestillingen er ikke sendt: skjemaet var ugyldig. Kontroller den og send den igjen."), "danger"
                )
                token = new_token()
            elif not errors:
                placed: idempotency.Placed | None = None
                with domain_action(errors_on_page=True) as done:
                    placed = self._place(actor, token, lines, address_id)
                if done.ok and placed is not None:
                    self._placed_message(placed)
                    return redirect(url_for("OrderView.show", pk=placed.row.id))
                errors = done.errors
            if errors:
                flash(_("Bestillingen er ikke sendt. Rett feltene som er merket."), "danger")
        products = catalogue.products_by_id(db.session, (ln.product_id for ln in lines))
        budgets = budget_status(db.session, actor)
        return self.render_template(
            "workflow/new_order.html",
            addresses=addresses,
            lines=lines,
            errors=errors,
            products=products,
            product_json=product_json,
            form=request.form,
            order_token=token or new_token(),
            budgets=budgets,
            priced=form_pricing(actor, ORDER, lines, budgets),
            budget_label=budget_label,
            price_form=ORDER,
        )

    @staticmethod
    def _place(
        actor: Actor, token: str, lines: list[catalogue.LineInput], address_id: int | None
    ) -> idempotency.Placed:
        """The order, made once per token: the page always sends one (a POST without it, from a
        script or a page rendered before tokens existed, is placed as it comes)."""

        def make() -> Order:
            return place_order(
                db.session,
                actor=actor,
                company_id=actor.company_id,  # type: ignore[arg-type]  # a customer (checked by the caller) has a company
                delivery_address_id=address_id,
                lines=lines,
                channel=OrderChannel.webshop.value,
                customer_reference=request.form.get("customer_reference"),
            )

        if not token:
            return idempotency.Placed(row=make(), made_now=True)
        return idempotency.once(
            db.session,
            user_id=actor.id,  # type: ignore[arg-type]  # a logged-in user has an id
            scope=idempotency.FORM,
            key=token,
            make=make,
        )

    @staticmethod
    def _placed_message(placed: idempotency.Placed) -> None:
        order = placed.row
        if not placed.made_now:
            flash(
                _(
                    "Bestillingen var allerede sendt, og den ble ikke sendt på nytt. Dette er ordre %(number)s.",
                    number=order.number,
                ),
                "info",
            )
            return
        if awaits_decision(order):
            flash(
                _(
                    "Ordre %(number)s er registrert. Den har status «Til godkjenning» til en selger har godkjent den.",
                    number=order.number,
                ),
                "success",
            )
        else:
            flash(_("Ordre %(number)s er registrert.", number=order.number), "success")
        if order.over_budget:
            flash(_("Merk: ordren går over bruksgrensen. Administrator hos dere er varslet."), "warning")


class ProductSearchView(BaseView):
    """select2 AJAX source for order and quote lines: {"results": [...]}, never the whole catalogue."""

    route_base = "/produktsok"
    default_view = "search"
    base_permissions = ["can_search"]

    @expose("/")
    @has_access
    def search(self) -> ResponseReturnValue:
        found = catalogue.search_products(db.session, request.args.get("q", ""))
        return jsonify({"results": [product_json(p) for p in found]})

    @expose("/pris", methods=["POST"])
    @has_access
    @permission_name("search")
    def price(self) -> ResponseReturnValue:
        """The line editor's prices and messages while the form is written (order_form.js posts the
        whole form here, debounced): nothing is saved; the form's own submit checks and prices again.
        `?skjema=order|quote|standing` says which form's rules apply (default: an order)."""
        actor = current_actor()
        kind = request.args.get("skjema", ORDER)
        if kind not in PRICE_FORMS:
            return jsonify({"errors": {"skjema": _("Ukjent skjema.")}}), 400
        rows, lines, parse_errors = rows_of(request.form, prices=kind == QUOTE and not actor.is_customer)
        return jsonify(pricing_json(rows, form_pricing(actor, kind, lines), parse_errors))
