"""Company and account rules that live once in app/domain and answer the same on the page and in the API.

* A new company: the customer number (digits, not taken) is checked by `companies.create_company`
  for the add form and for POST /api/v1/company/ alike; a number taken by a parallel request
  meets the unique constraint and is answered as the same field error (no 500, nothing written).
* E-mail (email-validator, no DNS) and phone: app/domain/validation.py for companies, users,
  Min profil, their forms and the API.
* Company field labels: one table for pages, API and the change log.
* Who may create companies and manage users: the role groups of app/roles.py.
* The welcome and new-link mails: templates, with the texts they always had.

Runs on SQLite and, with TEST_DATABASE_URL, on PostgreSQL.
"""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.domain import accounts, companies
from app.domain.actors import Actor
from app.domain.errors import Forbidden, ValidationFailed
from app.domain.validation import InvalidValue, validate_email, validate_phone
from app.models import Company, MailOutbox, PortalUser
from tests.factories import World
from tests.helpers import Caller
from tests.helpers import client_as as _page
from tests.helpers import db_session as _session
from tests.test_min_side_company import _errors, _field_error

DIGITS_ONLY = "Kundenummeret består av siffer."
TAKEN = "Kundenummeret er allerede i bruk."
BAD_EMAIL = "Ugyldig e-postadresse."
BAD_PHONE = "Skriv et telefonnummer med siffer, for eksempel +47 22 00 00 00."
# Refused by email-validator (two dots in a row); the old pattern let it through.
INVALID_EMAIL = "ola..nordmann@hansen.no"


def Api(app: Any, username: str) -> Caller:  # noqa: N802 - reads like the client it builds
    return Caller(app, username, prefix="/api/v1")


# --- helpers --------------------------------------------------------------------------------


def _companies(app: Flask, number: str | None = None) -> int:
    with _session(app) as s:
        stmt = select(func.count(Company.id))
        if number is not None:
            stmt = stmt.where(Company.customer_number == number)
        return s.scalar(stmt) or 0


def _help_error(html: str, field: str) -> str:
    """The error our own forms (Ny bruker, Min profil) show under a field."""
    match = re.search(rf'<span class="help-block" id="{field}-error">(.*?)</span>', html, re.S)
    assert match, f"no error shown next to {field}"
    return html_lib.unescape(match.group(1).strip())


def _company_form(**values: str) -> dict[str, str]:
    return {
        "customer_number": "20001",
        "name": "Fjord Møbler AS",
        "org_number": "974760673",
        "kind": "dealer",
        "payment_terms": "invoice",
        "credit_limit": "50000",
        "requires_approval": "y",
        "postal_street": "",
        "postal_code": "",
        "postal_city": "",
        "email": "",
        "phone": "",
        "active": "y",
        **values,
    }


def _company_body(**values: Any) -> dict[str, Any]:
    return {"customer_number": "20001", "name": "Fjord Møbler AS", "org_number": "974760673", **values}


def _actor(user: Any, role: str) -> Actor:
    return Actor(
        id=user.id,
        name=f"{user.first_name} {user.last_name}",
        company_id=user.company_id,
        roles=frozenset({role}),
        email=user.email,
    )


# --- a new company: the customer number --------------------------------------------------------


def test_letters_in_a_customer_number_are_refused_alike_by_form_and_api(app: Flask, world: World) -> None:
    before = _companies(app)
    page = _page(app, "kundeservice").post("/companyview/add", data=_company_form(customer_number="ABC"))
    assert page.status_code == 200
    shown = _field_error(page.get_data(as_text=True), "customer_number")
    errors = _errors(Api(app, "kundeservice").post("/company/", _company_body(customer_number="ABC")))
    assert shown == DIGITS_ONLY and errors == {"customer_number": [DIGITS_ONLY]}
    with app.test_request_context():
        assert str(companies.MSG_CUSTOMER_NUMBER_FORMAT) == DIGITS_ONLY  # the one rule's message
    assert _companies(app) == before


@pytest.mark.parametrize("number", ["ABC", "12 34", "-1", "1" * 21, ""])
def test_the_domain_owns_the_customer_number_format(app: Flask, world: World, number: str) -> None:
    from app.extensions import db

    service = _actor(world.staff["CustomerService"], "CustomerService")
    with app.test_request_context():
        with pytest.raises(ValidationFailed) as refused:
            companies.create_company(db.session, service, _company_body(customer_number=number))
        db.session.rollback()
    assert list(refused.value.errors) == ["customer_number"]


