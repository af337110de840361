"""The tenancy guard (app/security.py), tested at the data layer and through the doors.

Part 1 (domain level): inside a request context with tenant A, every ORM read of a tenant-owned
model, Company and PortalUser returns A's rows only, whatever the statement's shape (FAB's count
query, joins, lazy loads, session.get, subqueries, bulk UPDATE/DELETE); a flush that writes or
links another company's row raises `TenantViolation`, for links also when there is no tenant
(supplier staff, CLI).

Part 2 (doors): creating or editing with another company's company_id, delivery address, budget
or user is refused through the pages (FAB add/edit forms) and through the REST API, and nothing is
written. These tests find the views/APIs by their class names (app/roles.py is the contract); a
view or API that is not registered fails the test.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import delete, exists, func, select, update
from sqlalchemy.orm import Session, aliased

from app.models import (
    TENANT_MODELS,
    USER_OWNED_MODELS,
    Budget,
    Company,
    DeliveryAddress,
    Inquiry,
    Notice,
    Order,
    OrderLine,
    PortalUser,
    Product,
    Quote,
    Store,
)
from app.tenancy import TenantViolation, clear_request_tenant, set_request_tenant
from tests.factories import World
from tests.helpers import api_headers, endpoint_rule, fresh_world, login


@pytest.fixture(scope="module")
def _module_world(app: Flask) -> dict[str, World]:
    return {"world": fresh_world(app)}


@pytest.fixture()
def mworld(app: Flask, _module_world: dict[str, World]) -> World:
    """One world for the read-only and rolled-back tests of this module (built again only if a
    test using the function-scoped `world` fixture has reset the database in between)."""
    from app.extensions import db

    world = _module_world["world"]
    with app.app_context(), db.engine.connect() as conn:
        name = conn.execute(select(Company.name).where(Company.id == world.a.company.id)).scalar()
    if name != world.a.company.name:
        world = _module_world["world"] = fresh_world(app)
    return world


@pytest.fixture()
def as_tenant(app: Flask, mworld: World) -> Iterator[Session]:
    """A session inside a request whose tenant is company A; rolled back afterwards."""
    from app.extensions import db

    with app.test_request_context():
        set_request_tenant(mworld.a.company.id)
        session = Session(db.engine)
        try:
            yield session
        finally:
            session.rollback()
            session.close()
            clear_request_tenant()


@pytest.fixture()
def as_staff(app: Flask, mworld: World) -> Iterator[Session]:
    """A session inside a request of supplier staff (no tenant)."""
    from app.extensions import db

    with app.test_request_context():
        set_request_tenant(None)
        session = Session(db.engine)
        try:
            yield session
        finally:
            session.rollback()
            session.close()


def _unscoped_ids(app: Flask, model: type, company_id: int) -> set[int]:
    from app.extensions import db

    table = model.__table__  # type: ignore[attr-defined]
    col = table.c.id if model is Company else table.c.company_id
    with db.engine.connect() as conn:
        return set(conn.execute(select(table.c.id).where(col == company_id)).scalars())


# --- Part 1: reads ---------------------------------------------------------------------------

SCOPED_MODELS = [*TENANT_MODELS, Company, PortalUser]


@pytest.mark.parametrize("model", SCOPED_MODELS, ids=lambda m: m.__name__)
def test_select_returns_only_own_rows(app: Flask, mworld: World, as_tenant: Session, model: type) -> None:
    own = _unscoped_ids(app, model, mworld.a.company.id)
    foreign = _unscoped_ids(app, model, mworld.b.company.id)
    assert own and foreign, f"tests/factories.py must build {model.__name__} rows in both companies"
    assert set(as_tenant.scalars(select(model.id)).all()) == own  # type: ignore[attr-defined]
    assert {o.id for o in as_tenant.scalars(select(model))} == own  # type: ignore[attr-defined]
    # Counts, in every shape FAB and our code use: none may count B's rows.
    assert as_tenant.scalar(select(func.count()).select_from(model)) == len(own)
    assert as_tenant.scalar(select(func.count()).select_from(select(model).subquery())) == len(own)
    assert as_tenant.scalar(select(func.count(model.id))) == len(own)  # type: ignore[attr-defined]
    assert as_tenant.query(model).count() == len(own)
    # By primary key: B's row does not exist.
    for pk in foreign:
        assert as_tenant.get(model, pk) is None
        assert as_tenant.scalar(select(model).where(model.id == pk)) is None  # type: ignore[attr-defined]


@pytest.mark.parametrize("model", SCOPED_MODELS, ids=lambda m: m.__name__)
def test_fab_datamodel_is_scoped(app: Flask, mworld: World, as_tenant: Session, model: type) -> None:
    """FAB's own query path: `SQLAInterface.query` (SELECT count(*) FROM (...) + page) and `.get`."""
    from flask_appbuilder.models.sqla.interface import SQLAInterface

    datamodel = SQLAInterface(model, as_tenant)
    own = _unscoped_ids(app, model, mworld.a.company.id)
    assert own, f"tests/factories.py must build {model.__name__} rows for company A"
    count, rows = datamodel.query(page=0, page_size=100)
    assert count == len(own)
    assert {r.id for r in rows} == own
    for pk in _unscoped_ids(app, model, mworld.b.company.id):
        assert datamodel.get(pk) is None


