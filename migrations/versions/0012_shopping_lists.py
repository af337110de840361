"""shopping lists (Handlelister) and their lines

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 17:10:00
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "shopping_lists",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["company_id"], ["companies.id"]),
        sa.ForeignKeyConstraint(["created_by_id"], ["ab_user.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("company_id", "name", name="uq_shopping_lists_company_name"),
    )
    op.create_index("ix_shopping_lists_company_id", "shopping_lists", ["company_id"])
    op.create_index("ix_shopping_lists_name", "shopping_lists", ["name"])
    op.create_table(
        "shopping_list_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shopping_list_id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("depth", sa.Integer(), nullable=True),
        sa.Column("fabric", sa.String(length=100), nullable=True),
        sa.Column("colour", sa.String(length=100), nullable=True),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.CheckConstraint("quantity > 0", name="ck_shopping_list_lines_quantity"),
        sa.ForeignKeyConstraint(["company_id"], ["companies.id"]),
        sa.ForeignKeyConstraint(["product_id"], ["products.id"]),
        sa.ForeignKeyConstraint(["shopping_list_id"], ["shopping_lists.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_shopping_list_lines_company_id", "shopping_list_lines", ["company_id"])
    op.create_index("ix_shopping_list_lines_shopping_list_id", "shopping_list_lines", ["shopping_list_id"])


def downgrade():
    op.drop_index("ix_shopping_list_lines_shopping_list_id", table_name="shopping_list_lines")
    op.drop_index("ix_shopping_list_lines_company_id", table_name="shopping_list_lines")
    op.drop_table("shopping_list_lines")
    op.drop_index("ix_shopping_lists_name", table_name="shopping_lists")
    op.drop_index("ix_shopping_lists_company_id", table_name="shopping_lists")
    op.drop_table("shopping_lists")
