"""Faste ordre: the schedule arithmetic, keeping plans, the order generator (`portal standing-orders`),
the pages and the API.

The generator tests run on SQLite and PostgreSQL; the parallel ones need PostgreSQL (two sessions
racing for the unique constraint on (standing_order_id, delivery_date)).
"""

from __future__ import annotations

import datetime as dt
import random
import re
import threading
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.domain import standing_orders as so_rules
from app.domain.actors import Actor
from app.domain.errors import NotAllowed, ValidationFailed
from app.domain.formatting import oslo_today
from app.domain.orders import LineInput
from app.domain.standing_orders import Plan, is_delivery_day, is_scheduled, month_day, next_deliveries
from app.extensions import db
from app.models import Budget, Company, MailOutbox, Order, StandingOrder
from tests.factories import World
from tests.helpers import actor, api_headers, client_as, db_session, text_of

D = dt.date


# --- the schedule: pure functions ------------------------------------------------------------


def test_weekly_on_a_weekday_from_the_start_date() -> None:
    plan = Plan("weekly", D(2026, 11, 25), weekday=0)  # a Wednesday start, Mondays
    assert next_deliveries(plan, D(2026, 11, 1)) == [
        D(2026, 11, 30),
        D(2026, 12, 7),
        D(2026, 12, 14),
        D(2026, 12, 21),
        D(2026, 12, 28),
    ]
    assert next_deliveries(plan, D(2026, 12, 8), count=2) == [D(2026, 12, 14), D(2026, 12, 21)]
    # The start date itself when it is the weekday.
    assert next_deliveries(Plan("weekly", D(2026, 11, 30), weekday=0), D(2026, 11, 30), 1) == [D(2026, 11, 30)]


def test_every_n_weeks_counts_from_the_first_delivery_not_from_today() -> None:
    plan = Plan("every_n_weeks", D(2026, 11, 25), weekday=0, interval_weeks=3)
    expected = [D(2026, 11, 30), D(2026, 12, 21), D(2027, 1, 11), D(2027, 2, 1), D(2027, 2, 22)]
    assert next_deliveries(plan, D(2026, 1, 1)) == expected
    # Asking later never shifts the rhythm.
    assert next_deliveries(plan, D(2026, 12, 1), 3) == expected[1:4]
    assert next_deliveries(plan, D(2026, 12, 21), 1) == [D(2026, 12, 21)]
    assert not is_delivery_day(plan, D(2026, 12, 7)) and not is_delivery_day(plan, D(2026, 12, 14))
    # Across a year boundary with 53 ISO weeks (2026 has 53): still every second Friday.
    fortnight = Plan("every_n_weeks", D(2026, 12, 18), weekday=4, interval_weeks=2)
    assert next_deliveries(fortnight, D(2026, 12, 18), 4) == [
        D(2026, 12, 18),
        D(2027, 1, 1),
        D(2027, 1, 15),
        D(2027, 1, 29),
    ]


@pytest.mark.parametrize(
    "day_of_month,start,expected",
    [
        # 31st: the last day of shorter months; February 28 in 2027, 29 in the leap year 2028.
        (31, D(2027, 1, 1), [D(2027, 1, 31), D(2027, 2, 28), D(2027, 3, 31), D(2027, 4, 30), D(2027, 5, 31)]),
        (31, D(2028, 1, 1), [D(2028, 1, 31), D(2028, 2, 29), D(2028, 3, 31), D(2028, 4, 30), D(2028, 5, 31)]),
        (30, D(2028, 1, 31), [D(2028, 2, 29), D(2028, 3, 30), D(2028, 4, 30), D(2028, 5, 30), D(2028, 6, 30)]),
        (29, D(2027, 2, 1), [D(2027, 2, 28), D(2027, 3, 29), D(2027, 4, 29), D(2027, 5, 29), D(2027, 6, 29)]),
        # Across the year end; a start after this month's day begins next month.
        (15, D(2026, 11, 24), [D(2026, 12, 15), D(2027, 1, 15), D(2027, 2, 15), D(2027, 3, 15), D(2027, 4, 15)]),
        (1, D(2026, 12, 1), [D(2026, 12, 1), D(2027, 1, 1), D(2027, 2, 1), D(2027, 3, 1), D(2027, 4, 1)]),
    ],
)
def test_monthly_on_a_day_or_the_last_day_of_a_shorter_month(
    day_of_month: int, start: dt.date, expected: list[dt.date]
) -> None:
    assert next_deliveries(Plan("monthly", start, day_of_month=day_of_month), start) == expected