# Per-user rows (notices, mail choices): no company_id, so no tenant row a colleague could read; the
# guard does not scope them, every read filters on the logged-in user's id (app/domain/notices.py).
@pytest.mark.parametrize("model", USER_OWNED_MODELS, ids=lambda m: m.__name__)
def test_user_owned_models_are_classified_and_read_per_user(
    app: Flask, mworld: World, as_tenant: Session, model: type
) -> None:
    from app.domain import notices

    table = model.__table__  # type: ignore[attr-defined]
    assert model not in TENANT_MODELS and "company_id" not in table.c, model.__name__
    assert {fk.column.table.name for fk in table.c.user_id.foreign_keys} == {"ab_user"}
    # Company A's user and A's admin: colleagues, and still neither reads the other's notices.
    a_user, a_admin, b_user = mworld.a.user.id, mworld.a.admin.id, mworld.b.user.id
    as_tenant.add_all(
        [Notice(user_id=uid, kind="order_approved", subject=str(uid), link="/") for uid in (a_admin, b_user)]
    )
    as_tenant.flush()
    assert notices.bell(as_tenant, a_user) == notices.Bell(0, [])
    assert notices.page(as_tenant, a_user).rows == []
    assert [r.subject for r in notices.page(as_tenant, a_admin).rows] == [str(a_admin)]


def test_search_filter_cannot_find_foreign_rows(mworld: World, as_tenant: Session) -> None:
    from flask_appbuilder.models.sqla.interface import SQLAInterface

    datamodel = SQLAInterface(Order, as_tenant)
    filters = datamodel.get_filters(["number"])
    filters.add_filter("number", datamodel.FilterEqual, mworld.b.order.number)
    assert datamodel.query(filters)[0] == 0
    filters = datamodel.get_filters(["number"])
    filters.add_filter("number", datamodel.FilterStartsWith, "1000")
    count, rows = datamodel.query(filters)
    assert count == 1 and rows[0].id == mworld.a.order.id


def test_joins_aliases_and_subqueries(mworld: World, as_tenant: Session) -> None:
    a, b = mworld.a, mworld.b
    s = as_tenant
    # Explicit joins: the joined entity is scoped in the ON clause.
    assert s.execute(select(Order.number, DeliveryAddress.id).join(Order.delivery_address)).all() == [
        (a.order.number, a.address.id)
    ]
    assert s.scalars(select(Product.sku).join(OrderLine, OrderLine.product_id == Product.id)).all() == [
        mworld.product.sku  # type: ignore[union-attr]
    ]
    # Outer join from an unscoped model keeps B's lines out of the ON clause.
    rows = s.execute(
        select(Product.sku, OrderLine.company_id).outerjoin(OrderLine, OrderLine.product_id == Product.id)
    ).all()
    assert {c for _, c in rows} <= {a.company.id, None}
    # Aliases.
    alias = aliased(Order)
    assert s.scalars(select(alias.number)).all() == [a.order.number]
    # IN / EXISTS built from an ORM select, scalar subqueries, CTEs.
    assert (
        s.scalars(
            select(Product.sku).where(
                Product.id.in_(select(OrderLine.product_id).where(OrderLine.company_id == b.company.id))
            )
        ).all()
        == []
    )
    assert (
        s.scalars(
            select(Product.sku).where(
                select(OrderLine.id)
                .where(OrderLine.product_id == Product.id, OrderLine.company_id == b.company.id)
                .exists()
            )
        ).all()
        == []
    )
    assert s.scalar(select(exists(select(Order.id).where(Order.number == b.order.number)))) is False
    per_product = dict(
        s.execute(
            select(
                Product.sku,
                select(func.count(OrderLine.id)).where(OrderLine.product_id == Product.id).scalar_subquery(),
            )
        ).all()
    )
    assert per_product[mworld.product.sku] == 1  # type: ignore[union-attr]  # A's line only, not B's
    cte = select(Order.id).where(Order.company_id == b.company.id).cte()
    assert s.scalar(select(func.count()).select_from(cte)) == 0
    # Unions of ORM selects.
    assert sorted(s.scalars(select(Order.number).union_all(select(Quote.number))).all()) == sorted(
        [a.order.number, a.quote.number]
    )


