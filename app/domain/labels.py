"""Norwegian labels for the code values stored in the database (status, channel, carrier, ...).

The database keeps stable English codes (models.py enums); people read these labels. Each label is
a `lazy_gettext` string written in bokmål, so the English catalogue can translate it and the
language is chosen when the label is shown, not when this module is imported.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_babel import lazy_gettext as _l

ORDER_STATUS: dict[str, Any] = {
    "pending_internal_approval": _l("Venter på godkjenning hos dere"),
    "pending_approval": _l("Til godkjenning"),
    "processing": _l("Under behandling"),
    "shipped": _l("Kjørt ut fra lager"),
    "partially_delivered": _l("Dellevert"),
    "invoiced": _l("Fakturert"),
    "cancelled": _l("Kansellert"),
    "rejected": _l("Avvist"),
}

ORDER_CHANNEL: dict[str, Any] = {
    "webshop": _l("Nettbutikk"),
    "phone": _l("Telefon"),
    "seller": _l("Selger"),
    "edi": _l("EDI"),
    "standing_order": _l("Fast ordre"),
    "quote": _l("Tilbud"),
}

LINE_STATUS: dict[str, Any] = {
    "open": _l("Åpen"),
    "partially_delivered": _l("Dellevert"),
    "delivered": _l("Levert"),
    "cancelled": _l("Kansellert"),
}

QUOTE_STATUS: dict[str, Any] = {
    "draft": _l("Utkast"),
    "sent": _l("Sendt"),
    "accepted": _l("Bestilt"),
    "declined": _l("Avslått"),
    "expired": _l("Utløpt"),
}

CARRIER: dict[str, Any] = {
    "collicare": "ColliCare",
    "schenker": "Schenker",
    "postnord": "PostNord",
    "bring": "Bring",
    "own": _l("Egen transport"),
}

FREQUENCY: dict[str, Any] = {
    "weekly": _l("Hver uke"),
    "every_n_weeks": _l("Hver N. uke"),
    "monthly": _l("Hver måned"),
}

WEEKDAY: dict[int, Any] = {
    0: _l("mandag"),
    1: _l("tirsdag"),
    2: _l("onsdag"),
    3: _l("torsdag"),
    4: _l("fredag"),
    5: _l("lørdag"),
    6: _l("søndag"),
}

INQUIRY_CHANNEL: dict[str, Any] = {
    "chat": _l("Chat"),
    "contact_form": _l("Kontaktskjema"),
    "portal": _l("Kundeportalen"),
}

INQUIRY_STATUS: dict[str, Any] = {
    "open": _l("Åpen"),
    "answered": _l("Besvart"),
    "closed": _l("Lukket"),
}

RESERVATION_STATUS: dict[str, Any] = {
    "reserved": _l("Reservert"),
    "ready": _l("Klar til henting"),
    "collected": _l("Hentet"),
    "expired": _l("Utløpt"),
    "cancelled": _l("Kansellert"),
}

BUDGET_PERIOD: dict[str, Any] = {
    "month": _l("Måned"),
    "quarter": _l("Kvartal"),
    "year": _l("År"),
}

COMPANY_KIND: dict[str, Any] = {
    "dealer": _l("Forhandler"),
    "webshop": _l("Nettbutikkunde"),
}

PAYMENT_TERMS: dict[str, Any] = {
    "invoice": _l("Faktura"),
    "card": _l("Kort"),
}

ROLE: dict[str, Any] = {
    "Admin": _l("Systemadministrator"),
    "Seller": _l("Selger"),
    "CustomerService": _l("Kundeservice"),
    "Manager": _l("Leder"),
    "CustomerAdmin": _l("Administrator hos kunde"),
    "CustomerUser": _l("Bruker"),
}

YES_NO: dict[bool, Any] = {True: _l("Ja"), False: _l("Nei")}


def label(mapping: Mapping[Any, Any], code: Any | None) -> str:
    """The label of `code` in the current language; an unknown code is shown as it is."""
    if code is None or code == "":
        return ""
    value = mapping.get(code)
    return str(value) if value is not None else str(code)


def choices(mapping: Mapping[Any, Any]) -> list[tuple[Any, Any]]:
    """(code, label) pairs for a select field, in the order the mapping lists them."""
    return list(mapping.items())


def order_status(code: str | None) -> str:
    return label(ORDER_STATUS, code)


def yes_no(value: bool | None) -> str:
    return "" if value is None else label(YES_NO, bool(value))


def ordered_by(order: Any) -> str:
    """ "Bestilt av", the same on every page: the user's name; an order a seller placed, read by a
    customer (who cannot load the supplier's staff), "Leverandøren"; an order no person placed,
    its channel ("EDI", "Fast ordre")."""
    if order.created_by is not None:
        return str(order.created_by.full_name)
    if order.created_by_id is not None:
        return str(_l("Leverandøren"))
    if order.channel in ("edi", "standing_order"):
        return label(ORDER_CHANNEL, order.channel)
    return ""


def line_status(line: Any) -> str:
    """A line's status as people read it: a line still open on a cancelled or rejected order reads
    as the order does ("Kansellert", "Avvist"), not "Åpen"."""
    order = line.order
    if line.status == "open" and order is not None and order.status in ("cancelled", "rejected"):
        return order_status(order.status)
    return label(LINE_STATUS, line.status)
