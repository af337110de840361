"""Bestill igjen and Handlelister in a real browser: berg.bruker orders two products, opens the order,
clicks "Bestill igjen", sees the lines in the order form and places it; then makes a Handleliste
from the order ("Legg i handleliste"), opens it, picks two lines and "Legg i bestilling" opens the
order form with just those.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.e2e.conftest import login, open_menu, screenshot
from tests.e2e.test_order_flow import pick_product

pytestmark = pytest.mark.e2e


def _selected_products(page: Any) -> list[str]:
    texts = page.locator("#order-lines .select2-selection__rendered").all_inner_texts()
    return [t.strip() for t in texts if " – " in t]  # a chosen product; empty rows show the placeholder


def _place(page: Any) -> str:
    """Choose the first delivery address, send the order form; the new order's page URL."""
    page.select_option("#delivery_address_id", index=1)
    with page.expect_navigation():
        page.click("button[type=submit]:has-text('Send bestilling')")
    assert re.search(r"/orderview/show/\d+", page.url), page.url
    return page.url


def test_bestill_igjen_and_a_shopping_list_from_an_order(page: Any, js_errors: list[str]) -> None:
    login(page, "berg.bruker")
    # An order of three products to start from.
    open_menu(page, "Ordre", "Ny bestilling")
    pick_product(page, 0, "Kontor", "Kontorstol Basic")
    page.fill('input[name="lines-0-quantity"]', "2")
    pick_product(page, 1, "Arkiv", "Arkivskap med lås")
    page.fill('input[name="lines-1-quantity"]', "1")
    pick_product(page, 2, "STOL", "Kontorstol Basic")
    page.fill('input[name="lines-2-quantity"]', "5")
    first_order = _place(page)

    # Bestill igjen: the order form with the order's lines, nothing ordered yet.
    with page.expect_navigation():
        page.click("#reorder")
    assert page.url.endswith("/bestill/")
    assert page.locator("h1", has_text="Ny bestilling").is_visible()
    products = _selected_products(page)
    assert len(products) == 3 and any("Arkivskap med lås" in p for p in products)
    assert page.input_value('input[name="lines-0-quantity"]') == "2"
    screenshot(page, "reorder")
    second_order = _place(page)
    assert second_order != first_order
    assert page.locator(".order-lines tbody tr").count() == 3

    # Legg i handleliste: all the order's lines onto a new list.
    with page.expect_navigation():
        page.click("#to-shopping-list")
    page.fill("#name", "Kontoret hver måned")
    with page.expect_navigation():
        page.click("button:has-text('Legg i handlelisten')")
    assert "/shoppinglistview/show/" in page.url
    assert "Kontoret hver måned" in (page.text_content("body") or "")
    assert page.locator("tr.shopping-list-line").count() == 3

    # Open it from the menu, pick two lines, Legg i bestilling.
    open_menu(page, "Ordre", "Handlelister")
    row = page.locator("tr", has_text="Kontoret hver måned")
    with page.expect_navigation():
        row.locator("a[href*='/shoppinglistview/show/']").first.click()
    assert "/shoppinglistview/show/" in page.url
    page.locator("tr.shopping-list-line").nth(2).locator("input.pick-line").uncheck()
    screenshot(page, "shopping_list")
    with page.expect_navigation():
        page.click("#order-chosen")
    assert page.url.endswith("/bestill/")
    products = _selected_products(page)
    assert len(products) == 2 and any("Arkivskap med lås" in p for p in products)
    assert page.input_value('input[name="lines-1-quantity"]') == "1"
    _place(page)
    assert page.locator(".order-lines tbody tr").count() == 2
    assert not js_errors, js_errors
