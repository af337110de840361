"""Standing orders and Norwegian public holidays: a planned delivery on a holiday is flagged with
its name; a plan that moves them (the default) delivers on the next working day, and the job
`portal standing-orders` makes that order once, for the moved date. Pages and API show the same."""

from __future__ import annotations

import datetime as dt
import re

from flask import Flask
from sqlalchemy import select

from app.domain import standing_orders as so_rules
from app.domain.standing_orders import Delivery, Plan, holiday_name, moved_here, next_working_day, upcoming
from app.models import Order, StandingOrder
from tests.factories import World
from tests.helpers import api_headers, client_as, db_session

D = dt.date
# 2027: Monday 17 May is Grunnlovsdag (and Andre pinsedag); Thursday 6 May is Kristi himmelfartsdag;
# Easter: Thursday 25 March to Monday 29 March.
MAY_17 = D(2027, 5, 17)


def test_holidays_and_working_days() -> None:
    assert "Grunnlovsdag" in (holiday_name(MAY_17) or "")
    assert holiday_name(D(2027, 5, 6)) == "Kristi himmelfartsdag"
    assert holiday_name(D(2027, 5, 16)) == "Første pinsedag"  # a Sunday that is a holiday
    assert holiday_name(D(2027, 5, 9)) is None  # an ordinary Sunday is not a holiday
    assert holiday_name(D(2027, 5, 18)) is None
    assert next_working_day(MAY_17) == D(2027, 5, 18)
    assert next_working_day(D(2027, 3, 25)) == D(2027, 3, 30)  # Easter: Fri, Sat, Sun, Mon skipped
    assert next_working_day(D(2027, 12, 24)) == D(2027, 12, 27)  # Friday → Monday (25, 26 a weekend)
    assert moved_here(D(2027, 5, 18)) == [MAY_17, D(2027, 5, 16)]
    assert moved_here(D(2027, 3, 30)) == [D(2027, 3, 29), D(2027, 3, 28), D(2027, 3, 26), D(2027, 3, 25)]
    assert moved_here(D(2027, 5, 19)) == [] and moved_here(MAY_17) == []


def test_upcoming_flags_the_holiday_and_moves_it() -> None:
    plan = Plan("weekly", D(2027, 5, 10), weekday=0)
    deliveries = upcoming(plan, D(2027, 5, 1), count=3)
    assert deliveries[0] == Delivery(D(2027, 5, 10), D(2027, 5, 10), None)
    moved = deliveries[1]
    assert (moved.planned, moved.delivered, moved.moved) == (MAY_17, D(2027, 5, 18), True)
    assert "Grunnlovsdag" in (moved.holiday or "")
    kept = upcoming(Plan("weekly", D(2027, 5, 10), weekday=0, holiday_shift=False), D(2027, 5, 11), count=1)[0]
    assert (kept.planned, kept.delivered, kept.moved, kept.next_working) == (MAY_17, MAY_17, False, D(2027, 5, 18))
    # Monthly on the 25th: Maundy Thursday 2027 moves to the Tuesday after Easter.
    easter = upcoming(Plan("monthly", D(2027, 3, 1), day_of_month=25), D(2027, 3, 1), count=1)[0]
    assert (easter.delivered, easter.holiday) == (D(2027, 3, 30), "Skjærtorsdag")


def _plan(app: Flask, world: World, shift: bool, weekday: int = 0, start: dt.date = D(2027, 5, 10)) -> int:
    with app.app_context(), db_session(app) as s:
        item = s.get(StandingOrder, world.a.standing_order.id)
        item.start_date, item.weekday, item.frequency, item.holiday_shift = start, weekday, "weekly", shift
        item.created_by_id = world.a.admin.id
        s.commit()
        return item.id


def _orders(app: Flask, plan_id: int) -> list[dt.date]:
    with app.app_context(), db_session(app) as s:
        return list(s.scalars(select(Order.delivery_date).where(Order.standing_order_id == plan_id).order_by(Order.id)))


def _run(app: Flask, day: dt.date) -> dict[int, str]:
    with app.app_context(), db_session(app) as s:
        return {o.standing_order_id: o.result for o in so_rules.generate_due(s, day).outcomes}


def test_the_job_makes_a_moved_delivery_once_on_the_next_working_day(app: Flask, world: World) -> None:
    plan_id = _plan(app, world, shift=True)
    assert plan_id not in _run(app, MAY_17)  # nothing on the holiday itself
    assert _run(app, D(2027, 5, 18))[plan_id] == "created"
    assert _run(app, D(2027, 5, 18))[plan_id] == "exists"  # a second run makes no second order
    assert plan_id not in _run(app, D(2027, 5, 19))
    assert _orders(app, plan_id) == [D(2027, 5, 18)]
    # The next regular Monday as usual.
    assert _run(app, D(2027, 5, 24))[plan_id] == "created"
    assert _orders(app, plan_id) == [D(2027, 5, 18), D(2027, 5, 24)]


