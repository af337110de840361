"""Budgets, reports, inquiries and Klikk og Hent: each rule once, in app/domain, for pages and API.

* Periods and buckets begin at the one Oslo midnight (formatting.oslo_midnight_utc): orders just
  before and after it, across both daylight saving changes, count alike on SQLite and PostgreSQL
  (run this file with TEST_DATABASE_URL for the second) and alike with a plain Python reckoning.
* Months and quarters through Babel: bokmål as before, English in English.
* The budget-exceeded and inquiry-answered mails come from their templates, word for word as before.
* Role groups from app/roles.py; refusals on pages and in the API through the one error path.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_babel import force_locale
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.domain import budgets, inquiries, pickup, report_totals
from app.domain import reports as R
from app.domain.actors import Actor
from app.domain.formatting import NBSP, oslo_midnight_utc, to_oslo
from app.domain.links import portal_link
from app.extensions import db
from app.models import Budget, Inquiry, MailOutbox, Order, PickupReservation, PortalUser
from app.views.reports import charts
from tests.factories import World
from tests.helpers import api_token, auth_header, login

D = dt.date
UTC = dt.UTC
API = "/api/v1"
ROOT = Path(__file__).resolve().parent.parent


def _session(app: Flask) -> Session:
    with app.app_context():
        return Session(db.engine, expire_on_commit=False)


def _client(app: Flask, username: str, language: str | None = None) -> FlaskClient:
    client = app.test_client()
    login(client, username)
    if language:
        assert client.get(f"/lang/{language}").status_code == 302
    return client


class Api:
    def __init__(self, app: Flask, username: str) -> None:
        self.client = app.test_client()
        self.headers = auth_header(api_token(self.client, username))

    def post(self, url: str, body: Any = None) -> Any:
        if body is None:
            return self.client.post(API + url, headers=self.headers)
        return self.client.post(API + url, json=body, headers=self.headers)

    def put(self, url: str, body: Any) -> Any:
        return self.client.put(API + url, json=body, headers=self.headers)


def _actor(user: PortalUser, *roles: str) -> Actor:
    return Actor(id=user.id, name=user.full_name, company_id=user.company_id, roles=frozenset(roles), email=user.email)


def _nok(text: str) -> str:
    return text.replace(" ", NBSP)


# --- one Oslo midnight, across daylight saving changes ------------------------------------------

# Oslo midnights in 2025 next to a clock change: summer time from 30 March, winter time from 26 October.
BOUNDARIES = [
    dt.datetime(2025, 3, 29, 23, tzinfo=UTC),  # 30 March 00:00 (winter time): the 23-hour day begins
    dt.datetime(2025, 3, 30, 22, tzinfo=UTC),  # 31 March 00:00 (summer time)
    dt.datetime(2025, 3, 31, 22, tzinfo=UTC),  # 1 April 00:00: a new month and quarter
    dt.datetime(2025, 10, 25, 22, tzinfo=UTC),  # 26 October 00:00 (summer time): the 25-hour day begins
    dt.datetime(2025, 10, 26, 23, tzinfo=UTC),  # 27 October 00:00 (winter time)
    dt.datetime(2025, 10, 31, 23, tzinfo=UTC),  # 1 November 00:00: a new month
]
OFFSETS = (dt.timedelta(seconds=-1), dt.timedelta(0), dt.timedelta(microseconds=1), dt.timedelta(minutes=59))


def test_the_boundaries_are_oslo_midnights() -> None:
    for instant in BOUNDARIES:
        local = to_oslo(instant)
        assert (local.hour, local.minute, local.second) == (0, 0, 0)
        assert oslo_midnight_utc(local.date()) == instant


@pytest.fixture()
def placed(app: Flask, world: World) -> list[tuple[dt.datetime, Decimal]]:
    """Company A's orders just before, at and after each boundary (each its own amount), one cancelled
    order at every boundary (never counted); the world's own order is moved out of 2025."""
    rows: list[tuple[dt.datetime, Decimal]] = []
    with app.app_context(), _session(app) as s:
        s.get(Order, world.a.order.id).created_at = dt.datetime(2024, 6, 1, 12, tzinfo=UTC)
        for i, boundary in enumerate(BOUNDARIES):
            for j, offset in enumerate(OFFSETS):
                amount = Decimal(10 ** (j + 1) + i)
                at = boundary + offset
                s.add(
                    Order(
                        company_id=world.a.company.id,
                        number=f"DST-{i}-{j}",
                        channel="webshop",
                        status="processing",
                        created_by_id=world.a.user.id,
                        total_ex_vat=amount,
                        total_vat=Decimal("0"),
                        created_at=at,
                    )
                )
                rows.append((at, amount))
            s.add(
                Order(
                    company_id=world.a.company.id,
                    number=f"DST-{i}-x",
                    channel="webshop",
                    status="cancelled",
                    created_by_id=world.a.user.id,
                    total_ex_vat=Decimal("99999"),
                    total_vat=Decimal("0"),
                    created_at=boundary,
                )
            )
        s.flush()
        report_totals.rebuild(s)  # the orders above are written around the domain
        s.commit()
    return rows


