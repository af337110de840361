"""Brukere and Min profil in a real browser (demo data, production config with CSRF):

`hansen.admin` creates a user on "Brukere"; the test reads the welcome mail's link from the outbox
table (as the mail would carry it); the new user opens the link, is refused a weak password,
sets a good one, logs in, and finds the username on "Min profil".
"""

from __future__ import annotations

import re
import time
from typing import Any
from urllib.parse import urlparse

import pytest
from flask import Flask
from sqlalchemy import create_engine, select

from app.models import MailOutbox
from tests.e2e.conftest import login, screenshot

pytestmark = pytest.mark.e2e


def _welcome_link(app: Flask, to: str) -> str:
    engine = create_engine(app.config["SQLALCHEMY_DATABASE_URI"])
    try:
        with engine.connect() as conn:
            body = conn.execute(
                select(MailOutbox.body_text).where(MailOutbox.to_address == to, MailOutbox.kind == "user_welcome")
            ).scalar_one()
    finally:
        engine.dispose()
    match = re.search(r"https?://\S+/passord/\S+", body)
    assert match, body
    return urlparse(match.group(0)).path  # the server's own address may differ from PORTAL_BASE_URL


def test_customer_admin_creates_a_user_who_sets_a_password_from_the_welcome_mail(app: Flask, page: Any) -> None:
    suffix = str(int(time.time()))[-6:]
    username, email = f"nora.{suffix}", f"nora.{suffix}@hanseninterior.no"
    password = "Sommer-fugl-2026"

    login(page, "hansen.admin")
    page.goto("/companyusers/list/")
    with page.expect_navigation():
        page.click("a[href='/companyusers/add']")
    assert page.locator("input[name=company]").count() == 0  # the company is the admin's own
    options = page.locator("select[name=role] option").evaluate_all("els => els.map(e => e.value)")
    assert sorted(options) == ["CustomerAdmin", "CustomerUser"]
    page.fill("input[name=first_name]", "Nora")
    page.fill("input[name=last_name]", "Nyansatt")
    page.fill("input[name=email]", email)
    page.fill("input[name=phone]", "+47 900 00 000")
    page.fill("input[name=username]", username)
    page.select_option("select[name=role]", "CustomerUser")
    with page.expect_navigation():
        page.click("form.user-new-form button[type=submit]")
    assert re.search(r"/companyusers/show/\d+$", page.url), page.url
    body = page.text_content("body") or ""
    assert username in body and "velkomstmail" in body
    screenshot(page, "user-created-by-hansen-admin")
    page.goto("/logout/")
    page.context.clear_cookies()

    link = _welcome_link(app, email)
    page.goto(link)
    assert username in (page.text_content(".password-link-username") or "")
    page.fill("input[name=password]", "1234567890")
    page.fill("input[name=confirm_password]", "1234567890")
    with page.expect_navigation():
        page.click("form.password-link-form button[type=submit]")
    assert "bare bestå av tall" in (page.text_content("#password-error") or "")
    page.fill("input[name=password]", password)
    page.fill("input[name=confirm_password]", password)
    with page.expect_navigation():
        page.click("form.password-link-form button[type=submit]")
    assert "/login" in page.url and "Passordet er lagret" in (page.text_content("body") or "")
    screenshot(page, "password-set-from-welcome-link")

    login(page, username, password)
    page.goto("/min-profil/")
    assert username in (page.text_content(".profile-username") or "")
    assert "Administrer bedriften" not in (page.text_content("body") or "")  # a plain user
    screenshot(page, "new-user-min-profil")

    # The link worked once.
    page.goto("/logout/")
    with page.expect_navigation():
        page.click("form.logout-form button[type=submit]")  # logging out is a POST
    page.goto(link)
    assert "allerede brukt" in (page.text_content(".password-link-invalid") or "")


def test_deactivating_a_user_asks_first(page: Any) -> None:
    """The customer admin makes a user through the API, then deactivates them on "Brukere": the
    first click only asks; "Ja, deaktiver" closes the access."""
    suffix = str(int(time.time() * 1000))[-7:]
    api = page.request
    token = api.post(
        "/api/v1/security/login",
        data={"username": "hansen.admin", "password": "demo1234", "provider": "db"},
    ).json()["access_token"]
    made = api.post(
        "/api/v1/user/",
        headers={"Authorization": f"Bearer {token}"},
        data={
            "first_name": "Kortvarig",
            "last_name": "Ansatt",
            "email": f"kort.{suffix}@hanseninterior.no",
            "phone": "+47 900 00 001",
            "username": f"kort.{suffix}",
            "role": "CustomerUser",
        },
    )
    assert made.status == 201, made.text()
    user_id = made.json()["id"]

    login(page, "hansen.admin")
    page.goto(f"/companyusers/show/{user_id}")
    question = page.locator("details.confirm-deactivate .alert")
    assert not question.is_visible()
    page.click("details.confirm-deactivate summary")
    assert "Vil du deaktivere Kortvarig Ansatt?" in (question.text_content() or "")
    screenshot(page, "deactivate-asks-first")
    with page.expect_navigation():
        page.click("button.user-deactivate")
    assert "Aktiver" in (page.text_content(".user-manage") or "")