def test_relationship_lazy_loads_are_scoped(app: Flask, mworld: World) -> None:
    """A B row that somehow sits in the session (loaded before the tenant was set) leaks nothing."""
    from app.extensions import db

    with app.test_request_context():
        set_request_tenant(None)
        session = Session(db.engine)
        try:
            order_b = session.get(Order, mworld.b.order.id)
            company_b = session.get(Company, mworld.b.company.id)
            assert order_b is not None and company_b is not None
            set_request_tenant(mworld.a.company.id)
            assert order_b.lines == []  # one-to-many lazy load
            assert order_b.invoices == []
            assert company_b.delivery_addresses == []
            assert order_b.created_by is None  # many-to-one lazy load to B's user
        finally:
            session.rollback()
            session.close()


def test_bulk_update_and_delete_are_scoped(mworld: World, as_tenant: Session) -> None:
    b = mworld.b
    result = as_tenant.execute(update(Order).where(Order.id == b.order.id).values(customer_reference="x"))
    assert result.rowcount == 0
    result = as_tenant.execute(delete(Budget).where(Budget.id == b.budget.id))
    assert result.rowcount == 0


def test_staff_see_every_company(app: Flask, mworld: World, as_staff: Session) -> None:
    ids = set(as_staff.scalars(select(Order.company_id)).all())
    assert {mworld.a.company.id, mworld.b.company.id} <= ids


# --- Part 1: writes --------------------------------------------------------------------------


def _new_address(company_id: int | None = None, **kw: Any) -> DeliveryAddress:
    return DeliveryAddress(
        company_id=company_id, recipient_name="X", street="Veien 1", postal_code="0150", city="Oslo", **kw
    )


def test_new_row_gets_company_from_user(mworld: World, as_tenant: Session) -> None:
    address = _new_address()
    as_tenant.add(address)
    as_tenant.flush()
    assert address.company_id == mworld.a.company.id


@pytest.mark.parametrize(
    "factory",
    [
        lambda w: _new_address(w.b.company.id),
        lambda w: Budget(company_id=w.b.company.id, period="month", amount=Decimal("1")),
        lambda w: Inquiry(company_id=w.b.company.id, subject="Hei", channel="portal"),
        lambda w: Order(company_id=w.b.company.id, number="X-1", channel="webshop", status="processing"),
    ],
    ids=["address", "budget", "inquiry", "order"],
)
def test_new_row_for_other_company_is_refused(mworld: World, as_tenant: Session, factory: Any) -> None:
    as_tenant.add(factory(mworld))
    with pytest.raises(TenantViolation) as info:
        as_tenant.flush()
    assert info.value.field == "company_id"


def test_new_row_linked_through_company_object_is_refused(app: Flask, mworld: World) -> None:
    from app.extensions import db

    with app.test_request_context():
        session = Session(db.engine)
        try:
            company_b = session.get(Company, mworld.b.company.id)  # loaded before the tenant is known
            set_request_tenant(mworld.a.company.id)
            session.add(_new_address(company=company_b))
            with pytest.raises(TenantViolation):
                session.flush()
        finally:
            session.rollback()
            session.close()


def test_moving_own_row_to_other_company_is_refused(mworld: World, as_tenant: Session) -> None:
    address = as_tenant.get(DeliveryAddress, mworld.a.address.id)
    assert address is not None
    address.company_id = mworld.b.company.id
    with pytest.raises(TenantViolation):
        as_tenant.flush()


@pytest.mark.parametrize(
    "field,value",
    [
        ("delivery_address_id", lambda w: w.b.address.id),
        ("quote_id", lambda w: w.b.quote.id),
    ],
)
def test_own_order_linking_foreign_row_is_refused(mworld: World, as_tenant: Session, field: str, value: Any) -> None:
    order = as_tenant.get(Order, mworld.a.order.id)
    assert order is not None
    setattr(order, field, value(mworld))
    with pytest.raises(TenantViolation) as info:
        as_tenant.flush()
    assert info.value.field == field


def test_budget_for_foreign_user_is_refused(mworld: World, as_tenant: Session) -> None:
    as_tenant.add(Budget(period="month", amount=Decimal("100"), user_id=mworld.b.user.id))
    with pytest.raises(TenantViolation) as info:
        as_tenant.flush()
    assert info.value.field == "user_id"


