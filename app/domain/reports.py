"""The manager's reports (Rapporter): aggregates over a date range, in SQL, alike on SQLite and PostgreSQL.

Definitions (shown on the report pages too):

* A period is a range of Europe/Oslo calendar days, both ends included: [first 00:00, last + 1 00:00)
  Oslo time, compared with the stored UTC instants.
* Sales (reports 1 and 4) = `total_ex_vat` of orders *placed* in the period (by `created_at`) whose
  status is processing, shipped, partially delivered or invoiced. Cancelled and rejected orders are
  not sales, and neither is an order still pending approval: it is not accepted until a seller
  approves it (DESIGN.md), and it may still be rejected. Pending orders show in reports 2 and 3.
* Approval lead time (report 3) = time from the order's (latest) entry into `pending_approval` to the
  decision (→ processing = approved, → rejected), in whole seconds, counted in the week of the
  decision. Median and 90th percentile use linear interpolation between the closest ranks
  (PostgreSQL's `percentile_cont`, Excel's PERCENTILE.INC): for n sorted values v1..vn and share p,
  h = p·(n − 1), value = v[⌊h⌋+1] + (h − ⌊h⌋)·(v[⌊h⌋+2] − v[⌊h⌋+1]).

How the numbers come out identical on both databases:

* Buckets (months, ISO weeks from Monday) follow the Oslo calendar, daylight saving included. SQLite
  has no time zones, so the bucket boundaries are computed in Python as UTC instants (each one an
  Oslo midnight, `formatting.oslo_midnight_utc`) and SQL sorts each row into its bucket with a
  `CASE` over those boundaries (`bucket_case`): SQL only compares stored UTC instants, which both
  databases do the same way. The first and last bucket are cut at the period's ends, so a bucket
  never holds rows from outside the period.
* Durations are differences of whole epoch seconds (`epoch_seconds`, one expression per dialect),
  so they are integers on both. Percentiles are picked with window functions (`row_number`,
  `count`, `lead` over each week) and integer arithmetic: SQL returns q·value for p = a/q as an
  exact integer, and the division happens here with Decimal.
* Money sums are quantized to øre here (SQLite sums NUMERIC as floating point).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import Integer, and_, case, func, literal, literal_column, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.expression import ColumnElement, FunctionElement

from app.domain.approvals import exposure_by_company
from app.domain.budgets import consumption, period_bounds, usage_level
from app.domain.formatting import oslo_midnight_utc, oslo_today
from app.domain.lifecycle import (
    DECISIONS,
    PENDING_APPROVAL,
    PROCESSING,
    REJECTED,
    SALES,
)
from app.models import (
    Budget,
    Company,
    Order,
    OrderChannel,
    OrderEvent,
    PortalUser,
    UTCDateTime,
    utcnow,
)

CENT = Decimal("0.01")
CHANNELS = tuple(c.value for c in OrderChannel)
MAX_DAYS = 5 * 366  # longest period: five years (260 weekly buckets)
TOP_CUSTOMERS = 10
OLDEST_WAITING = 10
BUDGET_CHUNK = 200  # budgets per consumption query (one result column each; SQLite allows 2000)


# --- periods and buckets ----------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    first: dt.date
    last: dt.date  # included

    @property
    def start(self) -> dt.datetime:
        return oslo_midnight_utc(self.first)

    @property
    def end(self) -> dt.datetime:
        return oslo_midnight_utc(self.last + dt.timedelta(days=1))

    def contains(self, column: Any) -> ColumnElement[bool]:
        return and_(column >= literal(self.start, UTCDateTime()), column < literal(self.end, UTCDateTime()))


def add_months(day: dt.date, months: int) -> dt.date:
    """The first day of the month `months` after (or before) `day`'s month."""
    year, month = divmod(day.year * 12 + day.month - 1 + months, 12)
    return dt.date(year, month + 1, 1)


def default_period(today: dt.date | None = None) -> Period:
    """The last 12 months: from the first day of the month 11 months ago up to and including today."""
    today = today or oslo_today()
    return Period(add_months(today, -11), today)


@dataclass(frozen=True)
class Bucket:
    index: int
    first: dt.date  # first Oslo day in the bucket (within the period)
    last: dt.date  # last Oslo day in the bucket (within the period)
    year: int  # calendar year (months) or ISO year (weeks)
    number: int  # month 1-12 or ISO week 1-53

    @property
    def end(self) -> dt.datetime:
        return oslo_midnight_utc(self.last + dt.timedelta(days=1))


