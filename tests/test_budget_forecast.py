"""The budget dashboard's period-end forecast: none before enough days and orders, then a straight
line at the average per day so far; the chart's y-axis is scaled around the limit, and a forecast
above it is drawn to the top with its value in the label."""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal
from typing import Any

from flask import Flask
from sqlalchemy import select

from app.domain.budgets import FORECAST_MIN_DAYS, FORECAST_MIN_ORDERS, cumulative, forecast_total
from app.domain.orders import LineInput, place_order
from app.models import Budget, Order
from app.views.budgets import _clipped_forecast, _line_figure
from tests.factories import World
from tests.helpers import actor, client_as, db_session

D = dt.date
UTC = dt.UTC


def _orders_at(app: Flask, world: World, placed: list[tuple[dt.datetime, int]]) -> None:
    """Company A's user orders `chairs` chairs (500 kr each ex. VAT) at each given UTC time."""
    with app.app_context(), db_session(app) as s:
        for when, chairs in placed:
            order = place_order(
                s,
                actor=actor(world.a.user, "CustomerUser"),
                company_id=world.a.company.id,
                delivery_address_id=world.a.address.id,
                lines=[LineInput(product_id=world.product.id, quantity=chairs)],
            )
            s.flush()
            order.created_at = when
        # The fixture's own order of company A lies outside the months used here.
        s.get(Order, world.a.order.id).created_at = dt.datetime(2020, 1, 1, tzinfo=UTC)
        s.commit()


def test_the_rule_itself() -> None:
    assert FORECAST_MIN_DAYS == 7 and FORECAST_MIN_ORDERS == 3
    # Day 1 of 31 with one large order: no forecast (the run rate would say 31 times the order).
    assert forecast_total(Decimal("43650"), 1, 1, 31) is None
    # Enough days but few orders, or many orders on too few days: still none.
    assert forecast_total(Decimal("9000"), 2, 20, 31) is None
    assert forecast_total(Decimal("9000"), 10, 6, 31) is None
    # Mid-period with enough orders: the average per day so far, to the end of the period.
    assert forecast_total(Decimal("7500"), 3, 15, 30) == Decimal("15000.00")
    assert forecast_total(Decimal("1000"), 3, 7, 31) == Decimal("4428.57")
    # The period's last day: nothing left to forecast.
    assert forecast_total(Decimal("1000"), 5, 31, 31) is None


def test_day_one_gives_no_forecast_and_says_why(app: Flask, world: World) -> None:
    # The case from the field: one order of 43 650 kr on 1 December against a 10 000 kr limit.
    _orders_at(app, world, [(dt.datetime(2026, 12, 1, 8, 0, tzinfo=UTC), 87)])
    with app.app_context(), db_session(app) as s:
        budget = s.get(Budget, world.a.budget.id)
        series = cumulative(s, budget, D(2026, 12, 1), today=D(2026, 12, 1))
        assert series["used"] == Decimal("43500.00") and series["orders"] == 1
        assert series["forecast"] == [] and series["forecast_total"] is None and series["forecast_waits"]
        figure = _line_figure(budget, series)
        assert [t["name"] for t in figure["data"]] == ["Forbruk (akkumulert)", "Grense"]
        # The axis is scaled around the larger of limit and consumption, not a forecast.
        assert figure["layout"]["yaxis"]["range"] == [0, 52200.0]


def test_few_orders_give_no_forecast_mid_period(app: Flask, world: World) -> None:
    _orders_at(
        app,
        world,
        [(dt.datetime(2026, 11, 2, 9, 0, tzinfo=UTC), 4), (dt.datetime(2026, 11, 10, 9, 0, tzinfo=UTC), 2)],
    )
    with app.app_context(), db_session(app) as s:
        budget = s.get(Budget, world.a.budget.id)
        series = cumulative(s, budget, D(2026, 11, 20), today=D(2026, 11, 20))
        assert series["orders"] == 2 and series["used"] == Decimal("3000.00")
        assert series["forecast_total"] is None and series["forecast_waits"]


