"""Click and collect (Klikk og Hent): reservations in the supplier's stores."""
from __future__ import annotations

import secrets
from typing import Any

from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_babel import lazy_gettext as _
from marshmallow import ValidationError

from ..domain import labels
from ..models import PickupReservation, ReservationStatus
from .base import PortalModelRestApi
from .fields import one_of

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
    `status`/`pickup_code`: a code is generated when none is given) and updates reservations.
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
    edit_columns = ["store_id", "status", "pickup_deadline", "items"]
    search_columns = ["company_id", "store_id", "status", "pickup_code", "pickup_deadline", "created_at"]
    base_order = ("pickup_deadline", "asc")
    optional_add_columns = frozenset({"pickup_code"})
    validators_columns = {"status": one_of(ReservationStatus), "items": _validate_items}

    def pre_add(self, item: PickupReservation) -> None:
        super().pre_add(item)
        if not item.pickup_code:
            item.pickup_code = "".join(secrets.choice(_CODE_ALPHABET) for _i in range(6))
