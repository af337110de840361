"""Bruksgrense: soft spending limits per company (optionally per user) and period.

Consumption = the ex. VAT totals of orders placed in the current period by the budget's user (or
by anyone in the company when the budget has no user), cancelled and rejected orders excluded.
Orders waiting for the company's own approval count as planned: in the consumption, shown apart.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, case, func, literal, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from app.domain import notices
from app.domain.actors import Actor
from app.domain.formatting import format_month, format_quarter, oslo_midnight_utc, oslo_today, to_oslo
from app.domain.lifecycle import EXCLUDED, INTERNAL_WAITING
from app.domain.validation import InvalidValue, validate_amount
from app.models import Budget, Company, CompanyMonthTotal, MailOutbox, Order, PortalUser
from app.roles import CUSTOMER_ADMIN

# Numeric(12, 2): the largest amount the column holds.
MAX_AMOUNT = Decimal("9999999999.99")
AMOUNT_TOO_LARGE = _l("Beløpet er for stort.")


def validate_budget_amount(value: Any) -> Decimal:
    """A budget's limit: an amount in NOK (validate_amount) that the column can hold."""
    amount = validate_amount(value)
    if amount > MAX_AMOUNT:
        raise InvalidValue(AMOUNT_TOO_LARGE)
    return amount


def period_bounds(period: str, day: dt.date) -> tuple[dt.date, dt.date]:
    """First day of the period containing `day` and the first day after it (Oslo calendar)."""
    if period == "month":
        start = day.replace(day=1)
    elif period == "quarter":
        start = dt.date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    elif period == "year":
        start = dt.date(day.year, 1, 1)
    else:
        raise ValueError(f"unknown period {period!r}")
    months = {"month": 1, "quarter": 3, "year": 12}[period]
    year, month = divmod(start.month - 1 + months, 12)
    return start, dt.date(start.year + year, month + 1, 1)


# The orders budgets count: neither cancelled nor rejected (lifecycle.EXCLUDED).
COUNTED = Order.status.not_in(EXCLUDED)


def counts_toward(budget: Budget, company_id: Any, creator_id: Any) -> list[Any]:
    """Whose orders a budget is about: its user's, or (no user) anyone's in its company.

    The conditions an order of `company_id` by `creator_id` must meet. Given the Order columns
    they are SQL (the consumption queries); given an order's values they are booleans (which
    budgets an order counts against: `applies`).
    """
    match = [company_id == budget.company_id]
    if budget.user_id is not None:
        match.append(creator_id == budget.user_id)
    return match


def applies(budget: Budget, company_id: int, creator_id: int | None) -> bool:
    """Does an order of `company_id` by `creator_id` count against `budget`?"""
    return all(counts_toward(budget, company_id, creator_id))


def _whose(budget: Budget) -> list[Any]:
    """The orders a budget is about, as SQL conditions."""
    return counts_toward(budget, Order.company_id, Order.created_by_id)


def _placed(first: dt.date, end: dt.date) -> list[Any]:
    """Placed on the Oslo days from `first` up to, not including, `end` (times are stored in UTC)."""
    return [Order.created_at >= oslo_midnight_utc(first), Order.created_at < oslo_midnight_utc(end)]


def consumption(
    session: Session, budgets: Iterable[Budget], day: dt.date, *, only_planned: bool = False
) -> dict[int, Decimal]:
    """Budget id → consumption in the period containing `day`: one aggregate query for all budgets.

    `only_planned`: the part of it that is planned, not yet ordered: the orders waiting for the
    company's own approval (Godkjenning hos dere). They count, as the company means to order them,
    and are shown apart."""
    budgets = list(budgets)
    if not budgets:
        return {}
    totals: dict[int, Decimal] = {}
    periods = {b.id: period_bounds(b.period, day) for b in budgets}
    conditions = [(b.id, and_(*_whose(b), *_placed(*periods[b.id]))) for b in budgets]
    columns = [
        func.coalesce(func.sum(case((cond, Order.total_ex_vat), else_=literal(0))), 0).label(f"b{bid}")
        for bid, cond in conditions
    ]
    # Only the orders placed within the budgets' periods, not every order of the companies.
    first = min(bounds[0] for bounds in periods.values())
    after = max(bounds[1] for bounds in periods.values())
    counted = Order.status.in_(INTERNAL_WAITING) if only_planned else COUNTED
    row = session.execute(
        select(*columns).where(counted, Order.company_id.in_({b.company_id for b in budgets}), *_placed(first, after))
    ).one()
    for (bid, _), value in zip(conditions, row, strict=True):
        totals[bid] = Decimal(value or 0).quantize(Decimal("0.01"))
    return totals


