"""The report totals: small tables the manager's reports and start page read instead of a million orders.

* `order_day_totals`: per Oslo day of placement, channel and status, the orders now in the status
  (count, sum ex. VAT); and per Oslo day of the change, channel and status, the changes into it.
* `company_month_totals`: per Oslo month of placement, company, orderer and status, the orders now
  in the status (count, sum ex. VAT): top customers and budget consumption (budget periods are
  whole months).
* `approval_waits`: each order's wait in pending approval since its latest entry: open while it
  waits (the oldest waiting orders), then the decision with its lead time in whole seconds.

They are kept in the transaction of the change: `count_event` is called for every status event
(`lifecycle.record_event`, which placing an order and every status change go through), so a
rolled-back order or savepoint takes its counts with it. Rows are only ever incremented with an
atomic upsert (no read-modify-write), in key order. Whoever writes orders or status events around
the domain (the demo world, the benchmark loader, a repair) calls `rebuild` afterwards, which
recomputes all three tables from `orders` and `order_events`.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from app.domain.formatting import to_oslo
from app.models import ApprovalWait, CompanyMonthTotal, Order, OrderDayTotal, OrderEvent, OrderStatus

PENDING_APPROVAL = OrderStatus.pending_approval.value
# A seller's answer (lifecycle.DECISIONS; repeated here because lifecycle imports this module).
DECISIONS = (OrderStatus.processing.value, OrderStatus.rejected.value)
ZERO = Decimal("0.00")
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
SECOND = dt.timedelta(seconds=1)


def oslo_day(at: dt.datetime) -> dt.date:
    return to_oslo(at).date()


def month_of(day: dt.date) -> dt.date:
    return day.replace(day=1)


def _dialect(session: Session | Connection) -> str:
    """The database's dialect name, for a session (also a scoped one) or a connection."""
    return session.dialect.name if isinstance(session, Connection) else session.get_bind().dialect.name


def _upsert(session: Session | Connection, model: Any, keys: tuple[str, ...], rows: list[dict[str, Any]]) -> None:
    """Add each row's numbers to the row with its key (created at zero if missing): one statement."""
    if not rows:
        return
    make = postgresql.insert if _dialect(session) == "postgresql" else sqlite.insert
    stmt = make(model).values(rows)
    table = model.__table__
    sums = {c: table.c[c] + stmt.excluded[c] for c in rows[0] if c not in keys}
    session.execute(stmt.on_conflict_do_update(index_elements=list(keys), set_=sums))


DAY_KEY = ("day", "channel", "status")
MONTH_KEY = ("month", "company_id", "creator_id", "status")


def count_event(session: Session, order: Order, from_status: str | None, to_status: str, at: dt.datetime) -> None:
    """Count one status event of `order` (from_status None: the order was just placed) in the totals.

    The order must carry its placed time, channel, company, orderer and totals (it is flushed)."""
    count_events(session, [(order, from_status, to_status, at)])


def count_events(session: Session, events: list[tuple[Order, str | None, str, dt.datetime]]) -> None:
    """Count several status events at once: one upsert per totals table, whatever their number
    (a chunk of generated orders records its events with `record_event(..., counted=False)`)."""
    if not events:
        return
    day_rows: dict[tuple[Any, ...], dict[str, Any]] = defaultdict(dict)
    month_rows: dict[tuple[Any, ...], dict[str, Any]] = defaultdict(dict)
    new_waits: list[dict[str, Any]] = []
    for order, from_status, to_status, at in events:
        placed_day = oslo_day(order.created_at)
        amount = Decimal(order.total_ex_vat or 0)
        for status, sign in ((from_status, -1), (to_status, +1)):
            if status is None:
                continue
            d = day_rows[(placed_day, order.channel, status)]
            d["placed"] = d.get("placed", 0) + sign
            d["placed_ex_vat"] = d.get("placed_ex_vat", ZERO) + sign * amount
            m = month_rows[(month_of(placed_day), order.company_id, order.created_by_id or 0, status)]
            m["orders"] = m.get("orders", 0) + sign
            m["total_ex_vat"] = m.get("total_ex_vat", ZERO) + sign * amount
        entered = day_rows[(oslo_day(at), order.channel, to_status)]
        entered["entered"] = entered.get("entered", 0) + 1
        if from_status is None and to_status == PENDING_APPROVAL:
            new_waits.append({"order_id": order.id, "entered_at": at})  # a new order has no wait to close
        else:
            _count_wait(session, order.id, from_status, to_status, at)

    def complete(rows: dict[tuple[Any, ...], dict[str, Any]], keys: tuple[str, ...], zero: dict[str, Any]) -> list:
        return [{**dict(zip(keys, key, strict=True)), **zero, **rows[key]} for key in sorted(rows)]

    _upsert(
        session, OrderDayTotal, DAY_KEY, complete(day_rows, DAY_KEY, {"placed": 0, "placed_ex_vat": ZERO, "entered": 0})
    )
    _upsert(session, CompanyMonthTotal, MONTH_KEY, complete(month_rows, MONTH_KEY, {"orders": 0, "total_ex_vat": ZERO}))
    if new_waits:
        session.execute(insert(ApprovalWait), new_waits)


