"""Failed logins are throttled per account and per client address, on the page and the API login
together, in the database or in Redis, so the count holds across workers and hosts; successful
logins use up nothing (app/domain/throttle.py, app/views/accounts/login.py, app/security.py)."""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from app.models import AuditEntry, PortalUser, ThrottleHit
from tests.factories import PASSWORD, World
from tests.helpers import count_rows, db_session, load, text_of
from tests.test_security_defaults import fresh_app

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/5")
API = "/api/v1/security/login"


@pytest.fixture()
def limits(app: Flask, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """The session app with the throttle on (TestConfig has it off): 3 failures per address,
    5 per account."""
    settings = {
        "RATELIMIT_ENABLED": True,
        "AUTH_RATE_LIMITED": True,
        "AUTH_RATE_LIMIT": "3 per 5 minute",
        "AUTH_ACCOUNT_RATE_LIMIT": "5 per 15 minute",
        "RATELIMIT_STORAGE_URI": "memory://",
    }
    for key, value in settings.items():
        monkeypatch.setitem(app.config, key, value)
    yield settings


def _address() -> str:
    return f"10.{random.randint(0, 255)}.{random.randint(0, 255)}.{random.randint(1, 254)}"


def page_login(client: Any, username: str, password: str, addr: str = "127.0.0.1") -> Any:
    return client.post("/login/", data={"username": username, "password": password}, environ_base={"REMOTE_ADDR": addr})


def api_login(client: Any, username: str, password: str, addr: str = "127.0.0.1") -> Any:
    body = {"username": username, "password": password, "provider": "db"}
    return client.post(API, json=body, environ_base={"REMOTE_ADDR": addr})


def _fail_count(app: Flask, username: str) -> int:
    with db_session(app) as s:
        return s.scalar(select(PortalUser.fail_login_count).where(PortalUser.username == username)) or 0


def _audit(app: Flask) -> list[tuple[str, str, str | None, str | None]]:
    with db_session(app) as s:
        rows = s.scalars(select(AuditEntry).where(AuditEntry.action == "login").order_by(AuditEntry.id))
        return [
            (e.outcome, (e.details or {}).get("channel"), (e.details or {}).get("reason"), e.actor_name) for e in rows
        ]


# --- per client address -------------------------------------------------------------------------


def test_failed_page_logins_are_throttled_per_address(app: Flask, world: World, limits: dict[str, Any]) -> None:
    client = app.test_client()
    attempts = [page_login(client, "hansen.bruker", "feil-passord") for _ in range(3)]
    assert [a.status_code for a in attempts] == [302, 302, 302]
    assert all("/login/" in a.headers["Location"] for a in attempts)
    assert [a.headers["X-RateLimit-Remaining"] for a in attempts] == ["2", "1", "0"]
    before = _fail_count(app, "hansen.bruker")

    # Over the limit: 429 with a Norwegian message, even with the right password, which is not checked.
    refused = page_login(client, "hansen.bruker", PASSWORD)
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "900"  # the longer window
    assert "For mange mislykkede innloggingsforsøk" in text_of(refused)
    assert _fail_count(app, "hansen.bruker") == before
    assert client.get("/orderview/list/").status_code == 302  # not logged in
    # Another account from the same address: the address is out of attempts.
    assert page_login(client, "berg.bruker", PASSWORD).status_code == 429
    # Another address may log in.
    assert page_login(app.test_client(), "berg.bruker", PASSWORD, addr=_address()).status_code == 302
    assert _audit(app)[:4] == [
        ("failed", "page", None, "hansen.bruker"),
        ("failed", "page", None, "hansen.bruker"),
        ("failed", "page", None, "hansen.bruker"),
        ("denied", "page", "throttled", "hansen.bruker"),
    ]


def test_the_page_and_the_api_share_one_count(app: Flask, world: World, limits: dict[str, Any]) -> None:
    client = app.test_client()
    assert page_login(client, "hansen.bruker", "feil").status_code == 302
    assert api_login(client, "hansen.bruker", "feil").status_code == 401
    assert page_login(client, "hansen.bruker", "feil").status_code == 302
    refused = api_login(client, "hansen.bruker", PASSWORD)
    assert refused.status_code == 429 and "access_token" not in text_of(refused)
    assert refused.headers["Retry-After"] == "900"
    assert "For mange" in refused.json["message"]
    assert ("denied", "api", "throttled", "hansen.bruker") in _audit(app)


# --- per account ------------------------------------------------------------------------------------


def test_failed_logins_are_throttled_per_account_from_any_address(
    app: Flask, world: World, limits: dict[str, Any]
) -> None:
    client = app.test_client()
    for _ in range(5):  # five addresses, one failure each: under every address's limit
        assert api_login(client, "Hansen.Bruker ", "feil", addr=_address()).status_code == 401
    assert api_login(client, "hansen.bruker", PASSWORD, addr=_address()).status_code == 429
    assert page_login(client, "hansen.bruker", PASSWORD, addr=_address()).status_code == 429
    # Other accounts are not held up.
    assert api_login(client, "hansen.admin", PASSWORD, addr=_address()).status_code == 200


def test_the_username_and_the_email_share_the_accounts_count(app: Flask, world: World, limits: dict[str, Any]) -> None:
    client = app.test_client()
    for name in ("hansen.admin", "HANSEN.ADMIN@example.no", "hansen.admin", "hansen.admin@example.no", "Hansen.Admin"):
        assert api_login(client, name, "feil", addr=_address()).status_code == 401
    assert api_login(client, "hansen.admin@example.no", PASSWORD, addr=_address()).status_code == 429
    # Names of no account are counted as typed.
    for _ in range(5):
        assert api_login(client, "finnes.ikke", "feil", addr=_address()).status_code == 401
    assert api_login(client, "finnes.ikke", "feil", addr=_address()).status_code == 429


def test_logins_are_audited(app: Flask, world: World) -> None:
    client = app.test_client()
    assert page_login(client, "hansen.bruker", PASSWORD).status_code == 302
    assert api_login(client, "berg.bruker", PASSWORD).status_code == 200
    assert api_login(client, "ingen.slik", "feil").status_code == 401
    with db_session(app) as s:
        rows = list(s.scalars(select(AuditEntry).where(AuditEntry.action == "login").order_by(AuditEntry.id)))
    assert [(e.outcome, e.actor_id, e.actor_name, e.details["channel"]) for e in rows] == [
        ("ok", world.a.user.id, "hansen.bruker", "page"),
        ("ok", world.b.user.id, "berg.bruker", "api"),
        ("failed", None, "ingen.slik", "api"),
    ]
    assert rows[0].company_id == world.a.company.id and rows[0].client_addr == "127.0.0.1"


def test_a_successful_login_forgets_the_accounts_failures(app: Flask, world: World, limits: dict[str, Any]) -> None:
    client = app.test_client()
    for _ in range(4):
        assert api_login(client, "hansen.bruker", "feil", addr=_address()).status_code == 401
    assert api_login(client, "hansen.bruker", PASSWORD, addr=_address()).status_code == 200
    for _ in range(4):  # a fresh budget of five
        assert api_login(client, "hansen.bruker", "feil", addr=_address()).status_code == 401
    assert api_login(client, "hansen.bruker", PASSWORD, addr=_address()).status_code == 200


# --- successful logins use up nothing ---------------------------------------------------------------


def test_an_office_behind_one_address_is_never_locked_out_by_good_logins(
    app: Flask, world: World, limits: dict[str, Any]
) -> None:
    client = app.test_client()
    for i in range(50):
        username = ("hansen.bruker", "hansen.admin", "berg.bruker")[i % 3]
        answer = (page_login if i % 2 else api_login)(app.test_client(), username, PASSWORD)
        assert answer.status_code in (200, 302) and "/login/" not in answer.headers.get("Location", ""), i
    # ...while the failures still count as before.
    assert [page_login(client, "hansen.bruker", "feil").status_code for _ in range(4)] == [302, 302, 302, 429]


def test_fabs_own_login_limiter_is_not_applied(app: Flask, world: World) -> None:
    """The real Config, with FAB's limiter storage: many good logins from one address get through."""
    with fresh_app(app, WTF_CSRF_ENABLED=False, AUTH_RATE_LIMIT="3 per minute") as real:
        codes = [
            real.test_client().post("/login/", data={"username": "hansen.bruker", "password": PASSWORD}).status_code
            for _ in range(8)
        ]
        assert codes == [302] * 8
        assert count_rows(real, ThrottleHit) == 0


def test_throttle_off_counts_nothing(app: Flask, world: World) -> None:
    """TestConfig's RATELIMIT_ENABLED=False: no counting at all."""
    client = app.test_client()
    for _ in range(12):
        assert page_login(client, "hansen.bruker", "feil").status_code == 302
    assert count_rows(app, ThrottleHit) == 0
    assert load(app, PortalUser, world.a.user.id).fail_login_count == 12


# --- holds across workers and hosts ---------------------------------------------------------------


def _alternating(first: Flask, second: Flask, username: str, addr: str) -> list[int]:
    """Failed API logins taken in turn by two app instances, then a right password on each."""
    apps = (first, second)
    codes = [api_login(apps[i % 2].test_client(), username, "feil", addr=addr).status_code for i in range(4)]
    codes += [api_login(a.test_client(), username, PASSWORD, addr=addr).status_code for a in apps]
    return codes


def test_two_app_instances_on_one_database_share_the_count(app: Flask, world: World, limits: dict[str, Any]) -> None:
    """Two apps, each with its own memory, on one database (as two gunicorn workers or hosts)."""
    with fresh_app(app, **{**limits, "WTF_CSRF_ENABLED": False}) as other:
        codes = _alternating(app, other, "hansen.bruker", _address())
    # The third failure used up the address's three; the fourth is refused whichever app takes it.
    assert codes == [401, 401, 401, 429, 429, 429], codes
    assert count_rows(app, ThrottleHit, bucket="login_address") == 3


def _redis_or_skip() -> Any:
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_timeout=3)
    try:
        client.ping()
    except redis.RedisError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true: Redis must answer on {REDIS_URL}: {exc}")
        pytest.skip(f"Redis does not answer on {REDIS_URL}: {exc}")
    return client