def _buckets(period: Period, starts: Sequence[dt.date], key: Any) -> list[Bucket]:
    result = []
    for i, start in enumerate(starts):
        first = max(start, period.first)
        last = min(
            (starts[i + 1] if i + 1 < len(starts) else period.last + dt.timedelta(days=1)) - dt.timedelta(days=1),
            period.last,
        )
        year, number = key(start)
        result.append(Bucket(i, first, last, year, number))
    return result


def month_buckets(period: Period) -> list[Bucket]:
    starts = [period.first.replace(day=1)]
    while (nxt := add_months(starts[-1], 1)) <= period.last:
        starts.append(nxt)
    return _buckets(period, starts, lambda d: (d.year, d.month))


def week_buckets(period: Period) -> list[Bucket]:
    """ISO weeks (Monday to Sunday) touching the period, cut at its ends."""
    starts = [period.first - dt.timedelta(days=period.first.weekday())]
    while (nxt := starts[-1] + dt.timedelta(days=7)) <= period.last:
        starts.append(nxt)
    return _buckets(period, starts, lambda d: tuple(d.isocalendar())[:2])


def bucket_case(column: Any, buckets: Sequence[Bucket]) -> ColumnElement[Any]:
    """The index of the bucket an instant falls in: CASE WHEN col < end0 THEN 0 WHEN col < end1 ...

    Only meaningful for rows inside the period (filter with `Period.contains`)."""
    return case(
        *[(column < literal(b.end, UTCDateTime()), literal_column(str(b.index), Integer)) for b in buckets], else_=None
    )


class epoch_seconds(FunctionElement):  # noqa: N801 - an SQL function name
    """Whole seconds since 1970-01-01 UTC of a stored instant (an integer on both databases)."""

    type = Integer()
    inherit_cache = True
    name = "epoch_seconds"


@compiles(epoch_seconds, "postgresql")
def _epoch_postgresql(element: epoch_seconds, compiler: Any, **kw: Any) -> str:
    return f"CAST(FLOOR(EXTRACT(EPOCH FROM {compiler.process(element.clauses, **kw)})) AS BIGINT)"


@compiles(epoch_seconds, "sqlite")
def _epoch_sqlite(element: epoch_seconds, compiler: Any, **kw: Any) -> str:
    # SQLite keeps our UTC instants as 'YYYY-MM-DD HH:MM:SS.ffffff' text; %s truncates to the second.
    return f"CAST(strftime('%s', {compiler.process(element.clauses, **kw)}) AS INTEGER)"


def _money(value: Any) -> Decimal:
    return Decimal(value or 0).quantize(CENT)


# --- 1. sales per month and channel -----------------------------------------------------------


@dataclass
class SalesReport:
    period: Period
    months: list[Bucket]
    amounts: dict[tuple[int, str], Decimal]  # (month index, channel) -> sales ex. VAT
    counts: dict[tuple[int, str], int]

    def amount(self, month: int, channel: str) -> Decimal:
        return self.amounts.get((month, channel), Decimal("0.00"))

    def month_total(self, month: int) -> Decimal:
        return sum((self.amount(month, c) for c in CHANNELS), Decimal("0.00"))

    def channel_total(self, channel: str) -> Decimal:
        return sum((self.amount(m.index, channel) for m in self.months), Decimal("0.00"))

    @property
    def total(self) -> Decimal:
        return sum((self.month_total(m.index) for m in self.months), Decimal("0.00"))


def sales_by_month(session: Session, period: Period) -> SalesReport:
    months = month_buckets(period)
    rows = (
        select(bucket_case(Order.created_at, months).label("bucket"), Order.channel, Order.total_ex_vat)
        .where(Order.status.in_(SALES), period.contains(Order.created_at))
        .subquery("sales")
    )
    result = session.execute(
        select(rows.c.bucket, rows.c.channel, func.sum(rows.c.total_ex_vat), func.count()).group_by(
            rows.c.bucket, rows.c.channel
        )
    ).all()
    return SalesReport(
        period,
        months,
        amounts={(b, ch): _money(total) for b, ch, total, _n in result},
        counts={(b, ch): int(n) for b, ch, _total, n in result},
    )


# --- 2. orders per status -----------------------------------------------------------------------


@dataclass
class StatusReport:
    period: Period
    weeks: list[Bucket]
    now: dict[str, int]  # current status -> orders placed in the period
    entered: dict[tuple[int, str], int]  # (week index, status) -> status changes into it that week

    def entered_in(self, week: int, status: str) -> int:
        return self.entered.get((week, status), 0)


