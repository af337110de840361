"""Leveringsadresser: a company's delivery addresses (goods recipients).

Rules (the views and the REST API call these functions):

* Customer admins keep their own company's addresses; customer service (and Admin) any company's.
  Customer users and the other supplier roles only read them.
* Nothing is ever deleted. An address is deactivated (and may be reactivated); the order form
  only offers active ones.
* An address already used by an order or a quote keeps what those documents say: changing its
  recipient, street, postal code or city saves the change as a NEW address and deactivates the
  old one, which stays on the old documents. Standing orders (future deliveries) move to the new
  address (an address only standing orders use is changed in place: they follow it either way).
* An address an active standing order delivers to cannot be deactivated: change the standing
  order first.
"""
from __future__ import annotations

from typing import Any, Mapping, Optional

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Company, DeliveryAddress, Order, Quote, StandingOrder
from .actors import Actor
from .errors import Forbidden, NotFound, ValidationFailed
from .validation import InvalidValue, validate_postal_code

TEXT_FIELDS = ("recipient_name", "street", "postal_code", "city")
FIELDS = (*TEXT_FIELDS, "active")
EDITOR_ROLES = ("CustomerService", "Admin")
_MAX_LENGTH = {"recipient_name": 200, "street": 200, "city": 100}


def may_edit(actor: Actor) -> bool:
    if actor.is_customer:
        return actor.has_role("CustomerAdmin")
    return actor.has_role(*EDITOR_ROLES)


def _require_editor(actor: Actor) -> None:
    if not may_edit(actor):
        raise Forbidden(_("Du har ikke tilgang til å endre leveringsadresser."))


def _clean(field: str, value: Any) -> Any:
    if field == "active":
        if not isinstance(value, bool):
            raise InvalidValue(_("Velg ja eller nei."))
        return value
    if value is None or (isinstance(value, str) and not value.strip()):
        raise InvalidValue(_("Feltet må fylles ut."))
    if not isinstance(value, str):
        raise InvalidValue(_("Skriv tekst."))
    if field == "postal_code":
        return validate_postal_code(value)
    text = value.strip()
    if len(text) > _MAX_LENGTH[field]:
        raise InvalidValue(_("Høyst %(max)s tegn.", max=_MAX_LENGTH[field]))
    return text


def _clean_all(data: Mapping[str, Any], required: tuple[str, ...]) -> dict[str, Any]:
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    for field in required:
        if field not in data:
            errors[field] = _("Feltet må fylles ut.")
    for field, raw in data.items():
        if field not in FIELDS:
            errors[field] = _("Ukjent felt.")
            continue
        try:
            values[field] = _clean(field, raw)
        except InvalidValue as exc:
            errors[field] = str(exc.message)
    if errors:
        raise ValidationFailed(errors)
    return values


def get_address(session: Session, address_id: Any) -> DeliveryAddress:
    """Through the tenant-scoped session: another company's address does not exist (404)."""
    if not isinstance(address_id, int) or isinstance(address_id, bool):
        raise NotFound(_("Fant ikke leveringsadressen."))
    address = session.get(DeliveryAddress, address_id)
    if address is None:
        raise NotFound(_("Fant ikke leveringsadressen."))
    return address


def is_used(session: Session, address_id: int) -> bool:
    """Does an order or a quote (a document) point at this address? (One statement.)"""
    used = select(Order.id).where(Order.delivery_address_id == address_id).exists()
    quoted = select(Quote.id).where(Quote.delivery_address_id == address_id).exists()
    return bool(session.scalar(select(used | quoted)))


def _active_standing_order(session: Session, address_id: int) -> Optional[StandingOrder]:
    return session.scalars(select(StandingOrder).where(
        StandingOrder.delivery_address_id == address_id, StandingOrder.active.is_(True)).limit(1)).first()


def create_address(session: Session, actor: Actor, data: Mapping[str, Any],
                   company_id: Optional[int] = None) -> DeliveryAddress:
    """A new (active) address. Customers: always for their own company; staff name the company."""
    _require_editor(actor)
    values = _clean_all(data, TEXT_FIELDS)
    if actor.is_customer:
        company_id = actor.company_id
    elif company_id is None or session.get(Company, company_id) is None:
        raise ValidationFailed({"company_id": _("Velg bedriften adressen hører til.")})
    address = DeliveryAddress(company_id=company_id, active=values.pop("active", True), **values)
    session.add(address)
    session.flush()
    return address


def update_address(session: Session, address_id: Any, actor: Actor, changes: Mapping[str, Any]) -> DeliveryAddress:
    """Change an address; returns the address that now holds the values (a new one when the old
    one is used by documents, see the module docstring). Nothing is written when anything is refused.
    """
    address = get_address(session, address_id)
    _require_editor(actor)
    values = _clean_all(changes, ())
    changed = {f: v for f, v in values.items() if getattr(address, f) != v}
    if not changed:
        return address
    text_changes = {f: v for f, v in changed.items() if f in TEXT_FIELDS}
    if changed.get("active") is False or (text_changes and changed.get("active", address.active) is False):
        _refuse_if_planned(session, address)
    if text_changes and is_used(session, address.id):
        return _replace(session, address, {**{f: getattr(address, f) for f in TEXT_FIELDS}, **text_changes},
                        active=changed.get("active", address.active))
    for field, value in changed.items():
        setattr(address, field, value)
    session.flush()
    return address


def _refuse_if_planned(session: Session, address: DeliveryAddress) -> None:
    planned = _active_standing_order(session, address.id)
    if planned is not None:
        raise ValidationFailed({"active": _(
            "Adressen brukes av den faste ordren «%(name)s». Velg en annen adresse der først.", name=planned.name)})


def _replace(session: Session, old: DeliveryAddress, values: Mapping[str, Any], active: bool) -> DeliveryAddress:
    new = DeliveryAddress(company_id=old.company_id, active=active, **values)
    session.add(new)
    session.flush()
    # Future deliveries follow the change; orders and quotes keep the address they were made with.
    for planned in session.scalars(select(StandingOrder).where(StandingOrder.delivery_address_id == old.id)):
        planned.delivery_address_id = new.id
    old.active = False
    session.flush()
    return new


def set_active(session: Session, address_id: Any, actor: Actor, active: bool) -> DeliveryAddress:
    """Deactivate or reactivate an address (never deleted)."""
    return update_address(session, address_id, actor, {"active": active})
