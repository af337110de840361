"""Varsler (app/domain/notices.py): one event gives one notice and one mail (none when the user turned
that mail off, except the fixed kinds), in the transaction of the change; each user reads and marks
only the own notices (page, bell and API); the bell is one bounded statement, also with 100 000
notices."""

from __future__ import annotations

import datetime as dt
import re
import time
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, insert, select

from app.domain import approvals, inquiries, notices, orders
from app.domain import standing_orders as so_rules
from app.domain.errors import NotFound, ValidationFailed
from app.domain.formatting import oslo_today
from app.domain.orders import fulfilment
from app.models import (
    Budget,
    MailChoice,
    MailOutbox,
    Notice,
    Order,
    PortalUser,
    StandingOrder,
    utcnow,
)
from tests.factories import World
from tests.helpers import Caller, StatementCounter, client_as, db_engine, db_session, flashes, is_postgres, text_of
from tests.helpers import actor as as_actor


def _notices(app: Flask, user_id: int | None = None, kind: str | None = None) -> list[Notice]:
    stmt = select(Notice).order_by(Notice.id)
    if user_id is not None:
        stmt = stmt.where(Notice.user_id == user_id)
    if kind is not None:
        stmt = stmt.where(Notice.kind == kind)
    with db_session(app) as s:
        return list(s.scalars(stmt))


def _mails(app: Flask, kind: str, to: str | None = None) -> list[MailOutbox]:
    stmt = select(MailOutbox).where(MailOutbox.kind == kind).order_by(MailOutbox.id)
    if to is not None:
        stmt = stmt.where(MailOutbox.to_address == to)
    with db_session(app) as s:
        return list(s.scalars(stmt))


def _choose(app: Flask, user_id: int, kind: str, enabled: bool) -> None:
    with app.app_context(), db_session(app) as s:
        notices.set_mail_choice(s, user_id, kind, enabled)
        s.commit()


def _place(app: Flask, world: World, company: str = "a") -> Order:
    t = getattr(world, company)
    with app.app_context(), db_session(app) as s:
        order = orders.place_order(
            s,
            actor=as_actor(t.user, "CustomerUser"),
            company_id=t.company.id,
            delivery_address_id=t.address.id,
            lines=[orders.LineInput(product_id=world.product.id, quantity=1)],
        )
        s.commit()
        s.refresh(order)
        s.expunge(order)
        return order


def _seller(world: World) -> Any:
    return as_actor(world.staff["Seller"], "Seller")


def _cs(world: World) -> Any:
    return as_actor(world.staff["CustomerService"], "CustomerService")


def _approve(app: Flask, world: World, order_id: int) -> None:
    with app.app_context(), db_session(app) as s:
        approvals.approve_with_override(s, order_id, _seller(world), "Testordre")
        s.commit()


# --- one event: one notice and one mail --------------------------------------------------------------


def test_approval_gives_the_customer_one_notice_and_one_mail(app: Flask, world: World) -> None:
    order = _place(app, world)
    _approve(app, world, order.id)
    (notice,) = _notices(app, world.a.user.id, "order_approved")
    assert (notice.subject, notice.link, notice.read_at) == (order.number, f"/orderview/show/{order.id}", None)
    (mail,) = _mails(app, "order_approved", world.a.user.email)
    assert order.number in mail.subject and f"/orderview/show/{order.id}" in mail.body_text
    assert not _notices(app, world.a.admin.id)  # per user: the colleague gets none


def test_rejection_turned_off_gives_the_notice_without_the_mail(app: Flask, world: World) -> None:
    _choose(app, world.a.user.id, "order_rejected", False)
    order = _place(app, world)
    with app.app_context(), db_session(app) as s:
        approvals.reject_order(s, order.id, _seller(world), "Utsolgt")
        s.commit()
    assert len(_notices(app, world.a.user.id, "order_rejected")) == 1
    assert _mails(app, "order_rejected") == []
    # Turned on again: the mail comes back.
    _choose(app, world.a.user.id, "order_rejected", True)
    with app.app_context(), db_session(app) as s:
        assert notices.mail_wanted(s, "order_rejected", [world.a.user.id]) == {world.a.user.id}


