"""Bruksgrense: periods, consumption in SQL, the soft limit, the once-per-period mail (also under
parallel orders on PostgreSQL), what the order form shows, the budget form and the dashboard.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.domain import budgets
from app.domain.budgets import (
    consumption,
    cumulative,
    parse_period_key,
    period_bounds,
    period_key,
    recent_periods,
)
from app.domain.formatting import NBSP, OSLO, oslo_today
from app.domain.orders import LineInput, place_order
from app.extensions import db
from app.models import Budget, Order, PortalUser
from tests.factories import World, make_user
from tests.helpers import StatementCounter, actor, client_as, db_engine, db_session, outbox

D = dt.date
UTC = dt.UTC


def _order(app: Flask, world: World, chairs: int, user: PortalUser | None = None) -> Order:
    """Company A's user orders `chairs` chairs at 500 kr ex. VAT (committed)."""
    with app.app_context(), db_session(app) as s:
        order = place_order(
            s,
            actor=actor(user or world.a.user, "CustomerUser"),
            company_id=world.a.company.id,
            delivery_address_id=world.a.address.id,
            lines=[LineInput(product_id=world.product.id, quantity=chairs)],
        )
        s.commit()
        return order


def _nok(text: str) -> str:
    return text.replace(" ", NBSP)


# --- periods ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "period,day,start,end",
    [
        ("month", D(2026, 1, 31), D(2026, 1, 1), D(2026, 2, 1)),
        ("month", D(2026, 2, 1), D(2026, 2, 1), D(2026, 3, 1)),
        ("month", D(2026, 12, 31), D(2026, 12, 1), D(2027, 1, 1)),
        ("month", D(2028, 2, 29), D(2028, 2, 1), D(2028, 3, 1)),  # leap day
        ("quarter", D(2026, 3, 31), D(2026, 1, 1), D(2026, 4, 1)),
        ("quarter", D(2026, 4, 1), D(2026, 4, 1), D(2026, 7, 1)),
        ("quarter", D(2026, 12, 31), D(2026, 10, 1), D(2027, 1, 1)),
        ("quarter", D(2028, 2, 29), D(2028, 1, 1), D(2028, 4, 1)),
        ("year", D(2028, 2, 29), D(2028, 1, 1), D(2029, 1, 1)),
        ("year", D(2026, 12, 31), D(2026, 1, 1), D(2027, 1, 1)),
    ],
)
def test_period_bounds_at_the_edges(period: str, day: dt.date, start: dt.date, end: dt.date) -> None:
    assert period_bounds(period, day) == (start, end)


def test_period_keys_and_the_picker(app: Flask) -> None:
    assert [period_key(p, D(2026, 11, 24)) for p in ("month", "quarter", "year")] == ["2026-11", "2026-K4", "2026"]
    assert parse_period_key("month", "2028-02") == D(2028, 2, 1)
    assert parse_period_key("quarter", "2026-K2") == D(2026, 4, 1)
    assert parse_period_key("year", "2027") == D(2027, 1, 1)
    for period, key in (
        ("month", "2026-13"),
        ("month", "2026-K1"),
        ("quarter", "2026-K5"),
        ("year", "0000"),
        ("year", "abc"),
        ("month", None),
        ("week", "2026"),
    ):
        assert parse_period_key(period, key) is None
    with app.test_request_context():
        assert recent_periods("month", D(2026, 1, 15), 3) == [
            ("2026-01", "januar 2026"),
            ("2025-12", "desember 2025"),
            ("2025-11", "november 2025"),
        ]
        assert recent_periods("quarter", D(2026, 2, 1), 2) == [
            ("2026-K1", "1. kvartal 2026"),
            ("2025-K4", "4. kvartal 2025"),
        ]
        assert recent_periods("year", D(2026, 2, 1), 2) == [("2026", "2026"), ("2025", "2025")]


# --- consumption -------------------------------------------------------------------------------


def _at(app: Flask, order_id: int, when: dt.datetime, status: str | None = None) -> None:
    with app.app_context(), db_session(app) as s:
        order = s.get(Order, order_id)
        order.created_at = when
        if status:
            order.status = status
        s.commit()


