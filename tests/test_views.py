"""The HTML CRUD views (app/views/): every role reaches its pages in Norwegian, customers see only
their company's rows, foreign rows answer 404 (show, edit, delete, FAB actions), bad list arguments
never give a 500, and the order list runs a fixed number of SQL statements whatever the page size.

Runs on SQLite and, with TEST_DATABASE_URL, on PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from decimal import Decimal

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.domain.formatting import format_nok
from app.models import (
    Budget,
    DeliveryAddress,
    Order,
    OrderLine,
    Quote,
    QuoteLine,
    Shipment,
)
from app.roles import ALL_ROLES, CUSTOMER_ROLES, ROLE_PERMISSIONS
from tests.factories import World
from tests.helpers import Caller, StatementCounter, client_as, db_engine, db_session, text_of

# view class -> (list URL, Norwegian title on the list page)
LIST_PAGES: dict[str, tuple[str, str]] = {
    "OrderView": ("/orderview/list/", "Ordreoversikt"),
    "OrderLineView": ("/orderlineview/list/", "Ordrelinjer"),
    "QuoteView": ("/quoteview/list/", "Tilbud"),
    "QuoteLineView": ("/quotelineview/list/", "Tilbudslinjer"),
    "CompanyView": ("/companyview/list/", "Bedrifter"),
    "MyCompanyView": ("/mycompanyview/list/", "Bedriftsinformasjon"),
    "PortalUserDBModelView": ("/users/list/", "Brukere"),
    "CompanyUserView": ("/companyusers/list/", "Brukere"),
    "DeliveryAddressView": ("/deliveryaddressview/list/", "Leveringsadresser"),
    "ProductView": ("/productview/list/", "Produkter"),
    "StoreView": ("/storeview/list/", "Butikker"),
    "BudgetView": ("/budgetview/list/", "Bruksgrense"),
    "StandingOrderView": ("/standingorderview/list/", "Faste ordre"),
    "InquiryView": ("/inquiryview/list/", "Henvendelser"),
    "PickupReservationView": ("/pickupreservationview/list/", "Klikk og Hent"),
}

# view class -> (show URL of company A's row, Norwegian text on that page)
SHOW_PAGES: dict[str, Callable[[World], tuple[str, str]]] = {
    "OrderView": lambda w: (f"/orderview/show/{w.a.order.id}", "Ordrelinjer"),
    "OrderLineView": lambda w: (f"/orderlineview/show/{w.a.order.lines[0].id}", "Levert antall"),
    "QuoteView": lambda w: (f"/quoteview/show/{w.a.quote.id}", "Sluttkundereferanse"),
    "QuoteLineView": lambda w: (f"/quotelineview/show/{w.a.quote.lines[0].id}", "Enhetspris eks. mva."),
    "CompanyView": lambda w: (f"/companyview/show/{w.a.company.id}", "Kredittgrense"),
    "MyCompanyView": lambda w: (f"/mycompanyview/show/{w.a.company.id}", "Organisasjonsnummer"),
    "PortalUserDBModelView": lambda w: (f"/users/show/{w.a.user.id}", "Brukernavn"),
    "CompanyUserView": lambda w: (f"/companyusers/show/{w.a.user.id}", "Brukernavn"),
    "DeliveryAddressView": lambda w: (f"/deliveryaddressview/show/{w.a.address.id}", "Varemottaker"),
    "ProductView": lambda w: (f"/productview/show/{w.configurable.id}", "Ull grå"),
    "StoreView": lambda w: (f"/storeview/show/{w.store.id}", "Åpningstider"),
    "BudgetView": lambda w: (f"/budgetview/show/{w.a.budget.id}", "Forbruk denne perioden"),
    "StandingOrderView": lambda w: (f"/standingorderview/show/{w.a.standing_order.id}", "Leveringsplan"),
    "InquiryView": lambda w: (f"/inquiryview/show/{w.a.inquiry.id}", "Meldinger"),
    "PickupReservationView": lambda w: (f"/pickupreservationview/show/{w.a.reservation.id}", "Hentekode"),
}


def _perms(role: str, view: str) -> tuple[str, ...]:
    if role == "Admin":
        return ("can_list", "can_show", "can_add", "can_edit", "can_delete")
    return ROLE_PERMISSIONS[role].get(view, ())


# --- every role reaches its pages, in Norwegian ------------------------------------------------


@pytest.mark.parametrize("role", ALL_ROLES)
def test_role_opens_its_list_and_show_pages(app: Flask, world: World, role: str) -> None:
    client = client_as(app, world.user(role))
    opened = 0
    for view, (url, title) in LIST_PAGES.items():
        response = client.get(url)
        if "can_list" in _perms(role, view):
            assert response.status_code == 200, (role, url)
            assert title in text_of(response), (role, url)
            opened += 1
        else:
            assert response.status_code in (403, 404), (role, url, response.status_code)
    for view, page in SHOW_PAGES.items():
        url, text = page(world)
        response = client.get(url)
        if "can_show" in _perms(role, view):
            assert response.status_code == 200, (role, url)
            assert text in text_of(response), (role, url)
        else:
            assert response.status_code in (403, 404), (role, url, response.status_code)
    assert opened >= 6


@pytest.mark.parametrize("role", CUSTOMER_ROLES)
def test_customer_menu_is_min_side_not_supplier_menus(app: Flask, world: World, role: str) -> None:
    body = text_of(client_as(app, world.user(role)).get("/"))
    assert 'Min side<b class="caret">' in body
    assert 'Kunder<b class="caret">' not in body
    assert "/companyview/list/" not in body and "/users/list/" not in body
    admin_only = ("/mycompanyview/mine/" in body, "/companyusers/list/" in body, "/budgetview/list/" in body)
    assert admin_only == ((True,) * 3 if role == "CustomerAdmin" else (False,) * 3)


def test_customer_admin_menu(app: Flask, world: World) -> None:
    body = text_of(client_as(app, world.user("CustomerAdmin")).get("/"))
    for label in (
        "Ordreoversikt",
        "Bedriftsinformasjon",
        "Leveringsadresser",
        "Bruksgrense",
        "Faste ordre",
        "Henvendelser",
        "Klikk og Hent",
        "Produkter",
    ):
        assert label in body, label
    assert 'Min side<b class="caret">' in body


@pytest.mark.parametrize("role", ["Seller", "CustomerService", "Manager"])
def test_supplier_menu_is_kunder_not_min_side(app: Flask, world: World, role: str) -> None:
    body = text_of(client_as(app, world.user(role)).get("/"))
    assert 'Kunder<b class="caret">' in body and "Bedrifter" in body
    assert 'Min side<b class="caret">' not in body
    assert ("/users/list/" in body) == (role == "CustomerService")


def test_customers_do_not_get_fab_user_and_role_admin(app: Flask, world: World) -> None:
    client = client_as(app, world.user("CustomerAdmin"))
    for url in ("/users/list/", f"/users/show/{world.a.user.id}", "/roles/list/", "/users/add"):
        assert client.get(url).status_code in (403, 404), url
    legacy = client.get("/users/userinfo/")
    assert legacy.status_code == 302 and legacy.headers["Location"].endswith("/min-profil/")
    assert client.get("/min-profil/").status_code == 200


# --- start pages --------------------------------------------------------------------------------


def test_anonymous_start_page_redirects_to_login(client: FlaskClient, world: World) -> None:
    response = client.get("/")
    assert response.status_code == 302 and "/login/" in response.headers["Location"]


def test_customer_start_page(app: Flask, world: World) -> None:
    body = text_of(client_as(app, world.user("CustomerUser")).get("/"))
    assert world.a.company.name in body and world.a.order.number in body
    assert world.b.order.number not in body and world.b.company.name not in body
    assert "Siste ordre" in body and "Min profil" in body


def test_supplier_start_pages(app: Flask, world: World) -> None:
    with db_session(app) as s:
        s.execute(Order.__table__.update().where(Order.id == world.b.order.id).values(status="pending_approval"))
        s.commit()
    response = client_as(app, world.user("Seller")).get("/")
    page, seller = response.get_data(as_text=True), text_of(response)
    assert "Til godkjenning" in seller and "1 ordre venter på godkjenning" in seller
    assert '<a href="/godkjenning/"><strong>1 ordre venter' in page  # the link opens the approval queue
    assert world.b.order.number in seller
    service = text_of(client_as(app, world.user("CustomerService")).get("/"))
    assert "2 åpne henvendelser" in service and world.a.inquiry.subject in service
    manager = text_of(client_as(app, world.user("Manager")).get("/"))
    assert "Oversikt" in manager and "Under behandling" in manager and "aktive kundebedrifter" in manager


# --- tenancy through the views ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("channel", "creator", "shown"),
    [("seller", "Seller", "Leverandøren"), ("edi", None, "EDI"), ("standing_order", None, "Fast ordre")],
)
def test_ordered_by_reads_the_same_on_the_start_page_and_in_the_list(
    app: Flask, world: World, channel: str, creator: str | None, shown: str
) -> None:
    creator_id = world.user(creator).id if creator else None
    with db_session(app) as s:
        s.execute(
            Order.__table__.update()
            .where(Order.id == world.a.order.id)
            .values(channel=channel, created_by_id=creator_id)
        )
        s.commit()
    client = client_as(app, world.user("CustomerUser"))
    number = world.a.order.number
    for url in ("/", "/orderview/list/"):
        row = re.search(
            rf"<tr>(?:(?!</tr>).)*>{number}<(?:(?!</tr>).)*</tr>", client.get(url).get_data(as_text=True), re.S
        )
        assert row is not None and f">{shown}<" in row.group(0), url


@pytest.mark.parametrize(("status", "shown"), [("cancelled", "Kansellert"), ("rejected", "Avvist")])
def test_lines_of_a_cancelled_or_rejected_order_read_as_the_order(
    app: Flask, world: World, status: str, shown: str
) -> None:
    order = world.a.order
    with db_session(app) as s:
        s.execute(Order.__table__.update().where(Order.id == order.id).values(status=status))
        s.commit()
    client = client_as(app, world.user("CustomerUser"))
    show = text_of(client.get(f"/orderview/show/{order.id}"))
    lines = text_of(client.get("/orderlineview/list/"))
    api = Caller(app, world.user("CustomerUser").username).get(f"/api/v1/order/{order.id}").get_json()["result"]
    assert "Åpen" not in show and shown in show
    assert "Åpen" not in lines and shown in lines
    assert {line["status_label"] for line in api["lines"]} == {shown}


def test_the_add_button_names_what_it_adds(app: Flask, world: World) -> None:
    body = client_as(app, world.user("CustomerUser")).get("/inquiryview/list/").get_data(as_text=True)
    assert re.search(r'<a href="/inquiryview/add[^"]*"[^>]*>\s*<i class="fa fa-plus"></i> Ny henvendelse\s*</a>', body)


def test_seller_start_page_counts_waiting_orders_up_to_the_bound(app: Flask, world: World, monkeypatch) -> None:
    from app import paging

    monkeypatch.setattr(paging, "COUNT_BOUND", 1)
    with db_session(app) as s:
        s.execute(Order.__table__.update().values(status="pending_approval"))
        s.commit()
    seller = text_of(client_as(app, world.user("Seller")).get("/"))
    assert "over 1 ordre venter på godkjenning" in seller


@pytest.mark.parametrize("role", CUSTOMER_ROLES)
def test_customer_lists_hold_only_own_company_rows(app: Flask, world: World, role: str) -> None:
    client = client_as(app, world.user(role))
    for url, own, foreign in (
        ("/orderview/list/", world.a.order.number, world.b.order.number),
        ("/quoteview/list/", world.a.quote.number, world.b.quote.number),
        ("/deliveryaddressview/list/", "hansen lager", "berg lager"),
        ("/inquiryview/list/", world.a.inquiry.subject, world.b.inquiry.subject),
        ("/orderlineview/list/", world.a.order.number, world.b.order.number),
        ("/orderview/list/?psize_OrderView=100", world.a.order.number, world.b.order.number),
        ("/orderview/list/?_flt_0_number=1000", world.a.order.number, world.b.order.number),
    ):
        body = text_of(client.get(url))
        assert own in body, url
        assert foreign not in body, url


def test_customer_gets_404_for_another_companys_rows(app: Flask, world: World) -> None:
    client = client_as(app, world.user("CustomerAdmin"))
    b = world.b
    for url in (
        f"/orderview/show/{b.order.id}",
        f"/orderlineview/show/{b.order.lines[0].id}",
        f"/quoteview/show/{b.quote.id}",
        f"/quotelineview/show/{b.quote.lines[0].id}",
        f"/mycompanyview/show/{b.company.id}",
        f"/companyusers/show/{b.user.id}",
        f"/deliveryaddressview/show/{b.address.id}",
        f"/deliveryaddressview/edit/{b.address.id}",
        f"/budgetview/show/{b.budget.id}",
        f"/budgetview/edit/{b.budget.id}",
        f"/standingorderview/show/{b.standing_order.id}",
        f"/inquiryview/show/{b.inquiry.id}",
        f"/pickupreservationview/show/{b.reservation.id}",
        "/orderview/show/abc",
        "/orderview/show/99999999",
    ):
        assert client.get(url).status_code == 404, url
    # Writes: edit and delete of a foreign row answer 404 and change nothing.
    assert (
        client.post(
            f"/deliveryaddressview/edit/{b.address.id}",
            data={"recipient_name": "Kapret", "street": "X 1", "postal_code": "0001", "city": "Oslo"},
        ).status_code
        == 404
    )
    assert client.post(f"/budgetview/delete/{b.budget.id}").status_code == 404
    assert client.get(f"/budgetview/delete/{b.budget.id}").status_code == 404
    with db_session(app) as s:
        assert s.get(DeliveryAddress, b.address.id).recipient_name == "berg lager"
        assert s.get(Budget, b.budget.id) is not None


def test_fab_actions_on_a_foreign_row_answer_404(app: Flask, world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """FAB loads action rows itself (no base filters, no 404); ours go through the guard."""
    from flask_appbuilder.actions import ActionItem

    user_view = app.appbuilder.sm.user_view
    # A bulk action to aim at (FAB's user actions are one-row only): it must never run here.
    probe = ActionItem("probe", "Probe", None, None, True, True, func=lambda items: pytest.fail("ran"))
    monkeypatch.setitem(user_view.actions, "probe", probe)
    client = client_as(app, world.user("CustomerAdmin"))
    b_user, a_user = world.b.user.id, world.a.user.id
    assert client.post(f"/users/action/resetpasswords/{b_user}").status_code == 404
    assert client.post(f"/users/action/probe/{b_user}").status_code == 404
    assert client.post("/users/action_post", data={"action": "probe", "rowid": [b_user]}).status_code == 404
    assert client.post("/users/action_post", data={"action": "probe", "rowid": [a_user, b_user]}).status_code == 404
    assert client.post("/users/action_post", data={"action": "probe", "rowid": [a_user]}).status_code == 403
    # A one-row action posted as a bulk action would get a list (FAB: 500): there is no such action.
    assert client.post("/users/action_post", data={"action": "resetpasswords", "rowid": [a_user]}).status_code == 404
    assert client.post(f"/users/action/no-such-action/{world.a.user.id}").status_code == 404
    assert client.post("/users/action/resetpasswords/abc").status_code == 404
    assert client.get(f"/users/action/resetpasswords/{b_user}").status_code == 404
    # The customer's own row loads, but the role may not run the action.
    assert client.post(f"/users/action/resetpasswords/{world.a.user.id}").status_code == 403


def test_views_without_actions_have_no_action_routes(app: Flask) -> None:
    rules = {r.rule for r in app.url_map.iter_rules()}
    assert "/orderview/action_post" not in rules and "/orderview/action/<string:name>/<pk>" not in rules
    assert "/orderview/delete/<pk>" not in rules and "/orderview/add" not in rules
    assert "/quoteview/add" in rules and "/quoteview/delete/<pk>" not in rules


# --- list arguments never give a 500 -------------------------------------------------------------


@pytest.mark.parametrize("role", ["CustomerUser", "Seller"])
@pytest.mark.parametrize(
    "query",
    [
        "psize_OrderView=abc",
        "psize_OrderView=100000",
        "psize_OrderView=-5",
        "psize_OrderView=0",
        "page_OrderView=abc",
        "page_OrderView=99999",
        "_oc_OrderView=no_such_column&_od_OrderView=asc",
        "_oc_OrderView=number&_od_OrderView=sideways",
        "_flt_9_created_at=abc",
        "_flt_1_created_at=abc",
        "_flt_0_delivery_date=not-a-date",
        "_flt_3_status=pending_approval",
        "_flt_0_company=abc",
    ],
)
def test_bad_list_arguments_do_not_500(app: Flask, world: World, role: str, query: str) -> None:
    response = client_as(app, world.user(role)).get(f"/orderview/list/?{query}", follow_redirects=True)
    assert response.status_code == 200, query
    assert "Ordreoversikt" in text_of(response)


def test_page_size_is_capped_at_100(app: Flask, world: World) -> None:
    _add_orders(app, world, 105)
    body = text_of(client_as(app, world.user("CustomerUser")).get("/orderview/list/?psize_OrderView=100000"))
    assert len(set(re.findall(r"/orderview/show/(\d+)", body))) == 100


# --- the order list: fixed number of statements --------------------------------------------------


def _add_orders(app: Flask, world: World, n: int) -> None:
    with db_session(app) as s:
        for i in range(n):
            order = Order(
                company_id=world.a.company.id,
                number=f"A-{i:05d}",
                channel="phone",
                status="processing",
                delivery_address_id=world.a.address.id,
                created_by_id=(world.a.user.id if i % 2 else world.a.admin.id),
                total_ex_vat=Decimal("100.00"),
                total_vat=Decimal("25.00"),
            )
            order.lines.append(
                OrderLine(
                    company_id=world.a.company.id,
                    line_no=1,
                    product_id=world.product.id,
                    quantity=1,
                    unit_price=Decimal("100.00"),
                )
            )
            s.add(order)
        s.commit()


@pytest.mark.parametrize("role", ["CustomerUser", "Seller"])
def test_order_list_statement_count_does_not_grow_with_rows(app: Flask, world: World, role: str) -> None:
    _add_orders(app, world, 40)
    client = client_as(app, world.user(role))
    client.get("/orderview/list/")  # warm-up: first-request caches
    engine = db_engine(app)
    counts = {}
    for size in (2, 40):
        with StatementCounter(engine) as counter:
            response = client.get(f"/orderview/list/?psize_OrderView={size}")
        assert response.status_code == 200
        assert len(set(re.findall(r"/orderview/show/(\d+)", text_of(response)))) == size
        counts[size] = counter.count
    assert counts[2] == counts[40], counts


def test_order_show_statement_count_does_not_grow_with_lines(app: Flask, world: World) -> None:
    client = client_as(app, world.user("CustomerUser"))
    url = f"/orderview/show/{world.a.order.id}"
    client.get(url)
    engine = db_engine(app)
    with StatementCounter(engine) as before:
        client.get(url)
    with db_session(app) as s:
        for n in range(2, 12):
            s.add(
                OrderLine(
                    company_id=world.a.company.id,
                    order_id=world.a.order.id,
                    line_no=n,
                    product_id=world.configurable.id,
                    quantity=1,
                    unit_price=Decimal("10.00"),
                    width=100,
                    depth=80,
                    fabric="Ull grå",
                    colour="Eik",
                )
            )
            s.add(
                Shipment(
                    company_id=world.a.company.id, order_id=world.a.order.id, carrier="schenker", waybill_number=f"S{n}"
                )
            )
        s.commit()
    with StatementCounter(engine) as after:
        response = client.get(url)
    assert "100 × 80 cm, Stoff: Ull grå, Farge: Eik" in text_of(response)
    assert before.count == after.count, (before.count, after.count)


def test_no_list_page_loads_rows_one_by_one(app: Flask, world: World) -> None:
    """Every list (Admin sees them all): one row per page or many, the same number of statements."""
    from app.models import Store

    with db_session(app) as s:
        s.add(Store(name="Butikk Bergen", street="Torgallmenningen 1", postal_code="5014", city="Bergen"))
        s.commit()
    client = client_as(app, world.user("Admin"))
    engine = db_engine(app)
    for view, (url, _title) in LIST_PAGES.items():
        counts = []
        for size in (1, 100):
            client.get(f"{url}?psize_{view}={size}")
            with StatementCounter(engine) as counter:
                response = client.get(f"{url}?psize_{view}={size}")
            assert response.status_code == 200, url
            counts.append(counter.count)
        rows = len(set(re.findall(rf"{url.rsplit('/list/', 1)[0]}/show/(\d+)", text_of(response))))
        assert rows >= 2, (url, rows)
        assert counts[0] == counts[1], (url, counts)


def test_order_number_search_is_exact_or_prefix(app: Flask, world: World) -> None:
    client = client_as(app, world.user("Seller"))
    body = text_of(client.get(f"/orderview/list/?_flt_0_number={world.b.order.number}"))
    assert world.b.order.number in body and world.a.order.number not in body
    body = text_of(client.get("/orderview/list/?_flt_0_number=1000"))
    assert world.a.order.number in body and world.b.order.number in body
    assert "Nummer er eller starter med" in body


# --- what the pages show ----------------------------------------------------------------------------


def test_order_page_shows_lines_totals_shipments_invoices_and_timeline(app: Flask, world: World) -> None:
    with db_session(app) as s:
        s.add(
            Shipment(company_id=world.a.company.id, order_id=world.a.order.id, carrier="own", waybill_number="EGEN-77")
        )
        order = s.get(Order, world.a.order.id)
        order.created_at = dt.datetime(2026, 1, 15, 23, 30, tzinfo=dt.UTC)
        order.events[0].reason = "Kunden ringte"
        s.commit()
    client = client_as(app, world.user("CustomerUser"))
    body = text_of(client.get(f"/orderview/show/{world.a.order.id}"))
    for text in (
        "Kontorstol Basic",
        "STOL-1",
        "Under behandling",
        "Åpen",
        format_nok(Decimal("1000.00")),
        format_nok(Decimal("250.00")),
        format_nok(Decimal("1250.00")),
        "hansen lager",
        "Lagerveien 2",
        "ColliCare",
        'href="https://www.collicare.no/sporing/?sendingsnummer=CC10001"',
        "Egen transport",
        "EGEN-77",
        world.a.invoice.number,
        "Statushistorikk",
        "Kunden ringte",
        "16.01.2026 00:30",
    ):
        assert text in body, text
    assert "EGEN-77</a>" not in body  # own transport has no tracking link
    listing = text_of(client.get("/orderview/list/"))
    assert "16.01.2026 00:30" in listing and "Nettbutikk" in listing and "Under behandling" in listing
    assert ">processing<" not in listing and ">webshop<" not in listing
    assert ">None<" not in listing


def test_quote_pages(app: Flask, world: World) -> None:
    client = client_as(app, world.user("CustomerUser"))
    listing = text_of(client.get("/quoteview/list/"))
    assert world.a.quote.number in listing and "Sendt" in listing and "Ola Nordmann" in listing
    body = text_of(client.get(f"/quoteview/show/{world.a.quote.id}"))
    for text in (
        "Gyldig til",
        "Sluttkundereferanse",
        "Ola Nordmann",
        "Kontorstol Basic",
        format_nok(Decimal("625.00")),
        "Tilbudslinjer",
    ):
        assert text in body, text
    with db_session(app) as s:
        s.get(Quote, world.a.quote.id).valid_until = dt.date.today() - dt.timedelta(days=1)
        s.commit()
    assert "Utløpt" in text_of(client.get("/quoteview/list/"))


# --- forms: related rows without big selects, company from the user ---------------------------


def test_customer_admin_adds_address_for_own_company_without_company_field(app: Flask, world: World) -> None:
    client = client_as(app, world.user("CustomerAdmin"))
    form = text_of(client.get("/deliveryaddressview/add"))
    assert 'name="company"' not in form and "Varemottaker" in form
    response = client.post(
        "/deliveryaddressview/add",
        data={
            "recipient_name": "Nytt lager",
            "street": "Industrigata 9",
            "postal_code": "2815",
            "city": "Gjøvik",
            "active": "y",
            "company": world.b.company.customer_number,
        },
    )
    assert response.status_code == 302
    with db_session(app) as s:
        row = s.scalars(select(DeliveryAddress).where(DeliveryAddress.recipient_name == "Nytt lager")).one()
        assert row.company_id == world.a.company.id
    bad = client.post(
        "/deliveryaddressview/add", data={"recipient_name": "X", "street": "Y 1", "postal_code": "12", "city": "Oslo"}
    )
    assert bad.status_code == 200 and "Postnummer må være fire sifre" in text_of(bad)


def test_customer_service_names_the_company_by_customer_number(app: Flask, world: World) -> None:
    client = client_as(app, world.user("CustomerService"))
    form = text_of(client.get("/deliveryaddressview/add"))
    assert 'name="company"' in form and "<select" not in form.split('name="company"')[0][-200:]
    unknown = client.post(
        "/deliveryaddressview/add",
        data={"company": "99999", "recipient_name": "Ukjent", "street": "Vei 1", "postal_code": "0150", "city": "Oslo"},
    )
    assert unknown.status_code == 200 and "Fant ingen bedrift med dette kundenummeret." in text_of(unknown)
    ok = client.post(
        "/deliveryaddressview/add",
        data={
            "company": world.b.company.customer_number,
            "recipient_name": "Berg filial",
            "street": "Vei 2",
            "postal_code": "0150",
            "city": "Oslo",
            "active": "y",
        },
    )
    assert ok.status_code == 302
    with db_session(app) as s:
        assert s.scalars(
            select(DeliveryAddress.company_id).where(DeliveryAddress.recipient_name.in_(["Ukjent", "Berg filial"]))
        ).all() == [world.b.company.id]


def test_seller_creates_a_quote_and_its_lines(app: Flask, world: World) -> None:
    client = client_as(app, world.user("Seller"))
    assert client.get("/quoteview/add").status_code in (403, 404)  # new quotes are made at /tilbud/ny
    chooser = text_of(client.get("/tilbud/ny"))
    assert "Kundenummer" in chooser and "hansen lager" not in chooser  # no company chosen yet
    opened_for_a = text_of(client.get("/tilbud/ny?customer_number=10001"))
    assert "hansen lager" in opened_for_a and "berg lager" not in opened_for_a
    valid = (dt.date.today() + dt.timedelta(days=14)).isoformat()
    line = {"lines-0-product_id": str(world.product.id), "lines-0-quantity": "1"}
    past = client.post("/tilbud/ny", data={"customer_number": "10001", "valid_until": "2001-01-01", **line})
    assert "Gyldig til kan ikke være tilbake i tid." in text_of(past)
    response = client.post(
        "/tilbud/ny",
        data={"customer_number": "10001", "valid_until": valid, "end_customer_ref": "Kari Nordmann", **line},
    )
    assert response.status_code == 302
    with db_session(app) as s:
        quote = s.scalars(select(Quote).where(Quote.end_customer_ref == "Kari Nordmann")).one()
        assert (quote.company_id, quote.status, quote.number.startswith("T")) == (world.a.company.id, "draft", True)
        assert quote.created_by_id == world.staff["Seller"].id
    edit = text_of(client.get(f"/quoteview/edit/{quote.id}"))
    assert "hansen lager" in edit and "berg lager" not in edit
    # Lines: the product is typed as its SKU; the configuration rule speaks next to the field.
    missing = client.post(f"/quotelineview/add?_flt_0_quote={quote.id}", data={"product": "SOFA-1", "quantity": "1"})
    assert missing.status_code == 200 and "Bredde må fylles ut for Sofa Modul." in text_of(missing)
    unknown = client.post(f"/quotelineview/add?_flt_0_quote={quote.id}", data={"product": "NOPE", "quantity": "1"})
    assert "Fant ikke noe produkt med dette varenummeret." in text_of(unknown)
    ok = client.post(
        f"/quotelineview/add?_flt_0_quote={quote.id}",
        data={
            "product": "SOFA-1",
            "quantity": "2",
            "width": "120",
            "depth": "80",
            "fabric": "Lin natur",
            "colour": "Svart",
        },
    )
    assert ok.status_code == 302
    with db_session(app) as s:
        line = s.scalars(select(QuoteLine).where(QuoteLine.quote_id == quote.id, QuoteLine.line_no == 2)).one()
        assert (line.unit_price, line.company_id) == (Decimal("12000.00"), world.a.company.id)
    page = text_of(client.get(f"/quoteview/show/{quote.id}"))
    assert "120 × 80 cm, Stoff: Lin natur, Farge: Svart" in page and format_nok(Decimal("24000.00")) in page


def test_customers_cannot_add_quotes_through_the_crud_view(app: Flask, world: World) -> None:
    client = client_as(app, world.user("CustomerUser"))
    assert client.get("/quoteview/add").status_code == 403
    assert (
        client.post(
            f"/quotelineview/add?_flt_0_quote={world.a.quote.id}", data={"product": "STOL-1", "quantity": "1"}
        ).status_code
        == 403
    )


def test_customer_admin_budget_user_choices_are_own_company(app: Flask, world: World) -> None:
    client = client_as(app, world.user("CustomerAdmin"))
    form = text_of(client.get("/budgetview/add"))
    options = re.findall(r"<option[^>]*>([^<]*)</option>", form)
    names = {o.strip() for o in options}
    assert "Hansen Testesen" in names and "Berg Testesen" not in names
    response = client.post(
        "/budgetview/add", data={"user": str(world.a.user.id), "period": "quarter", "amount": "5000", "active": "y"}
    )
    assert response.status_code == 302
    foreign = client.post(
        "/budgetview/add", data={"user": str(world.b.user.id), "period": "month", "amount": "100", "active": "y"}
    )
    assert foreign.status_code == 200  # not a valid choice: shown next to the field
    with db_session(app) as s:
        budgets = s.scalars(select(Budget).where(Budget.company_id == world.a.company.id)).all()
        assert sorted(b.period for b in budgets) == ["month", "quarter"]
        assert s.scalar(select(func.count(Budget.id)).where(Budget.user_id == world.b.user.id)) == 1


def test_customer_admin_deletes_own_budget_by_post_only(app: Flask, world: World) -> None:
    client = client_as(app, world.user("CustomerAdmin"))
    refused = client.get(f"/budgetview/delete/{world.a.budget.id}")  # a GET never deletes (CSRF)
    assert refused.status_code == 302
    with db_session(app) as s:
        assert s.get(Budget, world.a.budget.id) is not None
    assert client.post(f"/budgetview/delete/{world.a.budget.id}").status_code == 302
    with db_session(app) as s:
        assert s.get(Budget, world.a.budget.id) is None


def test_customer_service_edits_companies(app: Flask, world: World) -> None:
    client = client_as(app, world.user("CustomerService"))
    data = {
        "customer_number": "10001",
        "name": "Hansen Interiør AS",
        "org_number": "923609017",
        "kind": "dealer",
        "payment_terms": "invoice",
        "credit_limit": "250000",
        "requires_approval": "y",
        "postal_street": "Storgata 1",
        "postal_code": "0155",
        "postal_city": "Oslo",
        "active": "y",
    }
    bad = client.post(f"/companyview/edit/{world.a.company.id}", data=data)
    assert bad.status_code == 200 and "kontrollsifferet stemmer ikke" in text_of(bad)
    ok = client.post(f"/companyview/edit/{world.a.company.id}", data={**data, "org_number": "923 609 016"})
    assert ok.status_code == 302
    with db_session(app) as s:
        from app.models import Company

        company = s.get(Company, world.a.company.id)
        assert (company.name, company.org_number, company.credit_limit) == (
            "Hansen Interiør AS",
            "923609016",
            Decimal("250000.00"),
        )
    page = text_of(client.get(f"/companyview/show/{world.a.company.id}"))
    assert "Forhandler" in page and format_nok(Decimal("250000")) in page
    assert world.a.order.number in page and world.a.quote.number in page  # related lists on the company


def test_customer_opens_an_inquiry_and_customer_service_closes_it(app: Flask, world: World) -> None:
    from app.models import Inquiry

    customer = client_as(app, world.user("CustomerUser"))
    form = text_of(customer.get("/inquiryview/add"))
    assert 'name="company"' not in form and "Melding" in form
    assert (
        customer.post(
            "/inquiryview/add", data={"subject": "Levering av sofa", "message": "Når kommer sofaen?"}
        ).status_code
        == 302
    )
    with db_session(app) as s:
        inquiry = s.scalars(select(Inquiry).where(Inquiry.subject == "Levering av sofa")).one()
        assert (inquiry.company_id, inquiry.status, inquiry.channel) == (world.a.company.id, "open", "portal")
        assert [m.body for m in inquiry.messages] == ["Når kommer sofaen?"]
    page = text_of(customer.get(f"/inquiryview/show/{inquiry.id}"))
    assert "Når kommer sofaen?" in page and "Åpen" in page
    assert customer.get(f"/inquiryview/edit/{inquiry.id}").status_code == 403
    service = client_as(app, world.user("CustomerService"))
    assert (
        service.post(
            f"/inquiryview/edit/{inquiry.id}",
            data={"subject": "Levering av sofa", "channel": "portal", "status": "closed"},
        ).status_code
        == 302
    )
    assert "Lukket" in text_of(customer.get("/inquiryview/list/"))


def test_customer_service_moves_a_pickup_reservation(app: Flask, world: World) -> None:
    client = client_as(app, world.user("CustomerService"))
    url = f"/pickupreservationview/edit/{world.a.reservation.id}"
    assert client.post(url, data={"status": "ready", "pickup_deadline": "2030-01-02 12:00:00"}).status_code == 302
    page = text_of(client_as(app, world.user("CustomerUser")).get("/pickupreservationview/list/"))
    assert "Klar til henting" in page and "1 × Kontorstol Basic (STOL-1)" in page
    assert client_as(app, world.user("CustomerUser")).get(url).status_code == 403
