"""The order and quote workflow pages (app/views/ordering.py, approvals.py, order_actions.py,
quote_actions.py) through Flask's test client: placing an order, the product search, the seller's
approval queue, the order list's filters, cancel, shipments, invoices, the invoice copy PDF and quotes.

Runs on SQLite and, with TEST_DATABASE_URL, on PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.domain.formatting import oslo_today
from app.models import (
    Invoice,
    MailOutbox,
    Order,
    OrderEvent,
    OrderLine,
    PortalUser,
    Product,
    Quote,
    Shipment,
)
from tests.factories import World
from tests.helpers import StatementCounter, client_as, count_rows, db_engine, db_session, flashes, text_of


def _order_form(world: World, tenant: str = "a", **fields: Any) -> dict[str, Any]:
    t = getattr(world, tenant)
    data = {
        "delivery_address_id": str(t.address.id),
        "lines-0-product_id": str(world.product.id),
        "lines-0-quantity": "2",
        "lines-1-product_id": "",
        "lines-1-quantity": "",
    }
    data.update(fields)  # e.g. **{"lines-0-quantity": "0"}
    return data


def _sofa_line(
    world: World, width: str = "160", depth: str = "90", fabric: str = "Ull grå", colour: str = "Eik"
) -> dict[str, str]:
    return {
        "lines-0-product_id": str(world.configurable.id),
        "lines-0-quantity": "1",
        "lines-0-width": width,
        "lines-0-depth": depth,
        "lines-0-fabric": fabric,
        "lines-0-colour": colour,
    }


_pending_seq = itertools.count(1)


def _add_pending(
    app: Flask, world: World, n: int, start: dt.datetime | None = None, tenant: str = "a", configurable: bool = False
) -> list[int]:
    """n pending orders of a company, one minute apart (oldest first), each with two lines.

    Numbers are P0001, P0002, ... in the order they are made (a counter per test module)."""
    t = getattr(world, tenant)
    start = start or dt.datetime.now(dt.UTC) - dt.timedelta(days=3)
    ids = []
    with db_session(app) as s:
        for i in range(n):
            order = Order(
                company_id=t.company.id,
                number=f"P{next(_pending_seq):04d}",
                channel="webshop",
                status="pending_approval",
                delivery_address_id=t.address.id,
                created_by_id=t.user.id,
                created_at=start + dt.timedelta(minutes=i),
                total_ex_vat=Decimal("1000.00"),
                total_vat=Decimal("250.00"),
            )
            order.lines.append(
                OrderLine(
                    company_id=t.company.id,
                    line_no=1,
                    product_id=world.product.id,
                    quantity=2,
                    unit_price=Decimal("500.00"),
                )
            )
            if configurable:  # width 300 is outside 80-240: this order cannot be produced
                order.lines.append(
                    OrderLine(
                        company_id=t.company.id,
                        line_no=2,
                        product_id=world.configurable.id,
                        quantity=1,
                        unit_price=Decimal("0.00"),
                        width=300,
                        depth=90,
                        fabric="Ull grå",
                        colour="Eik",
                    )
                )
            else:
                order.lines.append(
                    OrderLine(
                        company_id=t.company.id,
                        line_no=2,
                        product_id=world.product.id,
                        quantity=1,
                        unit_price=Decimal("0.00"),
                    )
                )
            s.add(order)
            s.flush()
            ids.append(order.id)
        s.commit()
    return ids


def _number(app: Flask, order_id: int) -> str:
    with db_session(app) as s:
        return s.get(Order, order_id).number


def _status(app: Flask, order_id: int) -> str:
    with db_session(app) as s:
        return s.get(Order, order_id).status


# --- placing an order ("Ny bestilling") ----------------------------------------------------------


def test_new_order_page_has_a_search_field_not_a_product_select(app: Flask, world: World) -> None:
    client = client_as(app, "hansen.bruker")
    response = client.get("/bestill/")
    assert response.status_code == 200
    body = text_of(response)
    assert "Ny bestilling" in body and "Leveringsadresse" in body
    assert world.a.address.recipient_name in body and world.b.address.recipient_name not in body
    # The product fields start empty and are filled by the search (select2 AJAX on /produktsok/).
    assert world.product.name not in body and world.configurable.name not in body
    assert "/produktsok/" in body and "product-select" in body


def test_dealer_user_places_an_order_that_waits_for_approval(app: Flask, world: World) -> None:
    client = client_as(app, "hansen.bruker")
    before = count_rows(app, Order)
    response = client.post("/bestill/", data={**_order_form(world), "customer_reference": "Prosjekt Fjord"})
    assert response.status_code == 302, text_of(response)
    order_id = int(re.search(r"/orderview/show/(\d+)", response.headers["Location"]).group(1))
    assert count_rows(app, Order) == before + 1
    with db_session(app) as s:
        order = s.get(Order, order_id)
        assert (order.company_id, order.status, order.channel) == (world.a.company.id, "pending_approval", "webshop")
        assert order.created_by_id == world.a.user.id and order.customer_reference == "Prosjekt Fjord"
        assert order.total_ex_vat == Decimal("1000.00") and order.total_vat == Decimal("250.00")
        assert (
            s.scalar(select(func.count()).select_from(MailOutbox).where(MailOutbox.kind == "order_confirmation")) == 1
        )
        number = order.number
    page = client.get(response.headers["Location"])
    body = text_of(page)
    assert page.status_code == 200
    assert number in body and "Til godkjenning" in body and "Prosjekt Fjord" in body
    assert f"Ordre {number} er registrert" in body  # the flash, in Norwegian


def test_webshop_customer_order_starts_processing(app: Flask, world: World) -> None:
    client = client_as(app, "berg.bruker")
    response = client.post("/bestill/", data=_order_form(world, "b"))
    assert response.status_code == 302, text_of(response)
    body = text_of(client.get(response.headers["Location"]))
    assert "Under behandling" in body and "Til godkjenning" not in body
    with db_session(app) as s:
        order = s.scalars(select(Order).where(Order.company_id == world.b.company.id).order_by(Order.id.desc())).first()
        assert order.status == "processing"


def test_configurable_product_out_of_range_shows_message_next_to_the_field(app: Flask, world: World) -> None:
    client = client_as(app, "hansen.bruker")
    before = (count_rows(app, Order), count_rows(app, OrderLine), count_rows(app, MailOutbox))
    response = client.post("/bestill/", data={**_order_form(world), **_sofa_line(world, width="300")})
    assert response.status_code == 200
    body = text_of(response)
    assert "Bredde må være mellom 80 og 240 cm" in body
    # ... next to the width field of line 1 (the cell holding the input holds the message).
    cell = re.search(r'<td class="has-error"[^>]*>\s*<input[^>]*name="lines-0-width".*?</td>', body, re.S)
    assert cell and "Bredde må være mellom 80 og 240 cm" in cell.group(0)
    assert 'value="300"' in cell.group(0)  # what the user typed is kept
    assert "Bestillingen er ikke sendt" in body
    assert (count_rows(app, Order), count_rows(app, OrderLine), count_rows(app, MailOutbox)) == before
    # The chosen product stays chosen (the select holds it as its one option).
    assert f'<option value="{world.configurable.id}" selected' in body


def test_configurable_product_in_range_is_accepted(app: Flask, world: World) -> None:
    client = client_as(app, "hansen.bruker")
    response = client.post("/bestill/", data={**_order_form(world), **_sofa_line(world)})
    assert response.status_code == 302, text_of(response)
    with db_session(app) as s:
        line = s.scalars(select(OrderLine).where(OrderLine.product_id == world.configurable.id)).one()
        assert (line.width, line.depth, line.fabric, line.colour) == (160, 90, "Ull grå", "Eik")


@pytest.mark.parametrize(
    "bad, key, message",
    [
        ({"lines-0-quantity": "0"}, "quantity", "Antall må være minst 1"),
        ({"lines-0-quantity": "to"}, "quantity", "Antall må være et helt tall"),
        ({"lines-0-product_id": "999999"}, "product_id", "Velg et produkt fra katalogen"),
    ],
)
def test_bad_line_input_is_refused_next_to_the_field(
    app: Flask, world: World, bad: dict, key: str, message: str
) -> None:
    client = client_as(app, "hansen.bruker")
    before = count_rows(app, Order)
    response = client.post("/bestill/", data=_order_form(world, **bad))
    assert response.status_code == 200
    assert message in text_of(response)
    assert count_rows(app, Order) == before


def test_no_lines_is_refused(app: Flask, world: World) -> None:
    client = client_as(app, "hansen.bruker")
    before = count_rows(app, Order)
    response = client.post(
        "/bestill/",
        data={"delivery_address_id": str(world.a.address.id), "lines-0-product_id": "", "lines-0-quantity": ""},
    )
    assert response.status_code == 200
    assert "Velg minst ett produkt" in text_of(response)
    assert count_rows(app, Order) == before


@pytest.mark.parametrize("address", ["foreign", "missing", "garbage"])
def test_foreign_or_missing_delivery_address_is_refused(app: Flask, world: World, address: str) -> None:
    value = {"foreign": str(world.b.address.id), "missing": "", "garbage": "abc"}[address]
    client = client_as(app, "hansen.bruker")
    before = [count_rows(app, model) for model in (Order, OrderLine, OrderEvent, MailOutbox)]
    response = client.post("/bestill/", data=_order_form(world, delivery_address_id=value))
    assert response.status_code == 200
    body = text_of(response)
    assert "Velg en leveringsadresse for kundekontoen" in body
    assert re.search(r'has-error">\s*<label for="delivery_address_id"', body)
    assert world.b.address.recipient_name not in body  # nothing about B leaks into the page
    after = [count_rows(app, model) for model in (Order, OrderLine, OrderEvent, MailOutbox)]
    assert after == before


def test_lines_added_in_the_browser_beyond_the_first_rows_are_read(app: Flask, world: World) -> None:
    client = client_as(app, "hansen.bruker")
    data = {
        "delivery_address_id": str(world.a.address.id),
        "lines-0-product_id": "",
        "lines-0-quantity": "",
        "lines-7-product_id": str(world.product.id),
        "lines-7-quantity": "3",
        "lines-8-product_id": str(world.configurable.id),
        "lines-8-quantity": "1",
        "lines-8-width": "100",
        "lines-8-depth": "60",
        "lines-8-fabric": "Lin natur",
        "lines-8-colour": "Svart",
    }
    response = client.post("/bestill/", data=data)
    assert response.status_code == 302, text_of(response)
    order_id = int(re.search(r"/orderview/show/(\d+)", response.headers["Location"]).group(1))
    with db_session(app) as s:
        lines = s.get(Order, order_id).lines
        assert [(ln.line_no, ln.product_id, ln.quantity) for ln in lines] == [
            (1, world.product.id, 3),
            (2, world.configurable.id, 1),
        ]


@pytest.mark.parametrize(
    "field, value",
    [
        ("lines-0-quantity", "99999999999999999999"),
        ("lines-0-quantity", "100000"),
        ("lines-0-product_id", "99999999999999999999"),
        ("delivery_address_id", "99999999999999999999"),
        ("lines-0-width", "99999999999999999999"),
    ],
)
def test_huge_numbers_are_refused_not_a_500(app: Flask, world: World, field: str, value: str) -> None:
    client = client_as(app, "hansen.bruker")
    before = count_rows(app, Order)
    response = client.post("/bestill/", data={**_order_form(world), field: value})
    assert response.status_code == 200
    assert "Bestillingen er ikke sendt" in text_of(response)
    assert count_rows(app, Order) == before


def test_supplier_staff_are_sent_to_quotes_instead(app: Flask, world: World) -> None:
    # Sellers have no right to the page at all; an Admin (who has every right) is told what to do.
    assert client_as(app, "selger").get("/bestill/").status_code == 403
    client = client_as(app, "admin")
    response = client.get("/bestill/")
    assert response.status_code == 302
    assert any("tilbud" in m for _c, m in flashes(client))


# --- the product search ------------------------------------------------------------------------


def _add_products(app: Flask, n: int, prefix: str = "Kontorbord", active: bool = True) -> None:
    with db_session(app) as s:
        for i in range(n):
            s.add(
                Product(
                    sku=f"{'B' if active else 'X'}-{i:04d}",
                    name=f"{prefix} {i:04d}",
                    unit_price=Decimal("100.00"),
                    active=active,
                )
            )
        s.commit()


def test_product_search_returns_at_most_20_active_products(app: Flask, world: World) -> None:
    _add_products(app, 30)
    _add_products(app, 5, prefix="Kontorbord utgått", active=False)
    client = client_as(app, "hansen.bruker")
    response = client.get("/produktsok/?q=kontorbord")
    assert response.status_code == 200 and response.is_json
    results = response.json["results"]
    assert len(results) == 20
    assert all("utgått" not in r["name"] for r in results)
    assert {"id", "text", "sku", "unit_price", "min_width", "max_width", "fabrics", "colours"} <= set(results[0])


def test_product_search_never_returns_the_whole_catalogue(app: Flask, world: World) -> None:
    _add_products(app, 30)
    client = client_as(app, "hansen.bruker")
    assert len(client.get("/produktsok/").json["results"]) <= 20
    assert len(client.get("/produktsok/?q=").json["results"]) <= 20


def test_product_search_by_sku_prefix_and_name(app: Flask, world: World) -> None:
    client = client_as(app, "hansen.bruker")
    by_sku = client.get("/produktsok/?q=sofa").json["results"]
    assert [r["sku"] for r in by_sku] == ["SOFA-1"]
    assert by_sku[0]["min_width"] == 80 and by_sku[0]["max_width"] == 240
    assert by_sku[0]["fabrics"] == ["Ull grå", "Lin natur"]
    by_name = client.get("/produktsok/?q=Kontor").json["results"]
    assert [r["sku"] for r in by_name] == ["STOL-1"]
    assert client.get("/produktsok/?q=%25").json["results"] == []  # a literal %, not "everything"


def test_product_search_needs_login(app: Flask, world: World) -> None:
    response = app.test_client().get("/produktsok/?q=Kontor")
    assert response.status_code in (302, 401, 403)


# --- the approval queue ("Til godkjenning") ------------------------------------------------------


def test_customers_get_403_on_the_approval_queue(app: Flask, world: World) -> None:
    ids = _add_pending(app, world, 1)
    for username in ("hansen.bruker", "hansen.admin", "berg.bruker"):
        client = client_as(app, username)
        assert client.get("/godkjenning/").status_code == 403, username
        assert client.post("/godkjenning/godkjenn", data={"order_id": str(ids[0])}).status_code == 403
        assert client.post(f"/godkjenning/avvis/{ids[0]}", data={"reason": "nei"}).status_code == 403
    assert _status(app, ids[0]) == "pending_approval"


def test_queue_lists_pending_orders_oldest_first_with_both_checks(app: Flask, world: World) -> None:
    now = dt.datetime.now(dt.UTC)
    newer = _add_pending(app, world, 1, start=now - dt.timedelta(hours=2))
    older = _add_pending(app, world, 1, start=now - dt.timedelta(days=2, hours=5), tenant="b")
    bad = _add_pending(app, world, 1, start=now - dt.timedelta(days=1), configurable=True)
    client = client_as(app, "selger")
    response = client.get("/godkjenning/")
    assert response.status_code == 200
    body = text_of(response)
    rows = re.findall(r'<tr data-order="([^"]+)"', body)
    numbers = {oid: _number(app, oid) for oid in older + bad + newer}
    assert rows == [numbers[older[0]], numbers[bad[0]], numbers[newer[0]]]
    assert world.a.order.number not in rows  # processing orders are not in the queue
    for heading in (
        "Produserbarhet",
        "Kreditt",
        "Grense",
        "Eksponering",
        "Denne ordren",
        "Ledig kreditt",
        "Alder",
        "Bedrift",
    ):
        assert heading in body, heading
    assert "Berg AS" in body and "Hansen AS" in body
    bad_row = re.search(rf'<tr data-order="{numbers[bad[0]]}"[^>]*>.*?</tr>', body, re.S).group(0)
    assert "Kan ikke produseres" in bad_row and "Bredde må være mellom 80 og 240 cm" in bad_row
    # Approved only with a reason ("Godkjenn likevel"); "Godkjenn valgte" leaves it out.
    assert 'class="needs-override"' in bad_row and 'name="override_reason"' in bad_row
    ok_row = re.search(rf'<tr data-order="{numbers[newer[0]]}"[^>]*>.*?</tr>', body, re.S).group(0)
    assert "OK" in ok_row and "override_reason" not in ok_row
    assert "2 d" in re.search(rf'<tr data-order="{numbers[older[0]]}">.*?</tr>', body, re.S).group(0)


def test_queue_shows_credit_over_the_limit_in_red(app: Flask, world: World) -> None:
    from app.models import Company

    with db_session(app) as s:
        s.get(Company, world.a.company.id).credit_limit = Decimal("1000.00")
        s.commit()
    ids = _add_pending(app, world, 1)
    body = text_of(client_as(app, "selger").get("/godkjenning/"))
    number = _number(app, ids[0])
    row = re.search(rf'<tr data-order="{number}"[^>]*>.*?</tr>', body, re.S).group(0)
    assert re.search(r'class="credit[^"]*text-danger', row)


def test_seller_approves_several_at_once(app: Flask, world: World) -> None:
    ids = _add_pending(app, world, 3)
    client = client_as(app, "selger")
    response = client.post("/godkjenning/godkjenn", data={"order_id": [str(i) for i in ids[:2]]})
    assert response.status_code == 302 and response.headers["Location"].endswith("/godkjenning/")
    assert [_status(app, i) for i in ids] == ["processing", "processing", "pending_approval"]
    shown = flashes(client)
    assert any(c == "success" and "Godkjent" in m for c, m in shown), shown
    with db_session(app) as s:
        events = s.scalars(select(OrderEvent).where(OrderEvent.order_id == ids[0]).order_by(OrderEvent.id)).all()
        assert [(e.from_status, e.to_status) for e in events][-1] == ("pending_approval", "processing")
        assert events[-1].actor_id == world.staff["Seller"].id
        assert s.scalar(select(func.count()).select_from(MailOutbox).where(MailOutbox.kind == "order_approved")) == 2
    body = text_of(client.get("/godkjenning/"))
    assert re.findall(r'<tr data-order="([^"]+)"', body) == [_number(app, ids[2])]


def test_approving_an_already_handled_order_says_so(app: Flask, world: World) -> None:
    ids = _add_pending(app, world, 2)
    with db_session(app) as s:  # another seller got to the first one a moment ago
        s.get(Order, ids[0]).status = "processing"
        s.commit()
    client = client_as(app, "selger")
    client.post("/godkjenning/godkjenn", data={"order_id": [str(i) for i in ids]})
    shown = flashes(client)
    assert any(c == "danger" and "allerede behandlet" in m for c, m in shown), shown
    assert any(c == "success" and _number(app, ids[1]) in m for c, m in shown), shown
    assert _status(app, ids[1]) == "processing"
    with db_session(app) as s:  # no second event for the one someone else handled
        assert s.scalar(select(func.count()).select_from(OrderEvent).where(OrderEvent.order_id == ids[0])) == 0


def test_approving_nothing_or_an_unproducible_order_is_refused(app: Flask, world: World) -> None:
    bad = _add_pending(app, world, 1, configurable=True)
    client = client_as(app, "selger")
    client.post("/godkjenning/godkjenn", data={})
    assert any("Velg minst én ordre" in m for _c, m in flashes(client))
    client.post("/godkjenning/godkjenn", data={"order_id": str(bad[0])})
    assert any(c == "danger" and "kan ikke godkjennes" in m for c, m in flashes(client))
    assert _status(app, bad[0]) == "pending_approval"


def test_manager_reads_the_queue_without_buttons(app: Flask, world: World) -> None:
    ids = _add_pending(app, world, 2)
    client = client_as(app, "leder")
    body = text_of(client.get("/godkjenning/"))
    assert len(re.findall(r"<tr data-order=", body)) == 2
    assert 'name="order_id"' not in body and "Godkjenn valgte" not in body and "/godkjenning/avvis/" not in body
    assert client.post("/godkjenning/godkjenn", data={"order_id": str(ids[0])}).status_code == 403
    assert "/godkjenning/godkjenn" not in text_of(client.get(f"/orderview/show/{ids[0]}"))


def test_seller_approves_from_the_order_page(app: Flask, world: World) -> None:
    order_id = _place(app, world)
    client = client_as(app, "selger")
    page = text_of(client.get(f"/orderview/show/{order_id}"))
    assert "/godkjenning/godkjenn" in page and f"/godkjenning/avvis/{order_id}" in page
    assert "Kanseller ordren" not in page
    client.post("/godkjenning/godkjenn", data={"order_id": str(order_id)})
    assert _status(app, order_id) == "processing"
    page = text_of(client.get(f"/orderview/show/{order_id}"))
    assert "/godkjenning/godkjenn" not in page and "Under behandling" in page
    # The reject page of an order that is no longer pending says so instead of offering the form.
    response = client.get(f"/godkjenning/avvis/{order_id}")
    assert response.status_code == 302
    assert any("allerede behandlet" in m for _c, m in flashes(client))
    # The customer does not get the seller's buttons.
    page = text_of(client_as(app, "hansen.bruker").get(f"/orderview/show/{order_id}"))
    assert "/godkjenning/" not in page


def test_reject_needs_a_reason(app: Flask, world: World) -> None:
    ids = _add_pending(app, world, 1)
    client = client_as(app, "selger")
    form = client.get(f"/godkjenning/avvis/{ids[0]}")
    assert form.status_code == 200 and "Begrunnelse" in text_of(form)
    response = client.post(f"/godkjenning/avvis/{ids[0]}", data={"reason": "   "})
    assert response.status_code == 200
    body = text_of(response)
    group = re.search(r'<div class="form-group has-error">.*?</div>', body, re.S)
    assert group and 'name="reason"' in group.group(0)
    assert "Skriv en begrunnelse for avvisningen" in group.group(0)
    assert _status(app, ids[0]) == "pending_approval"

    response = client.post(f"/godkjenning/avvis/{ids[0]}", data={"reason": "Feil mål på sofaen"})
    assert response.status_code == 302
    assert _status(app, ids[0]) == "rejected"
    assert any(c == "success" and "avvist" in m for c, m in flashes(client))
    with db_session(app) as s:
        event_ = s.scalars(select(OrderEvent).where(OrderEvent.order_id == ids[0])).one()
        assert (event_.to_status, event_.reason) == ("rejected", "Feil mål på sofaen")
        mail = s.scalars(select(MailOutbox).where(MailOutbox.kind == "order_rejected")).one()
        assert "Feil mål på sofaen" in mail.body_text
    # Twice: the order is no longer pending.
    client.post(f"/godkjenning/avvis/{ids[0]}", data={"reason": "igjen"})
    assert any("allerede behandlet" in m for _c, m in flashes(client))


def test_reject_page_of_an_unknown_order_is_404(app: Flask, world: World) -> None:
    client = client_as(app, "selger")
    assert client.get("/godkjenning/avvis/999999").status_code == 404


def _queue_statements(app: Flask, client: FlaskClient) -> tuple[int, int]:
    """(statements, rows) of one queue page, after a warm-up request."""
    client.get("/godkjenning/")  # warm-up
    with StatementCounter(db_engine(app)) as counter:
        response = client.get("/godkjenning/")
    assert response.status_code == 200
    return counter.count, len(re.findall(r"<tr data-order=", text_of(response)))


def test_queue_runs_a_fixed_number_of_statements(app: Flask, world: World) -> None:
    client = client_as(app, "selger")
    _add_pending(app, world, 3)
    few, rows_few = _queue_statements(app, client)
    _add_pending(app, world, 6, tenant="b")
    _add_pending(app, world, 6, start=dt.datetime.now(dt.UTC) - dt.timedelta(days=5))
    # Company B's orders and more of A's: 15 pending orders on the page.
    many, rows_many = _queue_statements(app, client)
    assert (rows_few, rows_many) == (3, 15)
    assert few == many, (few, many)


# --- the order list ("Ordreoversikt") as a customer -----------------------------------------------


@pytest.fixture()
def orders_for_filters(app: Flask, world: World) -> dict[str, int]:
    """Orders of company A on several days, channels, statuses and creators (numbers 2000xx...)."""
    utc = dt.UTC
    specs = {
        "200011": (dt.datetime(2025, 3, 10, 10, 0, tzinfo=utc), "webshop", "processing", world.a.user.id),
        "200012": (dt.datetime(2025, 3, 11, 10, 0, tzinfo=utc), "phone", "pending_approval", world.a.admin.id),
        "200013": (dt.datetime(2025, 3, 15, 10, 0, tzinfo=utc), "quote", "invoiced", world.a.user.id),
        # 23:30 UTC on the 15th is 00:30 on the 16th in Oslo.
        "200014": (dt.datetime(2025, 3, 15, 23, 30, tzinfo=utc), "edi", "shipped", world.a.user.id),
        "200120": (dt.datetime(2025, 3, 19, 10, 0, tzinfo=utc), "seller", "cancelled", world.staff["Seller"].id),
        "300001": (dt.datetime(2025, 3, 22, 10, 0, tzinfo=utc), "webshop", "processing", world.a.admin.id),
    }
    ids = {}
    with db_session(app) as s:
        for number, (created_at, channel, status, creator) in specs.items():
            order = Order(
                company_id=world.a.company.id,
                number=number,
                channel=channel,
                status=status,
                delivery_address_id=world.a.address.id,
                created_by_id=creator,
                created_at=created_at,
                total_ex_vat=Decimal("100.00"),
                total_vat=Decimal("25.00"),
            )
            s.add(order)
            s.flush()
            ids[number] = order.id
        # One of company B's, on the same day and with a similar number.
        s.add(
            Order(
                company_id=world.b.company.id,
                number="200019",
                channel="webshop",
                status="processing",
                delivery_address_id=world.b.address.id,
                created_by_id=world.b.user.id,
                created_at=dt.datetime(2025, 3, 11, 10, 0, tzinfo=utc),
                total_ex_vat=Decimal("1.00"),
                total_vat=Decimal("0.25"),
            )
        )
        s.commit()
    return ids


def _numbers(body: str) -> list[str]:
    return re.findall(r">\s*((?:2000|2001|3000)\d\d|10001-1|10002-1)\s*<", body)


def _list(client: FlaskClient, query: str = "") -> list[str]:
    response = client.get("/orderview/list/" + (f"?{query}" if query else ""))
    assert response.status_code == 200, query
    return _numbers(text_of(response))


def test_order_list_newest_first_with_all_channels_and_creators(
    app: Flask, world: World, orders_for_filters: dict[str, int]
) -> None:
    client = client_as(app, "hansen.bruker")
    assert _list(client) == ["10001-1", "300001", "200120", "200014", "200013", "200012", "200011"]
    body = text_of(client.get("/orderview/list/"))
    # Who placed it: a colleague by name; the supplier's seller (whom a customer cannot load) as "Leverandøren".
    row = re.search(r"<tr[^>]*>(?:(?!</tr>).)*>\s*200120\s*<.*?</tr>", body, re.S).group(0)
    assert "Leverandøren" in row
    row = re.search(r"<tr[^>]*>(?:(?!</tr>).)*>\s*300001\s*<.*?</tr>", body, re.S).group(0)
    assert world.a.admin.first_name in row and "Leverandøren" not in row


def _filter_index(app: Flask, column: str, arg_name: str) -> int:
    """The position of a filter in FAB's list for a column (`_flt_<i>_<column>`), read from the view."""
    view = next(v for v in app.appbuilder.baseviews if v.__class__.__name__ == "OrderView")
    filters = view._filters.get_search_filters()[column]
    return [f.arg_name for f in filters].index(arg_name)