def test_links_are_checked_for_staff_too(mworld: World, as_staff: Session) -> None:
    """Supplier staff (no tenant) may write for any company, but never mix two companies."""
    order = Order(
        company_id=mworld.a.company.id,
        number="X-2",
        channel="phone",
        status="processing",
        delivery_address_id=mworld.b.address.id,
    )
    as_staff.add(order)
    with pytest.raises(TenantViolation) as info:
        as_staff.flush()
    assert info.value.field == "delivery_address_id"
    as_staff.rollback()
    line = OrderLine(
        company_id=mworld.a.company.id,
        order_id=mworld.b.order.id,
        line_no=9,
        product_id=mworld.product.id,
        quantity=1,
        unit_price=Decimal("1"),
    )  # type: ignore[union-attr]
    as_staff.add(line)
    with pytest.raises(TenantViolation):
        as_staff.flush()
    as_staff.rollback()
    as_staff.add(Budget(company_id=mworld.a.company.id, period="month", amount=Decimal("1"), user_id=mworld.b.user.id))
    with pytest.raises(TenantViolation):
        as_staff.flush()


def test_staff_may_write_consistent_rows_for_any_company(mworld: World, as_staff: Session) -> None:
    order = Order(
        company_id=mworld.b.company.id,
        number="X-3",
        channel="phone",
        status="processing",
        delivery_address_id=mworld.b.address.id,
    )
    as_staff.add(order)
    as_staff.flush()  # no violation


def test_foreign_row_cannot_be_deleted_or_changed(app: Flask, mworld: World) -> None:
    from app.extensions import db

    for change in ("delete", "update"):
        with app.test_request_context():
            session = Session(db.engine)
            try:
                address_b = session.get(DeliveryAddress, mworld.b.address.id)
                set_request_tenant(mworld.a.company.id)
                if change == "delete":
                    session.delete(address_b)
                else:
                    address_b.city = "Bergen"  # type: ignore[union-attr]
                with pytest.raises(TenantViolation):
                    session.flush()
            finally:
                session.rollback()
                session.close()


def test_customer_cannot_write_supplier_data(mworld: World, as_tenant: Session) -> None:
    own_company = as_tenant.get(Company, mworld.a.company.id)
    assert own_company is not None
    as_tenant.add(Product(sku="HACK-1", name="Gratis", unit_price=Decimal("0")))
    with pytest.raises(TenantViolation):
        as_tenant.flush()
    as_tenant.rollback()
    as_tenant.add(Store(name="Falsk butikk", street="x", postal_code="0150", city="Oslo"))
    with pytest.raises(TenantViolation):
        as_tenant.flush()
    as_tenant.rollback()
    as_tenant.add(Company(customer_number="99999", name="Ny", org_number="923609016"))
    with pytest.raises(TenantViolation):
        as_tenant.flush()


def test_customer_users_stay_in_the_company(mworld: World, as_tenant: Session) -> None:
    from flask_appbuilder.security.sqla.models import Role

    customer_user = as_tenant.scalars(select(Role).where(Role.name == "CustomerUser")).one()
    user = PortalUser(
        first_name="Ny",
        last_name="Bruker",
        username="ny.bruker",
        email="ny@example.no",
        active=True,
        password="x",
        roles=[customer_user],
    )
    as_tenant.add(user)
    as_tenant.flush()
    assert user.company_id == mworld.a.company.id
    user.company_id = mworld.b.company.id
    with pytest.raises(TenantViolation):
        as_tenant.flush()
    as_tenant.rollback()
    as_tenant.add(
        PortalUser(
            first_name="Ny",
            last_name="Bruker",
            username="ny.bruker2",
            email="ny2@example.no",
            active=True,
            password="x",
            company_id=mworld.b.company.id,
        )
    )
    with pytest.raises(TenantViolation):
        as_tenant.flush()


@pytest.mark.parametrize("role", ["Admin", "Seller", "CustomerService", "Manager"])
def test_customer_cannot_grant_supplier_roles(mworld: World, as_tenant: Session, role: str) -> None:
    """A customer admin managing the company's users must not be able to make anyone supplier staff."""
    from flask_appbuilder.security.sqla.models import Role

    supplier_role = as_tenant.scalars(select(Role).where(Role.name == role)).one()
    user = as_tenant.get(PortalUser, mworld.a.user.id)
    assert user is not None
    user.roles.append(supplier_role)
    with pytest.raises(TenantViolation) as info:
        as_tenant.flush()
    assert info.value.field == "roles"
    as_tenant.rollback()
    as_tenant.add(
        PortalUser(
            first_name="Ny",
            last_name="Sjef",
            username=f"ny.{role.lower()}",
            email=f"{role.lower()}@example.no",
            active=True,
            password="x",
            roles=[supplier_role],
        )
    )
    with pytest.raises(TenantViolation):
        as_tenant.flush()


