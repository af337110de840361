"""What every page costs before its own work: the user, its roles and permissions, the language.

A request loads the user with its roles, groups and the security version in one statement. The
roles' permissions are read once per role set and kept by the process while that version stands:
database triggers move it on with every change to roles and permissions, however made (migration
0016). Every permission check (the view, each menu item, each button) is answered from memory. A
changed role, password or deactivation counts from the next request. The translation catalogue is
looked up once per request, and still follows a language switch inside one (`force_locale`,
`refresh`). A pooled connection is checked before use only after it has been idle
(app/__init__.py), not before every request.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import flask_babel
import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_appbuilder.security.sqla.models import Permission, PermissionView, Role, ViewMenu
from sqlalchemy import create_engine, select, text, update

from app import _ping_idle_connections
from app.models import PortalUser
from tests.factories import World
from tests.helpers import StatementCounter, client_as, db_engine, db_session, is_postgres

BELL = 1  # the navbar's bell on every HTML page (app/domain/notices.py `bell_statement`)
SECURITY_TABLES = re.compile(r"\b(ab_user|ab_role|ab_group|ab_permission_view|ab_permission|ab_view_menu)\b")


def _statements(app: Flask, client: FlaskClient, path: str) -> list[str]:
    client.get(path)  # the first request of a session may differ (locale stored etc.)
    with StatementCounter(db_engine(app)) as counter:
        response = client.get(path)
    assert response.status_code == 200, path
    return counter.statements


def _security_statements(statements: list[str]) -> list[str]:
    """Statements reading FAB's user, role and permission tables, other than a page's own user lists."""
    return [s for s in statements if SECURITY_TABLES.search(s) and ("ab_role" in s or "ab_permission" in s)]


# --- statements per request ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("username", "path"),
    [
        ("hansen.bruker", "/orderview/list/"),  # a customer's order list
        ("hansen.bruker", "/"),
        ("selger", "/orderview/list/"),  # supplier staff
        ("selger", "/godkjenning/"),
        ("admin", "/orderview/list/"),
    ],
)
def test_user_roles_and_permissions_cost_one_statement_per_request(
    app: Flask, world: World, username: str, path: str
) -> None:
    """The user with its roles, groups and the security version; the roles' permissions are kept
    by the process while that version stands."""
    statements = _statements(app, client_as(app, username), path)
    security = _security_statements(statements)
    assert len(security) == 1, security
    (user_load,) = security
    assert "FROM ab_user" in user_load and "ab_role" in user_load and "ab_group" in user_load
    assert "security_version" in user_load


def test_without_the_version_row_permissions_are_read_per_request(app: Flask, world: World) -> None:
    client = client_as(app, "hansen.bruker")
    with db_engine(app).begin() as conn:
        saved = conn.execute(text("SELECT token, n, users_n FROM security_version")).one()
        conn.execute(text("DELETE FROM security_version"))
    try:
        security = _security_statements(_statements(app, client, "/orderview/list/"))
        assert len(security) == 2 and "ab_permission_view_role" in security[1], security
        assert client.get("/godkjenning/").status_code == 403
    finally:
        with db_engine(app).begin() as conn:
            conn.execute(
                text("INSERT INTO security_version (id, token, n, users_n) VALUES (1, :t, :n, :u)"),
                {"t": saved[0], "n": saved[1], "u": saved[2]},
            )


def test_customer_order_list_statement_budget(app: Flask, world: World) -> None:
    """User with roles (permissions kept while the security version stands), the page's rows with
    their Sporing and the bounded count, and the navbar's bell (one: the latest notices with the
    unread count); the "Bestilt av" choices kept while the users' version stands: nothing per menu
    item or row."""
    statements = _statements(app, client_as(app, "hansen.bruker"), "/orderview/list/")
    assert len(statements) == 2 + BELL, statements


def test_staff_order_list_statement_budget(app: Flask, world: World) -> None:
    statements = _statements(app, client_as(app, "selger"), "/orderview/list/")
    assert len(statements) == 2 + BELL, statements


def test_the_same_list_again_sends_no_new_session_cookie(app: Flask, world: World) -> None:
    """FAB's "back" history is written only when it changes, so the session is not re-signed."""
    client = client_as(app, "hansen.bruker")
    client.get("/orderview/list/")
    again = client.get("/orderview/list/")
    assert again.status_code == 200
    assert not [h for h in again.headers.getlist("Set-Cookie") if h.startswith("session=")]
    other = client.get("/orderview/list/?page_OrderView=1")
    assert [h for h in other.headers.getlist("Set-Cookie") if h.startswith("session=")]