def test_order_list_filters(app: Flask, world: World, orders_for_filters: dict[str, int]) -> None:
    client = client_as(app, "hansen.bruker")
    eq_status = _filter_index(app, "status", "eq")
    assert _list(client, f"_flt_{eq_status}_status=pending_approval") == ["200012"]
    eq_channel = _filter_index(app, "channel", "eq")
    assert _list(client, f"_flt_{eq_channel}_channel=quote") == ["200013"]
    # Created by: everyone's orders are listed; the filter narrows to one colleague.
    by = _filter_index(app, "created_by", "rel_o_m")
    assert _list(client, f"_flt_{by}_created_by={world.a.admin.id}") == ["300001", "200012"]
    # Filters combine.
    assert _list(client, f"_flt_{by}_created_by={world.a.user.id}&_flt_{eq_channel}_channel=webshop") == [
        "10001-1",
        "200011",
    ]


def test_order_list_date_range_is_whole_days_in_oslo_time(
    app: Flask, world: World, orders_for_filters: dict[str, int]
) -> None:
    client = client_as(app, "hansen.bruker")
    start, end = _filter_index(app, "created_at", "from_day"), _filter_index(app, "created_at", "to_day")
    assert (start, end) == (0, 1)
    # 11 to 15 March inclusive; the order placed 00:30 on the 16th (Oslo) is not in it.
    assert _list(client, "_flt_0_created_at=2025-03-11&_flt_1_created_at=2025-03-15") == ["200013", "200012"]
    assert _list(client, "_flt_0_created_at=16.03.2025&_flt_1_created_at=16.03.2025") == ["200014"]
    assert _list(client, "_flt_0_created_at=2025-03-19") == ["10001-1", "300001", "200120"]
    # A date that is not a date: a message, not an error page.
    response = client.get("/orderview/list/?_flt_0_created_at=snart", follow_redirects=True)
    assert response.status_code == 200 and "Skriv datoen som dd.mm.åååå" in text_of(response)
    body = text_of(client.get("/orderview/list/"))
    assert "Fra og med dato" in body and "Til og med dato" in body


