"""Faste ordre: the delivery plan (pure date arithmetic), keeping plans, and making the orders.

The plan
--------
* weekly: every week on `weekday` (0 = Monday);
* every_n_weeks: on `weekday` every `interval_weeks` weeks, counted from the first such weekday
  on or after `start_date`;
* monthly: on `day_of_month` (1-31); a shorter month delivers on its last day (31 → 28/29 Feb).

A delivery lies on or after `start_date` and on or before `end_date` (if set). `paused_until` is
the last day of a pause: no deliveries on or before it. `skip_date` is one delivery left out.
An inactive plan delivers nothing. All dates are calendar dates in Europe/Oslo.

Making orders
-------------
`generate_due` places the order of every plan due on a date through `orders.place_order` (so
approval for dealers and budgets apply), channel `standing_order`, with `standing_order_id` and
`delivery_date`. The unique constraint on (standing_order_id, delivery_date) makes it idempotent
and safe when two runs overlap: each plan gets its own transaction, and the run that loses the
race gets an IntegrityError, rolls back only that plan and reports the order as already there.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload, selectinload

from app.domain.actors import Actor
from app.domain.catalogue import LineInput, check_lines
from app.domain.companies import delivery_address_error
from app.domain.errors import NotAllowed, NotFound, ValidationFailed, get_visible
from app.domain.formatting import format_date, oslo_today
from app.domain.orders import place_order
from app.domain.pricing import is_invoice_customer  # standing orders are for invoice customers
from app.models import (
    Company,
    Frequency,
    Order,
    OrderChannel,
    PortalUser,
    StandingOrder,
    StandingOrderLine,
)

MAX_INTERVAL_WEEKS = 52
# How far ahead next_deliveries looks before giving up (a pause of years, an end date passed).
HORIZON_DAYS = 366 * 5


def not_invoice_customer_message() -> str:
    return _("Kun tilgjengelig for fakturakunder.")


def not_found_message() -> str:
    return _("Fant ikke den faste ordren.")


# --- the plan: pure date arithmetic ---------------------------------------------------------


class PlanLike(Protocol):
    """What the date arithmetic reads (read-only: a frozen Plan and a StandingOrder row both fit)."""

    @property
    def frequency(self) -> str: ...
    @property
    def interval_weeks(self) -> int | None: ...
    @property
    def weekday(self) -> int | None: ...
    @property
    def day_of_month(self) -> int | None: ...
    @property
    def start_date(self) -> dt.date: ...
    @property
    def end_date(self) -> dt.date | None: ...
    @property
    def paused_until(self) -> dt.date | None: ...
    @property
    def skip_date(self) -> dt.date | None: ...
    @property
    def active(self) -> bool: ...


# The fields of PlanLike but the skipped date.
PLAN_SHAPE = (
    "frequency",
    "start_date",
    "weekday",
    "interval_weeks",
    "day_of_month",
    "end_date",
    "paused_until",
    "active",
)


@dataclass(frozen=True)
class Plan:
    """A delivery plan without a database row (tests, previews); a StandingOrder works the same."""

    frequency: str
    start_date: dt.date
    weekday: int | None = None
    interval_weeks: int | None = None
    day_of_month: int | None = None
    end_date: dt.date | None = None
    paused_until: dt.date | None = None
    skip_date: dt.date | None = None
    active: bool = True


def month_day(year: int, month: int, day_of_month: int) -> dt.date:
    """`day_of_month` of that month, or the month's last day when the month is shorter."""
    return dt.date(year, month, min(day_of_month, calendar.monthrange(year, month)[1]))


def _step_weeks(plan: PlanLike) -> int:
    return (plan.interval_weeks or 1) if plan.frequency == Frequency.every_n_weeks.value else 1


