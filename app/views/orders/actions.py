"""What can be done to an order from its page: cancel, invoice copy (PDF), shipments and invoices."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection
from typing import Any

from flask import Response, abort, current_app, flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.security.decorators import permission_name
from flask_babel import gettext as _
from werkzeug.wrappers import Response as WerkzeugResponse

from app.domain import labels, orders, throttle
from app.domain.formatting import oslo_today
from app.domain.lifecycle import INVOICEABLE, SHIPPABLE
from app.domain.orders import fulfilment
from app.domain.validation import InvalidValue, validate_amount
from app.extensions import db
from app.models import Carrier, Order
from app.views.forms import current_actor, domain_action
from app.views.throttling import per_user

Form = dict[str, Any]
FieldErrors = dict[str, str]


def _date(value: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat((value or "").strip())
    except ValueError:
        return None


def order_or_404(pk: int) -> Order:
    """The order through the (tenant-scoped) session; a row the user cannot see is 404."""
    with domain_action() as done:
        order = orders.get_order(db.session, pk)
    if not done.ok:
        abort(redirect(url_for("OrderView.list")))  # the database refused: said above the list
    return order


def _to_order(pk: int) -> WerkzeugResponse:
    return redirect(url_for("OrderView.show", pk=pk))


def _shipment_input(order: Order) -> tuple[Form, FieldErrors]:
    """The shipment form: carrier, waybill and "qty-<line id>" per line (blank: not shipped now)."""
    quantities: dict[int, int] = {}
    errors: FieldErrors = {}
    for line in order.lines:
        raw = (request.form.get(f"qty-{line.id}") or "").strip()
        if raw:
            if not raw.isdigit() or len(raw) > 6:
                errors[f"lines[{line.id}]"] = _("Antall må være et helt tall.")
            else:
                quantities[line.id] = int(raw)
    return {
        "carrier": request.form.get("carrier", ""),
        "waybill_number": request.form.get("waybill_number"),
        "quantities": quantities,
    }, errors


def _invoice_input(order: Order) -> tuple[Form, FieldErrors]:
    """The invoice form: number, dates as the date input sends them, an amount as people write it."""
    errors: FieldErrors = {}
    values: Form = {
        "number": request.form.get("number", ""),
        "invoice_date": _date(request.form.get("invoice_date")),
        "due_date": _date(request.form.get("due_date")),
        "amount": None,
    }
    if not values["invoice_date"]:
        errors["invoice_date"] = _("Skriv en gyldig fakturadato.")
    if not values["due_date"]:
        errors["due_date"] = _("Skriv en gyldig forfallsdato.")
    if (request.form.get("amount") or "").strip():
        try:  # "1 234,50" as people write it; the rule itself lives in domain/validation.py
            values["amount"] = validate_amount(request.form["amount"].replace(" ", "").replace("\u00a0", ""))
        except InvalidValue as exc:
            errors["amount"] = str(exc.message)
    return values, errors


class OrderActionsView(BaseView):
    route_base = "/ordre"
    base_permissions = ["can_cancel", "can_invoice_copy", "can_ship", "can_bill"]

    @expose("/<int:pk>/kanseller", methods=["POST"])
    @has_access
    @permission_name("cancel")
    def cancel(self, pk: int) -> ResponseReturnValue:
        with domain_action() as done:
            order = orders.cancel_order(db.session, pk, current_actor(), reason=request.form.get("reason") or None)
        if done.ok:
            flash(_("Ordre %(number)s er kansellert.", number=order.number), "success")
        return _to_order(pk)

    @expose("/faktura/<int:pk>/fakturakopi.pdf")
    @has_access
    @permission_name("invoice_copy")
    @per_user(throttle.PDF_DOWNLOAD)
    def invoice_copy(self, pk: int) -> ResponseReturnValue:
        with domain_action() as done:  # another company's invoice: 404
            filename, pdf = orders.invoice_copy(db.session, pk, current_app.config)
        if not done.ok:
            return redirect(url_for("OrderView.list"))
        return Response(
            pdf, mimetype="application/pdf", headers={"Content-Disposition": f'attachment; filename="{filename}"'}
        )

    @expose("/<int:pk>/levering", methods=["GET", "POST"])
    @has_access
    @permission_name("ship")
    def ship(self, pk: int) -> ResponseReturnValue:
        return self._fulfilment_form(
            pk,
            SHIPPABLE,
            _shipment_input,
            lambda values: fulfilment.register_shipment(db.session, pk, current_actor(), **values),
            refused=lambda status: _("Ordren kan ikke leveres når den har status «%(status)s».", status=status),
            done=lambda: _("Leveringen er registrert."),
            template="workflow/shipment_form.html",
            carriers=[c.value for c in Carrier],
            carrier_labels=labels.CARRIER,
        )

    @expose("/<int:pk>/fakturer", methods=["GET", "POST"])
    @has_access
    @permission_name("bill")
    def bill(self, pk: int) -> ResponseReturnValue:
        today = oslo_today()
        return self._fulfilment_form(
            pk,
            INVOICEABLE,
            _invoice_input,
            lambda values: fulfilment.register_invoice(db.session, pk, current_actor(), **values),
            refused=lambda status: _("Ordren kan ikke faktureres når den har status «%(status)s».", status=status),
            done=lambda: _("Fakturaen er registrert."),
            template="workflow/invoice_form.html",
            default_date=today.isoformat(),
            default_due=(today + dt.timedelta(days=14)).isoformat(),
        )

    def _fulfilment_form(
        self,
        pk: int,
        statuses: Collection[str],
        parse: Callable[[Order], tuple[Form, FieldErrors]],
        register: Callable[[Form], Any],
        *,
        refused: Callable[[str], str],
        done: Callable[[], str],
        template: str,
        **context: Any,
    ) -> Any:
        """A shipment or invoice form: shown while the order's status allows it; a refusal of the
        input next to its field, any other refusal above the order's page."""
        order = order_or_404(pk)
        if order.status not in statuses:
            flash(refused(labels.order_status(order.status)), "warning")
            return _to_order(pk)
        errors: FieldErrors = {}
        if request.method == "POST":
            values, errors = parse(order)
            if not errors:
                with domain_action(errors_on_page=True) as outcome:
                    register(values)
                if outcome.ok:
                    flash(done(), "success")
                    return _to_order(pk)
                if not outcome.errors:  # refused for the order's sake: said above its page
                    return _to_order(pk)
                errors = outcome.errors
                order = order_or_404(pk)  # reloaded after the rollback
        return self.render_template(template, order=order, errors=errors, form=request.form, **context)
