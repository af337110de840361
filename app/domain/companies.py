"""Companies: new companies, company information (who may change what, the change log) and delivery addresses."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.domain import audit, labels
from app.domain.actors import Actor
from app.domain.errors import Forbidden, NotFound, ValidationFailed, get_visible
from app.domain.formatting import format_nok
from app.domain.search import LIKE_ESCAPE, like_literal
from app.domain.validation import (
    MAX_ID,
    InvalidValue,
    validate_amount,
    validate_choice,
    validate_email,
    validate_org_number,
    validate_phone,
    validate_postal_code,
)
from app.models import (
    Company,
    CompanyChange,
    CompanyKind,
    DeliveryAddress,
    Order,
    PaymentTerms,
    Quote,
    StandingOrder,
    utcnow,
)

POSTAL_FIELDS = ("postal_street", "postal_code", "postal_city")
# Every field customer service may change, in the order the change log lists them.
SUPPLIER_FIELDS = (
    "name",
    "org_number",
    "kind",
    "payment_terms",
    "credit_limit",
    "requires_approval",
    *POSTAL_FIELDS,
    "email",
    "phone",
    "active",
)
# What a new company is made of: its customer number (fixed from then on) and the fields above.
CREATE_FIELDS = ("customer_number", *SUPPLIER_FIELDS)
REQUIRED_ON_CREATE = ("customer_number", "name", "org_number")
HISTORY_LIMIT = 50

# The one table of company field labels: pages, REST API and the change log.
FIELD_LABELS: dict[str, Any] = {
    "customer_number": _l("Kundenummer"),
    "name": _l("Navn"),
    "org_number": _l("Organisasjonsnummer"),
    "postal_street": _l("Postadresse"),
    "postal_code": _l("Postnummer"),
    "postal_city": _l("Poststed"),
    "kind": _l("Kundetype"),
    "payment_terms": _l("Betalingsbetingelser"),
    "credit_limit": _l("Kredittgrense"),
    "requires_approval": _l("Krever godkjenning"),
    "email": _l("E-post"),
    "phone": _l("Telefon"),
    "active": _l("Aktiv"),
    "created_at": _l("Opprettet"),
    "delivery_addresses": _l("Leveringsadresser"),
}
# Shown next to every field a customer admin sees but may not change.
SUPPLIER_ONLY_NOTE = _l("Endres av oss — kontakt kundeservice")
MSG_CUSTOMER_NUMBER_FORMAT = _l("Kundenummeret består av siffer.")
MSG_CUSTOMER_NUMBER_TAKEN = _l("Kundenummeret er allerede i bruk.")

# The customer number is the company's key in other systems (ERP, invoicing): digits only.
_CUSTOMER_NUMBER = re.compile(r"^\d{1,20}$")
_MAX_LENGTH = {"name": 200, "postal_street": 200, "postal_city": 100, "email": 320, "phone": 30}


def editable_fields(actor: Actor) -> tuple[str, ...]:
    """The company fields this actor may change (empty: none)."""
    if actor.is_customer:
        return POSTAL_FIELDS if actor.is_customer_admin else ()
    return SUPPLIER_FIELDS if actor.is_customer_service else ()


# --- values ----------------------------------------------------------------------------------


def _text(value: Any, field: str, required: bool = False) -> str | None:
    if value is None:
        text = ""
    elif isinstance(value, str):
        text = value.strip()
    else:
        raise InvalidValue(_("Skriv tekst."))
    if not text:
        if required:
            raise InvalidValue(_("Feltet må fylles ut."))
        return None
    limit = _MAX_LENGTH.get(field)
    if limit and len(text) > limit:
        raise InvalidValue(_("Høyst %(max)s tegn.", max=limit))
    return text


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise InvalidValue(_("Velg ja eller nei."))


def clean_value(field: str, value: Any) -> Any:
    """The stored form of one field's new value, or InvalidValue with a Norwegian message."""
    if field == "name":
        return _text(value, field, required=True)
    if field == "org_number":
        return validate_org_number(_text(value, field, required=True))
    if field == "postal_code":
        text = _text(value, field)
        return validate_postal_code(text) if text else None
    if field in ("postal_street", "postal_city"):
        return _text(value, field)
    if field == "kind":
        return validate_choice(value, CompanyKind)
    if field == "payment_terms":
        return validate_choice(value, PaymentTerms)
    if field == "credit_limit":
        if value is None or value == "" or isinstance(value, bool):
            raise InvalidValue(_("Skriv et beløp i kroner, for eksempel 1500,00."))
        return validate_amount(value)
    if field in ("requires_approval", "active"):
        return _bool(value)
    if field == "email":
        text = _text(value, field)
        return validate_email(text) if text else None
    if field == "phone":
        text = _text(value, field)
        return validate_phone(text) if text else None
    raise InvalidValue(_("Ukjent felt."))


