"""The quote rules of app/domain/quotes.py, through the domain, the pages and the API: a quote
changes only while it is a draft or sent; its lines are numbered, taxed and priced by the domain
(the catalogue price, or a seller's special price); quote numbers follow one scheme; every quote
is made by create_quote. Also the standing-order rules the pages and the API share."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app.domain import quotes
from app.domain import standing_orders as so_rules
from app.domain.actors import Actor
from app.domain.catalogue import LineInput
from app.domain.errors import NotAllowed, ValidationFailed
from app.domain.formatting import oslo_today
from app.extensions import db
from app.models import Company, Order, Product, Quote, QuoteLine, QuoteStatus, StandingOrder
from tests.factories import World
from tests.helpers import api_token, auth_header, login

API = "/api/v1"
LOCKED = "Bare utkast og sendte tilbud kan endres."
CLOSED = (QuoteStatus.accepted.value, QuoteStatus.declined.value, QuoteStatus.expired.value)


# --- helpers ------------------------------------------------------------------------------------


@pytest.fixture()
def s(app: Flask) -> Iterator[Session]:
    """A session outside any request (no tenant scope), in an app context for the messages."""
    with app.app_context(), Session(db.engine, expire_on_commit=False) as session:
        yield session


def _seller(world: World) -> Actor:
    user = world.staff["Seller"]
    return Actor(id=user.id, name=user.full_name, roles=frozenset({"Seller"}))


def _dealer(world: World) -> Actor:
    user = world.a.user
    return Actor(id=user.id, name=user.full_name, company_id=user.company_id, roles=frozenset({"CustomerUser"}))


def _set_quote(app: Flask, quote_id: int, **values: Any) -> None:
    with app.app_context(), Session(db.engine) as session:
        session.execute(update(Quote).where(Quote.id == quote_id).values(**values))
        session.commit()


def _lines(app: Flask, quote_id: int) -> list[tuple[int, int, int, Decimal, Decimal]]:
    """(line_no, product_id, quantity, unit_price, vat_rate) of the quote's lines."""
    with app.app_context(), Session(db.engine) as session:
        rows = session.scalars(select(QuoteLine).where(QuoteLine.quote_id == quote_id).order_by(QuoteLine.line_no))
        return [(ln.line_no, ln.product_id, ln.quantity, ln.unit_price, ln.vat_rate) for ln in rows]


def _quote(app: Flask, quote_id: int) -> Quote:
    with app.app_context(), Session(db.engine, expire_on_commit=False) as session:
        return session.get(Quote, quote_id)


def _count(app: Flask, model: type) -> int:
    with app.app_context(), Session(db.engine) as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def _page(app: Flask, username: str) -> FlaskClient:
    client = app.test_client()
    login(client, username)
    return client


def _flashes(client: FlaskClient) -> list[str]:
    with client.session_transaction() as session:
        return [message for _category, message in session.get("_flashes", [])]


def _told(client: FlaskClient, response: Any, message: str) -> bool:
    """Was the user told `message`: on the page shown, or flashed for the page redirected to?"""
    return message in response.get_data(as_text=True) or message in _flashes(client)


def _api(app: Flask, username: str) -> tuple[FlaskClient, dict[str, str]]:
    client = app.test_client()
    return client, auth_header(api_token(client, username))


@pytest.fixture()
def tax_free(s: Session) -> Product:
    """A product with its own VAT rate and price (the lines must take both from it)."""
    product = Product(sku="BOK-1", name="Fagbok", unit_price=Decimal("300.00"), vat_rate=Decimal("0.00"))
    s.add(product)
    s.commit()
    return product


# --- one status rule ------------------------------------------------------------------------------


def test_only_draft_and_sent_quotes_are_changeable_open_or_sendable(world: World) -> None:
    quote = world.a.quote
    today = oslo_today()
    for status in QuoteStatus:
        quote.status = status.value
        assert quotes.may_change(quote) == (status.value in ("draft", "sent")), status
    quote.status, quote.valid_until = "sent", today - dt.timedelta(days=1)
    # Past its date a sent quote cannot be ordered or declined, but its header may still change.
    assert (quotes.effective_status(quote, today), quotes.is_open(quote, today), quotes.may_change(quote)) == (
        "expired",
        False,
        True,
    )
    quote.status, quote.valid_until = "draft", today
    assert quotes.may_send(quote, today) and quotes.is_open(quote, today)
    quote.status = "sent"
    assert not quotes.may_send(quote, today) and quotes.is_open(quote, today)


