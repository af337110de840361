"""The password policy (app/domain/passwords.py) and every place a person sets a password: Min profil,
the set-password link, the user admin's reset form (FAB's route, its WTForms validator and the domain
function behind it), the API's `POST /api/v1/user/me/password`, `portal set-password` and FAB's own
commands (`flask fab reset-password`, `create-admin`). The demo logins' "demo1234" is written as a
hash by `portal demo`, not set by a person (tests/test_demo.py logs in with it).

Runs on SQLite and, with TEST_DATABASE_URL, on PostgreSQL.
"""

from __future__ import annotations

import re

import pytest
from flask import Flask
from sqlalchemy import select
from werkzeug.datastructures import MultiDict
from werkzeug.security import check_password_hash

from app.domain import accounts, passwords
from app.domain.errors import Forbidden, NotFound, ValidationFailed
from app.models import PortalUser
from app.roles import ALL_ROLES
from tests.factories import PASSWORD, World
from tests.helpers import actor, api_token, auth_header, client_as, db_session, field_errors, text_of
from tests.test_api import API

GOOD = "Sommer-fugl-2026"
COMMON = "mest brukte passordene"
GUESSABLE = "for lett å gjette"


def _user(app: Flask, username: str) -> PortalUser:
    with db_session(app) as s:
        return s.scalars(select(PortalUser).where(PortalUser.username == username)).one()


def _can_log_in(app: Flask, username: str, password: str) -> bool:
    response = app.test_client().post("/login/", data={"username": username, "password": password})
    return response.status_code == 302 and "/login" not in response.headers["Location"]


def _problem(app: Flask, password: str, username: str | None = "ola.nordmann", **kw: object) -> str | None:
    with app.test_request_context():
        return passwords.password_problem(password, username, **kw)  # type: ignore[arg-type]


# --- the rule --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "password, expected",
    [
        ("abc", "minst 10 tegn"),
        ("demo1234", "minst 10 tegn"),
        ("x" * 9, "minst 10 tegn"),
        ("x" * 129, "høyst 128 tegn"),
        ("12345678901", "ikke bare bestå av tall"),
        ("password123", COMMON),
        ("password1234", COMMON),
        ("qwertyuiop", COMMON),
        ("Password123", COMMON),  # capitals do not make a listed password new
        ("drowssap123", GUESSABLE),  # reversed
        ("Sommer2026", GUESSABLE),  # a listed word and a year
        ("P@ssw0rd2026", GUESSABLE),  # l33t
        ("aaaaaaaaaaaa", GUESSABLE),
        ("abcdefghijkl", GUESSABLE),
        ("Ola.Nordmann", "samme som brukernavnet"),
        ("min-ola.nordmann-2026", "inneholde brukernavnet"),
        (GOOD, None),
        ("Blåbærsyltetøy på fredag", None),
        ("jegliker2kaffe", None),
    ],
)
def test_policy(app: Flask, password: str, expected: str | None) -> None:
    problem = _problem(app, password)
    if expected is None:
        assert problem is None, problem
    else:
        assert problem is not None and expected in problem, (password, problem)


def test_length_limits_are_inclusive(app: Flask) -> None:
    strong_128 = (
        "vjASde5KgyNd_HocfCBeqfLCd5MhpRRNdMNAdpcL7itBjKhMuL5UmgNMRnygLWeMdQoGUKC2vENEyuq3mV2qfMuJG9wXDtPehHBkZwjGBcTeZ"
        "LM395vwVxPGN4Ee6fsF"
    )
    assert len(strong_128) == passwords.PASSWORD_MAX_LENGTH == 128
    assert _problem(app, strong_128) is None
    assert "høyst 128 tegn" in (_problem(app, strong_128 + "x") or "")
    assert passwords.PASSWORD_MIN_LENGTH == 10
    assert _problem(app, "Kaffe+te?9") is None  # 10 characters
    # Scored on its first 64 characters: a guessable start is a guessable password.
    assert GUESSABLE in (_problem(app, "a" * 64 + strong_128[:40]) or "")


def test_the_users_own_name_and_email_make_a_weak_password(app: Flask) -> None:
    assert _problem(app, "Testesen-2026", "hansen.bruker") is None
    problem = _problem(app, "Testesen-2026", "hansen.bruker", personal=("Hansen", "Testesen", "h@example.no"))
    assert problem is not None and GUESSABLE in problem