def clean_customer_number(value: Any) -> str:
    """A new company's customer number: 1 to 20 digits (uniqueness: `create_company`)."""
    text = _text(value, "customer_number", required=True)
    if text is None or not _CUSTOMER_NUMBER.match(text):
        raise InvalidValue(MSG_CUSTOMER_NUMBER_FORMAT)
    return text


def stored_text(value: Any) -> str | None:
    """How a value is kept in the change log (codes and plain numbers; shown with display_value)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    return str(value)


def display_value(field: str, text: str | None) -> str:
    """A logged value as people read it: labels for codes, kroner, Ja/Nei; blank as "—"."""
    if text is None or text == "":
        return "—"
    if field == "kind":
        return labels.label(labels.COMPANY_KIND, text)
    if field == "payment_terms":
        return labels.label(labels.PAYMENT_TERMS, text)
    if field == "credit_limit":
        try:
            return format_nok(Decimal(text))
        except ArithmeticError:
            return text
    if field in ("requires_approval", "active"):
        return labels.yes_no(text == "true")
    return text


def field_label(field: str) -> str:
    label = FIELD_LABELS.get(field)
    return str(label) if label is not None else field


# --- a new company ---------------------------------------------------------------------------


def _customer_number_taken(session: Session, number: str) -> bool:
    return session.scalar(select(Company.id).where(Company.customer_number == number).limit(1)) is not None


def create_company(session: Session, actor: Actor, data: Mapping[str, Any]) -> Company:
    """A new customer company (customer service). Fields left out get the model's defaults.

    Raises Forbidden (anyone else) or ValidationFailed field -> message: a customer number that
    is not digits or is taken, and the same value rules as `update_company`. Nothing is written
    when anything is refused (the caller rolls back, as for every refusal); two creations of the
    same number at once meet the unique constraint, which is answered as the taken number.
    """
    if not actor.is_customer_service:
        raise Forbidden(_("Du har ikke tilgang til å opprette bedrifter."))
    errors: dict[str, str] = {field: _("Feltet må fylles ut.") for field in REQUIRED_ON_CREATE if field not in data}
    values: dict[str, Any] = {}
    for field, raw in data.items():
        if field not in CREATE_FIELDS:
            errors[field] = _("Ukjent felt.")
            continue
        try:
            values[field] = clean_customer_number(raw) if field == "customer_number" else clean_value(field, raw)
        except InvalidValue as exc:
            errors[field] = str(exc.message)
    if "customer_number" in values and _customer_number_taken(session, values["customer_number"]):
        errors["customer_number"] = str(MSG_CUSTOMER_NUMBER_TAKEN)
    if errors:
        raise ValidationFailed(errors)
    company = Company(**values)
    session.add(company)
    try:
        session.flush()
    except IntegrityError as exc:  # the only unique column: another request took the number first
        raise ValidationFailed({"customer_number": str(MSG_CUSTOMER_NUMBER_TAKEN)}) from exc
    audit.record(
        session,
        audit.COMPANY_CHANGED,
        actor=actor,
        target=("company", company.id),
        company_id=company.id,
        details={"change": "created", "fields": {f: stored_text(v) for f, v in sorted(values.items())}},
    )
    return company


# --- the change ------------------------------------------------------------------------------


def _load(session: Session, company_id: Any, actor: Actor) -> Company:
    if not isinstance(company_id, int) or isinstance(company_id, bool):
        raise NotFound(_("Fant ikke kundekontoen."))
    if actor.is_customer and actor.company_id != company_id:
        raise NotFound(_("Fant ikke kundekontoen."))
    # FOR UPDATE (PostgreSQL): two people editing at once are logged in the order they commit,
    # each with the old value the other left; populate_existing drops values read earlier.
    company = session.execute(
        select(Company).where(Company.id == company_id).with_for_update().execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if company is None:
        raise NotFound(_("Fant ikke kundekontoen."))
    return company


def update_company(session: Session, company_id: Any, actor: Actor, changes: Mapping[str, Any]) -> list[CompanyChange]:
    """Change company fields and log each one that really changed; returns the log rows.

    Raises NotFound (not the actor's company, or none), Forbidden (a role that changes nothing
    here), ValidationFailed field -> message (bad values, or a field this actor may not change:
    a customer admin gets "Endres av oss — kontakt kundeservice" for anything but the postal
    address). Nothing is written when anything is refused. A field sent with its current value
    is not a change, so a client may send back the whole company it read.
    """
    company = _load(session, company_id, actor)
    allowed = editable_fields(actor)
    if not allowed:
        raise Forbidden(_("Du har ikke tilgang til å endre bedriftsinformasjonen."))
    errors: dict[str, str] = {}
    new_values: dict[str, Any] = {}
    for field, raw in changes.items():
        if field == "customer_number":
            if raw != company.customer_number:
                errors[field] = _("Kundenummeret kan ikke endres.")
            continue
        if field not in SUPPLIER_FIELDS:
            errors[field] = _("Ukjent felt.")
            continue
        try:
            value = clean_value(field, raw)
        except InvalidValue as exc:
            if field in allowed:
                errors[field] = str(exc.message)
            elif actor.is_customer:
                errors[field] = str(SUPPLIER_ONLY_NOTE)
            else:
                errors[field] = str(exc.message)
            continue
        if value == getattr(company, field):
            continue
        if field not in allowed:
            errors[field] = str(SUPPLIER_ONLY_NOTE)
            continue
        new_values[field] = value
    errors.update(_postal_address_errors(company, new_values, errors))
    if errors:
        raise ValidationFailed(errors)

    now = utcnow()
    logged: list[CompanyChange] = []
    for field in SUPPLIER_FIELDS:
        if field not in new_values:
            continue
        old = getattr(company, field)
        setattr(company, field, new_values[field])
        entry = CompanyChange(
            company_id=company.id,
            at=now,
            actor_id=actor.id,
            actor_name=actor.name,
            field=field,
            old_value=stored_text(old),
            new_value=stored_text(new_values[field]),
        )
        session.add(entry)
        logged.append(entry)
    if logged:
        audit.record(
            session,
            audit.COMPANY_CHANGED,
            actor=actor,
            target=("company", company.id),
            company_id=company.id,
            details={
                "change": "updated",
                "fields": {e.field: {"old": e.old_value, "new": e.new_value} for e in logged},
            },
        )
    session.flush()
    return logged


def _postal_address_errors(
    company: Company, new_values: Mapping[str, Any], errors: Mapping[str, str]
) -> dict[str, str]:
    """A postal address is either left out entirely or complete (street, postal code and city)."""
    if not any(f in new_values for f in POSTAL_FIELDS):
        return {}
    result = {f: new_values[f] if f in new_values else getattr(company, f) for f in POSTAL_FIELDS}
    if not any(result.values()):
        return {}
    return {
        f: _("Fyll ut hele postadressen: gateadresse, postnummer og poststed.")
        for f, v in result.items()
        if not v and f not in errors
    }


def company_history(session: Session, company_id: int, limit: int = HISTORY_LIMIT) -> Sequence[CompanyChange]:
    """The latest changes of a company, newest first (one statement)."""
    return session.scalars(
        select(CompanyChange)
        .where(CompanyChange.company_id == company_id)
        .order_by(CompanyChange.at.desc(), CompanyChange.id.desc())
        .limit(limit)
    ).all()


@dataclass(frozen=True)
class HistoryRow:
    at: Any
    actor_name: str
    field: str
    label: str
    old: str
    new: str


def history_rows(changes: Sequence[CompanyChange]) -> list[HistoryRow]:
    """Change log rows ready to show: field label and old/new values as people read them."""
    return [
        HistoryRow(
            c.at,
            c.actor_name,
            c.field,
            field_label(c.field),
            display_value(c.field, c.old_value),
            display_value(c.field, c.new_value),
        )
        for c in changes
    ]


# --- delivery addresses ---------------------------------------------------------------------


def delivery_address_error(session: Session, company_id: int, address_id: int | None) -> str | None:
    """Why this address cannot receive a delivery for this company (None: it can)."""
    address = session.get(DeliveryAddress, address_id) if address_id else None
    if address is None or address.company_id != company_id:
        return _("Velg en leveringsadresse for kundekontoen.")
    if not address.active:
        return _("Leveringsadressen er deaktivert. Velg en annen.")
    return None


ADDRESS_TEXT_FIELDS = ("recipient_name", "street", "postal_code", "city")
ADDRESS_FIELDS = (*ADDRESS_TEXT_FIELDS, "active")
_ADDRESS_MAX_LENGTH = {"recipient_name": 200, "street": 200, "city": 100}


def may_edit(actor: Actor) -> bool:
    if actor.is_customer:
        return actor.is_customer_admin
    return actor.is_customer_service


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
    if len(text) > _ADDRESS_MAX_LENGTH[field]:
        raise InvalidValue(_("Høyst %(max)s tegn.", max=_ADDRESS_MAX_LENGTH[field]))
    return text


def _clean_all(data: Mapping[str, Any], required: tuple[str, ...]) -> dict[str, Any]:
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    for field in required:
        if field not in data:
            errors[field] = _("Feltet må fylles ut.")
    for field, raw in data.items():
        if field not in ADDRESS_FIELDS:
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
    return get_visible(session, DeliveryAddress, address_id, _("Fant ikke leveringsadressen."))


def is_used(session: Session, address_id: int) -> bool:
    """Does an order or a quote (a document) point at this address? (One statement.)"""
    used = select(Order.id).where(Order.delivery_address_id == address_id).exists()
    quoted = select(Quote.id).where(Quote.delivery_address_id == address_id).exists()
    return bool(session.scalar(select(used | quoted)))


def _active_standing_order(session: Session, address_id: int) -> StandingOrder | None:
    return session.scalars(
        select(StandingOrder)
        .where(StandingOrder.delivery_address_id == address_id, StandingOrder.active.is_(True))
        .limit(1)
    ).first()


def create_address(session: Session, actor: Actor, data: Mapping[str, Any], company_id: Any = None) -> DeliveryAddress:
    """A new (active) address. Customers: always for their own company; staff name the company
    (an id of a company that exists; anything else is refused on `company_id`)."""
    _require_editor(actor)
    values = _clean_all(data, ADDRESS_TEXT_FIELDS)
    if actor.is_customer:
        company_id = actor.company_id
    elif (
        not isinstance(company_id, int)
        or isinstance(company_id, bool)
        or not 0 < company_id <= MAX_ID
        or session.get(Company, company_id) is None
    ):
        raise ValidationFailed({"company_id": _("Velg bedriften adressen hører til.")})
    address = DeliveryAddress(company_id=company_id, active=values.pop("active", True), **values)
    session.add(address)
    session.flush()
    return address


def update_address(session: Session, address_id: Any, actor: Actor, changes: Mapping[str, Any]) -> DeliveryAddress:
    """Change an address; returns the address that now holds the values: a new one when orders or
    quotes use the old one (they keep it, deactivated; standing orders move to the new one).
    Nothing is written when anything is refused.
    """
    address = get_address(session, address_id)
    _require_editor(actor)
    values = _clean_all(changes, ())
    changed = {f: v for f, v in values.items() if getattr(address, f) != v}
    if not changed:
        return address
    text_changes = {f: v for f, v in changed.items() if f in ADDRESS_TEXT_FIELDS}
    if changed.get("active") is False or (text_changes and changed.get("active", address.active) is False):
        _refuse_if_planned(session, address)
    if text_changes and is_used(session, address.id):
        return _replace(
            session,
            address,
            {**{f: getattr(address, f) for f in ADDRESS_TEXT_FIELDS}, **text_changes},
            active=changed.get("active", address.active),
        )
    for field, value in changed.items():
        setattr(address, field, value)
    session.flush()
    return address


def _refuse_if_planned(session: Session, address: DeliveryAddress) -> None:
    planned = _active_standing_order(session, address.id)
    if planned is not None:
        raise ValidationFailed(
            {
                "active": _(
                    "Adressen brukes av den faste ordren «%(name)s». Velg en annen adresse der først.",
                    name=planned.name,
                )
            }
        )


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


COMPANY_SEARCH_LIMIT = 20


def find_companies(session: Session, term: str, limit: int = COMPANY_SEARCH_LIMIT) -> list[Company]:
    """Active companies a seller means by `term`: the one with that customer number, else those
    whose name contains it (at most `limit`, by name)."""
    term = term.strip()[:100]
    if not term:
        return []
    exact = session.scalar(select(Company).where(Company.customer_number == term[:20], Company.active.is_(True)))
    if exact is not None:
        return [exact]
    pattern = f"%{like_literal(term)}%"
    return list(
        session.scalars(
            select(Company)
            .where(Company.active.is_(True), Company.name.ilike(pattern, escape=LIKE_ESCAPE))
            .order_by(Company.name)
            .limit(limit)
        )
    )
