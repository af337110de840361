"""Godkjenning hos dere (app/domain/internal_approval.py): the company's own approval rules.

Each rule kind holds the orders it should and no others; with no rules (or only a rule that is
off) orders are placed as before. A held order waits in pending_internal_approval; a customer admin
of the company approves it (it goes on to the seller's queue for dealers, to processing for
others) or rejects it with a reason, exactly once also when two admins decide at once. Another
company's rule or order is 404 on the pages and in the API; a customer user cannot decide. The
budget dashboard shows the held orders as planned, apart; the reports count the new status and
keep it out of the sales, and the kept totals equal a rebuild from the orders.
Run on SQLite and (TEST_DATABASE_URL) PostgreSQL.
"""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.domain import internal_approval, report_totals
from app.domain import reports as R
from app.domain.budgets import budget_rows, company_budgets
from app.domain.errors import AlreadyHandled
from app.domain.formatting import oslo_today
from app.domain.lifecycle import SALES, WAITING
from app.extensions import db
from app.models import (
    ApprovalRule,
    AuditEntry,
    CompanyMonthTotal,
    MailOutbox,
    Notice,
    Order,
    OrderDayTotal,
    OrderEvent,
    OrderStatus,
)
from tests.factories import World
from tests.helpers import Caller, actor, client_as, db_session, flashes, load, text_of

API = "/api/v1"
HELD = OrderStatus.pending_internal_approval.value
HELD_LABEL = "Venter på godkjenning hos dere"