def _creator_choices(body: str) -> set[int]:
    """User ids offered by the "Bestilt av" search field (FAB passes the field's HTML as JSON)."""
    field = re.search(r'"created_by": "(\\u003cselect.*?)(?<!\\)"', body).group(1)
    return {int(v) for v in re.findall(r'option[^>]*?value=\\"(\d+)\\"', field)}


def test_order_list_created_by_choices(app: Flask, world: World, orders_for_filters: dict[str, int]) -> None:
    # A customer picks among the colleagues, never another company's users or the supplier's staff.
    body = text_of(client_as(app, "hansen.bruker").get("/orderview/list/"))
    assert "Bestilt av" in body
    assert _creator_choices(body) == {world.a.admin.id, world.a.user.id}
    # Supplier staff get the staff (not every customer user of every company).
    body = text_of(client_as(app, "selger").get("/orderview/list/"))
    assert _creator_choices(body) == {u.id for u in world.staff.values()}


def test_order_number_search_exact_and_prefix(app: Flask, world: World, orders_for_filters: dict[str, int]) -> None:
    client = client_as(app, "hansen.bruker")
    assert _list(client, "_flt_0_number=200012") == ["200012"]
    assert _list(client, "_flt_0_number=2000") == ["200014", "200013", "200012", "200011"]
    assert _list(client, "_flt_0_number=20001") == ["200014", "200013", "200012", "200011"]
    assert _list(client, "_flt_0_number=2001") == ["200120"]
    assert _list(client, "_flt_0_number=200019") == []  # company B's order does not exist here
    assert _list(client, "_flt_0_number=0012") == []  # prefix, not "contains"


