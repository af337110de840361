"""Approvals that cannot slip through (app/domain/approvals.py): an order that fails the credit or
the producibility check is approved only with an explicit override and a reason, on the page
("Godkjenn likevel"), never by "Godkjenn valgte", and through the API only with `override_reason`
(409 naming the failed check otherwise). The checks as they stood and the reason go into the
order's timeline and the audit log."""

from __future__ import annotations

import datetime as dt
import itertools
import re
import threading
from decimal import Decimal

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.domain import approvals, audit
from app.domain.errors import AlreadyHandled, ValidationFailed
from app.extensions import db
from app.models import AuditEntry, Company, Order, OrderEvent, OrderLine
from tests.factories import World
from tests.helpers import Caller, actor, client_as, db_session, flashes, load, text_of

API = "/api/v1"
_seq = itertools.count(1)


def _pending(app: Flask, world: World, *, total: str = "1000.00", unproducible: bool = False, tenant: str = "a") -> int:
    """A pending order of company A (or B; both have a credit limit of 200 000 kr) with `total` ex.
    VAT (+25 % VAT). A pending order counts in its company's exposure: one over the limit puts
    every other order of the company over it too."""
    total_ex = Decimal(total)
    t = getattr(world, tenant)
    with db_session(app) as s:
        order = Order(
            company_id=t.company.id,
            number=f"OV{next(_seq):04d}",
            channel="webshop",
            status="pending_approval",
            delivery_address_id=t.address.id,
            created_by_id=t.user.id,
            created_at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1),
            total_ex_vat=total_ex,
            total_vat=(total_ex * Decimal("0.25")).quantize(Decimal("0.01")),
        )
        order.lines.append(
            OrderLine(company_id=t.company.id, line_no=1, product_id=world.product.id, quantity=1, unit_price=total_ex)
        )
        if unproducible:  # width 300 is outside the sofa's 80-240 cm
            order.lines.append(
                OrderLine(
                    company_id=t.company.id,
                    line_no=2,
                    product_id=world.configurable.id,
                    quantity=1,
                    unit_price=Decimal("0.00"),
                    width=300,
                    depth=90,
                    fabric="Ull grå",
                    colour="Eik",
                )
            )
        s.add(order)
        s.commit()
        return order.id


# The case: 261 750 kr incl. VAT over a 200 000 kr limit.
OVER_LIMIT = "209400.00"


def _status(app: Flask, order_id: int) -> str:
    return load(app, Order, order_id).status


def _events(app: Flask, order_id: int) -> list[OrderEvent]:
    with db_session(app) as s:
        return list(s.scalars(select(OrderEvent).where(OrderEvent.order_id == order_id).order_by(OrderEvent.id)))


def _entries(app: Flask, action: str, target_id: int | None = None) -> list[AuditEntry]:
    stmt = select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
    if target_id is not None:
        stmt = stmt.where(AuditEntry.target_id == str(target_id))
    with db_session(app) as s:
        return list(s.scalars(stmt))


@pytest.fixture()
def session(app: Flask, world: World):
    with app.app_context(), Session(db.engine, expire_on_commit=False) as s:
        yield s


def seller(world: World):
    return actor(world.staff["Seller"], "Seller")


# --- the domain ----------------------------------------------------------------------------------


def test_over_the_credit_limit_needs_an_override_reason(app: Flask, world: World, session: Session) -> None:
    order_id = _pending(app, world, total=OVER_LIMIT)
    with pytest.raises(approvals.NeedsOverride) as refused:
        approvals.approve_order(session, order_id, seller(world))
    session.rollback()
    assert refused.value.failed == ["credit"]
    assert "kredittgrensen" in refused.value.message and "261" in refused.value.message
    assert _status(app, order_id) == "pending_approval" and _events(app, order_id) == []
    assert _entries(app, audit.ORDER_APPROVED) == []
    # A blank reason is no reason.
    with pytest.raises(approvals.NeedsOverride):
        approvals.approve_order(session, order_id, seller(world), override_reason="   ")
    session.rollback()

    approvals.approve_order(session, order_id, seller(world), override_reason="Kunden betaler forskudd")
    session.commit()
    assert _status(app, order_id) == "processing"
    (event,) = _events(app, order_id)
    assert (event.from_status, event.to_status) == ("pending_approval", "processing")
    # The checks as they stood, and the reason, in the timeline (bokmål).
    assert "overstyring" in event.reason and "Kunden betaler forskudd" in event.reason
    assert "Kreditt: over grensen" in event.reason and "Produserbarhet: OK" in event.reason
    assert re.search(r"grense 200\s000,00\xa0kr", event.reason), event.reason
    (entry,) = _entries(app, audit.ORDER_APPROVED, order_id)
    assert (entry.actor_id, entry.company_id, entry.outcome) == (world.staff["Seller"].id, world.a.company.id, "ok")
    assert entry.details["override"] is True and entry.details["failed_checks"] == ["credit"]
    assert entry.details["override_reason"] == "Kunden betaler forskudd"
    credit = entry.details["checks"]["credit"]
    assert credit["ok"] is False and credit["limit"] == "200000.00" and credit["this_order"] == "261750.00"
    assert Decimal(credit["headroom"]) < 0


