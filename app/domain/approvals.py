"""The seller's approval queue ("Til godkjenning"): checks, approve, reject.

Exposure (credit) = totals incl. VAT of the company's other orders not yet invoiced (pending,
processing, shipped, partially delivered) + unpaid invoices of orders no longer open (so an
order's amount is never counted twice).

An order that fails a check (producibility: a line's dimensions or variants are not allowed for
its product; credit: exposure + this order over the company's limit) is approved only with an
explicit override and a reason (`NeedsOverride` otherwise, API 409). The checks as they stood at
approval and the reason go into the order's timeline (the approve event's reason) and the audit
log, in the transaction of the approval.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload

from app.domain import audit, notices
from app.domain.actors import Actor
from app.domain.catalogue import configuration_errors
from app.domain.errors import (
    AlreadyHandled,
    Forbidden,
    NotAllowed,
    NotFound,
    ValidationFailed,
)
from app.domain.formatting import format_nok
from app.domain.labels import order_status
from app.domain.lifecycle import (
    OPEN,
    PENDING_APPROVAL,
    PROCESSING,
    REJECTED,
    change_status,
    get_order,
    may_move,
)
from app.models import (
    Company,
    Invoice,
    Order,
    OrderLine,
    PortalUser,
    Product,
    utcnow,
)
from app.paging import BoundedCount, bounded_count_of

SELLERS_ONLY = _l("Bare selgere kan godkjenne eller avvise ordrer.")
HANDLED_BY_ANOTHER = _l("Ordren er allerede behandlet av en annen selger.")
OVERRIDE_REASON_MISSING = _l("Skriv en begrunnelse for å godkjenne ordren likevel.")
MAX_REASON = 2000  # an override reason or a rejection reason (the seller's and the customer admin's)

# The checks by name (API: `failed_checks`; audit details).
PRODUCIBILITY = "producibility"
CREDIT = "credit"
CHECK_LABELS = {PRODUCIBILITY: _l("Kan ikke produseres"), CREDIT: _l("Over kredittgrensen")}


@dataclass
class Producibility:
    ok: bool
    problems: list[str] = field(default_factory=list)


@dataclass
class Credit:
    limit: Decimal
    exposure: Decimal
    this_order: Decimal

    @property
    def headroom(self) -> Decimal:
        return self.limit - self.exposure - self.this_order

    @property
    def over(self) -> bool:
        return self.headroom < 0


@dataclass
class Checks:
    """Both checks of one order, as they stand now."""

    producibility: Producibility
    credit: Credit

    @property
    def failed(self) -> list[str]:
        """The names of the checks the order fails (PRODUCIBILITY, CREDIT), in that order."""
        return [name for name, bad in ((PRODUCIBILITY, not self.producibility.ok), (CREDIT, self.credit.over)) if bad]

    def as_details(self) -> dict[str, object]:
        """The checks for the audit log (amounts as strings with two decimals)."""
        return {
            "producibility": {"ok": self.producibility.ok, "problems": list(self.producibility.problems)},
            "credit": {
                "ok": not self.credit.over,
                "limit": f"{self.credit.limit:.2f}",
                "exposure": f"{self.credit.exposure:.2f}",
                "this_order": f"{self.credit.this_order:.2f}",
                "headroom": f"{self.credit.headroom:.2f}",
            },
        }

    def summary(self) -> str:
        """The checks in words, for the timeline and messages (bokmål or the page's language)."""
        if self.producibility.ok:
            prod = _("Produserbarhet: OK")
        else:
            prod = _("Produserbarhet: %(problems)s", problems="; ".join(self.producibility.problems))
        c = self.credit
        cred = _(
            "Kreditt: %(state)s (grense %(limit)s, eksponering %(exposure)s, denne ordren %(this)s, ledig kreditt %(room)s)",
            state=_("over grensen") if c.over else _("OK"),
            limit=format_nok(c.limit),
            exposure=format_nok(c.exposure),
            this=format_nok(c.this_order),
            room=format_nok(c.headroom),
        )
        return f"{prod}. {cred}."


class NeedsOverride(NotAllowed):
    """The order fails a check: it is approved only with an override reason (API 409)."""

    def __init__(self, order: Order, checks: Checks) -> None:
        self.failed = checks.failed
        self.checks = checks
        names = ", ".join(str(CHECK_LABELS[name]).lower() for name in self.failed)
        super().__init__(
            _(
                "Ordren kan ikke godkjennes uten overstyring (%(checks)s). %(summary)s "
                "Skriv en begrunnelse for å godkjenne den likevel.",
                checks=names,
                summary=checks.summary(),
            )
        )


@dataclass
class QueueRow:
    order: Order
    age: dt.timedelta
    producibility: Producibility
    credit: Credit


def producibility(session: Session, order_ids: Sequence[int]) -> dict[int, Producibility]:
    """Order id → producibility of all its lines; one query for the whole page."""
    result = {oid: Producibility(ok=True) for oid in order_ids}
    if not order_ids:
        return result
    rows = session.execute(
        select(OrderLine, Product)
        .join(Product, Product.id == OrderLine.product_id)
        .where(OrderLine.order_id.in_(order_ids))
        .order_by(OrderLine.order_id, OrderLine.line_no)
    ).all()
    for line, product in rows:
        problems = configuration_errors(product, line)
        if problems:
            entry = result[line.order_id]
            entry.ok = False
            entry.problems.extend(
                _("Linje %(line)s (%(product)s): %(problem)s", line=line.line_no, product=product.name, problem=problem)
                for problem in problems.values()
            )
    return result


def exposure_by_company(session: Session, company_ids: Iterable[int]) -> dict[int, Decimal]:
    """Company id → current exposure (the rule in the module docstring), two aggregate queries.

    Also used by the manager's reports (app/domain/reports.py), so the rule lives here only.
    Both read `ix_orders_company_status` alone (it carries id and totals): the open orders are
    summed there, and an unpaid invoice counts unless its order is among them (an anti-join; an
    invoice and its order always belong to the same company, which the tenancy guard enforces).
    """
    company_ids = set(company_ids)
    if not company_ids:
        return {}
    open_orders = select(Order.id).where(
        Order.id == Invoice.order_id, Order.company_id.in_(company_ids), Order.status.in_(OPEN)
    )
    open_sum = dict(
        session.execute(
            select(Order.company_id, func.sum(Order.total_ex_vat) + func.sum(Order.total_vat))
            .where(Order.company_id.in_(company_ids), Order.status.in_(OPEN))
            .group_by(Order.company_id)
        )
        .tuples()
        .all()
    )
    unpaid = dict(
        session.execute(
            select(Invoice.company_id, func.sum(Invoice.amount))
            .where(Invoice.company_id.in_(company_ids), Invoice.paid.is_(False), ~open_orders.exists())
            .group_by(Invoice.company_id)
        )
        .tuples()
        .all()
    )
    return {cid: Decimal(open_sum.get(cid) or 0) + Decimal(unpaid.get(cid) or 0) for cid in company_ids}


def credit(session: Session, orders: Iterable[Order]) -> dict[int, Credit]:
    """Order id → credit check; exposure aggregated in SQL per company (two queries for the page)."""
    orders = list(orders)
    company_ids = {o.company_id for o in orders}
    if not company_ids:
        return {}
    exposures = exposure_by_company(session, company_ids)
    limits = dict(
        session.execute(select(Company.id, Company.credit_limit).where(Company.id.in_(company_ids))).tuples().all()
    )
    checks = {}
    for o in orders:
        this = o.total_inc_vat
        own = this if o.status in OPEN else Decimal("0")  # the order itself is not its own exposure
        exposure = exposures[o.company_id] - own
        checks[o.id] = Credit(
            limit=Decimal(limits[o.company_id]), exposure=exposure.quantize(Decimal("0.01")), this_order=this
        )
    return checks


def approval_queue(
    session: Session, *, page: int = 0, page_size: int = 25, now: dt.datetime | None = None
) -> tuple[list[QueueRow], BoundedCount]:
    """Pending orders oldest first with both checks; a fixed number of queries per page.

    The count stops at COUNT_BOUND (app/paging.py); the page's ids come from the index on
    (status, created_at, id) alone, then the rows are joined to them (a deep page skips index
    entries, not rows).
    """
    now = now or utcnow()
    pending = select(Order.id).where(Order.status == PENDING_APPROVAL)
    total = bounded_count_of(session, pending)
    keys = (
        pending.order_by(Order.created_at, Order.id)
        .limit(page_size + (0 if total.exact else 1))
        .offset(page * page_size)
        .subquery("page_keys")
    )
    orders = list(
        session.scalars(
            select(Order)
            .join(keys, Order.id == keys.c.id)
            .options(joinedload(Order.company), joinedload(Order.created_by))
            .order_by(Order.created_at, Order.id)
        ).all()
    )
    if not total.exact:
        total.has_next = len(orders) > page_size
        orders = orders[:page_size]
    ids = [o.id for o in orders]
    prod = producibility(session, ids)
    cred = credit(session, orders)
    rows = [QueueRow(order=o, age=now - o.created_at, producibility=prod[o.id], credit=cred[o.id]) for o in orders]
    return rows, total


def order_checks(session: Session, order: Order) -> Checks:
    """Producibility and credit of one order now (the same rules as the queue shows)."""
    return Checks(producibility=producibility(session, [order.id])[order.id], credit=credit(session, [order])[order.id])


def _require_approver(actor: Actor) -> None:
    if not may_move(actor, "approve"):
        raise Forbidden(SELLERS_ONLY)


def awaits_decision(order: Order) -> bool:
    """Is the order waiting for a seller to approve or reject it?"""
    return order.status == PENDING_APPROVAL


def _load_pending(session: Session, order_id: int) -> Order:
    order = get_order(session, order_id)
    if not awaits_decision(order):
        raise AlreadyHandled(_("Ordren er allerede behandlet (status: %(status)s).", status=order_status(order.status)))
    return order


def approve_order(session: Session, order_id: int, actor: Actor, override_reason: str | None = None) -> Order:
    """pending_approval -> processing, exactly once (conditional UPDATE).

    An order failing a check needs `override_reason` (else NeedsOverride, nothing written); the
    checks and the reason then go into the timeline and the audit log. A reason given for an
    order that passes is not an override and is not recorded as one."""
    _require_approver(actor)
    order = _load_pending(session, order_id)
    checks = order_checks(session, order)
    failed = checks.failed
    reason = (override_reason or "").strip() if isinstance(override_reason, str) else ""
    if failed and not reason:
        raise NeedsOverride(order, checks)
    if len(reason) > MAX_REASON:
        raise ValidationFailed({"override_reason": _("Høyst %(max)s tegn.", max=MAX_REASON)})
    if failed:
        # The timeline is read by the customer and by us: kept in bokmål, whatever the page's
        # language (the checks again in bokmål: their line problems are texts too).
        with force_locale("nb"):
            checks = order_checks(session, order)
            note = _(
                "Godkjent av selger med overstyring. %(summary)s Begrunnelse: %(reason)s",
                summary=checks.summary(),
                reason=reason,
            )
    else:
        note = _l("Godkjent av selger")
    if not change_status(session, order, actor, "approve", PROCESSING, note):
        raise AlreadyHandled(HANDLED_BY_ANOTHER)
    details: dict[str, object] = {"number": order.number, "checks": checks.as_details(), "override": bool(failed)}
    if failed:
        details.update(failed_checks=failed, override_reason=reason)
    audit.record(
        session,
        audit.ORDER_APPROVED,
        actor=actor,
        target=("order", order.id),
        company_id=order.company_id,
        details=details,
    )
    _decision_mail(session, order, approved=True)
    return order


def approve_with_override(session: Session, order_id: int, actor: Actor, reason: str | None) -> Order:
    """The queue's "Godkjenn likevel" of one order: the reason is required (ValidationFailed on
    "override_reason" when blank), then as `approve_order` (an order that passes both checks
    is simply approved)."""
    _require_approver(actor)
    if not isinstance(reason, str) or not reason.strip():
        raise ValidationFailed({"override_reason": str(OVERRIDE_REASON_MISSING)})
    return approve_order(session, order_id, actor, override_reason=reason)


def approve_orders(session: Session, order_ids: Sequence[int], actor: Actor) -> tuple[list[Order], dict[int, str]]:
    """ "Godkjenn valgte": approve the orders that pass both checks, each in its own savepoint so
    one refusal does not undo the others. An order that fails a check is left out (never
    overridden in bulk), with the reason in `refused`."""
    approved: list[Order] = []
    refused: dict[int, str] = {}
    for oid in order_ids:
        try:
            with session.begin_nested():
                approved.append(approve_order(session, oid, actor))
        except (NotAllowed, NotFound) as exc:
            refused[oid] = exc.message
    return approved, refused


def rejection_reason(value: object) -> str:
    """The reason a rejection must give (the seller's, and the customer admin's in
    internal_approval): some text, at most MAX_REASON characters."""
    reason = value.strip() if isinstance(value, str) else ""
    if not reason:
        raise ValidationFailed({"reason": _("Skriv en begrunnelse for avvisningen.")})
    if len(reason) > MAX_REASON:
        raise ValidationFailed({"reason": _("Høyst %(max)s tegn.", max=MAX_REASON)})
    return reason


def reject_order(session: Session, order_id: int, actor: Actor, reason: str | None) -> Order:
    _require_approver(actor)
    reason = rejection_reason(reason)
    order = _load_pending(session, order_id)
    if not change_status(session, order, actor, "reject", REJECTED, reason):
        raise AlreadyHandled(HANDLED_BY_ANOTHER)
    audit.record(
        session,
        audit.ORDER_REJECTED,
        actor=actor,
        target=("order", order.id),
        company_id=order.company_id,
        details={"number": order.number, "reason": reason},
    )
    _decision_mail(session, order, approved=False, reason=reason)
    return order


def _decision_mail(session: Session, order: Order, approved: bool, reason: str | None = None) -> None:
    """The decision to whoever placed the order: a notice and (unless turned off) the mail."""
    creator = session.get(PortalUser, order.created_by_id) if order.created_by_id else None
    if creator is None:
        return
    kind = "order_approved" if approved else "order_rejected"
    notices.announce(session, kind, [creator], ref=order.id, subject=order.number, order=order, reason=reason)