def test_a_rolled_back_change_leaves_neither_notice_nor_mail(app: Flask, world: World) -> None:
    order = _place(app, world)
    mails = len(_mails(app, "order_approved"))
    with app.app_context(), db_session(app) as s:
        approvals.approve_with_override(s, order.id, _seller(world), "Testordre")
        s.flush()
        assert s.scalar(select(func.count()).select_from(Notice).where(Notice.kind == "order_approved")) == 1
        s.rollback()
    assert _notices(app, kind="order_approved") == []
    assert len(_mails(app, "order_approved")) == mails


def test_shipment_gives_a_notice_and_a_mail_with_waybill_and_tracking_link(app: Flask, world: World) -> None:
    order = _place(app, world)
    _approve(app, world, order.id)
    with app.app_context(), db_session(app) as s:
        line_id = s.get(Order, order.id).lines[0].id
        fulfilment.register_shipment(
            s, order.id, _cs(world), carrier="bring", waybill_number="70701234", quantities={line_id: 1}
        )
        s.commit()
        tracking = fulfilment.tracking_url("bring", "70701234")
    assert tracking
    (notice,) = _notices(app, world.a.user.id, "order_shipped")
    assert notice.link == f"/orderview/show/{order.id}#sporing"
    (mail,) = _mails(app, "order_shipped", world.a.user.email)
    assert mail.subject == f"Ordre {order.number} er sendt"
    assert "Fraktbrev: 70701234" in mail.body_text and tracking in mail.body_text and "Bring" in mail.body_text


def test_invoice_gives_a_notice_and_a_mail(app: Flask, world: World) -> None:
    order = _place(app, world, "b")  # webshop: processing at once
    with app.app_context(), db_session(app) as s:
        fulfilment.register_invoice(
            s, order.id, _cs(world), number="F-77", invoice_date=oslo_today(), due_date=oslo_today()
        )
        s.commit()
    assert len(_notices(app, world.b.user.id, "order_invoiced")) == 1
    (mail,) = _mails(app, "order_invoiced", world.b.user.email)
    assert "F-77" in mail.body_text


def test_inquiry_answer_gives_a_notice_and_a_mail(app: Flask, world: World) -> None:
    with app.app_context(), db_session(app) as s:
        s.get(type(world.a.inquiry), world.a.inquiry.id).created_by_id = world.a.user.id
        s.commit()
        inquiries.add_message(s, world.a.inquiry.id, _cs(world), "Svaret er ja.")
        s.commit()
    (notice,) = _notices(app, world.a.user.id, "inquiry_answered")
    assert notice.link == f"/inquiryview/show/{world.a.inquiry.id}"
    assert len(_mails(app, "inquiry_answered", world.a.user.email)) == 1


def test_dealer_order_tells_the_sellers_mail_only_when_chosen(app: Flask, world: World) -> None:
    seller = world.staff["Seller"]
    first = _place(app, world)
    (notice,) = _notices(app, seller.id, "order_waiting_approval")
    assert notice.subject == first.number
    assert _mails(app, "order_waiting_approval") == []  # the bell is the default for sellers
    _choose(app, seller.id, "order_waiting_approval", True)
    _place(app, world)
    assert len(_notices(app, seller.id, "order_waiting_approval")) == 2
    assert len(_mails(app, "order_waiting_approval", seller.email)) == 1
    _place(app, world, "b")  # webshop: no approval, nothing for the sellers
    assert len(_notices(app, seller.id, "order_waiting_approval")) == 2


