"""Sessions that end on the server, POST-only logout, idle and absolute lifetimes, the Secure
cookie, and the API logout's token blocklist (app/domain/sessions.py, app/security.py,
app/views/accounts/login.py)."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select, update

from app.models import AuditEntry, LoginSession, RevokedToken, utcnow
from tests.factories import PASSWORD, World
from tests.helpers import (
    StatementCounter,
    auth_header,
    client_as,
    count_rows,
    db_engine,
    db_session,
    flashes,
    login,
    text_of,
)
from tests.test_security_defaults import fresh_app

ROOT = Path(__file__).resolve().parent.parent
PAGE = "/orderview/list/"


def _only_session(app: Flask) -> LoginSession:
    with db_session(app) as s:
        rows = list(s.scalars(select(LoginSession)))
    assert len(rows) == 1, rows
    return rows[0]


def _set_session(app: Flask, sid: str, **values: Any) -> None:
    with db_session(app) as s:
        s.execute(update(LoginSession).where(LoginSession.id == sid).values(**values))
        s.commit()


def _is_logged_in(client: Any) -> bool:
    response = client.get(PAGE)
    return response.status_code == 200


def _cookie(client: Any) -> str:
    cookie = client.get_cookie("session")
    assert cookie is not None
    return cookie.value


def _audit(app: Flask, action: str) -> list[AuditEntry]:
    with db_session(app) as s:
        return list(s.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))


# --- the session row --------------------------------------------------------------------------


def test_login_makes_a_server_session_and_the_cookie_names_it(app: Flask, world: World) -> None:
    client = client_as(app, "hansen.bruker")
    row = _only_session(app)
    assert row.user_id == world.a.user.id and row.ended_at is None and row.client_addr == "127.0.0.1"
    with client.session_transaction() as session:
        assert session["_portal_sid"] == row.id
    assert _is_logged_in(client)
    # A second login is a second session.
    client_as(app, "hansen.bruker")
    assert count_rows(app, LoginSession, user_id=world.a.user.id) == 2


def test_a_cookie_without_a_server_session_is_anonymous(app: Flask, world: World) -> None:
    client = client_as(app, "hansen.bruker")
    with db_session(app) as s:
        s.execute(LoginSession.__table__.delete())
        s.commit()
    assert not _is_logged_in(client)


def test_the_session_check_costs_no_statement_of_its_own(app: Flask, world: World) -> None:
    """The session row comes in the statement that loads the user, and a request writes it at
    most once a minute."""
    client = client_as(app, "hansen.bruker")
    client.get(PAGE)
    with StatementCounter(db_engine(app)) as counter:
        assert client.get(PAGE).status_code == 200
    touching = [s for s in counter.statements if "login_sessions" in s]
    assert len(touching) == 1 and "ab_user" in touching[0] and touching[0].lstrip().upper().startswith("SELECT")

    # Two minutes later the next request notes it was used (one UPDATE), and the idle time restarts.
    row = _only_session(app)
    _set_session(app, row.id, last_seen_at=utcnow() - dt.timedelta(minutes=2))
    with StatementCounter(db_engine(app)) as counter:
        assert client.get(PAGE).status_code == 200
    updates = [s for s in counter.statements if s.lstrip().upper().startswith("UPDATE") and "login_sessions" in s]
    assert len(updates) == 1
    assert utcnow() - _only_session(app).last_seen_at < dt.timedelta(seconds=30)


# --- logout -----------------------------------------------------------------------------------


def test_logout_ends_the_session_for_every_copy_of_the_cookie(app: Flask, world: World) -> None:
    client = client_as(app, "hansen.bruker")
    copy = app.test_client()
    copy.set_cookie("session", _cookie(client))
    assert _is_logged_in(copy)

    response = client.post("/logout/")
    assert response.status_code == 302
    assert _only_session(app).ended_at is not None
    assert not _is_logged_in(client)
    # The copy taken before logout is anonymous too: to the login page.
    answer = copy.get(PAGE)
    assert answer.status_code == 302 and "/login/" in answer.headers["Location"]
    entries = _audit(app, "logout")
    assert [(e.actor_id, e.outcome, e.details["channel"]) for e in entries] == [(world.a.user.id, "ok", "page")]


def test_get_logout_logs_nobody_out(app: Flask, world: World) -> None:
    client = client_as(app, "hansen.bruker")
    page = client.get("/logout/")
    assert page.status_code == 200
    body = text_of(page)
    assert 'method="post"' in body and 'action="/logout/"' in body and "Logg ut" in body
    assert _is_logged_in(client)
    assert _only_session(app).ended_at is None
    # Anonymous: nothing to ask, home (which leads to the login page).
    assert app.test_client().get("/logout/").status_code == 302


def test_the_navbar_logs_out_with_a_post_form(app: Flask, world: World) -> None:
    client = client_as(app, "hansen.bruker")
    body = text_of(client.get("/"))
    assert 'class="navbar-logout-form"' in body
    assert 'href="/logout/"' not in body


def test_logout_needs_the_csrf_token(app: Flask, world: World) -> None:
    with fresh_app(app) as real:
        client = real.test_client()
        form = client.get("/login/")
        token = _csrf(text_of(form))
        assert client.post("/login/", data={"username": "hansen.bruker", "password": PASSWORD, "csrf_token": token})
        home = client.get("/")
        assert home.status_code == 200
        token = _csrf(text_of(home))  # the navbar's logout form carries it
        assert client.post("/logout/").status_code == 400
        assert _only_session(app).ended_at is None
        assert client.post("/logout/", data={"csrf_token": token}).status_code == 302
        assert _only_session(app).ended_at is not None


def _csrf(body: str) -> str:
    import re

    found = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', body) or re.search(
        r'id="csrf_token" name="csrf_token" type="hidden" value="([^"]+)"', body
    )
    assert found, body[:2000]
    return found.group(1)


def test_a_changed_password_still_ends_other_sessions(app: Flask, world: World) -> None:
    """The security stamp keeps working, and a session it ends is ended on the server too."""
    client = client_as(app, "hansen.bruker")
    with db_session(app) as s:
        from app.models import PortalUser

        s.execute(update(PortalUser).where(PortalUser.id == world.a.user.id).values(security_stamp="ny-stempel"))
        s.commit()
    assert not _is_logged_in(client)
    assert _only_session(app).ended_at is not None


# --- idle timeout and absolute lifetime ----------------------------------------------------------


def test_an_idle_session_ends(app: Flask, world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(app.config, "SESSION_IDLE_MINUTES", 30)
    client = client_as(app, "hansen.bruker")
    row = _only_session(app)
    _set_session(app, row.id, last_seen_at=utcnow() - dt.timedelta(minutes=29))
    assert _is_logged_in(client)  # 29 minutes: still there (and now fresh again)
    _set_session(app, row.id, last_seen_at=utcnow() - dt.timedelta(minutes=31))
    answer = client.get(PAGE)
    assert answer.status_code == 302 and "/login/" in answer.headers["Location"]
    assert any("ikke har vært aktiv" in message for _, message in flashes(client))
    assert _only_session(app).ended_at is not None
    # Fresh activity afterwards does not bring it back.
    _set_session(app, row.id, last_seen_at=utcnow())
    assert not _is_logged_in(client)


def test_a_session_ends_after_its_absolute_lifetime(app: Flask, world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(app.config, "SESSION_MAX_HOURS", 12)
    client = client_as(app, "hansen.bruker")
    row = _only_session(app)
    _set_session(app, row.id, created_at=utcnow() - dt.timedelta(hours=11, minutes=59))
    assert _is_logged_in(client)
    _set_session(app, row.id, created_at=utcnow() - dt.timedelta(hours=12, minutes=1), last_seen_at=utcnow())
    answer = client.get(PAGE)
    assert answer.status_code == 302 and "/login/" in answer.headers["Location"]
    assert any("høyst 12 timer" in message for _, message in flashes(client))


def test_lifetimes_and_secure_cookies_come_from_the_environment() -> None:
    code = (
        "import config; c = config.Config; "
        "print(c.SESSION_IDLE_MINUTES, c.SESSION_MAX_HOURS, c.SESSION_COOKIE_SECURE, c.REMEMBER_COOKIE_SECURE)"
    )

    def settings(**env: str) -> str:
        environment = {k: v for k, v in os.environ.items() if not k.startswith("SESSION_")}
        done = subprocess.run(
            [sys.executable, "-c", code],
            cwd=ROOT,
            env={**environment, **env},
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout.strip()

    assert settings() == "30 12 False False"
    assert settings(SESSION_IDLE_MINUTES="15", SESSION_MAX_HOURS="8", SESSION_COOKIE_SECURE="1") == "15 8 True True"


def test_the_session_cookie_is_secure_when_configured(app: Flask, world: World) -> None:
    with fresh_app(app, WTF_CSRF_ENABLED=False, SESSION_COOKIE_SECURE=True) as real:
        client = real.test_client()
        response = client.post("/login/", data={"username": "hansen.bruker", "password": PASSWORD})
        cookie = response.headers["Set-Cookie"]
        assert "session=" in cookie and "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    with fresh_app(app, WTF_CSRF_ENABLED=False, SESSION_COOKIE_SECURE=False) as plain:
        response = plain.test_client().post("/login/", data={"username": "hansen.bruker", "password": PASSWORD})
        assert "Secure" not in response.headers["Set-Cookie"]


def test_a_remember_me_cookie_cannot_bring_a_login_back(app: Flask, world: World) -> None:
    """Flask-Login would log a user in from a signed remember_token cookie; without a session row
    it stays anonymous (and the portal never sets that cookie)."""
    from flask_login.utils import encode_cookie

    client = client_as(app, "hansen.bruker")
    assert "remember_token" not in str(client.get_cookie("remember_token"))
    client.post("/logout/")
    with app.test_request_context():
        forged = encode_cookie(str(world.a.user.id))
    client.set_cookie(app.config.get("REMEMBER_COOKIE_NAME", "remember_token"), forged)
    assert not _is_logged_in(client)
    fresh = app.test_client()
    fresh.set_cookie("remember_token", forged)
    assert not _is_logged_in(fresh)


# --- API logout and the token blocklist -----------------------------------------------------------


def _api_login(app: Flask, username: str = "hansen.bruker") -> dict[str, str]:
    response = app.test_client().post(
        "/api/v1/security/login", json={"username": username, "password": PASSWORD, "provider": "db", "refresh": True}
    )
    assert response.status_code == 200, text_of(response)
    return response.json


API_PAGE = "/api/v1/inquiry/"


def test_api_logout_revokes_the_access_token(app: Flask, world: World) -> None:
    tokens = _api_login(app)
    client = app.test_client()
    headers = auth_header(tokens["access_token"])
    assert client.get(API_PAGE, headers=headers).status_code == 200
    out = client.post("/api/v1/security/logout", headers=headers)
    assert out.status_code == 200, text_of(out)
    refused = client.get(API_PAGE, headers=headers)
    assert refused.status_code == 401 and "logget ut" in refused.json["message"]
    assert client.post("/api/v1/security/logout", headers=headers).status_code == 401
    # The refresh token was not named: it still works.
    assert client.post("/api/v1/security/refresh", headers=auth_header(tokens["refresh_token"])).status_code == 200
    with db_session(app) as s:
        rows = list(s.scalars(select(RevokedToken)))
    assert [(r.user_id, r.token_type) for r in rows] == [(world.a.user.id, "access")]
    assert rows[0].expires_at > utcnow() + dt.timedelta(minutes=50)
    entries = _audit(app, "logout")
    assert [(e.actor_id, e.details["channel"]) for e in entries] == [(world.a.user.id, "api")]


def test_api_logout_revokes_the_refresh_token_from_the_body(app: Flask, world: World) -> None:
    tokens = _api_login(app)
    client = app.test_client()
    out = client.post(
        "/api/v1/security/logout",
        json={"refresh_token": tokens["refresh_token"]},
        headers=auth_header(tokens["access_token"]),
    )
    assert out.status_code == 200
    again = client.post("/api/v1/security/refresh", headers=auth_header(tokens["refresh_token"]))
    assert again.status_code == 401
    assert client.get(API_PAGE, headers=auth_header(tokens["access_token"])).status_code == 401
    assert count_rows(app, RevokedToken) == 2


def test_api_logout_refuses_a_refresh_token_that_is_not_the_callers(app: Flask, world: World) -> None:
    mine, theirs = _api_login(app), _api_login(app, "berg.bruker")
    client = app.test_client()
    for bad in (theirs["refresh_token"], "ikke-et-token", mine["access_token"], 42):
        out = client.post(
            "/api/v1/security/logout", json={"refresh_token": bad}, headers=auth_header(mine["access_token"])
        )
        assert out.status_code == 400, (bad, text_of(out))
        assert "refresh_token" in out.json["message"]
    # Nothing was revoked: all of it still works.
    assert count_rows(app, RevokedToken) == 0
    assert client.get(API_PAGE, headers=auth_header(mine["access_token"])).status_code == 200
    assert client.post("/api/v1/security/refresh", headers=auth_header(theirs["refresh_token"])).status_code == 200


def test_api_logout_needs_a_token(app: Flask, world: World) -> None:
    assert app.test_client().post("/api/v1/security/logout").status_code == 401


def test_the_blocklist_check_costs_no_statement_of_its_own(app: Flask, world: World) -> None:
    tokens = _api_login(app)
    client = app.test_client()
    headers = auth_header(tokens["access_token"])
    client.get(API_PAGE, headers=headers)
    with StatementCounter(db_engine(app)) as counter:
        assert client.get(API_PAGE, headers=headers).status_code == 200
    user_loads = [s for s in counter.statements if s.lstrip().startswith("SELECT ab_user.id")]
    assert len(user_loads) == 1 and "revoked_tokens" in user_loads[0]
    assert len([s for s in counter.statements if "revoked_tokens" in s]) == 1


def test_purge_removes_ended_sessions_and_expired_tokens(app: Flask, world: World) -> None:
    client = client_as(app, "hansen.bruker")
    client.post("/logout/")
    keep = client_as(app, "berg.bruker")
    with db_session(app) as s:
        s.add(RevokedToken(jti="gammel", token_type="access", expires_at=utcnow() - dt.timedelta(hours=1)))
        s.add(RevokedToken(jti="gyldig", token_type="access", expires_at=utcnow() + dt.timedelta(hours=1)))
        s.commit()
    result = app.test_cli_runner().invoke(args=["portal", "purge-security"])
    assert result.exit_code == 0, result.output
    assert count_rows(app, LoginSession) == 1 and count_rows(app, LoginSession, ended_at=None) == 1
    with db_session(app) as s:
        assert list(s.scalars(select(RevokedToken.jti))) == ["gyldig"]
    assert _is_logged_in(keep)
    login(app.test_client(), "hansen.bruker")  # logging in still works afterwards


def test_the_set_password_link_of_another_user_ends_the_session_here(app: Flask, world: World) -> None:
    """Any logout ends the server session, not only the logout button."""
    from app.domain import accounts
    from tests.helpers import actor

    client = client_as(app, "hansen.admin")
    copy = app.test_client()
    copy.set_cookie("session", _cookie(client))
    with app.app_context(), db_session(app) as s:
        mail = accounts.send_password_link(s, actor(world.a.admin, "CustomerAdmin"), world.a.user.id)
        s.commit()
    link = mail.body_text.split("/passord/", 1)[1].split()[0]
    assert client.get(f"/passord/{link}").status_code == 200
    assert not _is_logged_in(copy)


def test_api_login_answers_a_body_that_is_not_json_in_norwegian(app: Flask, world: World) -> None:
    client = app.test_client()
    login = client.post("/api/v1/security/login", data="x", content_type="text/plain")
    assert login.status_code == 400 and "må være JSON" in login.get_json()["message"]
