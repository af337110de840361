"""Min profil and Brukere (app/domain/accounts.py, app/views/profile.py, app/views/users.py,
app/api/users.py, the security stamp in app/security.py): per rule and per role, pages and API.

Runs on SQLite and, with TEST_DATABASE_URL, on PostgreSQL.
"""

from __future__ import annotations

import re
import time
from urllib.parse import urlparse

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.domain import accounts
from app.models import MailOutbox, PortalUser
from app.roles import ALL_ROLES
from tests.factories import PASSWORD, World
from tests.helpers import api_token, auth_header, client_as, db_session, flashes, outbox, text_of

NEW_PASSWORD = "Sommer-fugl-2026"
LAST_ADMIN = "Bedriften må ha minst én aktiv administrator"


def _user(app: Flask, username: str) -> PortalUser:
    with db_session(app) as s:
        user = s.scalars(select(PortalUser).where(PortalUser.username == username)).one()
        user.roles  # noqa: B018 - load them before the session closes
        return user


def _roles(app: Flask, username: str) -> set[str]:
    return {r.name for r in _user(app, username).roles}


def _link_path(mail: MailOutbox) -> str:
    match = re.search(r"https?://\S+/passord/\S+", mail.body_text)
    assert match, mail.body_text
    return urlparse(match.group(0)).path


def _logged_in(client: FlaskClient) -> bool:
    """A page that needs a login: 200 when logged in, a redirect to /login/ when not."""
    response = client.get("/min-profil/")
    if response.status_code == 200:
        return True
    assert response.status_code == 302 and "/login" in response.headers["Location"], response.status_code
    return False


def _can_log_in(client: FlaskClient, username: str, password: str) -> bool:
    response = client.post("/login/", data={"username": username, "password": password})
    return response.status_code == 302 and "/login" not in response.headers["Location"]


def _new_user_form(**extra: str) -> dict[str, str]:
    return {
        "first_name": "Nora",
        "last_name": "Nyansatt",
        "email": "nora@hanseninterior.no",
        "phone": "+47 900 00 000",
        "username": "nora.nyansatt",
        "role": "CustomerUser",
        **extra,
    }


# --- the password policy -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "password, username, expected",
    [
        ("kort1", "ola", "minst 10 tegn"),
        ("1234567890123", "ola", "ikke bare bestå av tall"),
        ("Hansen.Bruker", "hansen.bruker", "samme som brukernavnet"),
        ("x" * 129, "ola", "høyst 128 tegn"),
        ("Sommer-fugl-2026", "ola", None),
        ("password123", "ola", "mest brukte"),
        ("Sommer-fugl-2026-ola", "ola", "inneholde brukernavnet"),
    ],
)
def test_password_policy(app: Flask, password: str, username: str, expected: str | None) -> None:
    with app.test_request_context():
        problem = accounts.password_problem(password, username)
    if expected is None:
        assert problem is None
    else:
        assert problem is not None and expected in problem


# --- Min profil ------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ALL_ROLES)
def test_every_role_has_min_profil_linked_from_the_user_menu(app: Flask, world: World, role: str) -> None:
    client = client_as(app, world.user(role))
    home = text_of(client.get("/"))
    assert 'href="/min-profil/"' in home and "Min profil" in home
    page = client.get("/min-profil/")
    assert page.status_code == 200
    body = text_of(page)
    for text in ("Kontaktinformasjon", "Bytt passord", "Nyhetsbrev", world.user(role).username):
        assert text in body, text


def test_fab_profile_pages_lead_to_min_profil(app: Flask, world: World) -> None:
    client = client_as(app, world.user("CustomerUser"))
    for method, url in (
        ("GET", "/users/userinfo/"),
        ("GET", "/resetmypassword/form"),
        ("GET", "/userinfoeditview/form"),
    ):
        response = client.open(url, method=method)
        assert response.status_code == 302 and response.headers["Location"].endswith("/min-profil/"), url
    # FAB's form would set a password without the current one and without the policy: not any more.
    response = client.post("/resetmypassword/form", data={"password": "123", "conf_password": "123"})
    assert response.status_code == 302
    assert _can_log_in(app.test_client(), "hansen.bruker", PASSWORD)


