"""invoices keep whom they were issued to: the company's name, numbers and postal address that day

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 06:30:00

Existing invoices are filled from their company as it stands now (the best record there is of
the day they were issued); from here on the invoice is written with them.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

COLUMNS = (
    ("billing_name", "name", 200, False),
    ("billing_customer_number", "customer_number", 20, False),
    ("billing_org_number", "org_number", 9, False),
    ("billing_street", "postal_street", 200, True),
    ("billing_postal_code", "postal_code", 4, True),
    ("billing_city", "postal_city", 100, True),
)


def upgrade():
    with op.batch_alter_table("invoices") as batch:
        for column, _source, length, _nullable in COLUMNS:
            batch.add_column(sa.Column(column, sa.String(length=length), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        assignments = ", ".join(f"{column} = c.{source}" for column, source, _l, _n in COLUMNS)
        op.execute(f"UPDATE invoices SET {assignments} FROM companies c WHERE c.id = invoices.company_id")
    else:
        assignments = ", ".join(
            f"{column} = (SELECT {source} FROM companies c WHERE c.id = invoices.company_id)"
            for column, source, _l, _n in COLUMNS
        )
        op.execute(f"UPDATE invoices SET {assignments}")
    with op.batch_alter_table("invoices") as batch:
        for column, _source, length, nullable in COLUMNS:
            if not nullable:
                batch.alter_column(column, existing_type=sa.String(length=length), nullable=False)


def downgrade():
    with op.batch_alter_table("invoices") as batch:
        for column, _source, _length, _nullable in reversed(COLUMNS):
            batch.drop_column(column)
