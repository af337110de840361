"""security_version: one row that every change to roles and permissions moves on (`n`), and every
change to the users' names, companies and active flag (`users_n`), by triggers; a process may keep
what it read from them between requests until the number changes

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03 07:00:00
"""

import secrets

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

# FAB's tables whose rows decide what a role may do.
TABLES = ("ab_role", "ab_permission", "ab_view_menu", "ab_permission_view", "ab_permission_view_role")
BUMP = "UPDATE security_version SET n = n + 1 WHERE id = 1"
# What a list shows of a user ("Bestilt av"); last_login and the like change on every login.
USER_COLUMNS = ("first_name", "last_name", "username", "company_id", "active")
BUMP_USERS = "UPDATE security_version SET users_n = users_n + 1 WHERE id = 1"


def upgrade():
    op.create_table(
        "security_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=32), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.Column("users_n", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.execute(
        sa.text("INSERT INTO security_version (id, token, n, users_n) VALUES (1, :token, 0, 0)").bindparams(
            token=secrets.token_hex(16)
        )
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION bump_security_version() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN {BUMP}; RETURN NULL; END $$"
        )
        for table in TABLES:
            op.execute(
                f"CREATE TRIGGER tr_{table}_security_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
                f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION bump_security_version()"
            )
        op.execute(
            "CREATE FUNCTION bump_users_version() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN {BUMP_USERS}; RETURN NULL; END $$"
        )
        op.execute(
            f"CREATE TRIGGER tr_ab_user_users_version AFTER INSERT OR DELETE OR UPDATE OF {', '.join(USER_COLUMNS)} "
            "OR TRUNCATE ON ab_user FOR EACH STATEMENT EXECUTE FUNCTION bump_users_version()"
        )
    else:  # SQLite: row triggers, one per kind of change
        for table in TABLES:
            for event in ("INSERT", "UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER tr_{table}_security_version_{event.lower()} AFTER {event} ON {table} "
                    f"BEGIN {BUMP}; END"
                )
        for name, event in (
            ("insert", "INSERT"),
            ("delete", "DELETE"),
            ("update", f"UPDATE OF {', '.join(USER_COLUMNS)}"),
        ):
            op.execute(f"CREATE TRIGGER tr_ab_user_users_version_{name} AFTER {event} ON ab_user BEGIN {BUMP_USERS}; END")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            op.execute(f"DROP TRIGGER tr_{table}_security_version ON {table}")
        op.execute("DROP TRIGGER tr_ab_user_users_version ON ab_user")
        op.execute("DROP FUNCTION bump_security_version()")
        op.execute("DROP FUNCTION bump_users_version()")
    else:
        for table in TABLES:
            for event in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER tr_{table}_security_version_{event}")
        for name in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER tr_ab_user_users_version_{name}")
    op.drop_table("security_version")
