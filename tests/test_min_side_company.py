"""Min side: Bedriftsinformasjon, Leveringsadresser, Henvendelser and Klikk og Hent.

Each rule through the page and the REST API, per role: postal-address-only for customer admins,
customer service changing everything with the change log recorded and shown, the mod-11 org
number, addresses deactivated (never deleted, used ones kept as they were), postal code errors
next to the field, inquiry threads / queue / answer mail / close, reservation moves and the
customer's cancel, and another company's rows answering 404 with nothing changed.

Rows are read with a plain session outside any request (no tenant scope). Runs on SQLite and,
with TEST_DATABASE_URL, on PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from app.domain import companies, inquiries, pickup
from app.domain.errors import AlreadyHandled, Forbidden, NotAllowed, ValidationFailed
from app.domain.formatting import format_oslo_datetime
from app.models import (
    Company,
    CompanyChange,
    DeliveryAddress,
    Inquiry,
    InquiryMessage,
    Order,
    PickupReservation,
    StandingOrder,
    utcnow,
)
from tests.factories import World
from tests.helpers import Caller, actor, client_as, count_rows, db_session, load, outbox, text_of

API = "/api/v1"
NOTE = "Endres av oss — kontakt kundeservice"


def _changes(app: Flask, company_id: int) -> list[CompanyChange]:
    """Changes logged by a logged-in user (the test world also holds one made without an actor)."""
    with db_session(app) as s:
        return list(
            s.scalars(
                select(CompanyChange)
                .where(CompanyChange.company_id == company_id, CompanyChange.actor_id.is_not(None))
                .order_by(CompanyChange.id)
            )
        )


def _errors(response: Any) -> dict[str, list[str]]:
    assert response.status_code == 400, (response.status_code, response.get_data(as_text=True))
    message = response.json["message"]
    assert isinstance(message, dict), message
    return message


def _field_error(html: str, field: str) -> str:
    """The error text FAB renders under a form field (lib.render_field: an alert after the input)."""
    match = re.search(rf'name="{field}"[^>]*>.*?<div class="alert alert-danger">\s*(.*?)\s*</div>', html, re.S)
    assert match, f"no error shown next to {field}"
    return re.sub(r"\s+", " ", match.group(1)).strip()


# --- Bedriftsinformasjon: customer admin, postal address only ------------------------------


def test_customer_admin_edit_page_has_postal_fields_and_read_only_rest(app: Flask, world: World) -> None:
    client = client_as(app, "hansen.admin")
    show = text_of(client.get(f"/mycompanyview/show/{world.a.company.id}"))
    assert "Endre postadresse" in show and "10001" in show
    html = text_of(client.get(f"/mycompanyview/edit/{world.a.company.id}"))
    assert re.search(r'<input[^>]*name="postal_street"(?![^>]*disabled)', html)
    name_input = re.search(r'<input[^>]*name="name"[^>]*>', html).group(0)
    assert "disabled" in name_input and 'value="Hansen AS"' in name_input
    assert html.count(NOTE) >= 8  # every read-only field carries the note
    assert "Forhandler" in html and "200\u00a0000,00\u00a0kr" in html  # labels, not codes
    # Customer users do not get the page at all.
    assert client_as(app, "hansen.bruker").get(f"/mycompanyview/edit/{world.a.company.id}").status_code == 403


def test_customer_admin_changes_postal_address_on_the_page(app: Flask, world: World) -> None:
    client = client_as(app, "hansen.admin")
    company_id = world.a.company.id
    response = client.post(
        f"/mycompanyview/edit/{company_id}",
        data={
            "postal_street": "Postboks 12",
            "postal_code": "2815",
            "postal_city": "Gjøvik",
            "name": "Kapret AS",
            "credit_limit": "99999999",
            "org_number": "123",
        },
    )  # read-only: ignored
    assert response.status_code == 302
    company = load(app, Company, company_id)
    assert (company.postal_street, company.postal_code, company.postal_city) == ("Postboks 12", "2815", "Gjøvik")
    assert (company.name, company.credit_limit, company.org_number) == ("Hansen AS", Decimal("200000.00"), "923609016")
    log = _changes(app, company_id)
    assert {(c.field, c.old_value, c.new_value) for c in log} == {
        ("postal_street", "Storgata 1", "Postboks 12"),
        ("postal_code", "0155", "2815"),
        ("postal_city", "Oslo", "Gjøvik"),
    }
    assert {c.actor_id for c in log} == {world.a.admin.id} and log[0].actor_name == "Hansen Testesen"
    show = text_of(client.get(f"/mycompanyview/show/{company_id}"))
    assert "Endringslogg" in show and "Storgata 1" in show and "Postboks 12" in show
    assert format_oslo_datetime(log[0].at) in show


def test_customer_admin_postal_code_error_is_next_to_the_field(app: Flask, world: World) -> None:
    client = client_as(app, "hansen.admin")
    response = client.post(
        f"/mycompanyview/edit/{world.a.company.id}",
        data={"postal_street": "Postboks 12", "postal_code": "28A5", "postal_city": "Gjøvik"},
    )
    assert response.status_code == 200
    html = text_of(response)
    assert "fire sifre" in _field_error(html, "postal_code")
    assert 'value="Hansen AS"' in html  # read-only values shown again after the error
    # An incomplete address: the domain names the missing field, next to it.
    html = text_of(
        client.post(
            f"/mycompanyview/edit/{world.a.company.id}",
            data={"postal_street": "Postboks 12", "postal_code": "2815", "postal_city": ""},
        )
    )
    assert "hele postadressen" in _field_error(html, "postal_city")
    assert load(app, Company, world.a.company.id).postal_street == "Storgata 1"
    assert _changes(app, world.a.company.id) == []


def test_customer_admin_api_postal_only(app: Flask, world: World) -> None:
    admin = Caller(app, "hansen.admin", prefix=API)
    url = f"/company/{world.a.company.id}"
    response = admin.put(url, {"postal_street": "Postboks 7", "postal_code": "0150", "postal_city": "Oslo"})
    assert response.status_code == 200, response.json
    assert response.json["result"]["postal_street"] == "Postboks 7"
    assert {c["field"] for c in response.json["result"]["changes"][:2]} == {"postal_street", "postal_code"}
    # A non-postal field: 400 naming it, with the note; nothing of the body is saved.
    errors = _errors(admin.put(url, {"name": "Nytt Navn AS", "postal_city": "Bergen", "credit_limit": "1"}))
    assert errors == {"name": [NOTE], "credit_limit": [NOTE]}
    company = load(app, Company, world.a.company.id)
    assert (company.name, company.postal_city, company.credit_limit) == ("Hansen AS", "Oslo", Decimal("200000.00"))
    # Sending back a field unchanged is no change (a client may PUT what it read).
    assert admin.put(url, {"name": "Hansen AS", "postal_city": "Oslo"}).status_code == 200
    assert _errors(admin.put(url, {"customer_number": "1"})) == {"customer_number": ["Kundenummeret kan ikke endres."]}
    assert "postal_code" in _errors(admin.put(url, {"postal_code": "123"}))
    # Customer users may not PUT at all; another company's row is 404 and unchanged.
    assert Caller(app, "hansen.bruker", prefix=API).put(url, {"postal_city": "Bergen"}).status_code == 403
    assert admin.put(f"/company/{world.b.company.id}", {"postal_city": "Bergen"}).status_code == 404
    assert load(app, Company, world.b.company.id).postal_city == "Oslo"
    assert _changes(app, world.b.company.id) == []


def test_foreign_company_pages_are_404(app: Flask, world: World) -> None:
    client = client_as(app, "hansen.admin")
    b = world.b.company.id
    assert client.get(f"/mycompanyview/show/{b}").status_code == 404
    assert client.get(f"/mycompanyview/edit/{b}").status_code == 404
    assert (
        client.post(
            f"/mycompanyview/edit/{b}", data={"postal_street": "X", "postal_code": "1234", "postal_city": "Y"}
        ).status_code
        == 404
    )
    assert load(app, Company, b).postal_street == "Storgata 1"


# --- Bedriftsinformasjon: customer service edits everything, logged ------------------------


def test_customer_service_edits_all_fields_with_change_log(app: Flask, world: World) -> None:
    client = client_as(app, "kundeservice")
    company_id = world.a.company.id
    response = client.post(
        f"/companyview/edit/{company_id}",
        data={
            "name": "Hansen Møbler AS",
            "org_number": "974760673",
            "kind": "webshop",
            "payment_terms": "card",
            "credit_limit": "150000",
            "requires_approval": "",
            "postal_street": "Storgata 1",
            "postal_code": "0155",
            "postal_city": "Oslo",
            "email": "post@hansen.no",
            "phone": "+47 22 00 00 00",
            "active": "y",
        },
    )
    assert response.status_code == 302
    company = load(app, Company, company_id)
    assert (
        company.name,
        company.org_number,
        company.kind,
        company.payment_terms,
        company.credit_limit,
        company.requires_approval,
    ) == ("Hansen Møbler AS", "974760673", "webshop", "card", Decimal("150000.00"), False)
    log = {c.field: (c.old_value, c.new_value, c.actor_name) for c in _changes(app, company_id)}
    assert log == {
        "name": ("Hansen AS", "Hansen Møbler AS", "Kundeservice Testesen"),
        "org_number": ("923609016", "974760673", "Kundeservice Testesen"),
        "kind": ("dealer", "webshop", "Kundeservice Testesen"),
        "payment_terms": ("invoice", "card", "Kundeservice Testesen"),
        "credit_limit": ("200000.00", "150000.00", "Kundeservice Testesen"),
        "requires_approval": ("true", "false", "Kundeservice Testesen"),
        "email": (None, "post@hansen.no", "Kundeservice Testesen"),
        "phone": (None, "+47 22 00 00 00", "Kundeservice Testesen"),
    }  # unchanged fields (postal address, active) are not logged
    show = text_of(client.get(f"/companyview/show/{company_id}"))
    assert "Endringslogg" in show
    for text in (
        "Kundeservice Testesen",
        "Forhandler",
        "Nettbutikkunde",
        "200\u00a0000,00\u00a0kr",
        "150\u00a0000,00\u00a0kr",
        "Hansen Møbler AS",
        "Krever godkjenning",
    ):
        assert text in show, text
    at = _changes(app, company_id)[0].at
    assert format_oslo_datetime(at) in show
    # The customer admin sees who changed what on its own page too.
    assert "Hansen Møbler AS" in text_of(client_as(app, "hansen.admin").get(f"/mycompanyview/show/{company_id}"))


def test_org_number_mod11_on_page_and_api(app: Flask, world: World) -> None:
    client = client_as(app, "kundeservice")
    company_id = world.a.company.id
    html = text_of(
        client.post(
            f"/companyview/edit/{company_id}",
            data={
                "name": "Hansen AS",
                "org_number": "923609017",
                "kind": "dealer",
                "payment_terms": "invoice",
                "credit_limit": "200000",
                "requires_approval": "y",
                "active": "y",
            },
        )
    )
    assert "kontrollsifferet" in _field_error(html, "org_number")
    service = Caller(app, "kundeservice", prefix=API)
    errors = _errors(service.put(f"/company/{company_id}", {"org_number": "923609017", "name": "Ny AS"}))
    assert list(errors) == ["org_number"] and "kontrollsifferet" in errors["org_number"][0]
    assert _errors(service.put(f"/company/{company_id}", {"org_number": "12345"}))["org_number"] == [
        "Organisasjonsnummer må være ni sifre."
    ]
    assert load(app, Company, company_id).name == "Hansen AS"  # nothing half-saved
    response = service.put(
        f"/company/{company_id}", {"org_number": "974 760 673", "credit_limit": "50000.5", "requires_approval": False}
    )
    assert response.status_code == 200, response.json
    assert response.json["result"]["org_number"] == "974760673"
    assert response.json["result"]["credit_limit"] == "50000.50"
    assert _errors(
        service.put(f"/company/{company_id}", {"kind": "shop", "credit_limit": -1, "requires_approval": "kanskje"})
    ).keys() >= {"kind"}
    assert {c.field for c in _changes(app, company_id)} == {"org_number", "credit_limit", "requires_approval"}


def test_company_rules_in_the_domain(app: Flask, world: World) -> None:
    from app.extensions import db

    with app.app_context():
        seller = actor(world.staff["Seller"], "Seller")
        user = actor(world.a.user, "CustomerUser")
        admin = actor(world.a.admin, "CustomerAdmin")
        with pytest.raises(Forbidden):
            companies.update_company(db.session, world.a.company.id, seller, {"name": "X"})
        with pytest.raises(Forbidden):
            companies.update_company(db.session, world.a.company.id, user, {"postal_city": "X"})
        with pytest.raises(ValidationFailed) as exc:
            companies.update_company(db.session, world.a.company.id, admin, {"payment_terms": "card"})
        assert exc.value.errors == {"payment_terms": NOTE}
        assert companies.update_company(db.session, world.a.company.id, admin, {"postal_city": "Oslo"}) == []
        db.session.rollback()


# --- Leveringsadresser -----------------------------------------------------------------------


def test_customer_admin_adds_address_with_postal_code_error_next_to_field(app: Flask, world: World) -> None:
    client = client_as(app, "hansen.admin")
    before = count_rows(app, DeliveryAddress)
    html = text_of(
        client.post(
            "/deliveryaddressview/add",
            data={
                "recipient_name": "Nytt lager",
                "street": "Industriveien 9",
                "postal_code": "123",
                "city": "Hamar",
                "active": "y",
            },
        )
    )
    assert "fire sifre" in _field_error(html, "postal_code")
    assert count_rows(app, DeliveryAddress) == before
    assert (
        client.post(
            "/deliveryaddressview/add",
            data={
                "recipient_name": "Nytt lager",
                "street": "Industriveien 9",
                "postal_code": "2317",
                "city": "Hamar",
                "active": "y",
            },
        ).status_code
        == 302
    )
    with db_session(app) as s:
        created = s.scalars(select(DeliveryAddress).where(DeliveryAddress.recipient_name == "Nytt lager")).one()
        assert (created.company_id, created.active) == (world.a.company.id, True)
    # A customer user reads the addresses but cannot add one.
    user = client_as(app, "hansen.bruker")
    assert "Nytt lager" in text_of(user.get("/deliveryaddressview/list/"))
    assert user.get("/deliveryaddressview/add").status_code == 403


def test_address_is_deactivated_never_deleted(app: Flask, world: World) -> None:
    address_id = world.a.address.id  # used by company A's order, quote and standing order
    client = client_as(app, "hansen.admin")
    assert client.post(f"/deliveryaddressview/delete/{address_id}").status_code in (403, 404, 405)
    admin = Caller(app, "hansen.admin", prefix=API)
    assert admin.delete(f"/delivery_address/{address_id}").status_code in (403, 404, 405)
    assert load(app, DeliveryAddress, address_id) is not None
    # An active standing order delivers there: deactivating is refused, next to the field.
    errors = _errors(admin.put(f"/delivery_address/{address_id}", {"active": False}))
    assert list(errors) == ["active"] and "Ukentlig påfyll" in errors["active"][0]
    with db_session(app) as s:
        s.get(StandingOrder, world.a.standing_order.id).active = False
        s.commit()
    response = admin.put(f"/delivery_address/{address_id}", {"active": False})
    assert response.status_code == 200 and response.json["id"] == address_id
    address = load(app, DeliveryAddress, address_id)
    assert address.active is False
    assert load(app, Order, world.a.order.id).delivery_address_id == address_id  # old order keeps it
    # Reactivate through the page.
    assert (
        client.post(
            f"/deliveryaddressview/edit/{address_id}",
            data={
                "recipient_name": "hansen lager",
                "street": "Lagerveien 2",
                "postal_code": "2815",
                "city": "Gjøvik",
                "active": "y",
            },
        ).status_code
        == 302
    )
    assert load(app, DeliveryAddress, address_id).active is True


def test_changing_a_used_address_keeps_the_old_one_for_old_documents(app: Flask, world: World) -> None:
    address_id = world.a.address.id
    admin = Caller(app, "hansen.admin", prefix=API)
    before = count_rows(app, DeliveryAddress)
    response = admin.put(f"/delivery_address/{address_id}", {"street": "Nyveien 5", "postal_code": "2816"})
    assert response.status_code == 200, response.json
    new_id = response.json["id"]
    assert new_id != address_id and response.json["replaced_id"] == address_id
    assert response.json["result"]["street"] == "Nyveien 5" and response.json["result"]["city"] == "Gjøvik"
    assert count_rows(app, DeliveryAddress) == before + 1
    old = load(app, DeliveryAddress, address_id)
    assert (old.street, old.postal_code, old.active) == ("Lagerveien 2", "2815", False)
    assert load(app, Order, world.a.order.id).delivery_address_id == address_id
    assert load(app, StandingOrder, world.a.standing_order.id).delivery_address_id == new_id  # future deliveries
    # An address no order or quote uses (only the standing order) is changed in place.
    response = admin.put(f"/delivery_address/{new_id}", {"recipient_name": "Hovedlager"})
    assert response.status_code == 200 and response.json["id"] == new_id and "replaced_id" not in response.json
    # The page says what happened when it saves a new address.
    client = client_as(app, "hansen.admin")
    with db_session(app) as s:
        s.add(Order(company_id=world.a.company.id, number="10001-9", delivery_address_id=new_id))
        s.commit()
    response = client.post(
        f"/deliveryaddressview/edit/{new_id}",
        data={
            "recipient_name": "Hovedlager",
            "street": "Nyveien 7",
            "postal_code": "2816",
            "city": "Gjøvik",
            "active": "y",
        },
        follow_redirects=True,
    )
    assert "lagret som en ny adresse" in text_of(response)
    assert load(app, DeliveryAddress, new_id).street == "Nyveien 5"


def test_address_api_errors_and_foreign_rows(app: Flask, world: World) -> None:
    admin = Caller(app, "hansen.admin", prefix=API)
    errors = _errors(
        admin.post(
            "/delivery_address/", {"recipient_name": "", "street": "Vei 1", "postal_code": "12a4", "city": "Hamar"}
        )
    )
    assert set(errors) == {"recipient_name", "postal_code"}
    assert _errors(
        admin.post(
            "/delivery_address/",
            {"recipient_name": "A", "street": "B", "postal_code": "1234", "city": "C", "colour": "x"},
        )
    ) == {"colour": ["Ukjent felt."]}
    assert admin.put(f"/delivery_address/{world.b.address.id}", {"active": False}).status_code == 404
    assert load(app, DeliveryAddress, world.b.address.id).active is True
    client = client_as(app, "hansen.admin")
    assert (
        client.post(
            f"/deliveryaddressview/edit/{world.b.address.id}",
            data={"recipient_name": "x", "street": "y", "postal_code": "1234", "city": "z"},
        ).status_code
        == 404
    )
    assert load(app, DeliveryAddress, world.b.address.id).street == "Lagerveien 2"
    user = Caller(app, "hansen.bruker", prefix=API)
    assert user.put(f"/delivery_address/{world.a.address.id}", {"city": "X"}).status_code == 403


# --- Henvendelser --------------------------------------------------------------------------


def test_inquiry_thread_answer_mail_reply_and_close_through_the_api(app: Flask, world: World) -> None:
    user = Caller(app, "hansen.bruker", prefix=API)
    assert _errors(user.post("/inquiry/", {"subject": "Sofa"})) == {"message": ["Skriv en melding."]}
    assert _errors(user.post("/inquiry/", {"subject": " ", "message": "Hei"})) == {"subject": ["Skriv et emne."]}
    response = user.post("/inquiry/", {"subject": "Når kommer sofaen?", "message": "Ordre 10001-1"})
    assert response.status_code == 201, response.json
    inquiry_id = response.json["id"]
    result = response.json["result"]
    assert (result["status"], result["channel"], result["company_id"]) == ("open", "portal", world.a.company.id)
    assert [m["body"] for m in result["messages"]] == ["Ordre 10001-1"]

    service = Caller(app, "kundeservice", prefix=API)
    response = service.post(f"/inquiry/{inquiry_id}/message", {"message": "Den kommer på fredag."})
    assert response.status_code == 201, response.json
    assert response.json["result"]["status_label"] == "Besvart"
    assert [m["from_supplier"] for m in response.json["result"]["messages"]] == [False, True]
    mail = outbox(app, kind="inquiry_answered")[-1]
    assert mail.to_address == world.a.user.email and "Den kommer på fredag." in mail.body_text
    assert f"/inquiryview/show/{inquiry_id}" in mail.body_text

    response = user.post(f"/inquiry/{inquiry_id}/message", {"message": "Takk! Hvilket klokkeslett?"})
    assert response.status_code == 201 and response.json["result"]["status"] == "open"
    assert len(outbox(app, kind="inquiry_answered")) == 1  # the customer's own reply mails nobody
    assert _errors(user.post(f"/inquiry/{inquiry_id}/message", {"message": ""})) == {"message": ["Skriv en melding."]}

    assert user.post(f"/inquiry/{inquiry_id}/close").status_code == 403
    assert service.post(f"/inquiry/{inquiry_id}/close").json["result"]["status"] == "closed"
    assert service.post(f"/inquiry/{inquiry_id}/close").status_code == 409
    before = count_rows(app, InquiryMessage, inquiry_id=inquiry_id)
    assert user.post(f"/inquiry/{inquiry_id}/message", {"message": "Hallo?"}).status_code == 409
    assert count_rows(app, InquiryMessage, inquiry_id=inquiry_id) == before
    # Sellers and managers read inquiries but do not write in them.
    assert Caller(app, "selger", prefix=API).post(f"/inquiry/{inquiry_id}/message", {"message": "x"}).status_code == 403


def test_foreign_inquiry_is_404_and_unchanged(app: Flask, world: World) -> None:
    b = world.b.inquiry.id
    before = count_rows(app, InquiryMessage, inquiry_id=b)
    user = Caller(app, "hansen.bruker", prefix=API)
    assert user.post(f"/inquiry/{b}/message", {"message": "Hei"}).status_code == 404
    client = client_as(app, "hansen.bruker")
    assert client.post(f"/inquiryview/reply/{b}", data={"message": "Hei"}).status_code == 404
    assert client.get(f"/inquiryview/show/{b}").status_code == 404
    assert count_rows(app, InquiryMessage, inquiry_id=b) == before
    assert load(app, Inquiry, b).status == "open"


def test_inquiry_pages_new_reply_error_answer_and_close(app: Flask, world: World) -> None:
    customer = client_as(app, "hansen.admin")
    response = customer.post("/inquiryview/add", data={"subject": "Feil farge", "message": "Stolen er blå."})
    assert response.status_code == 302 and "/inquiryview/show/" in response.headers["Location"]
    inquiry_id = int(response.headers["Location"].rstrip("/").rsplit("/", 1)[-1])
    # An empty reply: the error is next to the reply field, nothing is saved.
    html = text_of(customer.post(f"/inquiryview/reply/{inquiry_id}", data={"message": "  "}))
    assert re.search(r'has-error.*?name="message".*?Skriv en melding\.', html, re.S)
    assert count_rows(app, InquiryMessage, inquiry_id=inquiry_id) == 1

    service = client_as(app, "kundeservice")
    page = text_of(service.get(f"/inquiryview/show/{inquiry_id}"))
    assert "Lukk henvendelsen" in page and "Svar til kunden" in page
    assert service.post(f"/inquiryview/reply/{inquiry_id}", data={"message": "Vi sender en ny."}).status_code == 302
    assert load(app, Inquiry, inquiry_id).status == "answered"
    assert outbox(app, kind="inquiry_answered")[-1].to_address == world.a.admin.email
    page = text_of(customer.get(f"/inquiryview/show/{inquiry_id}"))
    assert "Vi sender en ny." in page and "Besvart" in page and "Lukk henvendelsen" not in page
    assert customer.post(f"/inquiryview/close/{inquiry_id}").status_code == 403
    assert service.post(f"/inquiryview/close/{inquiry_id}").status_code == 302
    page = text_of(customer.get(f"/inquiryview/show/{inquiry_id}"))
    assert "Lukket" in page and "Send svar" not in page


def test_customer_service_queue_is_open_first_oldest_first(app: Flask, world: World) -> None:
    now = utcnow()
    with db_session(app) as s:
        for subject, status, days in (
            ("Q-gammel-lukket", "closed", 9),
            ("Q-ny-åpen", "open", 1),
            ("Q-gammel-besvart", "answered", 8),
            ("Q-gammel-åpen", "open", 7),
        ):
            s.add(
                Inquiry(
                    company_id=world.b.company.id,
                    subject=subject,
                    status=status,
                    created_at=now - dt.timedelta(days=days),
                )
            )
        s.commit()
    # Only this test's subjects: a page's random tokens (CSRF, CSP nonce) may hold "Q-" too.
    subjects = r"Q-(?:gammel|ny)-[\wæøå]+"
    html = text_of(client_as(app, "kundeservice").get("/inquiryview/list/?psize_InquiryView=100"))
    order = re.findall(subjects, html)
    assert order == ["Q-gammel-åpen", "Q-ny-åpen", "Q-gammel-besvart", "Q-gammel-lukket"], order
    # The world's own open inquiries (made just now) come after the older open ones, before answered.
    html_index = {s: html.index(s) for s in ("Q-ny-åpen", world.a.inquiry.subject, "Q-gammel-besvart")}
    assert html_index["Q-ny-åpen"] < html_index[world.a.inquiry.subject] < html_index["Q-gammel-besvart"]
    # Customers see their own company's, newest first.
    customer = text_of(client_as(app, "berg.bruker").get("/inquiryview/list/"))
    assert re.findall(subjects, customer)[0] == "Q-ny-åpen"
    assert world.a.inquiry.subject not in customer


def test_message_and_close_racing_leave_no_message_in_a_closed_inquiry(app: Flask, world: World) -> None:
    inquiry_id = world.a.inquiry.id
    service = actor(world.staff["CustomerService"], "CustomerService")
    customer = actor(world.a.user, "CustomerUser")
    with db_session(app) as first, db_session(app) as second:
        held = first.get(Inquiry, inquiry_id)  # the customer's request read it while open
        assert held.status == "open"
        inquiries.close_inquiry(second, inquiry_id, service)
        second.commit()
        with pytest.raises(NotAllowed):
            inquiries.add_message(first, inquiry_id, customer, "Hallo?")
        first.rollback()
    assert count_rows(app, InquiryMessage, inquiry_id=inquiry_id) == 1


# --- Klikk og Hent ---------------------------------------------------------------------------


def _reservation(app: Flask, world: World, code: str, status: str, company: str = "a", days: int = 2) -> int:
    with db_session(app) as s:
        row = PickupReservation(
            company_id=getattr(world, company).company.id,
            store_id=world.store.id,
            status=status,
            pickup_code=code,
            pickup_deadline=utcnow() + dt.timedelta(days=days),
            items=[{"sku": "STOL-1", "name": "Kontorstol Basic", "quantity": 2}],
        )
        s.add(row)
        s.commit()
        return row.id


def test_customer_sees_active_and_finished_apart(app: Flask, world: World) -> None:
    _reservation(app, world, "DONE42", "collected")
    _reservation(app, world, "BERG99", "reserved", company="b")
    html = text_of(client_as(app, "hansen.bruker").get("/pickupreservationview/list/"))
    active = html[html.index("Aktive reservasjoner") : html.index("Avsluttede reservasjoner")]
    finished = html[html.index("Avsluttede reservasjoner") :]
    assert "AB12" in active and "DONE42" not in active and "Kanseller" in active
    assert "DONE42" in finished and "Hentet" in finished and "Kanseller" not in finished
    assert "BERG99" not in html
    assert "Butikk Oslo" in active and "1 × Kontorstol Basic (STOL-1)" in active
    assert format_oslo_datetime(world.a.reservation.pickup_deadline) in active  # Oslo time


def test_customer_service_moves_a_reservation_through_its_states(app: Flask, world: World) -> None:
    service = Caller(app, "kundeservice", prefix=API)
    rid = world.a.reservation.id
    assert service.post(f"/pickup_reservation/{rid}/collected").status_code == 409  # not ready yet
    response = service.post(f"/pickup_reservation/{rid}/ready")
    assert response.status_code == 200 and response.json["result"]["status_label"] == "Klar til henting"
    assert service.post(f"/pickup_reservation/{rid}/ready").status_code == 409
    assert service.post(f"/pickup_reservation/{rid}/collected").json["result"]["status"] == "collected"
    for move in ("ready", "expire", "cancel"):
        assert service.post(f"/pickup_reservation/{rid}/{move}").status_code == 409, move
    other = _reservation(app, world, "EXP1", "ready", days=-1)
    assert service.post(f"/pickup_reservation/{other}/expire").json["result"]["status"] == "expired"
    # The status is changed by the moves only, not by PUT.
    third = _reservation(app, world, "PUT1", "reserved")
    assert _errors(service.put(f"/pickup_reservation/{third}", {"status": "collected"})) == {"status": ["Ukjent felt."]}
    # The page: buttons for the moves allowed now.
    client = client_as(app, "kundeservice")
    page = text_of(client.get(f"/pickupreservationview/show/{third}"))
    assert "Klar til henting" in page and "Marker som utløpt" in page and "Registrer som hentet" not in page
    assert client.post(f"/pickupreservationview/ready/{third}").status_code == 302
    assert load(app, PickupReservation, third).status == "ready"


def test_customer_cancels_an_active_reservation_only(app: Flask, world: World) -> None:
    user = Caller(app, "hansen.bruker", prefix=API)
    rid = world.a.reservation.id
    assert user.post(f"/pickup_reservation/{rid}/ready").status_code == 403
    assert user.post(f"/pickup_reservation/{world.b.reservation.id}/cancel").status_code == 404
    assert load(app, PickupReservation, world.b.reservation.id).status == "reserved"
    response = user.post(f"/pickup_reservation/{rid}/cancel")
    assert response.status_code == 200 and response.json["result"]["status_label"] == "Kansellert"
    assert user.post(f"/pickup_reservation/{rid}/cancel").status_code == 409
    # Through the page, from the list.
    other = _reservation(app, world, "PAGE1", "ready")
    client = client_as(app, "hansen.admin")
    response = client.post(f"/pickupreservationview/cancel/{other}", data={"next": "list"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/pickupreservationview/list/")
    assert load(app, PickupReservation, other).status == "cancelled"
    assert client.post(f"/pickupreservationview/ready/{other}").status_code == 403
    assert client.post(f"/pickupreservationview/cancel/{world.b.reservation.id}").status_code == 404


def test_two_moves_at_once_exactly_one_wins(app: Flask, world: World) -> None:
    rid = world.a.reservation.id
    service = actor(world.staff["CustomerService"], "CustomerService")
    customer = actor(world.a.user, "CustomerUser")
    with db_session(app) as first, db_session(app) as second:
        held = first.get(PickupReservation, rid)  # read while reserved (kept: the identity map is weak)
        assert held.status == "reserved"
        pickup.move(second, rid, customer, pickup.CANCELLED)
        second.commit()
        with pytest.raises(AlreadyHandled):
            pickup.move(first, rid, service, pickup.READY)
        first.rollback()
    assert load(app, PickupReservation, rid).status == "cancelled"


def test_customer_service_edit_form_uses_the_same_rules(app: Flask, world: World) -> None:
    client = client_as(app, "kundeservice")
    rid = world.a.reservation.id
    html = text_of(
        client.post(
            f"/pickupreservationview/edit/{rid}", data={"status": "collected", "pickup_deadline": "2030-01-02 12:00:00"}
        )
    )
    assert "klar til henting" in _field_error(html, "status")
    assert load(app, PickupReservation, rid).status == "reserved"
    assert (
        client.post(
            f"/pickupreservationview/edit/{rid}", data={"status": "ready", "pickup_deadline": "2030-01-02 12:00:00"}
        ).status_code
        == 302
    )
    row = load(app, PickupReservation, rid)
    # Typed in Oslo time (winter: UTC+1), kept in UTC.
    assert (row.status, row.pickup_deadline) == ("ready", dt.datetime(2030, 1, 2, 11, 0, tzinfo=dt.UTC))
    assert 'value="2030-01-02 12:00:00"' in text_of(client.get(f"/pickupreservationview/edit/{rid}"))
    # A finished reservation: saving the form untouched changes nothing and refuses nothing new.
    _reservation(app, world, "FIN1", "collected")
    with db_session(app) as s:
        finished = s.scalars(select(PickupReservation).where(PickupReservation.pickup_code == "FIN1")).one()
        shown = format_oslo_datetime(finished.pickup_deadline)
    form = text_of(client.get(f"/pickupreservationview/edit/{finished.id}"))
    value = re.search(r'name="pickup_deadline"[^>]*value="([^"]+)"', form) or re.search(
        r'value="([^"]+)"[^>]*name="pickup_deadline"', form
    )
    assert value and value.group(1)[:10].split("-")[::-1] == shown[:10].split(".")
    assert (
        client.post(
            f"/pickupreservationview/edit/{finished.id}",
            data={"status": "collected", "pickup_deadline": value.group(1)},
        ).status_code
        == 302
    )


def test_customer_service_adds_address_and_opens_inquiry_for_a_company(app: Flask, world: World) -> None:
    client = client_as(app, "kundeservice")
    b = world.b.company.id
    # From the company's page ("+" on its delivery addresses): the company comes from the link.
    response = client.post(
        f"/deliveryaddressview/add?_flt_0_company={b}",
        data={
            "recipient_name": "Berg avd. Åsane",
            "street": "Åsane senter 42",
            "postal_code": "5116",
            "city": "Ulset",
            "active": "y",
        },
    )
    assert response.status_code == 302
    with db_session(app) as s:
        assert (
            s.scalars(
                select(DeliveryAddress.company_id).where(DeliveryAddress.recipient_name == "Berg avd. Åsane")
            ).one()
            == b
        )
    html = text_of(
        client.post(
            "/deliveryaddressview/add",
            data={"company": "99999", "recipient_name": "X", "street": "Y", "postal_code": "1234", "city": "Z"},
        )
    )
    assert "Fant ingen bedrift" in _field_error(html, "company")
    service = Caller(app, "kundeservice", prefix=API)
    assert _errors(service.post("/inquiry/", {"subject": "Telefon", "message": "Ringte om levering"})) == {
        "company_id": ["Velg bedriften henvendelsen gjelder."]
    }
    response = service.post(
        "/inquiry/", {"company_id": b, "subject": "Telefon", "message": "Ringte om levering", "channel": "contact_form"}
    )
    assert response.status_code == 201, response.json
    assert (response.json["result"]["company_id"], response.json["result"]["channel"]) == (b, "contact_form")
    assert response.json["result"]["messages"][0]["from_supplier"] is True
