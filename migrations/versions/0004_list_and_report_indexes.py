"""indexes for the staff lists and the reports at a million orders

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 23:40:00

The order list sorts by placed time (FAB adds the primary key as a tie-breaker, so the id is in
the index too), also within a channel; a company's open orders are summed for the credit check;
the reports read status events by time and by transition (pending approval -> decision). The
quote list sorts by created time like the order list.
"""
from alembic import op

# revision identifiers, used by Alembic.
revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_orders_created_at", "orders", ["created_at", "id"], unique=False)
    op.create_index("ix_orders_channel_created", "orders", ["channel", "created_at", "id"], unique=False)
    op.create_index("ix_orders_company_status", "orders", ["company_id", "status"], unique=False)
    op.create_index("ix_order_events_at_status", "order_events", ["at", "to_status"], unique=False)
    op.create_index("ix_order_events_transition", "order_events", ["from_status", "to_status", "at"], unique=False)
    op.create_index("ix_quotes_created_at", "quotes", ["created_at", "id"], unique=False)


def downgrade():
    op.drop_index("ix_quotes_created_at", table_name="quotes")
    op.drop_index("ix_order_events_transition", table_name="order_events")
    op.drop_index("ix_order_events_at_status", table_name="order_events")
    op.drop_index("ix_orders_company_status", table_name="orders")
    op.drop_index("ix_orders_channel_created", table_name="orders")
    op.drop_index("ix_orders_created_at", table_name="orders")
