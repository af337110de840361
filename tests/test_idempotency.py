"""Exactly once from the customer side: the order form's one-time token and the API's
Idempotency-Key header (app/domain/idempotency.py).

Sequential repeats run on both databases; the simultaneous ones (two connections claiming the
same key at the same moment) need PostgreSQL's row locks and are marked `postgres`: a table lock
on `orders` holds both requests after they claimed (or wait to claim) the key, then lets them go.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, text, update

from app.domain import idempotency
from app.domain.formatting import oslo_today
from app.models import IdempotencyKey, MailOutbox, Order, StandingOrder, utcnow
from tests.factories import World
from tests.helpers import (
    Caller,
    assert_no_leak,
    client_as,
    count_rows,
    db_engine,
    db_session,
    field_errors,
    text_of,
)

API = "/api/v1/order/"
ORDER_PAGE = re.compile(r"/orderview/show/(\d+)$")


def order_form(world: World, token: str | None, **fields: str) -> dict[str, str]:
    data = {
        "delivery_address_id": str(world.a.address.id),
        "lines-0-product_id": str(world.product.id),  # type: ignore[union-attr]
        "lines-0-quantity": "2",
        **fields,
    }
    if token is not None:
        data["order_token"] = token
    return data


def order_body(world: World, quantity: int = 2) -> dict[str, Any]:
    return {
        "delivery_address_id": world.a.address.id,
        "customer_reference": "PO-1",
        "lines": [{"product_id": world.product.id, "quantity": quantity}],  # type: ignore[union-attr]
    }


def token_of(page: str) -> str:
    match = re.search(r'name="order_token" value="([^"]+)"', page)
    assert match, "the order form carries its one-time token"
    return match.group(1)


def order_id_of(response: Any) -> int:
    assert response.status_code == 302, text_of(response)
    match = ORDER_PAGE.search(response.headers["Location"])
    assert match, response.headers["Location"]
    return int(match.group(1))


def post_key(caller: Caller, key: str, body: Any) -> Any:
    return caller.client.post(API, json=body, headers={**caller.headers, "Idempotency-Key": key})


def age_keys(app: Flask, hours: float) -> None:
    with db_session(app) as s:
        s.execute(update(IdempotencyKey).values(created_at=utcnow() - dt.timedelta(hours=hours)))
        s.commit()


# --- the order form ---------------------------------------------------------------------------


def test_the_form_carries_a_fresh_token_each_time(app: Flask, world: World) -> None:
    client = client_as(app, "hansen.bruker")
    first = token_of(text_of(client.get("/bestill/")))
    second = token_of(text_of(client.get("/bestill/")))
    assert first != second and idempotency.valid_key(first) and len(first) >= 32


def test_the_same_form_sent_twice_makes_one_order_and_shows_it(app: Flask, world: World) -> None:
    client = client_as(app, "hansen.bruker")
    token = token_of(text_of(client.get("/bestill/")))
    before = count_rows(app, Order)
    first = order_id_of(client.post("/bestill/", data=order_form(world, token)))
    text_of(client.get(f"/orderview/show/{first}"))  # the first answer's message is shown
    again = client.post("/bestill/", data=order_form(world, token))
    assert order_id_of(again) == first
    assert count_rows(app, Order) == before + 1
    assert count_rows(app, MailOutbox, kind="order_confirmation") == 1
    page = text_of(client.get(again.headers["Location"]))
    with db_session(app) as s:
        number = s.get(Order, first).number
    assert f"Bestillingen var allerede sendt, og den ble ikke sendt på nytt. Dette er ordre {number}." in page
    assert "er registrert" not in page
    # A new form is a new order.
    fresh = token_of(text_of(client.get("/bestill/")))
    assert order_id_of(client.post("/bestill/", data=order_form(world, fresh))) != first
    assert count_rows(app, Order) == before + 2


def test_a_refused_form_keeps_its_token_free_for_the_corrected_one(app: Flask, world: World) -> None:
    client = client_as(app, "hansen.bruker")
    token = token_of(text_of(client.get("/bestill/")))
    before = count_rows(app, Order)
    refused = client.post("/bestill/", data=order_form(world, token, **{"lines-0-quantity": "0"}))
    assert refused.status_code == 200 and "Bestillingen er ikke sendt" in text_of(refused)
    assert token_of(text_of(refused)) == token  # the page sent again is the same form
    assert count_rows(app, IdempotencyKey) == 0 and count_rows(app, Order) == before
    order_id_of(client.post("/bestill/", data=order_form(world, token)))
    assert count_rows(app, Order) == before + 1


def test_two_users_with_the_same_token_get_their_own_orders(app: Flask, world: World) -> None:
    token = "same-token-for-both-0123456789"
    one = order_id_of(client_as(app, "hansen.bruker").post("/bestill/", data=order_form(world, token)))
    two = order_id_of(client_as(app, "hansen.admin").post("/bestill/", data=order_form(world, token)))
    assert one != two


@pytest.mark.parametrize("token", ["x" * 201, "<script>", "a b", "æøå"])
def test_a_malformed_token_places_nothing(app: Flask, world: World, token: str) -> None:
    client = client_as(app, "hansen.bruker")
    before = count_rows(app, Order)
    response = client.post("/bestill/", data=order_form(world, token))
    assert response.status_code == 200
    page = text_of(response)
    assert "Bestillingen er ikke sendt: skjemaet var ugyldig" in page
    assert token_of(page) != token and idempotency.valid_key(token_of(page))
    assert count_rows(app, Order) == before and count_rows(app, IdempotencyKey) == 0


def test_a_form_without_token_is_placed_as_before(app: Flask, world: World) -> None:
    """Scripts and pages rendered before the token existed: placed (and not made exactly once)."""
    client = client_as(app, "hansen.bruker")
    before = count_rows(app, Order)
    order_id_of(client.post("/bestill/", data=order_form(world, None)))
    assert count_rows(app, Order) == before + 1 and count_rows(app, IdempotencyKey) == 0


# --- the standing-order form ("Ny fast ordre") ------------------------------------------------


def plan_form(world: World, token: str | None) -> dict[str, str]:
    data = {
        "name": "Frukt hver mandag",
        "delivery_address_id": str(world.a.address.id),
        "frequency": "weekly",
        "interval_weeks": "1",
        "weekday": "0",
        "day_of_month": "1",
        "start_date": (oslo_today() + dt.timedelta(days=7)).isoformat(),
        "end_date": "",
        "lines-0-product_id": str(world.product.id),  # type: ignore[union-attr]
        "lines-0-quantity": "5",
    }
    if token is not None:
        data["order_token"] = token
    return data


PLAN_PAGE = re.compile(r"/faste-ordre/(?:show/)?(\d+)")


def test_the_standing_order_form_sent_twice_makes_one_plan(app: Flask, world: World) -> None:
    client = client_as(app, "hansen.admin")
    token = token_of(text_of(client.get("/faste-ordre/ny")))
    before = count_rows(app, StandingOrder)
    first = client.post("/faste-ordre/ny", data=plan_form(world, token))
    again = client.post("/faste-ordre/ny", data=plan_form(world, token))
    assert first.status_code == again.status_code == 302, text_of(again)
    assert first.headers["Location"] == again.headers["Location"]
    assert count_rows(app, StandingOrder) == before + 1
    page = text_of(client.get(again.headers["Location"]))
    assert "Den faste ordren «Frukt hver mandag» var allerede lagret, og den ble ikke lagret på nytt." in page
    # Editing a plan carries no token (an edit is the same change again).
    with db_session(app) as s:
        plan_id = s.scalars(select(StandingOrder.id).where(StandingOrder.name == "Frukt hver mandag")).one()
    assert 'name="order_token"' not in text_of(client.get(f"/faste-ordre/{plan_id}/endre"))


@pytest.mark.postgres
def test_two_simultaneous_standing_order_submits_make_one_plan(app: Flask, world: World) -> None:
    clients = [client_as(app, "hansen.admin"), client_as(app, "hansen.admin")]
    token = token_of(text_of(clients[0].get("/faste-ordre/ny")))
    before = count_rows(app, StandingOrder)

    def submit(client: FlaskClient) -> Any:
        return client.post("/faste-ordre/ny", data=plan_form(world, token))

    # The standing orders table is what the first one writes (and then waits on).
    answers = _at_once(app, [lambda c=c: submit(c) for c in clients], table="standing_orders")
    assert [a.status_code for a in answers] == [302, 302], [text_of(a)[-500:] for a in answers]
    assert answers[0].headers["Location"] == answers[1].headers["Location"]
    assert count_rows(app, StandingOrder) == before + 1


# --- the API ------------------------------------------------------------------------------------


def test_the_same_key_returns_the_first_order(app: Flask, world: World, as_role: Callable[[str], Caller]) -> None:
    user = as_role("hansen.bruker")
    before = count_rows(app, Order)
    first = post_key(user, "9f1c2d3e-0000-4000-8000-000000000001", order_body(world))
    assert first.status_code == 201, text_of(first)
    assert "Idempotent-Replayed" not in first.headers
    again = post_key(user, "9f1c2d3e-0000-4000-8000-000000000001", order_body(world))
    assert again.status_code == 201, text_of(again)
    assert again.json["id"] == first.json["id"] and again.json["result"]["number"] == first.json["result"]["number"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert count_rows(app, Order) == before + 1
    assert count_rows(app, MailOutbox, kind="order_confirmation") == 1
    # Without a key, or with another, a new order.
    assert user.post(API, order_body(world)).json["id"] != first.json["id"]
    assert post_key(user, "another-key", order_body(world)).json["id"] != first.json["id"]
    assert count_rows(app, Order) == before + 3


def test_a_key_is_per_user(app: Flask, world: World, as_role: Callable[[str], Caller]) -> None:
    one = post_key(as_role("hansen.bruker"), "shared-key", order_body(world))
    two = post_key(as_role("hansen.admin"), "shared-key", order_body(world))
    assert one.status_code == two.status_code == 201
    assert one.json["id"] != two.json["id"]
    assert count_rows(app, IdempotencyKey) == 2


def test_after_24_hours_the_key_is_free_again(app: Flask, world: World, as_role: Callable[[str], Caller]) -> None:
    user = as_role("hansen.bruker")
    first = post_key(user, "daily-key", order_body(world)).json["id"]
    age_keys(app, 23.9)
    assert post_key(user, "daily-key", order_body(world)).json["id"] == first
    age_keys(app, 24.1)
    second = post_key(user, "daily-key", order_body(world, quantity=3))
    assert second.status_code == 201 and second.json["id"] != first
    assert post_key(user, "daily-key", order_body(world, quantity=3)).json["id"] == second.json["id"]
    with db_session(app) as s:
        assert s.scalars(select(IdempotencyKey.order_id)).all() == [second.json["id"]]


@pytest.mark.parametrize("key", ["", "k" * 201, "two words", "line\tbreak", "naïve", "a/b", "<x>"])
def test_a_bad_key_is_400_naming_the_header(
    app: Flask, world: World, as_role: Callable[[str], Caller], key: str
) -> None:
    before = count_rows(app, Order)
    response = post_key(as_role("hansen.bruker"), key, order_body(world))
    errors = field_errors(response)
    assert list(errors) == ["Idempotency-Key"] and "200 tegn" in errors["Idempotency-Key"][0]
    assert_no_leak(response)
    assert count_rows(app, Order) == before and count_rows(app, IdempotencyKey) == 0


def test_a_key_of_200_allowed_characters_is_accepted(
    app: Flask, world: World, as_role: Callable[[str], Caller]
) -> None:
    key = ("Ab9_.:-" * 30)[:200]
    assert post_key(as_role("hansen.bruker"), key, order_body(world)).status_code == 201


def test_the_same_key_with_another_body_is_409(app: Flask, world: World, as_role: Callable[[str], Caller]) -> None:
    user = as_role("hansen.bruker")
    first = post_key(user, "reused", order_body(world))
    before = count_rows(app, Order)
    response = post_key(user, "reused", order_body(world, quantity=5))
    assert response.status_code == 409
    assert "allerede brukt" in response.json["message"] and first.json["result"]["number"] in response.json["message"]
    assert count_rows(app, Order) == before
    # The same content in another key order and spacing is the same body.
    body = order_body(world)
    same = {"lines": body["lines"], "customer_reference": "PO-1", "delivery_address_id": world.a.address.id}
    assert post_key(user, "reused", same).json["id"] == first.json["id"]


def test_a_refused_body_does_not_use_up_the_key(app: Flask, world: World, as_role: Callable[[str], Caller]) -> None:
    user = as_role("hansen.bruker")
    refused = post_key(user, "retry-me", order_body(world, quantity=0))
    assert refused.status_code == 400 and count_rows(app, IdempotencyKey) == 0
    assert post_key(user, "retry-me", order_body(world)).status_code == 201


def test_staff_keys_name_the_company_in_the_body(app: Flask, world: World, as_role: Callable[[str], Caller]) -> None:
    admin = as_role("Admin")
    body = {**order_body(world), "company_id": world.a.company.id}
    first = post_key(admin, "staff-key", body)
    assert first.status_code == 201, text_of(first)
    assert post_key(admin, "staff-key", body).json["id"] == first.json["id"]
    other = {**body, "company_id": world.b.company.id, "delivery_address_id": world.b.address.id}
    assert post_key(admin, "staff-key", other).status_code == 409


# --- old keys ---------------------------------------------------------------------------------


def test_purge_deletes_only_keys_older_than_24_hours(
    app: Flask, world: World, as_role: Callable[[str], Caller]
) -> None:
    user = as_role("hansen.bruker")
    post_key(user, "old", order_body(world))
    age_keys(app, 25)
    post_key(user, "new", order_body(world))
    result = app.test_cli_runner().invoke(args=["portal", "purge-idempotency-keys"])
    assert result.exit_code == 0, result.output
    assert "Slettet 1 " in result.output
    with db_session(app) as s:
        assert s.scalars(select(IdempotencyKey.key)).all() == ["new"]


# --- at the same moment (PostgreSQL) ----------------------------------------------------------


def _at_once(app: Flask, requests: list[Callable[[], Any]], table: str = "orders") -> list[Any]:
    """Run the requests in threads while `table` is locked against writes; release the lock once
    every request waits on a lock (the first on the table, the others on its key), so they race."""
    results: list[Any] = [None] * len(requests)

    def run(i: int) -> None:
        results[i] = requests[i]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(requests))]
    with db_engine(app).connect() as conn, conn.begin():
        conn.execute(text(f"LOCK TABLE {table} IN SHARE MODE"))
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 30
        waiting = 0
        while time.monotonic() < deadline:
            conn.execute(text("SELECT pg_stat_clear_snapshot()"))
            waiting = conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
                )
            ).scalar_one()
            if waiting >= len(requests):
                break
            time.sleep(0.05)
    for thread in threads:
        thread.join(30)
    assert waiting >= len(requests), "the requests never waited at the same time"
    return results


@pytest.mark.postgres
def test_two_simultaneous_form_submits_make_one_order(app: Flask, world: World) -> None:
    clients: list[FlaskClient] = [client_as(app, "hansen.bruker"), client_as(app, "hansen.bruker")]
    token = token_of(text_of(clients[0].get("/bestill/")))
    before = count_rows(app, Order)
    answers = _at_once(app, [lambda c=c: c.post("/bestill/", data=order_form(world, token)) for c in clients])
    ids = {order_id_of(a) for a in answers}
    assert len(ids) == 1
    assert count_rows(app, Order) == before + 1 and count_rows(app, IdempotencyKey) == 1
    (order_id,) = ids
    pages = [text_of(c.get(f"/orderview/show/{order_id}")) for c in clients]
    assert sum("Bestillingen var allerede sendt" in p for p in pages) == 1
    assert sum("er registrert" in p for p in pages) == 1


@pytest.mark.postgres
def test_two_simultaneous_api_posts_with_one_key_make_one_order(
    app: Flask, world: World, as_role: Callable[[str], Caller]
) -> None:
    user = as_role("hansen.bruker")
    callers = [user, Caller(app, "hansen.bruker")]
    before = count_rows(app, Order)
    answers = _at_once(app, [lambda c=c: post_key(c, "race-key", order_body(world)) for c in callers])
    assert [a.status_code for a in answers] == [201, 201], [text_of(a) for a in answers]
    assert answers[0].json["id"] == answers[1].json["id"]
    assert sorted(a.headers.get("Idempotent-Replayed", "") for a in answers) == ["", "true"]
    assert count_rows(app, Order) == before + 1
    assert count_rows(app, MailOutbox, kind="order_confirmation") == 1


@pytest.mark.postgres
def test_two_simultaneous_quote_conversions_make_one_order(app: Flask, world: World) -> None:
    """ "Bestill" on a quote needs no token: the quote is claimed by a conditional UPDATE of its
    status (app/domain/quotes.py) in the order's transaction; the second finds it accepted."""
    clients = [client_as(app, "hansen.bruker"), client_as(app, "hansen.bruker")]
    quote_id = world.a.quote.id
    answers = _at_once(app, [lambda c=c: c.post(f"/tilbud/{quote_id}/bestill") for c in clients])
    assert all(a.status_code == 302 for a in answers)
    places = sorted(a.headers["Location"] for a in answers)
    assert sum(bool(ORDER_PAGE.search(p)) for p in places) == 1, places
    assert sum(p.endswith(f"/quoteview/show/{quote_id}") for p in places) == 1, places
    with db_session(app) as s:
        assert len(s.scalars(select(Order.id).where(Order.quote_id == quote_id)).all()) == 1