# --- the order page: cancel -----------------------------------------------------------------------


def _place(app: Flask, world: World, username: str = "hansen.bruker", tenant: str = "a") -> int:
    client = client_as(app, username)
    response = client.post("/bestill/", data=_order_form(world, tenant))
    assert response.status_code == 302, text_of(response)
    return int(re.search(r"/orderview/show/(\d+)", response.headers["Location"]).group(1))


def test_cancel_button_only_when_cancel_is_allowed(app: Flask, world: World) -> None:
    order_id = _place(app, world)
    client = client_as(app, "hansen.bruker")
    body = text_of(client.get(f"/orderview/show/{order_id}"))
    assert "Kanseller ordren" in body and f"/ordre/{order_id}/kanseller" in body

    # Yesterday's order: no button, and the route refuses with the Norwegian reason.
    with db_session(app) as s:
        s.get(Order, order_id).created_at = dt.datetime.now(dt.UTC) - dt.timedelta(days=1, hours=1)
        s.commit()
    body = text_of(client.get(f"/orderview/show/{order_id}"))
    assert "Kanseller ordren" not in body
    response = client.post(f"/ordre/{order_id}/kanseller")
    assert response.status_code == 302
    assert any(c == "danger" and "samme dag" in m for c, m in flashes(client))
    assert _status(app, order_id) == "pending_approval"


