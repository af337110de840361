"""User text in the invoice copy (app/domain/orders/invoice_pdf.py) is text, not markup.

reportlab's Paragraph reads its text as markup: an unescaped `<b>` without its end tag is a 500,
and `<a href=...>` a link in the invoice. Every field that reaches the PDF gets `<`, `&`, `>` and
markup (balanced, unbalanced, links, fonts); the copy downloads from the page and from the API
with 200, is a PDF, prints every value literally, and has no link annotation.

Runs on SQLite and, with TEST_DATABASE_URL, on PostgreSQL (values fit the columns' lengths).
"""

from __future__ import annotations

import io

from flask import Flask
from pypdf import PdfReader

from app.domain.orders.fulfilment import billing_of
from app.models import Company, Invoice, Order
from tests.factories import World
from tests.helpers import Caller, db_session, login
from tests.test_api import API

LINK = '<a href="http://evil">x</a>'
# field -> what a user typed there (each within its column's length).
HOSTILE = {
    "company.name": f"Hansen <b>Interiør & {LINK}",
    "company.customer_number": "<i>10&1>",
    "company.org_number": "<b>&9>",
    "company.postal_street": '<font color="red">Gata</font> 1 & 2',
    "company.postal_code": "<b>",
    "company.postal_city": "Oslo </para><br/> &amp; <u",
    "order.number": "O<b>&1>",
    "order.customer_reference": f"Ref {LINK} & <font size=40>",
    "invoice.number": "F(1)\\<b>&",
    "product.sku": "SKU<b>&<",
    "product.name": f"Sofa {LINK} & </b>",
    "line.fabric": "<b>Ull & lin",
    "line.colour": "</font>Grå >",
}


def _pdf_text(pdf: bytes) -> str:
    """The PDF's text, every run of white space (cells, wrapped lines) as one space."""
    return " ".join("\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages).split())


def _has_link(pdf: bytes) -> bool:
    reader = PdfReader(io.BytesIO(pdf))
    annotations = [a.get_object() for page in reader.pages for a in (page.get("/Annots") or [])]
    return b"/Link" in pdf or b"/URI" in pdf or any(a.get("/Subtype") == "/Link" for a in annotations)


def _make_hostile(app: Flask, world: World) -> Invoice:
    """Every field of company A's invoice, its order, first line and product as in HOSTILE."""
    with db_session(app) as session:
        invoice = session.get(Invoice, world.a.invoice.id)
        order = session.get(Order, world.a.order.id)
        assert invoice is not None and order is not None and invoice.order_id == order.id
        line = order.lines[0]
        rows = {"company": order.company, "order": order, "invoice": invoice, "product": line.product, "line": line}
        for key, value in HOSTILE.items():
            row, column = key.split(".")
            setattr(rows[row], column, value)
        _issue_to(invoice, order.company)
        session.commit()
        return invoice


def _issue_to(invoice: Invoice, company: Company) -> None:
    """The invoice as if issued to the company as it now stands (the copy prints what it was issued to)."""
    for column, value in billing_of(company).items():
        setattr(invoice, column, value)


def _set_company(app: Flask, world: World, **values: str) -> None:
    with db_session(app) as session:
        company = session.get(Company, world.a.company.id)
        assert company is not None
        for column, value in values.items():
            setattr(company, column, value)
        invoice = session.get(Invoice, world.a.invoice.id)
        assert invoice is not None
        _issue_to(invoice, company)
        session.commit()


def _downloads(app: Flask, invoice: Invoice) -> dict[str, bytes]:
    page = app.test_client()
    login(page, "hansen.bruker")
    api = Caller(app, "kundeservice")
    answers = {
        "page (customer)": page.get(f"/ordre/faktura/{invoice.id}/fakturakopi.pdf"),
        "API (customer service)": api.get(f"{API}/order/{invoice.order_id}/invoice/{invoice.id}/pdf"),
        "API (customer)": Caller(app, "hansen.bruker").get(f"{API}/order/{invoice.order_id}/invoice/{invoice.id}/pdf"),
    }
    for face, response in answers.items():
        assert response.status_code == 200, (face, response.get_data(as_text=True)[:500])
        assert response.mimetype == "application/pdf" and response.data.startswith(b"%PDF"), face
    return {face: response.data for face, response in answers.items()}


def test_every_user_value_is_printed_literally_on_both_faces(app: Flask, world: World) -> None:
    invoice = _make_hostile(app, world)
    for face, pdf in _downloads(app, invoice).items():
        text = _pdf_text(pdf)
        for field, value in HOSTILE.items():
            assert " ".join(value.split()) in text, (face, field, value, text)
        assert not _has_link(pdf), face


def test_markup_in_the_postal_address_alone_does_not_break_the_copy(app: Flask, world: World) -> None:
    """The case that answered 500: an unbalanced tag in the postal address of the company."""
    _set_company(app, world, postal_street="Storgata <b>1")
    for face, pdf in _downloads(app, world.a.invoice).items():
        text = _pdf_text(pdf)
        assert "Storgata <b>1" in text and "Fakturakopi" in text, face


def test_control_characters_in_user_text_are_left_out(app: Flask, world: World) -> None:
    """A tab, a bell or a line break typed into a name is a space in the copy, not a box."""
    _set_company(app, world, name="Hansen\tInteriør\x07 AS\r\nAvd. <b>")
    for face, pdf in _downloads(app, world.a.invoice).items():
        text = _pdf_text(pdf)
        assert "Hansen Interiør AS Avd. <b>" in text and "\u25a0" not in text, (face, text)
