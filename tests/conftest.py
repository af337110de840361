"""Test setup: one schema per run (built by the Alembic migrations), a fresh small world per test.

The database is `TEST_DATABASE_URL` (PostgreSQL in CI's second run), else a SQLite file in a
temporary folder. Tests marked `postgres` need PostgreSQL: they skip with a reason on SQLite, and
under CI=true a PostgreSQL that cannot be reached fails the run.
"""
from __future__ import annotations

import os
from typing import Any, Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from tests.factories import PASSWORD, World, build_world

FAB_SECURITY_TABLES = {"ab_permission", "ab_view_menu", "ab_permission_view", "ab_role",
                       "ab_permission_view_role", "alembic_version"}


def _test_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        worker = os.environ.get("PYTEST_XDIST_WORKER")
        if worker and url.startswith("postgresql"):
            url = _worker_database(url, worker)
        return url
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"


def _worker_database(url: str, worker: str) -> str:
    """Each xdist worker gets its own PostgreSQL database (<name>_<worker>), created on demand."""
    from sqlalchemy.engine import make_url

    base = make_url(url)
    name = f"{base.database}_{worker}"
    engine = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).scalar()
            if not exists:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001
        pytest.exit(f"PostgreSQL at {url} is not reachable: {exc}", returncode=3)
    finally:
        engine.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


def is_postgres(app: Flask) -> bool:
    return app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "postgres: needs PostgreSQL (skips on SQLite)")
    config.addinivalue_line("markers", "e2e: drives a real Chromium with Playwright")


@pytest.fixture(scope="session")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    url = _test_url(tmp_path_factory)
    if url.startswith("postgresql"):
        try:
            engine = create_engine(url, isolation_level="AUTOCOMMIT")
            with engine.connect() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
            engine.dispose()
        except Exception as exc:  # noqa: BLE001
            pytest.exit(f"PostgreSQL at {url} is not reachable: {exc}", returncode=3)
    os.environ.setdefault("PORTAL_INSTANCE_DIR", str(tmp_path_factory.mktemp("instance")))
    from config import TestConfig

    TestConfig.SQLALCHEMY_DATABASE_URI = url
    if url.startswith("postgresql"):
        # Durability is not under test: a commit need not wait until PostgreSQL has flushed it to
        # disk (visibility, locking and isolation are the same).
        TestConfig.SQLALCHEMY_ENGINE_OPTIONS = {**TestConfig.SQLALCHEMY_ENGINE_OPTIONS,
                                                "connect_args": {"options": "-c synchronous_commit=off"}}
    from app import create_app

    application = create_app(TestConfig)
    with application.app_context():
        from flask_migrate import upgrade

        from app.domain.setup import init_roles

        upgrade()
        init_roles()
    yield application


@pytest.fixture(autouse=True)
def _skip_postgres_only(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("postgres") is None:
        return
    url = os.environ.get("TEST_DATABASE_URL", "")
    if not url.startswith("postgresql"):
        if os.environ.get("CI") == "true" and os.environ.get("REQUIRE_POSTGRES") == "1":
            pytest.fail("PostgreSQL is required in this CI run but TEST_DATABASE_URL is not PostgreSQL")
        pytest.skip("needs PostgreSQL: set TEST_DATABASE_URL=postgresql+psycopg://...")


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
                conn.execute(table.delete())


@pytest.fixture()
def world(app: Flask) -> World:
    """Company A (dealer "hansen", 10001) and B (webshop "berg", 10002), staff in every role."""
    from app.extensions import db

    reset_database(app)
    with app.app_context():
        with Session(db.engine, expire_on_commit=False) as session:
            return build_world(session, app.appbuilder.sm)


@pytest.fixture()
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def login(client: FlaskClient, username: str, password: str = PASSWORD) -> Any:
    response = client.post("/login/", data={"username": username, "password": password})
    assert response.status_code == 302, f"login failed for {username}"
    return response


def api_token(client: FlaskClient, username: str, password: str = PASSWORD) -> str:
    response = client.post("/api/v1/security/login",
                           json={"username": username, "password": password, "provider": "db"})
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.json["access_token"]


def auth_header(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
