"""Sporing: where an order's "Sporing" link leads. One waybill with a carrier page: that page; several
shipments (or one without a carrier page, such as own transport): the order's shipments ("Sporing" on
the order page); nothing shipped: no link."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from app.domain.orders.fulfilment import tracking_url
from app.models import Order, Shipment

ANCHOR = "sporing"  # the id of the shipments section on the order page


@dataclass(frozen=True)
class Tracking:
    shipments: int
    carrier_url: str | None  # the carrier's page, when the order has exactly one waybill with one

    @property
    def external(self) -> bool:
        return self.carrier_url is not None


def _tracking(count: int, carrier: Any, waybill: Any, urls: Mapping[str, Any] | None = None) -> Tracking | None:
    if not count:
        return None
    return Tracking(count, tracking_url(carrier, waybill, urls) if count == 1 else None)


def tracking_of(shipments: Sequence[Any], urls: Mapping[str, Any] | None = None) -> Tracking | None:
    """The order's Sporing from its shipments (carrier, waybill_number), or None when none exist."""
    if not shipments:
        return None
    return _tracking(len(shipments), shipments[0].carrier, shipments[0].waybill_number, urls)


def tracking_columns() -> dict[str, Any]:
    """Each order's Sporing as correlated columns of a list page's row statement (three look-ups on
    ix_shipments_order_id per row: no query of its own); `tracking_of_row` reads them back."""

    def of_order(*columns: Any) -> Any:
        return select(*columns).where(Shipment.order_id == Order.id).correlate(Order).scalar_subquery()

    return {
        "sporing_shipments": of_order(func.count(Shipment.id)),
        "sporing_carrier": of_order(func.min(Shipment.carrier)),
        "sporing_waybill": of_order(func.min(Shipment.waybill_number)),
    }


def tracking_of_row(order: Any) -> Tracking | None:
    """Sporing of an order read with `tracking_columns()`: carrier and waybill count only when the
    order has exactly one shipment, as in `tracking_of`."""
    return _tracking(order.sporing_shipments or 0, order.sporing_carrier, order.sporing_waybill)
