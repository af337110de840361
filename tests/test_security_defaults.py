"""Security defaults, checked with the real `Config` where TestConfig differs.

TestConfig turns CSRF and rate limiting off for speed; these tests build a second app with the
production settings (`fresh_app`) on the same, already migrated test database. The extension
singletons (AppBuilder) are swapped for fresh ones while that app lives, so the session-wide test
app is left as it was.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, text

from tests.factories import PASSWORD, World
from tests.helpers import api_token, auth_header, endpoint_rule, login

ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def fresh_app(app: Flask, **overrides: Any) -> Iterator[Flask]:
    """A new app from the real Config (plus overrides) on the test database."""
    from flask_appbuilder import AppBuilder

    import app as app_pkg
    import app.extensions as ext
    from config import Config

    settings = {"SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"], **overrides}
    config = type("FreshConfig", (Config,), settings)
    new_appbuilder = AppBuilder(update_perms=False)
    with mock.patch.object(ext, "appbuilder", new_appbuilder), mock.patch.object(app_pkg, "appbuilder", new_appbuilder):
        yield app_pkg.create_app(config)


# --- CSRF ------------------------------------------------------------------------------------


def _row_exists(app: Flask, table: str, pk: int) -> bool:
    from app.extensions import db

    with app.app_context(), db.engine.connect() as conn:
        return conn.execute(text(f"SELECT 1 FROM {table} WHERE id = :id"), {"id": pk}).first() is not None


def test_csrf_is_on_in_the_real_config() -> None:
    from config import Config

    assert Config.WTF_CSRF_ENABLED is True


def _csrf_login(client: FlaskClient, username: str) -> str:
    """Log in like a browser: the token comes from the login form. Returns the token."""
    page = client.get("/login/").get_data(as_text=True)
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    assert match, "the login form carries a CSRF token"
    response = client.post("/login/", data={"username": username, "password": PASSWORD, "csrf_token": match.group(1)})
    assert response.status_code == 302
    return match.group(1)


def test_form_post_without_csrf_token_is_refused(app: Flask, world: World) -> None:
    with fresh_app(app) as real:
        assert real.config["WTF_CSRF_ENABLED"] and not real.config.get("TESTING")
        client = real.test_client()
        # Even logging in needs the token.
        assert client.post("/login/", data={"username": "admin", "password": PASSWORD}).status_code == 400
        _csrf_login(client, "admin")
        # A form POST to FAB's own views without the token: refused, nothing written.
        response = client.post("/roles/add", data={"name": "Uten token"})
        assert response.status_code == 400
        assert "Forespørselen kunne ikke behandles" in response.get_data(as_text=True)
        with real.app_context():
            from flask_appbuilder.security.sqla.models import Role

            from app.extensions import db

            assert db.session.scalar(select(Role).where(Role.name == "Uten token")) is None


def test_csrf_on_portal_forms(app: Flask, world: World) -> None:
    """Our own views, as the customer admin who may add and delete budgets."""
    with fresh_app(app) as real:
        add_url = endpoint_rule(real, "BudgetView.add")
        delete_url = endpoint_rule(real, "BudgetView.delete").replace("<pk>", str(world.a.budget.id))
        client = real.test_client()
        token = _csrf_login(client, "hansen.admin")
        response = client.post(add_url, data={"period": "month", "amount": "123"})
        assert response.status_code == 400
        with real.app_context():
            from app.extensions import db

            with db.engine.connect() as conn:
                assert conn.execute(text("SELECT count(*) FROM budgets WHERE amount = 123")).scalar() == 0
        # GET delete does not delete (FAB refuses GET mutations when CSRF is on) ...
        client.get(delete_url)
        assert _row_exists(real, "budgets", world.a.budget.id)
        # ... nor does a POST without the token ...
        assert client.post(delete_url).status_code == 400
        assert _row_exists(real, "budgets", world.a.budget.id)
        # ... while the same POST with the token does (so the refusals above were the token's).
        client.post(delete_url, data={"csrf_token": token})
        assert not _row_exists(real, "budgets", world.a.budget.id)


def test_rest_api_works_with_csrf_on(app: Flask, world: World) -> None:
    """FAB exempts its REST blueprints (JWT in a header, no cookies): the API keeps working."""
    with fresh_app(app) as real:
        endpoint_rule(real, "InquiryApi.post")
        client = real.test_client()
        token = api_token(client, "hansen.bruker")
        assert client.get("/api/v1/inquiry/", headers=auth_header(token)).status_code == 200
        response = client.post("/api/v1/inquiry/", json={"subject": "Hei fra API"}, headers=auth_header(token))
        assert "CSRF" not in response.get_data(as_text=True)
        assert response.status_code in (200, 201, 400, 422), response.get_data(as_text=True)


# --- Rate limiting ---------------------------------------------------------------------------


def test_rate_limiting_is_on_in_the_real_config() -> None:
    from config import Config

    assert Config.RATELIMIT_ENABLED is True and Config.AUTH_RATE_LIMITED is True


def test_login_page_is_rate_limited(app: Flask, world: World) -> None:
    with fresh_app(app, WTF_CSRF_ENABLED=False, AUTH_RATE_LIMIT="3 per minute") as real:
        client = real.test_client()
        codes = [client.post("/login/", data={"username": "admin", "password": "feil"}).status_code for _ in range(4)]
        assert codes[:3] == [200, 200, 200] or all(c in (200, 302) for c in codes[:3]), codes
        assert codes[3] == 429, codes
        # Even the right password is refused now, and the answer is the Norwegian error page.
        response = client.post("/login/", data={"username": "admin", "password": PASSWORD})
        assert response.status_code == 429
        assert "For mange" in response.get_data(as_text=True)


def test_api_login_is_rate_limited(app: Flask, world: World) -> None:
    with fresh_app(app, AUTH_RATE_LIMIT="3 per minute") as real:
        client = real.test_client()
        body = {"username": "admin", "password": "feil", "provider": "db"}
        codes = [client.post("/api/v1/security/login", json=body).status_code for _ in range(4)]
        assert codes[:3] == [401, 401, 401], codes
        assert codes[3] == 429, codes
        response = client.post(
            "/api/v1/security/login", json={"username": "admin", "password": PASSWORD, "provider": "db"}
        )
        assert response.status_code == 429
        assert "access_token" not in response.get_data(as_text=True)
        # Another client address has its own budget of attempts.
        other = client.post(
            "/api/v1/security/login", json={**body, "password": PASSWORD}, environ_base={"REMOTE_ADDR": "10.9.8.7"}
        )
        assert other.status_code == 200


# --- Secret key ------------------------------------------------------------------------------


def test_secret_key_is_generated_once_with_mode_600(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import config

    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setattr(config, "INSTANCE_DIR", tmp_path / "instance")
    first = config._secret_key()
    key_file = tmp_path / "instance" / "secret_key"
    assert key_file.exists()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert len(first) >= 32
    assert config._secret_key() == first, "the generated key is reused (sessions survive a restart)"
    monkeypatch.setenv("SECRET_KEY", "fra-miljoet-" + "x" * 40)
    assert config._secret_key() == "fra-miljoet-" + "x" * 40


def test_no_hard_coded_secret_key_in_the_source() -> None:
    pattern = re.compile(r"""(SECRET_KEY|JWT_SECRET_KEY)\s*=\s*["'][^"']+["']""")
    offenders = []
    for path in [ROOT / "config.py", ROOT / "run.py", *(ROOT / "app").rglob("*.py")]:
        if path.exists() and pattern.search(path.read_text(encoding="utf-8")):
            offenders.append(str(path.relative_to(ROOT)))
    assert not offenders, f"hard-coded secret key in {offenders}"


# --- Redirects -------------------------------------------------------------------------------


def test_safe_redirect_hosts_are_set() -> None:
    from config import Config

    assert Config.FAB_SAFE_REDIRECT_HOSTS, "an empty list makes FAB trust the Host header"


@pytest.mark.parametrize(
    "next_url",
    [
        "http://evil.example/",
        "https://evil.example/stjel",
        "//evil.example/",
        "http:evil.example",
        "https://localhost.evil.example/",
    ],
)
def test_login_does_not_redirect_off_site(client: FlaskClient, world: World, next_url: str) -> None:
    response = client.post(
        "/login/", query_string={"next": next_url}, data={"username": "hansen.bruker", "password": PASSWORD}
    )
    assert response.status_code == 302
    location = response.headers["Location"]
    assert "evil.example" not in location, location


def test_login_does_not_trust_a_spoofed_host(client: FlaskClient, world: World) -> None:
    response = client.post(
        "/login/",
        query_string={"next": "http://evil.example/"},
        data={"username": "hansen.bruker", "password": PASSWORD},
        headers={"Host": "evil.example"},
    )
    # TRUSTED_HOSTS refuses the host outright (tests/test_security_headers.py).
    assert response.status_code == 400
    assert "evil.example" not in response.headers.get("Location", ""), response.headers


def test_login_keeps_a_local_next(client: FlaskClient, world: World) -> None:
    response = client.post(
        "/login/", query_string={"next": "/users/userinfo/"}, data={"username": "hansen.bruker", "password": PASSWORD}
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/users/userinfo/")


# --- Caching ---------------------------------------------------------------------------------


def test_logged_in_pages_are_not_cached(client: FlaskClient, world: World) -> None:
    login(client, "hansen.bruker")
    for url in ("/", "/min-profil/"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert "no-store" in response.headers.get("Cache-Control", ""), url


def test_api_responses_are_not_cached(client: FlaskClient, world: World) -> None:
    token = api_token(client, "hansen.bruker")
    response = client.get("/api/v1/order/", headers=auth_header(token))
    assert response.status_code == 200
    assert "no-store" in response.headers.get("Cache-Control", "")
    # Error answers of the API (401) must not be cached either.
    response = client.get("/api/v1/order/")
    assert response.status_code == 401
    assert "no-store" in response.headers.get("Cache-Control", "")
    # The login answer carries the token.
    response = client.post(
        "/api/v1/security/login", json={"username": "hansen.bruker", "password": PASSWORD, "provider": "db"}
    )
    assert "no-store" in response.headers.get("Cache-Control", "")


def test_static_files_may_be_cached(client: FlaskClient, world: World) -> None:
    login(client, "hansen.bruker")
    response = client.get("/static/appbuilder/css/ab.css")
    assert response.status_code == 200
    assert "no-store" not in response.headers.get("Cache-Control", "")


def test_security_headers(client: FlaskClient, world: World) -> None:
    response = client.get("/login/")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"


# --- Error pages -----------------------------------------------------------------------------

SECRET_BITS = ("Traceback", "RuntimeError", "hemmelig-detalj", "SELECT", "finnes_ikke_tabell", 'File "')


def test_500_page_is_generic(app: Flask, world: World) -> None:
    with fresh_app(app) as real:

        @real.route("/test-only/boom")
        def boom() -> str:
            raise RuntimeError("hemmelig-detalj SELECT * FROM ab_user")

        @real.route("/test-only/db-error")
        def db_error() -> str:
            from app.extensions import db

            db.session.execute(text("SELECT secret FROM finnes_ikke_tabell"))
            return "ok"

        @real.route("/api/v1/test-only/boom")
        def api_boom() -> str:
            raise RuntimeError("hemmelig-detalj SELECT * FROM ab_user")

        client = real.test_client()
        for url in ("/test-only/boom", "/test-only/db-error", "/api/v1/test-only/boom"):
            response = client.get(url)
            body = response.get_data(as_text=True)
            assert response.status_code == 500, url
            for bit in SECRET_BITS:
                assert bit not in body, f"{url} shows {bit!r}"
        assert "Noe gikk galt" in client.get("/test-only/boom").get_data(as_text=True)
        # The session still works after a DB error (it was rolled back).
        assert client.get("/login/").status_code == 200


def test_404_page_is_norwegian(client: FlaskClient, world: World) -> None:
    response = client.get("/finnes/ikke/her")
    assert response.status_code == 404
    body = response.get_data(as_text=True)
    assert "Fant ikke siden" in body
    assert "Not Found" not in body
    api = client.get("/api/v1/finnes-ikke/")
    assert api.status_code == 404
    assert api.is_json


def test_debug_is_off_in_the_real_config() -> None:
    from config import Config

    assert not getattr(Config, "DEBUG", False)
    assert os.environ.get("FLASK_DEBUG") in (None, "", "0")