def test_month_day_clamps() -> None:
    assert month_day(2026, 2, 31) == D(2026, 2, 28)
    assert month_day(2028, 2, 31) == D(2028, 2, 29)
    assert month_day(2100, 2, 29) == D(2100, 2, 28)  # 2100 is no leap year
    assert month_day(2026, 4, 31) == D(2026, 4, 30)
    assert month_day(2026, 12, 31) == D(2026, 12, 31)


def test_pause_is_inclusive_and_skip_leaves_out_one_delivery() -> None:
    base = dict(frequency="weekly", start_date=D(2026, 11, 2), weekday=0)
    paused = Plan(**base, paused_until=D(2026, 11, 16))
    assert next_deliveries(paused, D(2026, 11, 1), 3) == [D(2026, 11, 23), D(2026, 11, 30), D(2026, 12, 7)]
    assert not is_delivery_day(paused, D(2026, 11, 16)) and is_delivery_day(paused, D(2026, 11, 23))
    assert is_scheduled(paused, D(2026, 11, 16))  # still a date of the plan, just paused
    skipped = Plan(**base, skip_date=D(2026, 11, 9))
    assert next_deliveries(skipped, D(2026, 11, 1), 3) == [D(2026, 11, 2), D(2026, 11, 16), D(2026, 11, 23)]
    assert not is_delivery_day(skipped, D(2026, 11, 9))
    # Both at once, and a pause ending on a Sunday.
    both = Plan(**base, paused_until=D(2026, 11, 8), skip_date=D(2026, 11, 16))
    assert next_deliveries(both, D(2026, 11, 1), 2) == [D(2026, 11, 9), D(2026, 11, 23)]


def test_end_date_is_the_last_possible_delivery_and_inactive_plans_deliver_nothing() -> None:
    plan = Plan("weekly", D(2026, 11, 2), weekday=0, end_date=D(2026, 11, 16))
    assert next_deliveries(plan, D(2026, 11, 1)) == [D(2026, 11, 2), D(2026, 11, 9), D(2026, 11, 16)]
    assert next_deliveries(plan, D(2026, 11, 17)) == []
    assert not is_delivery_day(plan, D(2026, 11, 23))
    assert next_deliveries(Plan("weekly", D(2026, 11, 2), weekday=0, active=False), D(2026, 11, 1)) == []
    assert not is_delivery_day(Plan("weekly", D(2026, 11, 2), weekday=0, active=False), D(2026, 11, 2))
    # A pause beyond the end: nothing left.
    assert (
        next_deliveries(
            Plan("monthly", D(2026, 1, 1), day_of_month=5, end_date=D(2026, 6, 30), paused_until=D(2026, 12, 31)),
            D(2026, 1, 1),
        )
        == []
    )


def test_nothing_before_the_start_date() -> None:
    plan = Plan("monthly", D(2026, 3, 10), day_of_month=5)
    assert not is_delivery_day(plan, D(2026, 3, 5))
    assert next_deliveries(plan, D(2026, 1, 1), 1) == [D(2026, 4, 5)]


def test_next_deliveries_agrees_with_a_day_by_day_scan() -> None:
    """Random plans: the fast iterator must give exactly the days is_delivery_day accepts."""
    rng = random.Random(5)
    for _ in range(300):
        start = D(2027, 1, 1) + dt.timedelta(days=rng.randrange(0, 800))
        frequency = rng.choice(["weekly", "every_n_weeks", "monthly"])
        plan = Plan(
            frequency,
            start,
            weekday=rng.randrange(7),
            interval_weeks=rng.randrange(1, 6),
            day_of_month=rng.randrange(1, 32),
            end_date=rng.choice([None, start + dt.timedelta(days=rng.randrange(0, 400))]),
            paused_until=rng.choice([None, start + dt.timedelta(days=rng.randrange(-10, 120))]),
            skip_date=rng.choice([None, start + dt.timedelta(days=rng.randrange(0, 90))]),
        )
        frm = start + dt.timedelta(days=rng.randrange(-30, 200))
        found = next_deliveries(plan, frm, count=5)
        scan = [d for d in (frm + dt.timedelta(days=i) for i in range(900)) if is_delivery_day(plan, d)][:5]
        assert found == scan, plan


# --- the database tests ----------------------------------------------------------------------


def _admin(world: World, tenant: str = "a") -> Actor:
    return actor(getattr(world, tenant).admin, "CustomerAdmin")