def test_customer_admin_gets_company_administration_links_user_does_not(app: Flask, world: World) -> None:
    admin = text_of(client_as(app, world.user("CustomerAdmin")).get("/min-profil/"))
    assert "Administrer bedriften" in admin
    for href in ("/mycompanyview/mine/", "/companyusers/list/", "/deliveryaddressview/list/", "/budgetview/list/"):
        assert href in admin, href
    user = text_of(client_as(app, world.user("CustomerUser")).get("/min-profil/"))
    assert "Administrer bedriften" not in user and "/companyusers/list/" not in user
    assert "administreres av bedriftens administrator" in user and world.a.admin.email in user
    staff = text_of(client_as(app, world.user("CustomerService")).get("/min-profil/"))
    assert "Administrer bedriften" not in staff and "Bedriften din" not in staff


def test_contact_information_is_saved_and_checked(app: Flask, world: World) -> None:
    client = client_as(app, world.user("CustomerUser"))
    response = client.post(
        "/min-profil/kontakt",
        data={"first_name": "Jonas", "last_name": "Eriksen", "email": "jonas@hansen.no", "phone": "+47 61 17 42 01"},
    )
    assert response.status_code == 302
    user = _user(app, "hansen.bruker")
    assert (user.first_name, user.last_name, user.email, user.phone) == (
        "Jonas",
        "Eriksen",
        "jonas@hansen.no",
        "+47 61 17 42 01",
    )
    # Bad values: a Norwegian message next to each field, nothing saved.
    bad = client.post(
        "/min-profil/kontakt", data={"first_name": "", "last_name": "E", "email": "ikke-epost", "phone": "ring meg"}
    )
    body = text_of(bad)
    assert bad.status_code == 200
    assert "Skriv fornavnet." in body and "Ugyldig e-postadresse." in body and "Skriv et telefonnummer" in body
    assert 'id="email-error"' in body
    # Another company's user already has this address (unique across companies).
    taken = client.post(
        "/min-profil/kontakt",
        data={"first_name": "Jonas", "last_name": "Eriksen", "email": world.b.user.email.upper(), "phone": ""},
    )
    assert "allerede i bruk" in text_of(taken)
    assert _user(app, "hansen.bruker").email == "jonas@hansen.no"


def test_newsletter_opt_in_and_out(app: Flask, world: World) -> None:
    client = client_as(app, world.user("CustomerUser"))
    assert client.post("/min-profil/nyhetsbrev", data={"newsletter": "y"}).status_code == 302
    assert _user(app, "hansen.bruker").newsletter is True
    assert "checked" in text_of(client.get("/min-profil/"))
    assert client.post("/min-profil/nyhetsbrev", data={}).status_code == 302
    assert _user(app, "hansen.bruker").newsletter is False