def _count_wait(session: Session, order_id: int, from_status: str | None, to_status: str, at: dt.datetime) -> None:
    """Open a wait on entry into pending approval; a decision closes it, a cancellation removes it."""
    if to_status != PENDING_APPROVAL and from_status != PENDING_APPROVAL:
        return  # no wait opens or ends (a new order in processing: nothing to build or send)
    w = ApprovalWait
    is_open = (w.order_id == order_id, w.decided_at.is_(None))
    if to_status == PENDING_APPROVAL:
        session.execute(delete(w).where(*is_open))
        session.execute(insert(w).values(order_id=order_id, entered_at=at))
    elif from_status == PENDING_APPROVAL and to_status in DECISIONS:
        wait = session.execute(select(w.id, w.entered_at).where(*is_open)).first()
        if wait is None:  # an order pending from before the totals were kept: its entry from the history
            entered = session.scalar(
                select(func.max(OrderEvent.at)).where(
                    OrderEvent.order_id == order_id, OrderEvent.to_status == PENDING_APPROVAL, OrderEvent.at <= at
                )
            )
            if entered is not None:
                session.execute(
                    insert(w).values(order_id=order_id, entered_at=entered, **decision(entered, at, to_status))
                )
            return
        session.execute(update(w).where(w.id == wait.id).values(**decision(wait.entered_at, at, to_status)))
    elif from_status == PENDING_APPROVAL:
        session.execute(delete(w).where(*is_open))


def decision(entered: dt.datetime, decided: dt.datetime, outcome: str) -> dict[str, Any]:
    day = oslo_day(decided)
    return {
        "decided_at": decided,
        "outcome": outcome,
        "seconds": lead_seconds(entered, decided),
        "week": day - dt.timedelta(days=day.weekday()),
    }


def lead_seconds(entered: dt.datetime, decided: dt.datetime) -> int:
    """Whole seconds between two instants as the reports count them: each truncated to its second."""
    return (decided - EPOCH) // SECOND - (entered - EPOCH) // SECOND


# --- recomputing everything -----------------------------------------------------------------------

# PostgreSQL: the same figures in three set-based statements (the Oslo calendar by AT TIME ZONE).
_PG_REBUILD = (
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
    # Decisions: the wait since the latest entry into pending approval before each decision.
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
    # Open waits: the orders pending now, since their latest entry (or their placing).
    """
    INSERT INTO approval_waits (order_id, entered_at)
    SELECT o.id, coalesce(max(e.at), o.created_at)
    FROM orders o
    LEFT JOIN order_events e ON e.order_id = o.id AND e.to_status = 'pending_approval'
    WHERE o.status = 'pending_approval'
    GROUP BY o.id, o.created_at
    """,
)


def rebuild(session: Session | Connection) -> None:
    """Recompute the three tables from `orders` and `order_events` (in the caller's transaction)."""
    for model in (OrderDayTotal, CompanyMonthTotal, ApprovalWait):
        session.execute(delete(model))
    if _dialect(session) == "postgresql":
        for statement in _PG_REBUILD:
            session.execute(text(statement))
        return
    _rebuild_in_python(session)


def _rebuild_in_python(session: Session | Connection) -> None:
    """The same figures computed row by row (SQLite has no time zones; its databases are small)."""
    day_rows: dict[tuple[Any, ...], dict[str, Any]] = defaultdict(
        lambda: {"placed": 0, "placed_ex_vat": ZERO, "entered": 0}
    )
    month_rows: dict[tuple[Any, ...], dict[str, Any]] = defaultdict(lambda: {"orders": 0, "total_ex_vat": ZERO})
    channels: dict[int, str] = {}
    pending: dict[int, dt.datetime] = {}
    orders = session.execute(
        select(
            Order.id,
            Order.created_at,
            Order.channel,
            Order.status,
            Order.company_id,
            Order.created_by_id,
            Order.total_ex_vat,
        )
    )
    for oid, created, channel, status, company_id, creator, amount in orders:
        channels[oid] = channel
        if status == PENDING_APPROVAL:
            pending[oid] = created
        day = oslo_day(created)
        d = day_rows[(day, channel, status)]
        d["placed"] += 1
        d["placed_ex_vat"] += Decimal(amount)
        m = month_rows[(month_of(day), company_id, creator or 0, status)]
        m["orders"] += 1
        m["total_ex_vat"] += Decimal(amount)
    entries: dict[int, list[dt.datetime]] = defaultdict(list)
    decisions = []
    events = session.execute(select(OrderEvent.order_id, OrderEvent.at, OrderEvent.from_status, OrderEvent.to_status))
    for oid, at, from_status, to_status in events:
        day_rows[(oslo_day(at), channels[oid], to_status)]["entered"] += 1
        if to_status == PENDING_APPROVAL:
            entries[oid].append(at)
        if from_status == PENDING_APPROVAL and to_status in DECISIONS:
            decisions.append((oid, at, to_status))
    rows = []
    for oid, at, outcome in decisions:
        before = [e for e in entries[oid] if e <= at]
        if before:
            rows.append({"order_id": oid, "entered_at": max(before), **decision(max(before), at, outcome)})
    empty = {"decided_at": None, "outcome": None, "seconds": None, "week": None}
    for oid, created in pending.items():
        rows.append({"order_id": oid, "entered_at": max(entries[oid], default=created), **empty})
    for model, data, keys in ((OrderDayTotal, day_rows, DAY_KEY), (CompanyMonthTotal, month_rows, MONTH_KEY)):
        values = [{**dict(zip(keys, key, strict=True)), **value} for key, value in sorted(data.items())]
        if values:
            session.execute(insert(model), values)
    if rows:
        session.execute(insert(ApprovalWait), rows)
