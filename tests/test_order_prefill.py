"""Handing lines to the order and quote forms to review (`prefill`): how "Bestill igjen", shopping
lists and quick orders fill a form. Nothing is placed, and each line is checked as on submit.

Runs on SQLite and, with TEST_DATABASE_URL, on PostgreSQL.
"""

from __future__ import annotations

from flask import Flask
from sqlalchemy import update

from app.models import Order, Product, Quote
from tests.factories import World
from tests.helpers import client_as, count_rows, db_session, text_of


def _lines(world: World) -> dict[str, str]:
    return {
        "prefill": "1",
        "lines-0-product_id": str(world.product.id),
        "lines-0-quantity": "3",
        "lines-1-product_id": str(world.configurable.id),
        "lines-1-quantity": "1",
        "lines-1-width": "160",
        "lines-1-depth": "90",
        "lines-1-fabric": "Ull grå",
        "lines-1-colour": "Eik",
    }


def test_prefilled_order_form_shows_the_lines_and_places_nothing(app: Flask, world: World) -> None:
    client = client_as(app, "hansen.bruker")
    before = count_rows(app, Order)
    response = client.post("/bestill/", data=_lines(world))
    body = text_of(response)
    assert response.status_code == 200
    assert count_rows(app, Order) == before
    assert f'<option value="{world.product.id}" selected' in body
    assert f'<option value="{world.configurable.id}" selected' in body
    assert 'name="lines-0-quantity"' in body and 'value="3"' in body
    assert "Bestillingen er ikke sendt" not in body


def test_a_prefilled_line_of_a_product_no_longer_sold_is_flagged(app: Flask, world: World) -> None:
    with db_session(app) as s:
        s.execute(update(Product).where(Product.id == world.product.id).values(active=False))
        s.commit()
    response = client_as(app, "hansen.bruker").post("/bestill/", data=_lines(world))
    assert response.status_code == 200
    assert f"{world.product.name} kan ikke bestilles lenger. Velg et annet produkt." in text_of(response)


def test_prefilled_quote_form_shows_the_lines_and_saves_nothing(app: Flask, world: World) -> None:
    client = client_as(app, "hansen.bruker")
    before = count_rows(app, Quote)
    response = client.post("/tilbud/ny", data=_lines(world))
    assert response.status_code == 200
    assert count_rows(app, Quote) == before
    assert f'<option value="{world.configurable.id}" selected' in text_of(response)
