"""Bestill igjen: an order's or a quote's lines handed to the order form at today's prices, lines that
can no longer be ordered flagged on the page and in the form, nothing placed until the form is sent.

Runs on SQLite and, with TEST_DATABASE_URL, on PostgreSQL.
"""

from __future__ import annotations

import re
from decimal import Decimal

from flask import Flask
from sqlalchemy import update

from app.models import Order, OrderLine, Product
from tests.factories import World
from tests.helpers import client_as, count_rows, db_session, text_of


def _reorder_fields(body: str) -> dict[str, str]:
    """The fields of the page's "Bestill igjen" form, as the browser would post them."""
    form = re.search(r'<form method="post" action="/bestill/" class="reorder-form".*?</form>', body, re.S)
    assert form, "no Bestill igjen form on the page"
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form.group(0)))


def _add_configured_line(app: Flask, world: World) -> None:
    with db_session(app) as s:
        s.add(
            OrderLine(
                company_id=world.a.company.id,
                order_id=world.a.order.id,
                line_no=2,
                product_id=world.configurable.id,
                quantity=1,
                unit_price=Decimal("9000.00"),
                width=160,
                depth=90,
                fabric="Ull grå",
                colour="Eik",
            )
        )
        s.commit()


def test_order_page_posts_its_lines_to_the_order_form(app: Flask, world: World) -> None:
    _add_configured_line(app, world)
    client = client_as(app, "hansen.bruker")
    fields = _reorder_fields(text_of(client.get(f"/orderview/show/{world.a.order.id}")))
    assert fields["prefill"] == "1"
    assert fields["lines-0-product_id"] == str(world.product.id) and fields["lines-0-quantity"] == "2"
    assert fields["lines-1-product_id"] == str(world.configurable.id)
    assert (fields["lines-1-width"], fields["lines-1-depth"]) == ("160", "90")
    assert (fields["lines-1-fabric"], fields["lines-1-colour"]) == ("Ull grå", "Eik")
    before = count_rows(app, Order)
    form = client.post("/bestill/", data=fields)
    body = text_of(form)
    assert form.status_code == 200 and count_rows(app, Order) == before  # to review: nothing placed
    assert f'<option value="{world.configurable.id}" selected' in body
    assert "Bestillingen er ikke sendt" not in body


def test_sending_the_prefilled_form_orders_at_todays_price(app: Flask, world: World) -> None:
    with db_session(app) as s:  # the order was placed at 500; the catalogue says 650 today
        s.execute(update(Product).where(Product.id == world.product.id).values(unit_price=Decimal("650.00")))
        s.commit()
    client = client_as(app, "hansen.bruker")
    fields = _reorder_fields(text_of(client.get(f"/orderview/show/{world.a.order.id}")))
    fields.pop("prefill")
    fields["delivery_address_id"] = str(world.a.address.id)
    response = client.post("/bestill/", data=fields)
    assert response.status_code == 302
    new_id = int(response.headers["Location"].rstrip("/").rsplit("/", 1)[-1])
    with db_session(app) as s:
        order = s.get(Order, new_id)
        assert order is not None and order.channel == "webshop"
        assert [(ln.product_id, ln.quantity, ln.unit_price) for ln in order.lines] == [
            (world.product.id, 2, Decimal("650.00"))
        ]


def test_a_product_no_longer_sold_is_flagged_on_the_page_and_in_the_form(app: Flask, world: World) -> None:
    with db_session(app) as s:
        s.execute(update(Product).where(Product.id == world.product.id).values(active=False))
        s.commit()
    client = client_as(app, "hansen.bruker")
    page = text_of(client.get(f"/orderview/show/{world.a.order.id}"))
    assert "Kan ikke bestilles lenger" in page
    fields = _reorder_fields(page)
    assert fields["lines-0-product_id"] == str(world.product.id)  # still handed on: the form says why
    form = text_of(client.post("/bestill/", data=fields))
    row = re.search(r'<tr class="order-line" data-index="0">.*?</tr>', form, re.S)
    assert row and "has-error" in row.group(0) and "kan ikke bestilles lenger. Velg et annet produkt." in row.group(0)


def test_a_size_the_product_no_longer_allows_is_flagged(app: Flask, world: World) -> None:
    _add_configured_line(app, world)
    with db_session(app) as s:
        s.execute(update(Product).where(Product.id == world.configurable.id).values(max_width=150))
        s.commit()
    page = text_of(client_as(app, "hansen.bruker").get(f"/orderview/show/{world.a.order.id}"))
    assert "Kan ikke bestilles som før: Bredde må være mellom 80 og 150 cm" in page


def test_quote_page_offers_bestill_igjen_at_todays_prices(app: Flask, world: World) -> None:
    client = client_as(app, "hansen.bruker")
    fields = _reorder_fields(text_of(client.get(f"/quoteview/show/{world.a.quote.id}")))
    assert fields["lines-0-product_id"] == str(world.product.id) and fields["lines-0-quantity"] == "1"
    assert "lines-0-unit_price" not in fields  # never the quote's price: the form prices it today


def test_staff_are_not_offered_bestill_igjen(app: Flask, world: World) -> None:
    body = text_of(client_as(app, "kundeservice").get(f"/orderview/show/{world.a.order.id}"))
    assert "reorder-form" not in body


def test_another_companys_order_is_404(app: Flask, world: World) -> None:
    assert client_as(app, "hansen.bruker").get(f"/orderview/show/{world.b.order.id}").status_code == 404