def test_unproducible_and_both_checks_fail(app: Flask, world: World, session: Session) -> None:
    bad = _pending(app, world, unproducible=True)
    with pytest.raises(approvals.NeedsOverride) as refused:
        approvals.approve_order(session, bad, seller(world))
    session.rollback()
    assert refused.value.failed == ["producibility"] and "Bredde" in refused.value.message
    both = _pending(app, world, total=OVER_LIMIT, unproducible=True, tenant="b")
    with pytest.raises(approvals.NeedsOverride) as refused:
        approvals.approve_order(session, both, seller(world))
    session.rollback()
    assert refused.value.failed == ["producibility", "credit"]

    approvals.approve_order(session, bad, seller(world), override_reason="Fabrikken lager 300 cm som spesial")
    session.commit()
    (entry,) = _entries(app, audit.ORDER_APPROVED, bad)
    assert entry.details["failed_checks"] == ["producibility"]
    assert entry.details["checks"]["producibility"]["problems"]


def test_an_order_that_passes_is_approved_as_before(app: Flask, world: World, session: Session) -> None:
    order_id = _pending(app, world)
    approvals.approve_order(session, order_id, seller(world), override_reason="ikke nødvendig")
    session.commit()
    (event,) = _events(app, order_id)
    assert event.reason == "Godkjent av selger"
    (entry,) = _entries(app, audit.ORDER_APPROVED, order_id)
    assert entry.details["override"] is False and "override_reason" not in entry.details
    assert entry.details["checks"]["credit"]["ok"] is True


def test_override_reason_is_required_and_bounded(app: Flask, world: World, session: Session) -> None:
    order_id = _pending(app, world, total=OVER_LIMIT)
    with pytest.raises(ValidationFailed) as missing:
        approvals.approve_with_override(session, order_id, seller(world), "  ")
    assert "Skriv en begrunnelse" in missing.value.errors["override_reason"]
    with pytest.raises(ValidationFailed) as long:
        approvals.approve_order(session, order_id, seller(world), override_reason="x" * 2001)
    assert "override_reason" in long.value.errors
    session.rollback()
    assert _status(app, order_id) == "pending_approval"


def test_bulk_approval_leaves_failing_orders_out(app: Flask, world: World, session: Session) -> None:
    good, bad = _pending(app, world), _pending(app, world, unproducible=True)
    over = _pending(app, world, total=OVER_LIMIT, tenant="b")
    approved, refused = approvals.approve_orders(session, [good, over, bad], seller(world))
    session.commit()
    assert [o.id for o in approved] == [good]
    assert set(refused) == {over, bad}
    assert "kredittgrensen" in refused[over] and "produseres" in refused[bad]
    assert [_status(app, i) for i in (good, over, bad)] == ["processing", "pending_approval", "pending_approval"]
    assert [e.target_id for e in _entries(app, audit.ORDER_APPROVED)] == [str(good)]


@pytest.mark.postgres
def test_parallel_overrides_exactly_one_wins(app: Flask, world: World) -> None:
    for _ in range(5):
        order_id = _pending(app, world, total=OVER_LIMIT)
        barrier = threading.Barrier(2)
        results: list[str] = []

        def approve(
            barrier: threading.Barrier = barrier, order_id: int = order_id, results: list[str] = results
        ) -> None:
            with app.app_context(), Session(db.engine) as s:
                barrier.wait()
                try:
                    approvals.approve_order(s, order_id, seller(world), override_reason="Forskudd betalt")
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
        assert len(_events(app, order_id)) == 1
        assert len(_entries(app, audit.ORDER_APPROVED, order_id)) == 1


# --- the page ------------------------------------------------------------------------------------