def consumption_from_totals(session: Session, budgets: Iterable[Budget], day: dt.date) -> dict[int, Decimal]:
    """The same as `consumption`, read from the month totals (budget periods are whole Oslo months):
    one small query per kind of period, whatever the number of budgets and orders."""
    budgets = list(budgets)
    totals: dict[int, Decimal] = {}
    m = CompanyMonthTotal
    for period in sorted({b.period for b in budgets}):
        start, end = period_bounds(period, day)
        mine = [b for b in budgets if b.period == period]
        rows = session.execute(
            select(m.company_id, m.creator_id, func.sum(m.total_ex_vat))
            .where(
                m.month >= start,
                m.month < end,
                m.status.not_in(EXCLUDED),
                m.company_id.in_(sorted({b.company_id for b in mine})),
            )
            .group_by(m.company_id, m.creator_id)
        ).all()
        by_company: dict[int, list[tuple[int | None, Decimal]]] = {}
        for company_id, creator_id, value in rows:
            by_company.setdefault(company_id, []).append((creator_id, Decimal(value or 0)))
        for b in mine:
            used = sum(
                (
                    amount
                    for creator_id, amount in by_company.get(b.company_id, ())
                    if applies(b, b.company_id, creator_id)
                ),
                Decimal("0"),
            )
            totals[b.id] = used.quantize(Decimal("0.01"))
    return totals


def applicable_budgets(session: Session, company_id: int, user_id: int | None, lock: bool = False) -> list[Budget]:
    """The active budgets an order by `user_id` counts against (`applies`). `lock`: hold the rows
    of the company's active budgets (FOR UPDATE, in id order against deadlocks, as BudgetRun)
    until the transaction ends, so orders against the same budget are judged one after the other,
    each seeing the ones committed before it."""
    return [b for b in _active_budgets(session, [company_id], lock) if applies(b, company_id, user_id)]


def _active_budgets(session: Session, company_ids: Iterable[int], lock: bool) -> list[Budget]:
    stmt = (
        select(Budget)
        .where(Budget.company_id.in_(sorted(set(company_ids))), Budget.active.is_(True))
        .order_by(Budget.id)
    )
    if lock:
        stmt = stmt.with_for_update(of=Budget)
    return list(session.scalars(stmt))


def apply_budgets(session: Session, order: Order) -> list[Budget]:
    """Flag the (flushed) order when it takes a budget over its limit; mail the admins once per period."""
    session.flush()
    day = to_oslo(order.created_at).date()
    # Locked: two orders at once that together pass the limit must not both miss it (PostgreSQL;
    # SQLite runs one writer at a time anyway).
    budgets = applicable_budgets(session, order.company_id, order.created_by_id, lock=True)
    used = consumption(session, budgets, day)
    exceeded = [b for b in budgets if used[b.id] > b.amount]
    if exceeded:
        order.over_budget = True
    for budget in exceeded:
        notify_budget_exceeded(session, budget, used[budget.id], day)
    return exceeded


def _admins(*where: Any) -> Any:
    """The active customer admins (id, company id) among the users `where` picks."""
    return select(PortalUser.id, PortalUser.company_id).where(
        *where, PortalUser.active.is_(True), PortalUser.roles.any(name=CUSTOMER_ADMIN)
    )


def exceeded_key(budget: Budget, day: dt.date, admin_id: int) -> str:
    """The dedupe key of the budget-exceeded mail to one admin: once per budget and period."""
    start, _ = period_bounds(budget.period, day)
    return f"budget-exceeded:{budget.id}:{start.isoformat()}:{admin_id}"


