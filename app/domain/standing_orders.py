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

Public holidays: a planned delivery on a Norwegian public holiday is flagged with its name. When
the plan's `holiday_shift` is set (the default), it is delivered on the next working day instead
(weekends and holidays skipped): the order is made on, and for, that day. Skip, pause and end
apply to the planned date. A moved delivery that lands on a regular one of the same plan is one
delivery (one order: the unique (standing_order_id, delivery_date)).

Making orders
-------------
`generate_due` makes the order of every plan due on a date by the rules of `orders.place_order`
(approval for dealers, prices and VAT, numbers, the first event, the confirmation mail, budgets
and their mail), channel `standing_order`, with `standing_order_id` and `delivery_date`. It works
in chunks of plans: each chunk is read in a few queries, checked plan by plan in Python, and
written in a few statements in one transaction, so the time grows linearly with the plans. The
orders, lines, events, mails and notices are built as rows, not objects (on PostgreSQL the order
ids come from the sequence first, so each row carries its number, and a table's rows go in as one
JSON parameter); what is the same for many plans (a kind of lines, its prices, a confirmation's
text but for number and link) is worked out once per chunk. A plan that fails a check fails
alone; a chunk the database refuses is tried again in halves, down to the plan it cannot take.

The unique constraint on (standing_order_id, delivery_date) makes it idempotent and safe when two
runs overlap: the orders are inserted with ON CONFLICT DO NOTHING, and a delivery another run made
first is reported as already there. The budgets of a chunk's companies are locked (FOR UPDATE, in
id order) before its orders are counted against them, as when orders are placed one by one.
"""

from __future__ import annotations

import calendar
import datetime as dt
import functools
import json
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any, NamedTuple, Protocol

import holidays
from flask_babel import force_locale, get_locale
from flask_babel import gettext as _
from sqlalchemy import ARRAY, Integer, any_, bindparam, cast, func, literal_column, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, selectinload

from app.domain import notices
from app.domain.actors import Actor
from app.domain.budgets import BudgetRun
from app.domain.catalogue import LineInput, check_lines, line_errors, products_by_id
from app.domain.companies import delivery_address_error
from app.domain.errors import NotAllowed, NotFound, ValidationFailed, get_visible
from app.domain.formatting import format_date, oslo_today, to_oslo
from app.domain.lifecycle import number_from_id
from app.domain.mail import Stencils
from app.domain.orders.placing import (
    confirmation_address,
    confirmation_context,
    order_link,
    order_values,
    placed_reason_of,
)
from app.domain.pricing import is_invoice_customer  # standing orders are for invoice customers
from app.domain.report_totals import count_events
from app.models import (
    Company,
    DeliveryAddress,
    Frequency,
    MailOutbox,
    Notice,
    Order,
    OrderChannel,
    OrderEvent,
    OrderLine,
    OrderStatus,
    PortalUser,
    StandingOrder,
    StandingOrderLine,
    utcnow,
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
    @property
    def holiday_shift(self) -> bool: ...


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
    "holiday_shift",
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
    holiday_shift: bool = True


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


# --- public holidays ---------------------------------------------------------------------------


@functools.cache
def _holidays(year: int, language: str) -> Mapping[dt.date, str]:
    # Norway's calendar in `holidays` counts every Sunday as a holiday unless told not to.
    return dict(holidays.country_holidays("NO", years=year, include_sundays=False, language=language))


def _holiday_language() -> str:
    try:
        locale = get_locale()
    except KeyError:  # an app context without Flask-Babel
        locale = None
    return "en_US" if locale is not None and locale.language == "en" else "no"


def holiday_name(day: dt.date) -> str | None:
    """The Norwegian public holiday on `day` ("Grunnlovsdag"), or None."""
    return _holidays(day.year, _holiday_language()).get(day)


def is_working_day(day: dt.date) -> bool:
    """Monday to Friday and not a public holiday."""
    return day.weekday() < 5 and day not in _holidays(day.year, "no")


def next_working_day(day: dt.date) -> dt.date:
    """The first working day after `day`."""
    day += dt.timedelta(days=1)
    while not is_working_day(day):
        day += dt.timedelta(days=1)
    return day


def delivery_date(plan: PlanLike, planned: dt.date) -> dt.date:
    """When a planned delivery is delivered: the next working day for a holiday of a plan that
    moves them, else the planned date."""
    if plan.holiday_shift and planned in _holidays(planned.year, "no"):
        return next_working_day(planned)
    return planned


def moved_here(day: dt.date) -> list[dt.date]:
    """The holidays whose deliveries a plan that moves them delivers on `day` (a working day): the
    holidays among the days right before it that are not working days."""
    if not is_working_day(day):
        return []
    result = []
    before = day - dt.timedelta(days=1)
    while not is_working_day(before):
        if before in _holidays(before.year, "no"):
            result.append(before)
        before -= dt.timedelta(days=1)
    return result


def delivers_on(plan: PlanLike, day: dt.date, moved: Sequence[dt.date] | None = None) -> bool:
    """Is an order of the plan delivered on `day`: a planned delivery on `day` that stays there,
    or (a plan that moves them) one planned on a holiday just before it (`moved`: moved_here(day),
    given when asking for many plans)."""
    if is_delivery_day(plan, day) and delivery_date(plan, day) == day:
        return True
    if not plan.holiday_shift:
        return False
    return any(is_delivery_day(plan, planned) for planned in (moved_here(day) if moved is None else moved))


@dataclass(frozen=True)
class Delivery:
    """A coming delivery: the planned date, the date it is delivered, and the holiday's name."""

    planned: dt.date
    delivered: dt.date
    holiday: str | None = None

    @property
    def moved(self) -> bool:
        return self.delivered != self.planned

    @property
    def next_working(self) -> dt.date:
        """The working day a delivery planned on a holiday can be delivered instead."""
        return next_working_day(self.planned)