def test_a_plan_that_does_not_move_delivers_on_the_holiday(app: Flask, world: World) -> None:
    plan_id = _plan(app, world, shift=False)
    assert _run(app, MAY_17)[plan_id] == "created"
    assert plan_id not in _run(app, D(2027, 5, 18))
    assert _orders(app, plan_id) == [MAY_17]


def test_skip_pause_and_end_apply_to_the_planned_holiday(app: Flask, world: World) -> None:
    plan_id = _plan(app, world, shift=True)
    with app.app_context(), db_session(app) as s:
        s.get(StandingOrder, plan_id).skip_date = MAY_17
        s.commit()
    assert plan_id not in _run(app, D(2027, 5, 18))
    with app.app_context(), db_session(app) as s:
        item = s.get(StandingOrder, plan_id)
        item.skip_date, item.end_date = None, MAY_17  # the plan ends on the holiday: still delivered
        s.commit()
    assert _run(app, D(2027, 5, 18))[plan_id] == "created"
    assert plan_id not in _run(app, D(2027, 5, 24))


def test_the_page_flags_the_holiday_and_offers_the_move(app: Flask, world: World) -> None:
    plan_id = _plan(app, world, shift=True)
    admin = client_as(app, "hansen.admin")
    body = admin.get(f"/standingorderview/show/{plan_id}").get_data(as_text=True)
    flagged = re.findall(r'<li class="list-group-item list-group-item-warning holiday-delivery".*?</li>', body, re.S)
    assert len(flagged) == 1 and "Grunnlovsdag" in flagged[0] and "18.05.2027" in flagged[0]
    assert "Flyttet" in flagged[0] and "17.05.2027" in flagged[0]
    # The form has the choice, ticked; unticking it keeps the delivery on the holiday, and the page
    # then offers the move.
    form = admin.get(f"/faste-ordre/{plan_id}/endre").get_data(as_text=True)
    assert re.search(r'name="holiday_shift" value="1"\s+checked', form)
    assert "Slik lager du en fast ordre" in form
    data = {
        "name": "Ukentlig påfyll",
        "delivery_address_id": str(world.a.address.id),
        "frequency": "weekly",
        "weekday": "0",
        "start_date": "2027-05-10",
        "end_date": "",
        "active": "1",
        "lines-0-product_id": str(world.product.id),
        "lines-0-quantity": "3",
    }
    assert admin.post(f"/faste-ordre/{plan_id}/endre", data=data).status_code in (200, 302)
    with app.app_context(), db_session(app) as s:
        assert s.get(StandingOrder, plan_id).holiday_shift is False
    body = admin.get(f"/standingorderview/show/{plan_id}").get_data(as_text=True)
    flagged = re.findall(r'<li class="list-group-item list-group-item-warning holiday-delivery".*?</li>', body, re.S)
    assert "Helligdag: " in flagged[0] and "Neste virkedag er 18.05.2027" in flagged[0]
    assert "Flytt leveranser på helligdager til neste virkedag" in flagged[0]
    admin.post(f"/faste-ordre/{plan_id}/endre", data={**data, "holiday_shift": "1"})
    with app.app_context(), db_session(app) as s:
        assert s.get(StandingOrder, plan_id).holiday_shift is True


def test_the_list_shows_the_guide(app: Flask, world: World) -> None:
    body = client_as(app, "hansen.admin").get("/standingorderview/list/").get_data(as_text=True)
    guide = re.search(r'id="standing-order-guide".*?</ol>', body, re.S)
    assert guide and "Slik lager du en fast ordre" in guide.group(0) and guide.group(0).count("<li>") >= 3


def test_the_api_shows_and_changes_the_choice(app: Flask, world: World) -> None:
    plan_id = _plan(app, world, shift=True)
    client, headers = app.test_client(), api_headers(app, "hansen.admin")
    result = client.get(f"/api/v1/standing_order/{plan_id}", headers=headers).json["result"]
    assert result["holiday_shift"] is True
    moved = result["upcoming_deliveries"][1]
    assert (moved["planned"], moved["delivery_date"], moved["moved"]) == ("2027-05-17", "2027-05-18", True)
    assert "Grunnlovsdag" in moved["holiday"] and result["upcoming_deliveries"][0]["holiday"] is None
    response = client.put(f"/api/v1/standing_order/{plan_id}", json={"holiday_shift": False}, headers=headers)
    assert response.status_code == 200, response.json
    kept = response.json["result"]["upcoming_deliveries"][1]
    assert (kept["delivery_date"], kept["moved"]) == ("2027-05-17", False)
    assert (
        client.put(f"/api/v1/standing_order/{plan_id}", json={"holiday_shift": "kanskje"}, headers=headers).status_code
        == 400
    )
    # Another company's plan stays hidden.
    other = world.b.standing_order.id
    assert client.get(f"/api/v1/standing_order/{other}", headers=headers).status_code == 404
