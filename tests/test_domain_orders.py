"""Domain rules of orders, approvals, fulfilment and quotes (app/domain), without HTTP."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.domain import approvals, orders, quotes
from app.domain.budgets import period_bounds
from app.domain.errors import AlreadyHandled, Forbidden, NotAllowed, ValidationFailed
from app.domain.formatting import oslo_today
from app.domain.orders import fulfilment
from app.extensions import db
from app.models import MailOutbox, Order, OrderEvent, Quote, Shipment
from tests.helpers import actor

UTC = dt.UTC


@pytest.fixture()
def session(app, world):
    with app.app_context(), Session(db.engine, expire_on_commit=False) as s:
        yield s


def customer(world, company="a"):
    t = getattr(world, company)
    return actor(t.user, "CustomerUser")


def seller(world):
    return actor(world.staff["Seller"], "Seller")


def cs(world):
    return actor(world.staff["CustomerService"], "CustomerService")


def place(session, world, company="a", **kw):
    t = getattr(world, company)
    lines = kw.pop("lines", [orders.LineInput(product_id=world.product.id, quantity=3)])
    order = orders.place_order(
        session,
        actor=customer(world, company),
        company_id=t.company.id,
        delivery_address_id=kw.pop("address", t.address.id),
        lines=lines,
        **kw,
    )
    session.commit()
    return order


def count(session, model):
    return session.scalar(select(func.count()).select_from(model))


# --- placing ---------------------------------------------------------------------------------


def test_dealer_order_waits_for_approval_with_totals_event_and_mail(session, world):
    mails = count(session, MailOutbox)
    order = place(session, world)
    assert order.status == "pending_approval"
    assert order.total_ex_vat == Decimal("1500.00") and order.total_vat == Decimal("375.00")
    assert order.number and not order.number.startswith("tmp")
    assert [e.to_status for e in session.scalars(select(OrderEvent).where(OrderEvent.order_id == order.id))] == [
        "pending_approval"
    ]
    assert count(session, MailOutbox) == mails + 1
    mail = session.scalars(select(MailOutbox).order_by(MailOutbox.id.desc())).first()
    assert mail.subject == f"Ordrebekreftelse {order.number}" and "Til godkjenning" in mail.body_text
    assert f"/orderview/show/{order.id}" in mail.body_text


def test_webshop_order_starts_processing(session, world):
    assert place(session, world, "b").status == "processing"


def test_configuration_checked_per_field_and_nothing_written(session, world):
    before = count(session, Order)
    bad = orders.LineInput(
        product_id=world.configurable.id, quantity=1, width=300, depth=90, fabric="Skinn", colour="Eik"
    )
    with pytest.raises(ValidationFailed) as exc:
        place(session, world, lines=[bad])
    session.rollback()
    assert exc.value.errors["lines[0].width"] == "Bredde må være mellom 80 og 240 cm"
    assert "lines[0].fabric" in exc.value.errors and "lines[0].depth" not in exc.value.errors
    assert count(session, Order) == before


@pytest.mark.parametrize(
    "line,field",
    [
        (dict(product_id=999999, quantity=1), "lines[0].product_id"),
        (dict(quantity=0), "lines[0].quantity"),
        (dict(quantity=-2), "lines[0].quantity"),
    ],
)
def test_bad_lines_are_refused(session, world, line, field):
    line.setdefault("product_id", world.product.id)
    with pytest.raises(ValidationFailed) as exc:
        place(session, world, lines=[orders.LineInput(**line)])
    assert field in exc.value.errors


def test_foreign_delivery_address_is_refused(session, world):
    with pytest.raises(ValidationFailed) as exc:
        place(session, world, address=world.b.address.id)
    assert "delivery_address_id" in exc.value.errors


# --- cancelling ------------------------------------------------------------------------------


def _at(order, session, when):
    order.created_at = when
    session.commit()


def test_customer_cancels_same_oslo_day_but_not_after_midnight(session, world):
    order = place(session, world)
    # 22:30 UTC on 24 Nov is 23:30 in Oslo; 23:10 UTC is already 00:10 on 25 Nov in Oslo.
    _at(order, session, dt.datetime(2026, 11, 24, 22, 30, tzinfo=UTC))
    with pytest.raises(NotAllowed) as exc:
        orders.cancel_order(session, order.id, customer(world), now=dt.datetime(2026, 11, 24, 23, 10, tzinfo=UTC))
    assert "samme dag" in exc.value.message
    session.rollback()
    orders.cancel_order(session, order.id, customer(world), now=dt.datetime(2026, 11, 24, 22, 55, tzinfo=UTC))
    session.commit()
    assert session.get(Order, order.id).status == "cancelled"


def test_no_cancel_once_a_shipment_exists_even_for_customer_service(session, world):
    order = place(session, world, "b")
    session.add(Shipment(order_id=order.id, company_id=order.company_id, carrier="own"))
    session.commit()
    for who in (customer(world, "b"), cs(world)):
        with pytest.raises(NotAllowed):
            orders.cancel_order(session, order.id, who)
        session.rollback()


def test_customer_service_cancels_any_unshipped_order_on_a_later_day(session, world):
    order = place(session, world, "b")
    _at(order, session, dt.datetime(2026, 1, 2, 9, 0, tzinfo=UTC))
    with pytest.raises(NotAllowed):
        orders.cancel_order(session, order.id, customer(world, "b"))
    session.rollback()
    orders.cancel_order(session, order.id, cs(world), reason="Kunden ringte")
    session.commit()
    assert session.get(Order, order.id).status == "cancelled"


# --- approvals -------------------------------------------------------------------------------


def test_approve_records_history_and_mails_creator_exactly_once(session, world):
    order = place(session, world)
    approvals.approve_order(session, order.id, seller(world))
    session.commit()
    assert session.get(Order, order.id).status == "processing"
    events = session.scalars(select(OrderEvent).where(OrderEvent.order_id == order.id).order_by(OrderEvent.id)).all()
    assert [(e.from_status, e.to_status) for e in events] == [
        (None, "pending_approval"),
        ("pending_approval", "processing"),
    ]
    assert (
        session.scalars(select(MailOutbox).where(MailOutbox.kind == "order_approved")).one().to_address
        == world.a.user.email
    )
    with pytest.raises(AlreadyHandled):
        approvals.approve_order(session, order.id, seller(world))


def test_only_sellers_approve_and_reject_needs_reason(session, world):
    order = place(session, world)
    with pytest.raises(Forbidden):
        approvals.approve_order(session, order.id, cs(world))
    with pytest.raises(ValidationFailed) as exc:
        approvals.reject_order(session, order.id, seller(world), "  ")
    assert "reason" in exc.value.errors
    approvals.reject_order(session, order.id, seller(world), "Utenfor kredittgrensen")
    session.commit()
    order = session.get(Order, order.id)
    assert order.status == "rejected"
    assert order.events[-1].reason == "Utenfor kredittgrensen"


def test_unproducible_order_cannot_be_approved(session, world):
    order = place(
        session,
        world,
        lines=[
            orders.LineInput(
                product_id=world.configurable.id, quantity=1, width=100, depth=90, fabric="Lin natur", colour="Eik"
            )
        ],
    )
    # The catalogue changes after the order was placed: 100 cm is no longer made.
    world_product = session.get(type(world.configurable), world.configurable.id)
    world_product.min_width = 120
    session.commit()
    check = approvals.producibility(session, [order.id])[order.id]
    assert not check.ok and "Bredde må være mellom 120 og 240 cm" in check.problems[0]
    with pytest.raises(NotAllowed):
        approvals.approve_order(session, order.id, seller(world))


def test_credit_exposure_counts_open_orders_and_unpaid_invoices_once(session, world):
    # World A: one processing order 1 250,00 incl. VAT, invoiced 1 250,00 unpaid (order still open).
    order = place(session, world)  # 1 875,00 incl. VAT, pending
    check = approvals.credit(session, [order])[order.id]
    assert check.limit == Decimal("200000.00")
    assert check.this_order == Decimal("1875.00")
    assert check.exposure == Decimal("1250.00")  # the open order; its invoice is not counted twice
    assert check.headroom == Decimal("200000.00") - Decimal("1250.00") - Decimal("1875.00")
    world_order = session.get(Order, world.a.order.id)
    world_order.status = "invoiced"
    session.commit()
    assert approvals.credit(session, [order])[order.id].exposure == Decimal("1250.00")  # now via the unpaid invoice


def test_queue_is_oldest_first_with_checks(session, world):
    first = place(session, world)
    second = place(session, world)
    _at(first, session, dt.datetime(2026, 1, 1, tzinfo=UTC))
    rows, total = approvals.approval_queue(session)
    assert total == 2 and [r.order.id for r in rows] == [first.id, second.id]
    assert rows[0].producibility.ok and not rows[0].credit.over


def test_approve_several_reports_each(session, world):
    a1, a2 = place(session, world), place(session, world)
    approvals.approve_order(session, a2.id, seller(world))
    session.commit()
    approved, refused = approvals.approve_orders(session, [a1.id, a2.id], seller(world))
    session.commit()
    assert [o.id for o in approved] == [a1.id] and a2.id in refused


@pytest.mark.postgres
def test_parallel_approvals_exactly_one_wins(app, world):
    for _ in range(10):
        with app.app_context(), Session(db.engine, expire_on_commit=False) as s:
            order = place(s, world)
        barrier = threading.Barrier(2)
        results: list[str] = []

        # Bound now: the threads run within this round, but a closure would read whatever the loop holds.
        def approve(barrier: threading.Barrier = barrier, order: Order = order, results: list[str] = results) -> None:
            with app.app_context(), Session(db.engine) as s:
                barrier.wait()
                try:
                    approvals.approve_order(s, order.id, seller(world))
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
        with app.app_context(), Session(db.engine) as s:
            assert (
                s.scalar(
                    select(func.count())
                    .select_from(OrderEvent)
                    .where(OrderEvent.order_id == order.id, OrderEvent.to_status == "processing")
                )
                == 1
            )
            assert (
                s.scalar(
                    select(func.count())
                    .select_from(MailOutbox)
                    .where(MailOutbox.kind == "order_approved", MailOutbox.body_text.contains(order.number))
                )
                == 1
            )


# --- fulfilment ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "lines,invoiced,total,current,expected",
    [
        ([(2, 0)], 0, 100, "processing", "processing"),
        ([(2, 1)], 0, 100, "processing", "partially_delivered"),
        ([(2, 2), (1, 0)], 0, 100, "processing", "partially_delivered"),
        ([(2, 2), (1, 1)], 0, 100, "partially_delivered", "shipped"),
        ([(2, 2)], 100, 100, "shipped", "invoiced"),
        ([(2, 2)], 50, 100, "shipped", "shipped"),
        ([(2, 0)], 0, 100, "cancelled", "cancelled"),
    ],
)
def test_status_derivation(lines, invoiced, total, current, expected):
    assert fulfilment.derive_status(lines, Decimal(invoiced), Decimal(total), current) == expected


def test_shipments_and_invoice_move_the_order(session, world):
    order = place(session, world, "b", lines=[orders.LineInput(product_id=world.product.id, quantity=3)])
    line = order.lines[0]
    with pytest.raises(ValidationFailed):
        fulfilment.register_shipment(
            session, order.id, cs(world), carrier="schenker", waybill_number="", quantities={line.id: 1}
        )
    with pytest.raises(ValidationFailed):
        fulfilment.register_shipment(
            session, order.id, cs(world), carrier="schenker", waybill_number="S1", quantities={line.id: 4}
        )
    session.rollback()
    fulfilment.register_shipment(
        session, order.id, cs(world), carrier="schenker", waybill_number="S1", quantities={line.id: 1}
    )
    session.commit()
    assert session.get(Order, order.id).status == "partially_delivered"
    fulfilment.register_shipment(
        session, order.id, cs(world), carrier="collicare", waybill_number="C2", quantities={line.id: 2}
    )
    session.commit()
    order = session.get(Order, order.id)
    assert order.status == "shipped" and order.lines[0].status == "delivered"
    fulfilment.register_invoice(
        session, order.id, cs(world), number="F-9001", invoice_date=dt.date(2026, 11, 24), due_date=dt.date(2026, 12, 8)
    )
    session.commit()
    order = session.get(Order, order.id)
    assert order.status == "invoiced"
    assert [e.to_status for e in order.events][-3:] == ["partially_delivered", "shipped", "invoiced"]


# --- quotes ----------------------------------------------------------------------------------


def test_quote_converts_with_frozen_prices_and_links_both_ways(session, world):
    q = quotes.create_quote(
        session,
        actor=seller(world),
        company_id=world.a.company.id,
        valid_until=dt.date.today() + dt.timedelta(days=10),
        lines=[orders.LineInput(product_id=world.product.id, quantity=2, unit_price=Decimal("450.00"))],
        end_customer_ref="Kari Nordmann",
        delivery_address_id=world.a.address.id,
    )
    session.commit()
    product = session.get(type(world.product), world.product.id)
    product.unit_price = Decimal("999.00")  # a later price change must not touch the quote
    session.commit()
    order = quotes.convert_quote(session, q.id, customer(world))
    session.commit()
    assert order.channel == "quote" and order.quote_id == q.id
    assert session.get(Quote, q.id).order.id == order.id and session.get(Quote, q.id).status == "accepted"
    assert order.lines[0].unit_price == Decimal("450.00") and order.total_ex_vat == Decimal("900.00")
    with pytest.raises(NotAllowed):
        quotes.convert_quote(session, q.id, customer(world))


def test_expired_quote_cannot_be_converted(session, world):
    q = session.get(Quote, world.a.quote.id)
    q.valid_until = dt.date(2020, 1, 1)
    session.commit()
    assert quotes.effective_status(q) == "expired"
    with pytest.raises(NotAllowed) as exc:
        quotes.convert_quote(session, q.id, customer(world))
    assert "gikk ut" in exc.value.message


def test_dealer_cannot_set_own_price(session, world):
    q = quotes.create_quote(
        session,
        actor=customer(world),
        company_id=world.a.company.id,
        valid_until=oslo_today(),
        lines=[orders.LineInput(product_id=world.product.id, quantity=1, unit_price=Decimal("1.00"))],
    )
    assert q.lines[0].unit_price == world.product.unit_price


# --- budget periods --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "period,day,start,end",
    [
        ("month", dt.date(2026, 1, 31), dt.date(2026, 1, 1), dt.date(2026, 2, 1)),
        ("month", dt.date(2026, 12, 31), dt.date(2026, 12, 1), dt.date(2027, 1, 1)),
        ("month", dt.date(2028, 2, 29), dt.date(2028, 2, 1), dt.date(2028, 3, 1)),
        ("quarter", dt.date(2026, 3, 31), dt.date(2026, 1, 1), dt.date(2026, 4, 1)),
        ("quarter", dt.date(2026, 11, 24), dt.date(2026, 10, 1), dt.date(2027, 1, 1)),
        ("year", dt.date(2026, 6, 15), dt.date(2026, 1, 1), dt.date(2027, 1, 1)),
    ],
)
def test_budget_period_bounds(period, day, start, end):
    assert period_bounds(period, day) == (start, end)


# --- invoice copy ----------------------------------------------------------------------------


def test_invoice_pdf_has_lines_vat_and_totals_that_add_up(session, world, app):
    import io

    from pypdf import PdfReader

    from app.domain.orders.invoice_pdf import render_invoice_pdf, supplier_from_config
    from app.models import Invoice

    invoice = session.get(Invoice, world.a.invoice.id)
    pdf = render_invoice_pdf(invoice, supplier_from_config(app.config))
    assert pdf.startswith(b"%PDF")
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    flat = text.replace("\u00a0", " ")
    assert f"Fakturakopi {invoice.number}" in flat and "Hansen AS" in flat and "10001" in flat
    assert "STOL-1 Kontorstol Basic" in flat
    assert "1 000,00 kr" in flat and "250,00 kr" in flat and "1 250,00 kr" in flat
