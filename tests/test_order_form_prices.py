"""Prices and checks while an order, a quote or a standing order is written.

The line editor posts the form to /produktsok/pris (ProductSearchView.price); the REST API has the
same at POST /api/v1/order/price. Both price and check the lines with the rules the submit uses
(app/domain/pricing.price_lines: catalogue.check_lines, the catalogue or quote price, VAT per rate,
the customer's budgets). Checked here: the totals equal what the submit then stores; the messages
are the submit's own, next to the same row; a customer never sees another company's budget; the
number of statements does not grow with the lines.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from app.models import Budget, Order, Product
from tests.factories import World
from tests.helpers import Caller, StatementCounter, client_as, db_engine, db_session, field_errors, text_of

PRICE_URL = "/produktsok/pris"


def _sofa_line(world: World, row: int, **values: str) -> dict[str, str]:
    fields = {"product_id": str(world.configurable.id), "quantity": "1", "width": "100", "depth": "80"}
    fields |= {"fabric": "Ull grå", "colour": "Eik"} | values
    return {f"lines-{row}-{name}": value for name, value in fields.items()}


def _chair_line(world: World, row: int, quantity: str) -> dict[str, str]:
    return {f"lines-{row}-product_id": str(world.product.id), f"lines-{row}-quantity": quantity}


def _empty_row(row: int) -> dict[str, str]:
    return {f"lines-{row}-{name}": "" for name in ("product_id", "quantity")}


def _price(client: Any, form: dict[str, str], kind: str = "order") -> dict[str, Any]:
    response = client.post(f"{PRICE_URL}?skjema={kind}", data=form)
    assert response.status_code == 200, text_of(response)
    return response.json


def _nok(text: str) -> str:
    """The page writes amounts with non-breaking spaces."""
    return text.replace(" ", "\xa0")


# --- totals: the same as the submit stores -----------------------------------------------------


def test_line_totals_order_totals_and_budget_left_then_the_placed_order_has_the_same_totals(
    app: Flask, world: World
) -> None:
    client = client_as(app, "hansen.bruker")
    # Row 1 is an empty row (the page has five): it is left out, as the submit leaves it out.
    form = _chair_line(world, 0, "3") | _empty_row(1) | _sofa_line(world, 2)
    answer = _price(client, form)

    assert set(answer["lines"]) == {"0", "2"}
    assert answer["lines"]["0"]["total"] == "1500.00" and answer["lines"]["0"]["errors"] == {}
    assert answer["lines"]["0"]["unit_price_text"] == "à " + _nok("500,00 kr")
    assert answer["lines"]["2"]["total"] == "12000.00"
    assert answer["lines"]["2"]["total_text"] == _nok("12 000,00 kr")
    assert (answer["total_ex_vat"], answer["total_vat"], answer["total_inc_vat"]) == ("13500.00", "3375.00", "16875.00")
    assert answer["totals_text"]["inc_vat"] == _nok("16 875,00 kr")
    # hansen.bruker's own budget: 10 000 − 1 000 used (the world's order) − 13 500 this order.
    [budget] = answer["budgets"]
    assert budget["id"] == world.a.budget.id
    assert (budget["left"], budget["level"]) == ("-4500.00", "over")
    assert budget["label"] == "Igjen av bruksgrensen for Hansen Testesen etter denne ordren"

    placed = client.post("/bestill/", data=form | {"delivery_address_id": str(world.a.address.id)})
    assert placed.status_code == 302, text_of(placed)
    order_id = int(re.search(r"/orderview/show/(\d+)", placed.headers["Location"]).group(1))
    with db_session(app) as s:
        order = s.get(Order, order_id)
        assert (str(order.total_ex_vat), str(order.total_vat), str(order.total_inc_vat)) == (
            answer["total_ex_vat"],
            answer["total_vat"],
            answer["total_inc_vat"],
        )
        assert [str(ln.unit_price * ln.quantity) for ln in sorted(order.lines, key=lambda ln: ln.line_no)] == [
            "1500.00",
            "12000.00",
        ]


def test_vat_is_per_rate_as_on_the_order(app: Flask, world: World) -> None:
    with db_session(app) as s:
        s.get(Product, world.product.id).vat_rate = Decimal("15.00")
        s.commit()
    client = client_as(app, "hansen.bruker")
    form = _chair_line(world, 0, "1") | _sofa_line(world, 1)
    answer = _price(client, form)
    # 500 × 15 % + 12 000 × 25 %.
    assert (answer["total_ex_vat"], answer["total_vat"]) == ("12500.00", "3075.00")
    placed = client.post("/bestill/", data=form | {"delivery_address_id": str(world.a.address.id)})
    order_id = int(re.search(r"/orderview/show/(\d+)", placed.headers["Location"]).group(1))
    with db_session(app) as s:
        assert str(s.get(Order, order_id).total_vat) == "3075.00"


def test_the_order_form_shows_the_totals_and_no_longer_says_prices_come_later(app: Flask, world: World) -> None:
    client = client_as(app, "hansen.bruker")
    body = text_of(client.get("/bestill/"))
    assert "Prisene regnes ut av oss" not in body
    assert 'id="total-inc-vat"' in body and "Igjen av bruksgrensen for" in body
    # The script is a file with the page's nonce; the line editor has no inline script any more.
    nonce = re.search(r'<script src="/static/js/order_form.js" nonce="([^"]+)"', body)
    assert nonce and nonce.group(1)
    # A form sent back with a wrong line shows its totals as priced, and the message by the field.
    form = _chair_line(world, 0, "2") | _sofa_line(world, 1, width="300")
    body = text_of(client.post("/bestill/", data=form | {"delivery_address_id": str(world.a.address.id)}))
    assert "Bredde må være mellom 80 og 240 cm" in body
    assert _nok("13 000,00 kr") in body  # 2 × 500 + 12 000, ex. VAT


def test_the_static_script_is_served(app: Flask, world: World) -> None:
    response = app.test_client().get("/static/js/order_form.js")
    assert response.status_code == 200
    script = text_of(response)
    assert "select2-search__field" in script and "price_url" in script
    response.close()


# --- checks: the submit's own messages, next to the right row ----------------------------------


def test_the_messages_are_the_ones_the_submit_gives_keyed_by_the_row_on_the_page(app: Flask, world: World) -> None:
    client = client_as(app, "hansen.bruker")
    form = _empty_row(0) | _sofa_line(world, 1, width="300", colour="") | _chair_line(world, 2, "1")
    answer = _price(client, form)
    errors = answer["lines"]["1"]["errors"]
    assert errors == {"width": "Bredde må være mellom 80 og 240 cm", "colour": "Velg farge for Sofa Modul."}
    # The line is still priced (its price does not depend on its measures).
    assert answer["lines"]["1"]["total"] == "12000.00"
    assert answer["lines"]["2"]["errors"] == {}

    body = text_of(client.post("/bestill/", data=form | {"delivery_address_id": str(world.a.address.id)}))
    for message in errors.values():
        assert message in body
    # Re-rendered, the lines are numbered as sent: the sofa is now line 0, its width field marked.
    cell = re.search(r'<td class="has-error"[^>]*>\s*<input[^>]*name="lines-0-width".*?</td>', body, re.S)
    assert cell and errors["width"] in cell.group(0)


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({"quantity": "tre"}, "quantity", "Antall må være et helt tall."),
        ({"quantity": "0"}, "quantity", "Antall må være minst 1."),
        ({"quantity": "100000"}, "quantity", "Antall kan være høyst 99999."),
        ({"width": "79"}, "width", "Bredde må være mellom 80 og 240 cm"),
        ({"depth": ""}, "depth", "Dybde må fylles ut for Sofa Modul."),
        ({"fabric": "Skinn"}, "fabric", "Stoff «Skinn» finnes ikke for Sofa Modul. Velg en av: Ull grå, Lin natur"),
        ({"product_id": "999999"}, "product_id", "Velg et produkt fra katalogen."),
    ],
)
def test_each_message_matches_the_submit(
    app: Flask, world: World, values: dict[str, str], field: str, message: str
) -> None:
    client = client_as(app, "hansen.bruker")
    form = _sofa_line(world, 0, **values)
    line = _price(client, form)["lines"]["0"]
    assert line["errors"][field] == message
    body = text_of(client.post("/bestill/", data=form | {"delivery_address_id": str(world.a.address.id)}))
    assert message.replace("«", "&laquo;").replace("»", "&raquo;") in body or message in body
    if field in ("quantity", "product_id"):
        assert line["total"] is None  # no total without a valid quantity and product


def test_an_unknown_form_kind_is_refused(app: Flask, world: World) -> None:
    response = client_as(app, "hansen.bruker").post(f"{PRICE_URL}?skjema=faktura", data={})
    assert response.status_code == 400 and "skjema" in response.json["errors"]


def test_quote_form_prices_a_sellers_special_price_and_not_a_dealers(app: Flask, world: World) -> None:
    form = _chair_line(world, 0, "2") | {"lines-0-unit_price": "400,00", "customer_number": "10001"}
    seller = _price(client_as(app, "selger"), form, kind="quote")
    assert seller["lines"]["0"]["total"] == "800.00" and seller["total_ex_vat"] == "800.00"
    assert seller["budgets"] == []  # a quote is no order: no budget is used by it
    dealer = _price(client_as(app, "hansen.bruker"), form, kind="quote")
    assert dealer["lines"]["0"]["total"] == "1000.00"  # the list price: a dealer sets no prices
    # The quote the seller then saves has the totals shown.
    client = client_as(app, "selger")
    saved = client.post("/tilbud/ny", data=form | {"valid_until": "2099-01-01"})
    assert saved.status_code == 302, text_of(saved)
    quote_id = int(saved.headers["Location"].rstrip("/").rsplit("/", 1)[-1])
    from app.domain.pricing import order_totals
    from app.models import Quote

    with db_session(app) as s:
        assert str(order_totals(s.get(Quote, quote_id).lines).ex_vat) == seller["total_ex_vat"]


def test_standing_order_form_shows_totals_without_budgets(app: Flask, world: World) -> None:
    client = client_as(app, "hansen.admin")
    answer = _price(client, _chair_line(world, 0, "4"), kind="standing")
    assert answer["total_ex_vat"] == "2000.00" and answer["budgets"] == []
    body = text_of(client.get("/faste-ordre/ny"))
    assert 'id="total-ex-vat"' in body and "skjema=standing" in body


# --- tenancy: only the own company's budgets -------------------------------------------------


def _foreign_budgets(app: Flask, world: World) -> list[int]:
    """Company B gets a company-wide budget too (it has its user's already)."""
    with db_session(app) as s:
        wide = Budget(company_id=world.b.company.id, user_id=None, period="month", amount=Decimal("777.00"))
        s.add(wide)
        s.commit()
        return [world.b.budget.id, wide.id]


def test_a_customer_never_sees_another_companys_budget(app: Flask, world: World) -> None:
    foreign = _foreign_budgets(app, world)
    form = _chair_line(world, 0, "1")
    for who in ("hansen.bruker", "hansen.admin"):
        answer = _price(client_as(app, who), form)
        assert not {b["id"] for b in answer["budgets"]} & set(foreign)
        assert "777" not in str(answer)
    # berg.bruker sees its own two (its user budget and the new company-wide one).
    berg = _price(client_as(app, "berg.bruker"), form)
    assert sorted(b["id"] for b in berg["budgets"]) == sorted(foreign)
    api = Caller(app, "hansen.bruker").post(
        "/api/v1/order/price", {"lines": [{"product_id": world.product.id, "quantity": 1}]}
    )
    assert api.status_code == 200
    assert [b["id"] for b in api.json["budgets"]] == [world.a.budget.id]


def test_staff_get_prices_and_no_budgets(app: Flask, world: World) -> None:
    answer = _price(client_as(app, "admin"), _chair_line(world, 0, "1"))
    assert answer["total_ex_vat"] == "500.00" and answer["budgets"] == []


# --- the REST API ------------------------------------------------------------------------------


def test_api_price_matches_the_order_the_api_then_places(app: Flask, world: World) -> None:
    caller = Caller(app, "hansen.bruker")
    lines = [
        {"product_id": world.product.id, "quantity": 3},
        {
            "product_id": world.configurable.id,
            "quantity": 1,
            "width": 100,
            "depth": 80,
            "fabric": "Ull grå",
            "colour": "Eik",
        },
    ]
    answer = caller.post("/api/v1/order/price", {"lines": lines})
    assert answer.status_code == 200, text_of(answer)
    body = answer.json
    assert [ln["total"] for ln in body["lines"]] == ["1500.00", "12000.00"]
    assert [ln["unit_price"] for ln in body["lines"]] == ["500.00", "12000.00"]
    assert body["errors"] == {}
    assert body["budgets"][0]["left"] == "-4500.00" and body["budgets"][0]["used"] == "1000.00"
    placed = caller.post("/api/v1/order/", {"delivery_address_id": world.a.address.id, "lines": lines})
    assert placed.status_code == 201, text_of(placed)
    result = placed.json["result"]
    assert (result["total_ex_vat"], result["total_vat"], result["total_inc_vat"]) == (
        body["total_ex_vat"],
        body["total_vat"],
        body["total_inc_vat"],
    )


def test_api_price_names_each_lines_problems_as_the_order_post_does(app: Flask, world: World) -> None:
    caller = Caller(app, "hansen.bruker")
    lines = [{"product_id": world.configurable.id, "quantity": 1, "width": 300, "depth": 80, "fabric": "Ull grå"}]
    body = caller.post("/api/v1/order/price", {"lines": lines}).json
    assert body["lines"][0]["errors"] == {
        "width": "Bredde må være mellom 80 og 240 cm",
        "colour": "Velg farge for Sofa Modul.",
    }
    assert body["errors"]["lines[0].width"] == "Bredde må være mellom 80 og 240 cm"
    placed = caller.post("/api/v1/order/", {"delivery_address_id": world.a.address.id, "lines": lines})
    refused = field_errors(placed)
    assert refused["lines[0].width"] == ["Bredde må være mellom 80 og 240 cm"]
    assert refused["lines[0].colour"] == ["Velg farge for Sofa Modul."]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"lines": [{"product_id": 1, "quantity": "mange"}]}, "lines[0].quantity"),
        ({"lines": [{"quantity": 1}]}, "lines[0].product_id"),
        ({"lines": "STOL-1"}, "lines"),
        ({"lines": [], "company_id": 1}, "company_id"),
        ({"lines": [{"product_id": 1, "quantity": 1, "price": "1.00"}]}, "lines[0].price"),
    ],
)
def test_api_price_bad_input_is_400_naming_the_field(app: Flask, world: World, body: Any, field: str) -> None:
    response = Caller(app, "hansen.bruker").post("/api/v1/order/price", body)
    assert field in field_errors(response), response.json