def _by_oslo_day(rows: list[tuple[dt.datetime, Decimal]], first: dt.date, end: dt.date) -> Decimal:
    """The plain reckoning: each order's Oslo calendar day, by zoneinfo, in [first, end)."""
    return sum((amount for at, amount in rows if first <= to_oslo(at).date() < end), Decimal("0"))


@pytest.mark.parametrize(
    "period,day",
    [
        ("month", D(2025, 3, 15)),
        ("month", D(2025, 4, 15)),
        ("quarter", D(2025, 2, 1)),
        ("quarter", D(2025, 5, 1)),
        ("month", D(2025, 10, 15)),
        ("month", D(2025, 11, 15)),
        ("quarter", D(2025, 11, 1)),
        ("year", D(2025, 7, 1)),
    ],
)
def test_budget_periods_begin_at_oslo_midnight_across_dst(
    app: Flask, world: World, placed: Any, period: str, day: dt.date
) -> None:
    with app.app_context(), _session(app) as s:
        company_wide = Budget(company_id=world.a.company.id, user_id=None, period=period, amount=Decimal("1"))
        users = Budget(company_id=world.a.company.id, user_id=world.a.user.id, period=period, amount=Decimal("1"))
        other_user = Budget(company_id=world.a.company.id, user_id=world.a.admin.id, period=period, amount=Decimal("1"))
        s.add_all([company_wide, users, other_user])
        s.flush()
        used = budgets.consumption(s, [company_wide, users, other_user], day)
        expected = _by_oslo_day(placed, *budgets.period_bounds(period, day))
        assert expected > 0
        assert used == {company_wide.id: expected, users.id: expected, other_user.id: Decimal("0.00")}
        s.rollback()


def test_the_first_order_after_midnight_is_the_next_months(app: Flask, world: World, placed: Any) -> None:
    with app.app_context(), _session(app) as s:
        budget = Budget(company_id=world.a.company.id, user_id=None, period="month", amount=Decimal("1"))
        s.add(budget)
        s.flush()
        march = budgets.consumption(s, [budget], D(2025, 3, 31))[budget.id]
        april = budgets.consumption(s, [budget], D(2025, 4, 1))[budget.id]
        # 31 March 21:59:59 UTC (23:59:59 in Oslo, amount 12) is March's; 22:00:00 UTC and later April's.
        assert march == (10 + 100 + 1000 + 10000) + (11 + 101 + 1001 + 10001) + 12
        assert april == 102 + 1002 + 10002
        s.rollback()


def test_daily_cumulative_counts_each_oslo_day_across_dst(app: Flask, world: World, placed: Any) -> None:
    with app.app_context(), _session(app) as s:
        for month_day, today in ((D(2025, 3, 1), D(2025, 4, 30)), (D(2025, 10, 1), D(2025, 12, 31))):
            budget = Budget(company_id=world.a.company.id, user_id=world.a.user.id, period="month", amount=Decimal("1"))
            s.add(budget)
            s.flush()
            series = budgets.cumulative(s, budget, month_day, today)
            start, end = budgets.period_bounds("month", month_day)
            assert [d for d, _v in series["days"]] == [start + dt.timedelta(days=i) for i in range((end - start).days)]
            for day, value in series["days"]:
                assert value == _by_oslo_day(placed, start, day + dt.timedelta(days=1)), day
            assert series["used"] == _by_oslo_day(placed, start, end)
        s.rollback()


def test_report_buckets_begin_at_the_same_midnight(app: Flask, world: World, placed: Any) -> None:
    period = R.Period(D(2025, 3, 1), D(2025, 11, 30))
    assert period.start == oslo_midnight_utc(D(2025, 3, 1)) and period.end == oslo_midnight_utc(D(2025, 12, 1))
    with app.app_context(), _session(app) as s:
        report = R.sales_by_month(s, period)
        for month in report.months:
            assert report.month_total(month.index) == _by_oslo_day(
                placed, month.first, month.last + dt.timedelta(days=1)
            ), month
        weeks = R.status_report(s, R.Period(D(2025, 3, 24), D(2025, 4, 6)))
        assert weeks.now["processing"] == sum(
            1 for at, _a in placed if D(2025, 3, 24) <= to_oslo(at).date() <= D(2025, 4, 6)
        )