def test_a_customer_request_reaches_the_sellers_past_the_tenancy_guard(app: Flask, world: World) -> None:
    """The customer's own request places the order: the guard hides supplier staff from it, and the
    sellers are told all the same (the customer's session holds no seller afterwards)."""
    from app.tenancy import clear_request_tenant, set_request_tenant

    with app.test_request_context(), db_session(app) as s:
        set_request_tenant(world.a.company.id)
        try:
            assert s.get(PortalUser, world.staff["Seller"].id) is None  # the guard holds
            order = orders.place_order(
                s,
                actor=as_actor(world.a.user, "CustomerUser"),
                company_id=world.a.company.id,
                delivery_address_id=world.a.address.id,
                lines=[orders.LineInput(product_id=world.product.id, quantity=1)],
            )
            s.commit()
            assert not [o for o in s.identity_map.values() if isinstance(o, PortalUser) and o.company_id is None]
        finally:
            clear_request_tenant()
    (notice,) = _notices(app, world.staff["Seller"].id, "order_waiting_approval")
    assert notice.subject == order.number


def test_budget_exceeded_is_fixed_and_goes_out_once_with_a_notice(app: Flask, world: World) -> None:
    with app.app_context(), db_session(app) as s:
        with pytest.raises(ValidationFailed):
            notices.set_mail_choice(s, world.a.admin.id, "budget_exceeded", False)
        for budget in s.scalars(select(Budget)):
            budget.active = False
        budget = Budget(company_id=world.a.company.id, user_id=None, period="month", amount=Decimal("10"))
        s.add(budget)
        s.commit()
    _place(app, world)
    _place(app, world)  # again over: once per budget and period
    (notice,) = _notices(app, world.a.admin.id, "budget_exceeded")
    assert notice.link.startswith("/bruksgrense/oversikt/?periode=month")
    assert len(_mails(app, "budget_exceeded", world.a.admin.email)) == 1


def test_standing_order_made_and_skipped(app: Flask, world: World) -> None:
    monday = oslo_today() + dt.timedelta(days=(0 - oslo_today().weekday()) % 7 or 7)
    with app.app_context(), db_session(app) as s:
        s.get(StandingOrder, world.a.standing_order.id).created_by_id = world.a.admin.id
        s.get(StandingOrder, world.b.standing_order.id).created_by_id = world.b.admin.id
        s.commit()
        summary = so_rules.generate_due(s, monday)
    assert {o.result for o in summary.outcomes} == {"created", "refused"}
    (made,) = _notices(app, world.a.admin.id, "standing_order_made")
    assert made.link == f"/standingorderview/show/{world.a.standing_order.id}"
    assert _mails(app, "standing_order_made") == []  # its mail is the order confirmation
    (skipped,) = _notices(app, world.b.admin.id, "standing_order_skipped")
    assert skipped.link == f"/standingorderview/show/{world.b.standing_order.id}"
    (mail,) = _mails(app, "standing_order_skipped", world.b.admin.email)
    assert "fakturakunder" in mail.body_text
    # The job's dealer order waits for approval: the sellers' bell too.
    assert len(_notices(app, world.staff["Seller"].id, "order_waiting_approval")) == 1
    # A second run makes nothing new and tells nobody about the made order again.
    with app.app_context(), db_session(app) as s:
        so_rules.generate_due(s, monday)
    assert len(_notices(app, world.a.admin.id, "standing_order_made")) == 1


def test_announce_is_ready_for_the_internal_approval(app: Flask, world: World) -> None:
    """The customer-side approval calls the same entry point with its kind."""
    order = _place(app, world)
    with app.app_context(), db_session(app) as s:
        admin = s.get(PortalUser, world.a.admin.id)
        notices.announce(
            s, "internal_approval_waiting", [admin], ref=order.id, subject=order.number, order=s.get(Order, order.id)
        )
        s.commit()
    (notice,) = _notices(app, world.a.admin.id, "internal_approval_waiting")
    assert notice.link == f"/orderview/show/{order.id}"
    assert len(_mails(app, "internal_approval_waiting", world.a.admin.email)) == 1
    with app.app_context(), db_session(app) as s, pytest.raises(ValidationFailed):
        notices.announce(s, "no_such_kind", [], ref=1, subject="x")


# --- reading and marking: own notices only -----------------------------------------------------------