def test_customer_cannot_change_roles_and_permissions(mworld: World, as_tenant: Session) -> None:
    from flask_appbuilder.security.sqla.models import Role

    role = as_tenant.scalars(select(Role).where(Role.name == "CustomerUser")).one()
    role.name = "Admin2"
    with pytest.raises(TenantViolation):
        as_tenant.flush()
    as_tenant.rollback()
    as_tenant.add(Role(name="Hacker"))
    with pytest.raises(TenantViolation):
        as_tenant.flush()


def test_order_date_fields_untouched_by_guard(mworld: World, as_tenant: Session) -> None:
    """Sanity: an ordinary edit of an own row passes the guard."""
    order = as_tenant.get(Order, mworld.a.order.id)
    assert order is not None
    order.customer_reference = "PO-1"
    order.delivery_date = dt.date.today()
    as_tenant.flush()


@pytest.mark.parametrize("actor,allowed", [("CustomerService", False), ("Seller", False), ("Admin", True)])
def test_only_admin_grants_supplier_roles(app: Flask, mworld: World, actor: str, allowed: bool) -> None:
    """CustomerService manages users, but must not be able to make anyone (itself included) Admin."""
    from flask import g
    from flask_appbuilder.security.sqla.models import Role

    from app.extensions import db

    with app.test_request_context():
        set_request_tenant(None)
        session = Session(db.engine)
        try:
            g.portal_user = session.get(PortalUser, mworld.staff[actor].id)
            admin_role = session.scalars(select(Role).where(Role.name == "Admin")).one()
            target = session.get(PortalUser, mworld.staff["CustomerService"].id)
            target.roles.append(admin_role)  # type: ignore[union-attr]
            if allowed:
                session.flush()
            else:
                with pytest.raises(TenantViolation) as info:
                    session.flush()
                assert info.value.field == "roles"
            # Customer roles stay grantable by user managers.
            session.rollback()
            customer_role = session.scalars(select(Role).where(Role.name == "CustomerUser")).one()
            user = session.get(PortalUser, mworld.a.admin.id)
            user.roles.append(customer_role)  # type: ignore[union-attr]
            session.flush()
        finally:
            session.rollback()
            session.close()


# --- Part 2: the doors (pages and REST API) ----------------------------------------------------


def _reached(response: Any) -> None:
    """The request got past authorization (so the refusal we check is the guard's, not a 403)."""
    assert response.status_code not in (401, 403), response.status_code
    assert "/login" not in response.headers.get("Location", "")
    assert response.status_code < 500, response.get_data(as_text=True)[:500]


def _count(app: Flask, table: str, **where: Any) -> int:
    from sqlalchemy import text

    from app.extensions import db

    clause = " AND ".join(f"{k} = :{k}" for k in where) or "1 = 1"
    with app.app_context(), db.engine.connect() as conn:
        return int(conn.execute(text(f"SELECT count(*) FROM {table} WHERE {clause}"), where).scalar())


def _row(app: Flask, table: str, pk: int) -> dict[str, Any]:
    from sqlalchemy import text

    from app.extensions import db

    with app.app_context(), db.engine.connect() as conn:
        return dict(conn.execute(text(f"SELECT * FROM {table} WHERE id = :id"), {"id": pk}).mappings().one())


def test_page_add_address_with_foreign_company_is_ignored(app: Flask, world: World) -> None:
    url = endpoint_rule(app, "DeliveryAddressView.add")
    client = app.test_client()
    login(client, "hansen.admin")
    b_before = _count(app, "delivery_addresses", company_id=world.b.company.id)
    response = client.post(
        url,
        data={
            "company": world.b.company.customer_number,
            "company_id": str(world.b.company.id),
            "recipient_name": "Snik",
            "street": "Gata 1",
            "postal_code": "0150",
            "city": "Oslo",
            "active": "y",
        },
    )
    _reached(response)
    assert response.status_code < 500
    assert _count(app, "delivery_addresses", company_id=world.b.company.id) == b_before
    # If it was saved at all, it was saved for the user's own company.
    assert _count(app, "delivery_addresses", recipient_name="Snik") == _count(
        app, "delivery_addresses", recipient_name="Snik", company_id=world.a.company.id
    )