# --- months and quarters through Babel --------------------------------------------------------------


def test_period_labels_in_bokmal_and_english(app: Flask) -> None:
    with app.test_request_context():
        assert budgets.period_label("month", D(2026, 12, 1)) == "desember 2026"
        assert budgets.period_label("quarter", D(2026, 10, 1)) == "4. kvartal 2026"
        assert budgets.period_label("year", D(2026, 1, 1)) == "2026"
        assert charts.month_label(R.month_buckets(R.Period(D(2025, 1, 15), D(2025, 2, 3)))[0]) == "januar 2025"
        with force_locale("en"):
            assert budgets.period_label("month", D(2026, 12, 1)) == "December 2026"
            assert budgets.period_label("quarter", D(2026, 10, 1)) == "Q4 2026"
            assert budgets.period_label("year", D(2026, 1, 1)) == "2026"
            assert budgets.recent_periods("month", D(2026, 1, 15), 2) == [
                ("2026-01", "January 2026"),
                ("2025-12", "December 2025"),
            ]
            assert budgets.recent_periods("quarter", D(2026, 2, 1), 2) == [
                ("2026-K1", "Q1 2026"),
                ("2025-K4", "Q4 2025"),
            ]
            assert charts.month_label(R.month_buckets(R.Period(D(2025, 1, 15), D(2025, 2, 3)))[1]) == "February 2025"


def test_dashboard_and_reports_name_periods_in_the_page_language(app: Flask, world: World) -> None:
    with app.app_context(), _session(app) as s:
        s.add(Budget(company_id=world.a.company.id, user_id=None, period="quarter", amount=Decimal("50000")))
        s.commit()
    url = "/bruksgrense/oversikt/?periode=quarter&p=2025-K4"
    assert '<option value="2025-K4" selected>4. kvartal 2025</option>' in _client(app, "hansen.admin").get(
        url
    ).get_data(as_text=True)
    assert '<option value="2025-K4" selected>Q4 2025</option>' in _client(app, "hansen.admin", "en").get(url).get_data(
        as_text=True
    )
    query = {"fra": "2025-01-01", "til": "2025-02-28"}
    for language, months in ((None, ["januar 2025", "februar 2025"]), ("en", ["January 2025", "February 2025"])):
        csv = _client(app, "leder", language).get("/rapporter/salg.csv", query_string=query)
        lines = csv.get_data(as_text=True).lstrip("\ufeff").splitlines()
        assert [line.split(";")[0] for line in lines[1:3]] == months
    detail = _client(app, "leder", "en").get(
        "/rapporter/bruksgrenser.csv", query_string={"dato": "2025-11-15", "tabell": "bruksgrenser"}
    )
    assert "November 2025" in detail.get_data(as_text=True)


# --- the mails from their templates -----------------------------------------------------------------


def _mails(app: Flask, kind: str) -> list[MailOutbox]:
    with app.app_context(), _session(app) as s:
        return list(s.scalars(select(MailOutbox).where(MailOutbox.kind == kind).order_by(MailOutbox.id)))


def _exceed(app: Flask, world: World, budget_user_id: int | None, language: str = "nb") -> MailOutbox:
    """An order of 20 chairs (10 000 kr) on 10 March 2025 against a 5 000 kr monthly budget."""
    with app.app_context(), _session(app) as s:
        for budget in s.scalars(select(Budget)):
            budget.active = False
        budget = Budget(company_id=world.a.company.id, user_id=budget_user_id, period="month", amount=Decimal("5000"))
        order = Order(
            company_id=world.a.company.id,
            number="OVER-1",
            channel="webshop",
            status="processing",
            created_by_id=world.a.user.id,
            total_ex_vat=Decimal("10000.00"),
            total_vat=Decimal("0"),
            created_at=dt.datetime(2025, 3, 10, 9, tzinfo=UTC),
        )
        s.add_all([budget, order])
        with app.test_request_context(), force_locale(language):
            assert budgets.apply_budgets(s, order) == [budget]
        s.commit()
        budget_id = budget.id
    (mail,) = _mails(app, "budget_exceeded")
    assert mail.dedupe_key == f"budget-exceeded:{budget_id}:2025-03-01:{world.a.admin.id}"
    assert mail.body_text.endswith(f"/bruksgrense/oversikt/?periode=month&p=2025-03&budsjett={budget_id}")
    return mail


