"""Money, dates, months and quarters in the current language (bokmål outside a request); Oslo midnights."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import ROUND_HALF_UP, Decimal

import pytest
from babel.numbers import parse_pattern as parse_number_pattern
from flask import Flask, render_template_string, session
from flask.testing import FlaskClient
from flask_babel import force_locale, get_locale

from app.domain.formatting import (
    NBSP,
    OSLO,
    format_date,
    format_month,
    format_nok,
    format_oslo_datetime,
    format_quarter,
    oslo_midnight_utc,
    oslo_today,
    to_oslo,
)

UTC = dt.UTC


@contextmanager
def in_locale(app: Flask, locale: str) -> Iterator[None]:
    """A request whose session has chosen `locale` (its own app context: Flask-Babel caches the
    locale on `g`)."""
    with app.app_context(), app.test_request_context("/"):
        session["locale"] = locale
        assert str(get_locale()) == locale
        yield


def _legacy_nok(value: Decimal | int | float, with_unit: bool = True) -> str:
    """The hand-written formatter the portal used before Babel: bokmål must stay byte for byte."""
    amount = Decimal(value).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    sign = "-" if amount < 0 else ""
    whole, frac = f"{abs(amount):.2f}".split(".")
    groups = []
    while whole:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    text = f"{sign}{NBSP.join(groups)},{frac}"
    return f"{text}{NBSP}kr" if with_unit else text


# --- money ------------------------------------------------------------------------------------

NOK_CASES = [
    Decimal("1234.5"),
    Decimal("0"),
    Decimal("-0.001"),
    Decimal("0.005"),
    Decimal("-0.005"),
    Decimal("999.995"),
    Decimal("-1234567.891"),
    Decimal("100000"),
    Decimal("12"),
    0,
    7,
    -42,
    1000000000,
    0.125,
    2.675,
    1234.5,
    -99.99,
    Decimal("9999999999.99"),
]


@pytest.mark.parametrize("value", NOK_CASES, ids=str)
def test_nok_in_bokmaal_is_unchanged(value: Decimal | int | float) -> None:
    assert format_nok(value) == _legacy_nok(value)
    assert format_nok(value, with_unit=False) == _legacy_nok(value, with_unit=False)


def test_nok_in_bokmaal_matches_the_old_formatter_on_random_amounts() -> None:
    rng = random.Random(20260101)
    for _ in range(2000):
        value = Decimal(rng.randint(-(10**12), 10**12)) / Decimal(10 ** rng.randint(0, 4))
        assert format_nok(value) == _legacy_nok(value), value
        assert format_nok(value, with_unit=False) == _legacy_nok(value, with_unit=False), value


def test_nok_exact_strings() -> None:
    assert format_nok(Decimal("1234.5")) == "1\u00a0234,50\u00a0kr"
    assert format_nok(Decimal("-1234.5")) == "-1\u00a0234,50\u00a0kr"  # ASCII hyphen, not U+2212
    assert format_nok(Decimal("1234.5"), with_unit=False) == "1\u00a0234,50"
    assert format_nok(Decimal("0.005")) == "0,01\u00a0kr"  # half up, not half even
    assert format_nok(None) == "" and format_nok(None, with_unit=False) == ""


def test_nok_in_english(app: Flask) -> None:
    with in_locale(app, "en"):
        assert format_nok(Decimal("1234.5")) == "NOK\u00a01,234.50"
        assert format_nok(Decimal("-1234567.891")) == "-NOK\u00a01,234,567.89"
        assert format_nok(Decimal("1234.5"), with_unit=False) == "1,234.50"
        assert format_nok(Decimal("-0.001")) == "NOK\u00a00.00"
        assert format_nok(0.125) == "NOK\u00a00.13"
        assert format_nok(None) == ""


def test_nok_in_english_matches_babel_on_random_amounts(app: Flask) -> None:
    """The fast formatter against Babel with the English patterns, amount by amount."""
    from babel import Locale

    from app.domain.formatting import PATTERNS

    rng = random.Random(20261203)
    english = Locale.parse("en")
    with in_locale(app, "en"):
        for _ in range(2000):
            value = Decimal(rng.randint(-(10**12), 10**12)) / Decimal(10 ** rng.randint(0, 4))
            amount = abs(q) if (q := value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)) == 0 else q
            money = parse_number_pattern(PATTERNS["en"]["money"]).apply(
                amount, english, currency="NOK", currency_digits=False
            )
            plain = parse_number_pattern(PATTERNS["en"]["amount"]).apply(amount, english)
            assert format_nok(value) == money, value
            assert format_nok(value, with_unit=False) == plain, value


def test_nok_in_a_bokmaal_request(app: Flask) -> None:
    with in_locale(app, "nb"):
        assert format_nok(Decimal("1234.5")) == "1\u00a0234,50\u00a0kr"


# --- dates and times --------------------------------------------------------------------------

WINTER_EVENING = dt.datetime(2026, 1, 5, 23, 30, tzinfo=UTC)  # 00:30 on 6 Jan in Oslo (UTC+1)
SUMMER_EVENING = dt.datetime(2026, 7, 1, 22, 30, tzinfo=UTC)  # 00:30 on 2 Jul in Oslo (UTC+2)


def test_dates_in_bokmaal() -> None:
    assert format_date(dt.date(2026, 12, 5)) == "05.12.2026"
    assert format_date(WINTER_EVENING) == "06.01.2026"  # a datetime shows its Oslo date
    assert format_date(SUMMER_EVENING) == "02.07.2026"
    assert format_date(None) == ""
    assert format_oslo_datetime(WINTER_EVENING) == "06.01.2026 00:30"
    assert format_oslo_datetime(SUMMER_EVENING) == "02.07.2026 00:30"
    assert format_oslo_datetime(dt.datetime(2026, 1, 5, 23, 30)) == "06.01.2026 00:30"  # naive = UTC
    assert format_oslo_datetime(dt.datetime(2026, 3, 1, 12, 5, tzinfo=OSLO)) == "01.03.2026 12:05"
    assert format_oslo_datetime(None) == ""


def test_dates_in_bokmaal_match_strftime() -> None:
    day = dt.date(2025, 1, 1)
    for offset in range(0, 800, 7):
        value = day + dt.timedelta(days=offset)
        assert format_date(value) == value.strftime("%d.%m.%Y")
        moment = dt.datetime.combine(value, dt.time(offset % 24, offset % 60), tzinfo=UTC)
        assert format_oslo_datetime(moment) == to_oslo(moment).strftime("%d.%m.%Y %H:%M")


def test_dates_in_english(app: Flask) -> None:
    with in_locale(app, "en"):
        assert format_date(dt.date(2026, 12, 5)) == "5 Dec 2026"
        assert format_date(WINTER_EVENING) == "6 Jan 2026"
        assert format_oslo_datetime(WINTER_EVENING) == "6 Jan 2026, 00:30"
        assert format_oslo_datetime(SUMMER_EVENING) == "2 Jul 2026, 00:30"
        assert format_oslo_datetime(dt.datetime(2026, 10, 25, 0, 30, tzinfo=UTC)) == "25 Oct 2026, 02:30"
        assert format_oslo_datetime(dt.datetime(2026, 10, 25, 1, 30, tzinfo=UTC)) == "25 Oct 2026, 02:30"


NB_MONTHS = [
    "januar",
    "februar",
    "mars",
    "april",
    "mai",
    "juni",
    "juli",
    "august",
    "september",
    "oktober",
    "november",
    "desember",
]
EN_MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]


def test_months_and_quarters_in_bokmaal() -> None:
    for month, name in enumerate(NB_MONTHS, start=1):
        assert format_month(dt.date(2026, month, 17)) == f"{name} 2026"
        assert format_quarter(dt.date(2026, month, 1)) == f"{(month - 1) // 3 + 1}. kvartal 2026"
    assert format_month(dt.date(2026, 12, 31)) == "desember 2026"
    assert format_quarter(dt.date(2026, 12, 31)) == "4. kvartal 2026"
    assert format_month(dt.datetime(2026, 11, 30, 23, 30, tzinfo=UTC)) == "desember 2026"  # Oslo month
    assert format_quarter(dt.datetime(2026, 12, 31, 23, 30, tzinfo=UTC)) == "1. kvartal 2027"
    assert format_month(None) == "" and format_quarter(None) == ""


def test_months_and_quarters_in_english(app: Flask) -> None:
    with in_locale(app, "en"):
        for month, name in enumerate(EN_MONTHS, start=1):
            assert format_month(dt.date(2026, month, 17)) == f"{name} 2026"
            assert format_quarter(dt.date(2026, month, 1)) == f"Q{(month - 1) // 3 + 1} 2026"
        assert format_month(dt.date(2026, 12, 1)) == "December 2026"
        assert format_quarter(dt.date(2026, 12, 1)) == "Q4 2026"


# --- which language, where ---------------------------------------------------------------------


def test_bokmaal_outside_a_request(app: Flask) -> None:
    with app.app_context():  # CLI commands, mail delivery
        assert format_nok(Decimal("1234.5")) == "1\u00a0234,50\u00a0kr"
        assert format_month(dt.date(2026, 12, 1)) == "desember 2026"
    assert format_quarter(dt.date(2026, 12, 1)) == "4. kvartal 2026"  # no app at all
    with Flask("bare").app_context():  # an app without Flask-Babel
        assert format_date(dt.date(2026, 12, 5)) == "05.12.2026"


def test_force_locale_pins_bokmaal_in_an_english_request(app: Flask) -> None:
    """For a Norwegian document or mail made during an English user's request."""
    with in_locale(app, "en"):
        with force_locale("nb"):
            assert format_nok(Decimal("1234.5")) == "1\u00a0234,50\u00a0kr"
            assert format_date(dt.date(2026, 12, 5)) == "05.12.2026"
        assert format_nok(Decimal("1234.5")) == "NOK\u00a01,234.50"


