"""invoices: when an invoice was paid (Kontoutskrift), and the indexes of the account statement

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 17:20:00
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("invoices") as batch:
        batch.add_column(sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True))
    # Invoices paid before payments had a date: the real day is unknown. The due date (noon UTC) is
    # the best guess a statement can show, but never later than now (an invoice paid early, due
    # later); noon keeps it on that Oslo day in summer and winter.
    invoices = sa.table(
        "invoices",
        sa.column("paid", sa.Boolean),
        sa.column("paid_at", sa.DateTime(timezone=True)),
        sa.column("due_date", sa.Date),
    )
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        guess = sa.text("LEAST(due_date + time '12:00' AT TIME ZONE 'UTC', now())")
    else:  # SQLite keeps times as text 'YYYY-MM-DD HH:MM:SS.ffffff' (UTC), as SQLAlchemy writes them
        guess = sa.text("MIN(due_date || ' 12:00:00.000000', strftime('%Y-%m-%d %H:%M:%f000', 'now'))")
    op.execute(
        invoices.update().where(invoices.c.paid.is_(True), invoices.c.paid_at.is_(None)).values(paid_at=guess)
    )
    op.create_index(
        "ix_invoices_company_paid_due",
        "invoices",
        ["company_id", "paid", "due_date"],
        postgresql_include=["amount"],
    )
    op.create_index("ix_invoices_company_paid_at", "invoices", ["company_id", "paid_at"])


def downgrade():
    op.drop_index("ix_invoices_company_paid_at", table_name="invoices")
    op.drop_index("ix_invoices_company_paid_due", table_name="invoices")
    with op.batch_alter_table("invoices") as batch:
        batch.drop_column("paid_at")
