"""The login step of two-factor login: the code after the password, on the page (/login/kode/)
and on the API (`totp` in the body); wrong codes are throttled like wrong passwords."""

from __future__ import annotations

import time
from typing import Any

import pyotp
import pytest
from flask import Flask
from sqlalchemy import select, update

from app.domain import mfa
from app.models import AuditEntry, LoginSession, PortalUser, utcnow
from tests.factories import PASSWORD, World
from tests.helpers import count_rows, db_session, flashes, text_of

API = "/api/v1/security/login"
PAGE = "/orderview/list/"


@pytest.fixture()
def secret(app: Flask, world: World) -> str:
    """hansen.bruker has confirmed two-factor login."""
    value = pyotp.random_base32()
    with db_session(app) as s:
        s.execute(
            update(PortalUser)
            .where(PortalUser.id == world.a.user.id)
            .values(mfa_secret=value, mfa_enabled_at=utcnow(), mfa_last_step=None)
        )
        s.commit()
    return value


def _code(secret: str, steps_back: int = 0) -> str:
    totp = pyotp.TOTP(secret)
    return totp.at(time.time() - steps_back * totp.interval)


def _password_step(client: Any, next_url: str = "") -> Any:
    url = f"/login/?next={next_url}" if next_url else "/login/"
    return client.post(url, data={"username": "hansen.bruker", "password": PASSWORD})


def _mfa_audit(app: Flask) -> list[tuple[str, str]]:
    with db_session(app) as s:
        rows = s.scalars(select(AuditEntry).where(AuditEntry.action == "mfa").order_by(AuditEntry.id))
        return [(e.outcome, (e.details or {}).get("channel")) for e in rows]


# --- the page ---------------------------------------------------------------------------------------


def test_the_password_alone_does_not_log_in(app: Flask, world: World, secret: str) -> None:
    client = app.test_client()
    answer = _password_step(client)
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/login/kode/")
    assert client.get(PAGE).status_code == 302  # not logged in yet
    assert count_rows(app, LoginSession) == 0
    page = client.get("/login/kode/")
    assert page.status_code == 200
    assert "Kode fra autentiseringsappen, eller en gjenopprettingskode" in text_of(page)


def test_the_right_code_logs_in(app: Flask, world: World, secret: str) -> None:
    client = app.test_client()
    _password_step(client, next_url="/orderview/list/")
    answer = client.post("/login/kode/", data={"code": _code(secret)})
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/orderview/list/")
    assert client.get(PAGE).status_code == 200
    assert count_rows(app, LoginSession, user_id=world.a.user.id) == 1
    assert _mfa_audit(app) == [("ok", "page")]
    with db_session(app) as s:
        login = s.scalars(select(AuditEntry).where(AuditEntry.action == "login")).one()
    assert login.outcome == "ok" and login.details == {"channel": "page", "mfa": True}
    # The code page is for a pending login only: now it leads home.
    assert client.get("/login/kode/").status_code == 302


def test_a_wrong_code_is_refused_and_counted(app: Flask, world: World, secret: str) -> None:
    client = app.test_client()
    _password_step(client)
    wrong = "000000" if _code(secret) != "000000" else "111111"
    answer = client.post("/login/kode/", data={"code": wrong})
    assert answer.status_code == 200 and "Koden er feil" in text_of(answer)
    assert client.get(PAGE).status_code == 302
    assert _mfa_audit(app) == [("failed", "page")]
    # A used code is not taken twice (the next login needs a new one).
    code = _code(secret)
    assert client.post("/login/kode/", data={"code": code}).status_code == 302
    second = app.test_client()
    _password_step(second)
    assert second.post("/login/kode/", data={"code": code}).status_code == 200


def test_a_recovery_code_logs_in_once(app: Flask, world: World, secret: str) -> None:
    with db_session(app) as s:
        codes = mfa.new_recovery_codes(s, s.get(PortalUser, world.a.user.id))
        s.commit()
    client = app.test_client()
    _password_step(client)
    assert client.post("/login/kode/", data={"code": codes[0]}).status_code == 302
    again = app.test_client()
    _password_step(again)
    assert again.post("/login/kode/", data={"code": codes[0]}).status_code == 200


