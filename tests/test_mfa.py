"""Two-factor login: enrolment, recovery codes, turning it off, reset, enforcement per role, the API.

Time is fixed per test (`clock`): the domain's clock is app/domain/mfa.py's `utcnow`, so the codes
of the steps around it are known and no test depends on where in a 30 s step it runs. Users are
enrolled either through the pages/API under test or, where the login itself is not under test,
directly in the database (`enrol_in_db`), so a login or a token taken before stays valid.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyotp
import pytest
from flask import Flask
from sqlalchemy import select
from werkzeug.security import check_password_hash

from app.domain import audit, mfa
from app.domain.actors import Actor
from app.domain.errors import Forbidden, NotAllowed, ValidationFailed
from app.models import AuditEntry, MfaRecoveryCode, PortalUser
from tests.factories import PASSWORD, World
from tests.helpers import (
    actor,
    api_token,
    auth_header,
    client_as,
    count_rows,
    db_session,
    endpoint_rule,
    field_errors,
    is_postgres,
    load,
    text_of,
)

NOW = dt.datetime(2026, 12, 2, 8, 0, 10, tzinfo=dt.UTC)
STEP = int(NOW.timestamp()) // 30
STAFF = ("Admin", "Seller", "CustomerService", "Manager")


@pytest.fixture()
def clock(monkeypatch: pytest.MonkeyPatch) -> Callable[[int], None]:
    """The domain's time is NOW; `clock(n)` moves it n steps (30 s each) on."""
    current = {"at": NOW}
    monkeypatch.setattr(mfa, "utcnow", lambda: current["at"])

    def move(steps: int) -> None:
        current["at"] = NOW + dt.timedelta(seconds=30 * steps)

    return move


def code(secret: str, offset: int = 0) -> str:
    """The code of the step `offset` steps from NOW."""
    return pyotp.TOTP(secret).generate_otp(STEP + offset)


def user_row(app: Flask, user: PortalUser) -> PortalUser:
    row = load(app, PortalUser, user.id)
    assert row is not None
    return row


def enrol_in_db(app: Flask, user: PortalUser) -> tuple[str, list[str]]:
    """The user enrolled (secret and 10 recovery codes), without a new security stamp."""
    secret = mfa.new_secret()
    with app.test_request_context(), db_session(app) as s:
        row = s.get(PortalUser, user.id)
        assert row is not None
        row.mfa_secret = secret
        row.mfa_enabled_at = NOW
        codes = mfa.new_recovery_codes(s, row)
        s.commit()
    return secret, codes


def mfa_audit(app: Flask, event: str) -> list[AuditEntry]:
    with db_session(app) as s:
        rows = s.scalars(select(AuditEntry).where(AuditEntry.action == audit.MFA).order_by(AuditEntry.id)).all()
    return [r for r in rows if (r.details or {}).get("event") == event]