def test_page_edit_address_cannot_move_it_to_another_company(app: Flask, world: World) -> None:
    url = endpoint_rule(app, "DeliveryAddressView.edit").replace("<pk>", str(world.a.address.id))
    client = app.test_client()
    login(client, "hansen.admin")
    response = client.post(
        url,
        data={
            "company": world.b.company.customer_number,
            "company_id": str(world.b.company.id),
            "recipient_name": "Flyttet",
            "street": "Gata 1",
            "postal_code": "0150",
            "city": "Oslo",
            "active": "y",
        },
    )
    _reached(response)
    assert response.status_code < 500
    assert _row(app, "delivery_addresses", world.a.address.id)["company_id"] == world.a.company.id


@pytest.mark.parametrize("endpoint", ["BudgetView.add", "BudgetView.edit"])
def test_page_budget_for_foreign_user_is_refused(app: Flask, world: World, endpoint: str) -> None:
    url = endpoint_rule(app, endpoint).replace("<pk>", str(world.a.budget.id))
    client = app.test_client()
    login(client, "hansen.admin")
    before = _row(app, "budgets", world.a.budget.id)
    count_before = _count(app, "budgets")
    response = client.post(
        url,
        data={
            "company": world.b.company.customer_number,
            "user": str(world.b.user.id),
            "user_id": str(world.b.user.id),
            "period": "month",
            "amount": "777",
            "active": "y",
        },
    )
    _reached(response)
    assert response.status_code < 500
    assert _count(app, "budgets", user_id=world.b.user.id) == 1  # B's own budget only
    assert _count(app, "budgets", company_id=world.b.company.id) == 1
    assert _count(app, "budgets") == count_before
    assert _row(app, "budgets", world.a.budget.id) == before
    # Control: with the company's own user the same form saves.
    client.post(url, data={"user": str(world.a.admin.id), "period": "month", "amount": "777", "active": "y"})
    assert _count(app, "budgets", amount=777, user_id=world.a.admin.id, company_id=world.a.company.id) == 1, "control"


def test_page_budget_form_offers_only_own_users(app: Flask, world: World) -> None:
    url = endpoint_rule(app, "BudgetView.add")
    client = app.test_client()
    login(client, "hansen.admin")
    page = client.get(url).get_data(as_text=True)
    assert world.b.user.username not in page and "berg" not in page.lower()


@pytest.mark.parametrize("username", ["selger", "hansen.bruker"])
def test_page_new_quote_with_foreign_delivery_address_is_refused(app: Flask, world: World, username: str) -> None:
    """ "Nytt tilbud": a seller (no tenant) and a customer user both name B's delivery address."""
    url = endpoint_rule(app, "QuoteActionsView.new")
    client = app.test_client()
    login(client, username)
    before = _count(app, "quotes")
    response = client.post(
        url,
        data={
            "customer_number": world.a.company.customer_number,
            "end_customer_ref": "Snik",
            "valid_until": (dt.date.today() + dt.timedelta(days=10)).isoformat(),
            "delivery_address_id": str(world.b.address.id),
            "note": "",
            "lines-0-product_id": str(world.product.id),
            "lines-0-quantity": "1",  # type: ignore[union-attr]
        },
    )
    _reached(response)
    assert _count(app, "quotes") == before
    assert _count(app, "quotes", delivery_address_id=world.b.address.id) == 1  # B's own quote only
    client.post(
        url,
        data={
            "customer_number": world.a.company.customer_number,
            "end_customer_ref": "Riktig",
            "valid_until": (dt.date.today() + dt.timedelta(days=10)).isoformat(),
            "delivery_address_id": str(world.a.address.id),
            "note": "",
            "lines-0-product_id": str(world.product.id),
            "lines-0-quantity": "1",  # type: ignore[union-attr]
        },
    )
    assert _count(app, "quotes", end_customer_ref="Riktig", company_id=world.a.company.id) == 1, "control"


def test_page_edit_quote_with_foreign_delivery_address_is_refused(app: Flask, world: World) -> None:
    url = endpoint_rule(app, "QuoteView.edit").replace("<pk>", str(world.a.quote.id))
    client = app.test_client()
    login(client, "selger")
    before = _row(app, "quotes", world.a.quote.id)
    response = client.post(
        url,
        data={
            "end_customer_ref": "Snik",
            "valid_until": (dt.date.today() + dt.timedelta(days=10)).isoformat(),
            "delivery_address": str(world.b.address.id),
            "note": "",
        },
    )
    _reached(response)
    assert _row(app, "quotes", world.a.quote.id) == before
    # Control: the same form with the company's own address saves (so the refusal was the guard's).
    client.post(
        url,
        data={
            "end_customer_ref": "Riktig",
            "valid_until": (dt.date.today() + dt.timedelta(days=10)).isoformat(),
            "delivery_address": str(world.a.address.id),
            "note": "",
        },
    )
    assert _row(app, "quotes", world.a.quote.id)["end_customer_ref"] == "Riktig"