def _next_weekday(day: dt.date, weekday: int) -> dt.date:
    return day + dt.timedelta(days=(weekday - day.weekday()) % 7 or 7)


def _orders_of(session: Session, standing_order_id: int) -> list[Order]:
    return list(
        session.scalars(select(Order).where(Order.standing_order_id == standing_order_id).order_by(Order.delivery_date))
    )


def _plan_input(world: World, **overrides: Any) -> so_rules.PlanInput:
    values: dict[str, Any] = dict(
        name="Kaffe hver fredag",
        delivery_address_id=world.a.address.id,
        frequency="weekly",
        weekday=4,
        start_date=oslo_today() + dt.timedelta(days=1),
        lines=[LineInput(product_id=world.product.id, quantity=4)],
    )
    values.update(overrides)
    return so_rules.PlanInput(**values)


@pytest.fixture()
def monday(world: World) -> dt.date:
    """The next Monday: company A's (dealer, invoice) and B's (card) plans in the world deliver then."""
    return _next_weekday(oslo_today(), 0)


# --- keeping plans -----------------------------------------------------------------------------


def test_customer_admin_creates_a_plan_for_the_own_company(app: Flask, world: World) -> None:
    with app.app_context(), db_session(app) as s:
        item = so_rules.create_standing_order(
            s, _admin(world), None, _plan_input(world, frequency="every_n_weeks", interval_weeks=2, day_of_month=9)
        )
        s.commit()
        assert (item.company_id, item.created_by_id, item.interval_weeks, item.weekday) == (
            world.a.company.id,
            world.a.admin.id,
            2,
            4,
        )
        assert item.day_of_month is None  # a weekly plan keeps no day of month
        assert [(ln.product_id, ln.quantity) for ln in item.lines] == [(world.product.id, 4)]


def test_card_customers_are_refused_with_the_reason(app: Flask, world: World) -> None:
    with app.app_context(), db_session(app) as s:
        with pytest.raises(NotAllowed) as exc:
            so_rules.create_standing_order(
                s, _admin(world, "b"), None, _plan_input(world, delivery_address_id=world.b.address.id)
            )
        assert exc.value.message == "Kun tilgjengelig for fakturakunder." and exc.value.status == 409
        with pytest.raises(NotAllowed):
            so_rules.pause(s, world.b.standing_order.id, _admin(world, "b"), oslo_today())


@pytest.mark.parametrize(
    "overrides,field",
    [
        (dict(name="  "), "name"),
        (dict(frequency="daily"), "frequency"),
        (dict(weekday=None), "weekday"),
        (dict(weekday=7), "weekday"),
        (dict(frequency="every_n_weeks", interval_weeks=0), "interval_weeks"),
        (dict(frequency="every_n_weeks", interval_weeks=53), "interval_weeks"),
        (dict(frequency="monthly", day_of_month=32), "day_of_month"),
        (dict(frequency="monthly", day_of_month=None), "day_of_month"),
        (dict(start_date=None), "start_date"),
        (dict(start_date=oslo_today() - dt.timedelta(days=1)), "start_date"),
        (dict(end_date=oslo_today()), "end_date"),
        (dict(lines=[]), "lines"),
        (dict(lines=[LineInput(product_id=999999, quantity=1)]), "lines[0].product_id"),
        (dict(lines=[LineInput(product_id=None, quantity=1)]), "lines[0].product_id"),
        (dict(delivery_address_id=None), "delivery_address_id"),
    ],
)
def test_bad_plans_are_refused_per_field_and_nothing_is_written(
    app: Flask, world: World, overrides: dict, field: str
) -> None:
    with app.app_context(), db_session(app) as s:
        before = s.scalar(select(func.count()).select_from(StandingOrder))
        with pytest.raises(ValidationFailed) as exc:
            so_rules.create_standing_order(s, _admin(world), None, _plan_input(world, **overrides))
        s.rollback()
        assert field in exc.value.errors, exc.value.errors
        assert s.scalar(select(func.count()).select_from(StandingOrder)) == before


def test_configuration_and_foreign_address_are_checked(app: Flask, world: World) -> None:
    with app.app_context(), db_session(app) as s:
        with pytest.raises(ValidationFailed) as exc:
            so_rules.create_standing_order(
                s,
                _admin(world),
                None,
                _plan_input(
                    world,
                    delivery_address_id=world.b.address.id,
                    lines=[LineInput(product_id=world.configurable.id, quantity=1, width=500)],
                ),
            )
        assert {"delivery_address_id", "lines[0].width", "lines[0].fabric"} <= set(exc.value.errors)


