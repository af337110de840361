"""Placing an order ("Ny bestilling") and the product search behind its search-as-you-type field."""

from __future__ import annotations

from flask import flash, jsonify, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_appbuilder import BaseView, expose, has_access
from flask_babel import gettext as _
from sqlalchemy import select

from app.domain import catalogue
from app.domain.approvals import awaits_decision
from app.domain.budgets import budget_status
from app.domain.orders import place_order
from app.extensions import db
from app.models import DeliveryAddress, OrderChannel, Product
from app.views.forms import current_actor, domain_action, form_id, parse_lines


def product_json(p: Product) -> dict:
    return {
        "id": p.id,
        "text": f"{p.sku} – {p.name}",
        "sku": p.sku,
        "name": p.name,
        "unit_price": str(p.unit_price),
        "min_width": p.min_width,
        "max_width": p.max_width,
        "min_depth": p.min_depth,
        "max_depth": p.max_depth,
        "fabrics": (p.variants or {}).get("fabric") or [],
        "colours": (p.variants or {}).get("colour") or [],
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
        if request.method == "POST":
            lines, errors = parse_lines(request.form)
            address_id = form_id(request.form, "delivery_address_id")
            if not errors:
                with domain_action(errors_on_page=True) as done:
                    order = place_order(
                        db.session,
                        actor=actor,
                        company_id=actor.company_id,  # type: ignore[arg-type]  # a customer (checked above) has a company
                        delivery_address_id=address_id,
                        lines=lines,
                        channel=OrderChannel.webshop.value,
                        customer_reference=request.form.get("customer_reference"),
                    )
                if done.ok:
                    if awaits_decision(order):
                        flash(
                            _(
                                "Ordre %(number)s er registrert. Den har status «Til godkjenning» til en selger "
                                "har godkjent den.",
                                number=order.number,
                            ),
                            "success",
                        )
                    else:
                        flash(_("Ordre %(number)s er registrert.", number=order.number), "success")
                    if order.over_budget:
                        flash(_("Merk: ordren går over bruksgrensen. Administrator hos dere er varslet."), "warning")
                    return redirect(url_for("OrderView.show", pk=order.id))
                errors = done.errors
            if errors:
                flash(_("Bestillingen er ikke sendt. Rett feltene som er merket."), "danger")
        products = catalogue.products_by_id(db.session, (ln.product_id for ln in lines))
        return self.render_template(
            "workflow/new_order.html",
            addresses=addresses,
            lines=lines,
            errors=errors,
            products=products,
            product_json=product_json,
            form=request.form,
            budgets=budget_status(db.session, actor),
        )


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