def status_report(session: Session, period: Period) -> StatusReport:
    weeks = week_buckets(period)
    now = dict(
        session.execute(
            select(Order.status, func.count()).where(period.contains(Order.created_at)).group_by(Order.status)
        )
        .tuples()
        .all()
    )
    events = (
        select(bucket_case(OrderEvent.at, weeks).label("bucket"), OrderEvent.to_status)
        .where(period.contains(OrderEvent.at))
        .subquery("events")
    )
    entered = session.execute(
        select(events.c.bucket, events.c.to_status, func.count()).group_by(events.c.bucket, events.c.to_status)
    ).all()
    return StatusReport(
        period, weeks, now={s: int(n) for s, n in now.items()}, entered={(b, s): int(n) for b, s, n in entered}
    )


# --- 3. approval lead time ----------------------------------------------------------------------


@dataclass
class LeadTimeWeek:
    week: Bucket
    decided: int = 0
    approved: int = 0
    rejected: int = 0
    median: Decimal | None = None  # seconds
    p90: Decimal | None = None  # seconds


@dataclass
class WaitingOrder:
    order_id: int
    number: str
    company: str
    customer_number: str
    since: dt.datetime
    total_inc_vat: Decimal

    def waiting(self, now: dt.datetime) -> dt.timedelta:
        return now - self.since


@dataclass
class ApprovalReport:
    period: Period
    weeks: list[LeadTimeWeek]
    waiting: list[WaitingOrder] = field(default_factory=list)
    waiting_total: int = 0
    now: dt.datetime = field(default_factory=utcnow)


