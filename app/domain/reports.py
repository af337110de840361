"""The manager's reports (Rapporter): aggregates over a date range, in SQL, alike on SQLite and PostgreSQL.

Definitions (shown on the report pages too):

* A period is a range of Europe/Oslo calendar days, both ends included: [first 00:00, last + 1 00:00)
  Oslo time, compared with the stored UTC instants.
* Sales (reports 1 and 4) = `total_ex_vat` of orders *placed* in the period (by `created_at`) whose
  status is processing, shipped, partially delivered or invoiced. Cancelled and rejected orders are
  not sales, and neither is an order still pending approval: it is not accepted until a seller
  approves it (DESIGN.md), and it may still be rejected. Pending orders show in reports 2 and 3.
  An order waiting for its company's own approval ("Venter på godkjenning hos dere") is not a sale
  either (it has not reached us); it shows in report 2 (its own status, shown when used) and its
  later wait for a seller in report 3 counts from its entry into pending approval.
* Approval lead time (report 3) = time from the order's (latest) entry into `pending_approval` to the
  decision (→ processing = approved, → rejected), in whole seconds, counted in the week of the
  decision. Median and 90th percentile use linear interpolation between the closest ranks
  (PostgreSQL's `percentile_cont`, Excel's PERCENTILE.INC): for n sorted values v1..vn and share p,
  h = p·(n − 1), value = v[⌊h⌋+1] + (h − ⌊h⌋)·(v[⌊h⌋+2] − v[⌊h⌋+1]).

Where the numbers come from, at a million orders: small totals kept in the transaction of every
status event (app/domain/report_totals.py), not the orders themselves:

* Sales, orders per status and the start page's overview read `order_day_totals` (per Oslo day of
  placing, channel and status; status changes per Oslo day). Months, weeks and periods are whole
  Oslo days, so sums of days are exact; `day_bucket_case` sorts each day into its bucket.
* Top customers read `company_month_totals` for the whole months of the period and the orders for
  the days before and after them; budget consumption reads whole months only (every budget period
  is whole months).
* Lead times read `approval_waits` (one row per decision, with its whole seconds, and its Oslo ISO
  week); the oldest waiting orders are its open rows.

How the numbers come out identical on both databases:

* Buckets (months, ISO weeks from Monday) follow the Oslo calendar, daylight saving included. SQLite
  has no time zones, so Oslo days are computed in Python when the totals are kept; instants (the
  decisions, the edges of top customers' periods) are compared with bucket boundaries computed in
  Python as UTC instants (each one an Oslo midnight, `formatting.oslo_midnight_utc`; `bucket_case`).
  The first and last bucket are cut at the period's ends, so a bucket never holds rows from outside
  the period.
* Durations are whole seconds, integers on both. On PostgreSQL `percentile_cont` gives the
  percentiles per week (q · its result, rounded, is the exact integer: its float error is far below
  1/q); elsewhere window functions (`row_number`, `count`, `lead` over each week) and integer
  arithmetic give q·value for p = a/q exactly. The division happens here with Decimal.
* Money sums are quantized to øre here (SQLite sums NUMERIC as floating point).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Date,
    Integer,
    and_,
    case,
    cast,
    func,
    literal,
    literal_column,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import ColumnElement

from app.domain.approvals import exposure_by_company
from app.domain.budgets import consumption_from_totals, period_bounds, usage_level
from app.domain.formatting import oslo_midnight_utc, oslo_today
from app.domain.lifecycle import (
    ALL_STATUSES,
    INTERNAL_WAITING,
    PENDING_APPROVAL,
    PROCESSING,
    REJECTED,
    SALES,
)
from app.models import (
    ApprovalWait,
    Budget,
    Company,
    CompanyMonthTotal,
    Order,
    OrderChannel,
    OrderDayTotal,
    PortalUser,
    UTCDateTime,
    utcnow,
)

CENT = Decimal("0.01")
CHANNELS = tuple(c.value for c in OrderChannel)
MAX_DAYS = 5 * 366  # longest period: five years (260 weekly buckets)
TOP_CUSTOMERS = 10
OLDEST_WAITING = 10


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

    def contains_day(self, column: Any) -> ColumnElement[bool]:
        """For an Oslo calendar day column (the report totals)."""
        return and_(column >= literal(self.first, Date()), column <= literal(self.last, Date()))


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


def day_bucket_case(column: Any, buckets: Sequence[Bucket]) -> ColumnElement[Any]:
    """The same for an Oslo calendar day column: CASE WHEN day <= last0 THEN 0 ..."""
    return case(
        *[(column <= literal(b.last, Date()), literal_column(str(b.index), Integer)) for b in buckets], else_=None
    )


def bucket_case(column: Any, buckets: Sequence[Bucket]) -> ColumnElement[Any]:
    """The index of the bucket an instant falls in: CASE WHEN col < end0 THEN 0 WHEN col < end1 ...

    Only meaningful for rows inside the period (filter with `Period.contains`)."""
    return case(
        *[(column < literal(b.end, UTCDateTime()), literal_column(str(b.index), Integer)) for b in buckets], else_=None
    )


def _money(value: Any) -> Decimal:
    return Decimal(value or 0).quantize(CENT)


# --- the manager's start page -----------------------------------------------------------------


def status_totals(session: Session) -> dict[str, tuple[int, Decimal]]:
    """Status → (orders, sum ex. VAT) over all orders now in it, from the day totals."""
    t = OrderDayTotal
    placed = func.sum(t.placed)
    rows = session.execute(
        select(t.status, placed, func.coalesce(func.sum(t.placed_ex_vat), 0)).group_by(t.status).having(placed > 0)
    ).all()
    return {status: (int(n), _money(total)) for status, n, total in rows}


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
    t = OrderDayTotal
    rows = (
        select(day_bucket_case(t.day, months).label("bucket"), t.channel, t.placed, t.placed_ex_vat)
        .where(t.status.in_(SALES), period.contains_day(t.day))
        .subquery("sales")
    )
    result = session.execute(
        select(rows.c.bucket, rows.c.channel, func.sum(rows.c.placed_ex_vat), func.sum(rows.c.placed))
        .group_by(rows.c.bucket, rows.c.channel)
        .having(func.sum(rows.c.placed) > 0)
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

    @property
    def statuses(self) -> tuple[str, ...]:
        """The statuses the report shows, in the lifecycle's order: each of the supplier's, and
        "Venter på godkjenning hos dere" only when an order of the period is or was in it (most
        companies set no approval rules of their own)."""
        used = set(self.now) | {s for _w, s in self.entered}
        return tuple(s for s in ALL_STATUSES if s not in INTERNAL_WAITING or s in used)


def status_report(session: Session, period: Period) -> StatusReport:
    weeks = week_buckets(period)
    t = OrderDayTotal
    placed = func.sum(t.placed)
    now = dict(
        session.execute(
            select(t.status, placed).where(period.contains_day(t.day)).group_by(t.status).having(placed > 0)
        )
        .tuples()
        .all()
    )
    events = (
        select(day_bucket_case(t.day, weeks).label("bucket"), t.status, t.entered)
        .where(period.contains_day(t.day), t.entered > 0)
        .subquery("events")
    )
    entered = session.execute(
        select(events.c.bucket, events.c.status, func.sum(events.c.entered)).group_by(events.c.bucket, events.c.status)
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


def _lead_times(session: Session, period: Period, weeks: list[Bucket]) -> list[Any]:
    """(Monday of the week, decided, approved, rejected, 2 · median, 10 · p90) per week with decisions.

    The decisions are read from `approval_waits` in (week, seconds) order. PostgreSQL's
    `percentile_cont` sorts each week on its own; q · its result rounded is the exact integer (the
    error of its floating point is far below 1/q). Elsewhere the same figure by window functions."""
    w = ApprovalWait
    decided = (
        w.week >= literal(_monday(weeks[0].first), Date()),
        w.week <= literal(_monday(weeks[-1].first), Date()),
        period.contains(w.decided_at),
    )
    approved = func.sum(case((w.outcome == PROCESSING, 1), else_=0))
    rejected = func.sum(case((w.outcome == REJECTED, 1), else_=0))
    if session.get_bind().dialect.name == "postgresql":

        def times_q(a: int, q: int) -> ColumnElement[Any]:
            pct = func.percentile_cont(literal_column(f"{a}.0 / {q}")).within_group(w.seconds)
            return cast(func.round(pct * q), BigInteger)

        stmt = (
            select(w.week, func.count(), approved, rejected, times_q(1, 2), times_q(9, 10))
            .where(*decided)
            .group_by(w.week)
        )
        return list(session.execute(stmt).all())
    durations = select(w.week, w.outcome, w.seconds.label("secs")).where(*decided).subquery("durations")
    ranked = select(
        durations.c.week,
        durations.c.outcome,
        durations.c.secs,
        func.row_number().over(partition_by=durations.c.week, order_by=durations.c.secs).label("rn"),
        func.count().over(partition_by=durations.c.week).label("n"),
        func.lead(durations.c.secs).over(partition_by=durations.c.week, order_by=durations.c.secs).label("next_secs"),
    ).subquery("ranked")
    return list(
        session.execute(
            select(
                ranked.c.week,
                func.count(),
                func.sum(case((ranked.c.outcome == PROCESSING, 1), else_=0)),
                func.sum(case((ranked.c.outcome == REJECTED, 1), else_=0)),
                _percentile_times_q(ranked, (1, 2)),
                _percentile_times_q(ranked, (9, 10)),
            ).group_by(ranked.c.week)
        ).all()
    )


def _monday(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def approval_report(session: Session, period: Period, now: dt.datetime | None = None) -> ApprovalReport:
    now = now or utcnow()
    weeks = week_buckets(period)
    by_week = {monday: rest for monday, *rest in _lead_times(session, period, weeks)}
    result = []
    for week in weeks:  # one entry per week, not per order
        n, ok, no, med2, p90x10 = by_week.get(_monday(week.first), (0, 0, 0, None, None))
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
    oldest first by their (latest) entry into pending approval; and how many there are."""
    w = ApprovalWait
    rows = session.execute(
        select(
            Order.id,
            Order.number,
            Company.name,
            Company.customer_number,
            w.entered_at,
            Order.total_ex_vat + Order.total_vat,
        )
        .join(Order, Order.id == w.order_id)
        .join(Company, Company.id == Order.company_id)
        .where(w.decided_at.is_(None), Order.status == PENDING_APPROVAL)
        .order_by(w.entered_at, Order.id)
        .limit(limit)
    ).all()
    # count(*): answered from ix_orders_status_created alone.
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


