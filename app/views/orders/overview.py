"""Ordreoversikt: the same OrderView for every role; the guard limits customers to their company's rows."""

from __future__ import annotations

import builtins
import datetime as dt
from typing import Any, NamedTuple

from dateutil import parser as date_parser
from flask import g, url_for
from flask_appbuilder import expose
from flask_appbuilder.exceptions import ApplyFilterException
from flask_appbuilder.fields import QuerySelectField
from flask_appbuilder.fieldwidgets import Select2Widget
from flask_appbuilder.models.filters import BaseFilter
from flask_appbuilder.models.sqla.filters import get_field_setup_query
from flask_appbuilder.security.decorators import has_access, permission_name
from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape
from sqlalchemy import select
from sqlalchemy.orm import joinedload, lazyload, load_only, selectinload
from wtforms import DateField
from wtforms.widgets import DateInput

from app.domain import labels
from app.domain.actors import Actor
from app.domain.approvals import awaits_decision
from app.domain.formatting import oslo_midnight_utc
from app.domain.lifecycle import INVOICEABLE, SHIPPABLE
from app.domain.orders import cancel_refusal, tracking_url
from app.domain.orders.tracking import ANCHOR, Tracking, tracking_columns, tracking_of, tracking_of_row
from app.extensions import db
from app.models import Order, OrderLine, PortalUser
from app.tenancy import current_tenant
from app.views.base import (
    PortalInterface,
    PortalModelView,
    code_select,
    fmt_code,
    fmt_date,
    fmt_datetime,
    fmt_nok,
    fmt_yes_no,
    is_customer,
    user_can,
)
from app.views.fragments import kept_while_users_unchanged
from app.views.orders.export import export_links, export_response

ORDER_LABELS = {
    "number": _l("Ordrenummer"),
    "created_at": _l("Bestilt"),
    "company": _l("Bedrift"),
    "channel": _l("Kanal"),
    "status": _l("Status"),
    "customer_reference": _l("Deres referanse"),
    "created_by": _l("Bestilt av"),
    "delivery_address": _l("Leveringsadresse"),
    "delivery_date": _l("Leveringsdato"),
    "total_ex_vat": _l("Sum eks. mva."),
    "total_vat": _l("Mva."),
    "total_inc_vat": _l("Sum inkl. mva."),
    "over_budget": _l("Over bruksgrense"),
    "quote": _l("Fra tilbud"),
    "standing_order": _l("Fra fast ordre"),
    "tracking": _l("Sporing"),
}


def sporing_link(order_id: int, tracking: Tracking | None) -> Markup:
    """ "Sporing": the carrier's page for one waybill, else the order's shipments (its "Sporing" section)."""
    if tracking is None:
        return Markup("")
    label = escape(str(_l("Sporing")))
    if tracking.carrier_url:
        return Markup('<a class="sporing" href="{}" target="_blank" rel="noopener noreferrer">{}</a>').format(
            tracking.carrier_url, label
        )
    href = url_for("OrderView.show", pk=order_id, _anchor=ANCHOR)
    return Markup('<a class="sporing" href="{}">{} ({})</a>').format(href, label, tracking.shipments)


def line_configuration(line: Any) -> str:
    """ "120 × 80 cm, Stoff: Ull grå, Farge: Eik" for a configured order/quote/standing-order line."""
    parts = []
    if line.width and line.depth:
        parts.append(f"{line.width} × {line.depth} cm")
    elif line.width or line.depth:  # a product measured one way only: "140 cm"
        parts.append(f"{line.width or line.depth} cm")
    if line.fabric:
        parts.append(f"{_l('Stoff')}: {line.fabric}")
    if line.colour:
        parts.append(f"{_l('Farge')}: {line.colour}")
    return ", ".join(parts)


# --- search: "Bestilt av" and a date range in Oslo time -------------------------------------------


class Creator(NamedTuple):
    id: int
    first_name: str
    last_name: str
    username: str


def _creator_choices() -> list[Creator]:
    """Users offered by the "Bestilt av" filter: a customer's colleagues (the guard scopes the
    query to the company), for supplier staff the staff (never every customer user: thousands).
    Kept per company while no user changes (app/views/fragments.py)."""
    return kept_while_users_unchanged(("bestilt av", current_tenant()), _read_creators)


def _read_creators() -> list[Creator]:
    # Only what the label needs: the user's roles and groups are not loaded for a filter choice.
    query = (
        select(PortalUser)
        .options(
            load_only(PortalUser.id, PortalUser.first_name, PortalUser.last_name, PortalUser.username), lazyload("*")
        )
        .order_by(PortalUser.first_name, PortalUser.last_name)
    )
    if not is_customer():
        query = query.where(PortalUser.company_id.is_(None))
    return [Creator(u.id, u.first_name, u.last_name, u.username) for u in db.session.scalars(query)]


def date_search_field(label: Any) -> DateField:
    """A date in a list's search form as the browser's own date input (always yyyy-mm-dd).

    FAB 5.3's date picker breaks in a filter row: its script calls a `datetimepicker` plugin FAB
    no longer loads, and bootstrap-datepicker then fills in mm/dd/yyyy."""
    return DateField(label, format="%Y-%m-%d", widget=DateInput(), render_kw={"class": "form-control"})


