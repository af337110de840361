"""Godkjenning hos dere: the company's own approval rules and the customer admins' queue.

A customer admin may set rules for the company (ApprovalRule, kinds):

* `amount`: an order above the amount (ex. VAT) needs a customer admin's approval;
* `budget`: an order that takes one of the orderer's budgets (Bruksgrense: the orderer's own or
  the company's) over its limit needs it;
* `user`: every order of the chosen user needs it.

An order caught by an active rule is placed in `pending_internal_approval` ("Venter på godkjenning
hos dere") and the company's customer admins are mailed. A customer admin approves it (it moves on
as it would have on placing: dealers to "Til godkjenning" at the supplier, others to processing)
or rejects it with a reason. Both are the lifecycle's conditional UPDATE: two admins at once,
exactly one wins. With no rules nothing changes: budgets stay soft.

Only orders placed by the company's own users who are not customer admins are held: a customer
admin is an approver (its own order needs no one else's), and supplier staff ordering for a
customer are the supplier's path. The standing-order job places no order through here: only a
customer admin keeps the plans, so each plan is the admin's approval of its deliveries.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from app.domain import approvals, audit, notices
from app.domain.actors import Actor
from app.domain.errors import AlreadyHandled, Forbidden, NotFound, ValidationFailed, get_visible
from app.domain.formatting import format_nok, to_oslo
from app.domain.labels import order_status
from app.domain.lifecycle import (
    PENDING_APPROVAL,
    PENDING_INTERNAL_APPROVAL,
    PROCESSING,
    REJECTED,
    change_status,
    get_order,
    may_move,
)
from app.domain.validation import InvalidValue, validate_amount
from app.models import ApprovalRule, ApprovalRuleKind, Company, Order, PortalUser, utcnow
from app.paging import BoundedCount, bounded_count_of
from app.roles import CUSTOMER_ADMIN

AMOUNT, BUDGET, USER = (k.value for k in ApprovalRuleKind)
KINDS = (AMOUNT, BUDGET, USER)
KIND_LABELS: dict[str, Any] = {
    AMOUNT: _l("Ordrer over et beløp"),
    BUDGET: _l("Ordrer som går over bestillerens bruksgrense"),
    USER: _l("Alle ordrer fra en bestemt bruker"),
}
RULE_NOT_FOUND = _l("Fant ikke regelen.")
ADMINS_ONLY = _l("Bare administrator hos dere kan godkjenne eller avvise ordrer og endre reglene.")
HANDLED_BY_ANOTHER = _l("Ordren er allerede behandlet av en annen administrator.")


# --- the rules ----------------------------------------------------------------------------------


def rule_key(kind: str, user_id: int | None) -> str:
    """One rule of each kind per company, one per user for `user` (uq_approval_rules_company_key)."""
    return f"{USER}:{user_id}" if kind == USER else kind


def describe(rule: ApprovalRule) -> str:
    """The rule in words, in the current language: "Ordrer over 5 000,00 kr"."""
    if rule.kind == AMOUNT:
        return _("Ordrer over %(amount)s", amount=format_nok(rule.amount or Decimal("0")))
    if rule.kind == BUDGET:
        return _("Ordrer som går over bestillerens bruksgrense")
    name = rule.user.full_name if rule.user else str(rule.user_id)
    return _("Alle ordrer fra %(name)s", name=name)


def _require_admin(actor: Actor) -> None:
    """Rules and decisions are the company's customer admins' (and Admin's, who may do everything)."""
    if not (actor.is_customer_admin or (not actor.is_customer and actor.has_role("Admin"))):
        raise Forbidden(str(ADMINS_ONLY))


def _rule_company(session: Session, actor: Actor, company_id: Any) -> int:
    """The company a new rule is for: a customer admin's own (whatever is asked), else the
    named one (Admin)."""
    _require_admin(actor)
    if actor.company_id is not None:
        return actor.company_id
    company = get_visible(session, Company, company_id, _l("Fant ikke kundekontoen.")) if company_id else None
    if company is None:
        raise ValidationFailed({"company_id": _("Velg kundekontoen regelen gjelder.")})
    return company.id


def company_rules(session: Session, company_id: int | None) -> list[ApprovalRule]:
    """The company's rules (None: every company's, for Admin) in a fixed order, with their users
    and companies: one query."""
    stmt = select(ApprovalRule).options(joinedload(ApprovalRule.user), joinedload(ApprovalRule.company))
    if company_id is not None:
        stmt = stmt.where(ApprovalRule.company_id == company_id)
    return list(session.scalars(stmt.order_by(ApprovalRule.company_id, ApprovalRule.kind, ApprovalRule.id)))


def rule_users(session: Session, company_id: int) -> list[PortalUser]:
    """The users a `user` rule may name: the company's active users (a company has a handful)."""
    return list(
        session.scalars(
            select(PortalUser)
            .where(PortalUser.company_id == company_id, PortalUser.active.is_(True))
            .order_by(PortalUser.first_name, PortalUser.last_name, PortalUser.id)
        )
    )


def _checked_values(session: Session, company_id: int, kind: Any, amount: Any, user_id: Any) -> dict[str, Any]:
    """The stored values of a rule, or ValidationFailed naming the field."""
    if kind not in KINDS:
        raise ValidationFailed({"kind": _("Velg hva slags regel det er.")})
    values: dict[str, Any] = {"kind": kind, "amount": None, "user_id": None}
    if kind == AMOUNT:
        try:
            values["amount"] = validate_amount(amount)
        except InvalidValue as exc:
            raise ValidationFailed({"amount": str(exc.message)}) from None
    if kind == USER:
        try:
            uid = int(user_id) if user_id not in (None, "") and not isinstance(user_id, bool) else 0
        except (TypeError, ValueError):
            uid = 0
        user = session.get(PortalUser, uid) if 0 < uid < 2**31 else None
        if user is None or user.company_id != company_id:
            raise ValidationFailed({"user_id": _("Velg en bruker i bedriften.")})
        values["user_id"] = user.id
    values["key"] = rule_key(kind, values["user_id"])
    return values


def create_rule(
    session: Session,
    actor: Actor,
    *,
    kind: Any,
    amount: Any = None,
    user_id: Any = None,
    active: bool = True,
    company_id: Any = None,
) -> ApprovalRule:
    """A new rule of the actor's company (customer admins; Admin names `company_id`); a second
    rule of the same kind (the same user) is refused on "kind" (or "user_id"), also when two are
    made at once (the unique key)."""
    try:
        company_id = _rule_company(session, actor, company_id)
    except NotFound:
        raise ValidationFailed({"company_id": _("Velg kundekontoen regelen gjelder.")}) from None
    values = _checked_values(session, company_id, kind, amount, user_id)
    rule = ApprovalRule(company_id=company_id, active=bool(active), **values)
    try:
        with session.begin_nested():
            session.add(rule)
    except IntegrityError:
        field = "user_id" if kind == USER else "kind"
        raise ValidationFailed({field: _("Denne regelen finnes allerede. Endre den som finnes.")}) from None
    return rule


def get_rule(session: Session, rule_id: Any) -> ApprovalRule:
    """A rule through the tenant-scoped session: another company's is NotFound."""
    return get_visible(session, ApprovalRule, rule_id, RULE_NOT_FOUND)


def update_rule(
    session: Session, actor: Actor, rule_id: Any, *, amount: Any = None, active: Any = None
) -> ApprovalRule:
    """Change an amount rule's amount or turn a rule on or off (the kind and user stay)."""
    _require_admin(actor)
    rule = get_rule(session, rule_id)
    if amount is not None and rule.kind == AMOUNT:
        rule.amount = _checked_values(session, rule.company_id, AMOUNT, amount, None)["amount"]
    if active is not None:
        rule.active = bool(active)
    session.flush()
    return rule


def delete_rule(session: Session, actor: Actor, rule_id: Any) -> None:
    _require_admin(actor)
    session.delete(get_rule(session, rule_id))
    session.flush()


# --- evaluation when an order is placed ---------------------------------------------------------


def held_by(session: Session, order: Order, actor: Actor) -> list[ApprovalRule]:
    """The active rules of the order's company that hold this (flushed) order for approval."""
    if not actor.is_customer or actor.is_customer_admin or actor.company_id != order.company_id:
        return []
    rules = list(
        session.scalars(
            select(ApprovalRule)
            .where(ApprovalRule.company_id == order.company_id, ApprovalRule.active.is_(True))
            .order_by(ApprovalRule.kind, ApprovalRule.id)
        )
    )
    held = []
    for rule in rules:
        if (
            rule.kind == AMOUNT
            and rule.amount is not None
            and order.total_ex_vat > rule.amount
            or rule.kind == USER
            and rule.user_id == order.created_by_id
            or rule.kind == BUDGET
            and _over_budget(session, order)
        ):
            held.append(rule)
    return held


def _over_budget(session: Session, order: Order) -> bool:
    """Does the order (counted in its budgets' consumption: it is flushed) take one over its limit?"""
    from app.domain.budgets import applicable_budgets, consumption

    budgets = applicable_budgets(session, order.company_id, order.created_by_id, lock=True)
    used = consumption(session, budgets, to_oslo(order.created_at).date())
    return any(used[b.id] > b.amount for b in budgets)


def hold_if_required(session: Session, order: Order, actor: Actor) -> Any:
    """Called by placing before the order's first event: when a rule holds the order, it waits
    in pending_internal_approval; returns the first event's reason then (else None)."""
    held = held_by(session, order, actor)
    if not held:
        return None
    order.status = PENDING_INTERNAL_APPROVAL
    session.flush()
    with force_locale("nb"):  # the timeline is kept in bokmål
        return _("Venter på godkjenning hos dere (%(rules)s)", rules="; ".join(describe(r).lower() for r in held))


def notify_internal_approval_waiting(session: Session, order: Order) -> None:
    """Tell the company's customer admins that an order waits for them (a notice each, and the mail unless they turned it off); the one
    place a new waiting order is announced."""
    admins = session.scalars(
        select(PortalUser).where(
            PortalUser.company_id == order.company_id,
            PortalUser.active.is_(True),
            PortalUser.roles.any(name=CUSTOMER_ADMIN),
        )
    ).all()
    orderer = session.get(PortalUser, order.created_by_id) if order.created_by_id else None
    to = [admin for admin in admins if admin.id != order.created_by_id]
    notices.announce(
        session, "internal_approval_waiting", to, ref=order.id, subject=order.number, order=order, orderer=orderer
    )


# --- the queue and the decisions ----------------------------------------------------------------


@dataclass
class QueueRow:
    order: Order
    age: dt.timedelta


def queue(
    session: Session, company_id: int | None, *, page: int = 0, page_size: int = 25, now: dt.datetime | None = None
) -> tuple[list[QueueRow], BoundedCount]:
    """The company's orders waiting for its approval (None: every company's, for Admin), oldest
    first; two queries per page (the bounded count, from ix_orders_company_status / the status
    index alone, and the page)."""
    now = now or utcnow()
    where = [Order.status == PENDING_INTERNAL_APPROVAL]
    if company_id is not None:
        where.append(Order.company_id == company_id)
    total = bounded_count_of(session, select(Order.id).where(*where))
    orders = list(
        session.scalars(
            select(Order)
            .options(joinedload(Order.created_by), joinedload(Order.company))
            .where(*where)
            .order_by(Order.created_at, Order.id)
            .limit(page_size + 1)
            .offset(page * page_size)
        )
    )
    total.has_next = len(orders) > page_size
    return [QueueRow(o, now - o.created_at) for o in orders[:page_size]], total


def awaits_decision(order: Order) -> bool:
    return order.status == PENDING_INTERNAL_APPROVAL


def may_decide(actor: Actor, order: Order) -> bool:
    """May this actor approve or reject this order now (for showing the buttons)?"""
    return awaits_decision(order) and actor.is_customer_admin and actor.company_id == order.company_id


def _load_waiting(session: Session, order_id: Any, actor: Actor, move: str) -> Order:
    if not may_move(actor, move):
        raise Forbidden(str(ADMINS_ONLY))
    order = get_order(session, order_id)  # another company's order: NotFound (the guard)
    if actor.is_customer and actor.company_id != order.company_id:
        raise Forbidden(str(ADMINS_ONLY))
    if not awaits_decision(order):
        raise AlreadyHandled(_("Ordren er allerede behandlet (status: %(status)s).", status=order_status(order.status)))
    return order


def next_status(session: Session, order: Order) -> str:
    """Where an approved order goes: the supplier's approval for companies that require it."""
    company = session.get(Company, order.company_id)
    return PENDING_APPROVAL if company is not None and company.requires_approval else PROCESSING


def approve(session: Session, order_id: Any, actor: Actor) -> Order:
    """pending_internal_approval -> the order's normal path, exactly once (conditional UPDATE)."""
    order = _load_waiting(session, order_id, actor, "internal_approve")
    target = next_status(session, order)
    if not change_status(session, order, actor, "internal_approve", target, _l("Godkjent hos dere")):
        raise AlreadyHandled(str(HANDLED_BY_ANOTHER))
    # In the audit log as the seller's decisions are; `step` tells the company's own from the supplier's.
    audit.record(
        session,
        audit.ORDER_APPROVED,
        actor=actor,
        target=("order", order.id),
        company_id=order.company_id,
        details={"number": order.number, "step": "internal", "to_status": target},
    )
    return order


def reject(session: Session, order_id: Any, actor: Actor, reason: Any) -> Order:
    """pending_internal_approval -> rejected with the admin's reason, exactly once; the orderer
    is mailed the reason."""
    order = _load_waiting(session, order_id, actor, "internal_reject")  # first: a foreign order is 404
    reason = approvals.rejection_reason(reason)
    with force_locale("nb"):
        note = _("Avvist hos dere: %(reason)s", reason=reason)
    if not change_status(session, order, actor, "internal_reject", REJECTED, note):
        raise AlreadyHandled(str(HANDLED_BY_ANOTHER))
    audit.record(
        session,
        audit.ORDER_REJECTED,
        actor=actor,
        target=("order", order.id),
        company_id=order.company_id,
        details={"number": order.number, "step": "internal", "reason": reason},
    )
    orderer = session.get(PortalUser, order.created_by_id) if order.created_by_id else None
    if orderer is not None:
        notices.announce(
            session,
            "order_rejected",
            [orderer],
            ref=order.id,
            subject=order.number,
            template="internal_approval_rejected",
            order=order,
            reason=reason,
        )
    return order
