"""Input rules shared by the HTML forms and the REST API (one place, plain functions).

Each validator takes the raw value, returns it normalised, or raises `InvalidValue` with a
Norwegian message (lazy, so an English catalogue can translate it when it is shown). Views wrap
them in a WTForms validator, the API in a marshmallow one (app/api/base.py); neither re-states
the rule.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

from email_validator import EmailNotValidError
from email_validator import validate_email as _check_email
from flask_babel import lazy_gettext as _

from app.domain.formatting import oslo_today

_POSTAL_CODE = re.compile(r"^\d{4}$")
_PHONE = re.compile(r"^\+?[0-9 ()-]{5,30}$")
_ORG_NUMBER = re.compile(r"^\d{9}$")
_ORG_WEIGHTS = (3, 2, 7, 6, 5, 4, 3, 2)
TWO_PLACES = Decimal("0.01")
# Every money amount a user types (budgets, credit limits, prices, invoice amounts) fits the money
# columns, Numeric(12, 2): 10 digits before the decimal point. One bound, shared by forms and API.
MAX_AMOUNT = Decimal("9999999999.99")
MSG_AMOUNT_TOO_LARGE = _("Beløpet er for stort.")

# Ids beyond a 32-bit integer are refused before they reach SQL (SQLite raises OverflowError on
# bigger Python ints; PostgreSQL an out-of-range error).
MAX_ID = 2**31 - 1


class InvalidValue(ValueError):
    """A value a user typed that breaks a rule; `message` is shown next to the field."""

    def __init__(self, message: Any) -> None:
        super().__init__(str(message))
        self.message = message


def validate_postal_code(value: str | None) -> str:
    """Norwegian postal code: exactly four digits ("0155"). Surrounding spaces are dropped."""
    text = (value or "").strip()
    if not _POSTAL_CODE.match(text):
        raise InvalidValue(_("Postnummer må være fire sifre, for eksempel 0155."))
    return text


def validate_email(value: str | None) -> str:
    """An e-mail address (syntax only: the domain is not looked up). Kept as typed, spaces dropped."""
    text = (value or "").strip()
    try:
        _check_email(text, check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidValue(_("Ugyldig e-postadresse.")) from exc
    return text


def validate_phone(value: str | None) -> str:
    """A phone number in digits, with an optional leading + and spaces, brackets or dashes."""
    text = (value or "").strip()
    if not _PHONE.match(text):
        raise InvalidValue(_("Skriv et telefonnummer med siffer, for eksempel +47 22 00 00 00."))
    return text


def org_number_check_digit(first_eight: str) -> int | None:
    """Mod-11 check digit of a Norwegian organisation number, or None if no digit fits."""
    remainder = sum(int(d) * w for d, w in zip(first_eight, _ORG_WEIGHTS, strict=True)) % 11
    if remainder == 0:
        return 0
    digit = 11 - remainder
    return None if digit == 10 else digit


def validate_org_number(value: str | None) -> str:
    """Organisation number: nine digits (spaces allowed when typed) with a valid mod-11 check digit."""
    text = re.sub(r"\s", "", value or "")
    if not _ORG_NUMBER.match(text):
        raise InvalidValue(_("Organisasjonsnummer må være ni sifre."))
    if org_number_check_digit(text[:8]) != int(text[8]):
        raise InvalidValue(_("Organisasjonsnummeret er ikke gyldig (kontrollsifferet stemmer ikke)."))
    return text


# An amount as people type it: "75000", "75 000", "75 000,00", "75000.50", "1 500,5 kr". Digits may
# be grouped by threes with spaces (any kind: the browser or a copied "1 234,50 kr" may give
# non-breaking or thin ones); one decimal comma or point; an optional "kr" or "NOK" after it.
_SPACES = re.compile(r"[\s\u00a0\u2007\u2009\u202f]+")
_AMOUNT = re.compile(r"^(?P<sign>-?)(?P<int>\d+|\d{1,3}(?: \d{3})+)(?:[.,](?P<dec>\d+))?$")
_UNIT = re.compile(r"\s*(kr|nok)\.?$", re.IGNORECASE)


def parse_amount(value: Decimal | int | str | None) -> Decimal | None:
    """The number in an amount as typed (see _AMOUNT), or None when it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, Decimal | int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(str(value))
    if value is None:
        return None
    text = _SPACES.sub(" ", _UNIT.sub("", str(value).strip())).strip()
    match = _AMOUNT.match(text)
    if not match:
        return None
    digits = match.group("int").replace(" ", "")
    return Decimal(f"{match.group('sign')}{digits}.{match.group('dec') or '0'}")


def validate_amount(value: Decimal | int | str | None) -> Decimal:
    """A money amount in NOK: a number from 0 to MAX_AMOUNT with at most two decimals (øre), typed
    as people write it ("75 000,00", parse_amount)."""
    amount = parse_amount(value)
    if amount is None or not amount.is_finite():
        raise InvalidValue(_("Skriv et beløp i kroner, for eksempel 1500,00."))
    if amount < 0:
        raise InvalidValue(_("Beløpet kan ikke være negativt."))
    if amount > MAX_AMOUNT:
        raise InvalidValue(MSG_AMOUNT_TOO_LARGE)
    if amount != amount.quantize(TWO_PLACES):
        raise InvalidValue(_("Beløpet kan ha høyst to desimaler."))
    return amount.quantize(TWO_PLACES)


def validate_not_past(value: dt.date | None, today: dt.date | None = None) -> dt.date | None:
    """A date that must not lie before today in Europe/Oslo (valid-until, delivery dates)."""
    if value is not None and value < (today or oslo_today()):
        raise InvalidValue(_("Datoen kan ikke være tilbake i tid."))
    return value


def validate_choice(value: str | None, allowed: Any) -> str:
    """A code value that must be one of `allowed` (an enum class or an iterable of codes)."""
    codes = [getattr(member, "value", member) for member in allowed]
    if value is None or value not in codes:  # codes are strings: None is never among them
        raise InvalidValue(_("Ugyldig valg. Tillatte verdier: %(values)s.", values=", ".join(codes)))
    return value
