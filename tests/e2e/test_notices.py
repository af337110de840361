"""Varsler in a real browser: hansen.bruker's dealer order is approved by selger (who sees it under
the bell first); hansen.bruker then sees the bell's count 1, opens it, clicks the notice, lands on the
order, and the count is gone; then turns off the mail "Ordre sendt" in Min profil.
Screenshot: test-artifacts/screenshots/notices.png (the open bell)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from app.demo import DEMO_PASSWORD
from tests.e2e.conftest import login, screenshot

pytestmark = pytest.mark.e2e


def _logout(page: Any) -> None:
    right = page.locator(".navbar-collapse > ul.nav.navbar-right")
    right.locator("a.dropdown-toggle", has_text=re.compile(r"\S")).last.click()
    with page.expect_navigation():
        right.locator("button", has_text="Logg ut").click()


def _api(page: Any, username: str) -> dict[str, str]:
    login_answer = page.request.post(
        "/api/v1/security/login", data={"username": username, "password": DEMO_PASSWORD, "provider": "db"}
    )
    assert login_answer.ok, login_answer.text()
    return {"Authorization": f"Bearer {login_answer.json()['access_token']}"}


def _place_order(page: Any, headers: dict[str, str]) -> tuple[int, str]:
    """hansen.bruker orders one office chair through the API (the order page is e2e-tested elsewhere)."""
    products = page.request.get("/api/v1/product/?q=(page_size:100)", headers=headers).json()["result"]
    chair = next(p for p in products if p["name"] == "Kontorstol Basic")
    address = page.request.get("/api/v1/delivery_address/", headers=headers).json()["result"][0]
    answer = page.request.post(
        "/api/v1/order/",
        headers=headers,
        data={"delivery_address_id": address["id"], "lines": [{"product_id": chair["id"], "quantity": 1}]},
    )
    assert answer.status == 201, answer.text()
    body = answer.json()
    return body["id"], body["result"]["number"]


def _bell(page: Any) -> Any:
    return page.locator("li.notice-bell")


def test_approval_notice_in_the_bell_and_mail_choice_in_min_profil(page: Any, js_errors: list[str]) -> None:
    customer = _api(page, "hansen.bruker")
    assert page.request.post("/api/v1/notice/read_all", headers=customer).ok  # the demo's history, if any
    order_id, number = _place_order(page, customer)

    # selger: the order is under the bell, and is approved in the queue (with a reason when a check fails).
    login(page, "selger")
    _bell(page).locator("a.notice-bell-toggle").click()
    assert _bell(page).locator("a.notice-link", has_text=f"Ordre {number} venter på godkjenning").is_visible()
    page.goto("/godkjenning/")
    row = page.locator(f'tr[data-order="{number}"]')
    assert row.is_visible()
    reason = row.locator("textarea[name=override_reason]")
    if reason.count():
        reason.fill("Kunden har betalt de forfalte fakturaene i dag.")
        with page.expect_navigation():
            row.locator("button", has_text="Godkjenn likevel").click()
    else:
        row.locator('input[name="order_id"]').check()
        with page.expect_navigation():
            page.click("#approve-selected")
    assert number in (page.text_content(".alert-success") or "")  # "Godkjent: <n>" or "Ordre <n> er godkjent."
    _logout(page)

    # hansen.bruker: count 1, open the bell, click the notice, land on the order, count gone.
    login(page, "hansen.bruker")
    count = _bell(page).locator(".notice-count")
    assert count.inner_text().strip() == "1"
    # On a phone the menu is folded: its toggle carries the count.
    size = page.viewport_size
    page.set_viewport_size({"width": 390, "height": 844})
    on_toggle = page.locator(".navbar-toggle .notice-count-toggle")
    assert on_toggle.is_visible() and on_toggle.inner_text().strip() == "1"
    screenshot(page, "notices-phone")
    page.set_viewport_size(size)
    _bell(page).locator("a.notice-bell-toggle").click()
    notice = _bell(page).locator("a.notice-link", has_text=f"Ordre {number} er godkjent")
    assert notice.is_visible()
    screenshot(page, "notices")
    with page.expect_navigation():
        notice.click()
    assert page.url.endswith(f"/orderview/show/{order_id}"), page.url
    assert "Under behandling" in (page.text_content("body") or "")
    assert _bell(page).locator(".notice-count").count() == 0
    # The list shows it read.
    page.goto("/varsler/")
    first = page.locator("table.notices-table tbody tr").first
    assert f"Ordre {number} er godkjent" in first.inner_text() and "Lest" in first.inner_text()

    # Min profil: "Ordre sendt" off; the password link is fixed.
    page.goto("/min-profil/")
    shipped = page.locator("input.mail-choice-order_shipped")
    assert shipped.is_checked()
    assert page.locator("input.mail-choice-password_link").is_disabled()
    shipped.uncheck()
    with page.expect_navigation():
        page.locator("form.profile-mail-form button[type=submit]").click()
    assert "Valgene for e-post er lagret." in (page.text_content(".alert-success") or "")
    assert not page.locator("input.mail-choice-order_shipped").is_checked()
    assert page.locator("input.mail-choice-order_approved").is_checked()
    choices = page.request.get("/api/v1/notice/mail_choices", headers=customer).json()["result"]
    assert {c["kind"]: c["enabled"] for c in choices}["order_shipped"] is False
    assert not js_errors, js_errors
