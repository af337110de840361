"""One numbering scheme for orders (100000 + id) and one for quotes (T + 300000 + id), for orders and
quotes placed live and for the demo and bench data alike; demo invoices are F + the order number."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from itertools import pairwise

from flask import Flask
from sqlalchemy import select

from app import bench_data
from app.domain import quotes as quote_rules
from app.domain.catalogue import LineInput
from app.domain.lifecycle import ORDER_NUMBER_BASE, number_from_id
from app.models import Company, Invoice, Order, Quote
from tests.factories import World
from tests.helpers import Caller, actor, db_session, reset_database
from tests.test_api_orders import order_body

API = "/api/v1"


def test_the_rule() -> None:
    assert number_from_id(42) == "100042"
    assert quote_rules.quote_number(42) == "T300042"
    assert (bench_data.ORDER_BASE, bench_data.QUOTE_BASE) == (ORDER_NUMBER_BASE, quote_rules.NUMBER_BASE)
    assert bench_data.QUOTE_PREFIX == quote_rules.NUMBER_PREFIX


def test_a_live_order_and_quote_are_numbered_from_their_id(
    app: Flask, world: World, as_role: Callable[[str], Caller]
) -> None:
    response = as_role("CustomerUser").post(f"{API}/order/", order_body(world))
    assert response.status_code == 201, response.get_data(as_text=True)
    with db_session(app) as s:
        order = s.scalars(select(Order).order_by(Order.id.desc()).limit(1)).one()
        assert order.number == str(100000 + order.id)
        quote = quote_rules.create_quote(
            s,
            actor=actor(world.a.user, "CustomerUser"),
            company_id=world.a.company.id,
            valid_until=dt.date.today() + dt.timedelta(days=30),
            lines=[LineInput(product_id=world.product.id, quantity=1)],
        )
        assert quote.number == f"T{300000 + quote.id}"
        s.rollback()


def test_demo_data_uses_the_live_numbers(app: Flask) -> None:
    reset_database(app)
    result = app.test_cli_runner().invoke(args=["portal", "demo"])
    assert result.exit_code == 0, result.output
    with db_session(app) as s:
        orders = list(s.scalars(select(Order)))
        quotes = list(s.scalars(select(Quote)))
        invoices = list(s.scalars(select(Invoice)))
        companies = list(s.scalars(select(Company)))
        assert len(orders) > 60 and len(quotes) >= 9 and invoices
        for order in orders:
            assert order.number == number_from_id(order.id), order.number
        for quote in quotes:
            assert quote.number == quote_rules.quote_number(quote.id), quote.number
        numbers = {o.id: o.number for o in orders}
        for invoice in invoices:
            assert invoice.number == f"F{numbers[invoice.order_id]}"
        # Within a company, a later order (and quote) has the higher number.
        for company in companies:
            mine = sorted((o for o in orders if o.company_id == company.id), key=lambda o: o.created_at)
            assert all(int(a.number) < int(b.number) for a, b in pairwise(mine)), company.customer_number
            theirs = sorted((q for q in quotes if q.company_id == company.id), key=lambda q: q.created_at)
            assert all(a.id < b.id for a, b in pairwise(theirs)), company.customer_number
