"""The audit log (app/domain/audit.py, app/views/audit.py, app/api/audit.py): what is recorded, in
the change's own transaction, as a JSON line that user text cannot forge; who reads it (Admin all,
a customer admin the own company's; everyone else nobody); filters, newest first, Oslo time; a
count that stops at its bound."""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from decimal import Decimal
from typing import Any

import prison
import pytest
from flask import Flask
from flask_appbuilder.security.sqla.models import Role
from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from app.domain import accounts, approvals, audit, companies
from app.extensions import db
from app.models import AuditEntry, Company, Order, OrderLine, PortalUser
from tests.factories import PASSWORD, World
from tests.helpers import Caller, actor, client_as, db_engine, db_session, load, text_of

API = "/api/v1"
UTC = dt.UTC


def _entries(app: Flask, *where: Any) -> list[AuditEntry]:
    with db_session(app) as s:
        return list(s.scalars(select(AuditEntry).where(*where).order_by(AuditEntry.id)))


def _new_entries(app: Flask, action: str) -> list[AuditEntry]:
    return _entries(app, AuditEntry.action == action)


@pytest.fixture()
def session(app: Flask, world: World):
    with app.app_context(), Session(db.engine, expire_on_commit=False) as s:
        yield s


def _pending(app: Flask, world: World, tenant: str = "a") -> int:
    t = getattr(world, tenant)
    with db_session(app) as s:
        order = Order(
            company_id=t.company.id,
            number=f"AU{t.company.id}{dt.datetime.now(UTC).strftime('%H%M%S%f')}",
            channel="webshop",
            status="pending_approval",
            delivery_address_id=t.address.id,
            created_by_id=t.user.id,
            total_ex_vat=Decimal("100.00"),
            total_vat=Decimal("25.00"),
        )
        order.lines.append(
            OrderLine(
                company_id=t.company.id,
                line_no=1,
                product_id=world.product.id,
                quantity=1,
                unit_price=Decimal("100.00"),
            )
        )
        s.add(order)
        s.commit()
        return order.id


# --- the JSON line, the transaction, append-only -------------------------------------------------


def test_json_line_per_entry_cannot_be_forged(
    app: Flask, world: World, session: Session, caplog: pytest.LogCaptureFixture
) -> None:
    forged = 'nei\r\n{"audit": true, "action": "login", "actor": "admin"}\n'
    caplog.set_level(logging.INFO, logger="portal.audit")
    with pytest.raises(approvals.NeedsOverride):  # nothing is logged for a refused change
        with db_session(app) as s:
            s.get(Company, world.a.company.id).credit_limit = Decimal("1.00")
            s.commit()
        approvals.approve_order(session, _pending(app, world), actor(world.staff["Seller"], "Seller"))
    session.rollback()
    assert not [r for r in caplog.records if r.name == "portal.audit"]

    order_id = _pending(app, world)
    approvals.reject_order(session, order_id, actor(world.staff["Seller"], "Seller"), forged)
    audit.record(session, audit.ACCESS_DENIED, actor_name="x\r\ny", outcome=audit.DENIED, details={"path": forged})
    assert not [r for r in caplog.records if r.name == "portal.audit"]  # not before the commit
    session.commit()
    lines = [r.getMessage() for r in caplog.records if r.name == "portal.audit"]
    assert len(lines) == 2
    for line in lines:
        assert "\n" not in line and "\r" not in line
    rejected, denied = (json.loads(line) for line in lines)
    assert rejected["action"] == "order_rejected" and rejected["details"]["reason"] == forged.strip()
    assert rejected["target_type"] == "order" and rejected["target_id"] == str(order_id)
    assert rejected["company_id"] == world.a.company.id and rejected["actor_id"] == world.staff["Seller"].id
    assert denied["actor"] == "x\r\ny" and denied["details"]["path"] == forged and denied["audit"] is True
    assert rejected["id"] and rejected["at"].endswith("+00:00")