@pytest.mark.parametrize("status", CLOSED)
def test_a_closed_quote_changes_through_no_domain_function(app: Flask, world: World, s: Session, status: str) -> None:
    quote_id, line_id = world.a.quote.id, world.a.quote.lines[0].id
    _set_quote(app, quote_id, status=status)
    before = _lines(app, quote_id)
    seller = _seller(world)
    calls = [
        lambda: quotes.add_quote_line(s, quote_id, seller, LineInput(product_id=world.product.id, quantity=1)),
        lambda: quotes.update_quote_line(s, line_id, seller, LineInput(product_id=world.product.id, quantity=9)),
        lambda: quotes.remove_quote_line(s, line_id, seller),
        lambda: quotes.update_quote(s, quote_id, seller, {"note": "Endret"}),
    ]
    for call in calls:
        with pytest.raises(NotAllowed) as exc:
            call()
        assert str(exc.value.message) == LOCKED and exc.value.status == 409
        s.rollback()
    assert _lines(app, quote_id) == before and _quote(app, quote_id).note is None


# --- lines: number, VAT, price, the line check ----------------------------------------------------


def test_a_new_line_gets_the_next_number_the_products_vat_and_the_catalogue_price_for_a_dealer(
    app: Flask, world: World, s: Session, tax_free: Product
) -> None:
    quote_id = world.a.quote.id
    dealer = _dealer(world)
    # A dealer's price is ignored: the catalogue's applies.
    line = quotes.add_quote_line(
        s, quote_id, dealer, LineInput(product_id=tax_free.id, quantity=2, unit_price=Decimal("1.00"))
    )
    s.commit()
    assert (line.line_no, line.unit_price, line.vat_rate, line.company_id) == (
        2,
        Decimal("300.00"),
        Decimal("0.00"),
        world.a.company.id,
    )
    # Numbers continue after the highest one, also when an earlier line was removed.
    quotes.remove_quote_line(s, world.a.quote.lines[0].id, _seller(world))
    quotes.add_quote_line(s, quote_id, dealer, LineInput(product_id=world.product.id, quantity=1))
    s.commit()
    assert _lines(app, quote_id) == [
        (2, tax_free.id, 2, Decimal("300.00"), Decimal("0.00")),
        (3, world.product.id, 1, Decimal("500.00"), Decimal("25.00")),
    ]


def test_a_seller_sets_a_special_price_blank_is_the_catalogue_price(
    app: Flask, world: World, s: Session, tax_free: Product
) -> None:
    quote_id, line_id = world.a.quote.id, world.a.quote.lines[0].id
    seller = _seller(world)
    special = quotes.add_quote_line(
        s, quote_id, seller, LineInput(product_id=world.product.id, quantity=1, unit_price=Decimal("450.00"))
    )
    listed = quotes.add_quote_line(s, quote_id, seller, LineInput(product_id=world.product.id, quantity=1))
    assert (special.unit_price, listed.unit_price) == (Decimal("450.00"), Decimal("500.00"))
    # Changing a line's product takes the new product's VAT rate and price.
    changed = quotes.update_quote_line(s, line_id, seller, LineInput(product_id=tax_free.id, quantity=4))
    assert (changed.line_no, changed.product_id, changed.quantity, changed.unit_price, changed.vat_rate) == (
        1,
        tax_free.id,
        4,
        Decimal("300.00"),
        Decimal("0.00"),
    )
    with pytest.raises(ValidationFailed) as exc:
        quotes.add_quote_line(
            s, quote_id, seller, LineInput(product_id=world.product.id, quantity=1, unit_price=Decimal("-1"))
        )
    assert exc.value.errors == {"unit_price": "Prisen kan ikke være negativ."}


@pytest.mark.parametrize(
    "line,fields",
    [
        (LineInput(product_id=None, quantity=1), {"product_id"}),
        (LineInput(product_id=999999, quantity=1), {"product_id"}),
        (LineInput(product_id="stol", quantity=0), {"quantity"}),
        (LineInput(product_id="sofa", quantity=1), {"width", "depth", "fabric", "colour"}),
        (
            LineInput(product_id="sofa", quantity=1, width=500, depth=80, fabric="Silke", colour="Eik"),
            {"width", "fabric"},
        ),
    ],
)
def test_the_line_check_names_the_lines_fields(
    app: Flask, world: World, s: Session, line: LineInput, fields: set[str]
) -> None:
    ids: dict[Any, Any] = {"stol": world.product.id, "sofa": world.configurable.id}
    line = dataclasses.replace(line, product_id=ids.get(line.product_id, line.product_id))
    with pytest.raises(ValidationFailed) as exc:
        quotes.add_quote_line(s, world.a.quote.id, _seller(world), line)
    assert set(exc.value.errors) == fields
    s.rollback()
    assert len(_lines(app, world.a.quote.id)) == 1