def test_change_password_checks_current_and_policy(app: Flask, world: World) -> None:
    client = client_as(app, world.user("CustomerUser"))
    wrong = text_of(
        client.post(
            "/min-profil/passord",
            data={"current_password": "feil", "password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD},
        )
    )
    assert "Nåværende passord er feil." in wrong
    for new, message in (
        ("kort", "minst 10 tegn"),
        ("12345678901", "bare bestå av tall"),
        ("hansen.bruker", "samme som brukernavnet"),
    ):
        body = text_of(
            client.post(
                "/min-profil/passord", data={"current_password": PASSWORD, "password": new, "confirm_password": new}
            )
        )
        assert message in body and 'id="password-error"' in body, new
    mismatch = text_of(
        client.post(
            "/min-profil/passord",
            data={"current_password": PASSWORD, "password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD + "x"},
        )
    )
    assert "Passordene er ikke like." in mismatch
    assert _can_log_in(app.test_client(), "hansen.bruker", PASSWORD)  # nothing changed


def test_change_password_ends_other_sessions_and_api_tokens(app: Flask, world: World) -> None:
    mine = client_as(app, world.user("CustomerUser"))
    other = client_as(app, world.user("CustomerUser"))  # the same user on another machine
    token = api_token(app.test_client(), "hansen.bruker")
    refresh = (
        app.test_client()
        .post(
            "/api/v1/security/login",
            json={"username": "hansen.bruker", "password": PASSWORD, "provider": "db", "refresh": True},
        )
        .json["refresh_token"]
    )
    assert app.test_client().get("/api/v1/order/", headers=auth_header(token)).status_code == 200
    stamp_before = _user(app, "hansen.bruker").security_stamp

    response = mine.post(
        "/min-profil/passord",
        data={"current_password": PASSWORD, "password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD},
    )
    assert response.status_code == 302
    assert _user(app, "hansen.bruker").security_stamp != stamp_before

    assert _logged_in(mine)  # this session stays
    assert not _logged_in(other)  # the other one is logged out at once
    assert any("logget ut" in m for _, m in flashes(other))  # shown on the login page
    api = app.test_client()
    assert api.get("/api/v1/order/", headers=auth_header(token)).status_code == 401
    assert api.post("/api/v1/security/refresh", headers=auth_header(refresh)).status_code == 401
    assert not _can_log_in(app.test_client(), "hansen.bruker", PASSWORD)
    assert _can_log_in(app.test_client(), "hansen.bruker", NEW_PASSWORD)
    fresh = api_token(app.test_client(), "hansen.bruker", NEW_PASSWORD)
    assert api.get("/api/v1/order/", headers=auth_header(fresh)).status_code == 200


# --- deactivation: access ends at once -------------------------------------------------------------


def test_deactivated_user_is_locked_out_of_pages_and_api_at_once(app: Flask, world: World) -> None:
    victim = client_as(app, world.user("CustomerUser"))
    token = api_token(app.test_client(), "hansen.bruker")
    admin = client_as(app, world.user("CustomerAdmin"))

    response = admin.post(f"/companyusers/{world.a.user.id}/deaktiver")
    assert response.status_code == 302
    assert _user(app, "hansen.bruker").active is False

    assert not _logged_in(victim)
    assert app.test_client().get("/api/v1/order/", headers=auth_header(token)).status_code == 401
    assert not _can_log_in(app.test_client(), "hansen.bruker", PASSWORD)

    # Reactivated: the old session and token stay dead; a new login works.
    assert admin.post(f"/companyusers/{world.a.user.id}/aktiver").status_code == 302
    assert not _logged_in(victim)
    assert app.test_client().get("/api/v1/order/", headers=auth_header(token)).status_code == 401
    assert _can_log_in(app.test_client(), "hansen.bruker", PASSWORD)


def test_customer_service_deactivates_through_the_api(app: Flask, world: World) -> None:
    victim = api_token(app.test_client(), "berg.bruker")
    cs = api_token(app.test_client(), "kundeservice")
    client = app.test_client()
    response = client.post(f"/api/v1/user/{world.b.user.id}/deactivate", headers=auth_header(cs))
    assert response.status_code == 200, response.json
    assert response.json["result"]["active"] is False
    assert "security_stamp" not in response.json["result"] and "password" not in response.json["result"]
    assert client.get("/api/v1/order/", headers=auth_header(victim)).status_code == 401


def test_customer_service_deactivating_in_fab_edit_form_also_ends_sessions(app: Flask, world: World) -> None:
    victim = client_as(app, "berg.bruker")
    cs = client_as(app, world.user("CustomerService"))
    user = _user(app, "berg.bruker")
    response = cs.post(
        f"/users/edit/{user.id}",
        data={
            "first_name": user.first_name,
            "last_name": user.last_name,
            "username": user.username,
            "email": user.email,
            "company": "10002",
            "roles": [str(r.id) for r in user.roles],
        },
    )  # "active" unticked
    assert response.status_code == 302, text_of(response)[:2000]
    assert _user(app, "berg.bruker").active is False
    assert not _logged_in(victim)


# --- the last active customer admin -------------------------------------------------------------


def test_last_admin_cannot_be_deactivated_or_demoted(app: Flask, world: World) -> None:
    cs = api_token(app.test_client(), "kundeservice")
    client = app.test_client()
    for route in ("deactivate", "demote"):
        response = client.post(f"/api/v1/user/{world.a.admin.id}/{route}", headers=auth_header(cs))
        assert response.status_code == 409 and LAST_ADMIN in response.json["message"], route
    assert _user(app, "hansen.admin").active is True and _roles(app, "hansen.admin") == {"CustomerAdmin"}

    # The admin on its own page: demoting itself is refused the same way (deactivating itself too).
    admin = client_as(app, world.user("CustomerAdmin"))
    admin.post(f"/companyusers/{world.a.admin.id}/bruker")
    assert any(LAST_ADMIN in m for _, m in flashes(admin))
    assert _roles(app, "hansen.admin") == {"CustomerAdmin"}
    admin.post(f"/companyusers/{world.a.admin.id}/deaktiver")
    assert any("deaktivere deg selv" in m for _, m in flashes(admin))
    assert _user(app, "hansen.admin").active is True


def test_last_admin_rule_holds_in_customer_services_edit_form(app: Flask, world: World) -> None:
    cs = client_as(app, world.user("CustomerService"))
    admin = _user(app, "hansen.admin")
    with db_session(app) as s:
        from flask_appbuilder.security.sqla.models import Role

        user_role = s.scalars(select(Role).where(Role.name == "CustomerUser")).one().id
    base = {
        "first_name": admin.first_name,
        "last_name": admin.last_name,
        "username": admin.username,
        "email": admin.email,
        "company": "10001",
    }
    demote = cs.post(f"/users/edit/{admin.id}", data={**base, "active": "y", "roles": [str(user_role)]})
    assert LAST_ADMIN in text_of(demote) or any(LAST_ADMIN in m for _, m in flashes(cs))
    assert _roles(app, "hansen.admin") == {"CustomerAdmin"}
    deactivate = cs.post(f"/users/edit/{admin.id}", data={**base, "roles": [str(r.id) for r in admin.roles]})
    assert LAST_ADMIN in text_of(deactivate) or any(LAST_ADMIN in m for _, m in flashes(cs))
    assert _user(app, "hansen.admin").active is True


def test_promote_then_demote_the_former_admin(app: Flask, world: World) -> None:
    token = api_token(app.test_client(), "hansen.admin")
    client = app.test_client()
    promoted = client.post(f"/api/v1/user/{world.a.user.id}/promote", headers=auth_header(token))
    assert promoted.status_code == 200 and promoted.json["result"]["roles"] == ["CustomerAdmin"]
    again = client.post(f"/api/v1/user/{world.a.user.id}/promote", headers=auth_header(token))
    assert again.status_code == 409
    # Now there are two admins: the first may step down (its role changes, its login stays).
    demoted = client.post(f"/api/v1/user/{world.a.admin.id}/demote", headers=auth_header(token))
    assert demoted.status_code == 200 and demoted.json["result"]["roles"] == ["CustomerUser"]
    assert _roles(app, "hansen.admin") == {"CustomerUser"} and _roles(app, "hansen.bruker") == {"CustomerAdmin"}
    # hansen.admin is no customer admin any more: the user API refuses it.
    assert client.get("/api/v1/user/", headers=auth_header(token)).status_code == 403


# --- what a customer admin can never do ------------------------------------------------------------


def test_customer_admin_cannot_create_supplier_roles_page_and_api(app: Flask, world: World) -> None:
    admin = client_as(app, world.user("CustomerAdmin"))
    form = text_of(admin.get("/companyusers/add"))
    assert 'value="CustomerUser"' in form and 'value="CustomerAdmin"' in form
    for role in ("Admin", "Seller", "CustomerService", "Manager"):
        assert f'value="{role}"' not in form
        page = admin.post("/companyusers/add", data=_new_user_form(role=role))
        assert page.status_code == 200 and "Velg rollen" in text_of(page), role
    token = api_token(app.test_client(), "hansen.admin")
    api = app.test_client().post("/api/v1/user/", json=_new_user_form(role="Admin"), headers=auth_header(token))
    assert api.status_code == 400 and "role" in api.json["message"]
    with db_session(app) as s:
        assert s.scalars(select(PortalUser).where(PortalUser.username == "nora.nyansatt")).first() is None


def test_customer_admin_cannot_create_users_of_another_company(app: Flask, world: World) -> None:
    token = api_token(app.test_client(), "hansen.admin")
    client = app.test_client()
    by_id = client.post("/api/v1/user/", json=_new_user_form(company_id=world.b.company.id), headers=auth_header(token))
    assert by_id.status_code == 400 and "company_id" in by_id.json["message"]
    by_number = client.post("/api/v1/user/", json=_new_user_form(customer_number="10002"), headers=auth_header(token))
    assert by_number.status_code == 400 and "customer_number" in by_number.json["message"]
    assert outbox(app, to_address="nora@hanseninterior.no") == []
    # The page has no company field; a company sent anyway is ignored: the user is the admin's company's.
    admin = client_as(app, world.user("CustomerAdmin"))
    response = admin.post("/companyusers/add", data=_new_user_form(company="10002", company_id=str(world.b.company.id)))
    assert response.status_code == 302
    assert _user(app, "nora.nyansatt").company_id == world.a.company.id


def test_customer_admin_cannot_touch_another_companys_users(app: Flask, world: World) -> None:
    admin = client_as(app, world.user("CustomerAdmin"))
    foreign = world.b.user.id
    for route in ("deaktiver", "aktiver", "administrator", "bruker", "ny-passordlenke"):
        assert admin.post(f"/companyusers/{foreign}/{route}").status_code == 404, route
    assert admin.get(f"/companyusers/show/{foreign}").status_code == 404
    token = api_token(app.test_client(), "hansen.admin")
    client = app.test_client()
    assert client.get(f"/api/v1/user/{foreign}", headers=auth_header(token)).status_code == 404
    for route in ("deactivate", "activate", "promote", "demote", "send_link"):
        assert client.post(f"/api/v1/user/{foreign}/{route}", headers=auth_header(token)).status_code == 404, route
    listing = client.get("/api/v1/user/", headers=auth_header(token)).json
    assert {u["company_id"] for u in listing["result"]} == {world.a.company.id}
    assert _user(app, "berg.bruker").active is True


def test_customer_admin_cannot_manage_supplier_staff(app: Flask, world: World) -> None:
    admin = client_as(app, world.user("CustomerAdmin"))
    staff = world.staff["Seller"].id
    assert admin.post(f"/companyusers/{staff}/deaktiver").status_code == 404
    # Customer service cannot deactivate staff through these routes either (Admin's FAB form does it).
    cs = api_token(app.test_client(), "kundeservice")
    response = app.test_client().post(f"/api/v1/user/{staff}/deactivate", headers=auth_header(cs))
    assert response.status_code == 409
    assert _user(app, "selger").active is True


def test_customer_user_cannot_manage_users(app: Flask, world: World) -> None:
    user = client_as(app, world.user("CustomerUser"))
    assert user.get("/companyusers/add").status_code == 403
    assert user.post("/companyusers/add", data=_new_user_form()).status_code == 403
    assert user.post(f"/companyusers/{world.a.admin.id}/deaktiver").status_code == 403
    token = api_token(app.test_client(), "hansen.bruker")
    assert app.test_client().post("/api/v1/user/", json=_new_user_form(), headers=auth_header(token)).status_code == 403
    assert _user(app, "hansen.admin").active is True


# --- new users: welcome mail with an expiring, single-use link ---------------------------------------


def test_new_user_gets_a_welcome_mail_whose_link_sets_the_password_once(app: Flask, world: World) -> None:
    admin = client_as(app, world.user("CustomerAdmin"))
    response = admin.post("/companyusers/add", data=_new_user_form(role="CustomerUser"))
    assert response.status_code == 302, text_of(response)[:3000]
    user = _user(app, "nora.nyansatt")
    assert user.company_id == world.a.company.id and _roles(app, "nora.nyansatt") == {"CustomerUser"}
    [mail] = outbox(app, to_address="nora@hanseninterior.no")
    assert mail.kind == "user_welcome" and "nora.nyansatt" in mail.body_text and "72 timer" in mail.body_text
    path = _link_path(mail)
    assert path in (mail.body_html or "")

    visitor = app.test_client()
    assert not _can_log_in(app.test_client(), "nora.nyansatt", NEW_PASSWORD)  # nobody knows a password yet
    page = visitor.get(path)
    assert page.status_code == 200 and "Velg passord" in text_of(page) and "nora.nyansatt" in text_of(page)
    weak = visitor.post(path, data={"password": "1234567890", "confirm_password": "1234567890"})
    assert weak.status_code == 200 and "bare bestå av tall" in text_of(weak)
    done = visitor.post(path, data={"password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD})
    assert done.status_code == 302 and "/login" in done.headers["Location"]
    assert _can_log_in(app.test_client(), "nora.nyansatt", NEW_PASSWORD)

    used = visitor.get(path)
    assert "allerede brukt" in text_of(used)
    again = visitor.post(path, data={"password": "Noe-annet-2026", "confirm_password": "Noe-annet-2026"})
    assert "allerede brukt" in text_of(again)
    assert _can_log_in(app.test_client(), "nora.nyansatt", NEW_PASSWORD)


def test_expired_or_forged_link_gives_a_clear_message(
    app: Flask, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    import itsdangerous.timed

    token = api_token(app.test_client(), "hansen.admin")
    created = app.test_client().post("/api/v1/user/", json=_new_user_form(), headers=auth_header(token))
    assert created.status_code == 201, created.json
    with app.test_request_context(), db_session(app) as s:
        user = s.get(PortalUser, created.json["id"])
        real = time.time
        monkeypatch.setattr(itsdangerous.timed.time, "time", lambda: real() - 73 * 3600)
        old_token = accounts.password_link_token(user)
        monkeypatch.setattr(itsdangerous.timed.time, "time", real)
    visitor = app.test_client()
    expired = text_of(visitor.get(f"/passord/{old_token}"))
    assert "Lenken er utløpt" in expired
    assert "Lenken er utløpt" in text_of(
        visitor.post(f"/passord/{old_token}", data={"password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD})
    )
    assert "Lenken er ugyldig" in text_of(visitor.get(f"/passord/{old_token[:-3]}abc"))
    assert not _can_log_in(app.test_client(), "nora.nyansatt", NEW_PASSWORD)
    # A new link from the admin works.
    resent = app.test_client().post(f"/api/v1/user/{created.json['id']}/send_link", headers=auth_header(token))
    assert resent.status_code == 200
    mails = outbox(app, to_address="nora@hanseninterior.no")
    assert [m.kind for m in mails] == ["user_welcome", "password_link"]
    path = _link_path(mails[-1])
    assert visitor.post(path, data={"password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD}).status_code == 302
    assert _can_log_in(app.test_client(), "nora.nyansatt", NEW_PASSWORD)


def test_deactivation_kills_an_unused_welcome_link(app: Flask, world: World) -> None:
    token = api_token(app.test_client(), "hansen.admin")
    client = app.test_client()
    created = client.post("/api/v1/user/", json=_new_user_form(), headers=auth_header(token))
    path = _link_path(outbox(app, to_address="nora@hanseninterior.no")[0])
    assert client.post(f"/api/v1/user/{created.json['id']}/deactivate", headers=auth_header(token)).status_code == 200
    assert "allerede brukt" in text_of(app.test_client().get(path))


def test_new_user_form_checks_each_field(app: Flask, world: World) -> None:
    admin = client_as(app, world.user("CustomerAdmin"))
    body = text_of(
        admin.post(
            "/companyusers/add",
            data={"first_name": "", "last_name": "", "email": "x", "username": "hansen.bruker", "role": "CustomerUser"},
        )
    )
    for message in (
        "Skriv fornavnet.",
        "Skriv etternavnet.",
        "Ugyldig e-postadresse.",
        "Brukernavnet er allerede i bruk",
    ):
        assert message in body, message
    # Usernames are unique across companies (logins are global), without saying whose it is.
    taken = text_of(admin.post("/companyusers/add", data=_new_user_form(username="BERG.bruker")))
    assert "Brukernavnet er allerede i bruk" in taken and "Berg AS" not in taken
    token = api_token(app.test_client(), "hansen.admin")
    api = app.test_client().post("/api/v1/user/", json={"first_name": 5, "username": "a b"}, headers=auth_header(token))
    assert api.status_code == 400 and "first_name" in api.json["message"]
    api = app.test_client().post(
        "/api/v1/user/",
        json={"first_name": "A", "last_name": "B", "email": "a@b.no", "username": "a b"},
        headers=auth_header(token),
    )
    assert api.status_code == 400 and set(api.json["message"]) == {"username"}


def test_customer_service_creates_a_user_for_a_company_by_customer_number(app: Flask, world: World) -> None:
    cs = client_as(app, world.user("CustomerService"))
    form = text_of(cs.get("/users/add?kundenummer=10002"))
    assert 'name="company"' in form and 'value="10002"' in form and 'value="Admin"' not in form
    missing = text_of(cs.post("/users/add", data=_new_user_form(company="99999")))
    assert "Fant ingen bedrift med dette kundenummeret." in missing
    no_company = text_of(cs.post("/users/add", data=_new_user_form(company="")))
    assert "En kundebruker må høre til en bedrift" in no_company
    escalate = text_of(cs.post("/users/add", data=_new_user_form(company="", role="Admin")))
    assert "Velg rollen" in escalate
    ok = cs.post("/users/add", data=_new_user_form(company="10002", role="CustomerAdmin"))
    assert ok.status_code == 302
    user = _user(app, "nora.nyansatt")
    assert user.company_id == world.b.company.id and _roles(app, "nora.nyansatt") == {"CustomerAdmin"}
    assert [m.kind for m in outbox(app, to_address="nora@hanseninterior.no")] == ["user_welcome"]
    show = text_of(cs.get(f"/users/show/{user.id}"))
    assert "Deaktiver" in show and "Fjern administratorrollen" in show


def test_company_user_page_shows_the_buttons_to_the_customer_admin(app: Flask, world: World) -> None:
    admin = client_as(app, world.user("CustomerAdmin"))
    listing = text_of(admin.get("/companyusers/list/"))
    assert "/companyusers/add" in listing and world.a.user.username in listing
    assert world.b.user.username not in listing
    show = text_of(admin.get(f"/companyusers/show/{world.a.user.id}"))
    for text in ("Deaktiver", "Gjør til administrator", "Send ny lenke for å velge passord"):
        assert text in show, text
    own = text_of(admin.get(f"/companyusers/show/{world.a.admin.id}"))
    assert "user-deactivate" not in own and "Fjern administratorrollen" in own


def test_admin_can_create_supplier_staff(app: Flask, world: World) -> None:
    admin = client_as(app, world.user("Admin"))
    response = admin.post(
        "/users/add",
        data=_new_user_form(company="", role="Seller", email="ny.selger@kundeportal.no", username="ny.selger"),
    )
    assert response.status_code == 302, text_of(response)[:2000]
    user = _user(app, "ny.selger")
    assert user.company_id is None and _roles(app, "ny.selger") == {"Seller"}
    assert (
        text_of(admin.post("/users/add", data=_new_user_form(company="10001", role="Seller"))).count(
            "Brukere hos en kunde kan bare ha kunderoller."
        )
        == 1
    )


def test_user_api_pages_with_roles_in_one_statement(app: Flask, world: World) -> None:
    from flask_appbuilder.security.sqla.models import Role

    with db_session(app) as s:  # a user with two roles must still count once per page
        user = s.get(PortalUser, world.staff["Manager"].id)
        user.roles.append(s.scalars(select(Role).where(Role.name == "Seller")).one())
        s.commit()
    token = api_token(app.test_client(), "kundeservice")
    client = app.test_client()
    seen: list[str] = []
    for page in range(4):
        answer = client.get(
            f"/api/v1/user/?q=(page_size:3,page:{page},order_column:username,order_direction:asc)",
            headers=auth_header(token),
        ).json
        assert answer["count"] == 8
        seen += [u["username"] for u in answer["result"]]
        if any(u["username"] == "leder" for u in answer["result"]):
            assert next(u for u in answer["result"] if u["username"] == "leder")["roles"] == ["Manager", "Seller"]
    assert len(seen) == 8 and len(set(seen)) == 8


@pytest.mark.postgres
def test_two_admins_demoting_each_other_at_once_keep_one_admin(app: Flask, world: World) -> None:
    """The company row is locked while the admins are counted: the second demotion waits for the
    first and is then refused (without the lock both would see two admins and both succeed)."""
    import threading

    from flask_appbuilder.security.sqla.models import Role

    from app.domain.actors import Actor
    from app.domain.errors import NotAllowed

    with db_session(app) as s:
        user = s.get(PortalUser, world.a.user.id)
        user.roles = [s.scalars(select(Role).where(Role.name == "CustomerAdmin")).one()]
        s.commit()
    company = world.a.company.id
    first = Actor(id=world.a.admin.id, name="A", company_id=company, roles=frozenset({"CustomerAdmin"}))
    second = Actor(id=world.a.user.id, name="B", company_id=company, roles=frozenset({"CustomerAdmin"}))
    result: dict[str, str] = {}

    def demote_the_first_admin() -> None:
        with app.app_context(), db_session(app) as s2:
            try:
                accounts.demote_user(s2, second, world.a.admin.id)
                s2.commit()
                result["second"] = "ok"
            except NotAllowed as exc:
                s2.rollback()
                result["second"] = exc.message

    with app.app_context(), db_session(app) as s1:
        accounts.demote_user(s1, first, world.a.user.id)  # holds the company row until commit
        thread = threading.Thread(target=demote_the_first_admin)
        thread.start()
        thread.join(1.0)
        assert thread.is_alive(), "the second demotion did not wait for the first"
        s1.commit()
    thread.join(15)
    assert LAST_ADMIN in result["second"]
    assert _roles(app, "hansen.admin") == {"CustomerAdmin"} and _roles(app, "hansen.bruker") == {"CustomerUser"}