def upcoming(plan: PlanLike, frm: dt.date, count: int = 5) -> list[Delivery]:
    """The next `count` deliveries on or after `frm`, each flagged when planned on a holiday, with
    the date it is delivered (next_deliveries, then delivery_date)."""
    result: list[Delivery] = []
    for planned in next_deliveries(plan, frm, count=count):
        delivered = delivery_date(plan, planned)
        if result and result[-1].delivered == delivered:
            continue  # moved onto the one before: one delivery
        result.append(Delivery(planned, delivered, holiday_name(planned)))
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
    holiday_shift: bool | None = None
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
    "holiday_shift",
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
    values["holiday_shift"] = True if values["holiday_shift"] is None else bool(values["holiday_shift"])
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
    if values["holiday_shift"] is None:
        values["holiday_shift"] = item.holiday_shift
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
        made = {day, delivery_date(item, day)}
        if session.scalar(select(Order.id).where(Order.standing_order_id == item.id, Order.delivery_date.in_(made))):
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
CHUNK_SIZE = 5000  # plans per transaction (a few seconds: the budgets of its companies are locked that long)


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


def due_ids(session: Session, day: dt.date) -> list[int]:
    """Ids of the plans that deliver on `day` (delivers_on: also deliveries moved from a holiday
    just before), ascending: the date filter in SQL, the arithmetic in Python on plain rows (no
    objects, so 100 000 candidates stay cheap)."""
    moved = moved_here(day)
    earliest = min([day, *moved])
    columns = [getattr(StandingOrder, name) for name in (*PLAN_SHAPE, "skip_date")]
    rows = session.execute(
        select(StandingOrder.id, *columns)
        .where(
            StandingOrder.active.is_(True),
            StandingOrder.start_date <= day,
            (StandingOrder.end_date.is_(None)) | (StandingOrder.end_date >= earliest),
        )
        .order_by(StandingOrder.id)
    )
    return [row.id for row in rows if delivers_on(row, day, moved)]


def _among(session: Session, column: Any, ids: Sequence[int]) -> Any:
    """`column IN ids`: on PostgreSQL `= ANY(array)`, one parameter for a chunk's thousands of ids."""
    if _is_postgres(session):
        return column == any_(bindparam(None, list(ids), type_=ARRAY(Integer)))
    return column.in_(ids)


