"""report totals: order totals per day and per month, and the approval waits, for the reports

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 03:10:00

The manager's reports and start page read these small tables instead of every order
(app/domain/report_totals.py keeps them in the transaction of each change). The backfill computes
them from the orders and status events: set-based on PostgreSQL, row by row on SQLite (no time
zones there; its databases are small).
"""

import datetime as dt
from collections import defaultdict
from decimal import Decimal
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

OSLO = ZoneInfo("Europe/Oslo")
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
SECOND = dt.timedelta(seconds=1)
DECISIONS = ("processing", "rejected")

PG_BACKFILL = (
    """
    INSERT INTO order_day_totals (day, channel, status, placed, placed_ex_vat, entered)
    SELECT day, channel, status, sum(placed), sum(placed_ex_vat), sum(entered) FROM (
        SELECT (created_at AT TIME ZONE 'Europe/Oslo')::date AS day, channel, status,
               count(*) AS placed, sum(total_ex_vat) AS placed_ex_vat, 0 AS entered
        FROM orders GROUP BY 1, 2, 3
        UNION ALL
        SELECT (e.at AT TIME ZONE 'Europe/Oslo')::date, o.channel, e.to_status, 0, 0, count(*)
        FROM order_events e JOIN orders o ON o.id = e.order_id GROUP BY 1, 2, 3
    ) AS t GROUP BY day, channel, status
    """,
    """
    INSERT INTO company_month_totals (month, company_id, creator_id, status, orders, total_ex_vat)
    SELECT date_trunc('month', created_at AT TIME ZONE 'Europe/Oslo')::date, company_id,
           coalesce(created_by_id, 0), status, count(*), sum(total_ex_vat)
    FROM orders GROUP BY 1, 2, 3, 4
    """,
    """
    INSERT INTO approval_waits (order_id, entered_at, decided_at, outcome, seconds, week)
    SELECT d.order_id, max(e.at), d.at, d.to_status,
           floor(extract(epoch FROM d.at))::bigint - floor(extract(epoch FROM max(e.at)))::bigint,
           date_trunc('week', d.at AT TIME ZONE 'Europe/Oslo')::date
    FROM order_events d
    JOIN order_events e ON e.order_id = d.order_id AND e.to_status = 'pending_approval' AND e.at <= d.at
    WHERE d.from_status = 'pending_approval' AND d.to_status IN ('processing', 'rejected')
    GROUP BY d.id, d.order_id, d.at, d.to_status
    """,
    """
    INSERT INTO approval_waits (order_id, entered_at)
    SELECT o.id, coalesce(max(e.at), o.created_at)
    FROM orders o
    LEFT JOIN order_events e ON e.order_id = o.id AND e.to_status = 'pending_approval'
    WHERE o.status = 'pending_approval'
    GROUP BY o.id, o.created_at
    """,
)