def _choice_reads(statements: list[str]) -> list[str]:
    return [s for s in statements if "FROM ab_user" in s and "ab_role" not in s]


def test_the_bestilt_av_choices_are_read_once_and_load_no_roles(app: Flask, world: World) -> None:
    """Read on the first page after a change to the users, without roles or groups; after that
    kept while the users' version stands."""
    with db_engine(app).begin() as conn:
        conn.execute(text("UPDATE security_version SET users_n = users_n + 1"))
    client = client_as(app, "hansen.bruker")
    with StatementCounter(db_engine(app)) as counter:
        assert client.get("/orderview/list/").status_code == 200
    reads = _choice_reads(counter.statements)
    assert len(reads) == 1 and "ab_group" not in reads[0], counter.statements
    assert _choice_reads(_statements(app, client, "/orderview/list/")) == []


def _offered(client: FlaskClient) -> set[str]:
    body = client.get("/orderview/list/").get_data(as_text=True)
    return set(re.findall(r"\((\w[\w.]*)\)\\u003c/option", body))


def test_a_new_or_renamed_colleague_is_offered_at_the_next_request(app: Flask, world: World) -> None:
    from tests.factories import make_user

    client = client_as(app, "hansen.bruker")
    before = _offered(client)
    assert world.a.user.username in before
    with db_session(app) as session:
        make_user(
            session,
            app.appbuilder.sm,
            "ny.kollega",
            "CustomerUser",
            session.get(type(world.a.company), world.a.company.id),
        )  # type: ignore[attr-defined]
        make_user(
            session,
            app.appbuilder.sm,
            "annen.bedrift",
            "CustomerUser",
            session.get(type(world.b.company), world.b.company.id),
        )  # type: ignore[attr-defined]
        session.commit()
    after = _offered(client)
    assert after == before | {"ny.kollega"}  # never the other company's new user
    with db_engine(app).begin() as conn:
        conn.execute(text("UPDATE ab_user SET username = 'omdopt.kollega' WHERE username = 'ny.kollega'"))
    assert _offered(client) == before | {"omdopt.kollega"}


# --- permissions read once per request still deny what they must ---------------------------------


def test_remembered_permissions_still_deny(app: Flask, world: World) -> None:
    client = client_as(app, "hansen.bruker")
    assert client.get("/orderview/list/").status_code == 200
    assert client.get("/godkjenning/").status_code == 403  # the seller's queue
    assert client.get("/budgetview/list/").status_code == 403  # the customer admin's
    page = client.get("/orderview/list/").get_data(as_text=True)
    assert "/godkjenning/" not in page and "/budgetview/list/" not in page  # nor in the menu


def test_each_check_answers_its_own_question_within_a_request(app: Flask, world: World) -> None:
    client = client_as(app, "hansen.bruker")
    cookie = client.get_cookie("session")
    assert cookie is not None
    sm = app.appbuilder.sm  # type: ignore[attr-defined]
    with app.test_request_context("/", headers={"Cookie": f"session={cookie.value}"}):
        app.preprocess_request()
        for _ in range(2):  # asked again: the same answers from memory
            assert sm.has_access("can_list", "OrderView") is True
            assert sm.has_access("can_list", "BudgetView") is False
            assert sm.has_access("can_approve", "ApprovalQueueView") is False
            assert sm.has_access("menu_access", "Orders") is True
            assert sm.has_access("can_list", "NoSuchView") is False