def _existing_orders(session: Session, standing_order_ids: Sequence[int], day: dt.date) -> dict[int, tuple[str, str]]:
    """Plan id → (number, status) of the orders made for `day`."""
    rows = session.execute(
        select(Order.standing_order_id, Order.number, Order.status).where(
            _among(session, Order.standing_order_id, standing_order_ids), Order.delivery_date == day
        )
    )
    return {row.standing_order_id: (row.number, row.status) for row in rows}


def _already_made(session: Session, standing_order_ids: Sequence[int], day: dt.date) -> dict[int, tuple[str, str]]:
    """The cheap look-up before trying (a second run skips here); the constraint is what guarantees it."""
    return _existing_orders(session, standing_order_ids, day)


def _load_plans(session: Session, standing_order_ids: Sequence[int]) -> list[Any]:
    """The plans as rows (no plan objects: 100 000 of them are the job's cost), each with its
    company and delivery address (objects: a chunk has a few of each, and later look-ups by id find
    them in the session), in one query."""
    return list(
        session.execute(
            select(
                StandingOrder.id,
                StandingOrder.name,
                StandingOrder.company_id,
                StandingOrder.delivery_address_id,
                StandingOrder.created_by_id,
                Company,
                DeliveryAddress,
            )
            .outerjoin(Company, Company.id == StandingOrder.company_id)
            .outerjoin(DeliveryAddress, DeliveryAddress.id == StandingOrder.delivery_address_id)
            .where(_among(session, StandingOrder.id, standing_order_ids))
            .order_by(StandingOrder.id)
        )
    )


def _load_lines(session: Session, standing_order_ids: Sequence[int]) -> dict[int, list[LineInput]]:
    """Plan id → its lines (in line order), in one query."""
    line = StandingOrderLine
    rows = session.execute(
        select(line.standing_order_id, line.product_id, line.quantity, line.width, line.depth, line.fabric, line.colour)
        .where(_among(session, line.standing_order_id, standing_order_ids))
        .order_by(line.id)
    )
    lines: dict[int, list[LineInput]] = {}
    for plan_id, product_id, quantity, width, depth, fabric, colour in rows.tuples():
        lines.setdefault(plan_id, []).append(
            LineInput(product_id=product_id, quantity=quantity, width=width, depth=depth, fabric=fabric, colour=colour)
        )
    return lines


def _load_creators(session: Session, plans: Sequence[Any]) -> dict[int, PortalUser]:
    """The plans' creators with their roles (two queries; a chunk has a few)."""
    ids = sorted({p.created_by_id for p in plans if p.created_by_id is not None})
    if not ids:
        return {}
    users = session.scalars(select(PortalUser).options(selectinload(PortalUser.roles)).where(PortalUser.id.in_(ids)))
    return {u.id: u for u in users}


def _actor_for(session: Session, so: Any) -> Actor:
    """The plan's creator places its orders (their budgets apply); an unknown creator: the system."""
    user = session.get(PortalUser, so.created_by_id) if so.created_by_id else None
    if user is None or user.company_id != so.company_id:
        return Actor(id=None, name=_("Fast ordre «%(name)s»", name=so.name))
    return replace(Actor.from_user(user), name=_("%(name)s (fast ordre)", name=user.full_name))


@dataclass
class _Todo:
    plan: Any  # the plan's row (_load_plans)
    outcome: Outcome
    actor: Actor
    order: dict[str, Any]  # the orders row (placing.order_values)
    lines: list[dict[str, Any]]
    id: int = 0  # the order's id once inserted


def _is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _arrays(table: Any, rows: list[dict[str, Any]], prefix: str = "rows") -> list[Any]:
    """PostgreSQL: the rows as one array per column, zipped back by unnest (a statement of a few
    parameters, however many rows). A column with one value in every row (the chunk's time, its
    channel, an empty variant) is that value once, not an array: less to send and to read."""
    columns = []
    for i, name in enumerate(rows[0]):
        values = [row[name] for row in rows]
        column_type = table.c[name].type
        if i > 0 and all(v == values[0] and type(v) is type(values[0]) for v in values):
            columns.append(cast(bindparam(f"{prefix}_{name}", values[0], type_=column_type), column_type).label(name))
        else:
            columns.append(func.unnest(bindparam(f"{prefix}_{name}", values, type_=ARRAY(column_type))).label(name))
    return columns