def schedule(plan: PlanLike, frm: dt.date) -> Iterator[dt.date]:
    """The plan's regular dates on or after `frm` and `start_date`, ignoring end, pause and skip
    (an endless iterator)."""
    first = max(frm, plan.start_date)
    if plan.frequency == Frequency.monthly.value:
        year, month = first.year, first.month
        while True:
            day = month_day(year, month, plan.day_of_month or 1)
            if day >= first:
                yield day
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    step = dt.timedelta(weeks=_step_weeks(plan))
    weekday = plan.weekday if plan.weekday is not None else plan.start_date.weekday()
    anchor = plan.start_date + dt.timedelta(days=(weekday - plan.start_date.weekday()) % 7)
    day = anchor
    if first > anchor:
        steps = -(-(first - anchor).days // step.days)  # ceiling: the first step on or after `first`
        day = anchor + steps * step
    while True:
        yield day
        day += step


def is_scheduled(plan: PlanLike, day: dt.date) -> bool:
    """Is `day` one of the plan's regular dates within start and end (pause and skip ignored)?"""
    if day < plan.start_date or (plan.end_date is not None and day > plan.end_date):
        return False
    return next(schedule(plan, day)) == day


def is_delivery_day(plan: PlanLike, day: dt.date) -> bool:
    """Does the plan deliver on `day` (active, scheduled, not paused, not skipped)?"""
    if not plan.active or not is_scheduled(plan, day):
        return False
    if plan.paused_until is not None and day <= plan.paused_until:
        return False
    return day != plan.skip_date


def next_deliveries(plan: PlanLike, frm: dt.date, count: int = 5) -> list[dt.date]:
    """The next `count` deliveries on or after `frm` (fewer when the plan ends first)."""
    result: list[dt.date] = []
    if not plan.active:
        return result
    start = frm
    if plan.paused_until is not None and plan.paused_until >= start:
        start = plan.paused_until + dt.timedelta(days=1)
    horizon = frm + dt.timedelta(days=HORIZON_DAYS)
    for day in schedule(plan, start):
        if (plan.end_date is not None and day > plan.end_date) or day > horizon or len(result) >= count:
            break
        if day != plan.skip_date:
            result.append(day)
    return result


def plan_text(plan: PlanLike) -> str:
    """ "Hver uke, mandag" / "Hver 2. uke, fredag" / "Hver måned, den 31. (siste dag i kortere måneder)"."""
    from app.domain import labels

    weekday = labels.label(labels.WEEKDAY, plan.weekday) if plan.weekday is not None else ""
    if plan.frequency == Frequency.monthly.value:
        text = _("Hver måned, den %(day)s.", day=plan.day_of_month or 1)
        if (plan.day_of_month or 1) > 28:
            text += " " + _("(siste dag i kortere måneder)")
        return text
    if plan.frequency == Frequency.every_n_weeks.value and (plan.interval_weeks or 1) > 1:
        return _("Hver %(n)s. uke, %(weekday)s", n=plan.interval_weeks, weekday=weekday)
    return _("Hver uke, %(weekday)s", weekday=weekday)


def skip_choices(plan: PlanLike, frm: dt.date, count: int = 8) -> list[dt.date]:
    """The deliveries a customer may leave out: the coming ones of the plan, without the one
    skipped now (a new choice replaces it)."""
    unskipped = Plan(**{name: getattr(plan, name) for name in PLAN_SHAPE}, skip_date=None)
    return [day for day in next_deliveries(unskipped, frm, count=count) if day != plan.skip_date]


# --- validating and keeping plans -----------------------------------------------------------


@dataclass
class PlanInput:
    """What a customer sends for a standing order (forms and the API)."""

    name: str | None = None
    delivery_address_id: int | None = None
    frequency: str | None = None
    interval_weeks: int | None = None
    weekday: int | None = None
    day_of_month: int | None = None
    start_date: dt.date | None = None
    end_date: dt.date | None = None
    active: bool | None = None
    lines: Sequence[LineInput] | None = None  # None: keep the lines (updates)


PLAN_FIELDS = (
    "name",
    "delivery_address_id",
    "frequency",
    "interval_weeks",
    "weekday",
    "day_of_month",
    "start_date",
    "end_date",
    "active",
)


def require_invoice_customer(company: Company | None) -> None:
    """Standing orders are for customers who pay by invoice (NotAllowed, API 409)."""
    if not is_invoice_customer(company):
        raise NotAllowed(not_invoice_customer_message())


def get_standing_order(session: Session, standing_order_id: Any) -> StandingOrder:
    """Through the (tenant-scoped) session: another company's plan is NotFound."""
    return get_visible(session, StandingOrder, standing_order_id, not_found_message())


def _changeable(session: Session, standing_order_id: Any, actor: Actor) -> StandingOrder:
    """The plan a change is about: visible to the actor (customers: their own company's) and of
    a company that pays by invoice."""
    item = get_standing_order(session, standing_order_id)
    if actor.is_customer and actor.company_id != item.company_id:
        raise NotFound(not_found_message())
    require_invoice_customer(session.get(Company, item.company_id))
    return item


def _plan_errors(values: Mapping[str, Any], today: dt.date, start_changed: bool) -> dict[str, str]:
    errors: dict[str, str] = {}
    name = (values.get("name") or "").strip()
    if not name:
        errors["name"] = _("Gi den faste ordren et navn.")
    elif len(name) > 200:
        errors["name"] = _("Navnet kan ha høyst 200 tegn.")
    frequency = values.get("frequency")
    if frequency not in {f.value for f in Frequency}:
        errors["frequency"] = _("Velg hvor ofte det skal leveres.")
    elif frequency == Frequency.monthly.value:
        dom = values.get("day_of_month")
        if dom is None or not 1 <= dom <= 31:
            errors["day_of_month"] = _("Velg en dag i måneden mellom 1 og 31.")
    else:
        weekday = values.get("weekday")
        if weekday is None or not 0 <= weekday <= 6:
            errors["weekday"] = _("Velg ukedag.")
        if frequency == Frequency.every_n_weeks.value:
            n = values.get("interval_weeks")
            if n is None or not 1 <= n <= MAX_INTERVAL_WEEKS:
                errors["interval_weeks"] = _(
                    "Antall uker mellom leveringene må være mellom 1 og %(max)s.", max=MAX_INTERVAL_WEEKS
                )
    start = values.get("start_date")
    if start is None:
        errors["start_date"] = _("Velg startdato.")
    elif start_changed and start < today:
        errors["start_date"] = _("Startdatoen kan ikke være tilbake i tid.")
    end = values.get("end_date")
    if end is not None and start is not None and end < start:
        errors["end_date"] = _("Sluttdatoen kan ikke være før startdatoen.")
    return errors


def _normalise(values: dict[str, Any]) -> None:
    """Keep only the fields the frequency uses, so a stored plan never holds stale values."""
    frequency = values.get("frequency")
    values["name"] = (values.get("name") or "").strip()
    if frequency == Frequency.monthly.value:
        values["weekday"] = None
        values["interval_weeks"] = None
    else:
        values["day_of_month"] = None
        if frequency == Frequency.weekly.value:
            values["interval_weeks"] = None


def _line_errors(session: Session, lines: Sequence[LineInput]) -> dict[str, str]:
    return check_lines(session, lines)[0]


def _set_lines(item: StandingOrder, lines: Sequence[LineInput]) -> None:
    item.lines[:] = [
        StandingOrderLine(
            company_id=item.company_id,
            product_id=ln.product_id,
            quantity=ln.quantity,
            width=ln.width,
            depth=ln.depth,
            fabric=ln.fabric or None,
            colour=ln.colour or None,
        )
        for ln in lines
    ]


def create_standing_order(
    session: Session, actor: Actor, company_id: int | None, data: PlanInput, today: dt.date | None = None
) -> StandingOrder:
    """A new plan; customers always for their own company. Writes nothing when anything is refused."""
    today = today or oslo_today()
    if actor.is_customer:
        company_id = actor.company_id
    company = session.get(Company, company_id) if company_id else None
    if company is None:
        raise ValidationFailed({"company_id": _("Velg kundekontoen den faste ordren gjelder.")})
    require_invoice_customer(company)
    values = {name: getattr(data, name) for name in PLAN_FIELDS}
    errors = _plan_errors(values, today, start_changed=True)
    address_error = delivery_address_error(session, company.id, data.delivery_address_id)
    if address_error:
        errors["delivery_address_id"] = address_error
    errors.update(_line_errors(session, data.lines or []))
    if errors:
        raise ValidationFailed(errors)
    _normalise(values)
    values["active"] = True if values["active"] is None else bool(values["active"])
    item = StandingOrder(company_id=company.id, created_by_id=actor.id, **values)
    _set_lines(item, data.lines or [])
    session.add(item)
    session.flush()
    return item


def update_standing_order(
    session: Session,
    standing_order_id: Any,
    actor: Actor,
    data: PlanInput,
    provided: set[str] | None = None,
    today: dt.date | None = None,
) -> StandingOrder:
    """Change a plan. `provided`: the fields that were sent (None: every field of `data`)."""
    today = today or oslo_today()
    item = _changeable(session, standing_order_id, actor)
    provided = set(PLAN_FIELDS) | {"lines"} if provided is None else provided
    values = {name: (getattr(data, name) if name in provided else getattr(item, name)) for name in PLAN_FIELDS}
    if values["active"] is None:
        values["active"] = item.active
    errors = _plan_errors(values, today, start_changed=values["start_date"] != item.start_date)
    if "delivery_address_id" in provided and values["delivery_address_id"] != item.delivery_address_id:
        address_error = delivery_address_error(session, item.company_id, values["delivery_address_id"])
        if address_error:
            errors["delivery_address_id"] = address_error
    if "lines" in provided and data.lines is not None:
        errors.update(_line_errors(session, data.lines))
    if errors:
        raise ValidationFailed(errors)
    _normalise(values)
    for name, value in values.items():
        if getattr(item, name) != value:
            setattr(item, name, value)
    if "lines" in provided and data.lines is not None:
        _set_lines(item, data.lines)
    # A skipped date that is no longer a delivery of the new plan is dropped.
    if item.skip_date is not None and not is_scheduled(item, item.skip_date):
        item.skip_date = None
    session.flush()
    return item


def pause(
    session: Session, standing_order_id: Any, actor: Actor, until: dt.date | None, today: dt.date | None = None
) -> StandingOrder:
    """Pause deliveries up to and including `until`; None ends the pause."""
    today = today or oslo_today()
    item = _changeable(session, standing_order_id, actor)
    if until is not None and until < today:
        raise ValidationFailed({"until": _("Pausen må vare til i dag eller en senere dato.")})
    item.paused_until = until
    session.flush()
    return item


def skip(
    session: Session, standing_order_id: Any, actor: Actor, day: dt.date | None, today: dt.date | None = None
) -> StandingOrder:
    """Leave out one upcoming delivery (replaces an earlier choice); None delivers it again."""
    today = today or oslo_today()
    item = _changeable(session, standing_order_id, actor)
    if day is not None:
        if day < today or not is_scheduled(item, day):
            raise ValidationFailed({"date": _("Velg en av de kommende leveringene.")})
        if session.scalar(select(Order.id).where(Order.standing_order_id == item.id, Order.delivery_date == day)):
            raise ValidationFailed({"date": _("Ordren for %(date)s er allerede laget.", date=format_date(day))})
    item.skip_date = day
    session.flush()
    return item


def generated_orders(session: Session, standing_order_id: int, limit: int = 20) -> list[Order]:
    """The orders made from a plan, newest delivery first (one query)."""
    return list(
        session.scalars(
            select(Order)
            .where(Order.standing_order_id == standing_order_id)
            .order_by(Order.delivery_date.desc(), Order.id.desc())
            .limit(limit)
        )
    )


# --- making the orders of a day -------------------------------------------------------------


CREATED, EXISTS, REFUSED, FAILED = "created", "exists", "refused", "failed"


@dataclass
class Outcome:
    standing_order_id: int
    name: str
    company: str
    result: str  # created | exists | refused | failed
    order_number: str | None = None
    status: str | None = None
    message: str = ""


@dataclass
class RunSummary:
    day: dt.date
    outcomes: list[Outcome] = field(default_factory=list)

    def count(self, result: str) -> int:
        return sum(1 for o in self.outcomes if o.result == result)


def due_on(session: Session, day: dt.date) -> list[StandingOrder]:
    """Active plans that deliver on `day` (the date filter in SQL, the arithmetic in Python)."""
    candidates = session.scalars(
        select(StandingOrder)
        .options(joinedload(StandingOrder.company), selectinload(StandingOrder.lines))
        .where(
            StandingOrder.active.is_(True),
            StandingOrder.start_date <= day,
            (StandingOrder.end_date.is_(None)) | (StandingOrder.end_date >= day),
        )
        .order_by(StandingOrder.id)
    ).all()
    return [so for so in candidates if is_delivery_day(so, day)]


def _existing_order(session: Session, standing_order_id: int, day: dt.date) -> Order | None:
    return session.scalars(
        select(Order).where(Order.standing_order_id == standing_order_id, Order.delivery_date == day)
    ).first()


def _already_made(session: Session, standing_order_id: int, day: dt.date) -> Order | None:
    """The cheap look-up before trying (a second run skips here); the constraint is what guarantees it."""
    return _existing_order(session, standing_order_id, day)


def _actor_for(session: Session, so: StandingOrder) -> Actor:
    """The plan's creator places its orders (their budgets apply); an unknown creator: the system."""
    user = session.get(PortalUser, so.created_by_id) if so.created_by_id else None
    if user is None or user.company_id != so.company_id:
        return Actor(id=None, name=_("Fast ordre «%(name)s»", name=so.name))
    return replace(Actor.from_user(user), name=_("%(name)s (fast ordre)", name=user.full_name))


def generate_one(session: Session, so: StandingOrder, day: dt.date) -> Outcome:
    """Place the order of one plan for `day` in its own transaction (committed or rolled back)."""
    outcome = Outcome(so.id, so.name, so.company.name if so.company else "", FAILED)
    if not is_invoice_customer(so.company):
        outcome.result, outcome.message = REFUSED, not_invoice_customer_message()
        session.rollback()
        return outcome
    existing = _already_made(session, so.id, day)
    if existing is not None:
        outcome.result, outcome.order_number, outcome.status = EXISTS, existing.number, existing.status
        session.rollback()
        return outcome
    lines = [
        LineInput(
            product_id=ln.product_id,
            quantity=ln.quantity,
            width=ln.width,
            depth=ln.depth,
            fabric=ln.fabric,
            colour=ln.colour,
        )
        for ln in so.lines
    ]
    try:
        order = place_order(
            session,
            actor=_actor_for(session, so),
            company_id=so.company_id,
            delivery_address_id=so.delivery_address_id,
            lines=lines,
            channel=OrderChannel.standing_order.value,
            customer_reference=so.name,
            standing_order_id=so.id,
            delivery_date=day,
        )
        number, status = order.number, order.status
        session.commit()
    except IntegrityError:
        # Another run made this delivery's order first (uq_orders_standing_delivery).
        session.rollback()
        existing = _existing_order(session, so.id, day)
        if existing is None:
            outcome.message = _("Databasen avviste ordren.")
            return outcome
        outcome.result, outcome.order_number, outcome.status = EXISTS, existing.number, existing.status
        return outcome
    except ValidationFailed as exc:
        session.rollback()
        outcome.message = "; ".join(str(m) for m in exc.errors.values())
        return outcome
    except NotFound as exc:
        session.rollback()
        outcome.message = str(exc.message)
        return outcome
    outcome.result, outcome.order_number, outcome.status = CREATED, number, status
    return outcome


def generate_due(
    session: Session, day: dt.date, progress: Callable[[int, int, Outcome], None] | None = None
) -> RunSummary:
    """Make the orders of every plan due on `day`; `progress(i, total, outcome)` after each plan."""
    plans = due_on(session, day)
    ids = [so.id for so in plans]
    session.rollback()  # each plan below runs in a transaction of its own
    summary = RunSummary(day)
    for i, so_id in enumerate(ids, start=1):
        so = session.scalars(
            select(StandingOrder)
            .options(joinedload(StandingOrder.company), selectinload(StandingOrder.lines))
            .where(StandingOrder.id == so_id)
        ).one()
        outcome = generate_one(session, so, day)
        summary.outcomes.append(outcome)
        if progress is not None:
            progress(i, len(ids), outcome)
    return summary