def test_page_new_order_with_foreign_delivery_address_is_refused(app: Flask, world: World) -> None:
    url = endpoint_rule(app, "NewOrderView.new")
    client = app.test_client()
    login(client, "hansen.bruker")
    before = _count(app, "orders")
    response = client.post(
        url,
        data={
            "delivery_address_id": str(world.b.address.id),
            "customer_reference": "Snik",
            "lines-0-product_id": str(world.product.id),
            "lines-0-quantity": "1",  # type: ignore[union-attr]
        },
    )
    _reached(response)
    assert response.status_code in (200, 404), response.status_code
    assert _count(app, "orders") == before
    assert _count(app, "orders", delivery_address_id=world.b.address.id) == 1
    client.post(
        url,
        data={
            "delivery_address_id": str(world.a.address.id),
            "customer_reference": "Riktig",
            "lines-0-product_id": str(world.product.id),
            "lines-0-quantity": "1",  # type: ignore[union-attr]
        },
    )
    assert _count(app, "orders", customer_reference="Riktig", company_id=world.a.company.id) == 1, "control"


# REST API ---------------------------------------------------------------------------------------


def test_api_post_address_with_foreign_company(app: Flask, world: World) -> None:
    endpoint_rule(app, "DeliveryAddressApi.post")
    client, headers = app.test_client(), api_headers(app, "hansen.admin")
    b_before = _count(app, "delivery_addresses", company_id=world.b.company.id)
    response = client.post(
        "/api/v1/delivery_address/",
        headers=headers,
        json={
            "company_id": world.b.company.id,
            "recipient_name": "Snik",
            "street": "Gata 1",
            "postal_code": "0150",
            "city": "Oslo",
        },
    )
    _reached(response)
    assert response.status_code < 500, response.get_data(as_text=True)
    assert _count(app, "delivery_addresses", company_id=world.b.company.id) == b_before
    if response.status_code in (200, 201):
        assert _row(app, "delivery_addresses", response.json["id"])["company_id"] == world.a.company.id
    else:
        assert response.status_code in (400, 422)
        assert "company_id" in response.get_data(as_text=True)


def test_api_put_address_cannot_move_it(app: Flask, world: World) -> None:
    endpoint_rule(app, "DeliveryAddressApi.put")
    client, headers = app.test_client(), api_headers(app, "hansen.admin")
    response = client.put(
        f"/api/v1/delivery_address/{world.a.address.id}",
        headers=headers,
        json={"company_id": world.b.company.id, "city": "Bergen"},
    )
    _reached(response)
    assert response.status_code < 500
    assert _row(app, "delivery_addresses", world.a.address.id)["company_id"] == world.a.company.id


@pytest.mark.parametrize("method", ["post", "put"])
def test_api_budget_for_foreign_user_is_refused(app: Flask, world: World, method: str) -> None:
    endpoint_rule(app, f"BudgetApi.{method}")
    client, headers = app.test_client(), api_headers(app, "hansen.admin")
    before = _row(app, "budgets", world.a.budget.id)
    count_before = _count(app, "budgets")
    body = {"user_id": world.b.user.id, "period": "month", "amount": "777"}
    if method == "post":
        response = client.post("/api/v1/budget/", headers=headers, json=body)
    else:
        response = client.put(f"/api/v1/budget/{world.a.budget.id}", headers=headers, json=body)
    _reached(response)
    assert response.status_code in (400, 404, 422), response.get_data(as_text=True)
    assert "user_id" in response.get_data(as_text=True) or response.status_code == 404
    assert _count(app, "budgets") == count_before
    assert _row(app, "budgets", world.a.budget.id) == before


def test_api_budget_on_foreign_company_is_refused(app: Flask, world: World) -> None:
    endpoint_rule(app, "BudgetApi.post")
    client, headers = app.test_client(), api_headers(app, "hansen.admin")
    b_before = _count(app, "budgets", company_id=world.b.company.id)
    response = client.post(
        "/api/v1/budget/", headers=headers, json={"company_id": world.b.company.id, "period": "month", "amount": "777"}
    )
    _reached(response)
    assert response.status_code < 500
    assert _count(app, "budgets", company_id=world.b.company.id) == b_before


def test_api_quote_with_foreign_delivery_address_is_refused(app: Flask, world: World) -> None:
    endpoint_rule(app, "QuoteApi.post")
    client, headers = app.test_client(), api_headers(app, "selger")
    before = _count(app, "quotes")
    response = client.post(
        "/api/v1/quote/",
        headers=headers,
        json={
            "company_id": world.a.company.id,
            "delivery_address_id": world.b.address.id,
            "valid_until": (dt.date.today() + dt.timedelta(days=10)).isoformat(),
            "end_customer_ref": "Snik",
            "lines": [{"product_id": world.product.id, "quantity": 1}],  # type: ignore[union-attr]
        },
    )
    _reached(response)
    assert response.status_code in (400, 422), response.get_data(as_text=True)
    assert "delivery_address_id" in response.get_data(as_text=True)
    assert _count(app, "quotes") == before


