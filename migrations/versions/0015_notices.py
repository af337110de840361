"""notices in the portal and each user's choice of mail per kind

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02 10:30:00
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

# revision identifiers, used by Alembic.
revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