def test_consumption_follows_the_oslo_calendar_and_skips_cancelled_and_rejected(app: Flask, world: World) -> None:
    # 23:30 UTC on 31 January is already 1 February in Oslo (winter time, +1).
    late = _order(app, world, 2)
    _at(app, late.id, dt.datetime(2026, 1, 31, 23, 30, tzinfo=UTC))
    # 21:30 UTC on 30 June is 23:30 the same day in Oslo (summer time, +2): still June.
    june = _order(app, world, 4)
    _at(app, june.id, dt.datetime(2026, 6, 30, 21, 30, tzinfo=UTC))
    july = _order(app, world, 6)
    _at(app, july.id, dt.datetime(2026, 6, 30, 22, 30, tzinfo=UTC))  # 00:30 on 1 July in Oslo
    cancelled = _order(app, world, 8)
    _at(app, cancelled.id, dt.datetime(2026, 7, 2, 8, 0, tzinfo=UTC), status="cancelled")
    rejected = _order(app, world, 10)
    _at(app, rejected.id, dt.datetime(2026, 7, 3, 8, 0, tzinfo=UTC), status="rejected")
    with app.app_context(), db_session(app) as s:
        budget = s.get(Budget, world.a.budget.id)
        assert consumption(s, [budget], D(2026, 1, 31)) == {budget.id: Decimal("0.00")}
        assert consumption(s, [budget], D(2026, 2, 1)) == {budget.id: Decimal("1000.00")}
        assert consumption(s, [budget], D(2026, 6, 15)) == {budget.id: Decimal("2000.00")}
        assert consumption(s, [budget], D(2026, 7, 31)) == {budget.id: Decimal("3000.00")}
        budget.period = "quarter"
        assert consumption(s, [budget], D(2026, 3, 31)) == {budget.id: Decimal("1000.00")}
        assert consumption(s, [budget], D(2026, 4, 1)) == {budget.id: Decimal("2000.00")}
        s.rollback()


def test_consumption_per_user_or_whole_company_in_one_query(app: Flask, world: World) -> None:
    _order(app, world, 2, world.a.admin)  # 1000 by the admin; the world has 1000 by the user
    with app.app_context(), db_session(app) as s:
        company_wide = Budget(company_id=world.a.company.id, user_id=None, period="month", amount=Decimal("5000"))
        admin_year = Budget(
            company_id=world.a.company.id, user_id=world.a.admin.id, period="year", amount=Decimal("5000")
        )
        other = s.get(Budget, world.b.budget.id)
        s.add_all([company_wide, admin_year])
        s.flush()
        many = [s.get(Budget, world.a.budget.id), company_wide, admin_year, other]
        with StatementCounter(s.get_bind()) as counter:
            used = consumption(s, many, oslo_today())
        assert counter.count == 1
        assert used == {
            world.a.budget.id: Decimal("1000.00"),
            company_wide.id: Decimal("2000.00"),
            admin_year.id: Decimal("1000.00"),
            other.id: Decimal("1000.00"),
        }
        s.rollback()


# --- the soft limit and the mail -----------------------------------------------------------------


def test_soft_limit_places_the_order_and_flags_it(app: Flask, world: World) -> None:
    under = _order(app, world, 18)  # 1000 + 9000 = 10000: at the limit, not over it
    assert under.over_budget is False and under.status == "pending_approval"
    assert outbox(app, kind="budget_exceeded") == []
    over = _order(app, world, 1)  # 10500 > 10000: still placed, flagged
    assert over.over_budget is True and over.status == "pending_approval" and over.number
    with app.app_context(), db_session(app) as s:
        assert s.get(Order, over.id) is not None


