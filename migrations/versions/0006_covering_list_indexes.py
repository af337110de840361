"""indexes that answer the order list's status filter, the approval queue and the credit check alone

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 03:00:00

A page of the approval queue (or of the order list filtered by status) takes its ids from
(status, created_at, id) without reading the table, however deep the page. The credit check sums
a company's open orders and its unpaid invoices from the indexes alone: on PostgreSQL they carry
the ids and amounts (INCLUDE); other databases get the key columns.
"""
from alembic import op

# revision identifiers, used by Alembic.
revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade():
    op.drop_index("ix_orders_status_created", table_name="orders")
    op.create_index("ix_orders_status_created", "orders", ["status", "created_at", "id"], unique=False)
    op.drop_index("ix_orders_company_status", table_name="orders")
    op.create_index(
        "ix_orders_company_status",
        "orders",
        ["company_id", "status"],
        unique=False,
        postgresql_include=["id", "total_ex_vat", "total_vat"],
    )
    op.drop_index("ix_invoices_company_paid", table_name="invoices")
    op.create_index(
        "ix_invoices_company_paid",
        "invoices",
        ["company_id", "paid"],
        unique=False,
        postgresql_include=["order_id", "amount"],
    )


def downgrade():
    op.drop_index("ix_invoices_company_paid", table_name="invoices")
    op.create_index("ix_invoices_company_paid", "invoices", ["company_id", "paid"], unique=False)
    op.drop_index("ix_orders_company_status", table_name="orders")
    op.create_index("ix_orders_company_status", "orders", ["company_id", "status"], unique=False)
    op.drop_index("ix_orders_status_created", table_name="orders")
    op.create_index("ix_orders_status_created", "orders", ["status", "created_at"], unique=False)
