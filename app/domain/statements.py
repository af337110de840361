"""Kontoutskrift (account statement): a company's open and paid invoices, its credit and its
exposure over the last twelve months, and the payment of an invoice ("Registrer innbetaling").

Who: a customer admin sees the own company's statement, supplier staff any company's; a customer
user none (app/roles.py). Another company's statement is NotFound for a customer (as every other
company's row).

Dates are Oslo days. An invoice is overdue from the day after its due date; "days overdue" counts
Oslo days since the due date. Exposure is the approval queue's rule (approvals.exposure_by_company),
called, never copied: open orders (not yet invoiced) plus unpaid invoices of orders no longer open.
Its history (`exposure_at`) applies the same rule to the past: an order counts while it was open
(placed, not yet invoiced, cancelled or rejected — read from its status history), an invoice from
its invoice date until it was paid (`paid_at`), unless its order was still open then.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, and_, case, func, null, or_, select, update
from sqlalchemy.orm import Session

from app.domain import audit
from app.domain.actors import Actor
from app.domain.approvals import exposure_by_company
from app.domain.errors import AlreadyHandled, Forbidden, NotFound, ValidationFailed
from app.domain.formatting import oslo_midnight_utc, oslo_today, to_oslo
from app.domain.guarded import rows_changed
from app.domain.lifecycle import OPEN
from app.models import Company, Invoice, Order, OrderEvent, utcnow

COMPANY_NOT_FOUND = _l("Fant ikke bedriften.")
INVOICE_NOT_FOUND = _l("Fant ikke fakturaen.")
CHOOSE_COMPANY = _l("Velg en bedrift.")
NOT_FOR_CUSTOMER_USERS = _l("Kontoutskriften er for administratorer hos kunden.")
PAYMENTS_BY_CUSTOMER_SERVICE = _l("Bare kundeservice kan registrere innbetalinger.")
ALREADY_PAID = _l("Fakturaen er allerede registrert som betalt.")

# The page lists at most this many invoices per table (oldest due first; newest paid first); the
# totals above them and the downloads cover all of them.
PAGE_ROWS = 200
HISTORY_MONTHS = 12
ZERO = Decimal("0.00")


@dataclass(frozen=True)
class Line:
    """One invoice on the statement."""

    invoice_id: int
    number: str
    order_id: int
    order_number: str
    invoice_date: dt.date
    due_date: dt.date
    amount: Decimal
    paid_at: dt.datetime | None
    days_overdue: int

    @property
    def overdue(self) -> bool:
        return self.paid_at is None and self.days_overdue > 0


@dataclass(frozen=True)
class Totals:
    count: int = 0
    amount: Decimal = ZERO


@dataclass(frozen=True)
class ExposurePoint:
    month: dt.date  # the first day of the month (Oslo)
    at: dt.datetime  # the instant measured: the month's end, or now for the current month
    exposure: Decimal


@dataclass
class Statement:
    company: Company
    today: dt.date
    period_start: dt.date
    period_end: dt.date  # inclusive
    open_lines: list[Line]
    open: Totals
    overdue: Totals
    paid_lines: list[Line]
    paid: Totals
    credit_limit: Decimal
    exposure: Decimal
    history: list[ExposurePoint] = field(default_factory=list)

    @property
    def available_credit(self) -> Decimal:
        """Ledig kreditt: the limit less the exposure (negative when over the limit)."""
        return self.credit_limit - self.exposure

    @property
    def open_truncated(self) -> bool:
        return self.open.count > len(self.open_lines)

    @property
    def paid_truncated(self) -> bool:
        return self.paid.count > len(self.paid_lines)


# --- who sees which company ---------------------------------------------------------------------


def statement_company(session: Session, actor: Actor, company_id: Any = None) -> Company:
    """The company whose statement `actor` asks for.

    A customer admin: the own company (naming another is NotFound, as any foreign row); a customer
    user: Forbidden. Staff: `company_id` is required (ValidationFailed on "company_id")."""
    if actor.is_customer:
        if not actor.is_customer_admin:
            raise Forbidden(str(NOT_FOR_CUSTOMER_USERS))
        if company_id not in (None, "") and _as_id(company_id) != actor.company_id:
            raise NotFound(str(COMPANY_NOT_FOUND))
        wanted = actor.company_id
    else:
        if not actor.is_supplier_staff:
            raise Forbidden(str(NOT_FOR_CUSTOMER_USERS))
        if company_id in (None, ""):
            raise ValidationFailed({"company_id": str(CHOOSE_COMPANY)})
        wanted = _as_id(company_id)
        if wanted is None:
            raise ValidationFailed({"company_id": _("Ugyldig bedrift.")})
    company = session.get(Company, wanted) if wanted else None
    if company is None:
        raise NotFound(str(COMPANY_NOT_FOUND))
    return company


def _as_id(value: Any) -> int | None:
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return number if 0 < number <= 2**31 - 1 else None


# --- the numbers --------------------------------------------------------------------------------


def days_overdue(due_date: dt.date, today: dt.date) -> int:
    """Oslo days past the due date (0 on the due date and before it)."""
    return max(0, (today - due_date).days)


def _line(row: Any, today: dt.date) -> Line:
    return Line(
        invoice_id=row.id,
        number=row.number,
        order_id=row.order_id,
        order_number=row.order_number,
        invoice_date=row.invoice_date,
        due_date=row.due_date,
        amount=Decimal(row.amount),
        paid_at=row.paid_at,
        days_overdue=0 if row.paid else days_overdue(row.due_date, today),
    )


def _rows() -> Select[Any]:
    return select(
        Invoice.id,
        Invoice.number,
        Invoice.order_id,
        Order.number.label("order_number"),
        Invoice.invoice_date,
        Invoice.due_date,
        Invoice.amount,
        Invoice.paid,
        Invoice.paid_at,
    ).join(Order, Order.id == Invoice.order_id)


def open_filter(company_id: int) -> Any:
    return and_(Invoice.company_id == company_id, Invoice.paid.is_(False))


def paid_filter(company_id: int, start: dt.date, end: dt.date) -> Any:
    """Paid within the Oslo days start..end (inclusive)."""
    return and_(
        Invoice.company_id == company_id,
        Invoice.paid.is_(True),
        Invoice.paid_at >= oslo_midnight_utc(start),
        Invoice.paid_at < oslo_midnight_utc(end + dt.timedelta(days=1)),
    )


def open_rows(session: Session, company_id: int, today: dt.date, limit: int | None = PAGE_ROWS) -> list[Line]:
    """Unpaid invoices, the oldest due first (ix_invoices_company_paid_due)."""
    stmt = _rows().where(open_filter(company_id)).order_by(Invoice.due_date, Invoice.id)
    if limit is not None:
        stmt = stmt.limit(limit)
    return [_line(r, today) for r in session.execute(stmt)]


def paid_rows(
    session: Session, company_id: int, start: dt.date, end: dt.date, today: dt.date, limit: int | None = PAGE_ROWS
) -> list[Line]:
    """Invoices paid in the period, the latest payment first (ix_invoices_company_paid_at)."""
    stmt = _rows().where(paid_filter(company_id, start, end)).order_by(Invoice.paid_at.desc(), Invoice.id.desc())
    if limit is not None:
        stmt = stmt.limit(limit)
    return [_line(r, today) for r in session.execute(stmt)]


def open_totals(session: Session, company_id: int, today: dt.date) -> tuple[Totals, Totals]:
    """(all open, overdue) in one aggregate query over the company's unpaid invoices."""
    overdue = Invoice.due_date < today
    row = session.execute(
        select(
            func.count(),
            func.sum(Invoice.amount),
            func.count(case((overdue, 1))),
            func.sum(case((overdue, Invoice.amount), else_=0)),
        ).where(open_filter(company_id))
    ).one()
    return Totals(row[0] or 0, _money(row[1])), Totals(row[2] or 0, _money(row[3]))


