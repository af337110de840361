"""Display of money, dates, months and quarters in the current language; times in Europe/Oslo.

Bokmål (the default, and the fallback outside a request: CLI, mail delivery): `1 234,50 kr`,
`05.12.2026`, `05.12.2026 14:30`, `desember 2026`, `4. kvartal 2026`. English: `NOK 1,234.50`,
`5 Dec 2026`, `5 Dec 2026, 14:30`, `December 2026`, `Q4 2026`. Formatting is Babel's (CLDR
symbols and month names) with our own patterns, so bokmål output is exactly the portal's
long-standing one. Inside a request the language is Flask-Babel's `get_locale()` (so
`flask_babel.force_locale("nb")` pins it, e.g. for a Norwegian document or mail).
"""

from __future__ import annotations

import datetime as dt
import functools
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date as babel_format_date
from babel.dates import format_datetime as babel_format_datetime
from babel.numbers import NumberPattern
from babel.numbers import parse_pattern as parse_number_pattern
from flask_babel import get_locale

OSLO = ZoneInfo("Europe/Oslo")
NBSP = "\u00a0"
DEFAULT_LOCALE = Locale.parse("nb")

# Per language: Babel number and date patterns (¤ is the currency symbol: "kr" in nb, "NOK" in en).
# Negative amounts are written with an ASCII hyphen in every language.
PATTERNS: dict[str, dict[str, str]] = {
    "nb": {
        "money": f"#,##0.00{NBSP}¤;-#,##0.00{NBSP}¤",
        "amount": "#,##0.00;-#,##0.00",
        "date": "dd.MM.y",
        "datetime": "dd.MM.y HH:mm",
        "month": "LLLL y",
        "quarter": "QQQQ y",
    },
    "en": {
        "money": f"¤{NBSP}#,##0.00;-¤{NBSP}#,##0.00",
        "amount": "#,##0.00;-#,##0.00",
        "date": "d MMM y",
        "datetime": "d MMM y, HH:mm",
        "month": "LLLL y",
        "quarter": "QQQ y",
    },
}


def _locale() -> Locale:
    """The request's locale if it is one we have patterns for, else bokmål."""
    try:
        locale: Locale | None = get_locale()  # None outside an app context
    except KeyError:  # an app context without Flask-Babel
        locale = None
    if locale is None or locale.language not in PATTERNS:
        return DEFAULT_LOCALE
    return locale


def _pattern(locale: Locale, kind: str) -> str:
    return PATTERNS[locale.language][kind]


@functools.cache
def _number_pattern(language: str, kind: str) -> NumberPattern:
    """A parsed number pattern (Babel would parse the pattern again for every amount on a page)."""
    return parse_number_pattern(PATTERNS[language][kind])


def format_nok(value: Decimal | int | float | None, with_unit: bool = True) -> str:
    """1234.5 -> '1 234,50 kr' in bokmål (non-breaking spaces), 'NOK 1,234.50' in English.

    Rounded half up to øre (Babel alone would round half to even)."""
    if value is None:
        return ""
    amount = Decimal(value).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    if amount == 0:
        amount = abs(amount)  # never "-0,00"
    group, decimal, positive, negative = _money_shape(_locale().language, with_unit)
    digits = f"{abs(amount):,.2f}".translate({ord(","): group, ord("."): decimal})
    return (negative if amount < 0 else positive).format(digits)


@functools.cache
def _money_shape(language: str, with_unit: bool) -> tuple[str, str, str, str]:
    """Babel's output for the language's pattern, taken apart once: group and decimal symbols and
    the positive and negative forms around the digits (Babel takes ~0.1 ms per amount; a list has
    hundreds). tests/test_formatting.py compares the two."""
    locale = Locale.parse(language)
    pattern = _number_pattern(language, "money" if with_unit else "amount")

    def babel(value: str) -> str:
        if with_unit:
            return pattern.apply(Decimal(value), locale, currency="NOK", currency_digits=False)
        return pattern.apply(Decimal(value), locale)

    sample = babel("1234567.89")  # "1 234 567,89 kr"
    start = next(i for i, ch in enumerate(sample) if ch.isdigit())
    digits = sample[start : start + len("1,234,567.89")]
    group, decimal = digits[1], digits[-3]
    return group, decimal, babel("1234567.89").replace(digits, "{}"), babel("-1234567.89").replace(digits, "{}")


def to_oslo(value: dt.datetime) -> dt.datetime:
    """An aware Oslo time; a naive value is taken to be UTC (as the database stores times)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(OSLO)


def format_oslo_datetime(value: dt.datetime | None) -> str:
    """Oslo wall-clock time: '06.01.2026 00:30' (nb), '6 Jan 2026, 00:30' (en)."""
    if value is None:
        return ""
    locale = _locale()
    return babel_format_datetime(to_oslo(value), _pattern(locale, "datetime"), tzinfo=OSLO, locale=locale)


def _oslo_date(value: dt.date | dt.datetime) -> dt.date:
    return to_oslo(value).date() if isinstance(value, dt.datetime) else value


def format_date(value: dt.date | dt.datetime | None) -> str:
    """'05.12.2026' (nb), '5 Dec 2026' (en); a datetime is shown as its Oslo date."""
    if value is None:
        return ""
    locale = _locale()
    return babel_format_date(_oslo_date(value), _pattern(locale, "date"), locale=locale)


def format_month(value: dt.date | dt.datetime | None) -> str:
    """The month containing `value`: 'desember 2026' (nb), 'December 2026' (en)."""
    if value is None:
        return ""
    locale = _locale()
    return babel_format_date(_oslo_date(value), _pattern(locale, "month"), locale=locale)


def format_quarter(value: dt.date | dt.datetime | None) -> str:
    """The quarter containing `value`: '4. kvartal 2026' (nb), 'Q4 2026' (en)."""
    if value is None:
        return ""
    locale = _locale()
    return babel_format_date(_oslo_date(value), _pattern(locale, "quarter"), locale=locale)


def oslo_today(now: dt.datetime | None = None) -> dt.date:
    now = now or dt.datetime.now(dt.UTC)
    return to_oslo(now).date()


def oslo_midnight_utc(day: dt.date) -> dt.datetime:
    """The instant `day` begins in Oslo, as an aware UTC datetime (how the models store times).

    23:00 UTC the day before in winter, 22:00 in summer; midnight always exists in Oslo (the
    clocks change at 02:00/03:00), so the day after a DST change starts 23 or 25 hours later.
    For "placed on day D": `oslo_midnight_utc(D) <= created_at < oslo_midnight_utc(D + 1 day)`."""
    return dt.datetime.combine(day, dt.time(0), tzinfo=OSLO).astimezone(dt.UTC)