def test_queue_asks_for_the_reason_and_bulk_says_what_it_left_out(app: Flask, world: World) -> None:
    good, over = _pending(app, world), _pending(app, world, total=OVER_LIMIT, tenant="b")
    client = client_as(app, "selger")
    body = text_of(client.get("/godkjenning/"))
    number = load(app, Order, over).number
    row = re.search(rf'<tr data-order="{number}"[^>]*>.*?</tr>', body, re.S).group(0)
    assert f'form="override-{over}"' in row and "Godkjenn likevel" in row
    assert f'id="override-{over}" action="/godkjenning/overstyr/{over}"' in body
    assert f'id="override-{good}"' not in body

    client.post("/godkjenning/godkjenn", data={"order_id": [str(good), str(over)]})
    shown = flashes(client)
    assert any(c == "success" and load(app, Order, good).number in m for c, m in shown), shown
    assert any(c == "warning" and "Ikke godkjent" in m and number in m for c, m in shown), shown
    assert any(c == "danger" and number in m and "kredittgrensen" in m for c, m in shown), shown
    assert (_status(app, good), _status(app, over)) == ("processing", "pending_approval")

    # "Godkjenn likevel" without a reason: the Norwegian message next to the order's field.
    response = client.post(f"/godkjenning/overstyr/{over}", data={"override_reason": " "})
    assert response.status_code == 200
    row = re.search(rf'<tr data-order="{number}"[^>]*>.*?</tr>', text_of(response), re.S).group(0)
    group = re.search(r'<div class="form-group has-error">.*?</div>', row, re.S)
    assert group and "Skriv en begrunnelse for å godkjenne ordren likevel" in group.group(0)
    assert _status(app, over) == "pending_approval"

    response = client.post(f"/godkjenning/overstyr/{over}", data={"override_reason": "Forskudd <betalt>"})
    assert response.status_code == 302
    assert _status(app, over) == "processing"
    # The timeline on the order page shows the checks and the reason (escaped).
    page = text_of(client.get(f"/orderview/show/{over}"))
    assert "overstyring" in page and "Forskudd &lt;betalt&gt;" in page and "Kreditt: over grensen" in page


def test_override_route_refuses_other_roles_and_unknown_orders(app: Flask, world: World) -> None:
    over = _pending(app, world, total=OVER_LIMIT)
    for username in ("leder", "kundeservice", "hansen.admin"):
        response = client_as(app, username).post(f"/godkjenning/overstyr/{over}", data={"override_reason": "ja"})
        assert response.status_code == 403, username
    client = client_as(app, "selger")
    assert client.post("/godkjenning/overstyr/999999", data={"override_reason": "ja"}).status_code == 404
    assert _status(app, over) == "pending_approval"


def test_order_page_approve_of_a_failing_order_says_why(app: Flask, world: World) -> None:
    over = _pending(app, world, total=OVER_LIMIT)
    client = client_as(app, "selger")
    client.post("/godkjenning/godkjenn", data={"order_id": str(over)})
    assert any(c == "danger" and "kredittgrensen" in m for c, m in flashes(client))
    assert _status(app, over) == "pending_approval"


# --- the API -------------------------------------------------------------------------------------


def test_api_answers_409_naming_the_check_unless_override_reason(app: Flask, world: World) -> None:
    over = _pending(app, world, total=OVER_LIMIT)
    seller_api = Caller(app, "selger", prefix=API)
    response = seller_api.post(f"/order/{over}/approve", {})
    assert response.status_code == 409
    assert response.json["failed_checks"] == ["credit"] and "kredittgrensen" in response.json["message"]
    assert seller_api.post(f"/order/{over}/approve").status_code == 409  # no body at all
    response = seller_api.post(f"/order/{over}/approve", {"override_reason": "x" * 2001})
    assert response.status_code == 400 and "override_reason" in response.json["message"]
    assert seller_api.post(f"/order/{over}/approve", {"override_reason": 5}).status_code == 400
    assert _status(app, over) == "pending_approval"

    response = seller_api.post(f"/order/{over}/approve", {"override_reason": "Forskudd betalt"})
    assert response.status_code == 200, response.json
    assert response.json["result"]["status"] == "processing"
    events = response.json["result"]["events"]
    assert "Forskudd betalt" in events[-1]["reason"] and "Kreditt: over grensen" in events[-1]["reason"]
    (entry,) = _entries(app, audit.ORDER_APPROVED, over)
    assert entry.details["override_reason"] == "Forskudd betalt"

    bad = _pending(app, world, unproducible=True, tenant="b")
    response = seller_api.post(f"/order/{bad}/approve", {})
    assert response.status_code == 409 and response.json["failed_checks"] == ["producibility"]


def test_raised_credit_limit_lets_the_order_pass(app: Flask, world: World) -> None:
    over = _pending(app, world, total=OVER_LIMIT)
    with db_session(app) as s:
        s.get(Company, world.a.company.id).credit_limit = Decimal("500000.00")
        s.commit()
    response = Caller(app, "selger", prefix=API).post(f"/order/{over}/approve", {})
    assert response.status_code == 200
    with db_session(app) as s:
        assert s.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "order_approved")) == 1