def test_an_entry_rolls_back_with_its_change(app: Flask, world: World, session: Session) -> None:
    cs = actor(world.staff["CustomerService"], "CustomerService")
    companies.update_company(session, world.a.company.id, cs, {"name": "Nytt Navn AS"})
    session.rollback()
    assert _entries(app, AuditEntry.action == audit.COMPANY_CHANGED, AuditEntry.actor_id.is_not(None)) == []
    companies.update_company(session, world.a.company.id, cs, {"name": "Nytt Navn AS"})
    session.commit()
    (entry,) = _entries(app, AuditEntry.action == audit.COMPANY_CHANGED, AuditEntry.actor_id == cs.id)
    assert entry.details == {"change": "updated", "fields": {"name": {"old": "Hansen AS", "new": "Nytt Navn AS"}}}
    assert (entry.target_type, entry.target_id, entry.company_id) == (
        "company",
        str(world.a.company.id),
        world.a.company.id,
    )


def test_the_table_takes_inserts_only(app: Flask, world: World) -> None:
    entry_id = _entries(app)[0].id
    for statement in (
        update(AuditEntry).where(AuditEntry.id == entry_id).values(action="x"),
        delete(AuditEntry).where(AuditEntry.id == entry_id),
    ):
        with pytest.raises(DBAPIError, match="append-only"), db_engine(app).begin() as conn:
            conn.execute(statement)
    assert load(app, AuditEntry, entry_id).action == "company_changed"


# --- what is recorded -----------------------------------------------------------------------------


def test_cancellation_and_rejection_are_recorded(app: Flask, world: World) -> None:
    order_id = _pending(app, world)
    client = app.test_client()
    token = Caller(client, "kundeservice").headers
    response = client.post(
        f"{API}/order/{order_id}/cancel",
        json={"reason": "Kunden ringte"},
        headers=token,
        environ_base={"REMOTE_ADDR": "10.20.30.40"},
    )
    assert response.status_code == 200, response.json
    (entry,) = _new_entries(app, audit.ORDER_CANCELLED)
    assert (entry.actor_id, entry.actor_name) == (world.staff["CustomerService"].id, "Kundeservice Testesen")
    assert (entry.target_id, entry.company_id, entry.client_addr) == (str(order_id), world.a.company.id, "10.20.30.40")
    assert entry.details["reason"] == "Kunden ringte" and entry.details["from_status"] == "pending_approval"

    rejected = _pending(app, world, "b")
    response = Caller(app, "selger", prefix=API).post(f"/order/{rejected}/reject", {"reason": "Feil mål"})
    assert response.status_code == 200
    (entry,) = _new_entries(app, audit.ORDER_REJECTED)
    assert entry.company_id == world.b.company.id and entry.details["reason"] == "Feil mål"


def test_user_changes_by_a_customer_admin_are_recorded(app: Flask, world: World) -> None:
    admin = Caller(app, "hansen.admin", prefix=API)
    response = admin.post(
        "/user/",
        {"first_name": "Kari", "last_name": "Nordmann", "email": "kari@example.no", "username": "kari.n"},
    )
    assert response.status_code == 201, response.json
    user_id = response.json["id"]
    for step in ("deactivate", "activate", "promote", "demote"):
        assert admin.post(f"/user/{user_id}/{step}").status_code == 200, step
    entries = _new_entries(app, audit.USER_CHANGED)
    assert [e.details["change"] for e in entries] == ["created", "deactivated", "activated", "promoted", "demoted"]
    assert {(e.actor_id, e.target_id, e.company_id) for e in entries} == {
        (world.a.admin.id, str(user_id), world.a.company.id)
    }
    assert entries[3].details["roles"] == {"old": ["CustomerUser"], "new": ["CustomerAdmin"]}