class Domain:
    """The domain functions over a plain session, in a request context (messages, config)."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def __call__(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        with self.app.test_request_context(), db_session(self.app) as s:
            try:
                result = fn(s, *args, **kwargs)
            except Exception:
                s.rollback()
                raise
            s.commit()
            return result


@pytest.fixture()
def domain(app: Flask) -> Domain:
    return Domain(app)


def me(world: World, role: str) -> Actor:
    return actor(world.user(role), role)


# --- the domain: enrolment, codes once, drift, replay, recovery codes ----------------------------


def test_enrolment_is_pending_until_a_code_confirms_it(app: Flask, world: World, domain: Domain, clock: Any) -> None:
    user = world.user("Seller")
    stamp = user_row(app, user).security_stamp
    enrolment = domain(mfa.start_enrolment, me(world, "Seller"))
    row = user_row(app, user)
    assert row.mfa_pending_secret == enrolment.secret and row.mfa_secret is None
    assert not mfa.enrolled(row)
    assert enrolment.uri.startswith("otpauth://totp/Kundeportal:") and f"secret={enrolment.secret}" in enrolment.uri
    assert enrolment.qr_svg.startswith("<svg") and "<script" not in enrolment.qr_svg
    # A code of the pending secret does not log in.
    with app.test_request_context(), db_session(app) as s:
        assert not mfa.verify_login_code(s, s.get(PortalUser, user.id), code(enrolment.secret))

    with pytest.raises(ValidationFailed) as wrong:
        domain(mfa.confirm_enrolment, me(world, "Seller"), "000000" if code(enrolment.secret) != "000000" else "111111")
    assert set(wrong.value.errors) == {"code"}
    with pytest.raises(ValidationFailed) as empty:
        domain(mfa.confirm_enrolment, me(world, "Seller"), "")
    assert "Skriv inn koden" in empty.value.errors["code"]
    assert not mfa.enrolled(user_row(app, user))

    codes = domain(mfa.confirm_enrolment, me(world, "Seller"), code(enrolment.secret))
    row = user_row(app, user)
    assert mfa.enrolled(row) and row.mfa_secret == enrolment.secret and row.mfa_pending_secret is None
    assert row.mfa_enabled_at is not None
    assert row.security_stamp != stamp  # the user's other sessions and tokens end
    assert len(codes) == 10 and len(set(codes)) == 10
    with db_session(app) as s:
        hashes = s.scalars(select(MfaRecoveryCode.code_hash).where(MfaRecoveryCode.user_id == user.id)).all()
    assert len(hashes) == 10 and not any(c in h for c in codes for h in hashes)  # stored hashed only
    assert [e.target_id for e in mfa_audit(app, "enrolled")] == [str(user.id)]


def test_confirm_without_a_started_enrolment_is_refused(world: World, domain: Domain, clock: Any) -> None:
    with pytest.raises(NotAllowed):
        domain(mfa.confirm_enrolment, me(world, "Seller"), "123456")


def test_a_code_logs_in_once_and_never_an_older_one(app: Flask, world: World, domain: Domain, clock: Any) -> None:
    user = world.user("Manager")
    enrolment = domain(mfa.start_enrolment, me(world, "Manager"))
    domain(mfa.confirm_enrolment, me(world, "Manager"), code(enrolment.secret, -1))

    def login_code(value: str) -> bool:
        return bool(domain(lambda s: mfa.verify_login_code(s, s.get(PortalUser, user.id), value)))

    assert not login_code(code(enrolment.secret, -1))  # the confirming code is used up
    assert login_code(code(enrolment.secret, 0))
    assert not login_code(code(enrolment.secret, 0))  # replay
    assert login_code(code(enrolment.secret, 1))
    clock(1)
    assert not login_code(code(enrolment.secret, 0))  # older than one used: refused


def test_the_clock_may_be_one_step_off_and_no_more() -> None:
    secret = mfa.new_secret()
    for offset in (-1, 0, 1):
        assert mfa.matching_step(secret, code(secret, offset), NOW) == STEP + offset
    for offset in (-3, -2, 2, 3):
        assert mfa.matching_step(secret, code(secret, offset), NOW) is None
    assert mfa.matching_step(secret, f"{code(secret)[:3]} {code(secret)[3:]}", NOW) == STEP  # spaces ok
    for bad in ("", "12345", "1234567", "abcdef", None):
        assert mfa.matching_step(secret, bad, NOW) is None  # type: ignore[arg-type]


def test_a_recovery_code_works_once(app: Flask, world: World, domain: Domain, clock: Any) -> None:
    user = world.user("CustomerService")
    _secret, codes = enrol_in_db(app, user)

    def login_code(value: str) -> bool:
        return bool(domain(lambda s: mfa.verify_login_code(s, s.get(PortalUser, user.id), value)))

    assert login_code(codes[3].upper())
    assert not login_code(codes[3])
    assert login_code(codes[4].replace("-", ""))
    assert not login_code("abcdef-abcdef")
    assert domain(mfa.status, me(world, "CustomerService")).recovery_codes_left == 8


def test_new_recovery_codes_need_a_current_code_and_end_the_old(
    app: Flask, world: World, domain: Domain, clock: Any
) -> None:
    user = world.user("Seller")
    secret, old = enrol_in_db(app, user)
    stamp = user_row(app, user).security_stamp
    with pytest.raises(ValidationFailed) as wrong:
        domain(mfa.regenerate_recovery_codes, me(world, "Seller"), "12345x")
    assert set(wrong.value.errors) == {"code"}
    new = domain(mfa.regenerate_recovery_codes, me(world, "Seller"), code(secret))
    assert len(new) == 10 and not set(new) & set(old)
    assert user_row(app, user).security_stamp == stamp  # nothing weakened: sessions stay
    with app.test_request_context(), db_session(app) as s:
        row = s.get(PortalUser, user.id)
        assert not mfa.use_recovery_code(s, row, old[0])
        assert mfa.use_recovery_code(s, row, new[0])
    assert len(mfa_audit(app, "recovery_codes_regenerated")) == 1
    with pytest.raises(NotAllowed):
        domain(mfa.regenerate_recovery_codes, me(world, "Manager"), "123456")  # not enrolled


def test_turning_off_needs_a_code_or_the_password(app: Flask, world: World, domain: Domain, clock: Any) -> None:
    user = world.user("CustomerAdmin")
    secret, _codes = enrol_in_db(app, user)
    with pytest.raises(ValidationFailed) as neither:
        domain(mfa.disable, me(world, "CustomerAdmin"))
    assert set(neither.value.errors) == {"code"}
    with pytest.raises(ValidationFailed) as wrong:
        domain(mfa.disable, me(world, "CustomerAdmin"), password="feil-passord")
    assert set(wrong.value.errors) == {"password"}
    stamp = user_row(app, user).security_stamp
    domain(mfa.disable, me(world, "CustomerAdmin"), password=PASSWORD)
    row = user_row(app, user)
    assert not mfa.enrolled(row) and row.mfa_secret is None and row.security_stamp != stamp
    assert count_rows(app, MfaRecoveryCode, user_id=user.id) == 0
    assert mfa_audit(app, "disabled")[0].details == {"event": "disabled", "proof": "password"}

    secret, _codes = enrol_in_db(app, user)
    domain(mfa.disable, me(world, "CustomerAdmin"), code=code(secret))
    assert not mfa.enrolled(user_row(app, user))
    assert mfa_audit(app, "disabled")[1].details == {"event": "disabled", "proof": "code"}


def test_turning_off_is_refused_while_the_role_requires_it(
    app: Flask, world: World, domain: Domain, clock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "MFA_REQUIRED_FOR_STAFF", True)
    secret, _codes = enrol_in_db(app, world.user("Seller"))
    with pytest.raises(NotAllowed):
        domain(mfa.disable, me(world, "Seller"), code=code(secret))
    assert mfa.enrolled(user_row(app, world.user("Seller")))


def test_a_new_phone_needs_the_current_factor_and_replaces_the_secret(
    app: Flask, world: World, domain: Domain, clock: Any
) -> None:
    user = world.user("Seller")
    old, recovery = enrol_in_db(app, user)
    with pytest.raises(ValidationFailed):
        domain(mfa.start_enrolment, me(world, "Seller"))  # a stolen session cannot swap the phone
    # A recovery code counts as the current factor (the old phone is gone).
    new = domain(mfa.start_enrolment, me(world, "Seller"), recovery[0]).secret
    assert user_row(app, user).mfa_secret == old  # the old one works until the new one is confirmed
    with pytest.raises(ValidationFailed):
        domain(mfa.confirm_enrolment, me(world, "Seller"), code(old))
    codes = domain(mfa.confirm_enrolment, me(world, "Seller"), code(new))
    row = user_row(app, user)
    assert row.mfa_secret == new and len(codes) == 10
    with app.test_request_context(), db_session(app) as s:
        fresh = s.get(PortalUser, user.id)
        assert not mfa.verify_login_code(s, fresh, code(old, 1))
        assert not mfa.verify_login_code(s, fresh, recovery[1])  # the old recovery codes are gone
        assert mfa.verify_login_code(s, fresh, code(new, 1))
    assert len(mfa_audit(app, "reenrolled")) == 1


def test_reset_by_supplier_staff(app: Flask, world: World, domain: Domain, clock: Any) -> None:
    customer, seller = world.user("CustomerUser"), world.user("Seller")
    enrol_in_db(app, customer)
    enrol_in_db(app, seller)
    for role in ("CustomerAdmin", "CustomerUser", "Seller", "Manager"):
        with pytest.raises(Forbidden):
            domain(mfa.reset, me(world, role), customer.id)
    with pytest.raises(Forbidden):
        domain(mfa.reset, me(world, "CustomerService"), seller.id)  # staff: Admin only
    stamp = user_row(app, customer).security_stamp
    domain(mfa.reset, me(world, "CustomerService"), customer.id)
    row = user_row(app, customer)
    assert not mfa.enrolled(row) and row.security_stamp != stamp
    assert count_rows(app, MfaRecoveryCode, user_id=customer.id) == 0
    domain(mfa.reset, me(world, "Admin"), seller.id)
    assert not mfa.enrolled(user_row(app, seller))
    with pytest.raises(NotAllowed):
        domain(mfa.reset, me(world, "Admin"), seller.id)  # nothing to reset
    entries = mfa_audit(app, "reset")
    assert [(e.target_id, e.company_id) for e in entries] == [
        (str(customer.id), customer.company_id),
        (str(seller.id), None),
    ]


def test_cli_mfa_reset(app: Flask, world: World) -> None:
    user = world.user("Manager")
    enrol_in_db(app, user)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["portal", "mfa-reset", user.username])
    assert result.exit_code == 0, result.output
    assert "tilbakestilt" in result.output
    assert not mfa.enrolled(user_row(app, user))
    assert mfa_audit(app, "reset")[0].actor_name == "portal mfa-reset"
    again = runner.invoke(args=["portal", "mfa-reset", user.username])
    assert again.exit_code != 0 and "har ikke tofaktorinnlogging" in again.output
    missing = runner.invoke(args=["portal", "mfa-reset", "finnes.ikke"])
    assert missing.exit_code != 0 and "finnes ikke" in missing.output


@pytest.mark.postgres
def test_two_simultaneous_uses_of_one_code_one_wins(app: Flask, world: World, clock: Any) -> None:
    user = world.user("Seller")
    secret, recovery = enrol_in_db(app, user)
    for value in (code(secret), recovery[0]):
        barrier = threading.Barrier(2)
        results: list[bool] = []

        def use(value: str = value, barrier: threading.Barrier = barrier, results: list[bool] = results) -> None:
            with app.test_request_context(), db_session(app) as s:
                row = s.get(PortalUser, user.id)
                barrier.wait()
                results.append(mfa.verify_login_code(s, row, value))
                s.commit()

        threads = [threading.Thread(target=use) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(results) == [False, True], value


@pytest.mark.postgres
def test_two_simultaneous_confirmations_make_one_set_of_codes(
    app: Flask, world: World, domain: Domain, clock: Any
) -> None:
    assert is_postgres(app)
    user = world.user("Seller")
    secret = domain(mfa.start_enrolment, me(world, "Seller")).secret
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def confirm() -> None:
        with app.test_request_context(), db_session(app) as s:
            barrier.wait()
            try:
                mfa.confirm_enrolment(s, me(world, "Seller"), code(secret))
                s.commit()
                outcomes.append("ok")
            except NotAllowed:
                s.rollback()
                outcomes.append("refused")

    threads = [threading.Thread(target=confirm) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["ok", "refused"]
    assert count_rows(app, MfaRecoveryCode, user_id=user.id) == 10
    assert len(mfa_audit(app, "enrolled")) == 1


# --- the pages ------------------------------------------------------------------------------------


def _secret_from_page(html: str) -> str:
    start = html.index('class="mfa-secret">') + len('class="mfa-secret">')
    return html[start : html.index("</code>", start)].replace(" ", "")


def test_enrolment_on_min_profil(app: Flask, world: World, clock: Any) -> None:
    user = world.user("CustomerUser")
    client = client_as(app, user)
    other = client_as(app, user)  # another device, logged in before
    profile = text_of(client.get("/min-profil/"))
    assert 'href="/min-profil/tofaktor/"' in profile and "Tofaktorinnlogging" in profile

    page = text_of(client.get("/min-profil/tofaktor/"))
    assert "ikke satt opp" in page and "<svg" not in page
    assert client.post("/min-profil/tofaktor/start").status_code == 302
    page = text_of(client.get("/min-profil/tofaktor/"))
    assert "<svg" in page and "<script" not in page.split("<svg", 1)[1].split("</svg>", 1)[0]
    secret = _secret_from_page(page)
    assert user_row(app, user).mfa_pending_secret == secret

    wrong = client.post("/min-profil/tofaktor/bekreft", data={"code": "12345"})
    assert wrong.status_code == 200 and "Koden stemmer ikke" in text_of(wrong)
    assert not mfa.enrolled(user_row(app, user))

    done = client.post("/min-profil/tofaktor/bekreft", data={"code": code(secret)})
    html = text_of(done)
    assert done.status_code == 200 and "Skriv dem ut eller lagre dem et trygt sted" in html
    assert html.count("<li><code>") == 10
    assert mfa.enrolled(user_row(app, user))
    assert client.get("/min-profil/").status_code == 200  # this session stays
    assert other.get("/min-profil/").status_code == 302  # the other device is logged out
    status = text_of(client.get("/min-profil/tofaktor/"))
    assert "Ubrukte gjenopprettingskoder: 10 av 10" in status
    assert "Skriv dem ut" not in status and secret not in status  # codes and secret shown once


def test_new_codes_and_turning_off_on_the_page(app: Flask, world: World, clock: Any) -> None:
    user = world.user("CustomerAdmin")
    client = client_as(app, user)
    secret, _old = enrol_in_db(app, user)
    wrong = client.post("/min-profil/tofaktor/nye-koder", data={"code": "000000x"})
    assert "Koden stemmer ikke" in text_of(wrong)
    new = client.post("/min-profil/tofaktor/nye-koder", data={"code": code(secret)})
    assert text_of(new).count("<li><code>") == 10

    bad = client.post("/min-profil/tofaktor/skru-av", data={"password": "feil"})
    assert bad.status_code == 200 and "Passordet er feil" in text_of(bad)
    off = client.post("/min-profil/tofaktor/skru-av", data={"password": PASSWORD})
    assert off.status_code == 302 and off.headers["Location"].endswith("/min-profil/")
    assert not mfa.enrolled(user_row(app, user))
    assert client.get("/min-profil/").status_code == 200


def test_the_page_offers_no_turning_off_when_required(
    app: Flask, world: World, clock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "MFA_REQUIRED_ROLES", ["CustomerAdmin"])
    user = world.user("CustomerAdmin")
    secret, _codes = enrol_in_db(app, user)
    client = client_as(app, user)
    page = text_of(client.get("/min-profil/tofaktor/"))
    assert "Rollen din krever tofaktorinnlogging" in page and "/min-profil/tofaktor/skru-av" not in page
    client.post("/min-profil/tofaktor/skru-av", data={"code": code(secret)})
    assert mfa.enrolled(user_row(app, user))


# --- the API --------------------------------------------------------------------------------------


def test_api_enrolment(app: Flask, world: World, clock: Any) -> None:
    user = world.user("Manager")
    client = app.test_client()
    headers = auth_header(api_token(client, user.username))
    status = client.get("/api/v1/mfa/", headers=headers)
    assert status.status_code == 200
    assert status.json == {
        "enrolled": False,
        "enabled_at": None,
        "required": False,
        "pending": False,
        "recovery_codes_left": 0,
    }
    assert client.post("/api/v1/mfa/confirm", json={"code": "123456"}, headers=headers).status_code == 409
    started = client.post("/api/v1/mfa/enrol", headers=headers)
    assert started.status_code == 200, started.json
    secret = started.json["secret"]
    assert started.json["otpauth_uri"].startswith("otpauth://totp/") and started.json["qr_svg"].startswith("<svg")
    assert client.get("/api/v1/mfa/", headers=headers).json["pending"] is True

    assert field_errors(client.post("/api/v1/mfa/confirm", json={"code": "12"}, headers=headers)).keys() == {"code"}
    assert field_errors(client.post("/api/v1/mfa/confirm", json={"code": 123456}, headers=headers)).keys() == {"code"}
    assert field_errors(client.post("/api/v1/mfa/confirm", json=[1], headers=headers))
    done = client.post("/api/v1/mfa/confirm", json={"code": code(secret)}, headers=headers)
    assert done.status_code == 200 and len(done.json["recovery_codes"]) == 10
    assert mfa.enrolled(user_row(app, user))
    # The confirmation ended the user's tokens, this one too: log in again (with a code).
    assert client.get("/api/v1/mfa/", headers=headers).status_code == 401


def test_api_new_codes_and_turning_off(app: Flask, world: World, clock: Any) -> None:
    user = world.user("CustomerUser")
    client = app.test_client()
    headers = auth_header(api_token(client, user.username))
    secret, _codes = enrol_in_db(app, user)
    state = client.get("/api/v1/mfa/", headers=headers).json
    assert state["enrolled"] is True and state["recovery_codes_left"] == 10 and state["enabled_at"]
    assert field_errors(client.post("/api/v1/mfa/enrol", json={}, headers=headers)).keys() == {"code"}
    assert field_errors(client.post("/api/v1/mfa/recovery_codes", json={"code": "1"}, headers=headers))
    new = client.post("/api/v1/mfa/recovery_codes", json={"code": code(secret, -1)}, headers=headers)
    assert new.status_code == 200 and len(new.json["recovery_codes"]) == 10
    assert field_errors(client.post("/api/v1/mfa/disable", json={"password": "x"}, headers=headers)).keys() == {
        "password"
    }
    assert field_errors(client.post("/api/v1/mfa/disable", json={"code": code(secret, -1)}, headers=headers))  # used
    off = client.post("/api/v1/mfa/disable", json={"code": code(secret)}, headers=headers)
    assert off.status_code == 200
    assert not mfa.enrolled(user_row(app, user))
    assert client.post("/api/v1/mfa/disable", json={}, headers=headers).status_code == 401


def test_api_needs_a_login(app: Flask, world: World) -> None:
    client = app.test_client()
    assert client.get("/api/v1/mfa/").status_code == 401
    assert client.post("/api/v1/mfa/enrol").status_code == 401
    # A browser session does not open the API (JWT only, no CSRF-less cookie writes).
    browser = client_as(app, world.user("Seller"))
    assert browser.post("/api/v1/mfa/enrol").status_code == 401
    assert user_row(app, world.user("Seller")).mfa_pending_secret is None


# --- nobody reads or changes another user's two-factor login ---------------------------------------


def test_no_route_reaches_another_users_two_factor_login(app: Flask, world: World, clock: Any) -> None:
    victim = world.b.admin
    secret, _codes = enrol_in_db(app, victim)
    before = user_row(app, victim)
    client = app.test_client()
    headers = auth_header(api_token(client, world.user("CustomerAdmin").username))
    # No route takes a user id; one in the body is refused, not used.
    for url in ("/api/v1/mfa/enrol", "/api/v1/mfa/confirm", "/api/v1/mfa/recovery_codes", "/api/v1/mfa/disable"):
        response = client.post(url, json={"user_id": victim.id, "code": code(secret)}, headers=headers)
        assert response.status_code == 400 and "user_id" in response.json["message"], url
    assert client.get(f"/api/v1/mfa/{victim.id}", headers=headers).status_code in (404, 405)
    page = client_as(app, world.user("CustomerAdmin"))
    page.post("/min-profil/tofaktor/skru-av", data={"code": code(secret), "user_id": victim.id})
    after = user_row(app, victim)
    assert (after.mfa_secret, after.mfa_last_step, after.security_stamp) == (
        before.mfa_secret,
        before.mfa_last_step,
        before.security_stamp,
    )
    # The user admin's API never shows the secret (customer service sees every user).
    cs = auth_header(api_token(app.test_client(), world.user("CustomerService").username))
    shown = app.test_client().get(f"/api/v1/user/{victim.id}", headers=cs)
    assert shown.status_code == 200 and secret not in shown.get_data(as_text=True)
    assert "mfa" not in shown.get_data(as_text=True)


# --- enforcement per role -------------------------------------------------------------------------


def _orders(app: Flask) -> str:
    return endpoint_rule(app, "OrderView.list")


def test_enforcement_off_by_default(app: Flask, world: World) -> None:
    assert mfa.required_roles(app.config) == frozenset()
    for role in STAFF:
        client = client_as(app, world.user(role))
        assert client.get(_orders(app)).status_code == 200, role
        headers = auth_header(api_token(app.test_client(), world.user(role).username))
        assert app.test_client().get("/api/v1/order/", headers=headers).status_code == 200, role


def test_required_for_staff_sends_them_to_enrol_first(
    app: Flask, world: World, clock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "MFA_REQUIRED_FOR_STAFF", True)
    assert mfa.required_roles(app.config) == frozenset(STAFF)
    for role in STAFF:
        client = client_as(app, world.user(role))
        response = client.get(_orders(app))
        assert response.status_code == 302 and response.headers["Location"].endswith("/min-profil/tofaktor/"), role
        assert client.get("/min-profil/").headers["Location"].endswith("/min-profil/tofaktor/")
        assert client.get("/min-profil/tofaktor/").status_code == 200
        assert client.get("/static/appbuilder/css/ab.css").status_code == 200
        assert client.get("/lang/nb").status_code == 302
        headers = auth_header(api_token(app.test_client(), world.user(role).username))
        refused = app.test_client().get("/api/v1/order/", headers=headers)
        assert refused.status_code == 403 and "tofaktorinnlogging" in refused.json["message"], role
        assert app.test_client().get("/api/v1/mfa/", headers=headers).json["required"] is True
    # Customers are not staff.
    for role in ("CustomerAdmin", "CustomerUser"):
        assert client_as(app, world.user(role)).get(_orders(app)).status_code == 200, role
    # Once enrolled, everything is open again.
    seller = client_as(app, world.user("Seller"))
    assert seller.post("/min-profil/tofaktor/start").status_code == 302
    secret = _secret_from_page(text_of(seller.get("/min-profil/tofaktor/")))
    assert seller.post("/min-profil/tofaktor/bekreft", data={"code": code(secret)}).status_code == 200
    assert seller.get(_orders(app)).status_code == 200


def test_enrolment_through_the_api_while_required(
    app: Flask, world: World, clock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "MFA_REQUIRED_ROLES", ["CustomerService"])
    client = app.test_client()
    headers = auth_header(api_token(client, world.user("CustomerService").username))
    assert client.get("/api/v1/company/", headers=headers).status_code == 403
    secret = client.post("/api/v1/mfa/enrol", headers=headers).json["secret"]
    assert client.post("/api/v1/mfa/confirm", json={"code": code(secret)}, headers=headers).status_code == 200
    assert mfa.enrolled(user_row(app, world.user("CustomerService")))


def test_required_roles_listed_by_name(app: Flask, world: World, clock: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(app.config, "MFA_REQUIRED_ROLES", ["CustomerAdmin"])
    assert client_as(app, world.user("CustomerAdmin")).get(_orders(app)).status_code == 302
    for role in ("CustomerUser", "Seller", "Admin"):
        assert client_as(app, world.user(role)).get(_orders(app)).status_code == 200, role
    # Logging out stays open (whatever the logout route answers, it is not sent to enrol).
    forced = client_as(app, world.user("CustomerAdmin"))
    for method in (forced.get, forced.post):
        assert "tofaktor" not in method("/logout/").headers.get("Location", "")


def test_required_roles_from_settings() -> None:
    assert mfa.required_roles({"MFA_REQUIRED_ROLES": " Admin, Seller ,", "MFA_REQUIRED_FOR_STAFF": False}) == {
        "Admin",
        "Seller",
    }
    assert mfa.required_roles({"MFA_REQUIRED_ROLES": ["CustomerAdmin"], "MFA_REQUIRED_FOR_STAFF": True}) == {
        "CustomerAdmin",
        *STAFF,
    }
    assert mfa.required_roles({}) == frozenset()


@pytest.mark.parametrize(
    ("env", "roles", "staff"),
    [
        ({}, [], False),
        ({"MFA_REQUIRED_ROLES": "Admin,CustomerAdmin"}, ["Admin", "CustomerAdmin"], False),
        ({"MFA_REQUIRED_FOR_STAFF": "1"}, [], True),
    ],
)
def test_settings_come_from_the_environment(env: dict[str, str], roles: list[str], staff: bool) -> None:
    root = Path(__file__).resolve().parents[1]
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MFA_")}
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import config; print(config.Config.MFA_REQUIRED_ROLES, config.Config.MFA_REQUIRED_FOR_STAFF)",
        ],
        cwd=root,
        env={**clean, **env, "SECRET_KEY": "x"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == f"{roles} {staff}"


def test_recovery_codes_are_stored_hashed_like_passwords(app: Flask, world: World) -> None:
    """Recovery codes are hashed like passwords (an offline guess costs as much as a password's)."""
    _secret, codes = enrol_in_db(app, world.user("Seller"))
    with db_session(app) as s:
        stored = s.scalars(select(MfaRecoveryCode.code_hash)).first()
    assert stored is not None and stored.startswith("pbkdf2:sha256:")
    assert any(check_password_hash(stored, c.replace("-", "")) for c in codes)


def test_the_user_admin_resets_a_lost_phone(app: Flask, world: World, clock: Any) -> None:
    customer, seller = world.user("CustomerUser"), world.user("Seller")
    enrol_in_db(app, customer)
    enrol_in_db(app, seller)
    cs = client_as(app, world.user("CustomerService"))
    page = text_of(cs.get(f"/users/show/{customer.id}"))
    assert f"/users/{customer.id}/nullstill-tofaktor" in page
    # Customer service does not reset supplier staff: no button, and the route refuses.
    assert "nullstill-tofaktor" not in text_of(cs.get(f"/users/show/{seller.id}"))
    cs.post(f"/users/{seller.id}/nullstill-tofaktor")
    assert mfa.enrolled(user_row(app, seller))
    assert cs.post("/users/99999999999/nullstill-tofaktor").status_code == 404

    done = cs.post(f"/users/{customer.id}/nullstill-tofaktor")
    assert done.status_code == 302 and done.headers["Location"].endswith(f"/users/show/{customer.id}")
    assert not mfa.enrolled(user_row(app, customer))
    assert "nullstill-tofaktor" not in text_of(cs.get(f"/users/show/{customer.id}"))  # nothing left to reset
    assert [e.actor_id for e in mfa_audit(app, "reset")] == [world.user("CustomerService").id]

    admin = client_as(app, world.user("Admin"))
    assert admin.post(f"/users/{seller.id}/nullstill-tofaktor").status_code == 302
    assert not mfa.enrolled(user_row(app, seller))
    # Customer admins may not reset anybody's (FAB's user admin is not theirs).
    enrol_in_db(app, customer)
    client_as(app, world.user("CustomerAdmin")).post(f"/users/{customer.id}/nullstill-tofaktor")
    assert mfa.enrolled(user_row(app, customer))


def test_wrong_codes_are_in_the_audit_log(app: Flask, world: World, clock: Any) -> None:
    user = world.user("CustomerUser")
    client = app.test_client()
    headers = auth_header(api_token(client, user.username))
    page = client_as(app, user)
    enrol_in_db(app, user)
    assert client.post("/api/v1/mfa/recovery_codes", json={"code": "000000x"}, headers=headers).status_code == 400
    assert page.post("/min-profil/tofaktor/skru-av", data={"password": "feil"}).status_code == 200
    with db_session(app) as s:
        failed = s.scalars(
            select(AuditEntry).where(AuditEntry.action == audit.MFA, AuditEntry.outcome == audit.FAILED)
        ).all()
    assert sorted((e.details or {})["event"] for e in failed) == ["disable", "recovery_codes"]
    assert {(e.actor_id, e.target_id, e.company_id) for e in failed} == {(user.id, str(user.id), user.company_id)}
    assert [(e.details or {})["fields"] for e in failed if (e.details or {})["event"] == "disable"] == [["password"]]


def test_guessing_codes_is_stopped(app: Flask, world: World, domain: Domain, clock: Any) -> None:
    user = world.user("CustomerUser")
    client = app.test_client()
    headers = auth_header(api_token(client, user.username))
    secret, _codes = enrol_in_db(app, user)
    for _ in range(mfa.MAX_REFUSALS - 1):
        assert client.post("/api/v1/mfa/disable", json={"code": "000000x"}, headers=headers).status_code == 400
    page = client_as(app, user)
    assert "Passordet er feil" in text_of(page.post("/min-profil/tofaktor/skru-av", data={"password": "feil"}))
    # The tenth refusal is reached: even the right code and the right password wait now.
    refused = client.post("/api/v1/mfa/recovery_codes", json={"code": code(secret)}, headers=headers)
    assert refused.status_code == 429 and "For mange" in refused.json["message"]
    assert client.post("/api/v1/mfa/disable", json={"password": PASSWORD}, headers=headers).status_code == 429
    page.post("/min-profil/tofaktor/skru-av", data={"password": PASSWORD})
    assert mfa.enrolled(user_row(app, user))
    # Another user is not held back by it.
    other_secret, _ = enrol_in_db(app, world.user("CustomerAdmin"))
    assert domain(mfa.regenerate_recovery_codes, me(world, "CustomerAdmin"), code(other_secret))