def paid_totals(session: Session, company_id: int, start: dt.date, end: dt.date) -> Totals:
    row = session.execute(
        select(func.count(), func.sum(Invoice.amount)).where(paid_filter(company_id, start, end))
    ).one()
    return Totals(row[0] or 0, _money(row[1]))


def overdue_summary(session: Session, company_id: int, today: dt.date | None = None) -> Totals:
    """The start page's "Forfalt": count and sum of the unpaid invoices past their due date, one
    query answered by ix_invoices_company_paid_due (company, paid, due date; with the amount)."""
    today = today or oslo_today()
    row = session.execute(
        select(func.count(), func.sum(Invoice.amount)).where(open_filter(company_id), Invoice.due_date < today)
    ).one()
    return Totals(row[0] or 0, _money(row[1]))


def _money(value: Any) -> Decimal:
    return Decimal(value or 0).quantize(Decimal("0.01"))


# --- exposure over time -------------------------------------------------------------------------


def month_ends(
    today: dt.date, months: int = HISTORY_MONTHS, now: dt.datetime | None = None
) -> list[tuple[dt.date, dt.datetime]]:
    """(first day of the month, the instant measured) for the last `months` months, oldest first:
    the end of each past month (midnight Oslo starting the next), and `now` for the current one."""
    now = now or utcnow()
    firsts: list[dt.date] = []
    first = today.replace(day=1)
    for _i in range(months):
        firsts.append(first)
        first = (first - dt.timedelta(days=1)).replace(day=1)
    firsts.reverse()
    points = []
    for month in firsts:
        if month == today.replace(day=1):
            points.append((month, now))
        else:
            following = (month + dt.timedelta(days=32)).replace(day=1)
            points.append((month, oslo_midnight_utc(following)))
    return points