@pytest.mark.parametrize("scenario", ["today", "yesterday", "shipped", "cancelled", "processing"])
@pytest.mark.parametrize("username", ["hansen.bruker", "hansen.admin", "kundeservice"])
def test_cancel_button_follows_orders_can_cancel(app: Flask, world: World, scenario: str, username: str) -> None:
    """The button is there exactly when the domain rule (orders.can_cancel) allows it, and the route agrees."""
    from app.domain.actors import Actor
    from app.domain.orders import can_cancel

    order_id = _place(app, world)
    with db_session(app) as s:
        order = s.get(Order, order_id)
        if scenario == "yesterday":
            order.created_at = dt.datetime.now(dt.UTC) - dt.timedelta(days=1, hours=1)
        elif scenario == "shipped":
            s.add(Shipment(company_id=order.company_id, order_id=order.id, carrier="own"))
        elif scenario in ("cancelled", "processing"):
            order.status = scenario
        s.commit()
        user = s.scalars(select(PortalUser).where(PortalUser.username == username)).one()
        allowed = can_cancel(s, s.get(Order, order_id), Actor.from_user(user))
    expected = {"today": True, "processing": True, "yesterday": username == "kundeservice"}.get(scenario, False)
    assert allowed is expected
    client = client_as(app, username)
    page = text_of(client.get(f"/orderview/show/{order_id}"))
    assert ("Kanseller ordren" in page) is allowed
    before = _status(app, order_id)
    client.post(f"/ordre/{order_id}/kanseller")
    if allowed:
        assert _status(app, order_id) == "cancelled"
    else:
        assert _status(app, order_id) == before
        assert any(c == "danger" for c, _m in flashes(client))


