"""Faste ordre: the list and page of a plan (StandingOrderView) and the pages that create and change one, pause it and skip a delivery (StandingOrderFormView). Rules: app/domain/standing_orders.py."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from flask import abort, flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.security.decorators import permission_name
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from app.domain import idempotency, labels
from app.domain import standing_orders as rules
from app.domain.catalogue import LineInput
from app.domain.formatting import format_date, oslo_today
from app.extensions import db
from app.models import (
    Company,
    DeliveryAddress,
    Product,
    StandingOrder,
    StandingOrderLine,
)
from app.tenancy import current_tenant
from app.views.base import (
    PortalInterface,
    PortalModelView,
    fmt_code,
    fmt_date,
    fmt_datetime,
    fmt_yes_no,
    user_can,
)
from app.views.forms import _int, current_actor, domain_action, form_id, parse_lines
from app.views.orders.overview import line_configuration
from app.views.orders.placing import STANDING, TOKEN_FIELD, form_pricing, new_token, product_json

VIEW = "StandingOrderFormView"


# --- list and show ------------------------------------------------------------------------


def next_delivery_text(item: StandingOrder) -> str:
    """List column "Neste levering": pure date arithmetic, no query per row."""
    upcoming = rules.upcoming(item, oslo_today(), count=1)
    return format_date(upcoming[0].delivered) if upcoming else _("Ingen")


def list_notice() -> dict[str, Any]:
    """Template global for the standing order list: may the user create one, and if not, why."""
    tenant = current_tenant()
    invoice = tenant is None or rules.is_invoice_customer(db.session.get(Company, tenant))
    can_new = tenant is not None and user_can("can_new", VIEW)
    return {
        "customer": tenant is not None,
        "invoice_customer": invoice,
        "can_new": can_new and invoice,
        "new_url": url_for(f"{VIEW}.new") if can_new and invoice else None,
        "message": rules.not_invoice_customer_message(),
    }


def show_context(item: StandingOrder) -> dict[str, Any]:
    """What the plan's page shows besides FAB's fields (a fixed number of queries)."""
    today = oslo_today()
    lines = [
        {
            "sku": ln.product.sku if ln.product else "",
            "product": ln.product.name if ln.product else "",
            "quantity": ln.quantity,
            "configuration": line_configuration(ln),
        }
        for ln in item.lines
    ]
    upcoming = rules.upcoming(item, today, count=5)
    invoice = rules.is_invoice_customer(item.company)
    editable = invoice and (current_tenant() is None or current_tenant() == item.company_id)
    actions = {}
    if editable and user_can("can_edit", VIEW):
        actions["edit"] = url_for(f"{VIEW}.edit", pk=item.id)
    if editable and user_can("can_pause", VIEW):
        actions["pause"] = url_for(f"{VIEW}.pause", pk=item.id)
    if editable and user_can("can_skip", VIEW):
        actions["skip"] = url_for(f"{VIEW}.skip", pk=item.id)
    return {
        "lines": lines,
        "plan_label": rules.plan_text(item),
        "upcoming": upcoming,
        "skip_choices": rules.skip_choices(item, today),
        "generated": rules.generated_orders(db.session, item.id),
        "invoice_customer": invoice,
        "not_invoice_message": rules.not_invoice_customer_message(),
        "so_actions": actions,
        "today": today,
        "order_status": lambda code: labels.label(labels.ORDER_STATUS, code),
    }


class StandingOrderView(PortalModelView):
    datamodel = PortalInterface(
        StandingOrder,
        list_options=[joinedload(StandingOrder.company), joinedload(StandingOrder.delivery_address)],
        item_options=[
            joinedload(StandingOrder.company),
            joinedload(StandingOrder.delivery_address),
            joinedload(StandingOrder.created_by),
            selectinload(StandingOrder.lines).joinedload(StandingOrderLine.product),
        ],
    )
    base_permissions = ["can_list", "can_show"]

    list_title = _l("Faste ordre")
    show_title = _l("Fast ordre")
    label_columns = {
        "name": _l("Navn"),
        "company": _l("Bedrift"),
        "plan": _l("Leveringsplan"),
        "delivery_address": _l("Leveringsadresse"),
        "start_date": _l("Startdato"),
        "end_date": _l("Sluttdato"),
        "paused_until": _l("Pause til og med"),
        "skip_date": _l("Hopper over"),
        "next_delivery": _l("Neste levering"),
        "active": _l("Aktiv"),
        "created_by": _l("Opprettet av"),
        "created_at": _l("Opprettet"),
        "frequency": _l("Frekvens"),
    }
    formatters_columns = {
        "start_date": fmt_date,
        "end_date": fmt_date,
        "paused_until": fmt_date,
        "skip_date": fmt_date,
        "active": fmt_yes_no,
        "created_at": fmt_datetime,
        "frequency": fmt_code(labels.FREQUENCY),
    }
    computed_columns = {"plan": rules.plan_text, "next_delivery": next_delivery_text}
    list_columns = ["name", "company", "plan", "next_delivery", "delivery_address", "start_date", "end_date", "active"]
    list_columns_customer = [
        "name",
        "plan",
        "next_delivery",
        "delivery_address",
        "start_date",
        "end_date",
        "paused_until",
        "active",
    ]
    order_columns = ["name", "start_date", "end_date"]
    base_order = ("created_at", "desc")
    search_columns = ["name", "active", "start_date"]
    show_fieldsets = [
        (
            _l("Fast ordre"),
            {
                "fields": [
                    "name",
                    "company",
                    "plan",
                    "delivery_address",
                    "start_date",
                    "end_date",
                    "paused_until",
                    "skip_date",
                    "active",
                    "created_by",
                    "created_at",
                ]
            },
        ),
    ]
    # Next deliveries, generated orders, pause/skip and "Opprett fast ordre": StandingOrderFormView.
    list_template = "standing_orders/list.html"
    show_template = "standing_orders/show.html"

    def show_context(self, item: StandingOrder) -> dict[str, Any]:
        return show_context(item)


# --- form parsing ---------------------------------------------------------------------------


def parse_date(value: str | None) -> tuple[dt.date | None, bool]:
    """(date, ok) from an <input type=date> (YYYY-MM-DD) or typed dd.mm.åååå; blank is (None, True)."""
    text = (value or "").strip()
    if not text:
        return None, True
    for fmt in ("%Y-%m-%d", "%d.%m.%Y"):
        try:
            return dt.datetime.strptime(text, fmt).date(), True
        except ValueError:
            continue
    return None, False


def _parse_plan(form: Any) -> tuple[rules.PlanInput, dict[str, str]]:
    errors: dict[str, str] = {}
    values: dict[str, Any] = {
        "name": (form.get("name") or "").strip()[:300],
        "delivery_address_id": form_id(form, "delivery_address_id"),
        "frequency": (form.get("frequency") or "").strip()[:20] or None,
    }
    for name in ("interval_weeks", "weekday", "day_of_month"):
        number, ok = _int(form.get(name), maximum=1000)
        if not ok:
            errors[name] = _("Skriv et helt tall.")
        values[name] = number
    for name in ("start_date", "end_date"):
        day, ok = parse_date(form.get(name))
        if not ok:
            errors[name] = _("Skriv en dato (dd.mm.åååå).")
        values[name] = day
    # An unticked box is not posted: the form always has it, so its absence is "no".
    values["holiday_shift"] = bool(form.get("holiday_shift"))
    lines, line_errors = parse_lines(form)
    errors.update(line_errors)
    return rules.PlanInput(**values, lines=lines), errors


def _addresses(company_id: int) -> list[DeliveryAddress]:
    return list(
        db.session.scalars(
            select(DeliveryAddress)
            .where(DeliveryAddress.company_id == company_id, DeliveryAddress.active.is_(True))
            .order_by(DeliveryAddress.recipient_name)
        )
    )


def _products(lines: list[LineInput]) -> dict[int, Product]:
    ids = {ln.product_id for ln in lines if ln.product_id}
    return {p.id: p for p in db.session.scalars(select(Product).where(Product.id.in_(ids)))} if ids else {}


def _create_once(actor: Any, company_id: int, data: Any, token: str) -> idempotency.Placed[StandingOrder]:
    """A new standing order, made once per form token (a double submit finds the first one)."""
    if not token:  # a POST without the form's token (a script): made as it comes
        return idempotency.Placed(row=rules.create_standing_order(db.session, actor, company_id, data), made_now=True)
    return idempotency.once(
        db.session,
        user_id=actor.id,
        scope=idempotency.STANDING_FORM,
        key=token,
        make=lambda: rules.create_standing_order(db.session, actor, company_id, data),
        model=StandingOrder,
    )


def _form_values(item: StandingOrder | None, form: Any) -> dict[str, Any]:
    """What the form fields show: the posted values, else the plan's, else sensible defaults."""
    if request.method == "POST":
        return {
            k: form.get(k, "")
            for k in (
                "name",
                "delivery_address_id",
                "frequency",
                "interval_weeks",
                "weekday",
                "day_of_month",
                "start_date",
                "end_date",
            )
        } | {"active": bool(form.get("active")), "holiday_shift": bool(form.get("holiday_shift"))}
    if item is None:
        start = oslo_today() + dt.timedelta(days=1)
        return {
            "name": "",
            "delivery_address_id": "",
            "frequency": "weekly",
            "interval_weeks": "2",
            "weekday": str(start.weekday()),
            "day_of_month": str(start.day),
            "start_date": start.isoformat(),
            "end_date": "",
            "active": True,
            "holiday_shift": True,
        }
    return {
        "name": item.name,
        "delivery_address_id": str(item.delivery_address_id),
        "frequency": item.frequency,
        "interval_weeks": str(item.interval_weeks or 2),
        "weekday": "" if item.weekday is None else str(item.weekday),
        "day_of_month": str(item.day_of_month or ""),
        "start_date": item.start_date.isoformat(),
        "end_date": item.end_date.isoformat() if item.end_date else "",
        "active": item.active,
        "holiday_shift": item.holiday_shift,
    }


