"""Click and collect (Klikk og Hent): reservations in the supplier's stores, and their moves
through the states (app/domain/pickup.py)."""
from __future__ import annotations

import secrets
from typing import Any

from flask import Response
from flask_appbuilder.api import expose, safe
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_appbuilder.security.decorators import permission_name, protect
from flask_babel import lazy_gettext as _
from marshmallow import ValidationError

from app.api.base import PortalModelRestApi, current_actor, ids_in_range
from app.api.fields import one_of
from app.domain import labels, pickup
from app.extensions import db
from app.models import PickupReservation, ReservationStatus

_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud at the counter


def _validate_items(items: Any) -> None:
    """[{"sku": str, "name": str, "quantity": int > 0}, ...], at least one."""
    if not isinstance(items, list) or not items:
        raise ValidationError(str(_("Legg til minst én vare.")))
    for entry in items:
        if not (isinstance(entry, dict) and isinstance(entry.get("sku"), str) and entry["sku"].strip()
                and isinstance(entry.get("quantity"), int) and not isinstance(entry["quantity"], bool)
                and entry["quantity"] > 0):
            raise ValidationError(str(_("Hver vare trenger sku og et antall større enn null.")))


class PickupReservationApi(PortalModelRestApi):
    """/api/v1/pickup_reservation/ — `status` (reserved|ready = active; collected|expired|
    cancelled = finished) with `status_label`; `items` is a list of {sku, name, quantity}.

    Customer service creates (`company_id`, `store_id`, `pickup_deadline`, `items`, optional
    `status`/`pickup_code`: a code is generated when none is given) and updates reservations
    (`store_id`, `pickup_deadline`, `items`; the status only through the moves below).

    Moves (POST, no body), each a conditional update, 409 when the state does not allow it or
    someone else moved the reservation first:
    `/<id>/ready` (reserved -> ready), `/<id>/collected` (ready -> collected), `/<id>/expire`
    (active -> expired): customer service; `/<id>/cancel` (active -> cancelled): customer service
    and the customer itself.
    """

    resource_name = "pickup_reservation"
    list_title = _("Klikk og Hent")
    show_title = _("Reservasjon")
    add_title = _("Ny reservasjon")
    edit_title = _("Endre reservasjon")
    datamodel = SQLAInterface(PickupReservation)
    label_fields = {"status": labels.RESERVATION_STATUS}
    list_columns = [
        "id", "company_id", "company.name", "store_id", "store.name", "store.city", "status", "status_label",
        "pickup_code", "pickup_deadline", "items", "created_by_id", "created_at",
    ]
    show_columns = list_columns
    add_columns = ["company_id", "store_id", "status", "pickup_code", "pickup_deadline", "items"]
    edit_columns = ["store_id", "pickup_deadline", "items"]
    search_columns = ["company_id", "store_id", "status", "pickup_code", "pickup_deadline", "created_at"]
    base_order = ("pickup_deadline", "asc")
    optional_add_columns = frozenset({"pickup_code"})
    validators_columns = {"status": one_of(ReservationStatus), "items": _validate_items}

    def pre_add(self, item: PickupReservation) -> None:
        super().pre_add(item)
        if not item.pickup_code:
            item.pickup_code = "".join(secrets.choice(_CODE_ALPHABET) for _i in range(6))

    # --- moves --------------------------------------------------------------------------

    def _move(self, pk: int, to_status: str) -> Response:
        reservation, error = self.run_domain(lambda: pickup.move(db.session, pk, current_actor(), to_status))
        return error or self.response(200, id=pk, result=self._show(reservation))

    @expose("/<int:pk>/cancel", methods=["POST"])
    @protect()
    @safe
    @permission_name("cancel")
    @ids_in_range
    def cancel(self, pk: int) -> Response:
        """Cancel an active reservation (customer service, or the customer).
        ---
        post:
          summary: Cancel an active reservation
          parameters:
          - {in: path, name: pk, required: true, schema: {type: integer}}
          responses:
            200: {description: The reservation, now cancelled}
            403: {$ref: '#/components/responses/403'}
            404: {$ref: '#/components/responses/404'}
            409: {description: Not active any more}
        """
        return self._move(pk, pickup.CANCELLED)

    @expose("/<int:pk>/ready", methods=["POST"])
    @protect()
    @safe
    @permission_name("move")
    @ids_in_range
    def ready(self, pk: int) -> Response:
        """The goods are ready for pickup (customer service).
        ---
        post:
          summary: Mark a reserved reservation ready for pickup
          parameters:
          - {in: path, name: pk, required: true, schema: {type: integer}}
          responses:
            200: {description: The reservation, now ready}
            403: {$ref: '#/components/responses/403'}
            404: {$ref: '#/components/responses/404'}
            409: {description: Not reserved}
        """
        return self._move(pk, pickup.READY)

    @expose("/<int:pk>/collected", methods=["POST"])
    @protect()
    @safe
    @permission_name("move")
    @ids_in_range
    def collected(self, pk: int) -> Response:
        """The customer collected the goods (customer service).
        ---
        post:
          summary: Register a ready reservation as collected
          parameters:
          - {in: path, name: pk, required: true, schema: {type: integer}}
          responses:
            200: {description: The reservation, now collected}
            403: {$ref: '#/components/responses/403'}
            404: {$ref: '#/components/responses/404'}
            409: {description: Not ready}
        """
        return self._move(pk, pickup.COLLECTED)

    @expose("/<int:pk>/expire", methods=["POST"])
    @protect()
    @safe
    @permission_name("move")
    @ids_in_range
    def expire(self, pk: int) -> Response:
        """Not picked up in time (customer service).
        ---
        post:
          summary: Mark an active reservation expired
          parameters:
          - {in: path, name: pk, required: true, schema: {type: integer}}
          responses:
            200: {description: The reservation, now expired}
            403: {$ref: '#/components/responses/403'}
            404: {$ref: '#/components/responses/404'}
            409: {description: Not active any more}
        """
        return self._move(pk, pickup.EXPIRED)