def test_a_taken_customer_number_is_a_field_error_on_both_faces(app: Flask, world: World) -> None:
    before = _companies(app)
    page = _page(app, "kundeservice").post("/companyview/add", data=_company_form(customer_number="10001"))
    assert page.status_code == 200
    assert _field_error(page.get_data(as_text=True), "customer_number") == TAKEN
    errors = _errors(Api(app, "kundeservice").post("/company/", _company_body(customer_number="10001")))
    assert errors == {"customer_number": [TAKEN]}
    assert _companies(app) == before and _companies(app, "10001") == 1


@pytest.fixture()
def number_taken_meanwhile(app: Flask, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Another request creates (and commits) the company with the same number right after this
    request checked that the number was free: only the unique constraint can refuse it now."""
    real = companies._customer_number_taken
    raced: list[str] = []

    def check_then_lose_the_race(session: Session, number: str) -> bool:
        free = not real(session, number)
        with _session(app) as other:
            other.add(Company(customer_number=number, name="Den andre AS", org_number="923609016"))
            other.commit()
        raced.append(number)
        return not free

    monkeypatch.setattr(companies, "_customer_number_taken", check_then_lose_the_race)
    yield raced


def test_a_number_taken_by_a_parallel_page_request_is_the_same_field_error(
    app: Flask, world: World, number_taken_meanwhile: list[str]
) -> None:
    page = _page(app, "kundeservice").post("/companyview/add", data=_company_form(customer_number="20002"))
    assert number_taken_meanwhile == ["20002"]
    assert page.status_code == 200
    assert _field_error(page.get_data(as_text=True), "customer_number") == TAKEN
    with _session(app) as s:  # the other request's company only; ours was not written
        assert s.scalars(select(Company.name).where(Company.customer_number == "20002")).all() == ["Den andre AS"]


def test_a_number_taken_by_a_parallel_api_request_is_400_not_500(
    app: Flask, world: World, number_taken_meanwhile: list[str]
) -> None:
    errors = _errors(Api(app, "kundeservice").post("/company/", _company_body(customer_number="20003")))
    assert number_taken_meanwhile == ["20003"]
    assert errors == {"customer_number": [TAKEN]}
    assert _companies(app, "20003") == 1


def test_domain_maps_the_unique_constraint_to_the_field(
    app: Flask, world: World, number_taken_meanwhile: list[str]
) -> None:
    from app.extensions import db

    service = _actor(world.staff["CustomerService"], "CustomerService")
    with app.test_request_context():
        with pytest.raises(ValidationFailed) as refused:
            companies.create_company(db.session, service, _company_body(customer_number="20004"))
        assert refused.value.errors == {"customer_number": TAKEN}
        db.session.rollback()
    assert _companies(app, "20004") == 1


def test_a_new_company_through_form_and_api_gets_the_defaults(app: Flask, world: World) -> None:
    client = _page(app, "kundeservice")
    response = client.post(
        "/companyview/add",
        data=_company_form(customer_number=" 20010 ", email="post@fjord.no", phone="+47 22 00 00 00"),
    )
    assert response.status_code == 302, _field_error(response.get_data(as_text=True), "customer_number")
    created = Api(app, "kundeservice").post("/company/", _company_body(customer_number="20011"))
    assert created.status_code == 201, created.json
    result = created.json["result"]
    assert (
        result["kind"],
        result["payment_terms"],
        result["credit_limit"],
        result["requires_approval"],
        result["active"],
    ) == ("webshop", "card", "0.00", False, True)
    with _session(app) as s:
        page_made = s.scalars(select(Company).where(Company.customer_number == "20010")).one()
        assert (page_made.kind, page_made.credit_limit, page_made.email) == ("dealer", 50000, "post@fjord.no")


def test_a_new_company_checks_every_field_at_once_on_both_faces(app: Flask, world: World) -> None:
    bad = {"customer_number": "X1", "org_number": "974760674", "email": INVALID_EMAIL, "phone": "ring meg"}
    page = _page(app, "kundeservice").post("/companyview/add", data=_company_form(**bad)).get_data(as_text=True)
    errors = _errors(Api(app, "kundeservice").post("/company/", _company_body(**bad)))
    assert set(errors) == set(bad)
    for field in bad:
        assert [_field_error(page, field)] == errors[field], field
    assert errors["email"] == [BAD_EMAIL] and errors["phone"] == [BAD_PHONE]
    # Required, unknown and wrongly typed fields: the domain's messages in the API.
    errors = _errors(Api(app, "kundeservice").post("/company/", {"name": "X", "colour": "rød", "active": "ja"}))
    assert errors == {
        "customer_number": ["Feltet må fylles ut."],
        "org_number": ["Feltet må fylles ut."],
        "colour": ["Ukjent felt."],
        "active": ["Velg ja eller nei."],
    }
    assert _companies(app, "X1") == 0


@pytest.mark.parametrize(
    "role, allowed",
    [("CustomerService", True), ("Admin", True), ("Seller", False), ("Manager", False), ("CustomerAdmin", False)],
)
def test_who_may_create_a_company(app: Flask, world: World, role: str, allowed: bool) -> None:
    from app.extensions import db

    with app.test_request_context():
        actor = _actor(world.user(role), role)
        if allowed:
            assert companies.create_company(db.session, actor, _company_body()).customer_number == "20001"
        else:
            with pytest.raises(Forbidden):
                companies.create_company(db.session, actor, _company_body())
        db.session.rollback()
    expected = 201 if allowed else 403
    assert Api(app, world.user(role).username).post("/company/", _company_body()).status_code == expected


def test_delivery_address_api_refuses_a_company_id_that_is_not_one(app: Flask, world: World) -> None:
    service = Api(app, "kundeservice")
    body = {"recipient_name": "Lager", "street": "Vei 1", "postal_code": "0155", "city": "Oslo"}
    for company_id in ("abc", True, 2**40, 0, None):
        errors = _errors(service.post("/delivery_address/", {**body, "company_id": company_id}))
        assert errors == {"company_id": ["Velg bedriften adressen hører til."]}, company_id
    assert service.post("/delivery_address/", {**body, "company_id": world.b.company.id}).status_code == 201
    customer = Api(app, "hansen.admin")
    assert list(_errors(customer.post("/delivery_address/", {**body, "company_id": world.b.company.id}))) == [
        "company_id"
    ]
    assert customer.put(f"/delivery_address/{world.b.address.id}", {"city": "Bergen"}).status_code == 404
    assert customer.put("/delivery_address/abc", {"city": "Bergen"}).status_code == 404


# --- e-mail and phone: one validator --------------------------------------------------------


@pytest.mark.parametrize(
    "value, ok",
    [
        ("post@hansen.no", True),
        ("Nora.Nyansatt@Hansen-Interior.NO", True),
        ("æøå@bedrift.no", True),
        (INVALID_EMAIL, False),
        ("ikke-epost", False),
        ("a@b", False),
        ("a@localhost", False),
        ("a b@c.no", False),
    ],
)
def test_email_rule_is_email_validator_without_dns(app: Flask, value: str, ok: bool) -> None:
    with app.test_request_context():
        if ok:
            assert validate_email(f" {value} ") == value  # kept as typed
        else:
            with pytest.raises(InvalidValue) as refused:
                validate_email(value)
            assert str(refused.value.message) == BAD_EMAIL


def test_phone_rule(app: Flask) -> None:
    with app.test_request_context():
        assert validate_phone(" +47 22 00 00 00 ") == "+47 22 00 00 00"
        with pytest.raises(InvalidValue) as refused:
            validate_phone("ring meg")
        assert str(refused.value.message) == BAD_PHONE


def test_an_invalid_email_is_refused_the_same_on_company_pages_and_api(app: Flask, world: World) -> None:
    company = world.a.company.id
    client = _page(app, "kundeservice")
    edit = client.post(f"/companyview/edit/{company}", data={**_company_form(), "email": INVALID_EMAIL})
    add = client.post("/companyview/add", data=_company_form(email=INVALID_EMAIL))
    service = Api(app, "kundeservice")
    assert _errors(service.put(f"/company/{company}", {"email": INVALID_EMAIL})) == {"email": [BAD_EMAIL]}
    assert _errors(service.post("/company/", _company_body(email=INVALID_EMAIL))) == {"email": [BAD_EMAIL]}
    assert _field_error(edit.get_data(as_text=True), "email") == BAD_EMAIL
    assert _field_error(add.get_data(as_text=True), "email") == BAD_EMAIL
    with _session(app) as s:
        assert s.get(Company, company).email is None and s.get(Company, company).name == "Hansen AS"
    assert _companies(app, "20001") == 0


def test_an_invalid_email_is_refused_the_same_on_user_pages_and_api(app: Flask, world: World) -> None:
    new_user = {
        "first_name": "Nora",
        "last_name": "Nyansatt",
        "email": INVALID_EMAIL,
        "username": "nora.nyansatt",
        "role": "CustomerUser",
        "phone": "ring meg",
    }
    page = _page(app, "hansen.admin").post("/companyusers/add", data=new_user).get_data(as_text=True)
    assert (_help_error(page, "email"), _help_error(page, "phone")) == (BAD_EMAIL, BAD_PHONE)
    api = Api(app, "hansen.admin").post("/user/", new_user)
    assert _errors(api) == {"email": [BAD_EMAIL], "phone": [BAD_PHONE]}
    # Customer service's user form (FAB's edit form) and Min profil use the same rule.
    user = world.a.user
    edit = (
        _page(app, "kundeservice")
        .post(
            f"/users/edit/{user.id}",
            data={
                "first_name": user.first_name,
                "last_name": user.last_name,
                "username": user.username,
                "email": INVALID_EMAIL,
                "phone": "ring meg",
                "company": "10001",
                "active": "y",
                "roles": [str(r.id) for r in user.roles],
            },
        )
        .get_data(as_text=True)
    )
    assert (_field_error(edit, "email"), _field_error(edit, "phone")) == (BAD_EMAIL, BAD_PHONE)
    profile = (
        _page(app, "hansen.bruker")
        .post(
            "/min-profil/kontakt",
            data={"first_name": "Hansen", "last_name": "Testesen", "email": INVALID_EMAIL, "phone": ""},
        )
        .get_data(as_text=True)
    )
    assert _help_error(profile, "email") == BAD_EMAIL
    with _session(app) as s:
        assert s.get(PortalUser, user.id).email == user.email
        assert s.scalars(select(PortalUser).where(PortalUser.username == "nora.nyansatt")).first() is None


# --- labels ---------------------------------------------------------------------------------


def test_company_field_labels_are_one_table(app: Flask) -> None:
    from app.api.columns import COLUMN_LABELS
    from app.views import companies as company_views

    table = companies.FIELD_LABELS
    for field, label in table.items():
        for view in (company_views.CompanyView, company_views.MyCompanyView):
            assert view.label_columns[field] is label, (view, field)
        if field != "delivery_addresses":
            assert COLUMN_LABELS[field] is label, field
    assert COLUMN_LABELS["company.customer_number"] is table["customer_number"]
    with app.test_request_context():
        assert companies.field_label("postal_city") == "Poststed" == str(table["postal_city"])
        assert companies.field_label("unknown") == "unknown"


def test_pages_api_and_change_log_show_the_same_labels(app: Flask, world: World) -> None:
    service = Api(app, "kundeservice")
    assert service.put(f"/company/{world.a.company.id}", {"credit_limit": "1000"}).status_code == 200
    info = service.get("/company/_info").json
    api_labels = {f["name"]: f["label"] for f in info["add_columns"]}
    page = _page(app, "kundeservice").get(f"/companyview/show/{world.a.company.id}").get_data(as_text=True)
    form = _page(app, "kundeservice").get("/companyview/add").get_data(as_text=True)
    with app.test_request_context():
        for field in companies.CREATE_FIELDS:
            label = str(companies.FIELD_LABELS[field])
            assert api_labels[field] in (label, f"{label} (kode)"), field  # codes: "Kundetype (kode)"
            assert label in form, field
    assert "<td>Kredittgrense</td>" in page  # the change log row


# --- the mails ------------------------------------------------------------------------------


def _only_mail(app: Flask, to: str) -> list[MailOutbox]:
    with _session(app) as s:
        return list(s.scalars(select(MailOutbox).where(MailOutbox.to_address == to).order_by(MailOutbox.id)))


def test_welcome_and_new_link_mails_keep_their_texts(app: Flask, world: World) -> None:
    admin = Api(app, "hansen.admin")
    created = admin.post(
        "/user/",
        {
            "first_name": "Nora",
            "last_name": "Nyansatt",
            "email": "nora@hansen.no",
            "username": "nora.nyansatt",
            "role": "CustomerUser",
        },
    )
    assert created.status_code == 201, created.json
    assert admin.post(f"/user/{created.json['id']}/send_link").status_code == 200
    welcome, new_link = _only_mail(app, "nora@hansen.no")
    assert (welcome.kind, welcome.subject) == ("user_welcome", "Velkommen til Kundeportal")
    text, link = welcome.body_text.rsplit("\n\n", 1)
    assert text == (
        "Hei Nora Nyansatt!\n\nDu har fått en bruker i Kundeportal for Hansen AS. "
        "Brukernavnet ditt er: nora.nyansatt\n\n"
        "Velg passordet ditt med lenken under. Lenken virker én gang og utløper om 72 timer."
    )
    assert re.fullmatch(r"https?://\S+/passord/\S+", link)
    assert (new_link.kind, new_link.subject) == ("password_link", "Ny lenke for å velge passord i Kundeportal")
    text, link = new_link.body_text.rsplit("\n\n", 1)
    assert text == (
        "Hei Nora Nyansatt!\n\nHer er en ny lenke for å velge passord i Kundeportal. "
        "Brukernavnet ditt er: nora.nyansatt\n\nLenken virker én gang og utløper om 72 timer."
    )
    assert new_link.body_html.startswith("<p>Hei Nora Nyansatt!</p><p>Her er en ny lenke")


def test_mail_names_are_not_html_escaped(app: Flask, world: World) -> None:
    with _session(app) as s:
        s.get(Company, world.a.company.id).name = "Hansen & Sønn <AS>"
        s.commit()
    created = Api(app, "hansen.admin").post(
        "/user/",
        {"first_name": "Nora", "last_name": "Nyansatt", "email": "nora@hansen.no", "username": "nora.nyansatt"},
    )
    assert created.status_code == 201, created.json
    [mail] = _only_mail(app, "nora@hansen.no")
    assert "for Hansen & Sønn <AS>." in mail.body_text  # plain text as typed
    assert "Hansen &amp; Sønn &lt;AS&gt;" in mail.body_html  # escaped once, in the HTML version


# --- roles and users ------------------------------------------------------------------------


def test_user_admins_are_the_customer_service_group(app: Flask, world: World) -> None:
    for role, may in (("CustomerService", True), ("Admin", True), ("Seller", False), ("Manager", False)):
        actor = _actor(world.user(role), role)
        assert accounts.may_manage_users(actor, world.a.company.id) is may, role
        assert companies.may_edit(actor) is may and bool(companies.editable_fields(actor)) is may, role
    admin = _actor(world.a.admin, "CustomerAdmin")
    assert accounts.may_manage_users(admin, world.a.company.id) and not accounts.may_manage_users(
        admin, world.b.company.id
    )
    assert companies.editable_fields(admin) == companies.POSTAL_FIELDS


def test_roles_and_company_fit_the_same_on_new_user_page_and_fab_edit_form(app: Flask, world: World) -> None:
    staff_role_in_company = "Brukere hos en kunde kan bare ha kunderoller."
    with app.test_request_context():
        assert accounts.role_company_errors({"Seller"}, True) == {"role": staff_role_in_company}
        assert accounts.role_company_errors({"CustomerUser"}, False) == {
            "company_id": "En kundebruker må høre til en bedrift (kundenummer)."
        }
        assert accounts.role_company_errors(set(), False) == {"role": "Velg minst én rolle."}
        assert accounts.role_company_errors({"CustomerAdmin"}, True) == {}
    admin = _page(app, "admin")
    page = admin.post(
        "/users/add",
        data={
            "first_name": "Ny",
            "last_name": "Selger",
            "email": "ny@hansen.no",
            "username": "ny.selger",
            "role": "Seller",
            "company": "10001",
        },
    )
    assert _help_error(page.get_data(as_text=True), "role") == staff_role_in_company
    with _session(app) as s:
        from flask_appbuilder.security.sqla.models import Role

        seller = s.scalars(select(Role).where(Role.name == "Seller")).one().id
    user = world.a.user
    edit = admin.post(
        f"/users/edit/{user.id}",
        data={
            "first_name": user.first_name,
            "last_name": user.last_name,
            "username": user.username,
            "email": user.email,
            "company": "10001",
            "active": "y",
            "roles": [str(seller)],
        },
    )
    assert _field_error(edit.get_data(as_text=True), "roles") == staff_role_in_company
    with _session(app) as s:
        assert {r.name for r in s.get(PortalUser, user.id).roles} == {"CustomerUser"}


def test_unknown_customer_number_for_a_new_user_is_the_same_message_on_page_and_api(app: Flask, world: World) -> None:
    form = {
        "first_name": "Nora",
        "last_name": "Nyansatt",
        "email": "nora@hansen.no",
        "username": "nora.nyansatt",
        "role": "CustomerUser",
    }
    page = _page(app, "kundeservice").post("/users/add", data={**form, "company": "99999"}).get_data(as_text=True)
    errors = _errors(Api(app, "kundeservice").post("/user/", {**form, "customer_number": "99999"}))
    assert errors == {"customer_number": [_help_error(page, "company")]}
    assert errors["customer_number"] == ["Fant ingen bedrift med dette kundenummeret."]
    created = Api(app, "kundeservice").post("/user/", {**form, "customer_number": " 10002 "})
    assert created.status_code == 201 and created.json["result"]["company_id"] == world.b.company.id
