"""Quotes from their page: make a new one, send it, decline it, and "Bestill" (convert to an order)."""
from __future__ import annotations

import datetime as dt
from typing import Any, Callable

from flask import flash, redirect, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.security.decorators import permission_name
from flask_babel import gettext as _
from sqlalchemy import select

from ..domain import quotes
from ..domain.errors import DomainError, ValidationFailed
from ..domain.formatting import oslo_today
from ..domain.orders import LineInput
from ..extensions import db
from ..models import Company, DeliveryAddress, Product
from .ordering import product_json
from .workflow_base import current_actor, fail, form_id, parse_lines


class QuoteActionsView(BaseView):
    route_base = "/tilbud"
    default_view = "new"
    base_permissions = ["can_new", "can_convert", "can_send", "can_decline"]

    @expose("/ny", methods=["GET", "POST"])
    @has_access
    @permission_name("new")
    def new(self):  # type: ignore[no-untyped-def]
        actor = current_actor()
        errors: dict[str, str] = {}
        lines: list[LineInput] = []
        company = None
        customer_number = (request.values.get("customer_number") or "").strip()
        if actor.is_customer:
            company = db.session.get(Company, actor.company_id)
        elif customer_number:
            # A seller names the dealer by customer number (no <select> of every company).
            company = db.session.scalar(select(Company).where(Company.customer_number == customer_number[:20]))
            if company is None:
                errors["customer_number"] = _("Fant ingen kunde med kundenummer %(number)s.", number=customer_number)
        if request.method == "POST" and company is not None:
            # Special prices per line only from a seller (the domain ignores them from dealers too).
            lines, errors = parse_lines(request.form, prices=not actor.is_customer)
            valid_until = None
            try:
                valid_until = dt.date.fromisoformat((request.form.get("valid_until") or "").strip())
            except ValueError:
                errors["valid_until"] = _("Skriv en gyldig dato.")
            if not errors:
                try:
                    quote = quotes.create_quote(
                        db.session, actor=actor, company_id=company.id, valid_until=valid_until,
                        lines=lines, end_customer_ref=(request.form.get("end_customer_ref") or "").strip()[:200],
                        delivery_address_id=form_id(request.form, "delivery_address_id"),
                        note=(request.form.get("note") or "").strip())
                    db.session.commit()
                except ValidationFailed as exc:
                    db.session.rollback()
                    errors = exc.errors
                except DomainError as exc:
                    fail(exc)
                else:
                    flash(_("Tilbud %(number)s er lagret som utkast.", number=quote.number), "success")
                    return redirect(url_for("QuoteView.show", pk=quote.id))
            flash(_("Tilbudet er ikke lagret. Rett feltene som er merket."), "danger")
        addresses = []
        if company is not None:
            addresses = db.session.scalars(select(DeliveryAddress).where(
                DeliveryAddress.company_id == company.id, DeliveryAddress.active.is_(True))
                .order_by(DeliveryAddress.recipient_name)).all()
        products = {p.id: p for p in db.session.scalars(
            select(Product).where(Product.id.in_({ln.product_id for ln in lines if ln.product_id})))}
        return self.render_template(
            "workflow/new_quote.html", company=company, addresses=addresses, lines=lines, errors=errors,
            products=products, product_json=product_json, form=request.form, is_customer=actor.is_customer,
            customer_number=customer_number, default_valid=(oslo_today() + dt.timedelta(days=30)).isoformat())

    def _act(self, pk: int, action: Callable[..., Any], done: str):  # type: ignore[no-untyped-def]
        try:
            action(db.session, pk, current_actor())
            db.session.commit()
            flash(done, "success")
        except DomainError as exc:
            fail(exc)
        return redirect(url_for("QuoteView.show", pk=pk))

    @expose("/<int:pk>/send", methods=["POST"])
    @has_access
    @permission_name("send")
    def send(self, pk: int):  # type: ignore[no-untyped-def]
        return self._act(pk, quotes.send_quote, _("Tilbudet er sendt."))

    @expose("/<int:pk>/avslaa", methods=["POST"])
    @has_access
    @permission_name("decline")
    def decline(self, pk: int):  # type: ignore[no-untyped-def]
        return self._act(pk, quotes.decline_quote, _("Tilbudet er avslått."))

    @expose("/<int:pk>/bestill", methods=["POST"])
    @has_access
    @permission_name("convert")
    def convert(self, pk: int):  # type: ignore[no-untyped-def]
        try:
            order = quotes.convert_quote(db.session, pk, current_actor(),
                                         delivery_address_id=form_id(request.form, "delivery_address_id"))
            db.session.commit()
        except DomainError as exc:
            fail(exc)
            return redirect(url_for("QuoteView.show", pk=pk))
        flash(_("Tilbudet er bestilt som ordre %(number)s.", number=order.number), "success")
        return redirect(url_for("OrderView.show", pk=order.id))