def notify_budget_exceeded(session: Session, budget: Budget, used: Decimal, day: dt.date) -> None:
    start, _ = period_bounds(budget.period, day)
    admins = session.scalars(
        select(PortalUser).where(
            PortalUser.company_id == budget.company_id,
            PortalUser.active.is_(True),
            PortalUser.roles.any(name=CUSTOMER_ADMIN),
        )
    ).all()
    user = budget.user if budget.user_id else None
    # The dashboard at this budget and period (customer admins may open it).
    link = f"/bruksgrense/oversikt/?periode={budget.period}&p={period_key(budget.period, day)}&budsjett={budget.id}"
    company = session.get(Company, budget.company_id)
    who = user.full_name if user else (company.name if company else "")
    for admin in admins:
        key = exceeded_key(budget, day, admin.id)
        if session.scalar(select(MailOutbox.id).where(MailOutbox.dedupe_key == key)):
            continue
        try:
            # A savepoint: a parallel order that already queued this mail must not undo our order.
            with session.begin_nested():
                # The notice and the mail together: a lost race undoes both (fixed kind: always mailed).
                notices.announce(
                    session,
                    "budget_exceeded",
                    [admin],
                    ref=budget.id,
                    subject=who,
                    link=link,
                    dedupe_key=key,
                    user=user,
                    amount=budget.amount,
                    start=start,
                    used=used,
                )
        except IntegrityError:
            continue


def _consumption_by_orderer(session: Session, budgets: list[Budget], day: dt.date) -> dict[int, Decimal]:
    """`consumption` of many budgets (a chunk's companies): the counted orders summed per company,
    orderer and kind of period in one query (a column per kind of period, not per budget: every
    order of the companies' periods is read once), then each budget's share added up here."""
    if not budgets:
        return {}
    periods = sorted({b.period for b in budgets})
    bounds = {period: period_bounds(period, day) for period in periods}
    columns = [
        func.coalesce(func.sum(case((and_(*_placed(*bounds[p])), Order.total_ex_vat), else_=literal(0))), 0)
        for p in periods
    ]
    first = min(start for start, _end in bounds.values())
    after = max(end for _start, end in bounds.values())
    rows = session.execute(
        select(Order.company_id, Order.created_by_id, *columns)
        .where(COUNTED, Order.company_id.in_({b.company_id for b in budgets}), *_placed(first, after))
        .group_by(Order.company_id, Order.created_by_id)
    ).all()
    used: dict[int, Decimal] = {}
    for b in budgets:
        column = 2 + periods.index(b.period)
        total = sum((Decimal(r[column] or 0) for r in rows if applies(b, r[0], r[1])), Decimal("0"))
        used[b.id] = total.quantize(Decimal("0.01"))
    return used


class BudgetRun:
    """The budgets of many orders placed in one transaction (the standing-order job's chunk): the
    active budgets of their companies, locked (FOR UPDATE, id order) for the transaction, with their
    consumption before the run; each new order then adds to the budgets it counts against, in the
    order given, as placing the orders one by one would (apply_budgets)."""

    def __init__(self, session: Session, company_ids: Iterable[int], day: dt.date) -> None:
        self.session, self.day = session, day
        locked = _active_budgets(session, company_ids, lock=True)
        self.used: dict[int, Decimal] = _consumption_by_orderer(session, locked, day)
        self.by_company: dict[int, list[Budget]] = {}
        for budget in locked:
            self.by_company.setdefault(budget.company_id, []).append(budget)
        self.first_over: dict[int, tuple[Budget, Decimal]] = {}

    def apply(self, order: Order) -> None:
        """Count the order (not flushed) against its budgets and flag it when it takes one over."""
        order.over_budget = self.count(order.company_id, order.created_by_id, order.total_ex_vat)

    def saved(self) -> tuple[dict[int, Decimal], dict[int, tuple[Budget, Decimal]]]:
        """What has been counted so far, for `restore`."""
        return dict(self.used), dict(self.first_over)

    def restore(self, saved: tuple[dict[int, Decimal], dict[int, tuple[Budget, Decimal]]]) -> None:
        """Back to what `saved` held: the orders counted since are not counted."""
        self.used, self.first_over = dict(saved[0]), dict(saved[1])

    def count(self, company_id: int, created_by_id: int | None, total_ex_vat: Decimal) -> bool:
        """Count an order's total against its budgets: does it take one over (its flag)?"""
        exceeded = []
        for budget in self.by_company.get(company_id, ()):
            if not applies(budget, company_id, created_by_id):
                continue
            self.used[budget.id] += total_ex_vat
            if self.used[budget.id] > budget.amount:
                exceeded.append(budget)
        for budget in exceeded:
            if budget.id not in self.first_over:  # later orders would find the mail queued already
                self.first_over[budget.id] = (budget, self.used[budget.id])
        return bool(exceeded)

    def notify(self) -> None:
        """The budget-exceeded mail of each budget the run took over its limit (once per period).
        The admins and the mails already queued are read once for all of them (two queries), so
        a budget whose admins all have their mail costs nothing more."""
        if not self.first_over:
            return
        companies = sorted({b.company_id for b, _used in self.first_over.values()})
        admins: dict[int, list[int]] = {}
        for user_id, company_id in self.session.execute(_admins(PortalUser.company_id.in_(companies))):
            admins.setdefault(company_id, []).append(user_id)
        keys = {
            budget.id: [exceeded_key(budget, self.day, admin) for admin in admins.get(budget.company_id, ())]
            for budget, _used in self.first_over.values()
        }
        wanted = [key for budget_keys in keys.values() for key in budget_keys]
        queued = set(self.session.scalars(select(MailOutbox.dedupe_key).where(MailOutbox.dedupe_key.in_(wanted))))
        for budget, used in self.first_over.values():
            if any(key not in queued for key in keys[budget.id]):
                notify_budget_exceeded(self.session, budget, used, self.day)