def test_anonymous_checks_use_the_public_role(app: Flask, world: World) -> None:
    sm = app.appbuilder.sm  # type: ignore[attr-defined]
    with app.test_request_context("/"):
        app.preprocess_request()
        assert sm.has_access("can_list", "OrderView") is False
        assert sm.has_access("can_list", "OrderView") is False


# --- changes count from the next request -------------------------------------------------------------


@pytest.fixture()
def revoke_order_list(app: Flask) -> Iterator[Any]:
    """A function that takes CustomerUser's "can_list" on OrderView away; given back afterwards
    (roles and permissions are not reset between tests)."""
    taken: list[tuple[Role, PermissionView]] = []

    def revoke() -> None:
        with db_session(app) as session:
            role = session.scalars(select(Role).where(Role.name == "CustomerUser")).one()
            pv = session.scalars(
                select(PermissionView)
                .join(Permission, PermissionView.permission_id == Permission.id)
                .join(ViewMenu, PermissionView.view_menu_id == ViewMenu.id)
                .where(Permission.name == "can_list", ViewMenu.name == "OrderView")
            ).one()
            role.permissions.remove(pv)
            session.commit()
            taken.append((role, pv))

    yield revoke
    for role, pv in taken:
        with db_session(app) as session:
            role = session.get(Role, role.id)
            role.permissions.append(session.get(PermissionView, pv.id))
            session.commit()


def test_a_role_losing_a_permission_counts_from_the_next_request(
    app: Flask, world: World, revoke_order_list: Any
) -> None:
    client = client_as(app, "hansen.bruker")
    assert client.get("/orderview/list/").status_code == 200
    revoke_order_list()
    assert client.get("/orderview/list/").status_code == 403
    assert client.get("/api/v1/order/").status_code in (401, 403)


def test_a_permission_taken_in_sql_counts_from_the_next_request(app: Flask, world: World) -> None:
    """The version moves by database triggers, so a change that bypasses the ORM (a script, psql,
    another host) counts too."""
    client = client_as(app, "hansen.bruker")
    assert client.get("/orderview/list/").status_code == 200
    find = (
        "SELECT pvr.id, pvr.permission_view_id, pvr.role_id FROM ab_permission_view_role pvr"
        " JOIN ab_role r ON r.id = pvr.role_id JOIN ab_permission_view pv ON pv.id = pvr.permission_view_id"
        " JOIN ab_permission p ON p.id = pv.permission_id JOIN ab_view_menu v ON v.id = pv.view_menu_id"
        " WHERE r.name = 'CustomerUser' AND p.name = 'can_list' AND v.name = 'OrderView'"
    )
    with db_engine(app).begin() as conn:
        row = conn.execute(text(find)).one()
        before = conn.execute(text("SELECT n FROM security_version")).scalar_one()
        conn.execute(text("DELETE FROM ab_permission_view_role WHERE id = :id"), {"id": row[0]})
        assert conn.execute(text("SELECT n FROM security_version")).scalar_one() > before
    try:
        assert client.get("/orderview/list/").status_code == 403
    finally:
        with db_engine(app).begin() as conn:
            conn.execute(
                text("INSERT INTO ab_permission_view_role (id, permission_view_id, role_id) VALUES (:i, :p, :r)"),
                {"i": row[0], "p": row[1], "r": row[2]},
            )
    assert client.get("/orderview/list/").status_code == 200


def test_a_users_new_role_counts_from_the_next_request(app: Flask, world: World) -> None:
    client = client_as(app, "hansen.bruker")
    assert client.get("/budgetview/list/").status_code == 403
    with db_session(app) as session:
        user = session.get(PortalUser, world.a.user.id)
        user.roles = [session.scalars(select(Role).where(Role.name == "CustomerAdmin")).one()]
        session.commit()
    assert client.get("/budgetview/list/").status_code == 200
    with db_session(app) as session:
        user = session.get(PortalUser, world.a.user.id)
        user.roles = [session.scalars(select(Role).where(Role.name == "CustomerUser")).one()]
        session.commit()
    assert client.get("/budgetview/list/").status_code == 403


