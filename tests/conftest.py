"""Test setup: one schema per run (built by the Alembic migrations), a fresh small world per test.

The database is `TEST_DATABASE_URL` (PostgreSQL in CI's second run), else a SQLite file in a
temporary folder. Tests marked `postgres` need PostgreSQL: they skip with a reason on SQLite, and
under CI=true a PostgreSQL that cannot be reached fails the run.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text

from tests.factories import World
from tests.helpers import Caller, StatementCounter, db_engine, fresh_world


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
        TestConfig.SQLALCHEMY_ENGINE_OPTIONS = {
            **TestConfig.SQLALCHEMY_ENGINE_OPTIONS,
            "connect_args": {"options": "-c synchronous_commit=off"},
        }
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


@pytest.fixture()
def world(app: Flask) -> World:
    """Company A (dealer "hansen", 10001) and B (webshop "berg", 10002), staff in every role."""
    return fresh_world(app)


@pytest.fixture()
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture()
def as_role(client: FlaskClient, world: World) -> Callable[[str], Caller]:
    """API callers by role (the world's user of that role) or username, logged in once per test."""
    from app.roles import ALL_ROLES

    cache: dict[str, Caller] = {}

    def _caller(role_or_username: str) -> Caller:
        username = world.user(role_or_username).username if role_or_username in ALL_ROLES else role_or_username
        if username not in cache:
            cache[username] = Caller(client, username)
        return cache[username]

    return _caller


@pytest.fixture()
def statements(app: Flask) -> Iterator[list[str]]:
    """The SQL statements sent during the test (clear the list to start counting afresh)."""
    with StatementCounter(db_engine(app)) as counter:
        yield counter.statements
