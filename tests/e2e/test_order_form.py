"""Ny bestilling with the keyboard alone, in a real browser: the product search takes typing as soon
as it opens and shows each product's unit price; each line shows its total as soon as product and
quantity are set; the order total ex. and incl. VAT and what is left of the budgets follow as the
user types; a width out of range is named next to the field (the server's own message) before
anything is sent; Enter in a field does not send the form; the placed order has the total shown.
The same at phone width (390 px), where the line fields stack.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from app.models import Order, PortalUser
from tests.e2e.conftest import login, open_menu, screenshot
from tests.helpers import db_session

pytestmark = pytest.mark.e2e

BUDGET_MESSAGE = re.compile(r"Igjen av bruksgrensen for")


def amount(text: str) -> Decimal:
    """'-1 234,50 kr' (non-breaking spaces, maybe a minus sign) -> Decimal('-1234.50')."""
    cleaned = re.sub(r"[^\d,−-]", "", text).replace("−", "-").replace(",", ".")
    return Decimal(cleaned)


def row(page: Any, index: int) -> Any:
    return page.locator(f'tr.order-line[data-index="{index}"]')


def search_product_by_keyboard(page: Any, term: str, choice: str, price: str) -> None:
    """The product field has the focus: Enter opens it, the typing goes straight into its search, the
    result shows the unit price, Enter picks it."""
    page.keyboard.press("Enter")
    page.keyboard.type(term, delay=30)  # no click into the search field: it must have the focus
    option = page.locator(".select2-results__option--highlighted", has_text=choice)
    option.wait_for()
    assert price in re.sub(r"\s", " ", option.inner_text()), option.inner_text()
    page.keyboard.press("Enter")


def wait_for_text(page: Any, selector: str, text: str) -> None:
    page.wait_for_function(
        "([sel, text]) => { const el = document.querySelector(sel);"
        " return !!el && el.textContent.replace(/\\s/g, ' ').includes(text); }",
        arg=[selector, text],
    )


def placed_order(app: Flask, username: str) -> Order:
    with db_session(app) as s:
        user_id = s.scalars(select(PortalUser.id).where(PortalUser.username == username)).one()
        order = s.scalars(select(Order).where(Order.created_by_id == user_id).order_by(Order.id.desc())).first()
        assert order is not None
        s.expunge(order)
        return order


def test_customer_fills_the_order_with_the_keyboard_and_sees_prices_checks_and_budget(
    app: Flask, page: Any, js_errors: list[str]
) -> None:
    login(page, "hansen.bruker")
    open_menu(page, "Ordre", "Ny bestilling")
    body = page.text_content("body") or ""
    assert "Prisene regnes ut av oss" not in body
    budgets_before = [amount(t) for t in page.locator(".budget-left .budget-left-amount").all_inner_texts()]
    assert len(budgets_before) == 2  # hansen.bruker's own budget and the company's

    # Delivery address and reference by keyboard; Enter in the reference field sends nothing.
    page.focus("#delivery_address_id")
    page.keyboard.press("ArrowDown")
    assert page.eval_on_selector("#delivery_address_id", "el => el.value") != ""
    page.keyboard.press("Tab")
    page.keyboard.type("Kontor 3. etg")
    url = page.url
    page.keyboard.press("Enter")
    page.wait_for_timeout(300)
    assert page.url == url and page.locator("h1", has_text="Ny bestilling").is_visible()

    # Line 1: Enter moved on to the product field, as Tab would; search, pick; the quantity has the
    # focus then.
    assert page.evaluate("document.activeElement.classList.contains('select2-selection')"), page.evaluate(
        "document.activeElement.outerHTML.slice(0, 300)"
    )
    search_product_by_keyboard(page, "Kontorstol B", "Kontorstol Basic", "1 490,00 kr")
    page.wait_for_function("document.activeElement && document.activeElement.name === 'lines-0-quantity'")
    page.keyboard.type("3")  # replaces the 1 filled in
    wait_for_text(page, 'tr.order-line[data-index="0"] .line-total-amount', "4 470,00 kr")
    assert "1 490,00 kr" in re.sub(r"\s", " ", row(page, 0).locator(".line-unit-price").inner_text())
    wait_for_text(page, "#total-ex-vat", "4 470,00 kr")
    wait_for_text(page, "#total-inc-vat", "5 587,50 kr")
    wait_for_text(page, "#total-vat", "1 117,50 kr")
    left = [amount(t) for t in page.locator(".budget-left .budget-left-amount").all_inner_texts()]
    assert left == [b - Decimal("4470.00") for b in budgets_before], (left, budgets_before)

    # Line 2: a desk made to measure. Tab from the quantity goes past line 1's closed fields.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.closest('tr').dataset.index") == "1"
    search_product_by_keyboard(page, "Hev/senk", "Hev/senk-skrivebord Flex", "6 490,00 kr")
    page.wait_for_function("document.activeElement && document.activeElement.name === 'lines-1-quantity'")
    page.keyboard.press("Tab")
    page.keyboard.type("250")  # out of range: the server's message, next to the width field
    width_cell = row(page, 1).locator("td[data-field=width]")
    width_cell.locator(".field-error", has_text="Bredde må være mellom 120 og 200 cm").wait_for()
    assert "has-error" in (width_cell.get_attribute("class") or "")
    wait_for_text(page, 'tr.order-line[data-index="1"] .line-total-amount', "6 490,00 kr")
    screenshot(page, "order_form_width_message")
    page.keyboard.press("Control+A")
    page.keyboard.type("160")
    width_cell.locator(".field-error").wait_for(state="detached")
    page.keyboard.press("Tab")
    page.keyboard.type("80")
    page.keyboard.press("Tab")  # the colour (the desk has no fabric: that field stays closed)
    assert page.evaluate("document.activeElement.name") == "lines-1-colour"
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    assert page.eval_on_selector('select[name="lines-1-colour"]', "el => el.value") == "Eik"
    wait_for_text(page, "#total-ex-vat", "10 960,00 kr")  # 3 × 1 490 + 6 490
    wait_for_text(page, "#total-inc-vat", "13 700,00 kr")
    page.wait_for_timeout(400)  # the last answer is in
    assert page.locator(".field-error").count() == 0
    shown_total = amount(page.inner_text("#total-inc-vat"))
    left = [amount(t) for t in page.locator(".budget-left .budget-left-amount").all_inner_texts()]
    assert left == [b - Decimal("10960.00") for b in budgets_before]
    screenshot(page, "order_form_prices")

    # "Legg til linje" is reached with the keyboard too, and opens the new line's search.
    page.focus("#add-line")
    page.keyboard.press("Enter")
    page.locator(".select2-container--open .select2-search__field").wait_for()
    assert page.evaluate("document.activeElement.classList.contains('select2-search__field')")
    page.keyboard.press("Escape")

    # Send: the submit button, by keyboard.
    page.focus("form.order-form button[type=submit]")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert re.search(r"/orderview/show/\d+", page.url), page.url
    order = placed_order(app, "hansen.bruker")
    assert order.total_inc_vat == shown_total
    assert order.total_ex_vat == Decimal("10960.00")
    totals = re.sub(r"\s", " ", page.inner_text(".order-totals"))
    assert "13 700,00 kr" in totals
    assert js_errors == []


def test_the_order_form_at_phone_width_stacks_the_line_fields(page: Any, js_errors: list[str]) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    login(page, "hansen.bruker")
    page.goto("/bestill/")
    line = row(page, 0)
    line.locator(".select2-selection").focus()
    search_product_by_keyboard(page, "Hev/senk", "Hev/senk-skrivebord Flex", "6 490,00 kr")
    page.wait_for_function("document.activeElement && document.activeElement.name === 'lines-0-quantity'")
    page.keyboard.type("2")
    page.keyboard.press("Tab")
    page.keyboard.type("90")
    line.locator("td[data-field=width] .field-error", has_text="Bredde må være mellom 120 og 200 cm").wait_for()
    wait_for_text(page, "#total-inc-vat", "16 225,00 kr")  # 2 × 6 490 × 1,25
    # Stacked: each field under the one before it, as wide as the line.
    boxes = [line.locator(f"td[data-field={f}]").bounding_box() for f in ("product_id", "quantity", "width")]
    assert boxes[0]["y"] < boxes[1]["y"] < boxes[2]["y"], boxes
    assert all(b["width"] > 300 for b in boxes), boxes
    assert int(page.evaluate("document.documentElement.scrollWidth")) <= 390
    screenshot(page, "order_form_prices_phone")
    assert js_errors == []


def test_quote_and_standing_order_forms_show_the_servers_prices(page: Any, js_errors: list[str]) -> None:
    # A seller's quote: the special price typed on the line is the one the totals use.
    login(page, "selger")
    page.goto("/tilbud/ny?customer_number=10001")
    row(page, 0).locator(".select2-selection").focus()
    search_product_by_keyboard(page, "Kontorstol B", "Kontorstol Basic", "1 490,00 kr")
    page.wait_for_function("document.activeElement && document.activeElement.name === 'lines-0-quantity'")
    page.keyboard.type("2")
    wait_for_text(page, "#total-ex-vat", "2 980,00 kr")
    row(page, 0).locator(".line-unit_price").fill("1000,00")
    wait_for_text(page, 'tr.order-line[data-index="0"] .line-total-amount', "2 000,00 kr")
    wait_for_text(page, "#total-inc-vat", "2 500,00 kr")
    assert page.locator(".budget-left").count() == 0  # a quote uses no budget
    screenshot(page, "order_form_prices_quote")
    page.context.clear_cookies()

    # The customer admin's standing order: list prices, totals per delivery.
    login(page, "hansen.admin")
    page.goto("/faste-ordre/ny")
    row(page, 0).locator(".select2-selection").focus()
    search_product_by_keyboard(page, "Hev/senk", "Hev/senk-skrivebord Flex", "6 490,00 kr")
    page.wait_for_function("document.activeElement && document.activeElement.name === 'lines-0-quantity'")
    page.keyboard.press("Tab")
    page.keyboard.type("201")
    row(page, 0).locator("td[data-field=width] .field-error", has_text="Bredde må være mellom 120 og 200 cm").wait_for()
    wait_for_text(page, "#total-ex-vat", "6 490,00 kr")
    screenshot(page, "order_form_prices_standing")
    assert js_errors == []
