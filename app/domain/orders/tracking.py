"""Sporing: where an order's "Sporing" link leads. One waybill with a carrier page: that page; several
shipments (or one without a carrier page, such as own transport): the order's shipments ("Sporing" on
the order page); nothing shipped: no link."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.domain.orders.fulfilment import tracking_url
from app.models import Shipment

ANCHOR = "sporing"  # the id of the shipments section on the order page


@dataclass(frozen=True)
class Tracking:
    shipments: int
    carrier_url: str | None  # the carrier's page, when the order has exactly one waybill with one

    @property
    def external(self) -> bool:
        return self.carrier_url is not None


def tracking_of(shipments: Sequence[Any], urls: Mapping[str, Any] | None = None) -> Tracking | None:
    """The order's Sporing from its shipments (carrier, waybill_number), or None when none exist."""
    if not shipments:
        return None
    url = None
    if len(shipments) == 1:
        url = tracking_url(shipments[0].carrier, shipments[0].waybill_number, urls)
    return Tracking(len(shipments), url)


def tracking_by_order(session: Session, order_ids: Iterable[int]) -> dict[int, Tracking]:
    """Sporing of a page of orders in one query (the tenancy guard scopes the shipments)."""
    ids = sorted(set(order_ids))
    if not ids:
        return {}
    rows = session.execute(
        select(Shipment.order_id, Shipment.carrier, Shipment.waybill_number)
        .where(Shipment.order_id.in_(ids))
        .order_by(Shipment.order_id, Shipment.id)
    )
    grouped: dict[int, list[Any]] = defaultdict(list)
    for row in rows:
        grouped[row.order_id].append(row)
    result: dict[int, Tracking] = {}
    for order_id, shipments in grouped.items():
        found = tracking_of(shipments)
        if found is not None:
            result[order_id] = found
    return result