def test_update_pause_and_skip(app: Flask, world: World, monday: dt.date) -> None:
    plan_id = world.a.standing_order.id
    with app.app_context(), db_session(app) as s:
        admin = _admin(world)
        item = so_rules.update_standing_order(
            s, plan_id, admin, so_rules.PlanInput(name="Nytt navn"), provided={"name"}
        )
        assert (item.name, item.frequency, item.weekday) == ("Nytt navn", "weekly", 0)
        so_rules.skip(s, plan_id, admin, monday)
        assert item.skip_date == monday
        assert next_deliveries(item, oslo_today(), 1) == [monday + dt.timedelta(weeks=1)]
        with pytest.raises(ValidationFailed) as exc:  # not a delivery day of the plan
            so_rules.skip(s, plan_id, admin, monday + dt.timedelta(days=1))
        assert "date" in exc.value.errors
        so_rules.pause(s, plan_id, admin, monday + dt.timedelta(days=7))
        assert next_deliveries(item, oslo_today(), 1) == [monday + dt.timedelta(weeks=2)]
        with pytest.raises(ValidationFailed) as exc:
            so_rules.pause(s, plan_id, admin, oslo_today() - dt.timedelta(days=1))
        assert "until" in exc.value.errors
        # Changing the weekday drops a skip date that is no longer a delivery of the plan.
        so_rules.update_standing_order(s, plan_id, admin, so_rules.PlanInput(weekday=2), provided={"weekday"})
        assert item.skip_date is None
        # Another company's plan does not exist for this admin.
        with pytest.raises(so_rules.NotFound):
            so_rules.pause(s, world.b.standing_order.id, admin, None)
        s.commit()


# --- the generator -----------------------------------------------------------------------------


def _run(app: Flask, day: dt.date) -> so_rules.RunSummary:
    with app.app_context(), db_session(app) as s:
        return so_rules.generate_due(s, day)


def test_generator_places_orders_through_the_order_rules_and_is_idempotent(
    app: Flask, world: World, monday: dt.date
) -> None:
    plan_id = world.a.standing_order.id
    with app.app_context(), db_session(app) as s:
        s.get(StandingOrder, plan_id).created_by_id = world.a.admin.id
        s.commit()
    first = _run(app, monday)
    results = {o.standing_order_id: o.result for o in first.outcomes}
    assert results == {plan_id: "created", world.b.standing_order.id: "refused"}
    refused = next(o for o in first.outcomes if o.result == "refused")
    assert refused.message == "Kun tilgjengelig for fakturakunder."
    second = _run(app, monday)
    assert {o.standing_order_id: o.result for o in second.outcomes} == {
        plan_id: "exists",
        world.b.standing_order.id: "refused",
    }
    with app.app_context(), db_session(app) as s:
        orders = _orders_of(s, plan_id)
        assert len(orders) == 1
        order = orders[0]
        assert (order.channel, order.delivery_date, order.company_id, order.created_by_id) == (
            "standing_order",
            monday,
            world.a.company.id,
            world.a.admin.id,
        )
        assert order.status == "pending_approval"  # company A is a dealer: a seller approves it
        assert [(ln.product_id, ln.quantity) for ln in order.lines] == [(world.product.id, 3)]
        assert order.total_ex_vat == Decimal("1500.00") and order.customer_reference == "Ukentlig påfyll"
        assert not _orders_of(s, world.b.standing_order.id)  # the card customer got nothing
        assert (
            s.scalar(
                select(func.count())
                .select_from(MailOutbox)
                .where(MailOutbox.kind == "order_confirmation", MailOutbox.to_address == world.a.admin.email)
            )
            == 1
        )
    # Not a delivery day: nothing at all.
    assert _run(app, monday + dt.timedelta(days=1)).outcomes == []


def test_generated_order_goes_through_budgets(app: Flask, world: World, monday: dt.date) -> None:
    with app.app_context(), db_session(app) as s:
        s.get(StandingOrder, world.a.standing_order.id).created_by_id = world.a.admin.id
        s.add(Budget(company_id=world.a.company.id, user_id=world.a.admin.id, period="month", amount=Decimal("100.00")))
        s.commit()
    assert _run(app, monday).count("created") == 1
    with app.app_context(), db_session(app) as s:
        order = _orders_of(s, world.a.standing_order.id)[0]
        assert order.over_budget is True