class StandingOrderFormView(BaseView):
    """/faste-ordre/ny, /faste-ordre/<id>/endre, /<id>/pause, /<id>/hopp-over (customer admin)."""

    route_base = "/faste-ordre"
    default_view = "new"
    base_permissions = ["can_new", "can_edit", "can_pause", "can_skip"]

    def _load(self, pk: int) -> StandingOrder:
        item = db.session.scalars(
            select(StandingOrder)
            .options(
                joinedload(StandingOrder.company),
                selectinload(StandingOrder.lines).joinedload(StandingOrderLine.product),
            )
            .where(StandingOrder.id == pk)
        ).first()  # through the tenancy guard: a foreign plan is None
        if item is None:
            abort(404)
        return item

    def _show(self, item_id: int) -> ResponseReturnValue:
        return redirect(url_for("StandingOrderView.show", pk=item_id))

    @expose("/ny", methods=["GET", "POST"])
    @has_access
    @permission_name("new")
    def new(self) -> ResponseReturnValue:
        actor = current_actor()
        if not actor.is_customer:
            flash(_("Faste ordre opprettes av kundens administrator i portalen."), "info")
            return redirect(url_for("StandingOrderView.list"))
        company = db.session.get(Company, actor.company_id)
        if company is None:
            abort(404)
        invoice = rules.is_invoice_customer(company)
        errors: dict[str, str] = {}
        lines: list[LineInput] = []
        token = request.form.get(TOKEN_FIELD, "")
        if request.method == "POST" and invoice:
            data, errors = _parse_plan(request.form)
            lines = list(data.lines or [])
            if token and not idempotency.valid_key(token):
                flash(
                    _("Den faste ordren er ikke lagret: skjemaet var ugyldig. Kontroller den og lagre igjen."), "danger"
                )
                token = new_token()
            elif not errors:
                placed: idempotency.Placed[StandingOrder] | None = None
                with domain_action(errors_on_page=True) as done:
                    placed = _create_once(actor, company.id, data, token)
                if done.ok and placed is not None:
                    if placed.made_now:
                        flash(_("Den faste ordren «%(name)s» er lagret.", name=placed.row.name), "success")
                    else:
                        flash(
                            _(
                                "Den faste ordren «%(name)s» var allerede lagret, og den ble ikke lagret på nytt.",
                                name=placed.row.name,
                            ),
                            "info",
                        )
                    return self._show(placed.row.id)
                errors = done.errors
            if errors:
                flash(_("Den faste ordren er ikke lagret. Rett feltene som er merket."), "danger")
        return self._render_form(None, company, invoice, lines, errors, order_token=token or new_token())

    @expose("/<int:pk>/endre", methods=["GET", "POST"])
    @has_access
    @permission_name("edit")
    def edit(self, pk: int) -> ResponseReturnValue:
        item = self._load(pk)
        invoice = rules.is_invoice_customer(item.company)
        errors: dict[str, str] = {}
        lines = [
            LineInput(
                product_id=ln.product_id,
                quantity=ln.quantity,
                width=ln.width,
                depth=ln.depth,
                fabric=ln.fabric,
                colour=ln.colour,
            )
            for ln in item.lines
        ]
        if request.method == "POST" and invoice:
            data, errors = _parse_plan(request.form)
            data.active = bool(request.form.get("active"))
            lines = list(data.lines or [])
            if not errors:
                with domain_action(errors_on_page=True) as done:
                    rules.update_standing_order(db.session, item.id, current_actor(), data)
                if done.ok:
                    flash(_("Endringene er lagret."), "success")
                    return self._show(pk)
                errors = done.errors
            if errors:
                flash(_("Endringene er ikke lagret. Rett feltene som er merket."), "danger")
                item = self._load(pk)
        return self._render_form(item, item.company, invoice, lines, errors)

    def _render_form(
        self,
        item: StandingOrder | None,
        company: Company,
        invoice: bool,
        lines: list[LineInput],
        errors: dict[str, str],
        order_token: str | None = None,
    ):
        return self.render_template(
            "standing_orders/form.html",
            item=item,
            order_token=order_token,
            company=company,
            invoice_customer=invoice,
            not_invoice_message=rules.not_invoice_customer_message(),
            addresses=_addresses(company.id),
            lines=lines,
            errors=errors,
            products=_products(lines),
            product_json=product_json,
            priced=form_pricing(current_actor(), STANDING, lines),
            price_form=STANDING,
            values=_form_values(item, request.form),
            weekdays=labels.WEEKDAY,
            frequencies=labels.FREQUENCY,
            max_interval=rules.MAX_INTERVAL_WEEKS,
        )

    def _set_date(
        self,
        pk: int,
        field: str,
        clear: str,
        missing: str,
        change: Callable[..., StandingOrder],
        said: Callable[[dt.date | None], str],
    ) -> Any:
        """Pause and skip: a date from the form (or the `clear` button), then the domain's change."""
        item = self._load(pk)
        clearing = clear in request.form
        day, ok = (None, True) if clearing else parse_date(request.form.get(field))
        if not ok or (day is None and not clearing):
            flash(missing, "danger")
            return self._show(item.id)
        with domain_action() as done:
            change(db.session, item.id, current_actor(), day)
        if done.ok:
            flash(said(day), "success")
        return self._show(item.id)

    @expose("/<int:pk>/pause", methods=["POST"])
    @has_access
    @permission_name("pause")
    def pause(self, pk: int) -> ResponseReturnValue:
        return self._set_date(
            pk,
            "until",
            "end",
            _("Velg datoen pausen skal vare til og med."),
            rules.pause,
            lambda until: (
                _("Pausen er avsluttet.")
                if until is None
                else _("Leveringene har pause til og med %(date)s.", date=format_date(until))
            ),
        )

    @expose("/<int:pk>/hopp-over", methods=["POST"])
    @has_access
    @permission_name("skip")
    def skip(self, pk: int) -> ResponseReturnValue:
        return self._set_date(
            pk,
            "date",
            "undo",
            _("Velg leveringen som skal hoppes over."),
            rules.skip,
            lambda day: (
                _("Leveringen blir likevel levert.")
                if day is None
                else _("Leveringen %(date)s hoppes over.", date=format_date(day))
            ),
        )