def _search_day(value: Any) -> dt.date | None:
    """A day typed or picked in the search form: 2025-03-11, 11.03.2025 (or with a time); blank: None."""
    text = str(value or "").strip()
    if not text:
        return None
    try:
        if "-" in text[:5]:
            return date_parser.isoparse(text).date()
        return date_parser.parse(text, dayfirst=True).date()
    except (ValueError, OverflowError):
        raise ApplyFilterException(str(_l("Skriv datoen som dd.mm.åååå, for eksempel 11.03.2025."))) from None


class FilterOsloDayFrom(BaseFilter):
    """Placed on or after this day (midnight Europe/Oslo; times are stored in UTC)."""

    name = _l("Fra og med dato")
    arg_name = "from_day"

    def apply(self, query: Any, value: Any) -> Any:
        day = _search_day(value)
        if day is None:  # an empty filter row narrows nothing
            return query
        query, field = get_field_setup_query(query, self.model, self.column_name)
        return query.filter(field >= oslo_midnight_utc(day))


class FilterOsloDayTo(BaseFilter):
    """Placed on or before this day (Europe/Oslo)."""

    name = _l("Til og med dato")
    arg_name = "to_day"

    def apply(self, query: Any, value: Any) -> Any:
        day = _search_day(value)
        if day is None:
            return query
        query, field = get_field_setup_query(query, self.model, self.column_name)
        return query.filter(field < oslo_midnight_utc(day + dt.timedelta(days=1)))