def test_cancel_refused_once_a_shipment_exists(app: Flask, world: World) -> None:
    # Company A's fixture order is from today and has a shipment.
    client = client_as(app, "hansen.bruker")
    body = text_of(client.get(f"/orderview/show/{world.a.order.id}"))
    assert "Kanseller ordren" not in body
    client.post(f"/ordre/{world.a.order.id}/kanseller")
    assert any(c == "danger" and "levering" in m for c, m in flashes(client))
    assert _status(app, world.a.order.id) == "processing"


def test_customer_cancels_todays_order(app: Flask, world: World) -> None:
    order_id = _place(app, world)
    client = client_as(app, "hansen.bruker")
    response = client.post(f"/ordre/{order_id}/kanseller", data={"reason": "Feil antall"})
    assert response.status_code == 302
    assert _status(app, order_id) == "cancelled"
    body = text_of(client.get(response.headers["Location"]))
    assert "er kansellert" in body and "Kansellert" in body and "Feil antall" in body
    assert "Kanseller ordren" not in body


def test_cancel_of_another_companys_order_is_404(app: Flask, world: World) -> None:
    order_id = _place(app, world, "berg.bruker", "b")
    client = client_as(app, "hansen.bruker")
    assert client.post(f"/ordre/{order_id}/kanseller").status_code == 404
    assert _status(app, order_id) == "processing"


def test_seller_and_manager_have_no_cancel(app: Flask, world: World) -> None:
    order_id = _place(app, world)
    for username in ("selger", "leder"):
        client = client_as(app, username)
        assert "Kanseller ordren" not in text_of(client.get(f"/orderview/show/{order_id}"))
        assert client.post(f"/ordre/{order_id}/kanseller").status_code == 403
    assert _status(app, order_id) == "pending_approval"


def test_customer_service_cancels_an_older_order_before_shipment(app: Flask, world: World) -> None:
    order_id = _place(app, world)
    with db_session(app) as s:
        s.get(Order, order_id).created_at = dt.datetime.now(dt.UTC) - dt.timedelta(days=5)
        s.commit()
    client = client_as(app, "kundeservice")
    assert "Kanseller ordren" in text_of(client.get(f"/orderview/show/{order_id}"))
    client.post(f"/ordre/{order_id}/kanseller", data={"reason": "Kunden ringte"})
    assert _status(app, order_id) == "cancelled"


# --- customer service: shipments and invoices ----------------------------------------------------


def test_customer_service_registers_a_shipment_and_an_invoice(app: Flask, world: World) -> None:
    order_id = _place(app, world, "berg.bruker", "b")  # processing at once (no approval)
    with db_session(app) as s:
        line_id = s.get(Order, order_id).lines[0].id
    client = client_as(app, "kundeservice")
    page = text_of(client.get(f"/orderview/show/{order_id}"))
    assert "Registrer levering" in page and "Registrer faktura" in page

    form = client.get(f"/ordre/{order_id}/levering")
    assert form.status_code == 200 and "Fraktbrevnummer" in text_of(form) and "Schenker" in text_of(form)
    # Missing waybill for an external carrier: message next to the field, nothing written.
    refused = client.post(f"/ordre/{order_id}/levering", data={"carrier": "schenker", f"qty-{line_id}": "1"})
    assert refused.status_code == 200
    assert "Fraktbrevnummer må fylles ut" in text_of(refused)
    assert count_rows(app, Shipment, Shipment.order_id == order_id) == 0
    # Too many.
    refused = client.post(
        f"/ordre/{order_id}/levering", data={"carrier": "schenker", "waybill_number": "S1", f"qty-{line_id}": "5"}
    )
    assert "Kan levere høyst 2" in text_of(refused)
    # One of two: partially delivered.
    response = client.post(
        f"/ordre/{order_id}/levering", data={"carrier": "schenker", "waybill_number": "SCH123", f"qty-{line_id}": "1"}
    )
    assert response.status_code == 302
    assert _status(app, order_id) == "partially_delivered"
    response = client.post(
        f"/ordre/{order_id}/levering", data={"carrier": "own", "waybill_number": "", f"qty-{line_id}": "1"}
    )
    assert response.status_code == 302
    assert _status(app, order_id) == "shipped"
    body = text_of(client.get(f"/orderview/show/{order_id}"))
    assert "Kjørt ut fra lager" in body and "SCH123" in body and "Leveringen er registrert" in body
    assert "Registrer levering" not in body  # nothing left to ship

    form = text_of(client.get(f"/ordre/{order_id}/fakturer"))
    assert "Fakturanummer" in form and "Forfallsdato" in form
    today = oslo_today()
    refused = client.post(
        f"/ordre/{order_id}/fakturer",
        data={
            "number": "F-900",
            "invoice_date": today.isoformat(),
            "due_date": (today - dt.timedelta(days=1)).isoformat(),
        },
    )
    assert refused.status_code == 200 and "Forfallsdato kan ikke være før fakturadato" in text_of(refused)
    refused = client.post(
        f"/ordre/{order_id}/fakturer",
        data={"number": "F-900", "invoice_date": "i går", "due_date": today.isoformat(), "amount": "mye"},
    )
    assert "Skriv en gyldig fakturadato" in text_of(refused) and "Skriv et beløp i kroner" in text_of(refused)
    assert count_rows(app, Invoice, Invoice.order_id == order_id) == 0
    response = client.post(
        f"/ordre/{order_id}/fakturer",
        data={
            "number": "F-900",
            "invoice_date": today.isoformat(),
            "due_date": (today + dt.timedelta(days=14)).isoformat(),
        },
    )
    assert response.status_code == 302
    assert _status(app, order_id) == "invoiced"
    with db_session(app) as s:
        invoice = s.scalars(select(Invoice).where(Invoice.order_id == order_id)).one()
        assert invoice.amount == Decimal("1250.00")
        events = [
            e.to_status
            for e in s.scalars(select(OrderEvent).where(OrderEvent.order_id == order_id).order_by(OrderEvent.id))
        ]
        assert events == ["processing", "partially_delivered", "shipped", "invoiced"]
    body = text_of(client.get(f"/orderview/show/{order_id}"))
    assert "Fakturert" in body and "F-900" in body and "Fakturaen er registrert" in body


