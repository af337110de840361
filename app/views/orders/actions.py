"""What can be done to an order from its page: cancel, invoice copy (PDF), shipments and invoices."""
from __future__ import annotations

import datetime as dt

from flask import Response, abort, current_app, flash, redirect, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.security.decorators import permission_name
from flask_babel import gettext as _

from app.domain import labels, orders
from app.domain.errors import DomainError, NotFound, ValidationFailed
from app.domain.formatting import oslo_today
from app.domain.lifecycle import INVOICEABLE, SHIPPABLE
from app.domain.orders import fulfilment
from app.domain.orders.invoice_pdf import render_invoice_pdf, supplier_from_config
from app.domain.validation import InvalidValue, validate_amount
from app.extensions import db
from app.models import Carrier, Invoice, Order
from app.views.forms import current_actor, fail


def _date(value: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat((value or "").strip())
    except ValueError:
        return None


def _order_or_404(pk: int) -> Order:
    """The order through the (tenant-scoped) session; a row the user cannot see is 404."""
    try:
        return orders.get_order(db.session, pk)
    except NotFound:
        abort(404)


class OrderActionsView(BaseView):
    route_base = "/ordre"
    base_permissions = ["can_cancel", "can_invoice_copy", "can_ship", "can_bill"]

    @expose("/<int:pk>/kanseller", methods=["POST"])
    @has_access
    @permission_name("cancel")
    def cancel(self, pk: int):  # type: ignore[no-untyped-def]
        try:
            order = orders.cancel_order(db.session, pk, current_actor(), reason=request.form.get("reason") or None)
            db.session.commit()
            flash(_("Ordre %(number)s er kansellert.", number=order.number), "success")
        except DomainError as exc:
            fail(exc)
        return redirect(url_for("OrderView.show", pk=pk))

    @expose("/faktura/<int:pk>/fakturakopi.pdf")
    @has_access
    @permission_name("invoice_copy")
    def invoice_copy(self, pk: int):  # type: ignore[no-untyped-def]
        invoice = db.session.get(Invoice, pk)  # scoped by the tenancy guard: another company's is None
        if invoice is None:
            abort(404)
        pdf = render_invoice_pdf(invoice, supplier_from_config(current_app.config))
        return Response(pdf, mimetype="application/pdf", headers={
            "Content-Disposition": f'attachment; filename="fakturakopi-{invoice.number}.pdf"'})

    @expose("/<int:pk>/levering", methods=["GET", "POST"])
    @has_access
    @permission_name("ship")
    def ship(self, pk: int):  # type: ignore[no-untyped-def]
        order = _order_or_404(pk)
        if order.status not in SHIPPABLE:
            flash(_("Ordren kan ikke leveres når den har status «%(status)s».",
                    status=labels.order_status(order.status)), "warning")
            return redirect(url_for("OrderView.show", pk=pk))
        errors: dict[str, str] = {}
        if request.method == "POST":
            quantities = {}
            for line in order.lines:
                raw = (request.form.get(f"qty-{line.id}") or "").strip()
                if raw:
                    if not raw.isdigit() or len(raw) > 6:
                        errors[f"lines[{line.id}]"] = _("Antall må være et helt tall.")
                    else:
                        quantities[line.id] = int(raw)
            if not errors:
                try:
                    fulfilment.register_shipment(db.session, pk, current_actor(), carrier=request.form.get("carrier", ""),
                                                 waybill_number=request.form.get("waybill_number"),
                                                 quantities=quantities)
                    db.session.commit()
                    flash(_("Leveringen er registrert."), "success")
                    return redirect(url_for("OrderView.show", pk=pk))
                except ValidationFailed as exc:
                    db.session.rollback()
                    errors = exc.errors
                except DomainError as exc:
                    fail(exc)
                    return redirect(url_for("OrderView.show", pk=pk))
            order = _order_or_404(pk)  # reloaded after a rollback
        return self.render_template("workflow/shipment_form.html", order=order, errors=errors, form=request.form,
                                    carriers=[c.value for c in Carrier], carrier_labels=labels.CARRIER)

    @expose("/<int:pk>/fakturer", methods=["GET", "POST"])
    @has_access
    @permission_name("bill")
    def bill(self, pk: int):  # type: ignore[no-untyped-def]
        order = _order_or_404(pk)
        if order.status not in INVOICEABLE:
            flash(_("Ordren kan ikke faktureres når den har status «%(status)s».",
                    status=labels.order_status(order.status)), "warning")
            return redirect(url_for("OrderView.show", pk=pk))
        errors: dict[str, str] = {}
        if request.method == "POST":
            invoice_date = _date(request.form.get("invoice_date"))
            due_date = _date(request.form.get("due_date"))
            amount = None
            if not invoice_date:
                errors["invoice_date"] = _("Skriv en gyldig fakturadato.")
            if not due_date:
                errors["due_date"] = _("Skriv en gyldig forfallsdato.")
            if (request.form.get("amount") or "").strip():
                try:  # "1 234,50" as people write it; the rule itself lives in domain/validation.py
                    amount = validate_amount(request.form["amount"].replace(" ", "").replace("\u00a0", ""))
                except InvalidValue as exc:
                    errors["amount"] = str(exc.message)
            if not errors:
                try:
                    fulfilment.register_invoice(db.session, pk, current_actor(), number=request.form.get("number", ""),
                                                invoice_date=invoice_date, due_date=due_date,  # type: ignore[arg-type]
                                                amount=amount)
                    db.session.commit()
                    flash(_("Fakturaen er registrert."), "success")
                    return redirect(url_for("OrderView.show", pk=pk))
                except ValidationFailed as exc:
                    db.session.rollback()
                    errors = exc.errors
                except DomainError as exc:
                    fail(exc)
                    return redirect(url_for("OrderView.show", pk=pk))
            order = _order_or_404(pk)
        today = oslo_today()
        return self.render_template("workflow/invoice_form.html", order=order, errors=errors, form=request.form,
                                    default_date=today.isoformat(),
                                    default_due=(today + dt.timedelta(days=14)).isoformat())
