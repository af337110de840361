"""Kontoutskrift in a real browser (demo data, production config):

`hansen.admin` sees "Forfalt" on the start page (the demo's EDI invoice is long past due), follows it
to Kontoutskrift, where that invoice stands out (marked, in red) and the exposure chart is drawn by
plotly.js, and downloads the statement as a PDF. Customer service registers a payment on another
company's statement with the button; the invoice leaves the open ones.
"""

from __future__ import annotations

import io
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from app.models import Company, Invoice
from tests.e2e.conftest import login, open_menu, screenshot
from tests.helpers import db_session

pytestmark = pytest.mark.e2e


def test_customer_admin_follows_forfalt_to_the_statement_and_downloads_the_pdf(page: Any, js_errors: list[str]) -> None:
    login(page, "hansen.admin")
    notice = page.locator("#overdue-notice")
    assert notice.is_visible()
    assert "Forfalt" in (notice.text_content() or "") and "kr" in (notice.text_content() or "")
    with page.expect_navigation():
        notice.locator("a").click()
    assert page.url.rstrip("/").endswith("/kontoutskrift")

    # The overdue invoice stands out: its row is marked and red, with the days overdue.
    overdue = page.locator("#open-invoices tr.overdue").first
    assert overdue.is_visible()
    assert "Forfalt" in (overdue.locator(".label-danger").text_content() or "")
    assert int((overdue.locator("td").nth(4).text_content() or "0").strip()) > 0
    colour = overdue.locator("td").first.evaluate("el => getComputedStyle(el).color")
    assert colour == "rgb(169, 68, 66)", colour
    assert "Ledig kreditt" in (page.text_content("#credit-summary") or "")

    # The chart: bars of exposure per month and the limit line, drawn by plotly.js.
    page.wait_for_selector("#exposure-chart .main-svg")
    assert page.locator("#exposure-chart g.trace.bars").count() == 1
    assert "Kredittgrense" in (page.text_content("#exposure-chart") or "")
    screenshot(page, "statement")

    with page.expect_download() as download:
        page.click("#download-pdf")
    assert download.value.suggested_filename.startswith("kontoutskrift-10001_")
    from pypdf import PdfReader

    with open(download.value.path(), "rb") as handle:
        text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(handle.read())).pages)
    assert "Kontoutskrift" in text and "Hansen" in text and "Ledig kreditt" in text
    assert not js_errors, js_errors

    # The menu has it under "Min side" too.
    open_menu(page, "Min side", "Kontoutskrift")
    assert page.url.rstrip("/").endswith("/kontoutskrift")


def test_customer_service_registers_a_payment(page: Any, app: Flask, js_errors: list[str]) -> None:
    # Another company than the named ones (their invoices are what the other browser tests read).
    with db_session(app) as s:
        number, invoice = s.execute(
            select(Company.customer_number, Invoice.number)
            .join(Invoice, Invoice.company_id == Company.id)
            .where(Invoice.paid.is_(False), Company.customer_number.not_in(("10001", "10002")))
            .order_by(Invoice.id)
            .limit(1)
        ).one()
    login(page, "kundeservice")
    open_menu(page, "Kunder", "Kontoutskrift")
    page.fill("#kunde", number)
    with page.expect_navigation():
        page.click("#company-picker button[type=submit]")
    row = page.locator(f'#open-invoices tr[data-invoice="{invoice}"]')
    assert row.is_visible()
    with page.expect_navigation():
        row.locator("button", has_text="Registrer innbetaling").click()
    assert "er registrert" in (page.text_content(".alert-success") or "")
    assert page.locator(f'#open-invoices tr[data-invoice="{invoice}"]').count() == 0
    assert page.locator(f'#paid-invoices tr[data-invoice="{invoice}"]').count() == 1
    assert not js_errors, js_errors
