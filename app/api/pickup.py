"""Click and collect (Klikk og Hent): reservations in the supplier's stores, and their moves
through the states (app/domain/pickup.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from flask import Response
from flask_appbuilder.api import expose
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_appbuilder.security.decorators import permission_name, protect
from flask_babel import lazy_gettext as _
from sqlalchemy import inspect
from sqlalchemy.orm import InstanceState

from app.api.base import PortalModelRestApi, current_actor, ids_in_range, safe
from app.api.fields import domain_validator, one_of
from app.domain import labels, pickup
from app.extensions import db
from app.models import PickupReservation, ReservationStatus


class MoveRoute(NamedTuple):
    """POST /<id>/<name> (no body): one move of a reservation, and what its OpenAPI entry says."""

    name: str  # route and method name
    to_status: str
    permission: str
    what: str  # the docstring's first line
    summary: str
    done: str  # the 200 answer
    refused: str  # when the answer is 409


MOVE_ROUTES = (
    MoveRoute(
        "cancel",
        pickup.CANCELLED,
        "cancel",
        "Cancel an active reservation (customer service, or the customer).",
        "Cancel an active reservation",
        "The reservation, now cancelled",
        "Not active any more",
    ),
    MoveRoute(
        "ready",
        pickup.READY,
        "move",
        "The goods are ready for pickup (customer service).",
        "Mark a reserved reservation ready for pickup",
        "The reservation, now ready",
        "Not reserved",
    ),
    MoveRoute(
        "collected",
        pickup.COLLECTED,
        "move",
        "The customer collected the goods (customer service).",
        "Register a ready reservation as collected",
        "The reservation, now collected",
        "Not ready",
    ),
    MoveRoute(
        "expire",
        pickup.EXPIRED,
        "move",
        "Not picked up in time (customer service).",
        "Mark an active reservation expired",
        "The reservation, now expired",
        "Not active any more",
    ),
)


def _move_route(move: MoveRoute) -> Callable[..., Response]:
    """The route method of one move: the domain moves the reservation (409 if its state does not
    allow it or someone else moved it first), the answer is the reservation."""

    def route(self: PickupReservationApi, pk: int) -> Response:
        reservation = self.commit(lambda: pickup.move(db.session, pk, current_actor(), move.to_status))
        return self.response(200, id=pk, result=self._show(reservation))

    # FAB reads the method's name (permissions, OpenAPI) and the YAML after "---" in its docstring.
    route.__name__ = route.__qualname__ = move.name
    route.__doc__ = f"""{move.what}
        ---
        post:
          summary: {move.summary}
          parameters:
          - {{in: path, name: pk, required: true, schema: {{type: integer}}}}
          responses:
            200: {{description: {move.done}}}
            403: {{$ref: '#/components/responses/403'}}
            404: {{$ref: '#/components/responses/404'}}
            409: {{description: {move.refused}}}
        """
    decorated = protect()(safe(permission_name(move.permission)(ids_in_range(route))))
    return expose(f"/<int:pk>/{move.name}", methods=["POST"])(decorated)


class PickupReservationApi(PortalModelRestApi):
    """/api/v1/pickup_reservation/ — `status` (reserved|ready = active; collected|expired|
    cancelled = finished) with `status_label`; `items` is a list of {sku, name, quantity}.

    Customer service creates (`company_id`, `store_id`, `pickup_deadline`, `items`, optional
    `status`/`pickup_code`: a code is generated when none is given) and updates reservations
    (`store_id`, `pickup_deadline`: only while active, `items`; the status only through the moves
    below).

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
        "id",
        "company_id",
        "company.name",
        "store_id",
        "store.name",
        "store.city",
        "status",
        "status_label",
        "pickup_code",
        "pickup_deadline",
        "items",
        "created_by_id",
        "created_at",
    ]
    show_columns = list_columns
    add_columns = ["company_id", "store_id", "status", "pickup_code", "pickup_deadline", "items"]
    edit_columns = ["store_id", "pickup_deadline", "items"]
    search_columns = ["company_id", "store_id", "status", "pickup_code", "pickup_deadline", "created_at"]
    base_order = ("pickup_deadline", "asc")
    optional_add_columns = frozenset({"pickup_code"})
    validators_columns = {"status": one_of(ReservationStatus), "items": domain_validator(pickup.validate_items)}

    def pre_add(self, item: PickupReservation) -> None:
        super().pre_add(item)
        if not item.pickup_code:
            item.pickup_code = pickup.new_pickup_code()

    def pre_update(self, item: PickupReservation) -> None:
        super().pre_update(item)
        # A new deadline goes through the domain's rule, as on the page (active reservations only).
        state: InstanceState[PickupReservation] = inspect(item)
        history = state.attrs.pickup_deadline.history
        if history.added and history.deleted:
            deadline = item.pickup_deadline
            item.pickup_deadline = history.deleted[0]
            pickup.set_deadline(db.session, item.id, current_actor(), deadline)


# The move routes: PickupReservationApi.cancel, .ready, .collected and .expire.
for _move in MOVE_ROUTES:
    setattr(PickupReservationApi, _move.name, _move_route(_move))