def test_pause_skip_and_end_are_respected_by_the_generator(app: Flask, world: World, monday: dt.date) -> None:
    with app.app_context(), db_session(app) as s:
        s.get(StandingOrder, world.a.standing_order.id).skip_date = monday
        s.commit()
    assert _run(app, monday).count("created") == 0
    with app.app_context(), db_session(app) as s:
        plan = s.get(StandingOrder, world.a.standing_order.id)
        plan.skip_date, plan.paused_until = None, monday + dt.timedelta(weeks=1)
        s.commit()
    assert _run(app, monday).count("created") == 0
    assert _run(app, monday + dt.timedelta(weeks=1)).count("created") == 0
    assert _run(app, monday + dt.timedelta(weeks=2)).count("created") == 1


def test_a_plan_whose_product_was_withdrawn_fails_alone(app: Flask, world: World, monday: dt.date) -> None:
    with app.app_context(), db_session(app) as s:
        s.get(Company, world.b.company.id).payment_terms = "invoice"
        s.get(StandingOrder, world.a.standing_order.id).lines[0].product.active = False
        s.commit()
    summary = _run(app, monday)
    assert summary.count("failed") == 2  # both plans order the withdrawn product
    assert all("produkt" in o.message for o in summary.outcomes)
    with app.app_context(), db_session(app) as s:
        assert s.scalar(select(func.count()).select_from(Order).where(Order.standing_order_id.is_not(None))) == 0