def test_two_app_instances_on_redis_share_the_count(
    app: Flask, world: World, limits: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    redis = _redis_or_skip()
    account = f"*LIMITER/login_account/user:{world.a.user.id}/*"
    for key in redis.scan_iter(match=account):
        redis.delete(key)
    monkeypatch.setitem(app.config, "RATELIMIT_STORAGE_URI", REDIS_URL)
    addr = _address()
    with fresh_app(app, **{**limits, "RATELIMIT_STORAGE_URI": REDIS_URL, "WTF_CSRF_ENABLED": False}) as other:
        codes = _alternating(app, other, "hansen.bruker", addr)
    assert codes == [401, 401, 401, 429, 429, 429], codes
    assert count_rows(app, ThrottleHit) == 0, "counted in Redis, not in the database"
    assert list(redis.scan_iter(match=f"*LIMITER/login_address/{addr}/*"))
    for key in redis.scan_iter(match=account):
        redis.delete(key)


def test_an_unreachable_redis_falls_back_to_the_database(
    app: Flask, world: World, limits: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The throttle never fails open: with Redis gone the database counts."""
    monkeypatch.setitem(app.config, "RATELIMIT_STORAGE_URI", "redis://127.0.0.1:1/0")
    client = app.test_client()
    codes = [api_login(client, "hansen.bruker", "feil").status_code for _ in range(4)]
    assert codes == [401, 401, 401, 429]
    assert count_rows(app, ThrottleHit, bucket="login_address") == 3


def test_a_mistyped_limit_stops_the_start(app: Flask) -> None:
    with pytest.raises(ValueError, match="AUTH_ACCOUNT_RATE_LIMIT"), fresh_app(app, AUTH_ACCOUNT_RATE_LIMIT="ti per"):
        pass