def test_check_password_names_the_field(app: Flask) -> None:
    with app.test_request_context():
        assert passwords.check_password(GOOD, "ola") == GOOD
        with pytest.raises(ValidationFailed) as refused:
            passwords.check_password("password123", "ola", field="new_password")
        assert list(refused.value.errors) == ["new_password"] and COMMON in refused.value.errors["new_password"]
        for nothing in ("", None, 123):
            with pytest.raises(ValidationFailed) as empty:
                passwords.check_password(nothing, "ola")
            assert empty.value.errors == {"password": "Skriv et nytt passord."}


# --- Min profil -------------------------------------------------------------------------------------


@pytest.mark.parametrize("weak, message", [("password123", COMMON), ("Sommer2026", GUESSABLE), ("abc", "minst 10")])
def test_min_profil_refuses_a_weak_password_next_to_the_field(
    app: Flask, world: World, weak: str, message: str
) -> None:
    client = client_as(app, world.user("CustomerUser"))
    response = client.post(
        "/min-profil/passord", data={"current_password": PASSWORD, "password": weak, "confirm_password": weak}
    )
    body = text_of(response)
    assert response.status_code == 200 and message in body
    assert re.search(r'id="password-error"[^>]*>[^<]*' + re.escape(message), body), body
    assert _can_log_in(app, "hansen.bruker", PASSWORD) and not _can_log_in(app, "hansen.bruker", weak)


def test_min_profil_takes_a_good_password(app: Flask, world: World) -> None:
    client = client_as(app, world.user("CustomerUser"))
    response = client.post(
        "/min-profil/passord", data={"current_password": PASSWORD, "password": GOOD, "confirm_password": GOOD}
    )
    assert response.status_code == 302
    assert _can_log_in(app, "hansen.bruker", GOOD)


def test_min_profil_shows_the_policy(app: Flask, world: World) -> None:
    body = text_of(client_as(app, world.user("CustomerUser")).get("/min-profil/"))
    assert "Ikke et vanlig passord og ikke brukernavnet" in body


# --- the set-password link --------------------------------------------------------------------------


def test_link_refuses_a_common_password_and_stays_usable(app: Flask, world: World) -> None:
    with app.test_request_context():
        token = accounts.password_link_token(_user(app, "hansen.bruker"))
    visitor = app.test_client()
    path = f"/passord/{token}"
    assert "10–128 tegn" in text_of(visitor.get(path))
    for weak, message in (("password123", COMMON), ("hansen.bruker-2026", "inneholde brukernavnet")):
        refused = visitor.post(path, data={"password": weak, "confirm_password": weak})
        assert refused.status_code == 200 and message in text_of(refused), weak
    assert not _can_log_in(app, "hansen.bruker", "password123")
    done = visitor.post(path, data={"password": GOOD, "confirm_password": GOOD})
    assert done.status_code == 302 and "/login" in done.headers["Location"]
    assert _can_log_in(app, "hansen.bruker", GOOD)


# --- the user admin's reset form (Admin) ---------------------------------------------------------------


def _reset_form(app: Flask, user_id: int, password: str, confirm: str | None = None) -> tuple[bool, dict]:
    """FAB's reset form for the user (?pk=), posted with this password, validated as the view does."""
    from app.views.accounts.users import ResetPasswordForm

    data = MultiDict({"password": password, "conf_password": password if confirm is None else confirm})
    with app.test_request_context(f"/resetpassword/form?pk={user_id}", method="POST", data=data):
        form = ResetPasswordForm(meta={"csrf": False})
        return form.validate(), dict(form.errors)


def test_reset_form_validator_applies_the_policy_for_the_named_user(app: Flask, world: World) -> None:
    user_id = world.a.user.id
    for weak, message in (
        ("abc", "minst 10 tegn"),
        ("password123", COMMON),
        ("hansen.bruker!2026", "inneholde brukernavnet"),
        ("Testesen-2026", GUESSABLE),  # the user's last name
    ):
        ok, errors = _reset_form(app, user_id, weak)
        assert not ok and message in " ".join(errors.get("password", [])), (weak, errors)
    ok, errors = _reset_form(app, user_id, GOOD, confirm=GOOD + "x")
    assert not ok and errors.keys() == {"conf_password"}
    assert _reset_form(app, user_id, GOOD) == (True, {})


