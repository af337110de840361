"""What many test files need: the database outside any request, logged-in clients, API callers,
flashed messages, statement counts.

Rows are read and written with a plain session on the app's engine, outside any request: no
tenant scope applies, so "nothing was written" is checked against the real tables.
"""

from __future__ import annotations

from typing import Any

import prison
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, func, select, text
from sqlalchemy.orm import Session

from app.models import MailOutbox, PortalUser
from tests.factories import PASSWORD, World, build_world

# --- the database ---------------------------------------------------------------------------

# Written by the migrations and `portal init` once per run; every other table is emptied per test.
FAB_SECURITY_TABLES = {
    "ab_permission",
    "ab_view_menu",
    "ab_permission_view",
    "ab_role",
    "ab_permission_view_role",
    "alembic_version",
    "security_version",  # moves on with the roles and permissions kept above
}


def is_postgres(app: Flask) -> bool:
    return app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql")


def reset_database(app: Flask) -> None:
    """Empty every table but roles and permissions. DELETE in foreign-key order: on these small
    tables it is many times faster than TRUNCATE on PostgreSQL (which rewrites each table's files)."""
    from flask_appbuilder import Model

    from app.extensions import db

    with app.app_context():
        db.session.remove()
        tables = [t for t in reversed(Model.metadata.sorted_tables) if t.name not in FAB_SECURITY_TABLES]
        with db.engine.begin() as conn:
            for table in tables:
                if table.name == "audit_log":
                    _empty_audit_log(conn)
                else:
                    conn.execute(table.delete())


def _empty_audit_log(conn: Any) -> None:
    """The audit log refuses DELETE (migration 0007's triggers): between tests it is emptied past
    them, by TRUNCATE on PostgreSQL (no row triggers) and around the trigger on SQLite."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("TRUNCATE audit_log"))
        return
    trigger = conn.execute(
        text("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = 'audit_log_no_delete'")
    ).scalar()
    if trigger:
        conn.execute(text("DROP TRIGGER audit_log_no_delete"))
    conn.execute(text("DELETE FROM audit_log"))
    if trigger:
        conn.execute(text(trigger))


def fresh_world(app: Flask) -> World:
    """An emptied database with the small test world in it (tests/factories.py)."""
    reset_database(app)
    with db_session(app) as session:
        return build_world(session, app.appbuilder.sm)


def db_engine(app: Flask) -> Any:
    """The test database's engine. Never hold an app context around test-client requests: a request
    would then reuse it, and with it `g` and the SQLAlchemy session of the previous request."""
    from app.extensions import db

    with app.app_context():
        return db.engine


def db_session(app: Flask) -> Session:
    """A session outside any request (no tenant scope), like the test factories use. Objects stay
    readable after commit and close."""
    return Session(db_engine(app), expire_on_commit=False)


def count_rows(app: Flask, model: type, *where: Any, **equal: Any) -> int:
    """Rows of a model's table matching the conditions (`Order.status == "x"` or `status="x"`)."""
    stmt = select(func.count()).select_from(model).where(*where)
    for column, value in equal.items():
        stmt = stmt.where(getattr(model, column) == value)
    with db_session(app) as s:
        return s.scalar(stmt) or 0


def load(app: Flask, model: type, pk: Any) -> Any:
    """A row by primary key, detached (its loaded columns stay readable), or None."""
    with db_session(app) as s:
        return s.get(model, pk)


def outbox(app: Flask, **equal: Any) -> list[MailOutbox]:
    """Mails in the outbox matching the columns (`kind="budget_exceeded"`, `to_address=...`), oldest first."""
    stmt = select(MailOutbox).order_by(MailOutbox.id)
    for column, value in equal.items():
        stmt = stmt.where(getattr(MailOutbox, column) == value)
    with db_session(app) as s:
        return list(s.scalars(stmt))


