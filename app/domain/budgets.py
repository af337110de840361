"""Bruksgrense: soft spending limits per company (optionally per user) and period.

Consumption = the ex. VAT totals of orders placed in the current period by the budget's user (or
by anyone in the company when the budget has no user), cancelled and rejected orders excluded.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Iterable, Optional

from sqlalchemy import and_, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..models import Budget, MailOutbox, Order, OrderStatus, PortalUser
from .formatting import OSLO, format_nok, to_oslo
from .links import portal_link
from .notifications import queue_mail

EXCLUDED = (OrderStatus.cancelled.value, OrderStatus.rejected.value)


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


def _utc_midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), tzinfo=OSLO).astimezone(dt.timezone.utc)


def consumption(session: Session, budgets: Iterable[Budget], day: dt.date) -> dict[int, Decimal]:
    """Budget id → consumption in the period containing `day`: one aggregate query for all budgets."""
    budgets = list(budgets)
    if not budgets:
        return {}
    totals: dict[int, Decimal] = {}
    conditions = []
    for b in budgets:
        start, end = period_bounds(b.period, day)
        match = [Order.company_id == b.company_id, Order.created_at >= _utc_midnight(start),
                 Order.created_at < _utc_midnight(end)]
        if b.user_id is not None:
            match.append(Order.created_by_id == b.user_id)
        conditions.append((b.id, and_(*match)))
    from sqlalchemy import case, literal

    columns = [func.coalesce(func.sum(case((cond, Order.total_ex_vat), else_=literal(0))), 0).label(f"b{bid}")
               for bid, cond in conditions]
    row = session.execute(
        select(*columns).where(Order.status.not_in(EXCLUDED),
                               Order.company_id.in_({b.company_id for b in budgets}))
    ).one()
    for (bid, _), value in zip(conditions, row):
        totals[bid] = Decimal(value or 0).quantize(Decimal("0.01"))
    return totals


def applicable_budgets(session: Session, company_id: int, user_id: Optional[int]) -> list[Budget]:
    who = Budget.user_id.is_(None) if user_id is None else or_(Budget.user_id.is_(None), Budget.user_id == user_id)
    return list(session.scalars(select(Budget).where(Budget.company_id == company_id, Budget.active.is_(True), who)))


def apply_budgets(session: Session, order: Order) -> list[Budget]:
    """Flag the (flushed) order when it takes a budget over its limit; mail the admins once per period."""
    session.flush()
    day = to_oslo(order.created_at).date()
    budgets = applicable_budgets(session, order.company_id, order.created_by_id)
    used = consumption(session, budgets, day)
    exceeded = [b for b in budgets if used[b.id] > b.amount]
    if exceeded:
        order.over_budget = True
    for budget in exceeded:
        _notify_once(session, budget, used[budget.id], day)
    return exceeded


def _notify_once(session: Session, budget: Budget, used: Decimal, day: dt.date) -> None:
    start, _ = period_bounds(budget.period, day)
    admins = session.scalars(
        select(PortalUser).where(PortalUser.company_id == budget.company_id, PortalUser.active.is_(True),
                                 PortalUser.roles.any(name="CustomerAdmin"))
    ).all()
    who = budget.user.full_name if budget.user_id and budget.user else "hele bedriften"
    for admin in admins:
        key = f"budget-exceeded:{budget.id}:{start.isoformat()}:{admin.id}"
        if session.scalar(select(MailOutbox.id).where(MailOutbox.dedupe_key == key)):
            continue
        try:
            # A savepoint: a parallel order that already queued this mail must not undo our order.
            with session.begin_nested():
                queue_mail(
                    session, kind="budget_exceeded", to=admin.email, dedupe_key=key,
                    subject=f"Bruksgrensen for {who} er overskredet",
                    text=(f"Bruksgrensen for {who} ({format_nok(budget.amount)} per periode fra "
                          f"{start.strftime('%d.%m.%Y')}) er nå overskredet. Forbruk: {format_nok(used)}.\n\n"
                          "Det kan fortsatt bestilles; grensen er veiledende."),
                    link=portal_link("/budgetview/list/"),
                )
        except IntegrityError:
            continue


def budget_status(session: Session, actor, day: Optional[dt.date] = None) -> list[dict]:  # type: ignore[no-untyped-def]
    """What a customer sees while ordering: each budget that applies to them, used/remaining and a level.

    level: "ok", "warn" (80 % or more used) or "over".
    """
    if actor.company_id is None:
        return []
    from .formatting import oslo_today

    day = day or oslo_today()
    budgets = applicable_budgets(session, actor.company_id, actor.id)
    used = consumption(session, budgets, day)
    result = []
    for b in budgets:
        spent = used[b.id]
        ratio = (spent / b.amount) if b.amount else Decimal("1")
        level = "over" if spent > b.amount else "warn" if ratio >= Decimal("0.8") else "ok"
        start, end = period_bounds(b.period, day)
        result.append({"budget": b, "used": spent, "remaining": b.amount - spent, "ratio": ratio, "level": level,
                       "start": start, "end": end - dt.timedelta(days=1)})
    return result