def _give(app: Flask, user_id: int, n: int = 1, kind: str = "order_approved") -> list[int]:
    with db_session(app) as s:
        rows = [Notice(user_id=user_id, kind=kind, subject=f"S{i}", link="/orderview/list/") for i in range(n)]
        s.add_all(rows)
        s.commit()
        return [r.id for r in rows]


def test_mark_read_is_conditional_and_idempotent_and_own_only(app: Flask, world: World) -> None:
    mine = _give(app, world.a.user.id, 3)
    theirs = _give(app, world.a.admin.id, 1)
    with app.app_context(), db_session(app) as s:
        assert notices.mark_read(s, world.a.user.id, mine[0]) is True
        assert notices.mark_read(s, world.a.user.id, mine[0]) is False
        with pytest.raises(NotFound):
            notices.mark_read(s, world.a.user.id, theirs[0])
        with pytest.raises(NotFound):
            notices.open_notice(s, world.a.user.id, theirs[0])
        assert notices.mark_all_read(s, world.a.user.id) == 2
        assert notices.mark_all_read(s, world.a.user.id) == 0
        s.commit()
        assert notices.bell(s, world.a.user.id).unread == 0
        assert notices.bell(s, world.a.admin.id).unread == 1  # the colleague's stays unread


def test_bell_opens_the_notice_marks_it_read_and_lands_on_the_row(app: Flask, world: World) -> None:
    order = _place(app, world)
    _approve(app, world, order.id)
    client = client_as(app, world.a.user.username)
    page = text_of(client.get("/orderview/list/"))
    assert re.search(r'class="badge notice-count"[^>]*>1<', page)
    (notice,) = _notices(app, world.a.user.id)
    assert f"/varsler/{notice.id}" in page and f"Ordre {order.number} er godkjent" in page
    opened = client.get(f"/varsler/{notice.id}")
    assert opened.status_code == 302 and opened.headers["Location"].endswith(f"/orderview/show/{order.id}")
    assert "notice-count" not in text_of(client.get("/orderview/list/"))
    # Another user's notice: 404, and it stays unread.
    other = _give(app, world.b.user.id)[0]
    assert client.get(f"/varsler/{other}").status_code == 404
    assert client.post(f"/varsler/{other}/lest").status_code == 404
    assert _notices(app, world.b.user.id)[0].read_at is None


def test_the_list_shows_only_own_notices_in_keyset_pages(app: Flask, world: World) -> None:
    _give(app, world.a.user.id, notices.PAGE_SIZE + 5)
    _give(app, world.b.user.id, 1, kind="inquiry_answered")
    client = client_as(app, world.a.user.username)
    first = text_of(client.get("/varsler/"))
    assert first.count('<tr class="notice-unread"') == notices.PAGE_SIZE
    assert "henvendelsen" not in first  # B's notice is not there
    assert "notices-older" in first
    with db_session(app) as s:
        page = notices.page(s, world.a.user.id)
        assert page.next_before is not None
        second = notices.page(s, world.a.user.id, before=page.next_before)
    assert len(second.rows) == 5 and second.next_before is None
    assert text_of(client.get(f"/varsler/?eldre={page.next_before}")).count('<tr class="notice-unread"') == 5
    assert client.post("/varsler/alle-lest").status_code == 302
    with db_session(app) as s:
        assert notices.bell(s, world.a.user.id).unread == 0


def test_api_lists_and_marks_own_notices_only(app: Flask, world: World) -> None:
    _give(app, world.a.user.id, 2)
    theirs = _give(app, world.staff["Seller"].id, 1)[0]
    customer = Caller(app, world.a.user.username)
    body = customer.get("/api/v1/notice/").json
    assert body["unread"] == 2 and len(body["result"]) == 2
    assert all(n["link"] == "/orderview/list/" and n["read"] is False for n in body["result"])
    assert customer.post(f"/api/v1/notice/{theirs}/read").status_code == 404
    mine = body["result"][0]["id"]
    assert customer.post(f"/api/v1/notice/{mine}/read").json == {"changed": True}
    assert customer.post(f"/api/v1/notice/{mine}/read").json == {"changed": False}
    assert customer.post("/api/v1/notice/read_all").json == {"changed": 1}
    assert customer.get("/api/v1/notice/").json["unread"] == 0
    # Supplier staff too read only their own.
    staff = Caller(app, "admin")
    assert staff.get("/api/v1/notice/").json["result"] == []
    assert staff.post(f"/api/v1/notice/{theirs}/read").status_code == 404
    assert customer.get("/api/v1/notice/?page_size=0").status_code == 400
    assert "before" in customer.get("/api/v1/notice/?before=x").json["message"]