def test_fab_user_admin_edit_records_contact_and_role_changes(app: Flask, world: World) -> None:
    user = world.a.user
    with db_session(app) as s:
        admin_role = s.scalars(select(Role).where(Role.name == "CustomerAdmin")).one()
    response = client_as(app, "kundeservice").post(
        f"/users/edit/{user.id}",
        data={
            "first_name": user.first_name,
            "last_name": user.last_name,
            "username": user.username,
            "email": "ny.adresse@example.no",
            "phone": "",
            "company": world.a.company.customer_number,
            "active": "y",
            "roles": [str(admin_role.id)],
        },
    )
    assert response.status_code == 302, text_of(response)
    (changed,) = _new_entries(app, audit.USER_CHANGED)
    assert changed.actor_id == world.staff["CustomerService"].id and changed.company_id == world.a.company.id
    assert changed.details["change"] == "edited"
    assert changed.details["fields"]["email"] == {"old": user.email, "new": "ny.adresse@example.no"}
    assert changed.details["fields"]["roles"] == {"old": ["CustomerUser"], "new": ["CustomerAdmin"]}
    assert set(changed.details["fields"]) == {"email", "roles"}
    (roles,) = _new_entries(app, audit.ROLE_CHANGED)
    assert roles.details == {
        "change": "user_roles",
        "username": user.username,
        "old": ["CustomerUser"],
        "new": ["CustomerAdmin"],
    }


def test_fab_role_admin_changes_are_recorded(app: Flask, world: World) -> None:
    client = client_as(app, "admin")
    with db_session(app) as s:
        some_pv = s.scalars(select(Role).where(Role.name == "Manager")).one().permissions[0]
        pv_id, pv_text = some_pv.id, str(some_pv)
    assert client.post("/roles/add", data={"name": "Revisor", "permissions": [str(pv_id)]}).status_code == 302
    with db_session(app) as s:
        role_id = s.scalars(select(Role.id).where(Role.name == "Revisor")).one()
    assert client.post(f"/roles/edit/{role_id}", data={"name": "Revisor 2", "permissions": []}).status_code == 302
    assert client.post(f"/roles/delete/{role_id}").status_code == 302
    try:
        entries = _new_entries(app, audit.ROLE_CHANGED)
        assert [e.details["change"] for e in entries] == ["created", "updated", "deleted"]
        assert entries[0].details["permissions"] == [pv_text]
        assert entries[1].details["old_name"] == "Revisor" and entries[1].details["permissions_removed"] == [pv_text]
        assert entries[2].details["name"] == "Revisor 2" and entries[2].target_id == str(role_id)
        assert {e.actor_id for e in entries} == {world.staff["Admin"].id}
        assert {e.company_id for e in entries} == {None}
    finally:
        with db_session(app) as s:  # roles survive the per-test reset
            for role in s.scalars(select(Role).where(Role.name.like("Revisor%"))):
                s.delete(role)
            s.commit()


def test_password_changes_are_recorded_without_the_password(
    app: Flask, world: World, session: Session, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="portal.audit")
    new = "Sjokolade-Fjell-2931"
    response = Caller(app, "hansen.bruker", prefix=API).post(
        "/user/me/password", {"current_password": PASSWORD, "password": new}
    )
    assert response.status_code == 200, response.json
    accounts.reset_password(session, actor(world.staff["Admin"], "Admin"), world.b.user.id, new + "b")
    accounts.set_password_by_username(session, "berg.admin", new + "c")
    session.commit()
    entries = _new_entries(app, audit.PASSWORD_CHANGED)
    assert [(e.details["how"], e.target_id, e.actor_id, e.company_id) for e in entries] == [
        ("own", str(world.a.user.id), world.a.user.id, world.a.company.id),
        ("admin_reset", str(world.b.user.id), world.staff["Admin"].id, world.b.company.id),
        ("cli", str(world.b.admin.id), None, world.b.company.id),
    ]
    assert entries[2].actor_name == "portal set-password"
    hashes = [load(app, PortalUser, u.id).password for u in (world.a.user, world.b.user, world.b.admin)]
    logged = " ".join(r.getMessage() for r in caplog.records if r.name == "portal.audit")
    stored = json.dumps([e.details for e in entries])
    for secret in (new, *hashes):
        assert secret not in logged and secret not in stored


def test_own_contact_changes_are_recorded(app: Flask, world: World, session: Session) -> None:
    me = actor(world.a.user, "CustomerUser")
    user = world.a.user
    accounts.update_contact(
        session, me, first_name=user.first_name, last_name=user.last_name, email=user.email, phone=""
    )
    accounts.update_contact(
        session, me, first_name=user.first_name, last_name="Ny", email=user.email, phone="+47 912 34 567"
    )
    session.commit()
    (entry,) = _new_entries(app, audit.USER_CHANGED)  # the first changed nothing
    assert entry.details["change"] == "contact_updated" and entry.actor_id == user.id
    assert set(entry.details["fields"]) == {"last_name", "phone"}


