"""Per-user throttles (app/domain/throttle.py): wrong current passwords on Min profil and the API,
user creations refused on the username or e-mail (a taken one tells it exists in some company),
CSV exports and invoice PDFs. Generous limits in config; over them 429 with a Norwegian message."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from app.models import PortalUser, ThrottleHit
from tests.factories import PASSWORD, World
from tests.helpers import Caller, client_as, count_rows, text_of


@pytest.fixture()
def on(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    """The throttles on, with small limits to reach them quickly."""
    for key, value in {
        "RATELIMIT_ENABLED": True,
        "RATELIMIT_STORAGE_URI": "memory://",
        "PASSWORD_CHECK_RATE_LIMIT": "3 per 15 minute",
        "USER_CREATE_RATE_LIMIT": "2 per hour",
        "CSV_EXPORT_RATE_LIMIT": "3 per 10 minute",
        "PDF_DOWNLOAD_RATE_LIMIT": "3 per 10 minute",
    }.items():
        monkeypatch.setitem(app.config, key, value)


def test_the_defaults_are_generous() -> None:
    from config import Config

    for setting, at_least in (
        ("PASSWORD_CHECK_RATE_LIMIT", 10),
        ("USER_CREATE_RATE_LIMIT", 20),
        ("CSV_EXPORT_RATE_LIMIT", 100),
        ("PDF_DOWNLOAD_RATE_LIMIT", 200),
    ):
        assert int(getattr(Config, setting).split()[0]) >= at_least, setting


# --- the current password ----------------------------------------------------------------------


def _change(client: Any, current: str) -> Any:
    new = "Et-helt-nytt-passord-42"
    return client.post(
        "/min-profil/passord", data={"current_password": current, "password": new, "confirm_password": new}
    )


def test_wrong_current_passwords_on_min_profil_are_throttled(app: Flask, world: World, on: None) -> None:
    client = client_as(app, "hansen.bruker")
    # Other mistakes do not count: the current password was right.
    short = client.post(
        "/min-profil/passord", data={"current_password": PASSWORD, "password": "x", "confirm_password": "x"}
    )
    assert short.status_code == 200
    assert [_change(client, "feil").status_code for _ in range(3)] == [200, 200, 200]
    refused = _change(client, PASSWORD)
    assert refused.status_code == 429 and "For mange forsøk med feil passord" in text_of(refused)
    with_user = count_rows(app, ThrottleHit, bucket="password_check", key=str(world.a.user.id))
    assert with_user == 3
    # The password was not changed, and another user has a budget of its own.
    assert _change(client_as(app, "hansen.admin"), PASSWORD).status_code == 302


def test_wrong_current_passwords_on_the_api_are_throttled(app: Flask, world: World, on: None) -> None:
    caller = Caller(app, "hansen.bruker")
    body = {"current_password": "feil", "password": "Et-helt-nytt-passord-42"}
    assert [caller.post("/api/v1/user/me/password", body).status_code for _ in range(3)] == [400, 400, 400]
    refused = caller.post("/api/v1/user/me/password", {**body, "current_password": PASSWORD})
    assert refused.status_code == 429 and "For mange" in refused.json["message"]
    # The page and the API share the user's count.
    assert _change(client_as(app, "hansen.bruker"), PASSWORD).status_code == 429


# --- user creation -----------------------------------------------------------------------------


def _new_user(**extra: str) -> dict[str, str]:
    return {
        "first_name": "Nora",
        "last_name": "Nyansatt",
        "email": "nora@hanseninterior.no",
        "phone": "+47 900 00 000",
        "username": "nora.nyansatt",
        "role": "CustomerUser",
        **extra,
    }


def test_probing_taken_usernames_is_throttled_on_the_page(app: Flask, world: World, on: None) -> None:
    admin = client_as(app, "hansen.admin")
    # A wrong phone number is an ordinary mistake and does not count.
    assert admin.post("/companyusers/add", data=_new_user(phone="abc")).status_code == 200
    taken = [admin.post("/companyusers/add", data=_new_user(username="berg.bruker")) for _ in range(2)]
    assert [t.status_code for t in taken] == [200, 200]
    assert "allerede i bruk" in text_of(taken[0])
    refused = admin.post("/companyusers/add", data=_new_user())
    assert refused.status_code == 429 and "For mange forsøk" in text_of(refused)
    assert count_rows(app, PortalUser, username="nora.nyansatt") == 0


def test_probing_taken_emails_is_throttled_on_the_api(app: Flask, world: World, on: None) -> None:
    admin = Caller(app, "hansen.admin")
    taken = [admin.post("/api/v1/user/", _new_user(email="berg.bruker@example.no")) for _ in range(2)]
    assert [t.status_code for t in taken] == [400, 400]
    refused = admin.post("/api/v1/user/", _new_user())
    assert refused.status_code == 429 and "For mange" in refused.json["message"]
    assert count_rows(app, PortalUser, username="nora.nyansatt") == 0


def test_good_creations_do_not_count(app: Flask, world: World, on: None) -> None:
    admin = Caller(app, "hansen.admin")
    for i in range(4):
        created = admin.post("/api/v1/user/", _new_user(username=f"ny.bruker{i}", email=f"ny{i}@hanseninterior.no"))
        assert created.status_code == 201, created.get_data(as_text=True)
    assert count_rows(app, ThrottleHit, bucket="user_create") == 0


# --- downloads ---------------------------------------------------------------------------------


def test_csv_exports_are_throttled_per_user(app: Flask, world: World, on: None) -> None:
    manager = client_as(app, "leder")
    codes = [manager.get("/rapporter/salg.csv").status_code for _ in range(3)]
    assert codes == [200, 200, 200]
    refused = manager.get("/rapporter/ordrestatus.csv")  # every report's CSV counts together
    assert refused.status_code == 429 and "For mange forsøk" in text_of(refused)
    assert client_as(app, "admin").get("/rapporter/salg.csv").status_code == 200
    # The report pages themselves are not throttled.
    assert manager.get("/rapporter/salg/").status_code == 200


def test_invoice_pdfs_are_throttled_per_user(app: Flask, world: World, on: None) -> None:
    customer = client_as(app, "hansen.bruker")
    url = f"/ordre/faktura/{world.a.invoice.id}/fakturakopi.pdf"
    assert [customer.get(url).status_code for _ in range(3)] == [200, 200, 200]
    assert customer.get(url).status_code == 429
    assert client_as(app, "hansen.admin").get(url).status_code == 200


def test_invoice_pdfs_through_the_api_share_the_count(app: Flask, world: World, on: None) -> None:
    page = client_as(app, "hansen.bruker")
    api = Caller(app, "hansen.bruker")
    url = f"/api/v1/order/{world.a.order.id}/invoice/{world.a.invoice.id}/pdf"
    assert page.get(f"/ordre/faktura/{world.a.invoice.id}/fakturakopi.pdf").status_code == 200
    assert [api.get(url).status_code for _ in range(2)] == [200, 200]
    refused = api.get(url)
    assert refused.status_code == 429 and "For mange nedlastinger" in refused.get_json()["message"]


def test_a_refused_caller_uses_up_nothing(app: Flask, world: World, on: None) -> None:
    anonymous = app.test_client()
    for _ in range(5):
        assert anonymous.get(f"/ordre/faktura/{world.a.invoice.id}/fakturakopi.pdf").status_code == 302
    assert count_rows(app, ThrottleHit) == 0