@pytest.mark.parametrize("language", ["nb", "en"])
def test_budget_exceeded_mail_is_the_template_in_bokmal(app: Flask, world: World, language: str) -> None:
    mail = _exceed(app, world, world.a.user.id, language)
    assert mail.to_address == world.a.admin.email
    assert mail.subject == "Bruksgrensen for Hansen Testesen er overskredet"
    text, _sep, link = mail.body_text.rpartition("\n\n")
    assert text == (
        f"Bruksgrensen for Hansen Testesen ({_nok('5 000,00 kr')} per periode fra 01.03.2025) er nå "
        f"overskredet. Forbruk: {_nok('10 000,00 kr')}.\n\n"
        "Det kan fortsatt bestilles; grensen er veiledende."
    )
    assert link.startswith("http") and f'<a href="{html.escape(link)}">' in mail.body_html
    assert mail.body_html.startswith("<p>Bruksgrensen for Hansen Testesen (")


def test_budget_exceeded_mail_for_the_whole_company(app: Flask, world: World) -> None:
    mail = _exceed(app, world, None)
    assert mail.subject == "Bruksgrensen for hele bedriften er overskredet"
    assert mail.body_text.startswith(
        f"Bruksgrensen for hele bedriften ({_nok('5 000,00 kr')} per periode fra 01.03.2025) er nå overskredet."
    )


def test_inquiry_answered_mail_is_the_template(app: Flask, world: World) -> None:
    with app.app_context(), _session(app) as s:
        service = s.get(PortalUser, world.staff["CustomerService"].id)
        with app.test_request_context(), force_locale("en"):
            inquiries.add_message(
                s,
                world.a.inquiry.id,
                _actor(service, "CustomerService"),
                "  Den kommer på fredag.\n\nMvh kundeservice  ",
            )
        s.commit()
    (mail,) = _mails(app, "inquiry_answered")
    assert mail.to_address == world.a.user.email
    assert mail.subject == "Svar på henvendelsen: Spørsmål fra hansen"
    with app.app_context():
        link = portal_link(f"/inquiryview/show/{world.a.inquiry.id}")
    assert mail.body_text == (
        "Kundeservice har svart på henvendelsen din «Spørsmål fra hansen».\n\nDen kommer på fredag.\n\n"
        "Mvh kundeservice\n\nDu kan lese hele tråden og svare i Kundeportalen under Min side → Henvendelser.\n\n" + link
    )


# --- role groups ---------------------------------------------------------------------------------


def test_customer_service_and_admin_move_reservations_and_answer_inquiries(app: Flask, world: World) -> None:
    reservation = world.a.reservation
    staff_moves = ["ready", "expired", "cancelled"]
    for role, moves in (("CustomerService", staff_moves), ("Admin", staff_moves), ("Seller", []), ("Manager", [])):
        actor = _actor(world.staff[role], role)
        assert pickup.moves_for(reservation, actor) == moves, role
        assert inquiries.may_write(actor) is bool(moves), role
    customer = _actor(world.a.user, "CustomerUser")
    assert pickup.moves_for(reservation, customer) == ["cancelled"] and inquiries.may_write(customer)
    assert _actor(world.staff["Seller"], "Seller", "Manager").is_customer_service is False


@pytest.mark.parametrize(
    "username,blocks",
    [
        ("admin", {"approval-summary", "inquiry-summary", "manager-overview"}),
        ("selger", {"approval-summary"}),
        ("kundeservice", {"inquiry-summary"}),
        ("leder", {"manager-overview"}),
        ("hansen.admin", set()),
    ],
)
def test_start_page_blocks_follow_the_role_groups(app: Flask, world: World, username: str, blocks: set[str]) -> None:
    body = _client(app, username).get("/").get_data(as_text=True)
    shown = {b for b in ("approval-summary", "inquiry-summary", "manager-overview") if f"panel-default {b}" in body}
    assert shown == blocks
    if "inquiry-summary" in blocks:
        assert "1 reservasjoner i Klikk og Hent" not in body and "2 reservasjoner i Klikk og Hent" in body