def test_authorization_denials_are_recorded_not_404s_or_anonymous(app: Flask, world: World) -> None:
    customer = client_as(app, "hansen.bruker")
    assert customer.get("/godkjenning/").status_code == 403  # FAB's has_access on a page
    api = Caller(app, "hansen.bruker", prefix=API)
    assert api.post(f"/order/{world.a.order.id}/approve", {}).status_code == 403  # FAB's protect
    assert client_as(app, "leder").get("/revisjonslogg/list/").status_code == 403
    # Not logged in (a redirect to the login page) and a missing row are not denials.
    assert app.test_client().get("/godkjenning/").status_code == 302
    assert client_as(app, "selger").get("/orderview/show/999999").status_code == 404
    assert Caller(app, "selger", prefix=API).get("/order/999999").status_code == 404
    entries = _new_entries(app, audit.ACCESS_DENIED)
    assert [(e.actor_id, e.details["method"], e.details["path"]) for e in entries] == [
        (world.a.user.id, "GET", "/godkjenning/"),
        (world.a.user.id, "POST", f"/api/v1/order/{world.a.order.id}/approve"),
        (world.staff["Manager"].id, "GET", "/revisjonslogg/list/"),
    ]
    assert [e.company_id for e in entries] == [world.a.company.id, world.a.company.id, None]
    assert {e.outcome for e in entries} == {"denied"} and {e.client_addr for e in entries} == {"127.0.0.1"}
    assert entries[0].details["endpoint"] == "ApprovalQueueView.queue"


def test_a_denied_path_is_bounded(app: Flask, world: World) -> None:
    path = "/godkjenning/" + "x" * 1000
    client_as(app, "hansen.bruker").get(path)  # 404 or 403: either way no 500
    for entry in _new_entries(app, audit.ACCESS_DENIED):
        assert len(entry.details["path"]) <= audit.MAX_PATH


# --- reading it -----------------------------------------------------------------------------------


def _add(app: Flask, **values: Any) -> int:
    values.setdefault("outcome", "ok")
    with db_session(app) as s:
        entry = AuditEntry(**values)
        s.add(entry)
        s.commit()
        return entry.id


@pytest.fixture()
def log_rows(app: Flask, world: World) -> dict[str, int]:
    """Entries of company A, of company B and of no company, at known times (UTC)."""
    t0 = dt.datetime(2025, 1, 15, 12, 0, tzinfo=UTC)  # 13:00 in Oslo
    seller, cs = world.staff["Seller"], world.staff["CustomerService"]
    return {
        "a_old": _add(app, at=t0, action="order_approved", actor_id=seller.id, actor_name="AKTØR-A-GAMMEL",
                      company_id=world.a.company.id, target_type="order", target_id="1"),
        "b": _add(app, at=t0 + dt.timedelta(days=1), action="order_cancelled", actor_id=cs.id,
                  actor_name="AKTØR-B", company_id=world.b.company.id),
        "none": _add(app, at=t0 + dt.timedelta(days=2), action="role_changed", actor_name="AKTØR-INGEN"),
        "a_new": _add(app, at=t0 + dt.timedelta(days=3), action="access_denied", outcome="denied",
                      actor_id=world.a.user.id, actor_name="AKTØR-A-NY", company_id=world.a.company.id,
                      details={"path": "<script>alert(1)</script>"}),
    }  # fmt: skip


def _names(body: str) -> list[str]:
    return re.findall(r"AKTØR-[A-ZØ]+(?:-[A-ZØ]+)*", body)


def test_admin_reads_everything_newest_first_in_oslo_time(app: Flask, log_rows: dict[str, int]) -> None:
    client = client_as(app, "admin")
    response = client.get("/revisjonslogg/list/")
    assert response.status_code == 200
    body = text_of(response)
    assert _names(body) == ["AKTØR-A-NY", "AKTØR-INGEN", "AKTØR-B", "AKTØR-A-GAMMEL"]
    assert "15.01.2025 13:00" in body and "Ordre godkjent" in body and "Ingen tilgang" in body
    assert "<script>alert(1)</script>" not in body  # user text in details is escaped
    assert re.search(r"path&#34;: &#34;&lt;script&gt;alert\(1\)&lt;/script&gt;&#34;}", body)  # shown once, as JSON
    page = text_of(client.get(f"/revisjonslogg/show/{log_rows['b']}"))
    assert "AKTØR-B" in page and "Berg AS" in page and "Ordre kansellert" in page