def test_customers_cannot_register_shipments_or_invoices(app: Flask, world: World) -> None:
    client = client_as(app, "berg.bruker")
    order_id = world.b.order.id
    assert "Registrer levering" not in text_of(client.get(f"/orderview/show/{order_id}"))
    assert client.get(f"/ordre/{order_id}/levering").status_code == 403
    assert client.post(f"/ordre/{order_id}/fakturer", data={"number": "X"}).status_code == 403


def test_shipment_form_of_an_unknown_order_is_404(app: Flask, world: World) -> None:
    client = client_as(app, "kundeservice")
    assert client.get("/ordre/999999/levering").status_code == 404
    assert client.get("/ordre/999999/fakturer").status_code == 404


# --- the invoice copy (PDF) ----------------------------------------------------------------------


def test_invoice_copy_pdf_for_own_company_404_for_another(app: Flask, world: World) -> None:
    url = f"/ordre/faktura/{world.a.invoice.id}/fakturakopi.pdf"
    client = client_as(app, "hansen.bruker")
    page = text_of(client.get(f"/orderview/show/{world.a.order.id}"))
    assert url in page and "Fakturakopi (PDF)" in page
    response = client.get(url)
    assert response.status_code == 200
    assert response.mimetype == "application/pdf" and response.data.startswith(b"%PDF")
    assert world.a.invoice.number in response.headers["Content-Disposition"]

    assert client_as(app, "berg.bruker").get(url).status_code == 404
    assert client_as(app, "berg.admin").get(url).status_code == 404
    assert client_as(app, "selger").get(url).data.startswith(b"%PDF")
    assert client_as(app, "hansen.bruker").get("/ordre/faktura/999999/fakturakopi.pdf").status_code == 404


# --- quotes ------------------------------------------------------------------------------------


def _new_quote(client: FlaskClient, world: World, **extra: str) -> Any:
    valid = (oslo_today() + dt.timedelta(days=20)).isoformat()
    data = {
        "end_customer_ref": "Kari Nordmann",
        "valid_until": valid,
        "delivery_address_id": str(world.a.address.id),
        **_sofa_line(world),
        **extra,
    }
    return client.post("/tilbud/ny", data=data)


def test_customer_creates_a_quote_and_orders_it(app: Flask, world: World) -> None:
    client = client_as(app, "hansen.bruker")
    form = client.get("/tilbud/ny")
    assert form.status_code == 200 and "Nytt tilbud" in text_of(form) and "Kundenummer" not in text_of(form)
    response = _new_quote(client, world)
    assert response.status_code == 302, text_of(response)
    quote_id = int(re.search(r"/quoteview/show/(\d+)", response.headers["Location"]).group(1))
    with db_session(app) as s:
        quote = s.get(Quote, quote_id)
        assert (quote.company_id, quote.status, quote.created_by_id) == (world.a.company.id, "draft", world.a.user.id)
        assert quote.lines[0].unit_price == Decimal("12000.00")
    page = text_of(client.get(response.headers["Location"]))
    assert "Utkast" in page and "Kari Nordmann" in page and "er lagret som utkast" in page
    assert "Bestill" in page and "Avslå" in page and "Send tilbudet" in page

    response = client.post(f"/tilbud/{quote_id}/bestill")
    assert response.status_code == 302
    order_id = int(re.search(r"/orderview/show/(\d+)", response.headers["Location"]).group(1))
    with db_session(app) as s:
        order = s.get(Order, order_id)
        assert (order.channel, order.quote_id, order.status) == ("quote", quote_id, "pending_approval")
        assert order.total_ex_vat == Decimal("12000.00")
        assert s.get(Quote, quote_id).status == "accepted"
    body = text_of(client.get(response.headers["Location"]))
    assert "er bestilt som ordre" in body and "Tilbud" in body
    # The quote page now links to the order and offers nothing more.
    page = text_of(client.get(f"/quoteview/show/{quote_id}"))
    assert f"/orderview/show/{order_id}" in page
    assert f"/tilbud/{quote_id}/bestill" not in page and f"/tilbud/{quote_id}/avslaa" not in page


def test_new_quote_refuses_bad_input_next_to_the_field(app: Flask, world: World) -> None:
    client = client_as(app, "hansen.bruker")
    before = count_rows(app, Quote)
    response = _new_quote(client, world, **{"lines-0-width": "50"})
    assert response.status_code == 200
    assert "Bredde må være mellom 80 og 240 cm" in text_of(response)
    response = _new_quote(client, world, valid_until="snart")
    assert "Skriv en gyldig dato" in text_of(response)
    response = _new_quote(client, world, delivery_address_id=str(world.b.address.id))
    assert "Velg en leveringsadresse for kundekontoen" in text_of(response)
    assert count_rows(app, Quote) == before


def test_seller_finds_the_quote_customer_by_name_or_number(app: Flask, world: World) -> None:
    client = client_as(app, "selger")
    by_name = client.get("/tilbud/ny?customer_number=hansen").get_data(as_text=True)
    assert 'name="end_customer_ref"' in by_name and "Hansen AS (10001)" in text_of(
        client.get("/tilbud/ny?customer_number=hansen")
    )
    several = client.get("/tilbud/ny?customer_number=AS").get_data(as_text=True)
    assert "Flere kunder passer" in several
    assert 'href="/tilbud/ny?customer_number=10001"' in several and 'href="/tilbud/ny?customer_number=10002"' in several
    none = text_of(client.get("/tilbud/ny?customer_number=finnes%25ikke"))
    assert "Fant ingen kunde med kundenummer eller navn «finnes%ikke»" in none