def exposure_at(session: Session, company_id: int, instants: Sequence[dt.datetime]) -> list[Decimal]:
    """The company's exposure at each instant, by exposure_by_company's rule applied to the past.

    Two aggregate queries whatever the number of instants (one column per instant): the orders
    open at the instant, and the invoices issued and unpaid then whose order was no longer open.
    An order is open from its creation until its first status event out of OPEN (an order can
    never return to an open status: app/domain/lifecycle.py); one not open now without such an
    event (loaded data) was never open."""
    if not instants:
        return []
    closing = (
        select(OrderEvent.order_id, func.min(OrderEvent.at).label("closed_at"))
        .where(OrderEvent.company_id == company_id, OrderEvent.to_status.not_in(OPEN))
        .group_by(OrderEvent.order_id)
        .subquery("closing")
    )
    closed_at = func.coalesce(closing.c.closed_at, case((Order.status.in_(OPEN), null()), else_=Order.created_at))

    def open_at(at: dt.datetime) -> Any:
        return and_(Order.created_at < at, or_(closed_at.is_(None), closed_at >= at))

    total = Order.total_ex_vat + Order.total_vat
    orders = session.execute(
        select(*[func.sum(case((open_at(at), total), else_=0)) for at in instants])
        .select_from(Order)
        .outerjoin(closing, closing.c.order_id == Order.id)
        .where(Order.company_id == company_id)
    ).one()

    def unpaid_at(at: dt.datetime) -> Any:
        issued = Invoice.invoice_date < to_oslo(at).date() + dt.timedelta(days=1)
        unpaid = or_(Invoice.paid.is_(False), Invoice.paid_at >= at)
        return and_(issued, unpaid, ~open_at(at))

    invoices = session.execute(
        select(*[func.sum(case((unpaid_at(at), Invoice.amount), else_=0)) for at in instants])
        .select_from(Invoice)
        .join(Order, Order.id == Invoice.order_id)
        .outerjoin(closing, closing.c.order_id == Order.id)
        .where(Invoice.company_id == company_id)
    ).one()
    return [_money(o) + _money(i) for o, i in zip(orders, invoices, strict=True)]


def exposure_history(
    session: Session, company_id: int, today: dt.date, now: dt.datetime | None = None
) -> list[ExposurePoint]:
    points = month_ends(today, now=now)
    values = exposure_at(session, company_id, [at for _m, at in points])
    return [ExposurePoint(month, at, value) for (month, at), value in zip(points, values, strict=True)]


# --- the statement ------------------------------------------------------------------------------


def default_period(today: dt.date) -> tuple[dt.date, dt.date]:
    """The paid invoices' default period: the last 90 days up to today."""
    return today - dt.timedelta(days=89), today


MAX_PERIOD_DAYS = 3 * 366


