"""Each demo login reaches its start page and sees the menu of its role, and nothing more;
a customer cannot open a supplier page. Expectations come from app/roles.py (the contract)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask, g, url_for
from sqlalchemy import select

from app.demo import DEMO_USERS
from app.extensions import db
from app.models import PortalUser
from app.roles import ROLE_PERMISSIONS
from app.tenancy import set_request_tenant
from tests.e2e.conftest import login, screenshot

pytestmark = pytest.mark.e2e

ROLE_OF = {username: role for username, role, *_ in DEMO_USERS}
FULL_NAME = {username: f"{first} {last}" for username, _role, first, last, _n in DEMO_USERS}

# Spot checks straight from roles.py: (a view whose menu item the role must see, one it must not see).
SPOT_CHECKS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "Admin": (("CompanyView", "PortalUserDBModelView", "OrderView"), ()),
    "Seller": (("CompanyView", "QuoteView", "OrderView"), ("PortalUserDBModelView",)),
    "CustomerService": (("CompanyView", "PortalUserDBModelView", "InquiryView"), ("MyCompanyView", "CompanyUserView")),
    "Manager": (("CompanyView", "OrderView", "BudgetView"), ("PortalUserDBModelView", "MyCompanyView")),
    "CustomerAdmin": (
        ("OrderView", "CompanyUserView", "BudgetView", "MyCompanyView"),
        ("CompanyView", "PortalUserDBModelView"),
    ),
    "CustomerUser": (
        ("OrderView", "QuoteView", "InquiryView"),
        ("CompanyView", "PortalUserDBModelView", "CompanyUserView", "BudgetView"),
    ),
}
SUPPLIER_PAGES = ("CompanyView", "PortalUserDBModelView")


@dataclass(frozen=True)
class MenuEntry:
    view: str  # view class (permission) name, as in roles.py
    name: str  # menu item name
    label: str  # Norwegian label shown in the menu
    href: str
    permission: str  # the permission that opens the page the entry links to
    conds: tuple[Callable[[], bool], ...]  # the item's and its category's menu conditions


def menu_entries(app: Flask) -> list[MenuEntry]:
    """Menu items that open a registered view, read from the very app the server runs."""
    entries: list[MenuEntry] = []
    adapter = app.url_map.bind("localhost")
    with app.test_request_context("/"):
        for item in app.appbuilder.menu.get_list():
            for child in item.childs or [item]:
                view = getattr(child, "baseview", None)
                if view is None:
                    continue
                href = child.get_url()
                # The permission is the one of the method the link opens (FAB's @has_access reads it so).
                endpoint, _args = adapter.match(href.split("?")[0])
                method = endpoint.rsplit(".", 1)[-1]
                permission = getattr(getattr(view, method, None), "_permission_name", method)
                conds = tuple(c for c in {item.cond, child.cond} if c is not None)
                entries.append(
                    MenuEntry(
                        view.class_permission_name,
                        child.name,
                        str(child.label).strip(),
                        href,
                        f"can_{permission}",
                        conds,
                    )
                )
    return entries


def visible_entries(app: Flask, username: str, entries: list[MenuEntry]) -> list[MenuEntry]:
    """Entries roles.py gives this user's role, whose menu conditions hold for this user."""
    role = ROLE_OF[username]
    allowed = [e for e in entries if role == "Admin" or e.permission in ROLE_PERMISSIONS[role].get(e.view, ())]
    with app.app_context():
        user = db.session.scalars(select(PortalUser).where(PortalUser.username == username)).one()
        with app.test_request_context("/"):
            g._login_user = user  # what flask_login's current_user returns
            set_request_tenant(user.company_id)
            visible = [e for e in allowed if all(cond() for cond in e.conds)]
        db.session.remove()
    return visible


def page_url(app: Flask, view_name: str) -> str:
    with app.test_request_context("/"):
        for view in app.appbuilder.baseviews:
            if view.class_permission_name == view_name:
                return url_for(f"{view.endpoint}.{view.default_view}")
    pytest.fail(f"{view_name} er ikke registrert (app/views/__init__.py)")


def navbar_links(page: Any) -> set[str]:
    """Paths of the left-hand navbar links (all of them, also those inside closed dropdowns)."""
    hrefs = page.eval_on_selector_all(
        ".navbar-collapse > ul.nav.navbar-nav:not(.navbar-right) a[href]",
        "els => els.map(e => e.getAttribute('href'))",
    )
    return {h for h in hrefs if h and h != "#"}


@pytest.mark.parametrize("username", list(ROLE_OF))
def test_login_start_page_and_menu(app: Flask, page: Any, username: str) -> None:
    role = ROLE_OF[username]
    login(page, username)
    screenshot(page, f"{username}-start")
    body = page.text_content("body") or ""
    assert FULL_NAME[username] in body, "the start page shows who is logged in"
    assert "Noe gikk galt" not in body and "Ingen tilgang" not in body

    entries = menu_entries(app)
    links = navbar_links(page)
    labels = {
        t.strip()
        for t in page.eval_on_selector_all(
            ".navbar-collapse > ul.nav.navbar-nav:not(.navbar-right) a[href]", "els => els.map(e => e.textContent)"
        )
    }
    must, must_not = SPOT_CHECKS[role]
    for view in must:
        mine = [e for e in entries if e.view == view]
        assert mine, f"{view} har ikke noe menypunkt"
        assert any(e.href in links and e.label in labels for e in mine), (
            f"{username} ({role}) skal se menypunktet «{mine[0].label}»"
        )
    for view in must_not:
        for entry in (e for e in entries if e.view == view):
            assert entry.href not in links, f"{username} ({role}) skal ikke se «{entry.label}»"
    # And the whole menu agrees with roles.py: every entry the user may open, and no other.
    expected = {e.href for e in visible_entries(app, username, entries)}
    forbidden = {e.href for e in entries} - expected
    assert expected <= links, f"mangler i menyen for {role}: {sorted(expected - links)}"
    assert not (forbidden & links), f"{role} ser menypunkter uten tilgang: {sorted(forbidden & links)}"


@pytest.mark.parametrize("username", ["hansen.bruker", "hansen.admin", "berg.bruker"])
@pytest.mark.parametrize("view_name", SUPPLIER_PAGES)
def test_customer_cannot_open_supplier_pages(app: Flask, page: Any, username: str, view_name: str) -> None:
    url = page_url(app, view_name)
    login(page, username)
    own_menu = navbar_links(page)
    response = page.goto(url)
    screenshot(page, f"{username}-refused-{view_name}")
    assert response is not None and response.status in (403, 404), f"{url} ga {response and response.status}"
    body = page.text_content("body") or ""
    assert "Ingen tilgang" in body or "Fant ikke siden" in body
    assert navbar_links(page) == own_menu, "the refusal page shows the user's own menu, no supplier items"
    other = "Hansen Interiør AS" if username.startswith("berg") else "Berg Kontorservice AS"
    for secret in (other, "hansen.admin" if username.startswith("berg") else "berg.admin", "Per Selvik"):
        assert secret not in body, f"{url} viste «{secret}» til {username}"