def test_password_validator_without_a_user_checks_the_rule_alone(app: Flask) -> None:
    from wtforms import Form, PasswordField
    from wtforms.validators import ValidationError

    from app.views.forms import password_validator

    class _Form(Form):
        password = PasswordField(validators=[password_validator()])

    with app.test_request_context():
        assert _Form(MultiDict({"password": GOOD})).validate()
        form = _Form(MultiDict({"password": "password123"}))
        assert not form.validate() and COMMON in form.errors["password"][0]
        with pytest.raises(ValidationError):
            password_validator()(form, form.password)


def test_reset_password_rule_admin_only_with_the_policy(app: Flask, world: World) -> None:
    with app.test_request_context(), db_session(app) as session:
        admin = actor(world.staff["Admin"], "Admin")
        service = actor(world.staff["CustomerService"], "CustomerService")
        with pytest.raises(ValidationFailed) as refused:
            accounts.reset_password(session, admin, world.a.user.id, "abc")
        assert list(refused.value.errors) == ["password"]
        with pytest.raises(Forbidden):
            accounts.reset_password(session, service, world.a.user.id, GOOD)
        with pytest.raises(NotFound):
            accounts.reset_password(session, admin, 999_999, GOOD)
        stamp = session.get(PortalUser, world.a.user.id).security_stamp  # type: ignore[union-attr]
        user = accounts.reset_password(session, admin, world.a.user.id, GOOD)
        session.commit()
        assert check_password_hash(user.password, GOOD) and user.security_stamp != stamp
    assert _can_log_in(app, "hansen.bruker", GOOD) and not _can_log_in(app, "hansen.bruker", PASSWORD)


# --- the operator's command (portal set-password) -------------------------------------------------------


def test_set_password_by_username_applies_the_policy(app: Flask, world: World) -> None:
    with app.app_context(), db_session(app) as session:
        for weak in ("password123", "abc", "hansen.admin2026!"):
            with pytest.raises(ValidationFailed) as refused:
                accounts.set_password_by_username(session, "hansen.admin", weak)
            assert list(refused.value.errors) == ["password"], weak
        with pytest.raises(NotFound):
            accounts.set_password_by_username(session, "finnes.ikke", GOOD)
        accounts.set_password_by_username(session, "hansen.admin", GOOD)
        session.commit()
    assert _can_log_in(app, "hansen.admin", GOOD)


# --- FAB's reset form through its route (Admin) ------------------------------------------------------


def test_admin_reset_form_refuses_a_weak_password_and_saves_a_good_one(app: Flask, world: World) -> None:
    """FAB's "Reset password" of another user (it accepted "abc"), through its route."""
    admin = client_as(app, world.staff["Admin"])
    url = f"/resetpassword/form?pk={world.a.user.id}"
    page = admin.get(url)
    assert page.status_code == 200 and "10–128 tegn" in text_of(page)
    for weak, message in (("abc", "minst 10 tegn"), ("password123", COMMON)):
        refused = admin.post(url, data={"password": weak, "conf_password": weak})
        assert refused.status_code == 200 and message in text_of(refused), weak
        assert not _can_log_in(app, "hansen.bruker", weak)
    assert _can_log_in(app, "hansen.bruker", PASSWORD)
    done = admin.post(url, data={"password": GOOD, "conf_password": GOOD})
    assert done.status_code == 302 and f"/users/show/{world.a.user.id}" in done.headers["Location"]
    assert _can_log_in(app, "hansen.bruker", GOOD) and not _can_log_in(app, "hansen.bruker", PASSWORD)
    assert admin.get("/resetpassword/form?pk=999999").status_code == 404
    assert admin.post("/resetpassword/form?pk=abc", data={"password": GOOD, "conf_password": GOOD}).status_code == 404


# --- the API: POST /api/v1/user/me/password ------------------------------------------------------------

ME_PASSWORD = f"{API}/user/me/password"