def test_admins_are_mailed_once_per_budget_per_period(app: Flask, world: World) -> None:
    with app.app_context(), db_session(app) as s:
        second = make_user(
            s, app.appbuilder.sm, "hansen.sjef", "CustomerAdmin", s.get(type(world.a.company), world.a.company.id)
        )
        gone = make_user(s, app.appbuilder.sm, "hansen.sluttet", "CustomerAdmin", second.company)
        gone.active = False
        make_user(s, app.appbuilder.sm, "berg.sjef", "CustomerAdmin", s.get(type(world.b.company), world.b.company.id))
        s.commit()
    for _ in range(3):
        _order(app, world, 20)  # every one of them is over the limit
    mails = outbox(app, kind="budget_exceeded")
    assert sorted(m.to_address for m in mails) == ["hansen.admin@example.no", "hansen.sjef@example.no"]
    mail = mails[0]
    assert mail.subject == "Bruksgrensen for Hansen Testesen er overskredet"
    link = f"/bruksgrense/oversikt/?periode=month&p={period_key('month', oslo_today())}&budsjett={world.a.budget.id}"
    assert _nok("10 000,00 kr") in mail.body_text and link in mail.body_text
    assert "<a href=" in mail.body_html and "overskredet" in mail.body_html
    # The next period: once more (an order judged as if placed in the next month).
    later = _order(app, world, 21)
    with app.app_context(), db_session(app) as s:
        order = s.get(Order, later.id)
        order.created_at = dt.datetime.combine(period_bounds("month", oslo_today())[1], dt.time(12), tzinfo=OSLO)
        assert budgets.apply_budgets(s, order)
        s.commit()
    assert len(outbox(app, kind="budget_exceeded")) == 4


def _race(app: Flask, world: World, chairs: int) -> list[Order]:
    barrier = threading.Barrier(2)
    placed: list[Order] = []
    errors: list[BaseException] = []

    def place() -> None:
        try:
            with app.app_context(), Session(db.engine, expire_on_commit=False) as s:
                barrier.wait()
                placed.append(
                    place_order(
                        s,
                        actor=actor(world.a.user, "CustomerUser"),
                        company_id=world.a.company.id,
                        delivery_address_id=world.a.address.id,
                        lines=[LineInput(product_id=world.product.id, quantity=chairs)],
                    )
                )
                s.commit()
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=place) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    return placed


def _fresh_budget(app: Flask, world: World, headroom: Decimal) -> int:
    """A new monthly budget for company A's user with `headroom` left (the old ones switched off)."""
    with app.app_context(), db_session(app) as s:
        for b in s.scalars(select(Budget).where(Budget.company_id == world.a.company.id)):
            b.active = False
        s.flush()
        probe = Budget(company_id=world.a.company.id, user_id=world.a.user.id, period="month", amount=Decimal(0))
        s.add(probe)
        s.flush()
        probe.amount = consumption(s, [probe], oslo_today())[probe.id] + headroom
        s.commit()
        return probe.id


