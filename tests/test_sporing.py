"""Sporing in the order list and on the order page (seed: Klikk «Sporing»): the carrier's page for one
waybill, the order's shipments ("Sporing" section) for several; and the lines of a cancelled or
rejected order read as the order does, on the page and in the API."""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal

import pytest
from flask import Flask

from app.models import Order, OrderLine, Shipment
from tests.factories import World
from tests.helpers import Caller, StatementCounter, client_as, db_engine, db_session, text_of

LIST = "/orderview/list/"
COLLICARE = "https://www.collicare.no/sporing/?sendingsnummer="


def _second_shipment(app: Flask, world: World) -> None:
    with db_session(app) as s:
        s.add(Shipment(company_id=world.a.company.id, order_id=world.a.order.id, carrier="own"))
        s.commit()


def _add_orders(app: Flask, world: World, n: int, shipments: int) -> None:
    with db_session(app) as s:
        for i in range(n):
            order = Order(
                company_id=world.a.company.id,
                number=f"S-{n}-{i}",
                channel="webshop",
                status="shipped",
                delivery_address_id=world.a.address.id,
                total_ex_vat=Decimal("10.00"),
                total_vat=Decimal("2.50"),
            )
            for k in range(shipments):
                order.shipments.append(
                    Shipment(company_id=world.a.company.id, carrier="schenker", waybill_number=f"W{n}{i}{k}")
                )
            s.add(order)
        s.commit()


def test_one_waybill_links_to_the_carrier_in_the_list_and_on_the_order(app: Flask, world: World) -> None:
    client = client_as(app, world.user("CustomerUser"))
    body = text_of(client.get(LIST))
    assert "<th>Sporing</th>" in body or ">Sporing<" in body
    link = COLLICARE + world.a.shipment.waybill_number
    assert link in body and 'class="sporing"' in body
    page = text_of(client.get(f"/orderview/show/{world.a.order.id}"))
    assert re.search(r'<h4 id="sporing">Sporing</h4>', page)
    assert page.count(link) >= 2  # the link at the top and the waybill in the Sporing section


def test_several_shipments_jump_to_the_orders_sporing_section(app: Flask, world: World) -> None:
    _second_shipment(app, world)
    client = client_as(app, world.user("CustomerAdmin"))
    anchor = f'href="/orderview/show/{world.a.order.id}#sporing"'
    assert anchor in text_of(client.get(LIST))
    page = text_of(client.get(f"/orderview/show/{world.a.order.id}"))
    assert anchor in page and 'id="sporing"' in page


def test_an_order_without_shipments_has_no_sporing_link(app: Flask, world: World) -> None:
    with db_session(app) as s:
        s.query(Shipment).delete()
        s.commit()
    body = text_of(client_as(app, world.user("CustomerUser")).get(LIST))
    assert 'class="sporing"' not in body


def test_another_companys_shipments_never_show(app: Flask, world: World) -> None:
    body = text_of(client_as(app, world.user("CustomerUser")).get(LIST))
    assert world.b.shipment.waybill_number not in body


@pytest.mark.parametrize("role", ["CustomerUser", "Seller"])
def test_sporing_costs_one_query_per_page(app: Flask, world: World, role: str) -> None:
    client = client_as(app, world.user(role))
    client.get(LIST)
    counts = []
    for n, shipments in ((1, 1), (20, 3)):
        _add_orders(app, world, n, shipments)
        with StatementCounter(db_engine(app)) as counter:
            assert client.get(f"{LIST}?psize_OrderView=25").status_code == 200
        counts.append(counter.count)
        assert sum("shipments" in st for st in counter.statements) == 1, counter.statements
    assert counts[0] == counts[1]


@pytest.mark.parametrize(("status", "label"), [("cancelled", "Kansellert"), ("rejected", "Avvist")])
def test_lines_of_a_cancelled_or_rejected_order_read_so(
    app: Flask, world: World, as_role: Callable[[str], Caller], status: str, label: str
) -> None:
    with db_session(app) as s:
        s.query(Shipment).filter(Shipment.order_id == world.a.order.id).delete()
        s.get(Order, world.a.order.id).status = status
        s.commit()
        assert s.query(OrderLine).filter_by(order_id=world.a.order.id).one().status == "open"
    page = text_of(client_as(app, world.user("CustomerUser")).get(f"/orderview/show/{world.a.order.id}"))
    lines = page.split('class="table table-bordered table-condensed order-lines"')[1].split("</table>")[0]
    assert label in lines and "Åpen" not in lines
    item = as_role("CustomerUser").get(f"/api/v1/order/{world.a.order.id}").json["result"]
    assert [ln["status_label"] for ln in item["lines"]] == [label]
