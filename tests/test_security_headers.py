"""Headers and hosts: the Content-Security-Policy (Flask-Talisman, a nonce per request on every
inline script and style element), HSTS on HTTPS only, the cookie settings left to config.py,
and Flask's TRUSTED_HOSTS refusing a spoofed Host: before it reaches a redirect.

The browser's view of the same policy (no violation reported on any main page, per role):
tests/e2e/test_csp.py.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.factories import PASSWORD, World
from tests.helpers import client_as, login, text_of
from tests.test_security_defaults import fresh_app

ROOT = Path(__file__).resolve().parent.parent
SCRIPT_OR_STYLE = re.compile(r"<(script|style)\b([^>]*)>", re.IGNORECASE)
NONCE = re.compile(r"'nonce-([^']+)'")


def policy(response: object) -> dict[str, list[str]]:
    header = response.headers["Content-Security-Policy"]  # type: ignore[attr-defined]
    directives: dict[str, list[str]] = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            assert words[0] not in directives, f"{words[0]} twice in {header}"
            directives[words[0]] = words[1:]
    return directives


def nonce_of(response: object, directive: str) -> str:
    found = NONCE.findall(" ".join(policy(response)[directive]))
    assert len(found) == 1, policy(response)
    return found[0]


# --- the policy ---------------------------------------------------------------------------------


def test_the_policy_names_only_our_own_origin(client: FlaskClient, world: World) -> None:
    csp = policy(client.get("/login/"))
    assert csp["default-src"] == ["'self'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["object-src"] == ["'none'"]
    assert csp["base-uri"] == ["'self'"]
    assert csp["form-action"] == ["'self'"]
    assert csp["connect-src"] == ["'self'"]
    everything = [source for sources in csp.values() for source in sources]
    assert "'unsafe-eval'" not in everything
    # No third-party origin, no wildcard, no scheme that lets any host in (data: only for images).
    assert not [s for s in everything if s == "*" or "://" in s or s in ("http:", "https:", "blob:")], csp
    assert [d for d, sources in csp.items() if "data:" in sources] == ["img-src"]
    # Scripts only from us or with this response's nonce; never inline without it.
    assert "'unsafe-inline'" not in csp["script-src"] and "'self'" in csp["script-src"]
    assert "'unsafe-inline'" not in csp["style-src"]
    # The one exception: style="..." attributes (select2, bootstrap and Plotly set them).
    assert [d for d, sources in csp.items() if "'unsafe-inline'" in sources] == ["style-src-attr"]


def test_every_inline_script_and_style_carries_the_nonce_of_its_response(app: Flask, world: World) -> None:
    pages = {
        "anonymous": (app.test_client(), ["/login/"]),
        "hansen.bruker": (
            client_as(app, "hansen.bruker"),
            ["/", "/bestill/", f"/orderview/show/{world.a.order.id}", f"/quoteview/show/{world.a.quote.id}"],
        ),
        "hansen.admin": (client_as(app, "hansen.admin"), ["/bruksgrense/oversikt/", "/orderview/list/"]),
        "leder": (client_as(app, world.user("Manager")), ["/rapporter/salg/", "/rapporter/bruksgrenser/"]),
    }
    seen = 0
    for who, (client, urls) in pages.items():
        for url in urls:
            response = client.get(url)
            assert response.status_code == 200, (who, url, response.status_code)
            nonce = nonce_of(response, "script-src")
            assert nonce_of(response, "style-src") == nonce
            for tag, attributes in SCRIPT_OR_STYLE.findall(text_of(response)):
                if tag.lower() == "script" and re.search(r'type="application/json"', attributes):
                    continue  # data, never run
                assert f'nonce="{nonce}"' in attributes, (who, url, tag, attributes)
                seen += 1
    assert seen > 30  # FAB's scripts, the line editor, Plotly and its data


def test_the_nonce_is_new_on_every_response(client: FlaskClient, world: World) -> None:
    nonces = {nonce_of(client.get("/login/"), "script-src") for _ in range(5)}
    assert len(nonces) == 5 and all(len(n) >= 16 for n in nonces)


def test_the_api_and_error_pages_have_the_policy_too(client: FlaskClient, world: World) -> None:
    for response in (client.get("/api/v1/order/"), client.get("/finnes-ikke/")):
        assert policy(response)["frame-ancestors"] == ["'none'"]


def test_the_headers_that_were_there_stay(client: FlaskClient, world: World) -> None:
    login(client, "hansen.bruker")
    response = client.get("/")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["Cache-Control"] == "no-store"
    # One of each: Talisman and our own after_request do not both add them.
    for name in ("X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy", "Content-Security-Policy"):
        assert len(response.headers.getlist(name)) == 1, name


# --- HSTS ---------------------------------------------------------------------------------------


def test_hsts_on_https_only(client: FlaskClient, world: World) -> None:
    secure = client.get("/login/", base_url="https://localhost")
    assert secure.headers.getlist("Strict-Transport-Security") == ["max-age=31536000"]
    assert "Strict-Transport-Security" not in client.get("/login/").headers
    # A client's own X-Forwarded-Proto is not believed: only the trusted proxy makes a request
    # secure (gunicorn's FORWARDED_ALLOW_IPS, deploy/gunicorn.conf.py).
    spoofed = client.get("/login/", headers={"X-Forwarded-Proto": "https"})
    assert "Strict-Transport-Security" not in spoofed.headers
    # And plain HTTP is not sent on to HTTPS by the app (nginx does that).
    assert client.get("/login/").status_code == 200


def test_hsts_behind_the_proxy_as_deploy_sets_it_up(app: Flask, world: World) -> None:
    """gunicorn believes X-Forwarded-Proto from FORWARDED_ALLOW_IPS only and sets the scheme;
    deploy/gunicorn.conf.py's ProxyFix then takes the client address from X-Forwarded-For."""
    spec = importlib.util.spec_from_file_location("deploy_gunicorn_conf", ROOT / "deploy" / "gunicorn.conf.py")
    assert spec and spec.loader
    gunicorn_conf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gunicorn_conf)
    wrapped = gunicorn_conf.behind_proxy(app.wsgi_app, ["10.0.0.10"])
    original = app.wsgi_app
    app.wsgi_app = wrapped  # type: ignore[method-assign]
    try:
        client = app.test_client()
        proxied = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}
        # From nginx, with the scheme gunicorn set from its X-Forwarded-Proto: HSTS.
        from_proxy = client.get(
            "/login/", headers=proxied, environ_overrides={"REMOTE_ADDR": "10.0.0.10", "wsgi.url_scheme": "https"}
        )
        assert from_proxy.headers["Strict-Transport-Security"] == "max-age=31536000"
        # From anyone else gunicorn leaves the scheme http: no HSTS, whatever the headers say.
        direct = client.get("/login/", headers=proxied, environ_overrides={"REMOTE_ADDR": "198.51.100.7"})
        assert "Strict-Transport-Security" not in direct.headers
    finally:
        app.wsgi_app = original  # type: ignore[method-assign]


