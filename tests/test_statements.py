"""Kontoutskrift: the numbers (open, overdue by Oslo days, paid in a period, exposure as the
approval queue reckons it, available credit, exposure at past month ends), tenancy (company B's
invoices never appear; customer users refused; another company's id 404), "Registrer innbetaling"
exactly once, the PDF (user text escaped), CSV/XLSX contents and the start page's "Forfalt".

Rows are written with a plain session outside any request. Runs on SQLite and, with
TEST_DATABASE_URL, on PostgreSQL (the parallel payment test on PostgreSQL only).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import threading
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.domain import audit, statements
from app.domain.approvals import exposure_by_company
from app.domain.errors import AlreadyHandled, Forbidden, NotFound, ValidationFailed
from app.domain.formatting import OSLO, oslo_today
from app.extensions import db
from app.models import AuditEntry, Company, Invoice, Order, OrderEvent, utcnow
from tests.factories import World, billing_for
from tests.helpers import Caller, actor, client_as, db_session, load, text_of

API = "/api/v1/statement/"
_NUMBERS = itertools.count(1)  # short unique order and invoice numbers (20 characters at most)


def _at(y: int, m: int, d: int, hh: int = 12, mm: int = 0) -> dt.datetime:
    """An Oslo wall-clock time as UTC."""
    return dt.datetime(y, m, d, hh, mm, tzinfo=OSLO).astimezone(dt.UTC)


def _order(
    s: Session,
    company_id: int,
    created: dt.datetime,
    total: str,
    status: str = "processing",
    closed: dt.datetime | None = None,
) -> Order:
    """An order with its history: placed at `created`, moved to `status` at `closed` (if not open)."""
    amount = Decimal(total)
    order = Order(
        company_id=company_id,
        number=f"S{next(_NUMBERS)}",
        channel="webshop",
        status=status,
        created_at=created,
        total_ex_vat=(amount / Decimal("1.25")).quantize(Decimal("0.01")),
        total_vat=amount - (amount / Decimal("1.25")).quantize(Decimal("0.01")),
    )
    s.add(order)
    s.flush()
    s.add(OrderEvent(company_id=company_id, order_id=order.id, from_status=None, to_status="processing", at=created))
    if closed is not None:
        s.add(
            OrderEvent(company_id=company_id, order_id=order.id, from_status="processing", to_status=status, at=closed)
        )
    return order


def _invoice(
    s: Session,
    order: Order,
    invoice_date: dt.date,
    due_date: dt.date,
    amount: str | None = None,
    paid_at: dt.datetime | None = None,
    number: str | None = None,
) -> Invoice:
    invoice = Invoice(
        company_id=order.company_id,
        order_id=order.id,
        number=number or f"F{order.number}-{next(_NUMBERS)}",
        invoice_date=invoice_date,
        due_date=due_date,
        amount=Decimal(amount) if amount is not None else order.total_ex_vat + order.total_vat,
        paid=paid_at is not None,
        paid_at=paid_at,
        **billing_for(s, order.company_id),
    )
    s.add(invoice)
    s.flush()
    return invoice


def _cs(world: World) -> Any:
    return actor(world.staff["CustomerService"], "CustomerService")


# --- the numbers ----------------------------------------------------------------------------------


def test_days_overdue_count_oslo_days() -> None:
    due = dt.date(2026, 3, 10)
    assert statements.days_overdue(due, dt.date(2026, 3, 10)) == 0
    assert statements.days_overdue(due, dt.date(2026, 3, 11)) == 1
    assert statements.days_overdue(due, dt.date(2026, 3, 1)) == 0
    # 23:30 UTC on the 10th is already the 11th in Oslo: one day overdue, not none.
    late = dt.datetime(2026, 3, 10, 23, 30, tzinfo=dt.UTC)
    assert statements.days_overdue(due, oslo_today(late)) == 1


def test_open_overdue_paid_and_credit(app: Flask, world: World) -> None:
    now = utcnow()
    today = oslo_today(now)
    a, b = world.a.company.id, world.b.company.id
    with db_session(app) as s:
        old = _order(s, a, now - dt.timedelta(days=60), "1000.00", "invoiced", now - dt.timedelta(days=40))
        overdue = _invoice(s, old, today - dt.timedelta(days=40), today - dt.timedelta(days=10), "400.00")
        due_today = _invoice(s, old, today - dt.timedelta(days=30), today, "300.00")
        paid_recently = _invoice(
            s,
            old,
            today - dt.timedelta(days=40),
            today - dt.timedelta(days=5),
            "200.00",
            paid_at=now - dt.timedelta(days=3),
        )
        paid_long_ago = _invoice(
            s,
            old,
            today - dt.timedelta(days=150),
            today - dt.timedelta(days=120),
            "100.00",
            paid_at=now - dt.timedelta(days=120),
        )
        b_order = _order(s, b, now - dt.timedelta(days=60), "999.00", "invoiced", now - dt.timedelta(days=50))
        b_invoice = _invoice(
            s, b_order, today - dt.timedelta(days=50), today - dt.timedelta(days=20), number="F-BERG-99"
        )
        s.commit()
        company = s.get(Company, a)
        assert company is not None
        st = statements.statement(s, company, today=today, now=now)
        exposure = exposure_by_company(s, [a])[a]

    numbers = [line.number for line in st.open_lines]
    # Oldest due first; the world's own invoice (due in 14 days) is open too; B's never here.
    assert numbers == [overdue.number, due_today.number, world.a.invoice.number]
    assert b_invoice.number not in numbers + [line.number for line in st.paid_lines]
    lines = {line.number: line for line in st.open_lines}
    assert lines[overdue.number].days_overdue == 10 and lines[overdue.number].overdue
    assert lines[due_today.number].days_overdue == 0 and not lines[due_today.number].overdue
    assert st.open == statements.Totals(3, Decimal("1950.00"))  # 400 + 300 + 1250
    assert st.overdue == statements.Totals(1, Decimal("400.00"))
    # Paid in the default period (the last 90 days): only the recent one.
    assert [line.number for line in st.paid_lines] == [paid_recently.number]
    assert st.paid == statements.Totals(1, Decimal("200.00"))
    # Credit: the approval queue's exposure, called; available = limit - exposure.
    assert st.exposure == exposure
    assert st.credit_limit == Decimal("200000.00")
    assert st.available_credit == Decimal("200000.00") - exposure
    # The open order (1250) + the unpaid invoices of the closed order (400 + 300) + none of the paid ones.
    assert exposure == Decimal("1950.00")
    # A chosen period reaches the old payment.
    with db_session(app) as s:
        company = s.get(Company, a)
        assert company is not None
        st = statements.statement(s, company, start=today - dt.timedelta(days=200), end=today, today=today, now=now)
    assert [line.number for line in st.paid_lines] == [paid_recently.number, paid_long_ago.number]
    assert st.paid == statements.Totals(2, Decimal("300.00"))


def test_paid_period_is_in_oslo_days(app: Flask, world: World) -> None:
    a = world.a.company.id
    with db_session(app) as s:
        order = _order(s, a, _at(2026, 1, 2), "500.00", "invoiced", _at(2026, 1, 3))
        # 00:30 on 1 March in Oslo is still February in UTC.
        march = _invoice(s, order, dt.date(2026, 1, 3), dt.date(2026, 2, 3), "500.00", paid_at=_at(2026, 3, 1, 0, 30))
        s.commit()
        company = s.get(Company, a)
        assert company is not None
        feb = statements.statement(
            s, company, start=dt.date(2026, 2, 1), end=dt.date(2026, 2, 28), today=dt.date(2026, 3, 5)
        )
        mar = statements.statement(
            s, company, start=dt.date(2026, 3, 1), end=dt.date(2026, 3, 31), today=dt.date(2026, 3, 5)
        )
    assert feb.paid_lines == []
    assert [line.number for line in mar.paid_lines] == [march.number]


def test_exposure_now_equals_exposure_by_company(app: Flask, world: World) -> None:
    """The history's rule at this instant is exactly the approval queue's."""
    now = utcnow()
    today = oslo_today(now)
    a = world.a.company.id
    with db_session(app) as s:
        closed = _order(s, a, now - dt.timedelta(days=50), "800.00", "invoiced", now - dt.timedelta(days=30))
        _invoice(s, closed, today - dt.timedelta(days=30), today, "800.00")
        paid = _order(s, a, now - dt.timedelta(days=70), "300.00", "invoiced", now - dt.timedelta(days=60))
        _invoice(
            s, paid, today - dt.timedelta(days=60), today - dt.timedelta(days=30), paid_at=now - dt.timedelta(days=1)
        )
        partial = _order(s, a, now - dt.timedelta(days=20), "2000.00", "partially_delivered")
        _invoice(s, partial, today - dt.timedelta(days=5), today + dt.timedelta(days=25), "1000.00")  # order still open
        _order(s, a, now - dt.timedelta(days=10), "700.00", "cancelled", now - dt.timedelta(days=9))
        _order(s, a, now - dt.timedelta(days=3), "450.00", "pending_approval")
        _order(s, a, now - dt.timedelta(days=2), "60.00", "rejected", now - dt.timedelta(days=1))
        s.commit()
        expected = exposure_by_company(s, [a])[a]
        assert statements.exposure_at(s, a, [now]) == [expected]
        company = s.get(Company, a)
        assert company is not None
        st = statements.statement(s, company, now=now)
    assert st.history[-1].at == now and st.history[-1].exposure == expected == st.exposure
    # 1250 (world) + 800 + 2000 + 450
    assert expected == Decimal("4500.00")


def test_exposure_at_month_ends(app: Flask, world: World) -> None:
    now = _at(2026, 6, 15)
    a = world.a.company.id
    with db_session(app) as s:
        p = _order(s, a, _at(2026, 2, 10), "1250.00", "invoiced", _at(2026, 3, 20))
        _invoice(s, p, dt.date(2026, 3, 20), dt.date(2026, 4, 19), paid_at=_at(2026, 5, 5))
        _order(s, a, _at(2026, 4, 10), "500.00", "processing")
        _order(s, a, _at(2026, 1, 5), "9000.00", "cancelled", _at(2026, 1, 20))
        _order(s, a, _at(2026, 5, 31, 23, 30), "40.00", "processing")  # May 31 in Oslo, June 1 never
        _order(s, a, _at(2026, 6, 1, 0, 30), "7.00", "processing")  # June in Oslo (May 31 in UTC)
        # Invoiced on the last day of May (Oslo), paid on June 1 00:10 Oslo: unpaid at May's end.
        q = _order(s, a, _at(2026, 5, 2), "30.00", "invoiced", _at(2026, 5, 31, 20))
        _invoice(s, q, dt.date(2026, 5, 31), dt.date(2026, 6, 30), paid_at=_at(2026, 6, 1, 0, 10))
        s.commit()
        history = statements.exposure_history(s, a, dt.date(2026, 6, 15), now)
    got = {p.month: p.exposure for p in history}
    assert [p.month for p in history][0] == dt.date(2025, 7, 1) and len(history) == 12
    assert history[-1].at == now
    assert got[dt.date(2026, 1, 1)] == Decimal("0.00")  # the cancelled order was open only inside January
    assert got[dt.date(2026, 2, 1)] == Decimal("1250.00")  # order open
    assert got[dt.date(2026, 3, 1)] == Decimal("1250.00")  # invoiced, unpaid
    assert got[dt.date(2026, 4, 1)] == Decimal("1750.00")  # + the April order
    assert got[dt.date(2026, 5, 1)] == Decimal("570.00")  # paid; 500 + 40 + the May invoice 30
    assert got[dt.date(2026, 6, 1)] == Decimal("547.00")  # 500 + 40 + 7 (the May invoice paid)


def test_history_is_a_fixed_number_of_queries(app: Flask, world: World, statements: list[str]) -> None:
    from app.domain import statements as rules

    a = world.a.company.id
    with db_session(app) as s:
        statements.clear()
        rules.exposure_history(s, a, oslo_today())
        few = len(statements)
        for i in range(15):
            o = _order(
                s,
                a,
                utcnow() - dt.timedelta(days=20 * i + 1),
                f"{100 + i}.00",
                "invoiced",
                utcnow() - dt.timedelta(days=20 * i),
            )
            _invoice(s, o, oslo_today() - dt.timedelta(days=20 * i), oslo_today())
        s.commit()
        statements.clear()
        rules.exposure_history(s, a, oslo_today())
        assert len(statements) == few == 2


# --- who sees what ----------------------------------------------------------------------------------


def test_statement_company_rules(app: Flask, world: World) -> None:
    a, b = world.a.company.id, world.b.company.id
    with db_session(app) as s:
        cadmin = actor(world.a.admin, "CustomerAdmin")
        assert statements.statement_company(s, cadmin).id == a
        assert statements.statement_company(s, cadmin, str(a)).id == a
        with pytest.raises(NotFound):
            statements.statement_company(s, cadmin, b)
        with pytest.raises(Forbidden):
            statements.statement_company(s, actor(world.a.user, "CustomerUser"))
        manager = actor(world.staff["Manager"], "Manager")
        assert statements.statement_company(s, manager, b).id == b
        with pytest.raises(ValidationFailed) as missing:
            statements.statement_company(s, manager)
        assert "company_id" in missing.value.errors
        with pytest.raises(NotFound):
            statements.statement_company(s, manager, 987654)


def test_page_tenancy_and_roles(app: Flask, world: World) -> None:
    with db_session(app) as s:
        b_order = s.get(Order, world.b.order.id)
        assert b_order is not None
        _invoice(
            s, b_order, oslo_today() - dt.timedelta(days=40), oslo_today() - dt.timedelta(days=10), number="F-BERG-77"
        )
        s.commit()
    cadmin = client_as(app, world.a.admin)
    page = cadmin.get("/kontoutskrift/")
    body = text_of(page)
    assert page.status_code == 200
    assert world.a.invoice.number in body and "F-BERG-77" not in body and world.b.invoice.number not in body
    assert 'id="exposure-chart"' in body and "Registrer innbetaling" not in body
    assert cadmin.get(f"/kontoutskrift/?company_id={world.b.company.id}").status_code == 404
    assert cadmin.get(f"/kontoutskrift/kontoutskrift.pdf?company_id={world.b.company.id}").status_code == 404
    assert cadmin.get(f"/kontoutskrift/eksport/csv?company_id={world.b.company.id}").status_code == 404
    assert client_as(app, world.a.user).get("/kontoutskrift/").status_code == 403
    staff = client_as(app, world.staff["CustomerService"])
    picked = text_of(staff.get(f"/kontoutskrift/?company_id={world.b.company.id}"))
    assert "F-BERG-77" in picked and world.a.invoice.number not in picked and "Registrer innbetaling" in picked
    by_number = text_of(staff.get(f"/kontoutskrift/?kunde={world.b.company.customer_number}"))
    assert "F-BERG-77" in by_number
    assert "Skriv kundenummeret" in text_of(staff.get("/kontoutskrift/"))
    seller = text_of(client_as(app, world.staff["Seller"]).get(f"/kontoutskrift/?company_id={world.b.company.id}"))
    assert "F-BERG-77" in seller and "Registrer innbetaling" not in seller
    # A bad period is said next to the field, never a 500.
    bad = cadmin.get("/kontoutskrift/?fra=ikke-en-dato&til=2026-01-01")
    assert bad.status_code == 200 and "Skriv en dato" in text_of(bad)


def test_api_tenancy_and_roles(app: Flask, world: World) -> None:
    cadmin = Caller(app, world.a.admin.username)
    answer = cadmin.get(API)
    assert answer.status_code == 200, answer.json
    assert answer.json["result"]["company_id"] == world.a.company.id
    assert [i["number"] for i in answer.json["result"]["open_invoices"]] == [world.a.invoice.number]
    assert answer.json["result"]["exposure"] == "1250.00" and answer.json["result"]["available_credit"] == "198750.00"
    assert len(answer.json["result"]["exposure_history"]) == 12
    assert cadmin.get(f"{API}?company_id={world.a.company.id}").status_code == 200
    assert cadmin.get(f"{API}?company_id={world.b.company.id}").status_code == 404
    assert Caller(app, world.a.user.username).get(API).status_code == 403
    manager = Caller(app, world.staff["Manager"].username)
    missing = manager.get(API)
    assert missing.status_code == 400 and "company_id" in missing.json["message"]
    b = manager.get(f"{API}?company_id={world.b.company.id}")
    assert b.status_code == 200 and [i["number"] for i in b.json["result"]["open_invoices"]] == [world.b.invoice.number]
    bad = manager.get(f"{API}?company_id={world.b.company.id}&from=2026-05-01&to=2026-04-01")
    assert bad.status_code == 400 and "to" in bad.json["message"]


# --- Registrer innbetaling ------------------------------------------------------------------------


def test_register_payment_exactly_once(app: Flask, world: World) -> None:
    invoice_id = world.a.invoice.id
    # Both sessions saw the invoice unpaid; the second's conditional UPDATE finds it paid.
    with app.app_context(), Session(db.engine) as first, Session(db.engine) as second:
        assert second.get(Invoice, invoice_id).paid is False  # type: ignore[union-attr]
        statements.register_payment(first, invoice_id, _cs(world))
        first.commit()
        with pytest.raises(AlreadyHandled):
            statements.register_payment(second, invoice_id, _cs(world))
        second.rollback()
    paid = load(app, Invoice, invoice_id)
    assert paid.paid and paid.paid_at is not None and abs(paid.paid_at - utcnow()) < dt.timedelta(minutes=5)
    with db_session(app) as s:
        entries = s.scalars(select(AuditEntry).where(AuditEntry.action == audit.INVOICE_PAID)).all()
    assert [e.target_id for e in entries] == [str(invoice_id)]


def test_register_payment_rules(app: Flask, world: World) -> None:
    with db_session(app) as s:
        with pytest.raises(Forbidden):
            statements.register_payment(s, world.a.invoice.id, actor(world.staff["Seller"], "Seller"))
        with pytest.raises(Forbidden):
            statements.register_payment(s, world.a.invoice.id, actor(world.a.admin, "CustomerAdmin"))
        with pytest.raises(NotFound):
            statements.register_payment(s, 987654, _cs(world))
        with pytest.raises(ValidationFailed) as future:
            statements.register_payment(s, world.a.invoice.id, _cs(world), paid_on=oslo_today() + dt.timedelta(days=1))
        assert "paid_on" in future.value.errors
        with pytest.raises(ValidationFailed):
            statements.register_payment(s, world.a.invoice.id, _cs(world), paid_on=dt.date(2000, 1, 1))
        s.rollback()
        order = s.get(Order, world.a.order.id)
        assert order is not None
        earlier = _invoice(s, order, oslo_today() - dt.timedelta(days=20), oslo_today(), "10.00")
        s.commit()
        day = oslo_today() - dt.timedelta(days=2)
        statements.register_payment(s, earlier.id, _cs(world), paid_on=day)
        s.commit()
        s.refresh(earlier)
        assert earlier.paid_at is not None and earlier.paid_at.astimezone(OSLO).date() == day


@pytest.mark.postgres
def test_parallel_payments_exactly_one_wins(app: Flask, world: World) -> None:
    for n in range(5):
        with db_session(app) as s:
            order = s.get(Order, world.a.order.id)
            assert order is not None
            invoice_id = _invoice(s, order, oslo_today(), oslo_today(), "5.00", number=f"F-PAR-{n}").id
            s.commit()
        barrier = threading.Barrier(2)
        results: list[str] = []

        def pay(
            barrier: threading.Barrier = barrier, invoice_id: int = invoice_id, results: list[str] = results
        ) -> None:
            with app.app_context(), Session(db.engine) as s:
                s.get(Invoice, invoice_id)
                barrier.wait()
                try:
                    statements.register_payment(s, invoice_id, _cs(world))
                    s.commit()
                    results.append("ok")
                except AlreadyHandled:
                    s.rollback()
                    results.append("already")

        threads = [threading.Thread(target=pay) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(results) == ["already", "ok"]
        with db_session(app) as s:
            entries = s.scalars(
                select(AuditEntry).where(
                    AuditEntry.action == audit.INVOICE_PAID, AuditEntry.target_id == str(invoice_id)
                )
            ).all()
        assert len(entries) == 1


def test_payment_through_page_and_api(app: Flask, world: World) -> None:
    cs = client_as(app, world.staff["CustomerService"])
    cs.get(f"/kontoutskrift/?company_id={world.a.company.id}")
    first = cs.post(f"/kontoutskrift/faktura/{world.a.invoice.id}/innbetaling", data={"company_id": world.a.company.id})
    assert first.status_code == 302 and f"company_id={world.a.company.id}" in first.headers["Location"]
    assert load(app, Invoice, world.a.invoice.id).paid
    after = text_of(cs.get(first.headers["Location"]))
    assert "er registrert" in after
    again = cs.post(f"/kontoutskrift/faktura/{world.a.invoice.id}/innbetaling", data={"company_id": world.a.company.id})
    assert again.status_code == 302
    assert "allerede registrert som betalt" in text_of(cs.get(again.headers["Location"]))
    # Customers may not register payments.
    cadmin = client_as(app, world.a.admin)
    assert cadmin.post(f"/kontoutskrift/faktura/{world.b.invoice.id}/innbetaling").status_code == 403
    assert not load(app, Invoice, world.b.invoice.id).paid
    # The API: once 200, then 409; a customer 403; a bad date 400 naming the field.
    api = Caller(app, world.staff["CustomerService"].username)
    url = f"{API}invoice/{world.b.invoice.id}/payment"
    assert Caller(app, world.a.admin.username).post(url, {}).status_code == 403
    bad = api.post(url, {"paid_on": "i går"})
    assert bad.status_code == 400 and "paid_on" in bad.json["message"]
    ok = api.post(url, {})
    assert ok.status_code == 200 and ok.json["paid"] is True and ok.json["paid_at"]
    assert api.post(url, {}).status_code == 409
    assert api.post(f"{API}invoice/987654/payment", {}).status_code == 404


# --- files ------------------------------------------------------------------------------------------


def _pdf_text(data: bytes) -> str:
    from pypdf import PdfReader

    # Whitespace folded: a long value wraps inside its cell.
    return " ".join("\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages).split())


def test_pdf_prints_user_text_as_typed(app: Flask, world: World) -> None:
    with db_session(app) as s:
        company = s.get(Company, world.a.company.id)
        assert company is not None
        company.name = 'Hansen <b>&amp; "Sønner"</b> <a href="http://x">AS</a>'
        company.postal_street = "Gate <font size=40>1</font>\x07"
        order = s.get(Order, world.a.order.id)
        assert order is not None
        _invoice(
            s,
            order,
            oslo_today() - dt.timedelta(days=40),
            oslo_today() - dt.timedelta(days=7),
            "99.00",
            number="F<i>7</i>",
        )
        s.commit()
    response = client_as(app, world.a.admin).get("/kontoutskrift/kontoutskrift.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert "kontoutskrift-10001_" in response.headers["Content-Disposition"]
    text = _pdf_text(response.data)
    assert 'Hansen <b>&amp; "Sønner"</b> <a href="http://x">AS</a>' in text
    assert "Gate <font size=40>1</font>" in text
    assert "F<i>7</i>" in text and world.a.invoice.number in text
    assert "Ledig kreditt" in text and "Forfalt (1)" in text
    assert world.b.invoice.number not in text


def test_csv_and_xlsx_contents(app: Flask, world: World) -> None:
    now = utcnow()
    today = oslo_today(now)
    with db_session(app) as s:
        order = s.get(Order, world.a.order.id)
        assert order is not None
        late = _invoice(
            s, order, today - dt.timedelta(days=40), today - dt.timedelta(days=7), "1234.50", number="F-LATE"
        )
        _invoice(
            s, order, today - dt.timedelta(days=40), today - dt.timedelta(days=9), "10.00", paid_at=now, number="F-PAID"
        )
        s.commit()
        del late
    client = client_as(app, world.a.admin)
    response = client.get("/kontoutskrift/eksport/csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    raw = response.data.decode("utf-8")
    assert raw.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(raw.lstrip("\ufeff")), delimiter=";"))
    assert rows[0] == [
        "Status",
        "Fakturanummer",
        "Ordrenummer",
        "Fakturadato",
        "Forfallsdato",
        "Dager forfalt",
        "Betalt dato",
        "Beløp inkl. mva.",
    ]
    by_number = {r[1]: r for r in rows[1:]}
    assert set(by_number) == {"F-LATE", world.a.invoice.number, "F-PAID"}
    assert by_number["F-LATE"][0] == "Forfalt" and by_number["F-LATE"][5] == "7"
    assert by_number["F-LATE"][7] == "1234,50" and by_number["F-LATE"][4] == (today - dt.timedelta(days=7)).strftime(
        "%d.%m.%Y"
    )
    assert by_number[world.a.invoice.number][0] == "Åpen" and by_number[world.a.invoice.number][5] == "0"
    assert by_number["F-PAID"][0] == "Betalt" and by_number["F-PAID"][6] == today.strftime("%d.%m.%Y")
    assert world.b.invoice.number not in raw

    from openpyxl import load_workbook

    response = client.get("/kontoutskrift/eksport/xlsx")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.data)).active
    assert sheet is not None
    values = list(sheet.iter_rows(values_only=True))
    assert values[0][1] == "Fakturanummer"
    late_row = next(r for r in values[1:] if r[1] == "F-LATE")
    assert late_row[7] == 1234.5 and late_row[5] == 7 and late_row[0] == "Forfalt"
    assert late_row[4].date() == today - dt.timedelta(days=7)


# --- the start page ------------------------------------------------------------------------------


def test_start_page_says_forfalt(app: Flask, world: World) -> None:
    cadmin = client_as(app, world.a.admin)
    assert 'id="overdue-notice"' not in text_of(cadmin.get("/"))
    with db_session(app) as s:
        order = s.get(Order, world.a.order.id)
        assert order is not None
        _invoice(s, order, oslo_today() - dt.timedelta(days=40), oslo_today() - dt.timedelta(days=3), "321.00")
        b_order = s.get(Order, world.b.order.id)
        assert b_order is not None
        _invoice(s, b_order, oslo_today() - dt.timedelta(days=40), oslo_today() - dt.timedelta(days=3), "999.00")
        s.commit()
    body = text_of(cadmin.get("/"))
    assert 'id="overdue-notice"' in body and "/kontoutskrift/" in body
    assert "321,00" in body and "999,00" not in body
    # The customer user has no statement: no notice.
    assert 'id="overdue-notice"' not in text_of(client_as(app, world.a.user).get("/"))


# --- demo data --------------------------------------------------------------------------------------


def test_demo_invoices_carry_their_payment_and_hansen_has_something_overdue(app: Flask) -> None:
    from tests.helpers import reset_database

    reset_database(app)
    result = app.test_cli_runner().invoke(args=["portal", "demo"])
    assert result.exit_code == 0, result.output
    try:
        with db_session(app) as s:
            invoices = s.scalars(select(Invoice)).all()
            assert invoices and all((i.paid_at is not None) == i.paid for i in invoices)
            assert all(i.paid_at is None or i.paid_at.astimezone(OSLO).date() >= i.invoice_date for i in invoices)
            assert all(i.paid_at is None or i.paid_at <= utcnow() for i in invoices)
            hansen = s.scalars(select(Company).where(Company.customer_number == "10001")).one()
            assert statements.overdue_summary(s, hansen.id).count >= 1
    finally:
        reset_database(app)


def test_company_pages_link_the_statement(app: Flask, world: World) -> None:
    link = f"/kontoutskrift/?company_id={world.a.company.id}"
    staff = text_of(client_as(app, world.staff["CustomerService"]).get(f"/companyview/show/{world.a.company.id}"))
    assert link in staff
    mine = text_of(client_as(app, world.a.admin).get(f"/mycompanyview/show/{world.a.company.id}"))
    assert 'class="btn btn-default btn-sm statement-link" href="/kontoutskrift/"' in mine
    # The link follows the permission table: it shows exactly for the roles that may open the page.
    from app.views.statements import may_see_statement

    with app.test_request_context():
        from flask import g

        with db_session(app) as s:
            for user, expected in ((world.a.admin, True), (world.a.user, False), (world.staff["Seller"], True)):
                g.user = s.merge(user)
                assert may_see_statement() is expected


def test_migration_0013_dates_earlier_payments(tmp_path: Any) -> None:
    """Invoices paid before payments had a time get their due date (noon UTC), never later than now."""
    from flask_migrate import upgrade
    from sqlalchemy import create_engine, insert

    from tests.test_migrations import _migration_app

    url = f"sqlite:///{tmp_path / 'payments.db'}"
    minimal = _migration_app(url)
    engine = create_engine(url)
    try:
        with minimal.app_context():
            upgrade(revision="0011")
            with engine.begin() as conn:
                company_id = conn.execute(
                    insert(Company.__table__).values(customer_number="20001", name="Gamle AS", org_number="914378125")
                ).inserted_primary_key[0]
                order_id = conn.execute(
                    insert(Order.__table__).values(number="100001", company_id=company_id)
                ).inserted_primary_key[0]
                future = oslo_today() + dt.timedelta(days=30)
                for number, due, paid in (
                    ("F1", dt.date(2026, 3, 1), True),
                    ("F2", future, True),
                    ("F3", dt.date(2026, 3, 1), False),
                ):
                    conn.execute(
                        insert(Invoice.__table__).values(
                            number=number,
                            company_id=company_id,
                            order_id=order_id,
                            invoice_date=dt.date(2026, 2, 1),
                            due_date=due,
                            amount=Decimal("10.00"),
                            paid=paid,
                            billing_name="Gamle AS",
                            billing_customer_number="20001",
                            billing_org_number="914378125",
                        )
                    )
            upgrade()
            with engine.connect() as conn:
                got = dict(
                    conn.execute(select(Invoice.number, Invoice.paid_at).order_by(Invoice.number)).tuples().all()
                )
        assert got["F1"] == dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC)
        assert got["F2"] is not None and abs(got["F2"] - utcnow()) < dt.timedelta(minutes=5)
        assert got["F3"] is None
    finally:
        engine.dispose()