@pytest.mark.postgres
@pytest.mark.parametrize("guard", ["row-lock", "unique-key-only"])
def test_parallel_orders_each_over_the_limit_send_exactly_one_mail_per_admin(
    app: Flask, world: World, guard: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if guard == "unique-key-only":
        # Without the budget row lock both transactions queue the mail; the unique dedupe key and
        # the savepoint keep one, and the losing order is still placed.
        original = budgets.applicable_budgets
        monkeypatch.setattr(
            budgets, "applicable_budgets", lambda s, company_id, user_id, lock=False: original(s, company_id, user_id)
        )
    with app.app_context(), db_session(app) as s:
        make_user(
            s, app.appbuilder.sm, "hansen.sjef", "CustomerAdmin", s.get(type(world.a.company), world.a.company.id)
        )
        s.commit()
    for _ in range(5):
        budget_id = _fresh_budget(app, world, Decimal("400"))  # each 500 kr order alone is over
        placed = _race(app, world, 1)
        assert len(placed) == 2 and all(o.over_budget for o in placed)
        keys = [
            m.dedupe_key
            for m in outbox(app, kind="budget_exceeded")
            if m.dedupe_key.startswith(f"budget-exceeded:{budget_id}:")
        ]
        assert len(keys) == 2 and len(set(keys)) == 2, keys  # one per admin


@pytest.mark.postgres
def test_parallel_orders_that_only_together_pass_the_limit_are_caught(app: Flask, world: World) -> None:
    """The budget rows are locked while an order is judged: the second order sees the first one.
    (Without the lock about half of these races end with neither order flagged and no mail.)"""
    for _ in range(15):
        budget_id = _fresh_budget(app, world, Decimal("1500"))  # 1000 + 1000 > 1500, each alone is not
        placed = _race(app, world, 2)
        assert sorted(o.over_budget for o in placed) == [False, True]
        keys = [
            m for m in outbox(app, kind="budget_exceeded") if m.dedupe_key.startswith(f"budget-exceeded:{budget_id}:")
        ]
        assert len(keys) == 1


# --- what the order form shows -------------------------------------------------------------------


def _budget_alert(body: str) -> str:
    match = re.search(r'<div class="alert ([\w-]+) budget-status">(.*?)</div>', body, re.S)
    assert match, "no budget status on the order form"
    return match.group(1) + " " + re.sub(r"[ \t\r\n]+", " ", re.sub(r"<[^>]+>", "", match.group(2)))


def test_order_form_shows_remaining_budget_then_warning_then_over(app: Flask, world: World) -> None:
    client = client_as(app, "hansen.bruker")
    alert = _budget_alert(client.get("/bestill/").get_data(as_text=True))
    assert alert.startswith("alert-info")
    assert (
        f"brukt {_nok('1 000,00 kr')} av {_nok('10 000,00 kr')}" in alert and f"igjen: {_nok('9 000,00 kr')}" in alert
    )
    _order(app, world, 15)  # 8500 of 10000: 85 %
    alert = _budget_alert(client.get("/bestill/").get_data(as_text=True))
    assert alert.startswith("alert-warning") and "over 80 % er brukt" in alert and _nok("1 500,00 kr") in alert
    # Over the limit: the user may still order; the order is flagged and the user told.
    response = client.post(
        "/bestill/",
        data={
            "delivery_address_id": str(world.a.address.id),
            "lines-0-product_id": str(world.product.id),
            "lines-0-quantity": "4",
        },
        follow_redirects=True,
    )
    assert "Merk: ordren går over bruksgrensen" in response.get_data(as_text=True)
    alert = _budget_alert(client.get("/bestill/").get_data(as_text=True))
    assert alert.startswith("alert-danger") and "grensen er overskredet" in alert
    assert "du kan fortsatt bestille" in alert
    # The admin has no budget of their own: no budget box at all.
    assert "budget-status" not in client_as(app, "hansen.admin").get("/bestill/").get_data(as_text=True)


# --- the budget form (BudgetView) ------------------------------------------------------------------


def _form_errors(body: str) -> list[str]:
    return [re.sub(r"[ \t\r\n]+", " ", m).strip() for m in re.findall(r'alert-danger">(.*?)</div>', body, re.S)]


def test_budget_form_offers_only_own_users_and_speaks_norwegian(app: Flask, world: World) -> None:
    client = client_as(app, "hansen.admin")
    form = client.get("/budgetview/add").get_data(as_text=True)
    options = re.findall(
        r'<option value="(\d+)"', re.search(r'<select[^>]*name="user".*?</select>', form, re.S).group(0)
    )
    assert sorted(map(int, options)) == sorted([world.a.admin.id, world.a.user.id]) and "Berg" not in form
    assert "(alle brukere)" in form
    for amount, message in (
        ("abc", "Skriv et beløp i kroner, for eksempel 1500,00."),
        ("-5", "Beløpet kan ikke være negativt."),
        ("1,555", "Beløpet kan ha høyst to desimaler."),
        ("", "Beløpet må fylles ut."),
        ("99999999999", "Beløpet er for stort."),
    ):
        body = client.post(
            "/budgetview/add", data={"period": "month", "amount": amount, "user": "__None", "active": "y"}
        ).get_data(as_text=True)
        assert message in _form_errors(body), (amount, _form_errors(body))
    body = client.post(
        "/budgetview/add", data={"period": "month", "amount": "5", "user": str(world.b.user.id), "active": "y"}
    ).get_data(as_text=True)
    assert "Ikke et gyldig valg" in _form_errors(body)
    response = client.post(
        "/budgetview/add", data={"period": "quarter", "amount": "1 500,50", "user": str(world.a.admin.id)}
    )  # "active" unticked
    assert response.status_code == 302
    with app.app_context(), db_session(app) as s:
        budget = s.scalars(select(Budget).where(Budget.period == "quarter")).one()
        assert (budget.company_id, budget.user_id, budget.amount, budget.active) == (
            world.a.company.id,
            world.a.admin.id,
            Decimal("1500.50"),
            False,
        )
    edit = client.get(f"/budgetview/edit/{budget.id}").get_data(as_text=True)
    assert 'value="1 500,50"' in edit


# --- the dashboard ---------------------------------------------------------------------------------


def _figure(body: str, name: str) -> dict[str, Any]:
    match = re.search(rf'<script type="application/json" id="{name}">(.*?)</script>', body, re.S)
    assert match, f"no {name} on the page"
    return json.loads(match.group(1))


def test_customer_admin_dashboard_shows_both_charts_with_tables(app: Flask, world: World) -> None:
    _order(app, world, 20)  # the user is over the 10 000 kr month budget now
    client = client_as(app, "hansen.admin")
    response = client.get("/bruksgrense/oversikt/")
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "/static/vendor/plotly-" in body and "cdn" not in body.lower()
    bar = _figure(body, "consumption-figure")
    assert bar["data"][0]["x"] == ["Hansen Testesen"] and bar["data"][0]["y"] == [11000.0]
    assert bar["data"][1]["y"] == [10000.0] and bar["layout"]["separators"] == ", "
    line = _figure(body, "cumulative-figure")
    names = [trace["name"] for trace in line["data"]]
    assert names[:2] == ["Forbruk (akkumulert)", "Grense"]
    assert line["data"][0]["y"][-1] == 11000.0
    table = re.search(r'id="consumption-table".*?</table>', body, re.S).group(0)
    assert "Over grensen" in table and _nok("11 000,00 kr") in table and f"{_nok('1 000,00 kr')} over" in table
    assert "110 %" in table
    assert 'id="daily-table"' in body and 'id="forecast-table"' in body
    # Customer admins never pick another company.
    other = client.get("/bruksgrense/oversikt/?kunde=10002").get_data(as_text=True)
    assert "Berg" not in other and "Hansen AS" in other


def test_dashboard_period_picker(app: Flask, world: World) -> None:
    with app.app_context(), db_session(app) as s:
        s.add(Budget(company_id=world.a.company.id, user_id=None, period="quarter", amount=Decimal("50000")))
        s.commit()
    client = client_as(app, "hansen.admin")
    body = client.get("/bruksgrense/oversikt/?periode=quarter").get_data(as_text=True)
    assert _figure(body, "consumption-figure")["data"][0]["x"] == ["Alle brukere"]
    assert "Ingen aktive bruksgrenser" not in body
    body = client.get("/bruksgrense/oversikt/?periode=year").get_data(as_text=True)
    assert "Ingen aktive bruksgrenser med periode år." in body and "consumption-figure" not in body
    # Last month: complete, so no forecast; the picker offers it.
    last_month = period_bounds("month", oslo_today())[0] - dt.timedelta(days=1)
    key = period_key("month", last_month)
    body = client.get(f"/bruksgrense/oversikt/?periode=month&p={key}").get_data(as_text=True)
    assert f'<option value="{key}" selected>' in body
    assert "Prognose" not in json.dumps(_figure(body, "cumulative-figure"))
    assert _figure(body, "consumption-figure")["data"][0]["y"] == [0.0]
    # Garbage in the URL: the current period, no error.
    assert client.get("/bruksgrense/oversikt/?periode=week&p=x&budsjett=abc").status_code == 200


def test_supplier_staff_choose_the_company_by_customer_number(app: Flask, world: World) -> None:
    client = client_as(app, "selger")
    body = client.get("/bruksgrense/oversikt/").get_data(as_text=True)
    assert 'name="kunde"' in body and "consumption-figure" not in body
    body = client.get("/bruksgrense/oversikt/?kunde=10002").get_data(as_text=True)
    assert "Berg AS" in body and _figure(body, "consumption-figure")["data"][0]["x"] == ["Berg Testesen"]
    body = client.get("/bruksgrense/oversikt/?kunde=99999").get_data(as_text=True)
    assert "Fant ingen bedrift med kundenummer 99999." in body
    assert client_as(app, "hansen.bruker").get("/bruksgrense/oversikt/").status_code == 403


def test_dashboard_runs_a_fixed_number_of_statements(app: Flask, world: World) -> None:
    def count_for(extra_users: int) -> int:
        with app.app_context(), db_session(app) as s:
            company = s.get(type(world.a.company), world.a.company.id)
            for i in range(extra_users):
                user = make_user(s, app.appbuilder.sm, f"hansen.u{extra_users}x{i}", "CustomerUser", company)
                s.flush()
                s.add(Budget(company_id=company.id, user_id=user.id, period="month", amount=Decimal("100")))
            s.commit()
        client = client_as(app, "hansen.admin")
        with StatementCounter(db_engine(app)) as counter:
            assert client.get("/bruksgrense/oversikt/").status_code == 200
        return counter.count

    assert count_for(1) == count_for(12)


def test_cumulative_series_and_straight_line_forecast(app: Flask, world: World) -> None:
    first = _order(app, world, 2)  # 1000
    second = _order(app, world, 1)  # 500
    _at(app, first.id, dt.datetime(2026, 11, 3, 9, 0, tzinfo=UTC))
    _at(app, second.id, dt.datetime(2026, 11, 9, 23, 30, tzinfo=UTC))  # 10 November in Oslo
    _at(app, world.a.order.id, dt.datetime(2026, 10, 31, 22, 59, tzinfo=UTC))  # 31 October 23:59 Oslo
    with app.app_context(), db_session(app) as s:
        budget = s.get(Budget, world.a.budget.id)
        series = cumulative(s, budget, D(2026, 11, 15), today=D(2026, 11, 15))
        values = dict(series["days"])
        assert (series["start"], series["last"], len(series["days"])) == (D(2026, 11, 1), D(2026, 11, 30), 15)
        assert values[D(2026, 11, 2)] == 0 and values[D(2026, 11, 3)] == Decimal("1000.00")
        assert values[D(2026, 11, 9)] == Decimal("1000.00") and values[D(2026, 11, 10)] == Decimal("1500.00")
        assert series["used"] == Decimal("1500.00")
        # Two orders are too few for a forecast (tests/test_budget_forecast.py: the rule).
        assert series["forecast_total"] is None and series["forecast"] == [] and series["forecast_waits"]
        past = cumulative(s, budget, D(2026, 11, 15), today=D(2026, 12, 5))
        assert len(past["days"]) == 30 and past["forecast"] == [] and past["forecast_total"] is None
        future = cumulative(s, budget, D(2026, 11, 15), today=D(2026, 10, 20))
        assert future["days"] == [] and future["used"] == 0


def test_a_run_of_many_orders_starts_from_the_consumption_of_each_budget(app: Flask, world: World) -> None:
    """BudgetRun (the standing-order job's chunk) reads the consumption summed per orderer: the same
    figures as `consumption`, for company-wide and personal budgets of every kind of period."""
    with app.app_context(), db_session(app) as s:
        other = make_user(
            s, app.appbuilder.sm, "run.bruker", "CustomerUser", s.get(type(world.a.company), world.a.company.id)
        )
        s.commit()
    _order(app, world, 2)
    _order(app, world, 3, user=other)
    with app.app_context(), db_session(app) as s:
        company = world.a.company.id
        rows = [Budget(company_id=company, user_id=None, period=p, amount=Decimal("100")) for p in budgets.PERIODS]
        rows += [
            Budget(company_id=company, user_id=other.id, period="month", amount=Decimal("100")),
            Budget(company_id=world.b.company.id, user_id=None, period="year", amount=Decimal("100")),
        ]
        s.add_all(rows)
        s.commit()
        day = oslo_today()
        run = budgets.BudgetRun(s, [company, world.b.company.id], day)
        every = s.scalars(select(Budget).where(Budget.company_id.in_([company, world.b.company.id]), Budget.active))
        expected = budgets.consumption(s, every, day)
        assert run.used == expected and len(expected) >= len(rows)
        assert expected[rows[3].id] > 0 and expected[rows[0].id] > expected[rows[3].id]