class OrderView(PortalModelView):
    datamodel = PortalInterface(
        Order,
        list_options=[joinedload(Order.company), joinedload(Order.created_by)],
        list_columns=tracking_columns(),
        item_options=[
            joinedload(Order.company),
            joinedload(Order.created_by),
            joinedload(Order.delivery_address),
            joinedload(Order.quote),
            joinedload(Order.standing_order),
            selectinload(Order.lines).joinedload(OrderLine.product),
            selectinload(Order.shipments),
            selectinload(Order.invoices),
            selectinload(Order.events),
        ],
    )
    # The workflow (approve, reject, cancel, ship, bill) has its own views: ApprovalQueueView, OrderActionsView.
    base_permissions = ["can_list", "can_show"]

    list_title = _l("Ordreoversikt")
    show_title = _l("Ordre")
    label_columns = ORDER_LABELS
    formatters_columns = {
        "created_at": fmt_datetime,
        "channel": fmt_code(labels.ORDER_CHANNEL),
        "status": fmt_code(labels.ORDER_STATUS),
        "total_ex_vat": fmt_nok,
        "total_vat": fmt_nok,
        "total_inc_vat": fmt_nok,
        "delivery_date": fmt_date,
        "over_budget": fmt_yes_no,
    }
    # Number, status and sum first: what a phone (390 px) shows without scrolling.
    list_columns = [
        "number",
        "status",
        "total_inc_vat",
        "created_at",
        "company",
        "channel",
        "customer_reference",
        "created_by",
        "tracking",
    ]
    list_columns_customer = [
        "number",
        "status",
        "total_inc_vat",
        "created_at",
        "channel",
        "customer_reference",
        "created_by",
        "tracking",
    ]
    order_columns = ["number", "created_at", "channel", "status", "customer_reference"]
    base_order = ("created_at", "desc")
    number_prefix_columns = ("number",)
    code_filter_columns = ("status", "channel")
    search_columns = ["number", "status", "channel", "created_at", "created_by", "customer_reference", "delivery_date"]
    search_form_extra_fields = {
        "status": code_select(_l("Status"), labels.ORDER_STATUS, search=True),
        "channel": code_select(_l("Kanal"), labels.ORDER_CHANNEL, search=True),
        "created_at": date_search_field(_l("Bestilt")),
        "delivery_date": date_search_field(_l("Leveringsdato")),
        "created_by": QuerySelectField(
            _l("Bestilt av"),
            query_func=_creator_choices,
            get_pk_func=lambda user: user.id,
            get_label=lambda user: f"{user.first_name} {user.last_name} ({user.username})",
            widget=Select2Widget(),
        ),
    }
    show_fieldsets = [
        (
            _l("Ordre"),
            {
                "fields": [
                    "number",
                    "status",
                    "created_at",
                    "company",
                    "channel",
                    "created_by",
                    "customer_reference",
                    "delivery_date",
                    "over_budget",
                    "quote",
                ]
            },
        ),
    ]
    show_template = "portal/order_show.html"
    computed_columns = {"created_by": labels.ordered_by}

    def _init_properties(self) -> None:
        super()._init_properties()
        # "Bestilt" is searched by whole days in Oslo time: from and to (a range), not FAB's
        # UTC datetime comparisons.
        days = [FilterOsloDayFrom("created_at", self.datamodel), FilterOsloDayTo("created_at", self.datamodel)]
        self._filters.get_search_filters()["created_at"] = days
        self._filters._all_filters["created_at"] = days

    @expose("/eksport/<kind>")
    @has_access
    @permission_name("list")  # who sees the list may take it along, filtered as it is shown
    def export(self, kind: str) -> Any:
        return export_response(self, kind)

    def _get_list_widget(self, filters, *args, **kwargs):
        kwargs.setdefault("export_links", export_links())
        return super()._get_list_widget(filters, *args, **kwargs)

    def values(self, items: Any, columns: Any) -> builtins.list[dict[str, Any]]:
        """The page's rows; "Sporing" read with the rows (`tracking_columns`)."""
        items = list(items)
        rows = super().values(items, [c for c in columns if c != "tracking"])
        if "tracking" in columns:
            for row, order in zip(rows, items, strict=True):
                row["tracking"] = sporing_link(order.id, tracking_of_row(order))
        return rows

    def show_context(self, item: Order) -> dict[str, Any]:
        shipments = [
            {
                "carrier": labels.label(labels.CARRIER, s.carrier),
                "waybill": s.waybill_number or "",
                "url": tracking_url(s.carrier, s.waybill_number),
                "shipped_at": s.shipped_at,
                "delivered_at": s.delivered_at,
                "signed_by": s.signed_by or "",
            }
            for s in item.shipments
        ]
        lines = [
            {
                "line_no": ln.line_no,
                "sku": ln.product.sku if ln.product else "",
                "product": ln.product.name if ln.product else "",
                "quantity": ln.quantity,
                "configuration": line_configuration(ln),
                "unit_price": ln.unit_price,
                "status": labels.line_status(ln),
                "delivered_quantity": ln.delivered_quantity,
                "line_total": ln.line_total,
            }
            for ln in item.lines
        ]
        events = [
            {
                "at": e.at,
                "who": e.actor_name or "",
                "from": labels.order_status(e.from_status),
                "to": labels.order_status(e.to_status),
                "reason": e.reason or "",
            }
            for e in item.events
        ]
        return {
            "order": item,
            "lines": lines,
            "shipments": shipments,
            "sporing": sporing_link(item.id, tracking_of(item.shipments)),
            "sporing_anchor": ANCHOR,
            "invoices": list(item.invoices),
            "events": events,
            "actions": self._actions(item),
            "invoice_copy": user_can("can_invoice_copy", "OrderActionsView"),
        }

    def _actions(self, order: Order) -> dict[str, str]:
        """Workflow buttons (app/views/orders/actions.py, app/views/approvals.py) this user may use now."""
        actions: dict[str, str] = {}
        if awaits_decision(order):
            if user_can("can_approve", "ApprovalQueueView"):
                actions["approve"] = url_for("ApprovalQueueView.approve")
            if user_can("can_reject", "ApprovalQueueView"):
                actions["reject"] = url_for("ApprovalQueueView.reject", pk=order.id)
        if (
            user_can("can_cancel", "OrderActionsView")
            and cancel_refusal(order, Actor.from_user(g.user), has_shipment=bool(order.shipments)) is None
        ):
            actions["cancel"] = url_for("OrderActionsView.cancel", pk=order.id)
        if order.status in SHIPPABLE and user_can("can_ship", "OrderActionsView"):
            actions["ship"] = url_for("OrderActionsView.ship", pk=order.id)
        if order.status in INVOICEABLE and user_can("can_bill", "OrderActionsView"):
            actions["bill"] = url_for("OrderActionsView.bill", pk=order.id)
        return actions


class OrderLineView(PortalModelView):
    """Order lines on their own (no menu; the order page shows them)."""

    datamodel = PortalInterface(OrderLine, list_options=[joinedload(OrderLine.order), joinedload(OrderLine.product)])
    base_permissions = ["can_list", "can_show"]

    list_title = _l("Ordrelinjer")
    show_title = _l("Ordrelinje")
    label_columns = {
        "order": _l("Ordre"),
        "line_no": _l("Linje"),
        "product": _l("Produkt"),
        "quantity": _l("Antall"),
        "configuration": _l("Mål og variant"),
        "unit_price": _l("Enhetspris eks. mva."),
        "vat_rate": _l("Mva-sats (%)"),
        "status": _l("Linjestatus"),
        "delivered_quantity": _l("Levert antall"),
        "line_total": _l("Linjesum eks. mva."),
    }
    formatters_columns = {
        "unit_price": fmt_nok,
        "line_total": fmt_nok,
    }
    computed_columns = {"configuration": line_configuration, "status": labels.line_status}
    list_columns = [
        "order",
        "line_no",
        "product",
        "quantity",
        "configuration",
        "status",
        "delivered_quantity",
        "line_total",
    ]
    order_columns = ["line_no", "quantity", "status"]
    base_order = ("id", "desc")
    search_columns = ["status", "quantity"]
    show_columns = [
        "order",
        "line_no",
        "product",
        "quantity",
        "configuration",
        "unit_price",
        "vat_rate",
        "status",
        "delivered_quantity",
        "line_total",
    ]
