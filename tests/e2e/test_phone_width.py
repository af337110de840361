"""Phone size (390 × 844): the customer's start page and the Min side pages have no sideways scroll,
for a customer user and a customer admin. Each page is loaded at that viewport and must be no
wider than it (document.documentElement.scrollWidth <= 390); a screenshot of each is kept."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.e2e.conftest import login, screenshot

pytestmark = pytest.mark.e2e

WIDTH, HEIGHT = 390, 844

# (name, path) of the pages both customer roles open (Min side as a customer user sees it).
USER_PAGES = [
    ("start", "/"),
    ("profile", "/min-profil/"),
    ("delivery-addresses", "/deliveryaddressview/list/"),
    ("inquiries", "/inquiryview/list/"),
    ("pickup", "/pickupreservationview/list/"),
    ("standing-orders", "/standingorderview/list/"),
]
# The rest of the customer admin's menu.
ADMIN_PAGES = [
    *USER_PAGES,
    ("my-company", "/mycompanyview/mine/"),
    ("users", "/companyusers/list/"),
    ("budgets", "/budgetview/list/"),
    ("budget-dashboard", "/bruksgrense/oversikt/"),
]


@pytest.fixture()
def phone(page: Any) -> Any:
    page.set_viewport_size({"width": WIDTH, "height": HEIGHT})
    return page


def _page_width(page: Any) -> int:
    return int(page.evaluate("document.documentElement.scrollWidth"))


def _wide_elements(page: Any) -> list[str]:
    """What sticks out on the right (for the failure message)."""
    return page.evaluate(
        """(width) => Array.from(document.querySelectorAll('body *'))
            .filter(el => el.getBoundingClientRect().right > width + 1 && el.offsetParent !== null)
            .slice(0, 8).map(el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
                + (el.className && typeof el.className === 'string' ? '.' + el.className.split(' ').join('.') : ''))""",
        WIDTH,
    )


def _check(page: Any, path: str, name: str) -> None:
    response = page.goto(path)
    assert response is not None and response.status < 400, (path, response and response.status)
    page.wait_for_load_state("networkidle")
    screenshot(page, f"phone-{name}")
    width = _page_width(page)
    assert width <= WIDTH, f"{path}: {width} px wide; {_wide_elements(page)}"


@pytest.mark.parametrize(("name", "path"), USER_PAGES, ids=[n for n, _p in USER_PAGES])
def test_customer_user_pages_fit_a_phone(phone: Any, name: str, path: str) -> None:
    login(phone, "hansen.bruker")
    _check(phone, path, f"bruker-{name}")


@pytest.mark.parametrize(("name", "path"), ADMIN_PAGES, ids=[n for n, _p in ADMIN_PAGES])
def test_customer_admin_pages_fit_a_phone(phone: Any, name: str, path: str) -> None:
    login(phone, "hansen.admin")
    _check(phone, path, f"admin-{name}")


def test_the_menu_collapses_and_opens_on_a_phone(phone: Any) -> None:
    login(phone, "hansen.admin")
    toggle = phone.locator(".navbar-toggle")
    assert toggle.is_visible()
    assert not phone.locator(".navbar-collapse").is_visible()
    toggle.click()
    phone.wait_for_selector(".navbar-collapse.in")
    assert phone.locator(".navbar-collapse", has_text="Min side").is_visible()
    assert _page_width(phone) <= WIDTH


@pytest.mark.parametrize("who", ["hansen.bruker", "hansen.admin"])
def test_order_list_fits_a_phone(phone: Any, who: str) -> None:
    login(phone, who)
    _check(phone, "/orderview/list/", f"{who}-order-list")


@pytest.mark.parametrize("who", ["hansen.bruker", "hansen.admin"])
def test_order_page_fits_a_phone(phone: Any, who: str) -> None:
    login(phone, who)
    phone.goto("/orderview/list/")
    link = phone.locator("a[href*='/orderview/show/']").first
    href = link.get_attribute("href")
    assert href and re.search(r"/orderview/show/\d+", href)
    _check(phone, href, f"{who}-order")


@pytest.mark.parametrize("who", ["hansen.bruker", "hansen.admin"])
def test_order_form_fits_a_phone(phone: Any, who: str) -> None:
    login(phone, who)
    _check(phone, "/bestill/", f"{who}-order-form")