def test_admin_filters(app: Flask, world: World, log_rows: dict[str, int]) -> None:
    client = client_as(app, "admin")

    def names(query: str) -> list[str]:
        response = client.get(f"/revisjonslogg/list/?{query}")
        assert response.status_code == 200, query
        return _names(text_of(response))

    assert names("_flt_0_action=order_cancelled") == ["AKTØR-B"]
    assert names("_flt_1_action=order_cancelled") == ["AKTØR-A-NY", "AKTØR-INGEN", "AKTØR-A-GAMMEL"]
    assert names("_flt_0_outcome=denied") == ["AKTØR-A-NY"]
    assert names(f"_flt_0_company_id={world.a.company.customer_number}") == ["AKTØR-A-NY", "AKTØR-A-GAMMEL"]
    assert names("_flt_0_company_id=99999") == []
    assert names("_flt_0_actor_id=selger") == ["AKTØR-A-GAMMEL"]
    assert names(f"_flt_1_actor_id={world.staff['CustomerService'].id}") == ["AKTØR-B"]
    assert names("_flt_0_at=2025-01-16&_flt_1_at=2025-01-17") == ["AKTØR-INGEN", "AKTØR-B"]
    assert names("_flt_0_at=17.01.2025") == ["AKTØR-A-NY", "AKTØR-INGEN"]
    # A bad day is a message, not a 500.
    response = client.get("/revisjonslogg/list/?_flt_0_at=ikke-en-dato")
    assert response.status_code in (200, 302)


def test_customer_admin_reads_its_own_company_only(app: Flask, world: World, log_rows: dict[str, int]) -> None:
    client = client_as(app, "hansen.admin")
    body = text_of(client.get("/revisjonslogg/list/"))
    assert _names(body) == ["AKTØR-A-NY", "AKTØR-A-GAMMEL"]
    assert "Berg AS" not in body
    # Filters cannot reach past the scope.
    body = text_of(client.get(f"/revisjonslogg/list/?_flt_0_company_id={world.b.company.customer_number}"))
    assert _names(body) == []
    assert client.get(f"/revisjonslogg/show/{log_rows['a_old']}").status_code == 200
    for hidden in ("b", "none"):
        assert client.get(f"/revisjonslogg/show/{log_rows[hidden]}").status_code == 404, hidden
    # Berg's admin sees Berg's only.
    assert _names(text_of(client_as(app, "berg.admin").get("/revisjonslogg/list/"))) == ["AKTØR-B"]
    # The menu: "Revisjonslogg" under Min side for the customer admin, not for its users.
    assert "/revisjonslogg/list/" in text_of(client.get("/"))
    assert "/revisjonslogg/list/" not in text_of(client_as(app, "hansen.bruker").get("/"))


@pytest.mark.parametrize("username", ["hansen.bruker", "selger", "kundeservice", "leder"])
def test_other_roles_do_not_read_it(app: Flask, world: World, log_rows: dict[str, int], username: str) -> None:
    client = client_as(app, username)
    assert client.get("/revisjonslogg/list/").status_code == 403
    assert client.get(f"/revisjonslogg/show/{log_rows['a_old']}").status_code == 403
    api = Caller(app, username, prefix=API)
    assert api.get("/audit/").status_code == 403
    assert api.get(f"/audit/{log_rows['a_old']}").status_code == 403


def _api_names(response: Any) -> list[str]:
    """The fixture's entries in an API answer (the test world has its own, newer ones)."""
    assert response.status_code == 200, response.json
    return [r["actor_name"] for r in response.json["result"] if r["actor_name"].startswith("AKTØR")]


