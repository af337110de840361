"""Klikk og Hent: the company's click-and-collect reservations, active and finished shown apart
(customers), and customer service moving them through their states. Rules: app/domain/pickup.py."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_appbuilder.baseviews import expose
from flask_appbuilder.security.decorators import has_access, permission_name
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import joinedload

from app.domain import labels, pickup
from app.domain.errors import NotAllowed, ValidationFailed
from app.models import PickupReservation
from app.views.base import (
    PortalInterface,
    PortalModelView,
    code_select,
    fmt_code,
    fmt_datetime,
    is_customer,
    user_can,
)
from app.views.forms import DomainFormMixin, OsloDateTimeField, current_actor, domain_action


def items_text(reservation: PickupReservation) -> str:
    """ "2 × Kontorstol Basic (STOL-1)", one line per reserved item."""
    lines = []
    for row in reservation.items or []:
        qty = row.get("quantity", 1) if isinstance(row, dict) else 1
        name = row.get("name", "") if isinstance(row, dict) else str(row)
        sku = row.get("sku", "") if isinstance(row, dict) else ""
        lines.append(f"{qty} × {name}" + (f" ({sku})" if sku else ""))
    return "\n".join(lines)


# Button labels of the moves (to-status -> label), in the order they are offered.
MOVE_LABELS: dict[str, Any] = {
    pickup.READY: _l("Klar til henting"),
    pickup.COLLECTED: _l("Registrer som hentet"),
    pickup.EXPIRED: _l("Marker som utløpt"),
    pickup.CANCELLED: _l("Kanseller reservasjonen"),
}
MOVE_ENDPOINTS = {
    pickup.READY: "ready",
    pickup.COLLECTED: "collected",
    pickup.EXPIRED: "expire",
    pickup.CANCELLED: "cancel",
}
MOVE_DONE: dict[str, Any] = {
    pickup.READY: _l("Reservasjonen er klar til henting."),
    pickup.COLLECTED: _l("Reservasjonen er registrert som hentet."),
    pickup.EXPIRED: _l("Reservasjonen er markert som utløpt."),
    pickup.CANCELLED: _l("Reservasjonen er kansellert."),
}


class PickupReservationView(DomainFormMixin, PortalModelView):
    datamodel = PortalInterface(
        PickupReservation,
        list_options=[joinedload(PickupReservation.store), joinedload(PickupReservation.company)],
        item_options=[
            joinedload(PickupReservation.store),
            joinedload(PickupReservation.company),
            joinedload(PickupReservation.created_by),
        ],
    )
    base_permissions = ["can_list", "can_show", "can_edit", "can_cancel", "can_move"]

    list_title = _l("Klikk og Hent")
    show_title = _l("Reservasjon")
    edit_title = _l("Endre reservasjon")
    label_columns = {
        "pickup_code": _l("Hentekode"),
        "store": _l("Butikk"),
        "status": _l("Status"),
        "pickup_deadline": _l("Hentes innen"),
        "company": _l("Bedrift"),
        "created_by": _l("Reservert av"),
        "created_at": _l("Reservert"),
        "items_text": _l("Varer"),
    }
    formatters_columns = {
        "status": fmt_code(labels.RESERVATION_STATUS),
        "pickup_deadline": fmt_datetime,
        "created_at": fmt_datetime,
    }
    computed_columns = {"items_text": items_text}
    list_columns = ["pickup_code", "store", "status", "pickup_deadline", "company", "created_at"]
    list_columns_customer = ["pickup_code", "store", "status", "pickup_deadline", "items_text", "created_at"]
    order_columns = ["pickup_code", "status", "pickup_deadline", "created_at"]
    base_order = ("created_at", "desc")
    search_columns = ["pickup_code", "status", "pickup_deadline"]
    search_form_extra_fields = {
        "status": code_select(_l("Status"), labels.RESERVATION_STATUS, search=True),
    }
    show_columns = [
        "pickup_code",
        "store",
        "status",
        "pickup_deadline",
        "items_text",
        "company",
        "created_by",
        "created_at",
    ]
    show_template = "portal/pickup_show.html"
    edit_columns = ["status", "pickup_deadline"]
    edit_form_extra_fields = {
        "status": code_select(_l("Status"), labels.RESERVATION_STATUS),
        "pickup_deadline": OsloDateTimeField(_l("Hentes innen"), description=_l("Norsk tid (ÅÅÅÅ-MM-DD TT:MM:SS).")),
    }

    # --- the company's page: active and finished apart --------------------------------------

    @expose("/list/")
    @has_access
    def list(self) -> ResponseReturnValue:
        if not is_customer():
            return super().list()
        active, finished = pickup.company_reservations(self.datamodel.session)
        self.update_redirect()
        return self.render_template(
            "portal/pickup_list.html",
            title=self.list_title,
            active=active,
            finished=finished,
            items_text=items_text,
            status_label=lambda code: labels.label(labels.RESERVATION_STATUS, code),
            can_cancel=user_can("can_cancel", "PickupReservationView"),
        )

    def show_context(self, item: PickupReservation) -> dict[str, Any]:
        actor = current_actor()
        moves = [
            m
            for m in pickup.moves_for(item, actor)
            if user_can("can_cancel" if m == pickup.CANCELLED else "can_move", "PickupReservationView")
        ]
        return {"moves": [(MOVE_ENDPOINTS[m], MOVE_LABELS[m]) for m in moves], "overdue": pickup.overdue(item)}

    # --- customer service's edit form: deadline and status, through the same rules --------

    def domain_edit(self, item: PickupReservation, form: Any) -> PickupReservation:
        session, actor = self.datamodel.session, current_actor()
        pickup.set_deadline(session, item.id, actor, form.pickup_deadline.utc_data)
        if form.status.data != item.status:
            try:
                pickup.move(session, item.id, actor, form.status.data)
            except NotAllowed as exc:
                raise ValidationFailed({"status": str(exc.message)}) from exc
        return item

    # --- the moves ----------------------------------------------------------------------------

    def _move(self, pk: str, to_status: str) -> ResponseReturnValue:
        reservation_id = self._pk_or_404(pk)
        with domain_action() as done:
            pickup.move(self.datamodel.session, reservation_id, current_actor(), to_status)
        if done.ok:
            flash(str(MOVE_DONE[to_status]), "success")
        if request.form.get("next") == "list":
            return redirect(url_for(f"{self.endpoint}.list"))
        return redirect(url_for(f"{self.endpoint}.show", pk=reservation_id))

    @expose("/cancel/<pk>", methods=["POST"])
    @has_access
    @permission_name("cancel")
    def cancel(self, pk: str) -> ResponseReturnValue:
        return self._move(pk, pickup.CANCELLED)

    @expose("/ready/<pk>", methods=["POST"])
    @has_access
    @permission_name("move")
    def ready(self, pk: str) -> ResponseReturnValue:
        return self._move(pk, pickup.READY)

    @expose("/collected/<pk>", methods=["POST"])
    @has_access
    @permission_name("move")
    def collected(self, pk: str) -> ResponseReturnValue:
        return self._move(pk, pickup.COLLECTED)

    @expose("/expire/<pk>", methods=["POST"])
    @has_access
    @permission_name("move")
    def expire(self, pk: str) -> ResponseReturnValue:
        return self._move(pk, pickup.EXPIRED)
