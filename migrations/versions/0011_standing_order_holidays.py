"""standing orders: what to do with a delivery that falls on a public holiday

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 10:30:00
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade():
    # Existing plans move holiday deliveries too: the supplier does not deliver on public holidays.
    with op.batch_alter_table("standing_orders") as batch:
        batch.add_column(sa.Column("holiday_shift", sa.Boolean(), nullable=False, server_default=sa.text("true")))


def downgrade():
    with op.batch_alter_table("standing_orders") as batch:
        batch.drop_column("holiday_shift")