def test_api_mail_choices(app: Flask, world: World) -> None:
    caller = Caller(app, world.a.user.username)
    choices = {c["kind"]: c for c in caller.get("/api/v1/notice/mail_choices").json["result"]}
    assert choices["order_shipped"] == {
        "kind": "order_shipped",
        "label": "Ordre sendt",
        "enabled": True,
        "fixed": False,
    }
    assert choices["password_link"]["fixed"] is True and "budget_exceeded" not in choices  # admins only
    changed = caller.put("/api/v1/notice/mail_choices", {"order_shipped": False})
    assert {c["kind"]: c["enabled"] for c in changed.json["result"]}["order_shipped"] is False
    assert "password_link" in caller.put("/api/v1/notice/mail_choices", {"password_link": False}).json["message"]
    assert "order_shipped" in caller.put("/api/v1/notice/mail_choices", {"order_shipped": "nei"}).json["message"]
    assert "budget_exceeded" in caller.put("/api/v1/notice/mail_choices", {"budget_exceeded": True}).json["message"]
    with db_session(app) as s:
        assert s.scalar(select(func.count()).select_from(MailChoice).where(MailChoice.user_id == world.a.user.id)) == 1


def test_min_profil_turns_mail_off_and_shows_the_fixed_ones(app: Flask, world: World) -> None:
    client = client_as(app, world.a.admin.username)
    page = text_of(client.get("/min-profil/"))
    assert "E-post ved varsler" in page and "alltid på e-post" in page
    assert 'name="mail_budget_exceeded"' in page and "disabled" in page.split('name="mail_budget_exceeded"')[1][:200]
    # Everything ticked but "Ordre sendt".
    form = {f"mail_{k.code}": "y" for k in notices.KINDS.values() if k.code != "order_shipped"}
    with client.session_transaction() as sess:
        sess.pop("_flashes", None)
    assert client.post("/min-profil/varsler", data=form).status_code == 302
    assert ("success", "Valgene for e-post er lagret.") in flashes(client)
    with db_session(app) as s:
        assert notices.mail_wanted(s, "order_shipped", [world.a.admin.id]) == set()
        assert notices.mail_wanted(s, "order_approved", [world.a.admin.id]) == {world.a.admin.id}
        assert notices.mail_wanted(s, "budget_exceeded", [world.a.admin.id]) == {world.a.admin.id}


# --- the bell's cost ---------------------------------------------------------------------------------


def test_bell_is_one_bounded_statement(app: Flask, world: World) -> None:
    _give(app, world.a.user.id, 3)
    with app.app_context(), db_session(app) as s, StatementCounter(db_engine(app)) as counter:
        bell = notices.bell(s, world.a.user.id)
    assert bell.unread == 3 and len(bell.latest) == 3
    (sql,) = counter.statements
    # Both parts carry their bound: the latest N, and the unread count over at most UNREAD_BOUND rows.
    assert sql.upper().count("LIMIT") == 2, sql
    assert "count(" in sql.lower() and "read_at IS NULL" in sql
    # A user without notices: the same one statement, and 0.
    with app.app_context(), db_session(app) as s, StatementCounter(db_engine(app)) as counter:
        assert notices.bell(s, world.b.user.id) == notices.Bell(0, [])
    assert counter.count == 1


