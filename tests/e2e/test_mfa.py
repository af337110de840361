"""Tofaktorinnlogging in a real browser (demo data, production config with CSRF):

`berg.admin` opens Min profil, follows the link to two-factor login, starts it, sees the QR code
(an SVG made by the server), reads the key shown for manual entry, confirms with the code an app
would show (pyotp), and gets the 10 recovery codes once. At the end the test turns it off again
with the password, so the demo user logs in as printed for the other browser tests.
"""

from __future__ import annotations

from typing import Any

import pyotp
import pytest

from app.demo import DEMO_PASSWORD
from tests.e2e.conftest import login, screenshot

pytestmark = pytest.mark.e2e


def test_enrol_on_min_profil_with_the_key_from_the_page(page: Any, js_errors: list[str]) -> None:
    login(page, "berg.admin")
    page.goto("/min-profil/")
    panel = page.locator(".profile-mfa")
    assert "Tofaktorinnlogging" in (panel.text_content() or "")
    with page.expect_navigation():
        panel.locator("a", has_text="Sett opp tofaktorinnlogging").click()
    with page.expect_navigation():
        page.click("form.mfa-start button[type=submit]")

    assert page.locator(".mfa-qr svg").count() == 1  # the QR code, drawn without any script
    secret = (page.text_content(".mfa-secret") or "").replace(" ", "")
    assert len(secret) >= 16
    screenshot(page, "mfa-enrol")

    page.fill("form.mfa-confirm input[name=code]", "000000" if pyotp.TOTP(secret).now() != "000000" else "111111")
    with page.expect_navigation():
        page.click("form.mfa-confirm button[type=submit]")
    assert "Koden stemmer ikke" in (page.text_content(".mfa-confirm") or "")

    page.fill("form.mfa-confirm input[name=code]", pyotp.TOTP(secret).now())
    with page.expect_navigation():
        page.click("form.mfa-confirm button[type=submit]")
    body = page.text_content("body") or ""
    assert "Skriv dem ut eller lagre dem et trygt sted" in body
    codes = page.locator(".mfa-recovery-codes li").all_text_contents()
    assert len(codes) == 10 and len(set(codes)) == 10
    screenshot(page, "mfa-recovery-codes")

    page.goto("/min-profil/tofaktor/")
    assert "Ubrukte gjenopprettingskoder: 10 av 10" in (page.text_content(".mfa-status") or "")
    assert page.locator(".mfa-secret").count() == 0  # the key is not shown again

    page.fill("form.mfa-disable input[name=password]", DEMO_PASSWORD)
    with page.expect_navigation():
        page.click("form.mfa-disable button[type=submit]")
    assert page.url.endswith("/min-profil/")
    assert "Tofaktorinnlogging er skrudd av" in (page.text_content("body") or "")
    assert not js_errors
