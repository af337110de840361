"""Each order rule exists once and both faces (pages and REST API) use it: tracking links, the
invoice copy, the VAT breakdown, payment terms, Oslo days, the approval routes, the product search,
one error path, and the order mails rendered from templates."""

from __future__ import annotations

import datetime as dt
import inspect
import io
import re
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_babel import force_locale
from pypdf import PdfReader
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.domain import approvals, catalogue, orders, pricing
from app.domain.actors import Actor
from app.domain.errors import NotFound
from app.domain.links import portal_link
from app.domain.orders import fulfilment, invoice_pdf
from app.extensions import db
from app.models import Company, Invoice, MailOutbox, Order, OrderLine, Product, Shipment
from tests.factories import World, billing_for
from tests.helpers import Caller, login
from tests.test_api import API

As = Callable[[str], Caller]
ROOT = Path(__file__).resolve().parents[1]
HOSTILE_WAYBILL = "AB 12/3&x=1?#"
HOSTILE_INVOICE = 'F"1;\r\n/../<b>&'  # 15 characters: the column holds 20


@pytest.fixture()
def session(app: Flask, world: World) -> Iterator[Session]:
    """A session outside any request (no tenant scope), like the factories use."""
    with app.app_context(), Session(db.engine, expire_on_commit=False) as s:
        yield s


@pytest.fixture()
def as_user(app: Flask, world: World) -> As:
    """An API caller (JWT) for a user of the world."""
    client = app.test_client()
    return lambda username: Caller(client, username)


def _client(app: Flask, username: str) -> FlaskClient:
    client = app.test_client()
    login(client, username)
    return client


def _actor(user: Any, *roles: str) -> Actor:
    return Actor(id=user.id, name=user.username, company_id=user.company_id, roles=frozenset(roles), email=user.email)