AREA_FILES = [
    "app/domain/budgets.py",
    "app/domain/reports.py",
    "app/domain/inquiries.py",
    "app/domain/pickup.py",
    "app/views/budgets.py",
    "app/views/inquiries.py",
    "app/views/pickup.py",
    "app/views/home.py",
    "app/views/reports/charts.py",
    "app/views/reports/pages.py",
    "app/api/budgets.py",
    "app/api/inquiries.py",
    "app/api/pickup.py",
]


@pytest.mark.parametrize("path", AREA_FILES)
def test_no_local_role_lists_midnights_month_names_or_second_error_path(path: str) -> None:
    source = (ROOT / path).read_text(encoding="utf-8")
    assert not re.search(r'"(CustomerService|Seller|Manager)"', source), "role groups: app/roles.py"
    assert "tzinfo=OSLO" not in source, "Oslo midnight: formatting.oslo_midnight_utc"
    assert not re.search(r'_l?\("(jan|feb|des)\.?"\)|_l?\("(januar|desember)"\)', source), "months: Babel"
    assert not re.search(r"\bfail\(|\.commit\(\)|error is not None|run_domain|_json_body|load_new_body", source)
    assert "flask_appbuilder.api import expose, safe" not in source


# --- one error path on pages and in the API -------------------------------------------------------


def _status(app: Flask, reservation_id: int) -> str:
    with app.app_context(), _session(app) as s:
        return s.get(PickupReservation, reservation_id).status


def test_pickup_moves_in_the_api(app: Flask, world: World) -> None:
    rid = world.a.reservation.id
    service = Api(app, "kundeservice")
    response = service.post(f"/pickup_reservation/{rid}/collected")
    assert response.status_code == 409
    assert response.json["message"] == "Reservasjonen må være klar til henting før den kan registreres som hentet."
    assert _status(app, rid) == "reserved"
    response = service.post(f"/pickup_reservation/{rid}/ready")
    assert response.status_code == 200 and response.json["result"]["status"] == "ready"
    assert service.post(f"/pickup_reservation/{rid}/collected").json["result"]["status"] == "collected"
    response = service.post(f"/pickup_reservation/{rid}/expire")
    assert response.status_code == 409 and "avsluttet" in response.json["message"]
    customer = Api(app, "hansen.bruker")
    assert customer.post(f"/pickup_reservation/{world.b.reservation.id}/cancel").status_code == 404
    assert customer.post(f"/pickup_reservation/{world.a.reservation.id}/ready").status_code == 403
    assert customer.post("/pickup_reservation/99999999999/cancel").status_code == 404
    assert _status(app, world.b.reservation.id) == "reserved"
    admin = Api(app, "admin")
    spec = admin.client.get(f"{API}/_openapi", headers=admin.headers).json["paths"]
    move = spec[f"{API}/pickup_reservation/{{pk}}/ready"]["post"]
    assert move["summary"] == "Mark a reserved reservation ready for pickup"
    # 400: every request's input is checked (app/inputs.py); 401/403: token and permission (app/api/openapi.py).
    assert set(move["responses"]) == {"200", "400", "401", "403", "404", "409", "500"}


def test_pickup_code_and_items_are_the_domains(app: Flask, world: World) -> None:
    service = Api(app, "kundeservice")
    body = {
        "company_id": world.a.company.id,
        "store_id": world.store.id,
        "status": "reserved",
        "pickup_deadline": "2030-01-01T12:00:00+00:00",
        "items": [],
    }
    response = service.post("/pickup_reservation/", body)
    assert response.status_code == 400 and response.json["message"] == {"items": ["Legg til minst én vare."]}
    body["items"] = [{"sku": "STOL-1", "quantity": 0}]
    assert service.post("/pickup_reservation/", body).json["message"] == {
        "items": ["Hver vare trenger sku og et antall større enn null."]
    }
    body["items"] = [{"sku": "STOL-1", "name": "Stol", "quantity": 2}]
    code = service.post("/pickup_reservation/", body).json["result"]["pickup_code"]
    assert len(code) == pickup.CODE_LENGTH and set(code) <= set(pickup.CODE_ALPHABET)


