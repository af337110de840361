"""An invoice keeps whom it was issued to: the copy prints the name, numbers and postal address of
the day it was made, not the company as it is changed later; invoices from before that column
existed are filled from their company by migration 0010."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from pathlib import Path

from flask import Flask
from pypdf import PdfReader
from sqlalchemy import create_engine, insert, select

from app.domain.actors import Actor
from app.domain.orders import fulfilment
from app.models import Company, Invoice, Order
from tests.factories import World
from tests.helpers import client_as, db_session
from tests.test_migrations import _migration_app


def _pdf_text(pdf: bytes) -> str:
    return " ".join("\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages).split())


def test_the_copy_shows_the_company_as_it_was_when_invoiced(app: Flask, world: World) -> None:
    with app.app_context(), db_session(app) as s:
        staff = Actor(id=world.user("CustomerService").id, name="Kari Service", roles=frozenset({"CustomerService"}))
        invoice = fulfilment.register_invoice(
            s,
            world.a.order.id,
            staff,
            number="F-SNAP-1",
            invoice_date=dt.date(2026, 10, 5),
            due_date=dt.date(2026, 11, 4),
            amount=Decimal("100.00"),
        )
        s.commit()
        company = s.get(Company, world.a.company.id)
        assert company is not None
        before = (company.name, company.customer_number, company.org_number, company.postal_street)
        assert (invoice.billing_name, invoice.billing_customer_number, invoice.billing_org_number) == before[:3]
        assert invoice.billing_street == before[3]
        company.name, company.postal_street, company.postal_city = "Hansen Nytt Navn AS", "Nyveien 99", "Hamar"
        s.commit()
        invoice_id = invoice.id
    pdf = client_as(app, world.user("CustomerUser")).get(f"/ordre/faktura/{invoice_id}/fakturakopi.pdf")
    assert pdf.status_code == 200
    text = _pdf_text(pdf.data)
    assert before[0] in text and (before[3] or "") in text
    assert "Hansen Nytt Navn AS" not in text and "Nyveien 99" not in text


def test_migration_0010_fills_earlier_invoices_from_their_company(tmp_path: Path) -> None:
    from flask_migrate import upgrade

    url = f"sqlite:///{tmp_path / 'snapshot.db'}"
    minimal = _migration_app(url)
    engine = create_engine(url)
    try:
        with minimal.app_context():
            upgrade(revision="0009")
            with engine.begin() as conn:
                company_id = conn.execute(
                    insert(Company.__table__).values(
                        customer_number="20001",
                        name="Gamle Hansen AS",
                        org_number="914378125",
                        postal_street="Postboks 7",
                        postal_code="2815",
                        postal_city="Gjøvik",
                    )
                ).inserted_primary_key[0]
                order_id = conn.execute(
                    insert(Order.__table__).values(number="100001", company_id=company_id)
                ).inserted_primary_key[0]
                conn.execute(
                    insert(Invoice.__table__).values(
                        number="F100001",
                        company_id=company_id,
                        order_id=order_id,
                        invoice_date=dt.date(2026, 9, 1),
                        due_date=dt.date(2026, 10, 1),
                        amount=Decimal("10.00"),
                    )
                )
            upgrade()
            with engine.connect() as conn:
                row = conn.execute(
                    select(
                        Invoice.billing_name,
                        Invoice.billing_customer_number,
                        Invoice.billing_org_number,
                        Invoice.billing_street,
                        Invoice.billing_postal_code,
                        Invoice.billing_city,
                    )
                ).one()
            assert tuple(row) == ("Gamle Hansen AS", "20001", "914378125", "Postboks 7", "2815", "Gjøvik")
    finally:
        engine.dispose()