def test_api_reads_with_the_same_scope(app: Flask, world: World, log_rows: dict[str, int]) -> None:
    admin = Caller(app, "admin", prefix=API)
    response = admin.get("/audit/")
    assert _api_names(response) == ["AKTØR-A-NY", "AKTØR-INGEN", "AKTØR-B", "AKTØR-A-GAMMEL"]
    first = next(r for r in response.json["result"] if r["actor_name"] == "AKTØR-A-NY")
    assert first["action"] == "access_denied" and first["action_label"] == "Ingen tilgang"
    assert first["outcome_label"] == "Avvist" and first["details"] == {"path": "<script>alert(1)</script>"}
    assert first["at"].startswith("2025-01-18T12:00:00")
    q = {"filters": [{"col": "action", "opr": "eq", "value": "order_cancelled"}]}
    assert _api_names(admin.get("/audit/", q)) == ["AKTØR-B"]
    q = {
        "filters": [
            {"col": "at", "opr": "gt", "value": "2025-01-16T18:00:00Z"},
            {"col": "at", "opr": "lt", "value": "2025-02-01T00:00:00Z"},
        ]
    }
    assert [r["actor_name"] for r in admin.get("/audit/", q).json["result"]] == ["AKTØR-A-NY", "AKTØR-INGEN"]
    q = {"filters": [{"col": "at", "opr": "gt", "value": "2025-01-16T19:00:00"}]}  # no zone: UTC
    assert _api_names(admin.get("/audit/", q)) == ["AKTØR-A-NY", "AKTØR-INGEN"]
    for bad in ("i går", 5, "2025-13-45"):
        response = admin.get("/audit/", {"filters": [{"col": "at", "opr": "lt", "value": bad}]})
        assert response.status_code == 400 and "ISO 8601" in response.json["message"], bad

    customer = Caller(app, "hansen.admin", prefix=API)
    response = customer.get("/audit/")
    assert _api_names(response) == ["AKTØR-A-NY", "AKTØR-A-GAMMEL"]
    assert response.json["count"] == 4  # and the test world's entry of company A, and this caller's own login
    assert {r["company_id"] for r in response.json["result"]} == {world.a.company.id}
    q = {"filters": [{"col": "company_id", "opr": "eq", "value": world.b.company.id}]}
    assert customer.get("/audit/", q).json["result"] == []
    assert customer.get(f"/audit/{log_rows['a_new']}").status_code == 200
    for hidden in ("b", "none"):
        assert customer.get(f"/audit/{log_rows[hidden]}").status_code == 404, hidden
    assert customer.get(f"/audit/{2**40}").status_code == 404


def test_no_route_writes_the_log(app: Flask) -> None:
    endpoints = {r.endpoint: r for r in app.url_map.iter_rules() if r.endpoint.startswith(("AuditView.", "AuditApi."))}
    assert {e.split(".")[1] for e in endpoints} == {"list", "show", "get_list", "get", "info"}
    for rule in endpoints.values():
        assert rule.methods <= {"GET", "HEAD", "OPTIONS"}, rule
    assert Caller(app, "admin", prefix=API).post("/audit/", {"action": "login"}).status_code in (404, 405)


def test_the_count_stops_at_its_bound(app: Flask, world: World, statements: list[str]) -> None:
    """10 001+ entries: the list says "over 10 000", the API says count_exact false, and no
    statement counts the whole table."""
    t0 = dt.datetime(2025, 1, 1, tzinfo=UTC)
    rows = [
        {"at": t0 + dt.timedelta(seconds=i), "action": "login", "outcome": "ok", "company_id": world.a.company.id}
        for i in range(10_050)
    ]
    with db_engine(app).begin() as conn:
        conn.execute(insert(AuditEntry), rows)
    statements.clear()
    body = text_of(client_as(app, "admin").get("/revisjonslogg/list/"))
    assert "over 10\xa0000" in body
    counts = [s for s in statements if "count(" in s.lower() and "audit_log" in s]
    assert counts and all("LIMIT" in s.upper() for s in counts), counts
    response = Caller(app, "hansen.admin", prefix=API).get("/audit/", {"page_size": 5, "page": 3})
    assert response.json["count_exact"] is False and len(response.json["result"]) == 5
    assert prison.dumps({"page": 0})  # (the API's query syntax, as the other list tests use it)
