"""Faste ordre in a real browser (demo data): the customer admin sees the guide "Slik lager du en
fast ordre" on the list and the form; a plan whose delivery falls on a public holiday (Monday
17 May 2027, Grunnlovsdag) shows it flagged, moved to the next working day; unticking the move keeps
it on the holiday, and the page then offers the move again."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import login, screenshot

pytestmark = pytest.mark.e2e


def _save_plan(page: Any, move: bool) -> None:
    page.check("input[name=frequency][value=weekly]")
    page.select_option("#weekday", "0")
    page.fill("#start_date", "2027-05-10")
    if move:
        page.check("input[name=holiday_shift]")
    else:
        page.uncheck("input[name=holiday_shift]")
    with page.expect_navigation():
        page.click("button:has-text('Lagre fast ordre')")


def test_guide_holiday_flag_and_the_move(page: Any, js_errors: list[str]) -> None:
    login(page, "hansen.admin")
    page.goto("/standingorderview/list/")
    guide = page.locator("#standing-order-guide")
    assert guide.is_visible() and "Slik lager du en fast ordre" in (guide.text_content() or "")
    assert guide.locator("li").count() >= 3
    screenshot(page, "standing-orders-guide")

    with page.expect_navigation():
        page.locator("a[href*='/standingorderview/show/']").first.click()
    with page.expect_navigation():
        page.click("#edit-standing-order")
    assert page.locator("#standing-order-guide").is_visible()
    assert page.locator("input[name=holiday_shift]").is_checked()  # moving is the default
    _save_plan(page, move=True)

    flagged = page.locator("#next-deliveries .holiday-delivery")
    assert flagged.count() == 1
    text = flagged.text_content() or ""
    assert "18.05.2027" in text and "17.05.2027" in text and "Grunnlovsdag" in text and "Flyttet" in text
    screenshot(page, "standing-order-holiday-moved")

    # Keep the delivery on the holiday: the page flags it and offers the move.
    with page.expect_navigation():
        page.click("#edit-standing-order")
    _save_plan(page, move=False)
    flagged = page.locator("#next-deliveries .holiday-delivery")
    text = flagged.text_content() or ""
    assert "Helligdag:" in text and "Neste virkedag er 18.05.2027" in text
    screenshot(page, "standing-order-holiday-flagged")
    with page.expect_navigation():
        flagged.locator("a", has_text="Flytt leveranser på helligdager til neste virkedag").click()
    assert not page.locator("input[name=holiday_shift]").is_checked()
    _save_plan(page, move=True)
    assert "Flyttet" in (page.locator("#next-deliveries .holiday-delivery").text_content() or "")
    assert not js_errors, js_errors