def test_api_price_places_nothing(app: Flask, world: World) -> None:
    with db_session(app) as s:
        before = len(s.scalars(select(Order.id)).all())
    Caller(app, "hansen.bruker").post(
        "/api/v1/order/price", {"lines": [{"product_id": world.product.id, "quantity": 1}]}
    )
    with db_session(app) as s:
        assert len(s.scalars(select(Order.id)).all()) == before


# --- a fixed number of statements, whatever the number of lines --------------------------------


def test_pricing_statements_do_not_grow_with_the_lines(app: Flask, world: World) -> None:
    with db_session(app) as s:
        extra = [Product(sku=f"EKSTRA-{i}", name=f"Ekstra {i}", unit_price=Decimal("10.00")) for i in range(30)]
        s.add_all(extra)
        s.commit()
        ids = [p.id for p in extra]
    client = client_as(app, "hansen.bruker")
    caller = Caller(app, "hansen.bruker")
    counts = []
    for n in (1, 30):
        form: dict[str, str] = {}
        for row, pid in enumerate(ids[:n]):
            form |= {f"lines-{row}-product_id": str(pid), f"lines-{row}-quantity": "2"}
        with StatementCounter(db_engine(app)) as page:
            answer = _price(client, form)
        with StatementCounter(db_engine(app)) as api:
            response = caller.post(
                "/api/v1/order/price", {"lines": [{"product_id": pid, "quantity": 2} for pid in ids[:n]]}
            )
        assert answer["total_ex_vat"] == f"{20 * n}.00" and response.json["total_ex_vat"] == f"{20 * n}.00"
        counts.append((page.count, api.count))
    assert counts[0] == counts[1], counts
    # The user and its permissions (4), the products, the budgets and their consumption, the budget's user.
    assert counts[1][0] <= 10, counts