def _json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} in a bulk row")


def _recordset(session: Session, table: Any, rows: list[dict[str, Any]]) -> Any:
    """PostgreSQL: the rows as one JSON parameter, read back as a table of the columns' own types
    (json_to_recordset): json.dumps and the server's JSON reader are much faster than a Python
    array per column. The values are bound as SQLAlchemy binds them (UTC times)."""
    dialect = session.get_bind().dialect
    quote = dialect.identifier_preparer.quote
    columns = list(rows[0])
    binds = {
        name: bind
        for name in columns
        if (bind := table.c[name].type.dialect_impl(dialect).bind_processor(dialect)) is not None
    }
    if binds:
        rows = [{**row, **{name: bind(row[name]) for name, bind in binds.items()}} for row in rows]
    spec = ", ".join(f"{quote(name)} {table.c[name].type.compile(dialect=dialect)}" for name in columns)
    document = json.dumps(rows, default=_json_value, separators=(",", ":"))
    records = text(f"json_to_recordset(CAST(:rows AS json)) AS r({spec})").bindparams(rows=document)
    return columns, select(*(literal_column(f"r.{quote(name)}") for name in columns)).select_from(records)


def _reserve_ids(session: Session, n: int) -> list[int] | None:
    """PostgreSQL: n new order ids from the sequence, ascending (one statement), so that the
    INSERT carries each order's number; elsewhere None (the numbers follow the INSERT)."""
    if not _is_postgres(session):
        return None
    serial = func.nextval(func.pg_get_serial_sequence(Order.__tablename__, "id"))
    return sorted(session.scalars(select(serial).select_from(func.generate_series(1, n))))


def _insert_orders(session: Session, rows: list[dict[str, Any]]) -> dict[int, int]:
    """INSERT the orders in one statement; a delivery another run made first is left out (ON
    CONFLICT DO NOTHING on uq_orders_standing_delivery). Returns plan id → order id."""
    table = Order.__table__
    stmt: Any
    if _is_postgres(session):
        columns, values = _recordset(session, table, rows)
        stmt, params = pg_insert(table).from_select(columns, values), None
    else:
        stmt, params = sqlite_insert(table), rows
    stmt = stmt.on_conflict_do_nothing(index_elements=["standing_order_id", "delivery_date"]).returning(
        table.c.standing_order_id, table.c.id
    )
    return {row.standing_order_id: row.id for row in session.execute(stmt, params)}


def _number_orders(session: Session, rows: list[dict[str, Any]]) -> None:
    """Each inserted order's number (from its id) and budget flag, in one statement."""
    table = Order.__table__
    if _is_postgres(session):
        values = select(*_arrays(table, rows, "set")).subquery()
        session.execute(
            table.update()
            .where(table.c.id == values.c.id)
            .values(number=values.c.number, over_budget=values.c.over_budget)
        )
    else:
        session.execute(
            table.update()
            .where(table.c.id == bindparam("order_id"))
            .values(number=bindparam("new_number"), over_budget=bindparam("flag")),
            [{"order_id": r["id"], "new_number": r["number"], "flag": r["over_budget"]} for r in rows],
        )


def _insert(session: Session, table: Any, rows: list[dict[str, Any]]) -> None:
    """INSERT rows: one statement with unnest on PostgreSQL, executemany elsewhere."""
    if not rows:
        return
    if _is_postgres(session):
        columns, values = _recordset(session, table, rows)
        session.execute(table.insert().from_select(columns, values))
    else:
        session.execute(table.insert(), rows)


class _Counted(NamedTuple):
    """What report_totals.count_events reads of a placed order."""

    id: int
    company_id: int
    created_by_id: int | None
    channel: str
    created_at: dt.datetime
    total_ex_vat: Decimal


def _stand_in(order: dict[str, Any], marks: dict[str, str]) -> dict[str, Any]:
    """The confirmation's template values for an order whose number is a marker (mail.Stencils)."""
    return confirmation_context(Order(**{**order, "number": marks["number"]}))


