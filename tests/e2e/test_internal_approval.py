"""Godkjenning hos dere in a real browser (demo data): berg.admin sets the rule "orders above
5 000 kr" on Min side; berg.bruker places a bigger order and sees "Venter på godkjenning hos dere"
on the order; berg.admin approves it in the queue and the order moves on (Berg is a webshop
customer: to "Under behandling"), with both steps in the timeline. The rule is removed again
afterwards, so the other browser tests order as without rules.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.e2e.conftest import login, open_menu, screenshot
from tests.e2e.test_order_flow import logout, order_timeline, pick_product

pytestmark = pytest.mark.e2e


def _remove_rules(page: Any) -> None:
    page.goto("/godkjenning-hos-dere/regler/")
    while page.locator("#approval-rules button", has_text="Slett").count():
        with page.expect_navigation():
            page.locator("#approval-rules button", has_text="Slett").first.click()


def test_admin_rule_holds_a_big_order_until_the_admin_approves(page: Any, js_errors: list[str]) -> None:
    # 1. The customer admin sets the rule on Min side → Godkjenning hos dere → Regler.
    login(page, "berg.admin")
    open_menu(page, "Min side", "Godkjenning hos dere")
    try:
        with page.expect_navigation():
            page.click("#rules-tab")
        page.check("#kind-amount")
        page.fill("#amount", "5 000")
        with page.expect_navigation():
            page.click("#add-rule")
        assert "Ordrer over 5\u00a0000,00\u00a0kr" in (page.text_content("#approval-rules") or "")
        logout(page)

        # 2. A customer user places an order of 4 × 1 490 kr = 5 960 kr.
        login(page, "berg.bruker")
        open_menu(page, "Ordre", "Ny bestilling")
        options = page.locator("#delivery_address_id option[value]:not([value=''])")
        page.select_option("#delivery_address_id", options.first.get_attribute("value"))
        pick_product(page, 0, "Kontor", "Kontorstol Basic")
        page.fill('input[name="lines-0-quantity"]', "4")
        with page.expect_navigation():
            page.click("button[type=submit]:has-text('Send bestilling')")
        assert re.search(r"/orderview/show/\d+", page.url), page.url
        order_url = page.url
        number = re.search(r"Ordre (\d+) er registrert", page.text_content("body") or "").group(1)
        panel = page.locator("#internal-approval-panel")
        assert "Venter på godkjenning hos dere" in (panel.text_content() or "")
        assert page.locator("#internal-approve").count() == 0  # the orderer cannot approve it
        assert "Venter på godkjenning hos dere" in order_timeline(page)[-1]
        logout(page)

        # 3. The admin approves it in the queue.
        login(page, "berg.admin")
        open_menu(page, "Min side", "Godkjenning hos dere")
        row = page.locator(f'#internal-queue tr[data-order="{number}"]')
        assert "Sondre Moe" in row.inner_text() and "5\u00a0960,00\u00a0kr" in row.inner_text()
        screenshot(page, "internal_approval")
        with page.expect_navigation():
            row.locator("button.internal-approve").click()
        assert f"Ordre {number} er godkjent" in (page.text_content(".alert-success") or "")
        assert page.locator(f'#internal-queue tr[data-order="{number}"]').count() == 0
        logout(page)

        # 4. The orderer sees it moved on, both steps in the timeline.
        login(page, "berg.bruker")
        page.goto(order_url)
        assert page.locator("#internal-approval-panel").count() == 0
        steps = order_timeline(page)
        assert any("Venter på godkjenning hos dere → Under behandling" in s for s in steps), steps
        assert "Under behandling" in (page.text_content("body") or "")
        screenshot(page, "internal_approval-order-moved-on")
        logout(page)
        assert not js_errors, js_errors
    finally:
        login(page, "berg.admin")
        _remove_rules(page)