def _percentile_times_q(ranked: Any, share: tuple[int, int]) -> ColumnElement[Any]:
    """q · (the p = a/q percentile of `secs` in the group), an exact integer: with h = a·(n−1)/q,
    q·v = q·v[⌊h⌋+1] + (a·(n−1) mod q)·(v[⌊h⌋+2] − v[⌊h⌋+1]), taken from the row ranked ⌊h⌋+1."""
    a, q = (literal_column(str(x), Integer) for x in share)
    k = a * (ranked.c.n - 1)
    following = func.coalesce(ranked.c.next_secs, ranked.c.secs)
    return func.max(case((ranked.c.rn == 1 + k // q, ranked.c.secs * q + (following - ranked.c.secs) * (k % q))))


def approval_report(session: Session, period: Period, now: dt.datetime | None = None) -> ApprovalReport:
    now = now or utcnow()
    weeks = week_buckets(period)
    entry = aliased(OrderEvent)
    entered_at = (
        select(func.max(entry.at))
        .where(entry.order_id == OrderEvent.order_id, entry.to_status == PENDING_APPROVAL, entry.at <= OrderEvent.at)
        .correlate(OrderEvent)
        .scalar_subquery()
    )
    decisions = (
        select(
            OrderEvent.id,
            bucket_case(OrderEvent.at, weeks).label("bucket"),
            OrderEvent.to_status.label("outcome"),
            OrderEvent.at.label("decided_at"),
            entered_at.label("entered_at"),
        )
        .where(
            OrderEvent.from_status == PENDING_APPROVAL,
            OrderEvent.to_status.in_(DECISIONS),
            period.contains(OrderEvent.at),
        )
        .subquery("decisions")
    )
    durations = (
        select(
            decisions.c.id,
            decisions.c.bucket,
            decisions.c.outcome,
            (epoch_seconds(decisions.c.decided_at) - epoch_seconds(decisions.c.entered_at)).label("secs"),
        )
        .where(decisions.c.entered_at.is_not(None))
        .subquery("durations")
    )
    order = (durations.c.secs, durations.c.id)
    ranked = select(
        durations.c.bucket,
        durations.c.outcome,
        durations.c.secs,
        func.row_number().over(partition_by=durations.c.bucket, order_by=order).label("rn"),
        func.count().over(partition_by=durations.c.bucket).label("n"),
        func.lead(durations.c.secs).over(partition_by=durations.c.bucket, order_by=order).label("next_secs"),
    ).subquery("ranked")
    rows = session.execute(
        select(
            ranked.c.bucket,
            func.count(),
            func.sum(case((ranked.c.outcome == PROCESSING, 1), else_=0)),
            func.sum(case((ranked.c.outcome == REJECTED, 1), else_=0)),
            _percentile_times_q(ranked, (1, 2)),
            _percentile_times_q(ranked, (9, 10)),
        ).group_by(ranked.c.bucket)
    ).all()
    by_week = {b: (n, ok, no, med2, p90x10) for b, n, ok, no, med2, p90x10 in rows}
    result = []
    for week in weeks:  # one entry per week, not per order
        n, ok, no, med2, p90x10 = by_week.get(week.index, (0, 0, 0, None, None))
        result.append(
            LeadTimeWeek(
                week,
                int(n),
                int(ok or 0),
                int(no or 0),
                None if med2 is None else Decimal(int(med2)) / 2,
                None if p90x10 is None else Decimal(int(p90x10)) / 10,
            )
        )
    report = ApprovalReport(period, result, now=now)
    report.waiting, report.waiting_total = oldest_waiting(session)
    return report


def oldest_waiting(session: Session, limit: int = OLDEST_WAITING) -> tuple[list[WaitingOrder], int]:
    """All orders pending approval *now*, whatever the period (a stuck order must not drop out of view),
    oldest first by their entry into pending approval; and how many there are."""
    entered = (
        select(func.max(OrderEvent.at))
        .where(OrderEvent.order_id == Order.id, OrderEvent.to_status == PENDING_APPROVAL)
        .correlate(Order)
        .scalar_subquery()
    )
    since = func.coalesce(entered, Order.created_at, type_=UTCDateTime())
    rows = session.execute(
        select(
            Order.id,
            Order.number,
            Company.name,
            Company.customer_number,
            since.label("since"),
            Order.total_ex_vat + Order.total_vat,
        )
        .join(Company, Company.id == Order.company_id)
        .where(Order.status == PENDING_APPROVAL)
        .order_by(since, Order.id)
        .limit(limit)
    ).all()
    total = session.scalar(select(func.count()).select_from(Order).where(Order.status == PENDING_APPROVAL)) or 0
    return [
        WaitingOrder(oid, number, name, cno, since_at, _money(amount))
        for oid, number, name, cno, since_at, amount in rows
    ], int(total)


# --- 4. top customers -----------------------------------------------------------------------------


@dataclass
class CustomerSales:
    company_id: int
    name: str
    customer_number: str
    orders: int
    sales: Decimal  # ex. VAT, in the period
    credit_limit: Decimal
    exposure: Decimal  # now, incl. VAT (app/domain/approvals.py)


def top_customers(session: Session, period: Period, limit: int = TOP_CUSTOMERS) -> list[CustomerSales]:
    sales = func.sum(Order.total_ex_vat)
    rows = session.execute(
        select(
            Company.id,
            Company.name,
            Company.customer_number,
            Company.credit_limit,
            func.count(Order.id),
            sales.label("sales"),
        )
        .join(Company, Company.id == Order.company_id)
        .where(Order.status.in_(SALES), period.contains(Order.created_at))
        .group_by(Company.id, Company.name, Company.customer_number, Company.credit_limit)
        .order_by(sales.desc(), Company.name, Company.id)
        .limit(limit)
    ).all()
    exposure = exposure_by_company(session, [r[0] for r in rows])
    return [
        CustomerSales(cid, name, cno, int(n), _money(total), _money(limit_), _money(exposure[cid]))
        for cid, name, cno, limit_, n, total in rows
    ]


# --- 5. budget consumption ------------------------------------------------------------------------

LEVELS = ("over", "warn", "ok")  # over the limit, near it (80 % or more), under


@dataclass
class BudgetUse:
    budget_id: int
    company: str
    customer_number: str
    user: str | None  # None: the whole company
    period: str
    first: dt.date
    last: dt.date
    amount: Decimal
    used: Decimal
    ratio: Decimal
    level: str


@dataclass
class BudgetReport:
    day: dt.date
    rows: list[BudgetUse]

    @property
    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(LEVELS, 0)
        for row in self.rows:
            counts[row.level] += 1
        return counts


def budget_report(session: Session, day: dt.date | None = None) -> BudgetReport:
    """Every active budget of every company in its period containing `day` (default: today)."""
    day = day or oslo_today()
    rows = session.execute(
        select(Budget, Company.name, Company.customer_number, PortalUser.first_name, PortalUser.last_name)
        .join(Company, Company.id == Budget.company_id)
        .outerjoin(PortalUser, PortalUser.id == Budget.user_id)
        .where(Budget.active.is_(True))
        .order_by(Company.name, Budget.id)
    ).all()
    budgets = [r[0] for r in rows]
    used: dict[int, Decimal] = {}
    for i in range(0, len(budgets), BUDGET_CHUNK):  # a few aggregate queries, not one per budget
        used.update(consumption(session, budgets[i : i + BUDGET_CHUNK], day))
    result = []
    for budget, company, cno, first_name, last_name in rows:
        spent = used[budget.id]
        ratio, level = usage_level(spent, budget.amount)
        start, end = period_bounds(budget.period, day)
        who = f"{first_name} {last_name}" if budget.user_id is not None else None
        result.append(
            BudgetUse(
                budget.id,
                company,
                cno,
                who,
                budget.period,
                start,
                end - dt.timedelta(days=1),
                _money(budget.amount),
                spent,
                ratio,
                level,
            )
        )
    result.sort(key=lambda r: (-r.ratio, r.company, r.budget_id))
    return BudgetReport(day, result)