def test_seller_creates_a_quote_for_a_dealer_by_customer_number(app: Flask, world: World) -> None:
    client = client_as(app, "selger")
    first = text_of(client.get("/tilbud/ny"))
    assert "Kundenummer" in first
    chosen = text_of(client.get("/tilbud/ny?customer_number=10001"))
    assert "Hansen AS" in chosen and world.a.address.recipient_name in chosen
    unknown = client.get("/tilbud/ny?customer_number=99999")
    assert "Fant ingen kunde" in text_of(unknown) or "Kundenummer" in text_of(unknown)
    response = _new_quote(client, world, customer_number="10001", **{"lines-0-unit_price": "9000,00"})
    assert response.status_code == 302, text_of(response)
    with db_session(app) as s:
        quote = s.scalars(select(Quote).order_by(Quote.id.desc())).first()
        assert quote.company_id == world.a.company.id and quote.lines[0].unit_price == Decimal("9000.00")
    page = text_of(client.get(response.headers["Location"]))
    assert "Send tilbudet" in page
    client.post(f"/tilbud/{quote.id}/send")
    with db_session(app) as s:
        assert s.get(Quote, quote.id).status == "sent"
    assert any("er sendt" in m for _c, m in flashes(client))
    page = text_of(client.get(f"/quoteview/show/{quote.id}"))
    assert "Send tilbudet" not in page and "Avslå" in page


def test_expired_quote_cannot_be_ordered(app: Flask, world: World) -> None:
    with db_session(app) as s:
        quote = s.get(Quote, world.a.quote.id)
        quote.valid_until = oslo_today() - dt.timedelta(days=3)
        s.commit()
    client = client_as(app, "hansen.bruker")
    page = text_of(client.get(f"/quoteview/show/{world.a.quote.id}"))
    assert "Utløpt" in page
    assert f"/tilbud/{world.a.quote.id}/bestill" not in page and f"/tilbud/{world.a.quote.id}/avslaa" not in page
    before = count_rows(app, Order)
    response = client.post(f"/tilbud/{world.a.quote.id}/bestill")
    assert response.status_code == 302
    assert any(c == "danger" and "gikk ut" in m for c, m in flashes(client))
    assert count_rows(app, Order) == before


def test_customer_declines_a_quote(app: Flask, world: World) -> None:
    client = client_as(app, "hansen.bruker")
    client.post(f"/tilbud/{world.a.quote.id}/avslaa")
    assert any("avslått" in m for _c, m in flashes(client))
    with db_session(app) as s:
        assert s.get(Quote, world.a.quote.id).status == "declined"
    page = text_of(client.get(f"/quoteview/show/{world.a.quote.id}"))
    assert "Avslått" in page and f"/tilbud/{world.a.quote.id}/bestill" not in page


def test_quote_actions_on_another_companys_quote_are_404(app: Flask, world: World) -> None:
    client = client_as(app, "hansen.bruker")
    for action in ("bestill", "send", "avslaa"):
        assert client.post(f"/tilbud/{world.b.quote.id}/{action}").status_code == 404, action
    with db_session(app) as s:
        assert s.get(Quote, world.b.quote.id).status == "sent"


@pytest.mark.parametrize(
    "status, days, buttons",
    [
        ("draft", 10, {"bestill", "send", "avslaa"}),
        ("sent", 10, {"bestill", "avslaa"}),
        ("sent", 0, {"bestill", "avslaa"}),  # valid through today
        ("draft", -1, set()),  # past its valid-until date: expired, even before a job marks it
        ("sent", -1, set()),
        ("accepted", 10, set()),
        ("declined", 10, set()),
    ],
)
def test_quote_buttons_follow_effective_status(
    app: Flask, world: World, status: str, days: int, buttons: set[str]
) -> None:
    from app.domain.quotes import effective_status

    with db_session(app) as s:
        quote = s.get(Quote, world.a.quote.id)
        quote.status = status
        quote.valid_until = oslo_today() + dt.timedelta(days=days)
        s.commit()
        shown_status = effective_status(quote)
    page = text_of(client_as(app, "hansen.bruker").get(f"/quoteview/show/{world.a.quote.id}"))
    found = set(re.findall(rf"/tilbud/{world.a.quote.id}/(bestill|send|avslaa)", page))
    assert found == buttons, (status, days, shown_status)
    label = {"draft": "Utkast", "sent": "Sendt", "expired": "Utløpt", "accepted": "Bestilt", "declined": "Avslått"}
    assert label[shown_status] in page


def test_manager_sees_no_quote_buttons(app: Flask, world: World) -> None:
    page = text_of(client_as(app, "leder").get(f"/quoteview/show/{world.a.quote.id}"))
    assert f"/tilbud/{world.a.quote.id}/" not in page


# --- menus ---------------------------------------------------------------------------------------


def _menu(body: str) -> str:
    return re.search(
        r'<ul class="nav navbar-nav">.*?</ul>\s*<ul class="nav navbar-nav navbar-right">', body, re.S
    ).group(0)


def _dropdown(menu: str, label: str) -> str:
    match = re.search(rf'{label}<b class="caret"></b></a>\s*<ul class="dropdown-menu">(.*?)</ul>', menu, re.S)
    return match.group(1) if match else ""


@pytest.mark.parametrize(
    "username, present, absent",
    [
        ("hansen.bruker", ["Ordreoversikt", "Ny bestilling", "Tilbud", "Nytt tilbud"], ["Til godkjenning"]),
        ("hansen.admin", ["Ordreoversikt", "Ny bestilling", "Nytt tilbud"], ["Til godkjenning"]),
        ("selger", ["Ordreoversikt", "Til godkjenning", "Tilbud", "Nytt tilbud"], ["Ny bestilling"]),
        ("kundeservice", ["Ordreoversikt", "Tilbud"], ["Ny bestilling", "Nytt tilbud"]),
        ("leder", ["Ordreoversikt", "Til godkjenning", "Tilbud"], ["Ny bestilling", "Nytt tilbud"]),
    ],
)
def test_ordre_menu_per_role(app: Flask, world: World, username: str, present: list[str], absent: list[str]) -> None:
    body = text_of(client_as(app, username).get("/"))
    ordre = _dropdown(_menu(body), "Ordre")
    labels = [re.sub(r"\s+", " ", t).strip() for t in re.findall(r"</i>&nbsp;(.*?)</a>", ordre, re.S)]
    for label in present:
        assert label in labels, (username, label, labels)
    for label in absent:
        assert label not in labels, (username, label, labels)