class StatementCounter:
    """The SQL statements the engine sends while the block runs."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.statements: list[str] = []

    def _record(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        self.statements.append(statement)

    @property
    def count(self) -> int:
        return len(self.statements)

    def __enter__(self) -> StatementCounter:
        event.listen(self.engine, "before_cursor_execute", self._record)
        return self

    def __exit__(self, *exc: Any) -> None:
        event.remove(self.engine, "before_cursor_execute", self._record)


# --- pages ----------------------------------------------------------------------------------


def text_of(response: Any) -> str:
    return response.get_data(as_text=True)


def login(client: FlaskClient, username: str, password: str = PASSWORD) -> Any:
    """Log in on the page; a user with two-factor login also gives the code of the current time step
    (the domain's clock: tests may move it)."""
    response = client.post("/login/", data={"username": username, "password": password})
    assert response.status_code == 302, f"login failed for {username}"
    if response.headers["Location"].endswith("/login/kode/"):
        response = client.post("/login/kode/", data={"code": _current_code(client.application, username)})
        assert response.status_code == 302, f"the code step failed for {username}"
    assert not response.headers["Location"].endswith(("/login/", "/login/kode/")), f"login failed for {username}"
    return response


def _current_code(app: Flask, username: str) -> str:
    import pyotp

    from app.domain import mfa

    with db_session(app) as s:
        secret = s.scalars(select(PortalUser.mfa_secret).where(PortalUser.username == username)).one()
    return pyotp.TOTP(secret).at(mfa.utcnow())


def client_as(app: Flask, user: str | PortalUser) -> FlaskClient:
    """A test client logged in (session cookie) as the user, given by username or as a user row."""
    client = app.test_client()
    login(client, user if isinstance(user, str) else user.username)
    return client


def flashes(client: FlaskClient) -> list[tuple[str, str]]:
    """(category, message) of the messages flashed and not shown yet."""
    with client.session_transaction() as session:
        return [tuple(f) for f in session.get("_flashes", [])]  # type: ignore[misc]


def endpoint_rule(app: Flask, endpoint: str) -> str:
    """The URL rule of an endpoint; a missing endpoint fails the test."""
    rules = [r.rule for r in app.url_map.iter_rules() if r.endpoint == endpoint]
    assert rules, f"{endpoint} is not registered"
    return rules[0]


# --- the REST API ---------------------------------------------------------------------------


def api_token(client: FlaskClient, username: str, password: str = PASSWORD) -> str:
    response = client.post(
        "/api/v1/security/login", json={"username": username, "password": password, "provider": "db"}
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.json["access_token"]


def auth_header(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def api_headers(app: Flask, username: str) -> dict[str, str]:
    """Request headers with a fresh access token (JWT) of the user."""
    return auth_header(api_token(app.test_client(), username))


class Caller:
    """An API client logged in as one user (JWT). URLs are relative to `prefix`."""

    def __init__(self, client: Flask | FlaskClient, username: str, prefix: str = "") -> None:
        self.client = client.test_client() if isinstance(client, Flask) else client
        self.headers = auth_header(api_token(self.client, username))
        self.prefix = prefix

    def get(self, url: str, q: dict[str, Any] | None = None) -> Any:
        if q is not None:
            url = f"{url}?q={prison.dumps(q)}"
        return self.client.get(self.prefix + url, headers=self.headers)

    def post(self, url: str, body: Any = None) -> Any:
        return self.client.post(self.prefix + url, json=body, headers=self.headers)

    def put(self, url: str, body: Any) -> Any:
        return self.client.put(self.prefix + url, json=body, headers=self.headers)

    def delete(self, url: str) -> Any:
        return self.client.delete(self.prefix + url, headers=self.headers)


def field_errors(response: Any) -> dict[str, list[str]]:
    """The per-field messages of a 400 answer (`{"message": {field: [text, ...]}}`)."""
    assert response.status_code == 400, (response.status_code, response.get_data(as_text=True))
    message = response.json["message"]
    assert isinstance(message, dict), message
    return message


def assert_no_leak(response: Any) -> None:
    """An error answer shows no traceback, SQL or driver names."""
    text = response.get_data(as_text=True)
    for needle in ("Traceback", "SELECT", "INSERT", "UPDATE ", "sqlalchemy", "psycopg", "sqlite3", 'File "'):
        assert needle not in text, text


# --- the domain -----------------------------------------------------------------------------


def actor(user: PortalUser, *roles: str) -> Any:
    """The user as app/domain's acting person, with the given roles."""
    from app.domain.actors import Actor

    return Actor(id=user.id, name=user.full_name, company_id=user.company_id, roles=frozenset(roles), email=user.email)
