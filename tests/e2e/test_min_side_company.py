"""Min side in a real browser (demo data, production config with CSRF):

* `berg.bruker` opens a new inquiry ("Ny henvendelse"), `kundeservice` finds it in the queue and
  answers it in the thread, and `berg.bruker` sees the answer (status Besvart).
* `hansen.admin` changes the company's postal address on Bedriftsinformasjon, but cannot change
  the company name: the field is read-only, with the note that the supplier changes it.
"""

from __future__ import annotations

import re
import time
from typing import Any
from urllib.parse import urlparse

import pytest

from tests.e2e.conftest import login, screenshot

pytestmark = pytest.mark.e2e

NOTE = "Endres av oss — kontakt kundeservice"


def logout(page: Any) -> None:
    page.goto("/logout/")
    page.context.clear_cookies()


def test_customer_opens_inquiry_and_sees_customer_services_answer(page: Any) -> None:
    subject = f"Levering av skrivebord {int(time.time())}"
    login(page, "berg.bruker")
    page.goto("/inquiryview/list/")
    assert "Henvendelser" in (page.text_content("body") or "")
    page.goto("/inquiryview/add")
    assert page.locator("input[name=company]").count() == 0  # the company comes from the login
    page.fill("input[name=subject]", subject)
    page.fill("textarea[name=message]", "Når kommer skrivebordet? Vi er på kontoret fra kl. 8.")
    with page.expect_navigation():
        page.click("form button[type=submit]")
    assert re.search(r"/inquiryview/show/\d+$", page.url), page.url
    inquiry_url = urlparse(page.url).path
    body = page.text_content("body") or ""
    assert subject in body and "Åpen" in body and "Vi er på kontoret fra kl. 8." in body
    screenshot(page, "inquiry-opened-by-berg")
    logout(page)

    login(page, "kundeservice")
    page.goto("/inquiryview/list/")
    assert subject in (page.text_content("body") or "")  # in customer service's queue
    page.goto(inquiry_url)
    page.fill("#inquiry-message", "Skrivebordet leveres torsdag mellom 08 og 12.")
    with page.expect_navigation():
        page.click("form.inquiry-reply button[type=submit]")
    body = page.text_content("body") or ""
    assert "Svaret er sendt til kunden." in body and "Besvart" in body
    screenshot(page, "inquiry-answered-by-kundeservice")
    logout(page)

    login(page, "berg.bruker")
    page.goto(inquiry_url)
    thread = page.text_content(".inquiry-thread") or ""
    assert "Skrivebordet leveres torsdag mellom 08 og 12." in thread and "Kundeservice" in thread
    assert "Besvart" in (page.text_content("body") or "")
    assert page.locator("form.inquiry-close").count() == 0  # closing is customer service's
    screenshot(page, "inquiry-answer-seen-by-berg")


def test_customer_admin_changes_postal_address_but_not_the_name(page: Any) -> None:
    login(page, "hansen.admin")
    page.goto("/mycompanyview/mine/")
    assert "Hansen Interiør AS" in (page.text_content("body") or "")
    with page.expect_navigation():
        page.click("a.edit-postal-address")
    name = page.locator("input[name=name]")
    assert name.is_disabled() and name.input_value() == "Hansen Interiør AS"
    name_row = page.locator("tr", has=name)
    assert NOTE in (name_row.text_content() or "")
    screenshot(page, "my-company-edit")

    page.fill("input[name=postal_street]", "Postboks 214")
    page.fill("input[name=postal_code]", "28x1")
    with page.expect_navigation():
        page.click("form button[type=submit]")
    postal_row = page.locator("tr", has=page.locator("input[name=postal_code]"))
    assert "fire sifre" in (postal_row.text_content() or "")  # the error next to the field
    assert page.locator("input[name=name]").input_value() == "Hansen Interiør AS"

    page.fill("input[name=postal_code]", "2821")
    page.fill("input[name=postal_city]", "Gjøvik")
    with page.expect_navigation():
        page.click("form button[type=submit]")
    page.goto("/mycompanyview/mine/")
    body = page.text_content("body") or ""
    assert "Postboks 214" in body and "Hansen Interiør AS" in body
    history = page.text_content(".company-history") or ""
    assert "Postboks 214" in history and "Kari Hansen" in history
    screenshot(page, "my-company-postal-address-changed")