def test_api_quote_put_with_foreign_delivery_address_is_refused(app: Flask, world: World) -> None:
    endpoint_rule(app, "QuoteApi.put")
    client, headers = app.test_client(), api_headers(app, "selger")
    before = _row(app, "quotes", world.a.quote.id)
    response = client.put(
        f"/api/v1/quote/{world.a.quote.id}", headers=headers, json={"delivery_address_id": world.b.address.id}
    )
    _reached(response)
    assert response.status_code in (400, 422), response.get_data(as_text=True)
    assert "delivery_address_id" in response.get_data(as_text=True)
    assert _row(app, "quotes", world.a.quote.id) == before


def test_api_inquiry_with_foreign_company_lands_in_own(app: Flask, world: World) -> None:
    endpoint_rule(app, "InquiryApi.post")
    client, headers = app.test_client(), api_headers(app, "hansen.bruker")
    b_before = _count(app, "inquiries", company_id=world.b.company.id)
    response = client.post(
        "/api/v1/inquiry/", headers=headers, json={"company_id": world.b.company.id, "subject": "Snik"}
    )
    _reached(response)
    assert response.status_code < 500, response.get_data(as_text=True)
    assert _count(app, "inquiries", company_id=world.b.company.id) == b_before


@pytest.mark.parametrize("tenant", ["A", None], ids=["customer", "staff"])
def test_user_links_stay_in_the_company(app: Flask, mworld: World, tenant: Any) -> None:
    """created_by/author links may name supplier staff or the row's own company, never another."""
    from app.extensions import db

    with app.test_request_context():
        set_request_tenant(mworld.a.company.id if tenant else None)
        session = Session(db.engine)
        try:
            order = session.get(Order, mworld.a.order.id)
            order.created_by_id = mworld.b.user.id  # type: ignore[union-attr]
            with pytest.raises(TenantViolation) as info:
                session.flush()
            assert info.value.field == "created_by_id"
            session.rollback()
            order = session.get(Order, mworld.a.order.id)
            order.created_by_id = mworld.staff["Seller"].id  # type: ignore[union-attr]
            session.flush()
            order.created_by_id = mworld.a.admin.id  # type: ignore[union-attr]
            session.flush()
        finally:
            session.rollback()
            session.close()


def test_profile_form_cannot_change_company_or_roles(app: Flask, world: World) -> None:
    """ "Min profil": a customer user edits its own name; company and roles stay as they were."""
    from flask_appbuilder.security.sqla.models import Role

    from app.extensions import db

    url = endpoint_rule(app, "UserInfoEditView.this_form_post")
    with app.app_context():
        admin_role = db.session.scalar(select(Role.id).where(Role.name == "Admin"))
        db.session.remove()
    client = app.test_client()
    login(client, "hansen.bruker")
    response = client.post(
        url,
        data={
            "first_name": "Ny",
            "last_name": "Navn",
            "company": world.b.company.customer_number,
            "company_id": str(world.b.company.id),
            "roles": str(admin_role),
            "username": "hansen.sjef",
            "active": "y",
        },
    )
    _reached(response)
    row = _row(app, "ab_user", world.a.user.id)
    assert row["company_id"] == world.a.company.id
    assert row["username"] == "hansen.bruker"
    assert _count(app, "ab_user_role", user_id=world.a.user.id) == 1
    assert _count(app, "ab_user_role", user_id=world.a.user.id, role_id=admin_role) == 0


def test_customer_service_cannot_make_itself_admin(app: Flask, world: World) -> None:
    from flask_appbuilder.security.sqla.models import Role

    from app.extensions import db

    me = world.staff["CustomerService"]
    url = endpoint_rule(app, "PortalUserDBModelView.edit").replace("<pk>", str(me.id))
    with app.app_context():
        admin_role = db.session.scalar(select(Role.id).where(Role.name == "Admin"))
        db.session.remove()
    client = app.test_client()
    login(client, me.username)
    response = client.post(
        url,
        data={
            "first_name": "Kunde",
            "last_name": "Service",
            "username": me.username,
            "email": me.email,
            "roles": str(admin_role),
            "active": "y",
            "company": "",
        },
    )
    _reached(response)
    assert _count(app, "ab_user_role", user_id=me.id, role_id=admin_role) == 0