def _place(app: Flask, world: World, username: str, quantity: int, tenant: str = "a") -> dict[str, Any]:
    """An order placed through the API by `username`: `quantity` chairs at 500 kr ex. VAT."""
    t = getattr(world, tenant)
    response = Caller(app, username, API).post(
        "/order/",
        {"delivery_address_id": t.address.id, "lines": [{"product_id": world.product.id, "quantity": quantity}]},
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.json["result"] | {"id": response.json["id"]}


def _rule(app: Flask, username: str, body: dict[str, Any]) -> Any:
    return Caller(app, username, API).post("/approval_rule/", body)


def _events(app: Flask, order_id: int) -> list[tuple[str | None, str]]:
    with db_session(app) as s:
        rows = s.execute(
            select(OrderEvent.from_status, OrderEvent.to_status)
            .where(OrderEvent.order_id == order_id)
            .order_by(OrderEvent.at, OrderEvent.id)
        ).all()
    return [tuple(r) for r in rows]  # type: ignore[misc]


def _mails(app: Flask, kind: str) -> list[MailOutbox]:
    with db_session(app) as s:
        return list(s.scalars(select(MailOutbox).where(MailOutbox.kind == kind).order_by(MailOutbox.id)))


# --- no rules: nothing changes --------------------------------------------------------------------


def test_without_active_rules_orders_are_placed_as_before(app: Flask, world: World) -> None:
    # The world's companies each have an amount rule of 5 000 kr that is off.
    assert load(app, ApprovalRule, world.a.approval_rule.id).active is False
    dealer = _place(app, world, "hansen.bruker", 30)  # 15 000 kr
    webshop = _place(app, world, "berg.bruker", 30, tenant="b")
    assert dealer["status"] == "pending_approval"
    assert webshop["status"] == "processing"
    assert _events(app, dealer["id"]) == [(None, "pending_approval")]
    assert not _mails(app, "internal_approval_waiting")


# --- each kind of rule ----------------------------------------------------------------------------


def test_amount_rule_holds_orders_above_the_amount(app: Flask, world: World) -> None:
    # The world's amount rule (off): a second one is refused, so it is turned on and set to 5 000 kr.
    rule_url = f"/approval_rule/{world.a.approval_rule.id}"
    response = Caller(app, "hansen.admin", API).put(rule_url, {"active": True, "amount": "5000"})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.json["result"]["description"] == "Ordrer over 5\xa0000,00\xa0kr"
    at_limit = _place(app, world, "hansen.bruker", 10)  # 5 000 kr: not above
    above = _place(app, world, "hansen.bruker", 11)  # 5 500 kr
    assert at_limit["status"] == "pending_approval"
    assert above["status"] == HELD and above["status_label"] == HELD_LABEL
    assert _events(app, above["id"]) == [(None, HELD)]
    # The customer admins are told (not the orderer); another company's rule holds nothing here.
    mails = _mails(app, "internal_approval_waiting")
    assert [m.to_address for m in mails] == [world.a.admin.email]
    assert above["number"] in mails[0].subject and f"/orderview/show/{above['id']}" in mails[0].body_text
    # ... and see it in the bell, linked to the order (where they approve or reject it).
    with app.app_context(), db_session(app) as s:
        waiting = select(Notice).where(Notice.user_id == world.a.admin.id, Notice.kind == "internal_approval_waiting")
        (notice,) = s.scalars(waiting).all()
    assert notice.link == f"/orderview/show/{above['id']}"
    assert _place(app, world, "berg.bruker", 30, tenant="b")["status"] == "processing"
    # A customer admin is an approver: the admin's own order is not held.
    assert _place(app, world, "hansen.admin", 20)["status"] == "pending_approval"


def test_budget_rule_holds_orders_that_take_a_budget_over(app: Flask, world: World) -> None:
    # hansen.bruker's monthly budget is 10 000 kr; the world's order of 1 000 kr counts.
    assert _rule(app, "hansen.admin", {"kind": "budget"}).status_code == 201
    within = _place(app, world, "hansen.bruker", 18)  # 1 000 + 9 000 = 10 000: not over
    over = _place(app, world, "hansen.bruker", 1)  # 10 500
    assert within["status"] == "pending_approval"
    assert over["status"] == HELD
    # A user whom no budget applies to is not held by the budget rule.
    assert _place(app, world, "berg.bruker", 40, tenant="b")["status"] == "processing"


def test_user_rule_holds_every_order_of_that_user(app: Flask, world: World) -> None:
    response = _rule(app, "berg.admin", {"kind": "user", "user_id": world.b.user.id})
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.json["result"]["description"] == f"Alle ordrer fra {world.b.user.full_name}"
    assert _place(app, world, "berg.bruker", 1, tenant="b")["status"] == HELD
    assert _place(app, world, "hansen.bruker", 1)["status"] == "pending_approval"


def test_a_rule_that_is_off_holds_nothing_and_can_be_turned_on(app: Flask, world: World) -> None:
    rule_id = world.a.approval_rule.id
    admin = Caller(app, "hansen.admin", API)
    assert _place(app, world, "hansen.bruker", 11)["status"] == "pending_approval"
    assert admin.put(f"/approval_rule/{rule_id}", {"active": True}).status_code == 200
    assert _place(app, world, "hansen.bruker", 11)["status"] == HELD
    assert admin.put(f"/approval_rule/{rule_id}", {"amount": "10000"}).json["result"]["amount"] == "10000.00"
    assert _place(app, world, "hansen.bruker", 11)["status"] == "pending_approval"
    assert admin.delete(f"/approval_rule/{rule_id}").status_code == 200
    assert load(app, ApprovalRule, rule_id) is None


def test_rule_input_is_checked_with_the_field_named(app: Flask, world: World) -> None:
    bad_amount = _rule(app, "hansen.admin", {"kind": "amount", "amount": "fem tusen"})
    assert bad_amount.status_code == 400 and "amount" in bad_amount.json["message"]
    no_kind = _rule(app, "hansen.admin", {"kind": "alt"})
    assert no_kind.status_code == 400 and "kind" in no_kind.json["message"]
    foreign_user = _rule(app, "hansen.admin", {"kind": "user", "user_id": world.b.user.id})
    assert foreign_user.status_code == 400 and "user_id" in foreign_user.json["message"]
    # One rule of each kind: the world's amount rule exists already.
    twice = _rule(app, "hansen.admin", {"kind": "amount", "amount": "100"})
    assert twice.status_code == 400 and "kind" in twice.json["message"]
    # company_id is the user's own: another company's is refused.
    other = _rule(app, "hansen.admin", {"kind": "budget", "company_id": world.b.company.id})
    assert other.status_code == 400 and "company_id" in other.json["message"]


# --- deciding -------------------------------------------------------------------------------------


def _audit(app: Flask, order_id: int) -> list[tuple[str, int | None, str | None]]:
    with app.app_context(), db_session(app) as s:
        entries = s.scalars(
            select(AuditEntry).where(AuditEntry.target_type == "order", AuditEntry.target_id == str(order_id))
        ).all()
        return [(e.action, e.actor_id, (e.details or {}).get("step")) for e in entries]


def test_approval_sends_dealers_to_the_seller_and_others_to_processing(app: Flask, world: World) -> None:
    for t, admin in ((world.a, "hansen.admin"), (world.b, "berg.admin")):
        assert _rule(app, admin, {"kind": "user", "user_id": t.user.id}).status_code == 201
    dealer = _place(app, world, "hansen.bruker", 2)
    webshop = _place(app, world, "berg.bruker", 2, tenant="b")
    approved = Caller(app, "hansen.admin", API).post(f"/order/{dealer['id']}/internal_approve")
    assert approved.status_code == 200, approved.get_data(as_text=True)
    assert approved.json["result"]["status"] == "pending_approval"
    steps = [(e["from_status"], e["to_status"]) for e in approved.json["result"]["events"]]
    assert (None, HELD) in steps and (HELD, "pending_approval") in steps
    assert _events(app, dealer["id"]) == [(None, HELD), (HELD, "pending_approval")]
    assert _audit(app, dealer["id"]) == [("order_approved", world.a.admin.id, "internal")]
    again = Caller(app, "hansen.admin", API).post(f"/order/{dealer['id']}/internal_approve")
    assert again.status_code == 409
    assert (
        Caller(app, "berg.admin", API).post(f"/order/{webshop['id']}/internal_approve").json["result"]["status"]
        == "processing"
    )
    # The seller now sees the dealer's order in its queue and approves it: the normal path.
    assert Caller(app, "selger", API).post(f"/order/{dealer['id']}/approve").json["result"]["status"] == "processing"


def test_reject_needs_a_reason_and_tells_the_orderer(app: Flask, world: World) -> None:
    assert _rule(app, "hansen.admin", {"kind": "user", "user_id": world.a.user.id}).status_code == 201
    order = _place(app, world, "hansen.bruker", 2)
    admin = Caller(app, "hansen.admin", API)
    missing = admin.post(f"/order/{order['id']}/internal_reject", {"reason": " "})
    assert missing.status_code == 400 and "reason" in missing.json["message"]
    rejected = admin.post(f"/order/{order['id']}/internal_reject", {"reason": "Ikke i budsjettet"})
    assert rejected.status_code == 200 and rejected.json["result"]["status"] == "rejected"
    assert _events(app, order["id"])[-1] == (HELD, "rejected")
    mail = _mails(app, "order_rejected")[-1]
    assert mail.to_address == world.a.user.email and "Ikke i budsjettet" in mail.body_text
    assert _audit(app, order["id"]) == [("order_rejected", world.a.admin.id, "internal")]


def test_a_customer_user_cannot_decide(app: Flask, world: World) -> None:
    assert _rule(app, "hansen.admin", {"kind": "user", "user_id": world.a.user.id}).status_code == 201
    order = _place(app, world, "hansen.bruker", 2)
    user = Caller(app, "hansen.bruker", API)
    assert user.post(f"/order/{order['id']}/internal_approve").status_code == 403
    assert user.post(f"/order/{order['id']}/internal_reject", {"reason": "x"}).status_code == 403
    assert user.post("/approval_rule/", {"kind": "budget"}).status_code == 403
    client = client_as(app, "hansen.bruker")
    assert client.post(f"/godkjenning-hos-dere/godkjenn/{order['id']}").status_code == 403
    assert load(app, Order, order["id"]).status == HELD
    # The orderer may still cancel it the same day.
    assert user.post(f"/order/{order['id']}/cancel").json["result"]["status"] == "cancelled"


def test_the_orderer_sees_where_the_order_is(app: Flask, world: World) -> None:
    assert _rule(app, "hansen.admin", {"kind": "user", "user_id": world.a.user.id}).status_code == 201
    order = _place(app, world, "hansen.bruker", 2)
    page = text_of(client_as(app, "hansen.bruker").get(f"/orderview/show/{order['id']}"))
    assert 'id="internal-approval-panel"' in page and HELD_LABEL in page
    assert 'id="internal-approve"' not in page  # no buttons for the orderer
    admin_page = text_of(client_as(app, "hansen.admin").get(f"/orderview/show/{order['id']}"))
    assert 'id="internal-approve"' in admin_page
    listed = text_of(client_as(app, "hansen.bruker").get(f"/orderview/list/?_flt_0_status={HELD}"))
    assert order["number"] in listed


# --- exactly once ---------------------------------------------------------------------------------


def _held_order(app: Flask, world: World) -> int:
    assert _rule(app, "hansen.admin", {"kind": "user", "user_id": world.a.user.id}).status_code == 201
    return int(_place(app, world, "hansen.bruker", 2)["id"])


def test_two_sessions_deciding_at_once_exactly_one_wins(app: Flask, world: World) -> None:
    order_id = _held_order(app, world)
    admin = actor(world.a.admin, "CustomerAdmin")
    with app.test_request_context(), Session(db.engine) as first, Session(db.engine) as second:
        assert first.get(Order, order_id).status == HELD  # the first has read the order waiting
        internal_approval.approve(second, order_id, admin)
        second.commit()
        with pytest.raises(AlreadyHandled):
            internal_approval.reject(first, order_id, admin, "For dyr")
        first.rollback()
    assert _events(app, order_id) == [(None, HELD), (HELD, "pending_approval")]


def test_two_admins_approving_in_threads_one_wins(app: Flask, world: World) -> None:
    order_id = _held_order(app, world)
    admin = actor(world.a.admin, "CustomerAdmin")
    barrier = threading.Barrier(2)
    results: list[str] = []

    def approve() -> None:
        with app.test_request_context(), Session(db.engine) as s:
            barrier.wait()
            try:
                internal_approval.approve(s, order_id, admin)
                s.commit()
                results.append("ok")
            except AlreadyHandled:
                s.rollback()
                results.append("already")

    threads = [threading.Thread(target=approve) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["already", "ok"]
    assert _events(app, order_id) == [(None, HELD), (HELD, "pending_approval")]


# --- tenancy --------------------------------------------------------------------------------------


def test_another_companys_rule_and_order_are_404(app: Flask, world: World) -> None:
    order_id = _held_order(app, world)  # company A's
    rule_id = world.a.approval_rule.id
    other = Caller(app, "berg.admin", API)
    assert other.post(f"/order/{order_id}/internal_approve").status_code == 404
    assert other.post(f"/order/{order_id}/internal_reject", {"reason": "x"}).status_code == 404
    assert other.get(f"/approval_rule/{rule_id}").status_code == 404
    assert other.put(f"/approval_rule/{rule_id}", {"active": True}).status_code == 404
    assert other.delete(f"/approval_rule/{rule_id}").status_code == 404
    listed = other.get("/approval_rule/").json["result"]
    assert {r["company_id"] for r in listed} == {world.b.company.id}
    client = client_as(app, "berg.admin")
    assert client.post(f"/godkjenning-hos-dere/godkjenn/{order_id}").status_code == 404
    assert client.get(f"/godkjenning-hos-dere/avvis/{order_id}").status_code == 404
    assert client.post(f"/godkjenning-hos-dere/regler/{rule_id}/slett").status_code == 404
    number = load(app, Order, order_id).number
    assert number not in text_of(client.get("/godkjenning-hos-dere/"))
    assert load(app, Order, order_id).status == HELD
    assert load(app, ApprovalRule, rule_id) is not None


# --- the pages ------------------------------------------------------------------------------------


def test_rules_page_queue_and_reject_page(app: Flask, world: World) -> None:
    client = client_as(app, "hansen.admin")
    bad = client.post("/godkjenning-hos-dere/regler/ny", data={"kind": "user", "user_id": ""})
    assert bad.status_code == 200 and "Velg en bruker i bedriften." in text_of(bad)
    added = client.post("/godkjenning-hos-dere/regler/ny", data={"kind": "user", "user_id": str(world.a.user.id)})
    assert added.status_code == 302
    rules_page = text_of(client.get("/godkjenning-hos-dere/regler/"))
    assert f"Alle ordrer fra {world.a.user.full_name}" in rules_page
    order = _place(app, world, "hansen.bruker", 2)
    queue = text_of(client.get("/godkjenning-hos-dere/"))
    assert f'data-order="{order["number"]}"' in queue
    reject_page = client.post(f"/godkjenning-hos-dere/avvis/{order['id']}", data={"reason": ""})
    assert "Skriv en begrunnelse for avvisningen." in text_of(reject_page)
    done = client.post(f"/godkjenning-hos-dere/avvis/{order['id']}", data={"reason": "Feil vare"})
    assert done.status_code == 302
    assert ("success", f"Ordre {order['number']} er avvist.") in flashes(client)
    assert load(app, Order, order["id"]).status == "rejected"


# --- budgets: a held order is planned, shown apart -------------------------------------------------


def test_budget_counts_a_held_order_as_planned(app: Flask, world: World) -> None:
    assert _rule(app, "hansen.admin", {"kind": "user", "user_id": world.a.user.id}).status_code == 201
    _place(app, world, "hansen.bruker", 4)  # 2 000 kr, held
    with app.test_request_context(), Session(db.engine) as s:
        rows = budget_rows(s, company_budgets(s, world.a.company.id, "month"), oslo_today())
    row = next(r for r in rows if r["budget"].id == world.a.budget.id)
    assert row["used"] == Decimal("3000.00")  # the world's 1 000 kr order and the held one
    assert row["planned"] == Decimal("2000.00")
    page = text_of(client_as(app, "hansen.admin").get("/bruksgrense/oversikt/?periode=month"))
    assert "herav planlagt 2\xa0000,00\xa0kr" in page.replace("&nbsp;", "\xa0")


# --- reports --------------------------------------------------------------------------------------


def _totals(app: Flask) -> tuple[list[Any], list[Any]]:
    with db_session(app) as s:
        day = s.execute(
            select(
                OrderDayTotal.day,
                OrderDayTotal.channel,
                OrderDayTotal.status,
                OrderDayTotal.placed,
                OrderDayTotal.placed_ex_vat,
                OrderDayTotal.entered,
            )
            .where((OrderDayTotal.placed != 0) | (OrderDayTotal.entered != 0))
            .order_by(OrderDayTotal.day, OrderDayTotal.channel, OrderDayTotal.status)
        ).all()
        month = s.execute(
            select(
                CompanyMonthTotal.month,
                CompanyMonthTotal.company_id,
                CompanyMonthTotal.creator_id,
                CompanyMonthTotal.status,
                CompanyMonthTotal.orders,
                CompanyMonthTotal.total_ex_vat,
            )
            .where(CompanyMonthTotal.orders != 0)
            .order_by(
                CompanyMonthTotal.month,
                CompanyMonthTotal.company_id,
                CompanyMonthTotal.creator_id,
                CompanyMonthTotal.status,
            )
        ).all()
    return [tuple(r) for r in day], [tuple(r) for r in month]


def test_reports_count_the_new_status_and_keep_it_out_of_sales(app: Flask, world: World) -> None:
    with db_session(app) as s:
        report_totals.rebuild(s)
        s.commit()
    assert _rule(app, "berg.admin", {"kind": "user", "user_id": world.b.user.id}).status_code == 201
    held = _place(app, world, "berg.bruker", 10, tenant="b")  # 5 000 kr, held
    approved = _place(app, world, "berg.bruker", 4, tenant="b")  # 2 000 kr, held, then approved
    assert Caller(app, "berg.admin", API).post(f"/order/{approved['id']}/internal_approve").status_code == 200
    today = oslo_today()
    period = R.Period(today.replace(day=1), today)
    with app.test_request_context(), Session(db.engine) as s:
        assert R.status_totals(s)[HELD] == (1, Decimal("5000.00"))
        status = R.status_report(s, period)
        assert status.now[HELD] == 1
        assert sum(status.entered_in(w.index, HELD) for w in status.weeks) == 2
        sales = R.sales_by_month(s, period)
        # The world's two orders of 1 000 kr and the approved one of 2 000 kr; not the held one.
        assert sales.total == Decimal("4000.00")
        assert HELD in WAITING and HELD not in SALES
    assert held["status"] == HELD
    # The totals kept order by order are what a rebuild from the orders and events gives.
    kept = _totals(app)
    with db_session(app) as s:
        report_totals.rebuild(s)
        s.commit()
    assert _totals(app) == kept
    assert any(row[2] == HELD and row[3] == 1 for row in kept[0])


def test_quote_conversion_goes_through_the_rules(app: Flask, world: World) -> None:
    assert _rule(app, "hansen.admin", {"kind": "user", "user_id": world.a.user.id}).status_code == 201
    converted = Caller(app, "hansen.bruker", API).post(f"/quote/{world.a.quote.id}/convert")
    assert converted.status_code in (200, 201), converted.get_data(as_text=True)
    order_id = converted.json.get("order_id") or converted.json["result"].get("order_id")
    assert load(app, Order, order_id).status == HELD