def test_unsupported_session_locale_formats_in_bokmaal(app: Flask) -> None:
    with in_locale(app, "nb"):
        session["locale"] = "de"
        with force_locale("de"):  # even if something forces a language we have no patterns for
            assert format_nok(Decimal("1234.5")) == "1\u00a0234,50\u00a0kr"
            assert format_month(dt.date(2026, 12, 1)) == "desember 2026"


def test_template_filters_follow_the_request(app: Flask) -> None:
    template = "{{ x|nok }}|{{ d|oslo_date }}|{{ t|oslo }}|{{ d|month }}|{{ d|quarter }}"
    values = {"x": Decimal("1234.5"), "d": dt.date(2026, 12, 5), "t": WINTER_EVENING}
    with in_locale(app, "nb"):
        assert render_template_string(template, **values) == (
            "1\u00a0234,50\u00a0kr|05.12.2026|06.01.2026 00:30|desember 2026|4. kvartal 2026"
        )
    with in_locale(app, "en"):
        assert render_template_string(template, **values) == (
            "NOK\u00a01,234.50|5 Dec 2026|6 Jan 2026, 00:30|December 2026|Q4 2026"
        )


def test_money_on_a_page_follows_the_language(app: Flask, client: FlaskClient, world) -> None:  # noqa: ANN001
    from tests.helpers import login

    url = f"/mycompanyview/edit/{world.a.company.id}"
    assert any(rule.rule == "/mycompanyview/edit/<pk>" for rule in app.url_map.iter_rules())
    login(client, "hansen.admin")
    assert "200\u00a0000,00\u00a0kr" in client.get(url).get_data(as_text=True)
    client.get("/lang/en")
    body = client.get(url).get_data(as_text=True)
    assert "NOK\u00a0200,000.00" in body and "200\u00a0000,00\u00a0kr" not in body