def test_losing_the_race_for_a_delivery_is_reported_as_existing(
    app: Flask, world: World, monday: dt.date, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the look-up first, the unique constraint alone keeps it at one order per delivery."""
    assert _run(app, monday).count("created") == 1
    monkeypatch.setattr(so_rules, "_already_made", lambda *a, **k: {})
    again = _run(app, monday)
    mine = next(o for o in again.outcomes if o.standing_order_id == world.a.standing_order.id)
    assert mine.result == "exists"
    with app.app_context(), db_session(app) as s:
        assert len(_orders_of(s, world.a.standing_order.id)) == 1


def _parallel(app: Flask, day: dt.date, runs: int = 2) -> list[so_rules.RunSummary]:
    barrier = threading.Barrier(runs)
    results: list[so_rules.RunSummary] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            with app.app_context(), Session(db.engine, expire_on_commit=False) as s:
                barrier.wait()
                results.append(so_rules.generate_due(s, day))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(runs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    return results


@pytest.mark.postgres
@pytest.mark.parametrize("look_first", [True, False], ids=["with-lookup", "constraint-only"])
def test_two_generators_at_once_make_one_order_per_delivery(
    app: Flask, world: World, monday: dt.date, monkeypatch: pytest.MonkeyPatch, look_first: bool
) -> None:
    # More plans than the world has, so the two runs really overlap.
    with app.app_context(), db_session(app) as s:
        template = s.get(StandingOrder, world.a.standing_order.id)
        for i in range(8):
            copy = StandingOrder(
                company_id=template.company_id,
                name=f"Plan {i}",
                frequency="weekly",
                weekday=0,
                delivery_address_id=template.delivery_address_id,
                start_date=template.start_date,
            )
            copy.lines = [
                type(template.lines[0])(company_id=template.company_id, product_id=world.product.id, quantity=1 + i)
            ]
            s.add(copy)
        s.commit()
    if not look_first:
        monkeypatch.setattr(so_rules, "_already_made", lambda *a, **k: {})
    for day in (monday, monday + dt.timedelta(weeks=1)):
        results = _parallel(app, day, runs=3)
        created = sum(r.count("created") for r in results)
        assert created == 9, [(o.name, o.result, o.message) for r in results for o in r.outcomes]
        for r in results:
            assert r.count("failed") == 0
            assert r.count("created") + r.count("exists") == 9
        with app.app_context(), db_session(app) as s:
            per_delivery = s.execute(
                select(Order.standing_order_id, func.count())
                .where(Order.delivery_date == day)
                .group_by(Order.standing_order_id)
            ).all()
            assert len(per_delivery) == 9 and all(n == 1 for _id, n in per_delivery)


def test_cli_shows_progress_and_a_summary(app: Flask, world: World, monday: dt.date) -> None:
    runner = app.test_cli_runner()
    result = runner.invoke(args=["portal", "standing-orders", "--date", monday.isoformat()])
    assert result.exit_code == 0, result.output
    assert f"levering {monday.strftime('%d.%m.%Y')}" in result.output
    assert "[1/2]" in result.output and "[2/2]" in result.output
    assert "«Ukentlig påfyll» (Hansen AS): opprettet – ordre" in result.output
    assert "Til godkjenning" in result.output
    assert "«Ukentlig påfyll» (Berg AS): avvist – Kun tilgjengelig for fakturakunder." in result.output
    assert "Ferdig: 1 opprettet, 0 fantes fra før, 1 avvist, 0 feilet." in result.output
    again = runner.invoke(args=["portal", "standing-orders", "--date", monday.isoformat()])
    assert "Ferdig: 0 opprettet, 1 fantes fra før, 1 avvist, 0 feilet." in again.output
    quiet = runner.invoke(args=["portal", "standing-orders", "--date", (monday + dt.timedelta(days=1)).isoformat()])
    assert "Ingen faste ordre skal leveres denne dagen." in quiet.output and quiet.exit_code == 0
    bad = runner.invoke(args=["portal", "standing-orders", "--date", "31.12.2026"])
    assert bad.exit_code != 0


# --- pages ---------------------------------------------------------------------------------------


def test_customer_admin_creates_a_plan_on_the_page(app: Flask, world: World) -> None:
    client = client_as(app, "hansen.admin")
    page = client.get("/faste-ordre/ny")
    assert page.status_code == 200
    body = text_of(page)
    assert "Leveringsplan" in body and 'name="lines-0-product_id"' in body and "product-select" in body
    start = _next_weekday(oslo_today(), 2)
    form = {
        "name": "Frukt annenhver onsdag",
        "delivery_address_id": str(world.a.address.id),
        "frequency": "every_n_weeks",
        "interval_weeks": "2",
        "weekday": "2",
        "day_of_month": "5",
        "start_date": start.isoformat(),
        "end_date": "",
        "lines-0-product_id": str(world.product.id),
        "lines-0-quantity": "5",
    }
    response = client.post("/faste-ordre/ny", data=form)
    assert response.status_code == 302, text_of(response)
    with app.app_context(), db_session(app) as s:
        item = s.scalars(select(StandingOrder).where(StandingOrder.name == "Frukt annenhver onsdag")).one()
        assert (item.company_id, item.frequency, item.interval_weeks, item.weekday, item.day_of_month) == (
            world.a.company.id,
            "every_n_weeks",
            2,
            2,
            None,
        )
    show = text_of(client.get(response.headers["Location"]))
    assert "Hver 2. uke, onsdag" in show
    for i in range(5):
        assert (start + dt.timedelta(weeks=2 * i)).strftime("%d.%m.%Y") in show
    assert "Ingen ordrer ennå." in show and 'id="pause-form"' in show and 'id="skip-form"' in show


def test_bad_form_input_is_shown_next_to_the_fields(app: Flask, world: World) -> None:
    client = client_as(app, "hansen.admin")
    response = client.post(
        "/faste-ordre/ny",
        data={
            "name": "",
            "delivery_address_id": str(world.b.address.id),
            "frequency": "monthly",
            "day_of_month": "x",
            "start_date": "2020-13-01",
            "lines-0-product_id": str(world.configurable.id),
            "lines-0-quantity": "1",
            "lines-0-width": "999",
        },
    )
    body = text_of(response)
    assert response.status_code == 200
    assert "Den faste ordren er ikke lagret" in body
    assert "Skriv et helt tall." in body and "Skriv en dato (dd.mm.åååå)." in body
    response = client.post(
        "/faste-ordre/ny",
        data={
            "name": "",
            "delivery_address_id": str(world.b.address.id),
            "frequency": "monthly",
            "day_of_month": "31",
            "start_date": oslo_today().isoformat(),
            "lines-0-product_id": str(world.configurable.id),
            "lines-0-quantity": "1",
            "lines-0-width": "999",
        },
    )
    body = text_of(response)
    for message in (
        "Gi den faste ordren et navn.",
        "Velg en leveringsadresse for kundekontoen.",
        "Bredde må være mellom 80 og 240 cm",
    ):
        assert message in body
    with app.app_context(), db_session(app) as s:
        assert s.scalar(select(func.count()).select_from(StandingOrder)) == 2


def test_edit_pause_and_skip_on_the_page(app: Flask, world: World, monday: dt.date) -> None:
    client = client_as(app, "hansen.admin")
    pk = world.a.standing_order.id
    page = client.get(f"/faste-ordre/{pk}/endre")
    assert page.status_code == 200 and 'value="Ukentlig påfyll"' in text_of(page)
    response = client.post(
        f"/faste-ordre/{pk}/endre",
        data={
            "name": "Påfyll",
            "delivery_address_id": str(world.a.address.id),
            "frequency": "monthly",
            "day_of_month": "31",
            "weekday": "0",
            "start_date": world.a.standing_order.start_date.isoformat(),
            "active": "1",
            "lines-0-product_id": str(world.product.id),
            "lines-0-quantity": "2",
        },
    )
    assert response.status_code == 302, text_of(response)
    with app.app_context(), db_session(app) as s:
        item = s.get(StandingOrder, pk)
        assert (item.name, item.frequency, item.day_of_month, item.weekday, item.lines[0].quantity) == (
            "Påfyll",
            "monthly",
            31,
            None,
            2,
        )
    first = next_deliveries(item, oslo_today(), 1)[0]
    response = client.post(f"/faste-ordre/{pk}/hopp-over", data={"date": first.isoformat()})
    assert response.status_code == 302
    show = text_of(client.get(f"/standingorderview/show/{pk}"))
    assert f"Leveringen {first.strftime('%d.%m.%Y')} hoppes over." in show
    until = first + dt.timedelta(days=40)
    client.post(f"/faste-ordre/{pk}/pause", data={"until": until.isoformat()})
    show = text_of(client.get(f"/standingorderview/show/{pk}"))
    assert f"Pause til og med {until.strftime('%d.%m.%Y')}." in show
    client.post(f"/faste-ordre/{pk}/pause", data={"end": "1"})
    with app.app_context(), db_session(app) as s:
        assert s.get(StandingOrder, pk).paused_until is None
    # A date in the past is refused with a message, nothing changes.
    response = client.post(f"/faste-ordre/{pk}/pause", data={"until": "2000-01-01"}, follow_redirects=True)
    assert "Pausen må vare til i dag eller en senere dato." in text_of(response)


def test_generated_orders_are_listed_on_the_plan_and_the_order_shows_its_plan(
    app: Flask, world: World, monday: dt.date
) -> None:
    _run(app, monday)
    with app.app_context(), db_session(app) as s:
        order = _orders_of(s, world.a.standing_order.id)[0]
    client = client_as(app, "hansen.bruker")  # a customer user may read the plans
    show = text_of(client.get(f"/standingorderview/show/{world.a.standing_order.id}"))
    assert order.number in show and monday.strftime("%d.%m.%Y") in show
    assert 'id="pause-form"' not in show and "Endre fast ordre" not in show  # reading only
    order_page = text_of(client.get(f"/orderview/show/{order.id}"))
    origin = re.search(r'<p class="standing-order-origin">(.*?)</p>', order_page, re.S).group(1)
    assert "Fra fast ordre" in origin and f"/standingorderview/show/{world.a.standing_order.id}" in origin
    assert "Ukentlig påfyll" in origin and f"levering {monday.strftime('%d.%m.%Y')}" in origin
    assert "Fast ordre" in order_page  # the channel
    assert client.get("/faste-ordre/ny").status_code == 403
    assert client.post(f"/faste-ordre/{world.a.standing_order.id}/pause", data={"end": "1"}).status_code == 403


def test_card_customer_sees_why_there_are_no_standing_orders(app: Flask, world: World) -> None:
    client = client_as(app, "berg.admin")
    listing = text_of(client.get("/standingorderview/list/"))
    assert "Kun tilgjengelig for fakturakunder." in listing and "Opprett fast ordre" not in listing
    page = client.get("/faste-ordre/ny")
    assert page.status_code == 200 and "Kun tilgjengelig for fakturakunder." in text_of(page)
    assert 'name="lines-0-product_id"' not in text_of(page)
    response = client.post(
        f"/faste-ordre/{world.b.standing_order.id}/pause",
        data={"until": oslo_today().isoformat()},
        follow_redirects=True,
    )
    assert "Kun tilgjengelig for fakturakunder." in text_of(response)
    invoice_listing = text_of(client_as(app, "hansen.admin").get("/standingorderview/list/"))
    assert "Opprett fast ordre" in invoice_listing and "Kun tilgjengelig for fakturakunder." not in invoice_listing


def test_pages_of_another_companys_plan_are_404(app: Flask, world: World) -> None:
    client = client_as(app, "hansen.admin")
    pk = world.b.standing_order.id
    assert client.get(f"/faste-ordre/{pk}/endre").status_code == 404
    assert client.post(f"/faste-ordre/{pk}/hopp-over", data={"undo": "1"}).status_code == 404
    assert client.get(f"/standingorderview/show/{pk}").status_code == 404


# --- API ---------------------------------------------------------------------------------------

API = "/api/v1/standing_order/"


def _body(world: World, **overrides: Any) -> dict[str, Any]:
    body = {
        "name": "Papir",
        "delivery_address_id": world.a.address.id,
        "frequency": "monthly",
        "day_of_month": 31,
        "start_date": (oslo_today() + dt.timedelta(days=1)).isoformat(),
        "lines": [{"product_id": world.product.id, "quantity": 2}],
    }
    body.update(overrides)
    return body


def test_api_create_change_pause_skip(app: Flask, world: World) -> None:
    client, headers = app.test_client(), api_headers(app, "hansen.admin")
    response = client.post(API, json=_body(world), headers=headers)
    assert response.status_code == 201, response.json
    result, pk = response.json["result"], response.json["id"]
    assert result["company_id"] == world.a.company.id and result["frequency"] == "monthly"
    assert result["frequency_label"] == "Hver måned" and len(result["next_deliveries"]) == 5
    assert result["lines"][0]["quantity"] == 2 and "siste dag" in result["plan_label"]
    response = client.put(
        f"{API}{pk}",
        json={"frequency": "weekly", "weekday": 4, "lines": [{"product_id": world.product.id, "quantity": 7}]},
        headers=headers,
    )
    assert response.status_code == 200, response.json
    assert (response.json["result"]["weekday"], response.json["result"]["day_of_month"]) == (4, None)
    assert [ln["quantity"] for ln in response.json["result"]["lines"]] == [7]
    first = dt.date.fromisoformat(response.json["result"]["next_deliveries"][0])
    response = client.post(f"{API}{pk}/skip", json={"date": first.isoformat()}, headers=headers)
    assert response.status_code == 200 and response.json["result"]["skip_date"] == first.isoformat()
    assert first.isoformat() not in response.json["result"]["next_deliveries"]
    response = client.post(
        f"{API}{pk}/pause", json={"until": (first + dt.timedelta(days=20)).isoformat()}, headers=headers
    )
    assert response.status_code == 200
    response = client.post(f"{API}{pk}/pause", json={"until": None}, headers=headers)
    assert response.status_code == 200 and response.json["result"]["paused_until"] is None
    response = client.put(f"{API}{pk}", json={"active": False}, headers=headers)
    assert response.status_code == 200 and response.json["result"]["next_deliveries"] == []


def test_api_refusals(app: Flask, world: World) -> None:
    client = app.test_client()
    admin = api_headers(app, "hansen.admin")
    errors = client.post(API, json=_body(world, weekday=9, frequency="weekly", lines=[]), headers=admin)
    assert errors.status_code == 400 and {"weekday", "lines"} <= set(errors.json["message"])
    errors = client.post(API, json=_body(world, company_id=world.b.company.id), headers=admin)
    assert errors.status_code == 400 and "company_id" in errors.json["message"]
    errors = client.post(API, json=_body(world, delivery_address_id=world.b.address.id), headers=admin)
    assert errors.status_code == 400 and "delivery_address_id" in errors.json["message"]
    errors = client.post(API, json=_body(world, start_date="31.12.2026"), headers=admin)
    assert errors.status_code == 400 and "start_date" in errors.json["message"]
    # Card customers: 409 with the reason, whatever the body.
    card = api_headers(app, "berg.admin")
    response = client.post(API, json=_body(world, delivery_address_id=world.b.address.id), headers=card)
    assert response.status_code == 409 and response.json["message"] == "Kun tilgjengelig for fakturakunder."
    response = client.post(f"{API}{world.b.standing_order.id}/pause", json={"until": None}, headers=card)
    assert response.status_code == 409
    # A customer user reads, but may not write; another company's plan is 404.
    user = api_headers(app, "hansen.bruker")
    assert client.get(f"{API}{world.a.standing_order.id}", headers=user).status_code == 200
    assert client.post(API, json=_body(world), headers=user).status_code == 403
    assert client.put(f"{API}{world.b.standing_order.id}", json={"name": "x"}, headers=admin).status_code == 404
    assert client.post(f"{API}{world.b.standing_order.id}/skip", json={"date": None}, headers=admin).status_code == 404
    with app.app_context(), db_session(app) as s:
        assert s.get(StandingOrder, world.b.standing_order.id).name == "Ukentlig påfyll"