def _seller_mail(stencils: Stencils, key: Any, order: dict[str, Any], address: str, link: str) -> dict[str, Any]:
    """The mail of a dealer order "Til godkjenning" to a seller who wants it (notices.order_waiting)."""
    return stencils.row(
        key,
        kind="order_waiting_approval",
        to=address,
        template="order_waiting_approval",
        link=link,
        values={"number": order["number"]},
        context=lambda marks: {"order": Order(**{**order, "number": marks["number"]})},
    )


def _place(session: Session, todo: list[_Todo], day: dt.date) -> None:
    """Insert the checked orders of a chunk with their lines, numbers, events, budgets, mails and
    notices, as place_order makes them one by one: rows built in Python, one INSERT per table."""
    now = utcnow()
    budgets = BudgetRun(session, {t.order["company_id"] for t in todo}, to_oslo(now).date())
    ids = _reserve_ids(session, len(todo))
    saved = budgets.saved()
    for i, t in enumerate(todo):
        t.order.update(created_at=now, over_budget=False, number=f"tmp-{uuid.uuid4().hex[:16]}")
        if ids:  # the final number and budget flag in the INSERT: no UPDATE of the new rows
            t.id = t.order["id"] = ids[i]
            t.order["number"] = number_from_id(t.id)
            t.order["over_budget"] = budgets.count(
                t.order["company_id"], t.order["created_by_id"], t.order["total_ex_vat"]
            )
    inserted = _insert_orders(session, [t.order for t in todo])
    made = [t for t in todo if t.plan.id in inserted]
    lost = [t for t in todo if t.plan.id not in inserted]
    if not ids or lost:
        # The numbers from the new ids, or (another run made some first) the budgets counted
        # again without the lost orders: an UPDATE of the orders whose values differ.
        budgets.restore(saved)
        changed = []
        for t in made:  # in plan order: budgets count them one after the other
            t.id = inserted[t.plan.id]
            number = number_from_id(t.id)
            flag = budgets.count(t.order["company_id"], t.order["created_by_id"], t.order["total_ex_vat"])
            if (number, flag) != (t.order["number"], t.order["over_budget"]):
                t.order["number"], t.order["over_budget"] = number, flag
                changed.append({"id": t.id, "number": number, "over_budget": flag})
        if changed:
            _number_orders(session, changed)
    # The sellers' bell for dealer orders "Til godkjenning": the sellers and their mail choices once per chunk.
    waiting = [t for t in made if t.order["status"] == OrderStatus.pending_approval.value]
    sellers = notices.recipients(session, "order_waiting_approval", notices.approvers(session)) if waiting else []
    reasons: dict[str, str | None] = {}
    addresses: dict[int | None, str | None] = {}
    made_to: dict[int, list[notices.Recipient]] = {}  # the creator's bell (standing_order_made)
    stencils = Stencils()
    lines: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    mails: list[dict[str, Any]] = []
    bell: list[dict[str, Any]] = []
    for t in made:
        order, status, number = t.order, t.order["status"], t.order["number"]
        if status not in reasons:  # as record_event: a fixed reason is stored in bokmål
            with force_locale("nb"):
                reason = placed_reason_of(status)
                reasons[status] = str(reason) if reason is not None else None
        events.append(
            {
                "order_id": t.id,
                "company_id": order["company_id"],
                "actor_id": t.actor.id,
                "actor_name": t.actor.name,
                "from_status": None,
                "to_status": status,
                "reason": reasons[status],
                "at": now,
            }
        )
        lines += [{**ln, "order_id": t.id} for ln in t.lines]
        if t.actor.id not in addresses:
            addresses[t.actor.id] = confirmation_address(session, order["created_by_id"], t.actor)
        to = addresses[t.actor.id]
        # The confirmation: one render per status and totals, the number and link filled in.
        key = (status, order["total_ex_vat"], order["total_vat"])
        link = order_link(t.id)
        if to:
            mails.append(
                stencils.row(
                    key,
                    kind="order_confirmation",
                    to=to,
                    template="order_confirmation",
                    link=link,
                    values={"number": number},
                    context=functools.partial(_stand_in, order),
                )
            )
        creator = t.plan.created_by_id
        if creator is not None and creator == t.actor.id:
            if creator not in made_to:
                made_to[creator] = notices.recipients(
                    session, "standing_order_made", [session.get(PortalUser, creator)]
                )
            rows, _mails = notices.announce_rows(
                "standing_order_made",
                made_to[creator],
                ref=t.plan.id,
                subject=t.plan.name,
                now=now,
            )
            bell += rows
        if status == OrderStatus.pending_approval.value:  # notices.order_waiting
            rows, seller_mails = notices.announce_rows(
                "order_waiting_approval",
                sellers,
                ref=t.id,
                subject=number,
                now=now,
                mail=functools.partial(_seller_mail, stencils, key, order),
            )
            bell += rows
            mails += seller_mails
        t.outcome.result, t.outcome.order_number, t.outcome.status = CREATED, number, status
    if made:
        _insert(session, OrderLine.__table__, lines)
        _insert(session, OrderEvent.__table__, events)
        counted: list[tuple[Any, str | None, str, dt.datetime]] = [
            (
                _Counted(
                    t.id,
                    t.order["company_id"],
                    t.order["created_by_id"],
                    t.order["channel"],
                    now,
                    t.order["total_ex_vat"],
                ),
                None,
                t.order["status"],
                now,
            )
            for t in made
        ]
        count_events(session, counted)
    _insert(
        session, MailOutbox.__table__, [{**m, "created_at": now, "next_attempt_at": now, "attempts": 0} for m in mails]
    )
    _insert(session, Notice.__table__, bell)
    budgets.notify()  # after the inserts: its savepoints flush the session, which must hold nothing new
    if lost:
        # Another run made these deliveries' orders first.
        existing = _existing_orders(session, [t.plan.id for t in lost], day)
        for t in lost:
            if t.plan.id in existing:
                t.outcome.result = EXISTS
                t.outcome.order_number, t.outcome.status = existing[t.plan.id]
            else:
                t.outcome.message = _("Databasen avviste ordren.")