# --- the header ------------------------------------------------------------------------------------


def test_a_sent_quote_past_its_date_may_get_a_later_date(app: Flask, world: World, s: Session) -> None:
    quote_id = world.a.quote.id
    past = oslo_today() - dt.timedelta(days=2)
    _set_quote(app, quote_id, valid_until=past)
    seller = _seller(world)
    quotes.update_quote(s, quote_id, seller, {"note": "  Ring først  ", "valid_until": past})
    s.commit()
    assert (_quote(app, quote_id).note, _quote(app, quote_id).valid_until) == ("Ring først", past)
    for bad, message in (
        (past - dt.timedelta(days=1), "Gyldig til kan ikke være tilbake i tid."),
        (None, "Gyldig til må fylles ut."),
    ):
        with pytest.raises(ValidationFailed) as exc:
            quotes.update_quote(s, quote_id, seller, {"valid_until": bad})
        assert exc.value.errors == {"valid_until": message}
        s.rollback()
    with pytest.raises(ValidationFailed) as exc:
        quotes.update_quote(s, quote_id, seller, {"delivery_address_id": world.b.address.id})
    assert list(exc.value.errors) == ["delivery_address_id"]
    s.rollback()
    later = oslo_today() + dt.timedelta(days=20)
    quotes.update_quote(s, quote_id, seller, {"valid_until": later})
    s.commit()
    assert _quote(app, quote_id).valid_until == later and _quote(app, quote_id).status == "sent"


# --- numbers and creation -------------------------------------------------------------------------


def test_quote_numbers_follow_the_one_scheme(app: Flask, world: World, s: Session) -> None:
    quote = quotes.create_quote(
        s,
        actor=_dealer(world),
        company_id=world.a.company.id,
        valid_until=oslo_today() + dt.timedelta(days=5),
        lines=[LineInput(product_id=world.product.id, quantity=1)],
    )
    s.commit()
    assert quote.number == f"{quotes.NUMBER_PREFIX}{quotes.NUMBER_BASE + quote.id}" == f"T{300000 + quote.id}"