def test_hsts_max_age_zero_turns_it_off(app: Flask, world: World) -> None:
    with fresh_app(app, HSTS_MAX_AGE=0) as real:
        response = real.test_client().get("/login/", base_url="https://localhost")
        assert "Strict-Transport-Security" not in response.headers


# --- the session cookie is config.py's --------------------------------------------------------


def _session_cookie(client: FlaskClient, base_url: str = "http://localhost") -> str:
    page = text_of(client.get("/login/", base_url=base_url))
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    assert token
    response = client.post(
        "/login/",
        base_url=base_url,
        data={"username": "hansen.bruker", "password": PASSWORD, "csrf_token": token.group(1)},
        headers={"Referer": f"{base_url}/login/"},
    )
    assert response.status_code == 302, text_of(response)
    cookies = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("session=")]
    assert cookies
    return cookies[-1]


def test_talisman_leaves_the_session_cookie_to_config(app: Flask, world: World) -> None:
    with fresh_app(app, SESSION_COOKIE_SECURE=False) as real:
        cookie = _session_cookie(real.test_client())
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
        assert "Secure" not in cookie  # `make run` on plain HTTP keeps its login
        assert real.config["SESSION_COOKIE_SECURE"] is False
    with fresh_app(app, SESSION_COOKIE_SECURE=True) as real:
        cookie = _session_cookie(real.test_client(), "https://localhost")
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


# --- trusted hosts ------------------------------------------------------------------------------


def test_a_spoofed_host_is_400_and_never_reflected(client: FlaskClient, world: World) -> None:
    # The login redirect of an anonymous visit puts the request URL in next=: not for this host.
    good = client.get("/orderview/list/")
    assert good.status_code == 302 and "next=" in good.headers["Location"]
    assert "localhost" in good.headers["Location"]
    for url in ("/orderview/list/", "/", "/login/", "/api/v1/order/"):
        response = client.get(url, headers={"Host": "evil.example"})
        assert response.status_code == 400, (url, response.status_code)
        assert "Location" not in response.headers
        assert "evil.example" not in text_of(response)
    # X-Forwarded-Host is not believed at all (ProxyFix x_host=0), so it cannot smuggle one in.
    forwarded = client.get("/orderview/list/", headers={"X-Forwarded-Host": "evil.example"})
    assert forwarded.status_code == 302 and "evil.example" not in forwarded.headers["Location"]


def test_a_trusted_host_with_a_port_is_served(client: FlaskClient, world: World) -> None:
    assert client.get("/login/", headers={"Host": "127.0.0.1:8080"}).status_code == 200
    assert client.get("/login/", headers={"Host": "localhost:5000"}).status_code == 200


def test_a_spoofed_host_on_a_login_post_is_400(client: FlaskClient, world: World) -> None:
    response = client.post(
        "/login/",
        query_string={"next": "/orderview/list/"},
        data={"username": "hansen.bruker", "password": PASSWORD},
        headers={"Host": "evil.example"},
    )
    assert response.status_code == 400 and "Location" not in response.headers


def _config_hosts(env: dict[str, str]) -> list[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("TRUSTED_HOSTS", "PORTAL_BASE_URL")}
    result = subprocess.run(
        [sys.executable, "-c", "import json, config; print(json.dumps(config.Config.TRUSTED_HOSTS))"],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout)


@pytest.mark.parametrize(
    "env, hosts",
    [
        ({}, ["127.0.0.1", "localhost"]),
        ({"PORTAL_BASE_URL": "https://portal.example.no"}, ["127.0.0.1", "localhost", "portal.example.no"]),
        ({"PORTAL_BASE_URL": "http://10.1.2.3:8080/"}, ["127.0.0.1", "localhost", "10.1.2.3"]),
        (
            {"TRUSTED_HOSTS": "portal.example.no, .kunde.no", "PORTAL_BASE_URL": "https://x.no"},
            ["portal.example.no", ".kunde.no"],
        ),
    ],
)
def test_trusted_hosts_come_from_the_environment(env: dict[str, str], hosts: list[str], tmp_path: Path) -> None:
    assert _config_hosts({"PORTAL_INSTANCE_DIR": str(tmp_path), **env}) == hosts


def test_the_deploy_environment_names_the_trusted_hosts() -> None:
    text = (ROOT / "deploy" / "kundeportal.env").read_text()
    assert re.search(r"(?m)^TRUSTED_HOSTS=portal\.example\.no$", text)