def _make_chunk(session: Session, standing_order_ids: Sequence[int], day: dt.date) -> list[Outcome]:
    """Make the orders of some plans in one transaction (committed): the checks of place_order
    per plan in Python, on rows read for the whole chunk; the writes in a few statements."""
    plans = _load_plans(session, standing_order_ids)
    lines_of = _load_lines(session, standing_order_ids)
    products = products_by_id(session, (ln.product_id for lines in lines_of.values() for ln in lines))
    # Held here while the chunk runs: the session keeps objects weakly, and _actor_for, the mails
    # and the notices find the creators by id.
    creators = _load_creators(session, plans)
    existing = _already_made(session, [so.id for so in plans], day)
    outcomes: list[Outcome] = []
    todo: list[_Todo] = []
    skipped: list[tuple[Any, Outcome]] = []
    address_errors: dict[tuple[int, int | None], str | None] = {}
    actors: dict[tuple[int, int], Actor] = {}
    line_checks: dict[tuple[Any, ...], dict[str, str]] = {}
    priced: dict[tuple[Any, ...], tuple[dict[str, Any], list[dict[str, Any]]]] = {}
    for so in plans:
        company = so.Company
        outcome = Outcome(so.id, so.name, company.name if company else "", FAILED)
        outcomes.append(outcome)
        if not is_invoice_customer(company):
            outcome.result, outcome.message = REFUSED, not_invoice_customer_message()
            skipped.append((so, outcome))
            continue
        if so.id in existing:
            outcome.result = EXISTS
            outcome.order_number, outcome.status = existing[so.id]
            continue
        lines = lines_of.get(so.id, [])
        errors: dict[str, str] = {}
        where = (so.company_id, so.delivery_address_id)
        if where not in address_errors:
            address_errors[where] = delivery_address_error(session, *where)
        if address_errors[where]:
            errors["delivery_address_id"] = address_errors[where] or ""
        shape = tuple((ln.product_id, ln.quantity, ln.width, ln.depth, ln.fabric, ln.colour) for ln in lines)
        if shape not in line_checks:  # a pure check of the lines on the chunk's products: once per kind of lines
            line_checks[shape] = line_errors(lines, products)
        errors.update(line_checks[shape])
        if errors:
            outcome.message = "; ".join(str(m) for m in errors.values())
            skipped.append((so, outcome))
            continue
        # One actor per creator and company (the system's carries the plan's name).
        who = (so.created_by_id, so.company_id)
        actor = actors.get(who) if so.created_by_id else None
        if actor is None:
            actor = _actor_for(session, so)
            if actor.id is not None:
                actors[who] = actor
        plan_values = {
            "delivery_address_id": so.delivery_address_id,
            "customer_reference": so.name or None,
            "standing_order_id": so.id,
        }
        # Prices and totals depend on the company, the orderer and the lines alone: once per kind.
        kind = (company.id, actor.id, shape)
        if kind not in priced:
            priced[kind] = order_values(
                company,
                actor,
                lines,
                products,
                channel=OrderChannel.standing_order.value,
                quote_id=None,
                delivery_date=day,
                **plan_values,
            )
        order, order_lines = priced[kind]
        todo.append(_Todo(so, outcome, actor, {**order, **plan_values}, order_lines))
    if todo:
        _place(session, todo, day)
    if skipped:
        _tell_skipped(session, skipped, day, creators)
    session.commit()
    return outcomes


