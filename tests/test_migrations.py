"""The Alembic migrations and the models agree, and the migrations run down and up again.

The schema is owned by migrations/ (never `create_all`). The session `app` fixture has already
upgraded the test database (SQLite or PostgreSQL); autogenerate's comparison against
`Model.metadata` must then find nothing to do. The round trip runs on a throwaway SQLite file with
a minimal Flask app (just the db and Flask-Migrate), so the shared test app is not touched.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask
from sqlalchemy import create_engine, inspect

ROOT = Path(__file__).resolve().parent.parent
MIGRATIONS = ROOT / "migrations"


def _metadata() -> Any:
    from flask_appbuilder import Model

    import app.models  # noqa: F401  (registers every table on FAB's metadata)

    return Model.metadata


def _is_noise(diff: Any) -> bool:
    """Differences that are not schema drift."""
    op = diff[0] if isinstance(diff, tuple) else diff[0][0]
    # FAB declares Sequence()s for its tables; on SQLite they do not exist, on PostgreSQL the
    # SERIAL/IDENTITY columns own equivalent ones. Alembic reports neither, but be explicit.
    return op in {"add_sequence", "remove_sequence"}


def _differences(engine: Any) -> list[Any]:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": False})
        diffs = compare_metadata(context, _metadata())
    return [d for d in diffs if not _is_noise(d)]


def test_models_and_migrations_agree(app: Flask) -> None:
    from app.extensions import db

    with app.app_context():
        diffs = _differences(db.engine)
    assert not diffs, (
        "The models and the migrations differ; add a migration (flask --app run db migrate, then "
        "review it) or fix the model:\n" + "\n".join(map(repr, diffs))
    )


def test_every_model_table_is_created_by_the_migrations(app: Flask) -> None:
    from app.extensions import db

    with app.app_context():
        tables = set(inspect(db.engine).get_table_names())
    missing = set(_metadata().tables) - tables
    assert not missing, f"tables without a migration: {sorted(missing)}"


def _migration_app(url: str) -> Flask:
    from flask_migrate import Migrate

    from app.extensions import db

    minimal = Flask("migration_roundtrip")
    minimal.config.update(SQLALCHEMY_DATABASE_URI=url, SQLALCHEMY_TRACK_MODIFICATIONS=False)
    db.init_app(minimal)
    Migrate(minimal, db, directory=str(MIGRATIONS))
    return minimal


def test_downgrade_to_base_and_upgrade_again(tmp_path: Path) -> None:
    from flask_migrate import downgrade, upgrade

    url = f"sqlite:///{tmp_path / 'roundtrip.db'}"
    minimal = _migration_app(url)
    engine = create_engine(url)
    try:
        with minimal.app_context():
            upgrade()
            first = set(inspect(engine).get_table_names())
            assert set(_metadata().tables) <= first
            downgrade(revision="base")
            left = set(inspect(engine).get_table_names()) - {"alembic_version"}
            assert not left, f"downgrade to base leaves tables behind: {sorted(left)}"
            upgrade()
            assert set(inspect(engine).get_table_names()) == first
            assert not _differences(engine)
    finally:
        engine.dispose()


def test_migrations_form_one_line_of_history() -> None:
    """One head, no branches: two branches that each add a migration must be merged."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    heads = ScriptDirectory.from_config(config).get_heads()
    assert len(heads) == 1, f"several migration heads: {heads}"
