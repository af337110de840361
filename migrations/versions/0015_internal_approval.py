"""Godkjenning hos dere: the company's own approval rules and the order status that waits for them

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02 17:20:00
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

_OLD = ("pending_approval", "processing", "shipped", "partially_delivered", "invoiced", "cancelled", "rejected")
_NEW = ("pending_internal_approval", *_OLD)


def _status_check(values: tuple[str, ...]) -> str:
    return "status IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def _set_status_check(values: tuple[str, ...]) -> None:
    """orders.status is a String with a CHECK constraint (not a native enum): replace the check.
    SQLite cannot alter a constraint; batch mode copies the table, and its reflection loses the
    named unique constraint the standing-order job's ON CONFLICT relies on: it is declared again."""
    sqlite = op.get_bind().dialect.name == "sqlite"
    with op.batch_alter_table("orders") as batch:
        batch.drop_constraint("ck_orders_status", type_="check")
        batch.create_check_constraint("ck_orders_status", _status_check(values))
        if sqlite:
            batch.create_unique_constraint("uq_orders_standing_delivery", ["standing_order_id", "delivery_date"])


def upgrade():
    _set_status_check(_NEW)
    op.create_table(
        "approval_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("key", sa.String(length=40), nullable=False),
        sa.Column("amount", sa.Numeric(precision=12, scale=2), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.CheckConstraint("kind IN ('amount', 'budget', 'user')", name="ck_approval_rules_kind"),
        sa.CheckConstraint("amount IS NULL OR amount >= 0", name="ck_approval_rules_amount"),
        sa.ForeignKeyConstraint(["company_id"], ["companies.id"]),
        sa.ForeignKeyConstraint(["user_id"], ["ab_user.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("company_id", "key", name="uq_approval_rules_company_key"),
    )
    op.create_index("ix_approval_rules_company_id", "approval_rules", ["company_id"])
    op.create_index("ix_approval_rules_user_id", "approval_rules", ["user_id"])


def downgrade():
    op.drop_index("ix_approval_rules_user_id", table_name="approval_rules")
    op.drop_index("ix_approval_rules_company_id", table_name="approval_rules")
    op.drop_table("approval_rules")
    # Orders still waiting for the company's approval go on to the supplier's path.
    op.execute("UPDATE orders SET status = 'processing' WHERE status = 'pending_internal_approval'")
    _set_status_check(_OLD)