# --- days in UTC ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "utc"),
    [
        (dt.date(2026, 1, 15), dt.datetime(2026, 1, 14, 23, 0, tzinfo=UTC)),  # winter, UTC+1
        (dt.date(2026, 7, 15), dt.datetime(2026, 7, 14, 22, 0, tzinfo=UTC)),  # summer, UTC+2
        (dt.date(2026, 3, 29), dt.datetime(2026, 3, 28, 23, 0, tzinfo=UTC)),  # clocks go forward at 02:00
        (dt.date(2026, 3, 30), dt.datetime(2026, 3, 29, 22, 0, tzinfo=UTC)),
        (dt.date(2026, 10, 25), dt.datetime(2026, 10, 24, 22, 0, tzinfo=UTC)),  # clocks go back at 03:00
        (dt.date(2026, 10, 26), dt.datetime(2026, 10, 25, 23, 0, tzinfo=UTC)),
        (dt.date(2025, 1, 1), dt.datetime(2024, 12, 31, 23, 0, tzinfo=UTC)),
    ],
)
def test_oslo_midnight_utc(day: dt.date, utc: dt.datetime) -> None:
    midnight = oslo_midnight_utc(day)
    assert midnight == utc
    assert midnight.tzinfo is UTC and midnight.utcoffset() == dt.timedelta(0)
    local = to_oslo(midnight)
    assert (local.date(), local.time()) == (day, dt.time(0))
    assert oslo_today(midnight) == day and oslo_today(midnight - dt.timedelta(microseconds=1)) == day - dt.timedelta(1)


def test_oslo_days_are_23_or_25_hours_on_dst_changes() -> None:
    def hours(day: dt.date) -> float:
        return (oslo_midnight_utc(day + dt.timedelta(days=1)) - oslo_midnight_utc(day)).total_seconds() / 3600

    assert hours(dt.date(2026, 3, 29)) == 23
    assert hours(dt.date(2026, 10, 25)) == 25
    assert hours(dt.date(2026, 6, 1)) == 24
    lengths = {hours(dt.date(2026, 1, 1) + dt.timedelta(days=n)) for n in range(365)}
    assert lengths == {23, 24, 25}


def test_oslo_midnight_utc_is_stored_unchanged() -> None:
    from app.models import UTCDateTime

    midnight = oslo_midnight_utc(dt.date(2026, 3, 29))
    assert UTCDateTime().process_bind_param(midnight, None) == midnight


def test_a_line_measured_one_way_shows_one_measure() -> None:
    from types import SimpleNamespace

    from app.views.orders.overview import line_configuration

    def line(**kw: object) -> SimpleNamespace:
        return SimpleNamespace(**{"width": None, "depth": None, "fabric": None, "colour": None, **kw})

    assert line_configuration(line(width=140)) == "140 cm"
    assert line_configuration(line(width=160, depth=90)) == "160 × 90 cm"
    assert line_configuration(line()) == ""
