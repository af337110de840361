"""The Content-Security-Policy in a real Chromium: every demo login opens the pages of its menu
(lists, show pages, forms, the charts) and the ones behind them, and the browser reports no
violation of the policy: no console message about the Content Security Policy and no
`securitypolicyviolation` event.

The order form is used like a person does (select2's search-as-you-type product field, the line
editor), the budget dashboard and the reports draw their Plotly charts, and FAB's list search
(its filter widget's inline script) is opened.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import pytest

from app.demo import DEMO_USERS
from tests.e2e.conftest import login, screenshot

pytestmark = pytest.mark.e2e

# Reported by the page itself, with the directive and what was blocked (the console message
# does not always name the source line).
VIOLATION_LISTENER = """
document.addEventListener('securitypolicyviolation', (e) => {
  console.error('CSP violation: ' + e.violatedDirective + ' blocked ' + (e.blockedURI || 'inline')
    + ' at ' + e.sourceFile + ':' + e.lineNumber + ' sample ' + JSON.stringify(e.sample));
});
"""
MAX_MENU_PAGES = 14  # per login: the menu's pages, then the first show page of each list
SKIP = re.compile(r"/(logout|lang)/|/swagger|/_openapi|\.pdf$|/export|\.csv")


class Console:
    """Console messages of one browser page: the CSP ones, and page errors."""

    def __init__(self, page: Any) -> None:
        self.csp: list[str] = []
        self.errors: list[str] = []
        self.url = ""
        page.on("console", self._message)
        page.on("pageerror", lambda exc: self.errors.append(f"{self.url}: {exc}"))
        page.add_init_script(VIOLATION_LISTENER)

    def _message(self, message: Any) -> None:
        text = message.text
        if "Content Security Policy" in text or "CSP violation" in text:
            self.csp.append(f"{self.url}: {text}")


def visit(page: Any, console: Console, url: str) -> None:
    console.url = url
    response = page.goto(url)
    assert response is not None and response.status < 400, (url, response and response.status)
    page.wait_for_load_state("load")


def menu_links(page: Any, base: str) -> list[str]:
    hrefs = page.eval_on_selector_all(
        ".navbar-collapse > ul.nav.navbar-nav:not(.navbar-right) a[href]", "els => els.map(e => e.href)"
    )
    links: list[str] = []
    for href in hrefs:
        parts = urlsplit(href)
        if parts.netloc != urlsplit(base).netloc or SKIP.search(parts.path) or href.endswith("#"):
            continue
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        if path not in links:
            links.append(path)
    return links


def first_show_link(page: Any) -> str | None:
    link = page.locator("a[href*='/show/']").first
    return link.get_attribute("href") if link.count() else None


def open_everything(page: Any, console: Console, base: str, filters_used: list[str]) -> list[str]:
    visit(page, console, "/")
    opened = ["/"]
    for path in menu_links(page, base)[:MAX_MENU_PAGES]:
        visit(page, console, path)
        opened.append(path)
        show = first_show_link(page)
        # FAB's list search (its filter widget's inline script and ab_filters.js): add a filter row.
        add_filter = page.locator("#filter_form button.dropdown-toggle")
        if add_filter.count():
            page.locator("a.accordion-toggle[href='#accordion1_href']").first.click()  # "Søk"
            add_filter.first.wait_for()
            add_filter.first.click()
            page.locator("#filter_form ul.dropdown-menu a.filter").first.click()
            page.locator("#filter_form table.filters tr").first.wait_for()
            filters_used.append(path)
        if show and not SKIP.search(show):
            visit(page, console, show)
            opened.append(show)
    return opened


def use_the_order_form(page: Any, console: Console) -> None:
    """select2 AJAX product search and the line editor, as in tests/e2e/test_order_flow.py."""
    visit(page, console, "/bestill/")
    row = page.locator('tr.order-line[data-index="0"]')
    row.locator(".select2-selection").click()
    page.locator(".select2-container--open .select2-search__field").type("Kontor", delay=30)
    option = page.locator(".select2-results__option", has_text="Kontorstol Basic")
    option.first.wait_for()
    option.first.click()
    page.fill('input[name="lines-0-quantity"]', "1")
    page.locator("#add-line, button:has-text('Legg til linje')").first.click()


CHARTS = {
    "CustomerAdmin": ["/bruksgrense/oversikt/"],
    "Manager": ["/bruksgrense/oversikt/?kunde=10001", "/rapporter/salg/", "/rapporter/bruksgrenser/"],
    "Admin": ["/bruksgrense/oversikt/?kunde=10001", "/rapporter/ordrestatus/"],
}


def draw_the_charts(page: Any, console: Console, role: str) -> None:
    for path in CHARTS.get(role, []):
        visit(page, console, path)
        page.locator(".js-plotly-plot .main-svg").first.wait_for(timeout=20_000)


@pytest.mark.parametrize("username", [username for username, *_ in DEMO_USERS])
def test_no_csp_violation_on_the_main_pages(page: Any, live_server: str, username: str) -> None:
    console = Console(page)
    login(page, username)
    filters_used: list[str] = []
    opened = open_everything(page, console, live_server, filters_used)
    role = next(role for name, role, *_ in DEMO_USERS if name == username)
    if role in ("CustomerUser", "CustomerAdmin"):
        use_the_order_form(page, console)
    draw_the_charts(page, console, role)
    screenshot(page, f"csp-{username}")
    assert len(opened) >= 4, opened
    assert filters_used, "no list with FAB's search filter was opened"
    assert console.csp == [], "\n".join(console.csp)
    assert console.errors == [], "\n".join(console.errors)


def test_the_login_page_has_no_csp_violation(page: Any, live_server: str) -> None:
    console = Console(page)
    visit(page, console, "/login/")
    header = page.request.get(f"{live_server}/login/").headers["content-security-policy"]
    assert "frame-ancestors 'none'" in header and "'nonce-" in header
    assert console.csp == [], "\n".join(console.csp)