def _utc(value):
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _backfill_python(conn):
    days = defaultdict(lambda: [0, Decimal("0"), 0])
    months = defaultdict(lambda: [0, Decimal("0")])
    channels = {}
    pending = {}
    orders = conn.execute(
        sa.text("SELECT id, created_at, channel, status, company_id, created_by_id, total_ex_vat FROM orders")
    )
    for oid, created, channel, status, company_id, creator, amount in orders:
        channels[oid] = channel
        if status == "pending_approval":
            pending[oid] = _utc(created)
        day = _utc(created).astimezone(OSLO).date()
        amount = Decimal(str(amount))
        days[(day, channel, status)][0] += 1
        days[(day, channel, status)][1] += amount
        months[(day.replace(day=1), company_id, creator or 0, status)][0] += 1
        months[(day.replace(day=1), company_id, creator or 0, status)][1] += amount
    entries = defaultdict(list)
    decisions = []
    for oid, at, from_status, to_status in conn.execute(
        sa.text("SELECT order_id, at, from_status, to_status FROM order_events")
    ):
        at = _utc(at)
        days[(at.astimezone(OSLO).date(), channels[oid], to_status)][2] += 1
        if to_status == "pending_approval":
            entries[oid].append(at)
        if from_status == "pending_approval" and to_status in DECISIONS:
            decisions.append((oid, at, to_status))
    day_table = sa.table(
        "order_day_totals",
        *(sa.column(c) for c in ("channel", "status", "placed", "entered")),
        sa.column("day", sa.Date),
        sa.column("placed_ex_vat", sa.Numeric(16, 2)),
    )
    month_table = sa.table(
        "company_month_totals",
        *(sa.column(c) for c in ("company_id", "creator_id", "status", "orders")),
        sa.column("month", sa.Date),
        sa.column("total_ex_vat", sa.Numeric(16, 2)),
    )
    wait_table = sa.table(
        "approval_waits",
        *(sa.column(c) for c in ("order_id", "outcome", "seconds")),
        sa.column("entered_at", sa.DateTime(timezone=True)),
        sa.column("decided_at", sa.DateTime(timezone=True)),
        sa.column("week", sa.Date),
    )
    rows = [
        {"day": d, "channel": c, "status": s, "placed": n, "placed_ex_vat": a, "entered": e}
        for (d, c, s), (n, a, e) in sorted(days.items())
    ]
    if rows:
        op.bulk_insert(day_table, rows)
    rows = [
        {"month": m, "company_id": co, "creator_id": cr, "status": s, "orders": n, "total_ex_vat": a}
        for (m, co, cr, s), (n, a) in sorted(months.items())
    ]
    if rows:
        op.bulk_insert(month_table, rows)
    rows = []
    for oid, at, outcome in decisions:
        before = [e for e in entries[oid] if e <= at]
        if before:
            entered = max(before)
            day = at.astimezone(OSLO).date()
            rows.append(
                {
                    "order_id": oid,
                    "entered_at": entered,
                    "decided_at": at,
                    "outcome": outcome,
                    "seconds": (at - EPOCH) // SECOND - (entered - EPOCH) // SECOND,
                    "week": day - dt.timedelta(days=day.weekday()),
                }
            )
    for oid, created in pending.items():
        rows.append(
            {
                "order_id": oid,
                "entered_at": max(entries[oid], default=created),
                "decided_at": None,
                "outcome": None,
                "seconds": None,
                "week": None,
            }
        )
    if rows:
        op.bulk_insert(wait_table, rows)


def upgrade():
    op.create_table(
        "order_day_totals",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=30), nullable=False),
        sa.Column("placed", sa.Integer(), nullable=False),
        sa.Column("placed_ex_vat", sa.Numeric(precision=16, scale=2), nullable=False),
        sa.Column("entered", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", "channel", "status"),
    )
    op.create_table(
        "company_month_totals",
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("creator_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=30), nullable=False),
        sa.Column("orders", sa.Integer(), nullable=False),
        sa.Column("total_ex_vat", sa.Numeric(precision=16, scale=2), nullable=False),
        sa.PrimaryKeyConstraint("month", "company_id", "creator_id", "status"),
    )
    op.create_index(
        "ix_company_month_totals_month_status",
        "company_month_totals",
        ["month", "status"],
        postgresql_include=["company_id", "creator_id", "orders", "total_ex_vat"],
    )
    op.create_table(
        "approval_waits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("entered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=30), nullable=True),
        sa.Column("seconds", sa.Integer(), nullable=True),
        sa.Column("week", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_approval_waits_order_id", "approval_waits", ["order_id"], unique=False)
    op.create_index(
        "ix_approval_waits_week", "approval_waits", ["week", "seconds"], postgresql_include=["decided_at", "outcome"]
    )
    op.create_index(
        "ix_approval_waits_open",
        "approval_waits",
        ["entered_at"],
        postgresql_where=sa.text("decided_at IS NULL"),
        sqlite_where=sa.text("decided_at IS NULL"),
    )
    conn = op.get_bind()
    if conn.dialect.name == "postgresql":
        for statement in PG_BACKFILL:
            op.execute(statement)
    else:
        _backfill_python(conn)


def downgrade():
    op.drop_index("ix_approval_waits_open", table_name="approval_waits")
    op.drop_index("ix_approval_waits_week", table_name="approval_waits")
    op.drop_index("ix_approval_waits_order_id", table_name="approval_waits")
    op.drop_table("approval_waits")
    op.drop_index("ix_company_month_totals_month_status", table_name="company_month_totals")
    op.drop_table("company_month_totals")
    op.drop_table("order_day_totals")