def parse_period(start: Any, end: Any, today: dt.date) -> tuple[dt.date, dt.date]:
    """The period from two ISO dates ("" or None: the default); ValidationFailed on "fra"/"til"."""
    default_start, default_end = default_period(today)
    errors: dict[str, str] = {}
    values: dict[str, dt.date] = {}
    for name, raw, fallback in (("fra", start, default_start), ("til", end, default_end)):
        if raw in (None, ""):
            values[name] = fallback
            continue
        try:
            values[name] = dt.date.fromisoformat(str(raw).strip()[:10])
        except ValueError:
            errors[name] = _("Skriv en dato (åååå-mm-dd).")
    if not errors and values["fra"] > values["til"]:
        errors["til"] = _("Til-datoen kan ikke være før fra-datoen.")
    if not errors and (values["til"] - values["fra"]).days >= MAX_PERIOD_DAYS:
        errors["fra"] = _("Perioden kan være høyst tre år.")
    if errors:
        raise ValidationFailed(errors)
    return values["fra"], values["til"]


def statement(
    session: Session,
    company: Company,
    *,
    start: dt.date | None = None,
    end: dt.date | None = None,
    today: dt.date | None = None,
    now: dt.datetime | None = None,
    history: bool = True,
    limit: int | None = PAGE_ROWS,
) -> Statement:
    """The statement of `company` (already checked by `statement_company`): a fixed number of
    queries (two lists, three aggregates, the two of exposure_by_company, two for the history)."""
    now = now or utcnow()
    today = today or oslo_today(now)
    if start is None or end is None:
        start, end = default_period(today)
    open_total, overdue = open_totals(session, company.id, today)
    exposure = exposure_by_company(session, [company.id])[company.id]
    return Statement(
        company=company,
        today=today,
        period_start=start,
        period_end=end,
        open_lines=open_rows(session, company.id, today, limit),
        open=open_total,
        overdue=overdue,
        paid_lines=paid_rows(session, company.id, start, end, today, limit),
        paid=paid_totals(session, company.id, start, end),
        credit_limit=_money(company.credit_limit),
        exposure=_money(exposure),
        history=exposure_history(session, company.id, today, now) if history else [],
    )


# --- payments -----------------------------------------------------------------------------------


def register_payment(
    session: Session, invoice_id: Any, actor: Actor, paid_on: dt.date | None = None, now: dt.datetime | None = None
) -> Invoice:
    """ "Registrer innbetaling": mark an unpaid invoice paid, exactly once (a conditional UPDATE:
    of two at once, one wins and the other is told AlreadyHandled). `paid_on` (an Oslo day, default
    today) may not be in the future or before the invoice date; today's payment is stamped now,
    an earlier day at its noon. Customer service (and Admin) only; the audit log records it."""
    if not actor.is_customer_service:
        raise Forbidden(str(PAYMENTS_BY_CUSTOMER_SERVICE))
    now = now or utcnow()
    today = oslo_today(now)
    pk = _as_id(invoice_id)
    invoice = session.get(Invoice, pk) if pk else None
    if invoice is None:
        raise NotFound(str(INVOICE_NOT_FOUND))
    day = paid_on or today
    if day > today:
        raise ValidationFailed({"paid_on": _("Innbetalingsdatoen kan ikke være i fremtiden.")})
    if day < invoice.invoice_date:
        raise ValidationFailed({"paid_on": _("Innbetalingsdatoen kan ikke være før fakturadatoen.")})
    paid_at = now if day == today else oslo_midnight_utc(day) + dt.timedelta(hours=12)
    changed = rows_changed(
        session,
        update(Invoice)
        .where(Invoice.id == invoice.id, Invoice.paid.is_(False))
        .values(paid=True, paid_at=paid_at)
        .execution_options(synchronize_session=False),
    )
    if changed != 1:
        raise AlreadyHandled(str(ALREADY_PAID))
    session.expire(invoice, ["paid", "paid_at"])
    audit.record(
        session,
        audit.INVOICE_PAID,
        actor=actor,
        target=("invoice", invoice.id),
        company_id=invoice.company_id,
        details={"number": invoice.number, "amount": f"{invoice.amount:.2f}", "paid_on": day.isoformat()},
    )
    return invoice