def _tell_skipped(
    session: Session, skipped: list[tuple[Any, Outcome]], day: dt.date, users: Mapping[int, PortalUser]
) -> None:
    """The plan's creator hears that no order was made for the day, and why (mail choices read once)."""
    creators = {so.created_by_id: users[so.created_by_id] for so, _o in skipped if so.created_by_id in users}
    prepared = {r.user_id: r for r in notices.recipients(session, "standing_order_skipped", creators.values())}
    for so, outcome in skipped:
        recipient = prepared.get(so.created_by_id) if so.created_by_id is not None else None
        if recipient is None or creators[so.created_by_id].company_id != so.company_id:
            continue
        notices.announce(
            session,
            "standing_order_skipped",
            [recipient],
            ref=so.id,
            subject=so.name,
            plan=so,
            day=day,
            reason=outcome.message,
        )


def _failed_alone(engine: Any, standing_order_id: int) -> Outcome:
    with Session(engine) as session:
        row = session.execute(
            select(StandingOrder.name, Company.name.label("company"))
            .join(Company, Company.id == StandingOrder.company_id)
            .where(StandingOrder.id == standing_order_id)
        ).first()
    name, company = (row.name, row.company) if row else ("", "")
    return Outcome(standing_order_id, name, company, FAILED, message=_("Databasen avviste ordren."))


def _run_chunk(engine: Any, standing_order_ids: Sequence[int], day: dt.date) -> list[Outcome]:
    """A chunk in a session of its own; when the database refuses it, each half again, down to
    single plans, so that one bad plan fails without the others (found in a few tries, not one
    per plan of a large chunk)."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            return _make_chunk(session, standing_order_ids, day)
        except DBAPIError:
            session.rollback()
    if len(standing_order_ids) == 1:
        return [_failed_alone(engine, standing_order_ids[0])]
    half = len(standing_order_ids) // 2
    return _run_chunk(engine, standing_order_ids[:half], day) + _run_chunk(engine, standing_order_ids[half:], day)


def generate_due(
    session: Session,
    day: dt.date,
    progress: Callable[[int, int, Outcome], None] | None = None,
    chunk_size: int = CHUNK_SIZE,
) -> RunSummary:
    """Make the orders of every plan due on `day`, `chunk_size` plans per transaction (each in a
    session of its own); `progress(i, total, outcome)` for each plan as its chunk is done."""
    ids = due_ids(session, day)
    session.rollback()  # the chunks below run in transactions of their own
    engine = session.get_bind()
    summary = RunSummary(day)
    for start in range(0, len(ids), chunk_size):
        for outcome in _run_chunk(engine, ids[start : start + chunk_size], day):
            summary.outcomes.append(outcome)
            if progress is not None:
                progress(len(summary.outcomes), len(ids), outcome)
    return summary