def test_mid_period_forecast_is_the_average_per_day(app: Flask, world: World) -> None:
    # Cancelled and rejected orders do not count, not even towards the number of orders.
    _orders_at(
        app,
        world,
        [
            (dt.datetime(2026, 11, 2, 9, 0, tzinfo=UTC), 4),
            (dt.datetime(2026, 11, 5, 9, 0, tzinfo=UTC), 2),
            (dt.datetime(2026, 11, 12, 9, 0, tzinfo=UTC), 4),
        ],
    )
    with app.app_context(), db_session(app) as s:
        budget = s.get(Budget, world.a.budget.id)
        series = cumulative(s, budget, D(2026, 11, 15), today=D(2026, 11, 15))
        assert series["orders"] == 3 and series["used"] == Decimal("5000.00")
        assert series["forecast_total"] == Decimal("10000.00")  # 5000 in 15 of 30 days
        assert series["forecast"] == [(D(2026, 11, 15), Decimal("5000.00")), (D(2026, 11, 30), Decimal("10000.00"))]
        assert not series["forecast_waits"]
        last = s.scalars(select(Order).where(Order.company_id == world.a.company.id).order_by(Order.id.desc())).first()
        last.status = "cancelled"
        s.flush()
        again = cumulative(s, budget, D(2026, 11, 15), today=D(2026, 11, 15))
        assert again["orders"] == 2 and again["forecast_total"] is None
        s.rollback()


def test_a_forecast_above_the_axis_is_clipped_with_its_value_in_the_label(app: Flask, world: World) -> None:
    _orders_at(
        app,
        world,
        [(dt.datetime(2026, 11, d, 9, 0, tzinfo=UTC), 4) for d in (1, 3, 5, 7)],
    )
    with app.app_context(), db_session(app) as s:
        budget = s.get(Budget, world.a.budget.id)
        series = cumulative(s, budget, D(2026, 11, 8), today=D(2026, 11, 8))
        assert series["used"] == Decimal("8000.00") and series["forecast_total"] == Decimal("30000.00")
        figure = _line_figure(budget, series)
        top = figure["layout"]["yaxis"]["range"][1]
        assert top == 12000.0  # the 10 000 kr limit plus a fifth
        forecast = figure["data"][-1]
        assert forecast["name"] == "Prognose" and max(forecast["y"]) == top
        label = figure["layout"]["annotations"][0]["text"]
        assert "30\u00a0000,00\u00a0kr" in label and "30.11." in label


def test_clipped_line_ends_where_it_reaches_the_top() -> None:
    points = _clipped_forecast(D(2026, 11, 10), Decimal("0"), D(2026, 11, 20), Decimal("200"), Decimal("100"))
    assert points == [("2026-11-10", Decimal("0")), ("2026-11-15 00:00", Decimal("100"))]
    inside = _clipped_forecast(D(2026, 11, 10), Decimal("50"), D(2026, 11, 20), Decimal("90"), Decimal("100"))
    assert inside == [("2026-11-10", Decimal("50")), ("2026-11-20", Decimal("90"))]


def _figure(body: str, name: str) -> dict[str, Any]:
    match = re.search(rf'<script type="application/json" id="{name}">(.*?)</script>', body, re.S)
    assert match, f"no {name} on the page"
    return json.loads(match.group(1))


def test_the_dashboard_states_the_method_under_the_chart(app: Flask, world: World) -> None:
    body = client_as(app, "hansen.admin").get("/bruksgrense/oversikt/").get_data(as_text=True)
    method = re.search(r'id="forecast-method">(.*?)</p>', body, re.S)
    assert method and "gjennomsnittet per dag" in method.group(1) and "dag 7" in method.group(1)
    assert "minst 3 bestillinger" in method.group(1)
    assert "range" in _figure(body, "cumulative-figure")["layout"]["yaxis"]