def test_every_page_pays_the_bell_once(app: Flask, world: World) -> None:
    _give(app, world.a.user.id, 2)
    client = client_as(app, world.a.user.username)
    client.get("/orderview/list/")
    with StatementCounter(db_engine(app)) as counter:
        assert client.get("/orderview/list/").status_code == 200
    assert len([s for s in counter.statements if "FROM notices" in s]) == 1


def _many_notices(app: Flask, user_id: int, n: int) -> None:
    """n notices for one user (a tenth unread), in one INSERT ... SELECT-like bulk."""
    now = utcnow()
    rows = [
        {
            "user_id": user_id,
            "kind": "order_shipped",
            "subject": f"{100000 + i}",
            "link": "/orderview/list/",
            "created_at": now,
            "read_at": None if i % 10 == 0 else now,
        }
        for i in range(n)
    ]
    with db_engine(app).begin() as conn:
        for start in range(0, n, 10_000):
            conn.execute(insert(Notice), rows[start : start + 10_000])


def test_bell_with_100_000_notices_is_fast_and_bounded(app: Flask, world: World) -> None:
    _many_notices(app, world.a.user.id, 100_000)
    _give(app, world.a.admin.id, 1)
    with db_session(app) as s:
        notices.bell(s, world.a.user.id)  # warm
        timings = []
        for _ in range(5):
            started = time.perf_counter()
            bell = notices.bell(s, world.a.user.id)
            timings.append(time.perf_counter() - started)
        assert bell.unread == notices.UNREAD_BOUND and bell.unread_text == "99+"
        assert len(bell.latest) == notices.BELL_LATEST
        deep = notices.page(s, world.a.user.id, before=bell.latest[-1].id - 90_000)
        assert len(deep.rows) == notices.PAGE_SIZE
        assert notices.bell(s, world.a.admin.id).unread == 1
    # 20 ms is the aim on an idle machine (README: measured on PostgreSQL); the shared test machine gets room.
    assert min(timings) < 0.1, timings
    client = client_as(app, world.a.user.username)
    client.get("/varsler/")
    with StatementCounter(db_engine(app)) as counter:
        page = client.get("/varsler/")
    assert page.status_code == 200 and re.search(r'class="badge notice-count"[^>]*>99\+<', text_of(page))
    assert len([s for s in counter.statements if "FROM notices" in s]) == 2  # the bell and the page


@pytest.mark.postgres
def test_postgres_reads_the_bell_from_the_indexes(app: Flask, world: World) -> None:
    """On PostgreSQL, with many users' notices in the table, the planner reads the user's indexes
    (the unread count from the partial index), never the whole table: a plan check, not a timing."""
    assert is_postgres(app)
    with db_session(app) as s:
        others = [
            PortalUser(
                first_name="V",
                last_name=str(i),
                username=f"varsel{i}",
                email=f"varsel{i}@example.no",
                active=True,
                password="x",
            )
            for i in range(40)
        ]
        s.add_all(others)
        s.commit()
        other_ids = [u.id for u in others]
    for uid in other_ids:
        _many_notices(app, uid, 5_000)
    _many_notices(app, world.a.user.id, 20_000)
    with db_engine(app).begin() as conn:
        conn.exec_driver_sql("ANALYZE notices")
        compiled = notices.bell_statement(world.a.user.id, postgres=True).compile(
            conn, compile_kwargs={"literal_binds": True}
        )
        plan = "\n".join(r[0] for r in conn.exec_driver_sql(f"EXPLAIN {compiled}"))
    assert "Seq Scan on notices" not in plan, plan
    # The count from the partial index of unread rows, the latest five from the user's (user_id, id)
    # index (never the primary key walked past other users' newer rows), both under a Limit.
    assert "ix_notices_unread" in plan and "ix_notices_user_id" in plan and plan.count("Limit") == 2, plan
    assert "notices_pkey" not in plan, plan


def test_bell_is_per_user_even_within_a_company(app: Flask, world: World) -> None:
    _give(app, world.a.admin.id, 4)
    with db_session(app) as s:
        assert notices.bell(s, world.a.user.id).unread == 0
        assert notices.bell(s, world.a.admin.id).unread == 4