@pytest.mark.parametrize(
    "change",
    [
        {"security_stamp": "changed-on-another-host"},  # a password set elsewhere
        {"active": False},  # deactivated
    ],
)
def test_another_hosts_change_ends_the_session_at_its_next_request(
    app: Flask, world: World, change: dict[str, Any]
) -> None:
    client = client_as(app, "hansen.bruker")
    assert client.get("/orderview/list/").status_code == 200
    with db_session(app) as session:
        session.execute(update(PortalUser).where(PortalUser.id == world.a.user.id).values(**change))
        session.commit()
    response = client.get("/orderview/list/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


# --- the language, resolved once per request ---------------------------------------------------------


def test_translations_follow_a_switch_inside_the_request(app: Flask, world: World) -> None:
    client = client_as(app, "hansen.bruker")
    assert client.get("/lang/en").status_code == 302
    cookie = client.get_cookie("session")
    assert cookie is not None
    with app.test_request_context("/", headers={"Cookie": f"session={cookie.value}"}):
        app.preprocess_request()
        assert flask_babel.gettext("Ordreoversikt") == "Order overview"
        assert str(flask_babel.lazy_gettext("Ordreoversikt")) == "Order overview"
        with flask_babel.force_locale("nb"):
            assert flask_babel.gettext("Ordreoversikt") == "Ordreoversikt"
            template = app.jinja_env.from_string("{{ _('Ordreoversikt') }}")
            assert template.render() == "Ordreoversikt"
        assert flask_babel.gettext("Ordreoversikt") == "Order overview"
        assert app.jinja_env.from_string("{{ _('Ordreoversikt') }}").render() == "Order overview"
        from flask import session

        session["locale"] = "nb"
        flask_babel.refresh()
        assert flask_babel.gettext("Ordreoversikt") == "Ordreoversikt"


def test_page_language_follows_the_session_per_request(app: Flask, world: World) -> None:
    client = client_as(app, "hansen.bruker")
    assert "Ordreoversikt" in client.get("/orderview/list/").get_data(as_text=True)
    assert client.get("/lang/en").status_code == 302
    assert "Order overview" in client.get("/orderview/list/").get_data(as_text=True)
    assert client.get("/lang/nb").status_code == 302
    assert "Ordreoversikt" in client.get("/orderview/list/").get_data(as_text=True)


# --- pooled connections: checked after being idle, not before every request -----------------------


@pytest.fixture()
def engine(app: Flask) -> Iterator[Any]:
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    if url in ("sqlite://", "sqlite:///:memory:"):
        pytest.fail("these tests need a database file or server, not an in-memory SQLite")
    made = create_engine(url, pool_size=1, max_overflow=0)
    yield made
    made.dispose()


def _count_pings(engine: Any) -> list[int]:
    pings: list[int] = []
    ping = engine.dialect.do_ping

    def counted(dbapi_connection: Any) -> bool:
        pings.append(1)
        return bool(ping(dbapi_connection))

    engine.dialect.do_ping = counted
    return pings


def test_a_connection_in_steady_use_is_not_pinged(engine: Any) -> None:
    _ping_idle_connections(engine, 3600)
    pings = _count_pings(engine)
    for _ in range(3):
        with engine.connect() as conn:
            assert conn.execute(text("SELECT 1")).scalar() == 1
    assert pings == []


def test_an_idle_connection_is_pinged_and_replaced_when_dead(app: Flask, engine: Any) -> None:
    _ping_idle_connections(engine, 0.0)
    pings = _count_pings(engine)
    with engine.connect() as conn:
        first = conn.connection.dbapi_connection
        if is_postgres(app):
            pid = conn.execute(text("SELECT pg_backend_pid()")).scalar()
    assert pings == []  # a new connection is not pinged
    # The server ends the idle connection (a restart, an idle timeout).
    if is_postgres(app):
        with create_engine(app.config["SQLALCHEMY_DATABASE_URI"]).connect() as other:
            other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            other.commit()
        time.sleep(0.2)
    else:
        first.close()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT 1")).scalar() == 1
        assert conn.connection.dbapi_connection is not first
    assert len(pings) == 1
