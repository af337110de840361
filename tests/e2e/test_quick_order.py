"""Hurtigbestilling in a real browser: hansen.bruker pastes three lines, one of them wrong, sees the
error next to that row, sends the two good ones into Ny bestilling and places the order; then an
XLSX file is uploaded and its rows are handed to Nytt tilbud.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from tests.e2e.conftest import login, open_menu, screenshot

pytestmark = pytest.mark.e2e


def test_customer_pastes_three_lines_one_bad_and_orders_the_good_ones(page: Any, js_errors: list[str]) -> None:
    login(page, "hansen.bruker")
    open_menu(page, "Ordre", "Hurtigbestilling")
    assert page.locator("h1", has_text="Hurtigbestilling").is_visible()
    page.fill("#quick-text", "STOL-BASIC;2\nFINNES-IKKE;1\nSOFA-OSLO;1;200;90,0;Lin natur;Eik")
    with page.expect_navigation():
        page.click("#quick-check")
    bad = page.locator("#quick-row-2")
    assert "danger" in (bad.get_attribute("class") or "")
    assert "FINNES-IKKE;1" in bad.inner_text()
    assert "Finner ikke varenummer «FINNES-IKKE» i katalogen." in bad.locator(".quick-errors").inner_text()
    for good in ("#quick-row-1", "#quick-row-3"):
        assert "success" in (page.locator(good).get_attribute("class") or ""), good
    assert "200 × 90 cm, Lin natur, Eik" in page.locator("#quick-row-3").inner_text()
    assert "2 av 3 linjer kan bestilles." in page.locator("#quick-summary").inner_text()
    screenshot(page, "quick_order")

    with page.expect_navigation():
        page.click("#quick-to-order")
    assert page.locator("h1", has_text="Ny bestilling").is_visible()
    assert page.locator("tr.order-line .select2-selection__rendered", has_text="Kontorstol Basic").count() == 1
    assert page.locator("tr.order-line .select2-selection__rendered", has_text="Modulsofa Oslo").count() == 1
    assert page.locator(".has-error").count() == 0  # the lines arrive checked, and they are good
    address = page.locator("#delivery_address_id option", has_text="Hunnsvegen 62").get_attribute("value")
    page.select_option("#delivery_address_id", address)
    with page.expect_navigation():
        page.click("button[type=submit]:has-text('Send bestilling')")
    assert re.search(r"/orderview/show/\d+", page.url), page.url
    assert re.search(r"Ordre \d+ er registrert", page.text_content("body") or "")
    assert page.locator(".order-lines tbody tr").count() == 2
    assert "200 × 90 cm, Stoff: Lin natur, Farge: Eik" in (page.text_content(".order-lines") or "")
    assert not js_errors, js_errors


def test_customer_uploads_an_xlsx_file_and_makes_a_quote(page: Any, js_errors: list[str], tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    for row in (["Varenummer", "Antall"], ["LAMPE-LED", 5], ["SKAP-ARKIV", 1], ["REOL-MODUL", 2, 500, 35]):
        sheet.append(row)
    path = tmp_path / "bestilling.xlsx"
    book.save(path)

    login(page, "hansen.admin")
    page.goto("/hurtigbestilling/")
    page.set_input_files("#quick-file", str(path))
    with page.expect_navigation():
        page.click("#quick-check")
    assert "2 av 3 linjer kan bestilles." in page.locator("#quick-summary").inner_text()
    assert "Bredde må være mellom 60 og 120 cm" in page.locator("#quick-row-4").inner_text()
    screenshot(page, "quick_order-xlsx")
    with page.expect_navigation():
        page.click("#quick-to-quote")
    assert page.locator("h1", has_text="Nytt tilbud").is_visible()
    rendered = page.locator("tr.order-line .select2-selection__rendered")
    assert rendered.filter(has_text="Skrivebordslampe LED").count() == 1
    assert rendered.filter(has_text="Arkivskap med lås").count() == 1
    assert not js_errors, js_errors