NEAR_LIMIT = Decimal("0.8")


def usage_level(spent: Decimal, amount: Decimal) -> tuple[Decimal, str]:
    """(share of the limit used, level): "over" the limit, "warn" at 80 % or more, else "ok".

    The one definition of "near the limit" (the customer's warning and the manager's report).
    """
    ratio = (spent / amount) if amount else Decimal("1")
    level = "over" if spent > amount else "warn" if ratio >= NEAR_LIMIT else "ok"
    return ratio, level


def budget_status(session: Session, actor: Actor, day: dt.date | None = None) -> list[dict[str, Any]]:
    """What a customer sees while ordering: each budget that applies to them, used/remaining and a level.

    level: "ok", "warn" (80 % or more used) or "over".
    """
    if actor.company_id is None:
        return []
    day = day or oslo_today()
    budgets = applicable_budgets(session, actor.company_id, actor.id)
    used = consumption(session, budgets, day)
    result: list[dict[str, Any]] = []
    for b in budgets:
        spent = used[b.id]
        ratio, level = usage_level(spent, b.amount)
        start, end = period_bounds(b.period, day)
        result.append(
            {
                "budget": b,
                "used": spent,
                "remaining": b.amount - spent,
                "ratio": ratio,
                "level": level,
                "start": start,
                "end": end - dt.timedelta(days=1),
            }
        )
    return result


# --- the budget dashboard -------------------------------------------------------------------

PERIODS = ("month", "quarter", "year")


def period_key(period: str, day: dt.date) -> str:
    """The period containing `day` as a short key: "2026-11", "2026-K4", "2026"."""
    if period == "month":
        return f"{day.year}-{day.month:02d}"
    if period == "quarter":
        return f"{day.year}-K{(day.month - 1) // 3 + 1}"
    if period == "year":
        return str(day.year)
    raise ValueError(f"unknown period {period!r}")


def parse_period_key(period: str, key: str | None) -> dt.date | None:
    """First day of the period a key names, or None for a key that is not one of `period`."""
    key = (key or "").strip()
    patterns = {"month": r"^(\d{4})-(\d{2})$", "quarter": r"^(\d{4})-K([1-4])$", "year": r"^(\d{4})$"}
    match = re.match(patterns.get(period, r"^$"), key)
    if not match:
        return None
    year = int(match.group(1))
    if not 1900 <= year <= 9998:
        return None
    if period == "month":
        month = int(match.group(2))
        return dt.date(year, month, 1) if 1 <= month <= 12 else None
    if period == "quarter":
        return dt.date(year, 3 * (int(match.group(2)) - 1) + 1, 1)
    return dt.date(year, 1, 1)


def period_label(period: str, start: dt.date) -> str:
    """The period containing `start` in the current language: "november 2026", "4. kvartal 2026",
    "2026" (English: "November 2026", "Q4 2026", "2026")."""
    if period == "month":
        return format_month(start)
    if period == "quarter":
        return format_quarter(start)
    return str(start.year)


