"""Quotes from their page: make a new one, send it, decline it, and "Bestill" (convert to an order)."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation

from flask import flash, redirect, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.security.decorators import permission_name
from sqlalchemy import select

from ..domain import quotes
from ..domain.errors import DomainError, ValidationFailed
from ..domain.orders import LineInput
from ..extensions import db
from ..models import Company, DeliveryAddress, Product
from .ordering import product_json
from .workflow_base import current_actor, fail, parse_lines


class QuoteActionsView(BaseView):
    route_base = "/tilbud"
    base_permissions = ["can_new", "can_convert", "can_send", "can_decline"]

    @expose("/ny", methods=["GET", "POST"])
    @has_access
    @permission_name("new")
    def new(self):  # type: ignore[no-untyped-def]
        actor = current_actor()
        errors: dict[str, str] = {}
        lines: list[LineInput] = []
        company = None
        if actor.is_customer:
            company = db.session.get(Company, actor.company_id)
        elif request.values.get("customer_number"):
            company = db.session.scalar(select(Company).where(
                Company.customer_number == request.values["customer_number"].strip()))
        if request.method == "POST":
            lines, errors = parse_lines(request.form)
            if company is None:
                errors["customer_number"] = "Fant ingen kunde med dette kundenummeret."
            if not actor.is_customer:
                # A seller may give special prices, line by line.
                priced = []
                for i, ln in enumerate(lines):
                    raw = (request.form.get(f"lines-{i}-unit_price") or "").strip().replace(" ", "").replace(",", ".")
                    try:
                        priced.append(LineInput(**{**ln.__dict__, "unit_price": Decimal(raw) if raw else None}))
                    except InvalidOperation:
                        errors[f"lines[{i}].unit_price"] = "Skriv prisen som et tall."
                        priced.append(ln)
                lines = priced
            valid_until = None
            try:
                valid_until = dt.date.fromisoformat(request.form.get("valid_until", ""))
            except ValueError:
                errors["valid_until"] = "Skriv en gyldig dato."
            if not errors:
                try:
                    quote = quotes.create_quote(
                        db.session, actor=actor, company_id=company.id, valid_until=valid_until,  # type: ignore[union-attr]
                        lines=lines, end_customer_ref=request.form.get("end_customer_ref"),
                        delivery_address_id=request.form.get("delivery_address_id", type=int),
                        note=request.form.get("note"))
                    db.session.commit()
                except ValidationFailed as exc:
                    db.session.rollback()
                    errors = exc.errors
                except DomainError as exc:
                    fail(exc)
                else:
                    flash(f"Tilbud {quote.number} er lagret som utkast.", "success")
                    return redirect(url_for("QuoteView.show", pk=quote.id))
            flash("Tilbudet er ikke lagret. Rett feltene som er merket.", "danger")
        addresses = []
        if company is not None:
            addresses = db.session.scalars(select(DeliveryAddress).where(
                DeliveryAddress.company_id == company.id, DeliveryAddress.active.is_(True))).all()
        products = {p.id: p for p in db.session.scalars(
            select(Product).where(Product.id.in_({ln.product_id for ln in lines if ln.product_id})))}
        return self.render_template(
            "workflow/new_quote.html", company=company, addresses=addresses, lines=lines, errors=errors,
            products=products, product_json=product_json, form=request.form, is_customer=actor.is_customer,
            default_valid=(dt.date.today() + dt.timedelta(days=30)).isoformat())

    def _act(self, pk: int, action, done: str):  # type: ignore[no-untyped-def]
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
        return self._act(pk, quotes.send_quote, "Tilbudet er sendt.")

    @expose("/<int:pk>/avslaa", methods=["POST"])
    @has_access
    @permission_name("decline")
    def decline(self, pk: int):  # type: ignore[no-untyped-def]
        return self._act(pk, quotes.decline_quote, "Tilbudet er avslått.")

    @expose("/<int:pk>/bestill", methods=["POST"])
    @has_access
    @permission_name("convert")
    def convert(self, pk: int):  # type: ignore[no-untyped-def]
        try:
            order = quotes.convert_quote(db.session, pk, current_actor(),
                                         delivery_address_id=request.form.get("delivery_address_id", type=int))
            db.session.commit()
        except DomainError as exc:
            fail(exc)
            return redirect(url_for("QuoteView.show", pk=pk))
        flash(f"Tilbudet er bestilt som ordre {order.number}.", "success")
        return redirect(url_for("OrderView.show", pk=order.id))