def test_api_refuses_a_weak_password_naming_the_field(app: Flask, world: World) -> None:
    client = app.test_client()
    headers = auth_header(api_token(client, "hansen.bruker"))
    for body, field, message in (
        ({"current_password": PASSWORD, "password": "password123"}, "password", COMMON),
        ({"current_password": PASSWORD, "password": "abc"}, "password", "minst 10 tegn"),
        ({"current_password": PASSWORD, "password": "hansen.bruker-2026"}, "password", "inneholde brukernavnet"),
        ({"current_password": "feil", "password": GOOD}, "current_password", "Nåværende passord er feil."),
        ({"current_password": PASSWORD, "password": GOOD, "confirm_password": "x"}, "confirm_password", "ikke like"),
        ({"current_password": PASSWORD, "password": 123}, "password", ""),
        ({"current_password": PASSWORD, "password": GOOD, "role": "Admin"}, "role", ""),
    ):
        errors = field_errors(client.post(ME_PASSWORD, json=body, headers=headers))
        assert field in errors and message in " ".join(errors[field]), (body, errors)
    assert _can_log_in(app, "hansen.bruker", PASSWORD)


@pytest.mark.parametrize("role", ALL_ROLES)
def test_every_role_changes_its_own_password_by_api_and_its_tokens_end(app: Flask, world: World, role: str) -> None:
    username = world.user(role).username
    client = app.test_client()
    headers = auth_header(api_token(client, username))
    response = client.post(ME_PASSWORD, json={"current_password": PASSWORD, "password": GOOD}, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    again = client.post(ME_PASSWORD, json={"current_password": GOOD, "password": GOOD + "x"}, headers=headers)
    assert again.status_code == 401  # the token ended with the old password
    assert _can_log_in(app, username, GOOD) and not _can_log_in(app, username, PASSWORD)


def test_api_password_change_needs_a_login(app: Flask, world: World) -> None:
    response = app.test_client().post(ME_PASSWORD, json={"current_password": PASSWORD, "password": GOOD})
    assert response.status_code == 401


# --- the command line ------------------------------------------------------------------------------------


def test_portal_set_password_refuses_a_weak_password_and_sets_a_good_one(app: Flask, world: World) -> None:
    runner = app.test_cli_runner()
    weak = runner.invoke(args=["portal", "set-password", "hansen.admin", "--password", "password123"])
    assert weak.exit_code == 1 and COMMON in weak.output, weak.output
    unknown = runner.invoke(args=["portal", "set-password", "finnes.ikke", "--password", GOOD])
    assert unknown.exit_code == 1 and "Brukeren finnes ikke." in unknown.output, unknown.output
    assert _can_log_in(app, "hansen.admin", PASSWORD)
    typed = runner.invoke(args=["portal", "set-password", "hansen.admin"], input=f"{GOOD}\n{GOOD}\n")
    assert typed.exit_code == 0 and "er endret" in typed.output, typed.output
    assert _can_log_in(app, "hansen.admin", GOOD) and not _can_log_in(app, "hansen.admin", PASSWORD)


def test_fab_commands_apply_the_policy(app: Flask, world: World) -> None:
    """`flask fab reset-password`, `create-admin` (FAB's group; the test runner has only ours, so invoked directly)."""
    from flask_appbuilder.cli import fab

    runner = app.test_cli_runner()
    weak = runner.invoke(fab, args=["reset-password", "--username", "hansen.admin", "--password", "password123"])
    assert weak.exit_code != 0 and _can_log_in(app, "hansen.admin", PASSWORD)
    ok = runner.invoke(fab, args=["reset-password", "--username", "hansen.admin", "--password", GOOD])
    assert ok.exit_code == 0, ok.output
    assert _can_log_in(app, "hansen.admin", GOOD)
    new = ["create-admin", "--username", "ny.admin", "--firstname", "Ny", "--lastname", "Admin"]
    new += ["--email", "ny@kundeportal.no"]
    runner.invoke(fab, args=[*new, "--password", "password123"])
    with db_session(app) as s:
        assert s.scalar(select(PortalUser).where(PortalUser.username == "ny.admin")) is None
    made = runner.invoke(fab, args=[*new, "--password", GOOD])
    assert made.exit_code == 0, made.output
    assert _can_log_in(app, "ny.admin", GOOD)
