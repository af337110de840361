"""Lists that stay fast at a million orders give the same rows as before (app/paging.py).

The row count stops at a bound (COUNT_BOUND, lowered here so a small world crosses it): the lists
then say "over N", the REST list's `count` is N + 1 with `count_exact` false, and the page links
end where the rows known end. Pages are read through a deferred join; they must hold exactly the
rows a plain ORDER BY ... LIMIT ... OFFSET gives, for staff and, scoped by the tenancy guard, for
a customer. Status and channel filter by equality (old links with FAB's text-filter numbers keep
their sense), and the approval queue and its credit check give what they gave before.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from app import paging
from app.domain import approvals
from app.domain.lifecycle import OPEN
from app.models import Invoice, Order, OrderLine
from app.paging import BoundedCount, page_links
from tests.factories import World, billing_for
from tests.helpers import StatementCounter, client_as, db_engine, db_session, text_of

SHOW_LINK = re.compile(r"/orderview/show/(\d+)")
STATUSES = ("processing", "shipped", "invoiced", "pending_approval", "cancelled")
CHANNELS = ("webshop", "phone", "edi")


def _add_orders(app: Flask, world: World, n: int, company: str = "a", pending: bool = False) -> None:
    """n orders of a company in several statuses and channels, some placed at the same instant
    (the sort's tie-breaker, the id, then decides)."""
    tenant = world.a if company == "a" else world.b
    start = dt.datetime(2026, 11, 1, 8, 0, tzinfo=dt.UTC)
    with db_session(app) as s:
        for i in range(n):
            order = Order(
                company_id=tenant.company.id,
                number=f"{tenant.company.customer_number}-S{i:04d}",
                channel=CHANNELS[i % len(CHANNELS)],
                status="pending_approval" if pending else STATUSES[i % len(STATUSES)],
                delivery_address_id=tenant.address.id,
                created_by_id=tenant.user.id,
                created_at=start + dt.timedelta(minutes=i // 3),
                total_ex_vat=Decimal("100.00") + i,
                total_vat=Decimal("25.00"),
            )
            order.lines.append(
                OrderLine(
                    company_id=tenant.company.id,
                    line_no=1,
                    product_id=world.product.id,
                    quantity=1,
                    unit_price=Decimal("100.00") + i,
                )
            )
            s.add(order)
        s.commit()


def _expected_ids(app: Flask, page: int, size: int, *where: Any) -> list[int]:
    """The page as a plain OFFSET query gives it (newest first, the id breaking ties)."""
    stmt = (
        select(Order.id)
        .where(*where)
        .order_by(Order.created_at.desc(), Order.id.desc())
        .limit(size)
        .offset(page * size)
    )
    with db_session(app) as s:
        return list(s.scalars(stmt))


def _page_ids(body: str) -> list[int]:
    seen: list[int] = []
    for pk in map(int, SHOW_LINK.findall(body)):
        if pk not in seen:
            seen.append(pk)
    return seen


@pytest.fixture()
def bound(monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(paging, "COUNT_BOUND", 5)
    return 5


# --- page links -------------------------------------------------------------------------------


def test_page_links_with_an_exact_count_are_fabs_window() -> None:
    links = page_links(0, 25, 1000)
    assert list(links.window) == list(range(0, 7))
    assert (links.first, links.previous, links.next, links.last) == (None, None, 1, 39)
    links = page_links(39, 25, 1000)
    assert list(links.window) == list(range(33, 40)) and links.next is None and links.last is None


def test_page_links_beyond_the_bound_end_at_the_next_page() -> None:
    count = BoundedCount(50_000, bound=10_000)
    assert int(count) == 10_001 and not count.exact
    links = page_links(1999, 25, count, has_next=True)
    assert list(links.window) == list(range(1996, 2001))
    assert (links.first, links.previous, links.next, links.last) == (0, 1998, 2000, None)
    last_known = page_links(1999, 25, count, has_next=False)
    assert last_known.next is None and list(last_known.window) == list(range(1996, 2000))
    assert page_links(0, 25, count).next == 1 and page_links(0, 25, count).last is None


# --- the bounded count --------------------------------------------------------------------------


def test_staff_list_says_over_the_bound_and_customer_list_counts_exactly(app: Flask, world: World, bound: int) -> None:
    _add_orders(app, world, 8, "b")
    _add_orders(app, world, 2, "a")
    staff = text_of(client_as(app, world.user("Seller")).get("/orderview/list/"))
    assert re.search(r'id="list-count">\s*<strong>[^<]+</strong>\s*over\s5\s', staff), staff
    customer = text_of(client_as(app, world.user("CustomerUser")).get("/orderview/list/"))
    assert re.search(r'id="list-count">\s*<strong>[^<]+</strong>\s*3\s', customer)  # 2 + the world's order


def test_rest_count_stops_at_the_bound(app: Flask, world: World, as_role: Any, bound: int) -> None:
    _add_orders(app, world, 8, "b")
    staff = as_role("Seller").get("/api/v1/order/", q={"page_size": 3})
    assert staff.status_code == 200
    assert (staff.json["count"], staff.json["count_exact"]) == (bound + 1, False)
    assert len(staff.json["result"]) == 3
    customer = as_role("CustomerUser").get("/api/v1/order/")
    assert (customer.json["count"], customer.json["count_exact"]) == (1, True)


def test_count_statement_is_bounded(app: Flask, world: World) -> None:
    client = client_as(app, world.user("Seller"))
    client.get("/orderview/list/")
    with StatementCounter(db_engine(app)) as counter:
        assert client.get("/orderview/list/?_flt_0_status=processing").status_code == 200
    # The list's bounded count rides in the statement of the page's rows (app/paging.py).
    counts = [s for s in counter.statements if "count(*)" in s.lower() and "FROM orders" in s]
    assert len(counts) == 1, counter.statements
    assert re.search(r"SELECT count\(\*\) AS count_\d+\s+FROM \(SELECT .*? LIMIT", counts[0], re.DOTALL), counts[0]


def test_an_empty_page_still_counts(app: Flask, world: World) -> None:
    """A page past the last row reads no row to carry the count: the count is read on its own."""
    client = client_as(app, world.user("CustomerUser"))
    page = text_of(client.get("/orderview/list/?page_OrderView=5"))
    assert re.search(r'id="list-count">\s*<strong>[^<]+</strong>\s*1\s', page), page


def test_openapi_says_what_count_means(app: Flask, world: World, as_role: Any) -> None:
    spec = as_role("Admin").get("/api/v1/_openapi")
    assert spec.status_code == 200
    listing = spec.json["paths"]["/api/v1/order/"]["get"]["responses"]["200"]["content"]["application/json"]
    properties = listing["schema"]["properties"]
    assert str(paging.COUNT_BOUND + 1) in properties["count"]["description"]
    assert properties["count_exact"]["type"] == "boolean"


# --- pages: the same rows as OFFSET ---------------------------------------------------------


@pytest.mark.parametrize("role", ["Seller", "CustomerUser"])
def test_html_pages_hold_the_rows_offset_gives(app: Flask, world: World, role: str, bound: int) -> None:
    _add_orders(app, world, 13, "a")
    _add_orders(app, world, 9, "b")
    client = client_as(app, world.user(role))
    where = [Order.company_id == world.a.company.id] if role == "CustomerUser" else []
    for page in range(6):
        body = text_of(client.get(f"/orderview/list/?psize_OrderView=4&page_OrderView={page}"))
        assert _page_ids(body) == _expected_ids(app, page, 4, *where), page


@pytest.mark.parametrize("role", ["Seller", "CustomerUser"])
def test_rest_pages_hold_the_rows_offset_gives(app: Flask, world: World, as_role: Any, role: str) -> None:
    _add_orders(app, world, 13, "a")
    _add_orders(app, world, 9, "b")
    where = [Order.company_id == world.a.company.id] if role == "CustomerUser" else []
    for page in range(6):
        response = as_role(role).get("/api/v1/order/", q={"page": page, "page_size": 4})
        assert response.status_code == 200
        assert response.json["ids"] == _expected_ids(app, page, 4, *where), page


def test_rest_pages_sorted_by_another_column(app: Flask, world: World, as_role: Any) -> None:
    _add_orders(app, world, 10, "a")
    response = as_role("Seller").get(
        "/api/v1/order/", q={"order_column": "number", "order_direction": "asc", "page": 1, "page_size": 3}
    )
    with db_session(app) as s:
        expected = list(s.scalars(select(Order.id).order_by(Order.number, Order.id).limit(3).offset(3)))
    assert response.json["ids"] == expected


def test_deep_page_beyond_the_bound_links_to_the_next_page_only(app: Flask, world: World, bound: int) -> None:
    _add_orders(app, world, 14, "b")  # 15 orders of B with the world's, 16 in all
    client = client_as(app, world.user("Seller"))
    body = text_of(client.get("/orderview/list/?psize_OrderView=2&page_OrderView=5"))
    assert _page_ids(body) == _expected_ids(app, 5, 2)
    pages = {int(p) for p in re.findall(r"page_OrderView=(\d+)", body)}
    assert 6 in pages and max(pages) == 6, pages  # the next page; no "last page" is known
    last = text_of(client.get("/orderview/list/?psize_OrderView=2&page_OrderView=7"))
    assert _page_ids(last) == _expected_ids(app, 7, 2) and len(_page_ids(last)) == 2
    # Page 8 (index 7) is the last: no link beyond it (its own index stays in the sort and size links).
    assert max(int(p) for p in re.findall(r"page_OrderView=(\d+)", last)) == 7


def test_list_statements_do_not_grow_with_the_page(app: Flask, world: World) -> None:
    _add_orders(app, world, 30, "a")
    client = client_as(app, world.user("Seller"))
    client.get("/orderview/list/")
    counts = []
    for page in (0, 5):
        with StatementCounter(db_engine(app)) as counter:
            assert client.get(f"/orderview/list/?psize_OrderView=5&page_OrderView={page}").status_code == 200
        counts.append(counter.count)
    assert counts[0] == counts[1], counts


# --- status and channel: equality -------------------------------------------------------------


def _listed(app: Flask, world: World, query: str) -> set[int]:
    body = text_of(client_as(app, world.user("Seller")).get(f"/orderview/list/?psize_OrderView=100&{query}"))
    return set(_page_ids(body))


def _ids(app: Flask, *where: Any) -> set[int]:
    with db_session(app) as s:
        return set(s.scalars(select(Order.id).where(*where)))


@pytest.mark.parametrize(
    ("query", "condition"),
    [
        ("_flt_0_status=shipped", Order.status == "shipped"),
        ("_flt_3_status=shipped", Order.status == "shipped"),  # FAB's old "equal to"
        ("_flt_0_status=ship", Order.status == "ship"),  # FAB's old "starts with": now equality, nothing
        ("_flt_1_status=shipped", Order.status != "shipped"),
        ("_flt_7_status=shipped", Order.status != "shipped"),  # FAB's old "not equal"
        ("_flt_0_channel=edi", Order.channel == "edi"),
        ("_flt_3_channel=edi", Order.channel == "edi"),
        ("_flt_0_status=invoiced&_flt_0_channel=phone", (Order.status == "invoiced") & (Order.channel == "phone")),
    ],
)
def test_status_and_channel_filter_by_equality(app: Flask, world: World, query: str, condition: Any) -> None:
    _add_orders(app, world, 20, "a")
    assert _listed(app, world, query) == _ids(app, condition)


def test_status_filter_sends_no_ilike(app: Flask, world: World) -> None:
    client = client_as(app, world.user("Seller"))
    with StatementCounter(db_engine(app)) as counter:
        assert client.get("/orderview/list/?_flt_0_status=shipped&_flt_0_channel=edi").status_code == 200
    order_sql = " ".join(s for s in counter.statements if "orders" in s).lower()
    assert "like" not in order_sql and "lower(" not in order_sql


def test_search_form_offers_equality_first_on_status_and_channel(app: Flask, world: World) -> None:
    body = text_of(client_as(app, world.user("Seller")).get("/orderview/list/"))
    match = re.search(r"new AdminFilters\(\s*'#filter_form',\s*(.*?)\n\s*\);", body, re.DOTALL)
    assert match, "no search form"
    filters = json.loads("[" + match.group(1) + "]")[2]
    assert len(filters["status"]) == 2 and len(filters["channel"]) == 2, filters
    assert filters["status"] == filters["channel"]
    assert filters["status"][0] != filters["status"][1]


def test_rest_status_filters(app: Flask, world: World, as_role: Any) -> None:
    _add_orders(app, world, 10, "a")
    seller = as_role("Seller")

    def ids(opr: str, value: Any) -> set[int]:
        response = seller.get(
            "/api/v1/order/", q={"filters": [{"col": "status", "opr": opr, "value": value}], "page_size": 100}
        )
        assert response.status_code == 200, response.json
        return set(response.json["ids"])

    assert ids("eq", "shipped") == _ids(app, Order.status == "shipped")
    assert ids("neq", "shipped") == _ids(app, Order.status != "shipped")
    assert ids("in", ["shipped", "cancelled"]) == _ids(app, Order.status.in_(["shipped", "cancelled"]))
    refused = seller.get("/api/v1/order/", q={"filters": [{"col": "status", "opr": "sw", "value": "ship"}]})
    assert refused.status_code == 400
    assert refused.json["message"] == "Filteret «sw» kan ikke brukes på feltet «status»."
    unknown = seller.get("/api/v1/order/", q={"filters": [{"col": "secret", "opr": "eq", "value": "x"}]})
    assert unknown.status_code == 400
    assert unknown.json["message"] == "Feltet «secret» kan ikke brukes i et filter."


# --- the approval queue -------------------------------------------------------------------------


def _queue_numbers(body: str) -> list[str]:
    return re.findall(r'<tr data-order="([^"]+)">', body)


def test_queue_pages_oldest_first_with_a_bounded_count(app: Flask, world: World, bound: int) -> None:
    _add_orders(app, world, 60, "a", pending=True)
    with db_session(app) as s:
        expected = list(
            s.scalars(
                select(Order.number).where(Order.status == "pending_approval").order_by(Order.created_at, Order.id)
            )
        )
    client = client_as(app, world.user("Seller"))
    client.get("/godkjenning/")
    seen: list[str] = []
    counts = []
    for page in range(3):
        with StatementCounter(db_engine(app)) as counter:
            body = text_of(client.get(f"/godkjenning/?side={page}"))
        counts.append(counter.count)
        assert re.search(r'id="queue-count">over\s5\s', body), body
        seen += _queue_numbers(body)
        pages = {int(p) for p in re.findall(r'href="\?side=(\d+)"', body)}
        assert max(pages) == page + 1 if page < 2 else max(pages) <= page, pages
    assert seen == expected
    assert counts[0] == counts[1] == counts[2], counts


def test_queue_count_is_exact_below_the_bound(app: Flask, world: World) -> None:
    _add_orders(app, world, 3, "a", pending=True)
    body = text_of(client_as(app, world.user("Seller")).get("/godkjenning/"))
    assert re.search(r'id="queue-count">3\s', body), body
    assert 'id="queue-pages"' not in body


def _exposure_as_before(app: Flask, company_ids: set[int]) -> dict[int, Decimal]:
    """The credit rule as it was written before the covering indexes: a join, summed row by row."""
    with db_session(app) as s:
        open_sum = dict(
            s.execute(
                select(Order.company_id, func.coalesce(func.sum(Order.total_ex_vat + Order.total_vat), 0))
                .where(Order.company_id.in_(company_ids), Order.status.in_(OPEN))
                .group_by(Order.company_id)
            ).all()
        )
        unpaid = dict(
            s.execute(
                select(Invoice.company_id, func.coalesce(func.sum(Invoice.amount), 0))
                .join(Order, Order.id == Invoice.order_id)
                .where(Invoice.company_id.in_(company_ids), Invoice.paid.is_(False), Order.status.not_in(OPEN))
                .group_by(Invoice.company_id)
            ).all()
        )
    return {cid: Decimal(open_sum.get(cid, 0)) + Decimal(unpaid.get(cid, 0)) for cid in company_ids}


def test_exposure_is_what_it_was(app: Flask, world: World) -> None:
    _add_orders(app, world, 15, "a")
    _add_orders(app, world, 10, "b")
    with db_session(app) as s:
        orders = list(s.scalars(select(Order).order_by(Order.id)))
        for i, order in enumerate(orders):  # unpaid and paid invoices on open and closed orders
            s.add(
                Invoice(
                    company_id=order.company_id,
                    number=f"FX-{i:04d}",
                    order_id=order.id,
                    invoice_date=dt.date(2026, 11, 2),
                    due_date=dt.date(2026, 11, 16),
                    amount=Decimal("10.50") * (i + 1),
                    paid=i % 3 == 0,
                    **billing_for(s, order.company_id),
                )
            )
        s.commit()
        ids = {world.a.company.id, world.b.company.id}
        assert approvals.exposure_by_company(s, ids) == _exposure_as_before(app, ids)
        assert approvals.exposure_by_company(s, {world.a.company.id}) == _exposure_as_before(app, {world.a.company.id})