def _whole_months(period: Period) -> tuple[dt.date, dt.date]:
    """[first, end) of the calendar months wholly inside the period (first >= end: none)."""
    first = period.first if period.first.day == 1 else add_months(period.first, 1)
    after = period.last + dt.timedelta(days=1)
    end = after if after.day == 1 else after.replace(day=1)
    return first, end


def top_customers(session: Session, period: Period, limit: int = TOP_CUSTOMERS) -> list[CustomerSales]:
    """Whole months from the month totals, the days before and after them from the orders."""
    m = CompanyMonthTotal
    first, end = _whole_months(period)
    if first < end:
        from_orders = or_(
            Period(period.first, first - dt.timedelta(days=1)).contains(Order.created_at),
            Period(end, period.last).contains(Order.created_at),
        )
        parts = [
            select(m.company_id, m.orders.label("n"), m.total_ex_vat.label("amount")).where(
                m.status.in_(SALES), m.month >= first, m.month < end
            )
        ]
    else:
        from_orders, parts = period.contains(Order.created_at), []
    parts.append(
        select(Order.company_id, literal_column("1", Integer).label("n"), Order.total_ex_vat.label("amount")).where(
            Order.status.in_(SALES), from_orders
        )
    )
    both = union_all(*parts).subquery("sales")
    sales = func.sum(both.c.amount)
    count = func.sum(both.c.n)
    rows = session.execute(
        select(Company.id, Company.name, Company.customer_number, Company.credit_limit, count, sales.label("sales"))
        .join(Company, Company.id == both.c.company_id)
        .group_by(Company.id, Company.name, Company.customer_number, Company.credit_limit)
        .having(count > 0)
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
    used = consumption_from_totals(session, [r[0] for r in rows], day)
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