def recent_periods(period: str, today: dt.date, count: int) -> list[tuple[str, str]]:
    """(key, label) of the period containing `today` and the `count - 1` before it, newest first."""
    result = []
    start, _end = period_bounds(period, today)
    for _i in range(count):
        result.append((period_key(period, start), period_label(period, start)))
        start, _end = period_bounds(period, start - dt.timedelta(days=1))
    return result


def company_budgets(session: Session, company_id: int, period: str | None = None) -> list[Budget]:
    """The company's active budgets (of one period type), company-wide first, then by user name."""
    stmt = (
        select(Budget)
        .options(joinedload(Budget.user))
        .outerjoin(PortalUser, Budget.user_id == PortalUser.id)
        .where(Budget.company_id == company_id, Budget.active.is_(True))
    )
    if period is not None:
        stmt = stmt.where(Budget.period == period)
    stmt = stmt.order_by(Budget.user_id.is_not(None), PortalUser.first_name, PortalUser.last_name, Budget.id)
    return list(session.scalars(stmt).unique())


def budget_rows(session: Session, budgets: list[Budget], day: dt.date) -> list[dict]:
    """Per budget: used, of it planned (waiting for the company's own approval), remaining, share
    and level in the period containing `day` (two queries)."""
    used = consumption(session, budgets, day)
    planned = consumption(session, budgets, day, only_planned=True)
    rows = []
    for b in budgets:
        spent = used.get(b.id, Decimal("0"))
        ratio, level = usage_level(spent, b.amount)
        rows.append(
            {
                "budget": b,
                "used": spent,
                "planned": planned.get(b.id, Decimal("0")),
                "remaining": b.amount - spent,
                "ratio": ratio,
                "level": level,
            }
        )
    return rows


# The forecast waits for enough history: one order early in a period says little about its end.
FORECAST_MIN_DAYS = 7
FORECAST_MIN_ORDERS = 3


def forecast_total(used: Decimal, orders: int, elapsed: int, total_days: int) -> Decimal | None:
    """The period-end forecast: consumption so far extended at its average per day so far
    (straight line), once at least FORECAST_MIN_DAYS days of the period have passed and
    FORECAST_MIN_ORDERS orders count; before that, or with no days left, None (no forecast)."""
    if elapsed < FORECAST_MIN_DAYS or orders < FORECAST_MIN_ORDERS or elapsed >= total_days:
        return None
    return (used / elapsed * total_days).quantize(Decimal("0.01"))


def cumulative(session: Session, budget: Budget, day: dt.date, today: dt.date) -> dict:
    """Cumulative consumption per day of the period containing `day`, up to today (or the period's
    end), and the period-end forecast (forecast_total) for a current period.

    One aggregate query: for each day, the sum of the orders placed before the next Oslo midnight,
    and the number of orders. Returns {"start", "last", "days": [(date, cumulative)], "used",
    "orders", "forecast": [(date, value)] | [], "forecast_total" | None, "forecast_waits": bool}.
    """
    start, end = period_bounds(budget.period, day)
    last = end - dt.timedelta(days=1)
    until = min(today, last)
    days: list[tuple[dt.date, Decimal]] = []
    orders = 0
    if until >= start:
        dates = [start + dt.timedelta(days=i) for i in range((until - start).days + 1)]
        columns = [
            func.coalesce(
                func.sum(
                    case(
                        (Order.created_at < oslo_midnight_utc(d + dt.timedelta(days=1)), Order.total_ex_vat),
                        else_=literal(0),
                    )
                ),
                0,
            )
            for d in dates
        ]
        row = session.execute(
            select(func.count(Order.id), *columns).where(
                COUNTED, *_whose(budget), *_placed(start, until + dt.timedelta(days=1))
            )
        ).one()
        orders = int(row[0] or 0)
        days = [(d, Decimal(v or 0).quantize(Decimal("0.01"))) for d, v in zip(dates, row[1:], strict=True)]
    used = days[-1][1] if days else Decimal("0.00")
    forecast: list[tuple[dt.date, Decimal]] = []
    total: Decimal | None = None
    current = start <= today < last
    if current:
        total = forecast_total(used, orders, (today - start).days + 1, (last - start).days + 1)
        if total is not None:
            forecast = [(today, used), (last, total)]
    return {
        "start": start,
        "last": last,
        "days": days,
        "used": used,
        "orders": orders,
        "forecast": forecast,
        "forecast_total": total,
        "forecast_waits": current and total is None,
    }