def test_a_pending_login_expires(app: Flask, world: World, secret: str) -> None:
    client = app.test_client()
    _password_step(client)
    with client.session_transaction() as session:
        session["_portal_mfa_pending"] = {**session["_portal_mfa_pending"], "at": time.time() - 301}
    answer = client.post("/login/kode/", data={"code": _code(secret)})
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/login/")
    assert any("tok for lang tid" in m for _, m in flashes(client))
    assert client.get(PAGE).status_code == 302


def test_a_pending_login_ends_with_a_new_password(app: Flask, world: World, secret: str) -> None:
    client = app.test_client()
    _password_step(client)
    with db_session(app) as s:
        s.execute(update(PortalUser).where(PortalUser.id == world.a.user.id).values(security_stamp="ny"))
        s.commit()
    assert client.post("/login/kode/", data={"code": _code(secret)}).status_code == 302
    assert client.get(PAGE).status_code == 302


def test_without_a_pending_login_the_code_page_leads_to_the_login(app: Flask, world: World) -> None:
    answer = app.test_client().get("/login/kode/")
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/login/")


def test_wrong_codes_are_throttled_per_account(
    app: Flask, world: World, secret: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in {
        "RATELIMIT_ENABLED": True,
        "AUTH_RATE_LIMIT": "100 per 5 minute",
        "AUTH_ACCOUNT_RATE_LIMIT": "3 per 15 minute",
    }.items():
        monkeypatch.setitem(app.config, key, value)
    for i in range(3):  # from three addresses
        client = app.test_client()
        client.post(
            "/login/",
            data={"username": "hansen.bruker", "password": PASSWORD},
            environ_base={"REMOTE_ADDR": f"10.0.0.{i + 1}"},
        )
        wrong = client.post("/login/kode/", data={"code": "12345x"}, environ_base={"REMOTE_ADDR": f"10.0.0.{i + 1}"})
        assert wrong.status_code == 200
    client = app.test_client()
    refused = client.post("/login/", data={"username": "hansen.bruker", "password": PASSWORD})
    assert refused.status_code == 429 and "For mange" in text_of(refused)
    assert api_login_status(app, {"totp": _code(secret)}) == 429


def api_login_status(app: Flask, extra: dict[str, Any]) -> int:
    body = {"username": "hansen.bruker", "password": PASSWORD, "provider": "db", **extra}
    return app.test_client().post(API, json=body).status_code


# --- the API ----------------------------------------------------------------------------------------


def test_the_api_login_needs_the_code(app: Flask, world: World, secret: str) -> None:
    client = app.test_client()
    body = {"username": "hansen.bruker", "password": PASSWORD, "provider": "db"}
    missing = client.post(API, json=body)
    assert missing.status_code == 401 and "totp" in missing.json["message"]
    assert "access_token" not in text_of(missing)
    wrong = client.post(API, json={**body, "totp": "000000" if _code(secret) != "000000" else "111111"})
    assert wrong.status_code == 401 and "totp" in wrong.json["message"]
    assert client.post(API, json={**body, "totp": 123456}).status_code == 400
    right = client.post(API, json={**body, "totp": _code(secret), "refresh": True})
    assert right.status_code == 200 and right.json["access_token"] and right.json["refresh_token"]
    # The token works.
    headers = {"Authorization": f"Bearer {right.json['access_token']}"}
    assert client.get("/api/v1/inquiry/", headers=headers).status_code == 200
    assert _mfa_audit(app) == [("failed", "api"), ("ok", "api")]


def test_the_api_login_takes_a_recovery_code(app: Flask, world: World, secret: str) -> None:
    with db_session(app) as s:
        codes = mfa.new_recovery_codes(s, s.get(PortalUser, world.a.user.id))
        s.commit()
    assert api_login_status(app, {"totp": codes[3]}) == 200
    assert api_login_status(app, {"totp": codes[3]}) == 401


def test_users_without_two_factor_login_are_not_asked(app: Flask, world: World, secret: str) -> None:
    client = app.test_client()
    answer = client.post("/login/", data={"username": "hansen.admin", "password": PASSWORD})
    assert answer.status_code == 302 and "/login/" not in answer.headers["Location"]
    body = {"username": "berg.bruker", "password": PASSWORD, "provider": "db"}
    assert client.post(API, json=body).status_code == 200