def _pdf_text(pdf: bytes) -> str:
    """The PDF's text with every run of white space (table cells, lines, no-break spaces) as one space."""
    return " ".join("\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages).split())


# --- tracking links -------------------------------------------------------------------------


def test_tracking_url_quotes_the_whole_waybill(app: Flask) -> None:
    urls = {"bring": "https://sporing.bring.no/sporing/{waybill}", "own": None}
    assert fulfilment.tracking_url("bring", HOSTILE_WAYBILL, urls) == (
        "https://sporing.bring.no/sporing/AB%2012%2F3%26x%3D1%3F%23"
    )
    assert fulfilment.tracking_url("own", "EGEN-1", urls) is None
    assert fulfilment.tracking_url("bring", None, urls) is None and fulfilment.tracking_url("bring", "", urls) is None
    assert fulfilment.tracking_url("ukjent", "X1", urls) is None and fulfilment.tracking_url(None, "X1", urls) is None
    with app.app_context():  # default: config CARRIER_TRACKING_URLS
        assert orders.tracking_url("postnord", "P 1") == "https://www.postnord.no/sporing?shipmentId=P%201"


def test_page_and_api_link_the_same_quoted_tracking_url(
    app: Flask, world: World, session: Session, as_user: As
) -> None:
    shipment = session.get(Shipment, world.a.shipment.id)
    shipment.carrier, shipment.waybill_number = "bring", HOSTILE_WAYBILL
    session.commit()
    expected = "https://sporing.bring.no/sporing/" + quote(HOSTILE_WAYBILL, safe="")

    page = _client(app, "hansen.bruker").get(f"/orderview/show/{world.a.order.id}")
    assert page.status_code == 200
    assert f'href="{expected}"' in page.get_data(as_text=True)

    response = as_user("hansen.bruker").get(f"{API}/order/{world.a.order.id}")
    assert response.status_code == 200
    assert [s["tracking_url"] for s in response.json["result"]["shipments"]] == [expected]


# --- the invoice copy -----------------------------------------------------------------------


def _hostile_invoice(session: Session, world: World) -> Invoice:
    invoice = session.get(Invoice, world.a.invoice.id)
    invoice.number = HOSTILE_INVOICE
    session.commit()
    return invoice


def test_invoice_copy_names_a_hostile_number_safely_on_both_faces(
    app: Flask, world: World, session: Session, as_user: As
) -> None:
    invoice = _hostile_invoice(session, world)
    header = 'attachment; filename="fakturakopi-F_1_.._b_.pdf"'
    page = _client(app, "hansen.bruker").get(f"/ordre/faktura/{invoice.id}/fakturakopi.pdf")
    api = as_user("hansen.bruker").get(f"{API}/order/{world.a.order.id}/invoice/{invoice.id}/pdf")
    for response in (page, api):
        assert response.status_code == 200 and response.mimetype == "application/pdf"
        assert response.headers["Content-Disposition"] == header
        # The number is text in the PDF, not markup: "<b>" and "&" are printed as they are.
        assert 'Fakturakopi F"1; /../<b>&' in _pdf_text(response.data)
    with app.app_context():
        filename, pdf = orders.invoice_copy(session, invoice.id, app.config)
    assert filename == "fakturakopi-F_1_.._b_.pdf" and pdf.startswith(b"%PDF")


def test_invoice_copy_of_another_company_or_order_is_not_found(
    app: Flask, world: World, session: Session, as_user: As
) -> None:
    foreign = world.b.invoice.id
    assert _client(app, "hansen.bruker").get(f"/ordre/faktura/{foreign}/fakturakopi.pdf").status_code == 404
    assert as_user("hansen.bruker").get(f"{API}/order/{world.b.order.id}/invoice/{foreign}/pdf").status_code == 404
    # A's invoice under B's order (for someone who sees both): still not found.
    assert as_user("leder").get(f"{API}/order/{world.b.order.id}/invoice/{world.a.invoice.id}/pdf").status_code == 404
    with app.app_context():
        with pytest.raises(NotFound):
            orders.invoice_copy(session, world.a.invoice.id, app.config, order_id=world.b.order.id)
        with pytest.raises(NotFound):
            orders.invoice_copy(session, 999999, app.config)


# --- VAT --------------------------------------------------------------------------------------


def _two_rate_order(app: Flask, world: World, session: Session) -> Order:
    books = Product(sku="BOK-1", name="Katalog", unit_price=Decimal("99.90"), vat_rate=Decimal("15.00"))
    session.add(books)
    session.commit()
    with app.app_context():
        order = orders.place_order(
            session,
            actor=_actor(world.b.user, "CustomerUser"),
            company_id=world.b.company.id,
            delivery_address_id=world.b.address.id,
            lines=[
                orders.LineInput(product_id=world.product.id, quantity=3),
                orders.LineInput(product_id=books.id, quantity=7),
            ],
        )
        session.commit()
    return order


def test_vat_breakdown_per_rate_gives_the_order_totals(app: Flask, world: World, session: Session) -> None:
    order = _two_rate_order(app, world, session)
    breakdown = pricing.vat_breakdown(order.lines)
    assert breakdown == [
        pricing.VatAmount(Decimal("15.00"), Decimal("699.30"), Decimal("104.90")),
        pricing.VatAmount(Decimal("25.00"), Decimal("1500.00"), Decimal("375.00")),
    ]
    assert (
        (order.total_ex_vat, order.total_vat) == pricing.totals_of(breakdown) == (Decimal("2199.30"), Decimal("479.90"))
    )
    # Dicts without a rate count at the standard rate.
    assert pricing.vat_breakdown([{"quantity": 1, "unit_price": "10.00"}]) == [
        pricing.VatAmount(Decimal("25.00"), Decimal("10.00"), Decimal("2.50"))
    ]


def test_invoice_pdf_shows_the_vat_breakdown_of_pricing(
    app: Flask, world: World, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    order = _two_rate_order(app, world, session)
    invoice = Invoice(
        company_id=order.company_id,
        order_id=order.id,
        number="F-MVA-1",
        invoice_date=dt.date.today(),
        due_date=dt.date.today(),
        amount=order.total_inc_vat,
        **billing_for(session, order.company_id),
    )
    session.add(invoice)
    session.commit()
    with app.test_request_context():
        text = _pdf_text(invoice_pdf.render_invoice_pdf(invoice, invoice_pdf.supplier_from_config(app.config)))
        assert "Mva 15 % av 699,30 kr 104,90 kr" in text and "Mva 25 % av 1 500,00 kr 375,00 kr" in text
        assert "Sum eks. mva 2 199,30 kr" in text and "Sum inkl. mva 2 679,20 kr" in text
        assert "Fakturert beløp" not in text  # the invoice bills exactly the order

        # The PDF has no VAT rule of its own: whatever pricing says is what it prints.
        monkeypatch.setattr(
            invoice_pdf,
            "vat_breakdown",
            lambda lines: [pricing.VatAmount(Decimal("12.00"), Decimal("100.00"), Decimal("12.00"))],
        )
        text = _pdf_text(invoice_pdf.render_invoice_pdf(invoice, invoice_pdf.supplier_from_config(app.config)))
        assert "Mva 12 % av 100,00 kr 12,00 kr" in text and "Sum inkl. mva 112,00 kr" in text
        assert "Fakturert beløp 2 679,20 kr" in text


def test_invoice_pdf_in_english(app: Flask, world: World, session: Session) -> None:
    invoice = session.get(Invoice, world.a.invoice.id)
    with app.test_request_context(), force_locale("en"):
        text = _pdf_text(invoice_pdf.render_invoice_pdf(invoice, invoice_pdf.supplier_from_config(app.config)))
    assert "NOK 1,250.00" in text and "25 %" in text


# --- payment terms ----------------------------------------------------------------------------


def test_is_invoice_customer(world: World, session: Session) -> None:
    assert pricing.is_invoice_customer(session.get(Company, world.a.company.id))  # dealer: invoice
    assert not pricing.is_invoice_customer(session.get(Company, world.b.company.id))  # webshop: card
    assert not pricing.is_invoice_customer(None)


# --- Oslo days in the order list ------------------------------------------------------------


def test_order_list_day_filter_uses_the_one_oslo_midnight(
    app: Flask, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.domain.formatting import oslo_midnight_utc
    from app.views.orders import overview

    days: list[dt.date] = []

    def spy(day: dt.date) -> dt.datetime:
        days.append(day)
        return oslo_midnight_utc(day)

    monkeypatch.setattr(overview, "oslo_midnight_utc", spy)
    client = _client(app, "leder")
    response = client.get("/orderview/list/?_flt_0_created_at=2026-03-29&_flt_1_created_at=2026-03-29")
    assert response.status_code == 200
    assert days and set(days) == {dt.date(2026, 3, 29), dt.date(2026, 3, 30)}  # from, and the day after to
    assert not hasattr(overview, "_oslo_midnight")


# --- approval routes --------------------------------------------------------------------------


def test_approve_and_reject_routes_live_in_the_approvals_module(app: Flask, world: World, as_user: As) -> None:
    from app.api import approvals as approval_api
    from app.api.orders import OrderApi

    assert issubclass(OrderApi, approval_api.OrderApprovalRoutes)
    assert OrderApi.approve is approval_api.OrderApprovalRoutes.approve
    assert OrderApi.reject is approval_api.OrderApprovalRoutes.reject
    assert "app.api.orders" not in Path(inspect.getfile(approval_api)).read_text()
    assert "/<int:pk>/approve" in [url for url, _methods in OrderApi.approve._urls]

    seller = as_user("selger")
    pending = world.a.order.id
    with app.app_context(), Session(db.engine) as s:
        s.get(Order, pending).status = "pending_approval"
        s.commit()
    response = seller.post(f"{API}/order/{pending}/reject", {})
    assert response.status_code == 400 and "reason" in response.json["message"]
    response = seller.post(f"{API}/order/{pending}/approve", {})
    assert response.status_code == 200 and response.json["result"]["status"] == "processing"
    response = seller.post(f"{API}/order/{pending}/reject", {"reason": "For sent"})
    assert response.status_code == 409 and "allerede behandlet" in response.json["message"]


# --- product search ---------------------------------------------------------------------------


def test_product_search_matches_literally_and_the_page_shows_the_domain_answer(
    app: Flask, world: World, session: Session
) -> None:
    session.add_all(
        [
            Product(sku="RAB_50", name="Rabatt 50% sofa", unit_price=Decimal("1.00")),
            Product(sku="RABX50", name="Rabatt 50 stol", unit_price=Decimal("1.00")),
            Product(sku="RAB-OLD", name="Rabatt utgått", unit_price=Decimal("1.00"), active=False),
        ]
    )
    session.commit()
    with app.app_context():
        assert [p.sku for p in catalogue.search_products(session, "50%")] == ["RAB_50"]
        assert [p.sku for p in catalogue.search_products(session, "rab_")] == ["RAB_50"]
        assert {p.sku for p in catalogue.search_products(session, "rab")} == {"RAB_50", "RABX50"}
        assert len(catalogue.search_products(session, "", limit=2)) == 2
        expected = [p.id for p in catalogue.search_products(session, "Rabatt")]
    response = _client(app, "hansen.bruker").get("/produktsok/?q=Rabatt")
    assert response.status_code == 200
    assert [r["id"] for r in response.json["results"]] == expected
    assert response.json["results"][0]["text"] == "RABX50 – Rabatt 50 stol"


# --- one error path -----------------------------------------------------------------------------

VIEW_AND_API_FILES = [
    "app/views/orders/actions.py",
    "app/views/orders/overview.py",
    "app/views/orders/placing.py",
    "app/views/approvals.py",
    "app/views/catalogue.py",
    "app/api/orders.py",
    "app/api/approvals.py",
    "app/api/catalogue.py",
]


@pytest.mark.parametrize("path", VIEW_AND_API_FILES)
def test_pages_and_api_use_the_one_error_path(path: str) -> None:
    source = (ROOT / path).read_text()
    for old in (
        "fail(",
        "db.session.commit()",
        "is not None:\n            return error",
        "error or self.response",
        "run_domain",
        "_json_body",
        "optional_json_body",
        "load_new_body",
        "except DomainError",
        "from flask_appbuilder.api import expose, safe",
    ):
        assert old not in source, (path, old)
    # Every exposed API route answers its refusals through app.api.base.safe.
    for route in re.findall(r"@expose\([^)]*\)\n((?:\s+@.*\n)+)", source):
        if "@protect" in route:
            assert "@safe" in route, (path, route)


def test_shipment_refusals_page_next_to_the_field_api_per_field_nothing_written(
    app: Flask, world: World, as_user: As
) -> None:
    order, line = world.b.order.id, world.b.order.lines[0].id  # 2 ordered, none delivered
    with app.app_context(), Session(db.engine) as s:
        shipments = s.scalar(select(func.count()).select_from(Shipment))
    client = _client(app, "kundeservice")
    page = client.post(
        f"/ordre/{order}/levering", data={"carrier": "bring", "waybill_number": "B1", f"qty-{line}": "5"}
    )
    assert page.status_code == 200 and "Kan levere høyst 2 på linje 1." in page.get_data(as_text=True)
    response = as_user("kundeservice").post(
        f"{API}/order/{order}/shipment",
        {"carrier": "bring", "waybill_number": "B1", "lines": [{"order_line_id": line, "quantity": 5}]},
    )
    assert response.status_code == 400 and response.json["message"] == {"lines[0]": ["Kan levere høyst 2 på linje 1."]}
    response = as_user("kundeservice").post(f"{API}/order/{world.a.order.id}/shipment", "ikke et objekt")
    assert response.status_code == 400
    with app.app_context(), Session(db.engine) as s:
        assert s.scalar(select(func.count()).select_from(Shipment)) == shipments
        assert s.get(OrderLine, line).delivered_quantity == 0


# --- order mails from templates -----------------------------------------------------------------


def _last_mail(session: Session, kind: str) -> MailOutbox:
    session.expire_all()
    return session.scalars(select(MailOutbox).where(MailOutbox.kind == kind).order_by(MailOutbox.id.desc())).first()


def test_order_mails_keep_their_subjects_and_texts(app: Flask, world: World, session: Session) -> None:
    with app.app_context():
        order = orders.place_order(
            session,
            actor=_actor(world.a.user, "CustomerUser"),
            company_id=world.a.company.id,
            delivery_address_id=world.a.address.id,
            lines=[orders.LineInput(product_id=world.product.id, quantity=3)],
        )
        session.commit()
        link = portal_link(f"/orderview/show/{order.id}")
        mail = _last_mail(session, "order_confirmation")
        assert mail.to_address == "hansen.bruker@example.no"
        assert mail.subject == f"Ordrebekreftelse {order.number}"
        assert mail.body_text == (
            f"Takk for bestillingen!\n\nOrdrenummer: {order.number}\n"
            "Sum eks. mva: 1\u00a0500,00\u00a0kr\nSum inkl. mva: 1\u00a0875,00\u00a0kr\n\n"
            "Ordren har status «Til godkjenning» og er ikke akseptert før en selger hos oss har godkjent den."
            "\n\nKontroller at ordrebekreftelsen stemmer med ønsket oppsett (antall, mål og varianter)."
            f"\n\n{link}"
        )

        seller = _actor(world.staff["Seller"], "Seller")
        approvals.approve_order(session, order.id, seller)
        session.commit()
        mail = _last_mail(session, "order_approved")
        assert mail.subject == f"Ordre {order.number} er godkjent"
        assert mail.body_text == (f"Ordre {order.number} er godkjent og har nå status «Under behandling».\n\n{link}")

        second = orders.place_order(
            session,
            actor=_actor(world.a.user, "CustomerUser"),
            company_id=world.a.company.id,
            delivery_address_id=world.a.address.id,
            lines=[orders.LineInput(product_id=world.product.id, quantity=1)],
        )
        session.commit()
        approvals.reject_order(session, second.id, seller, "Feil mål & farge <her>")
        session.commit()
        mail = _last_mail(session, "order_rejected")
        assert mail.subject == f"Ordre {second.number} er avvist"
        assert mail.body_text == (
            f"Ordre {second.number} er avvist.\n\nBegrunnelse: Feil mål & farge <her>\n\n"
            f"Kontakt selgeren din ved spørsmål.\n\n{portal_link(f'/orderview/show/{second.id}')}"
        )

        webshop = orders.place_order(
            session,
            actor=_actor(world.b.user, "CustomerUser"),
            company_id=world.b.company.id,
            delivery_address_id=world.b.address.id,
            lines=[orders.LineInput(product_id=world.product.id, quantity=1)],
        )
        session.commit()
        assert "\n\nOrdren er under behandling.\n\n" in _last_mail(session, "order_confirmation").body_text
        assert webshop.status == "processing"