def test_pickup_deadline_is_the_domains_rule_in_the_api_too(app: Flask, world: World) -> None:
    rid = world.a.reservation.id
    service = Api(app, "kundeservice")
    later = "2030-01-01T12:00:00+00:00"
    response = service.put(f"/pickup_reservation/{rid}", {"pickup_deadline": later})
    assert response.status_code == 200 and response.json["result"]["pickup_deadline"].startswith("2030-01-01T12:00")
    assert service.post(f"/pickup_reservation/{rid}/cancel").status_code == 200
    response = service.put(f"/pickup_reservation/{rid}", {"pickup_deadline": "2031-01-01T12:00:00+00:00"})
    assert response.status_code == 400 and response.json["message"] == {
        "pickup_deadline": ["Fristen kan bare endres for en aktiv reservasjon."]
    }
    assert (
        service.put(
            f"/pickup_reservation/{rid}",
            {"pickup_deadline": later, "items": [{"sku": "STOL-1", "name": "Stol", "quantity": 3}]},
        ).status_code
        == 200
    )  # the same deadline: no change
    with app.app_context(), _session(app) as s:
        reservation = s.get(PickupReservation, rid)
        assert reservation.pickup_deadline == dt.datetime(2030, 1, 1, 12, tzinfo=UTC)
        assert reservation.items[0]["quantity"] == 3


def test_pickup_move_refused_on_the_page(app: Flask, world: World) -> None:
    rid = world.a.reservation.id
    client = _client(app, "kundeservice")
    response = client.post(f"/pickupreservationview/collected/{rid}", follow_redirects=True)
    assert "Reservasjonen må være klar til henting" in response.get_data(as_text=True)
    assert _status(app, rid) == "reserved"
    response = client.post(f"/pickupreservationview/ready/{rid}", follow_redirects=True)
    assert "Reservasjonen er klar til henting." in response.get_data(as_text=True) and _status(app, rid) == "ready"
    assert (
        _client(app, "hansen.bruker").post(f"/pickupreservationview/cancel/{world.b.reservation.id}").status_code == 404
    )


def test_inquiry_api_refusals(app: Flask, world: World) -> None:
    service = Api(app, "kundeservice")
    a, b = world.a.inquiry.id, world.b.inquiry.id
    response = service.put(f"/inquiry/{a}", {"company_id": world.b.company.id, "subject": "Flyttet"})
    assert response.status_code == 400 and list(response.json["message"]) == ["company_id"]
    assert service.put(f"/inquiry/{a}", {"status": "nesten"}).status_code == 400
    assert service.put("/inquiry/99999999999", {"subject": "x"}).status_code == 404
    response = service.put(f"/inquiry/{a}", {"company_id": world.a.company.id, "subject": "Nytt emne"})
    assert response.status_code == 200 and response.json["result"]["subject"] == "Nytt emne"
    customer = Api(app, "hansen.bruker")
    assert customer.put(f"/inquiry/{b}", {"subject": "x"}).status_code in (403, 404)
    assert customer.post(f"/inquiry/{b}/message", {"message": "Hei"}).status_code == 404
    response = customer.client.post(f"{API}/inquiry/{a}/message", data="Hei", headers=customer.headers)
    assert response.status_code == 400
    assert customer.post(f"/inquiry/{a}/message", {"message": "Hei", "extra": 1}).status_code == 400
    with app.app_context(), _session(app) as s:
        assert s.get(Inquiry, a).subject == "Nytt emne" and s.get(Inquiry, b).subject == "Spørsmål fra berg"


def test_closing_an_inquiry_twice_on_the_page(app: Flask, world: World) -> None:
    client = _client(app, "kundeservice")
    first = client.post(f"/inquiryview/close/{world.a.inquiry.id}", follow_redirects=True).get_data(as_text=True)
    assert "Henvendelsen er lukket." in first
    again = client.post(f"/inquiryview/close/{world.a.inquiry.id}", follow_redirects=True).get_data(as_text=True)
    assert "Henvendelsen er allerede lukket." in again
    assert client.post("/inquiryview/close/99999999999").status_code == 404


def test_budget_amount_limit_is_one_rule_for_page_and_api(app: Flask, world: World) -> None:
    too_large = "10000000000.00"
    response = Api(app, "hansen.admin").post("/budget/", {"period": "month", "amount": too_large})
    assert response.status_code == 400 and response.json["message"] == {"amount": ["Beløpet er for stort."]}
    page = _client(app, "hansen.admin").post(
        "/budgetview/add", data={"period": "month", "amount": "10000000000", "user": "__None", "active": "y"}
    )
    assert page.status_code == 200 and "Beløpet er for stort." in page.get_data(as_text=True)
    response = Api(app, "hansen.admin").post("/budget/", {"period": "month", "amount": "9999999999.99"})
    assert response.status_code == 201, response.json
    with app.app_context(), _session(app) as s:
        assert s.scalar(select(Budget.amount).where(Budget.id == response.json["id"])) == Decimal("9999999999.99")
