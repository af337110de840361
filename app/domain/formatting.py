"""Norwegian display of money and times: `1 234,50 kr`, dates in Europe/Oslo."""
from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from typing import Optional, Union
from zoneinfo import ZoneInfo

OSLO = ZoneInfo("Europe/Oslo")
NBSP = "\u00a0"


def format_nok(value: Union[Decimal, int, float, None], with_unit: bool = True) -> str:
    """1234.5 -> '1 234,50 kr' (non-breaking spaces, as Norwegian typesetting wants)."""
    if value is None:
        return ""
    amount = Decimal(value).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    sign = "-" if amount < 0 else ""
    whole, frac = f"{abs(amount):.2f}".split(".")
    groups = []
    while whole:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    text = f"{sign}{NBSP.join(groups)},{frac}"
    return f"{text}{NBSP}kr" if with_unit else text


def to_oslo(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(OSLO)


def format_oslo_datetime(value: Optional[dt.datetime]) -> str:
    if value is None:
        return ""
    return to_oslo(value).strftime("%d.%m.%Y %H:%M")


def format_date(value: Union[dt.date, dt.datetime, None]) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        value = to_oslo(value).date()
    return value.strftime("%d.%m.%Y")


def oslo_today(now: Optional[dt.datetime] = None) -> dt.date:
    now = now or dt.datetime.now(dt.timezone.utc)
    return to_oslo(now).date()