def test_every_quote_is_made_by_create_quote(app: Flask, world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[int] = []
    create = quotes.create_quote

    def counting(*args: Any, **kwargs: Any) -> Quote:
        quote = create(*args, **kwargs)
        made.append(quote.id)
        return quote

    monkeypatch.setattr(quotes, "create_quote", counting)
    valid = (oslo_today() + dt.timedelta(days=10)).isoformat()
    page = _page(app, "hansen.bruker")
    response = page.post(
        "/tilbud/ny", data={"valid_until": valid, "lines-0-product_id": str(world.product.id), "lines-0-quantity": "1"}
    )
    assert response.status_code == 302 and "/quoteview/show/" in response.headers["Location"]
    client, headers = _api(app, "hansen.bruker")
    response = client.post(
        f"{API}/quote/",
        headers=headers,
        json={"valid_until": valid, "lines": [{"product_id": world.product.id, "quantity": 1}]},
    )
    assert response.status_code == 201, response.json
    assert len(made) == 2 and _count(app, Quote) == 4
    # The list's "add" opens "Nytt tilbud" (for the company it was opened from) and saves nothing itself.
    admin = _page(app, "admin")
    response = admin.get(f"/quoteview/add?_flt_0_company={world.a.company.id}")
    assert response.status_code == 302 and response.headers["Location"].endswith("/tilbud/ny?customer_number=10001")
    response = admin.post("/quoteview/add", data={"end_customer_ref": "Snarvei", "valid_until": valid})
    assert response.status_code == 302 and response.headers["Location"].endswith("/tilbud/ny")
    assert len(made) == 2 and _count(app, Quote) == 4


# --- pages ---------------------------------------------------------------------------------------------


def _line_form(**values: str) -> dict[str, str]:
    return {
        "product": "STOL-1",
        "quantity": "1",
        "width": "",
        "depth": "",
        "fabric": "",
        "colour": "",
        "unit_price": "",
        **values,
    }


def test_a_sent_quotes_lines_change_on_the_page(app: Flask, world: World, tax_free: Product) -> None:
    quote_id, line_id = world.a.quote.id, world.a.quote.lines[0].id
    seller = _page(app, "selger")
    response = seller.post(f"/quotelineview/edit/{line_id}", data=_line_form(quantity="3", unit_price="480"))
    assert response.status_code == 302
    response = seller.post(f"/quotelineview/add?_flt_0_quote={quote_id}", data=_line_form(product="BOK-1"))
    assert response.status_code == 302
    assert _lines(app, quote_id) == [
        (1, world.product.id, 3, Decimal("480.00"), Decimal("25.00")),
        (2, tax_free.id, 1, Decimal("300.00"), Decimal("0.00")),
    ]
    # The domain's line check speaks next to the field.
    response = seller.post(f"/quotelineview/add?_flt_0_quote={quote_id}", data=_line_form(product="SOFA-1"))
    assert response.status_code == 200 and "Bredde må fylles ut for Sofa Modul." in response.get_data(as_text=True)
    second = _lines(app, quote_id)[1]
    with app.app_context(), Session(db.engine) as session:
        second_id = session.scalar(
            select(QuoteLine.id).where(QuoteLine.quote_id == quote_id, QuoteLine.line_no == second[0])
        )
    assert seller.post(f"/quotelineview/delete/{second_id}").status_code == 302
    assert [ln[0] for ln in _lines(app, quote_id)] == [1]
    # The header: a page edit goes through the domain too.
    later = (oslo_today() + dt.timedelta(days=40)).isoformat()
    response = seller.post(
        f"/quoteview/edit/{quote_id}",
        data={
            "end_customer_ref": "Kari",
            "valid_until": later,
            "delivery_address": str(world.a.address.id),
            "note": "Levering før jul",
        },
    )
    assert response.status_code == 302
    quote = _quote(app, quote_id)
    assert (quote.end_customer_ref, quote.valid_until.isoformat(), quote.note) == ("Kari", later, "Levering før jul")


@pytest.mark.parametrize("status", CLOSED)
def test_a_closed_quote_does_not_change_on_the_page(app: Flask, world: World, status: str) -> None:
    quote_id, line_id = world.a.quote.id, world.a.quote.lines[0].id
    _set_quote(app, quote_id, status=status)
    before = _lines(app, quote_id)
    seller = _page(app, "selger")
    response = seller.post(f"/quotelineview/edit/{line_id}", data=_line_form(quantity="7"))
    assert _told(seller, response, LOCKED)
    response = seller.post(f"/quotelineview/add?_flt_0_quote={quote_id}", data=_line_form())
    assert _told(seller, response, LOCKED)
    response = seller.post(f"/quotelineview/delete/{line_id}")
    assert response.status_code == 302 and _told(seller, response, LOCKED)
    response = seller.post(
        f"/quoteview/edit/{quote_id}",
        data={
            "end_customer_ref": "Endret",
            "valid_until": (oslo_today() + dt.timedelta(days=9)).isoformat(),
            "delivery_address": str(world.a.address.id),
            "note": "",
        },
    )
    assert _told(seller, response, LOCKED)
    assert _lines(app, quote_id) == before and _quote(app, quote_id).end_customer_ref == "Ola Nordmann"
    # The page offers no line buttons either.
    page = seller.get(f"/quoteview/show/{quote_id}").get_data(as_text=True)
    assert f"/quotelineview/edit/{line_id}" not in page and "_flt_0_quote" not in page


def test_workflow_refusals_on_the_page_are_shown_and_write_nothing(app: Flask, world: World) -> None:
    quote_id = world.a.quote.id
    user = _page(app, "hansen.bruker")
    response = user.post(f"/tilbud/{quote_id}/send")
    assert response.status_code == 302 and "Bare utkast kan sendes." in _flashes(user)
    _set_quote(app, quote_id, status="declined")
    response = user.post(f"/tilbud/{quote_id}/bestill")
    assert re.search(rf"/quoteview/show/{quote_id}$", response.headers["Location"])
    assert "Tilbudet er allerede bestilt eller avslått." in _flashes(user)
    assert _quote(app, quote_id).status == "declined"
    assert _count(app, Order) == 2  # the world's two


# --- API -------------------------------------------------------------------------------------------


def test_api_put_changes_a_sent_quote_and_not_a_closed_one(app: Flask, world: World) -> None:
    quote_id = world.a.quote.id
    client, headers = _api(app, "selger")
    url = f"{API}/quote/{quote_id}"
    response = client.put(url, headers=headers, json={"note": "Ny merknad", "end_customer_ref": "Kari"})
    assert response.status_code == 200, response.json
    assert (response.json["result"]["note"], response.json["result"]["end_customer_ref"]) == ("Ny merknad", "Kari")
    response = client.put(url, headers=headers, json={"valid_until": "2020-01-01"})
    assert response.status_code == 400 and list(response.json["message"]) == ["valid_until"]
    response = client.put(url, headers=headers, json={"company_id": world.b.company.id})
    assert response.status_code == 400 and list(response.json["message"]) == ["company_id"]
    assert client.put(f"{API}/quote/abc", headers=headers, json={"note": "x"}).status_code == 404
    for status in CLOSED:
        _set_quote(app, quote_id, status=status)
        response = client.put(url, headers=headers, json={"note": "Etterpå"})
        assert response.status_code == 409 and response.json["message"] == LOCKED, status
    assert _quote(app, quote_id).note == "Ny merknad"


def test_api_workflow_answers_come_from_the_domain(app: Flask, world: World) -> None:
    quote_id = world.a.quote.id
    client, headers = _api(app, "hansen.bruker")
    response = client.post(f"{API}/quote/{quote_id}/send", headers=headers, json={})
    assert response.status_code == 409 and response.json["message"] == "Bare utkast kan sendes."
    response = client.post(
        f"{API}/quote/{quote_id}/convert", headers=headers, data="[]", content_type="application/json"
    )
    assert response.status_code == 400  # a body that is not an object
    response = client.post(f"{API}/quote/{quote_id}/decline", headers=headers)
    assert response.status_code == 200 and response.json["result"]["status"] == "declined"
    response = client.post(f"{API}/quote/{quote_id}/convert", headers=headers)
    assert response.status_code == 409 and "allerede bestilt eller avslått" in response.json["message"]


# --- standing orders: the rules the pages and the API share ------------------------------------------


def test_standing_orders_are_for_invoice_customers_only(app: Flask, world: World, s: Session) -> None:
    assert so_rules.is_invoice_customer(s.get(Company, world.a.company.id))
    assert not so_rules.is_invoice_customer(s.get(Company, world.b.company.id))
    assert not so_rules.is_invoice_customer(None)
    page = _page(app, "berg.admin")
    page.post(
        f"/faste-ordre/{world.b.standing_order.id}/pause",
        data={"until": (oslo_today() + dt.timedelta(days=3)).isoformat()},
    )
    assert "Kun tilgjengelig for fakturakunder." in _flashes(page)
    client, headers = _api(app, "berg.admin")
    response = client.post(
        f"{API}/standing_order/{world.b.standing_order.id}/skip", headers=headers, json={"date": None}
    )
    assert response.status_code == 409 and response.json["message"] == "Kun tilgjengelig for fakturakunder."
    assert s.get(StandingOrder, world.b.standing_order.id).paused_until is None


def test_the_skipped_delivery_is_no_choice_and_a_new_choice_replaces_it(app: Flask, world: World) -> None:
    plan = so_rules.Plan(frequency="weekly", weekday=0, start_date=dt.date(2026, 1, 5))
    mondays = [dt.date(2026, 1, 5) + dt.timedelta(weeks=n) for n in range(8)]
    assert so_rules.skip_choices(plan, dt.date(2026, 1, 5)) == mondays
    skipped = dataclasses.replace(plan, skip_date=mondays[1])
    assert so_rules.skip_choices(skipped, dt.date(2026, 1, 5)) == [mondays[0], *mondays[2:]]
    # The page offers the same dates, and a new choice replaces the skipped one.
    plan_id = world.a.standing_order.id
    page = _page(app, "hansen.admin")
    with app.app_context(), Session(db.engine) as session:
        upcoming = so_rules.skip_choices(session.get(StandingOrder, plan_id), oslo_today())
    page.post(f"/faste-ordre/{plan_id}/hopp-over", data={"date": upcoming[1].isoformat()})
    page.post(f"/faste-ordre/{plan_id}/hopp-over", data={"date": upcoming[2].isoformat()})
    with app.app_context(), Session(db.engine) as session:
        assert session.get(StandingOrder, plan_id).skip_date == upcoming[2]
    shown = page.get(f"/standingorderview/show/{plan_id}").get_data(as_text=True)
    assert f'<option value="{upcoming[1].isoformat()}"' in shown
    assert f'<option value="{upcoming[2].isoformat()}"' not in shown
    page.post(f"/faste-ordre/{plan_id}/hopp-over", data={})
    assert "Velg leveringen som skal hoppes over." in _flashes(page)
    page.post(f"/faste-ordre/{plan_id}/hopp-over", data={"undo": "1"})
    with app.app_context(), Session(db.engine) as session:
        assert session.get(StandingOrder, plan_id).skip_date is None
