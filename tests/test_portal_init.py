"""`portal init` (app/domain/setup.py): roles and permissions in one transaction, idempotent.

The expected state is derived here from what FAB registers (every view's `base_permissions` on its
`class_permission_name`, menu access to every menu item and category) and from app/roles.py, and
compared with FAB's tables. Commits and writing statements are counted on the engine, so any code
that commits behind the scenes (FAB's SecurityManager methods do after every row) shows up.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask import Flask
from flask_appbuilder.security.sqla.models import (
    Permission,
    PermissionView,
    Role,
    ViewMenu,
    assoc_permissionview_role,
)
from sqlalchemy import delete, event, insert, select

from app.domain.setup import MENU_PERMISSIONS
from app.roles import ALL_ROLES, ROLE_PERMISSIONS
from tests.helpers import reset_database

Pair = tuple[str, str]
SECURITY_TABLES = (
    assoc_permissionview_role,
    PermissionView.__table__,
    Permission.__table__,
    ViewMenu.__table__,
    Role.__table__,
)


def _engine(app: Flask) -> Any:
    from app.extensions import db

    with app.app_context():
        return db.engine


def _state(app: Flask) -> dict[str, Any]:
    """Roles with their (permission, view) pairs, and every pair, permission and view menu."""
    pv, perm, vm, assoc = PermissionView, Permission, ViewMenu, assoc_permissionview_role
    with _engine(app).connect() as conn:
        held = conn.execute(
            select(Role.name, perm.name, vm.name)
            .join(assoc, assoc.c.role_id == Role.id)
            .join(pv, pv.id == assoc.c.permission_view_id)
            .join(perm, perm.id == pv.permission_id)
            .join(vm, vm.id == pv.view_menu_id)
        ).all()
        roles = {name: set() for name in conn.execute(select(Role.name)).scalars()}
        pairs = set(
            conn.execute(
                select(perm.name, vm.name)
                .select_from(pv)
                .join(perm, perm.id == pv.permission_id)
                .join(vm, vm.id == pv.view_menu_id)
            ).tuples()
        )
        permissions = set(conn.execute(select(perm.name)).scalars())
        view_menus = set(conn.execute(select(vm.name)).scalars())
    for role, permission, view in held:
        roles[role].add((permission, view))
    return {"roles": roles, "pairs": pairs, "permissions": permissions, "view_menus": view_menus}


def _menu_items(app: Flask) -> list[tuple[Any, Any]]:
    """(category, item) for every menu entry; top-level entries are their own category."""
    entries = []
    for category in app.appbuilder.menu.get_list():
        entries.append((category, category))
        entries += [(category, item) for item in category.childs if item.name != "-"]
    return entries


def _fab_pairs(app: Flask) -> set[Pair]:
    """What FAB's `add_permissions(update_perms=True)` gives the Admin role."""
    pairs = {
        (permission, view.class_permission_name)
        for view in app.appbuilder.baseviews
        for permission in view.base_permissions or ()
    }
    return pairs | {("menu_access", item.name) for _, item in _menu_items(app)}


def _expected_roles(app: Flask) -> dict[str, set[Pair]]:
    expected = {"Admin": _fab_pairs(app)}
    for role, views in ROLE_PERMISSIONS.items():
        pairs = {(permission, view) for view, permissions in views.items() for permission in permissions}
        for category, item in _menu_items(app):
            view = getattr(item, "baseview", None)
            if view is not None and MENU_PERMISSIONS & set(views.get(type(view).__name__, ())):
                pairs |= {("menu_access", item.name), ("menu_access", category.name)}
        expected[role] = pairs
    return expected


@contextmanager
def _counted(app: Flask) -> Iterator[dict[str, int]]:
    """Commits and INSERT/UPDATE/DELETE statements on the app's engine while the block runs."""
    counts = {"commits": 0, "writes": 0}
    engine = _engine(app)

    def on_commit(conn: Any) -> None:
        counts["commits"] += 1

    def on_execute(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().split(None, 1)[0].upper() in ("INSERT", "UPDATE", "DELETE"):
            counts["writes"] += 1

    event.listen(engine, "commit", on_commit)
    event.listen(engine, "before_cursor_execute", on_execute)
    try:
        yield counts
    finally:
        event.remove(engine, "commit", on_commit)
        event.remove(engine, "before_cursor_execute", on_execute)


def _init(app: Flask) -> dict[str, int]:
    from app.domain.setup import init_roles
    from app.extensions import db

    with app.app_context():
        try:
            return init_roles()
        finally:
            db.session.remove()


def _wipe_security_tables(app: Flask) -> None:
    with _engine(app).begin() as conn:
        for table in SECURITY_TABLES:
            conn.execute(delete(table))


@pytest.fixture()
def empty_security(app: Flask) -> Iterator[None]:
    """No users, roles or permissions (a fresh database); the normal state is restored after."""
    reset_database(app)
    _wipe_security_tables(app)
    yield
    reset_database(app)
    _wipe_security_tables(app)
    _init(app)


def test_fresh_database_in_one_commit(app: Flask, empty_security: None) -> None:
    with _counted(app) as counts:
        result = app.test_cli_runner().invoke(args=["portal", "init"])
    assert result.exit_code == 0, result.output + repr(result.exception)
    assert counts["commits"] == 1, f"portal init committed {counts['commits']} times"
    assert counts["writes"] > 0
    state = _state(app)
    expected = _expected_roles(app)
    assert set(state["roles"]) == set(ALL_ROLES)
    for role in ALL_ROLES:
        assert state["roles"][role] == expected[role], role
    # Every pair exists because FAB or app/roles.py names it; every view has its view menu.
    assert state["pairs"] == set().union(*expected.values())
    assert {view.class_permission_name for view in app.appbuilder.baseviews} <= state["view_menus"]
    assert state["permissions"] == {permission for permission, _ in state["pairs"]}
    assert "Roller og rettigheter oppdatert" in result.output
    for role in ALL_ROLES:
        assert f"'{role}': {len(expected[role])}" in result.output


def test_second_run_changes_nothing(app: Flask, empty_security: None) -> None:
    first_counts = _init(app)
    first = _state(app)
    with _counted(app) as counts:
        second_counts = _init(app)
    assert counts["writes"] == 0, f"a second portal init wrote {counts['writes']} statements"
    assert counts["commits"] <= 1
    assert _state(app) == first
    assert second_counts == first_counts == {role: len(pairs) for role, pairs in first["roles"].items()}


def _pair_id(conn: Any, permission: str, view: str) -> int:
    """The row of a (permission, view) pair, made if missing (with plain inserts, not FAB's methods)."""
    ids = []
    for model, name in ((Permission, permission), (ViewMenu, view)):
        row = conn.execute(select(model.id).where(model.name == name)).scalar()
        if row is None:
            row = conn.execute(insert(model).values(name=name).returning(model.id)).scalar_one()
        ids.append(row)
    pv = conn.execute(
        select(PermissionView.id).where(PermissionView.permission_id == ids[0], PermissionView.view_menu_id == ids[1])
    ).scalar()
    if pv is None:
        pv = conn.execute(
            insert(PermissionView).values(permission_id=ids[0], view_menu_id=ids[1]).returning(PermissionView.id)
        ).scalar_one()
    return pv


def _role_id(conn: Any, name: str) -> int:
    return conn.execute(select(Role.id).where(Role.name == name)).scalar_one()


def _grant(conn: Any, role: str, permission: str, view: str) -> None:
    conn.execute(
        insert(assoc_permissionview_role).values(
            role_id=_role_id(conn, role), permission_view_id=_pair_id(conn, permission, view)
        )
    )


def _revoke(conn: Any, role: str, permission: str, view: str) -> None:
    table = assoc_permissionview_role
    conn.execute(
        delete(table).where(
            table.c.role_id == _role_id(conn, role), table.c.permission_view_id == _pair_id(conn, permission, view)
        )
    )


def test_an_outdated_database_is_brought_in_line_in_one_commit(app: Flask, empty_security: None) -> None:
    _init(app)
    expected = _expected_roles(app)
    seller_pair = sorted(expected["Seller"] - expected["CustomerUser"])[0]
    admin_pair = ("can_list", "OrderView")
    assert admin_pair in expected["Admin"]
    with _engine(app).begin() as conn:
        # A right the table does not give, one of a view that no longer exists, one taken away.
        _grant(conn, "CustomerUser", "can_add", "CompanyView")
        _grant(conn, "CustomerUser", "can_list", "NedlagtView")
        _revoke(conn, "Seller", *seller_pair)
        _revoke(conn, "Admin", *admin_pair)
        # A permission the view no longer has (held by two roles) and one nobody holds.
        _grant(conn, "Admin", "can_fly", "OrderView")
        _grant(conn, "Seller", "can_fly", "OrderView")
        _pair_id(conn, "can_land", "OrderView")
        # A role that is missing altogether.
        manager = _role_id(conn, "Manager")
        conn.execute(delete(assoc_permissionview_role).where(assoc_permissionview_role.c.role_id == manager))
        conn.execute(delete(Role.__table__).where(Role.id == manager))
    with _counted(app) as counts:
        _init(app)
    assert counts["commits"] == 1
    state = _state(app)
    for role in ALL_ROLES:
        assert state["roles"][role] == expected[role], role
    assert not {("can_fly", "OrderView"), ("can_land", "OrderView")} & state["pairs"]
    assert not {"can_fly", "can_land"} & state["permissions"]
    with _counted(app) as counts:
        _init(app)
    assert counts["writes"] == 0
    assert _state(app) == state


def test_a_failing_init_writes_nothing(app: Flask, empty_security: None) -> None:
    """One transaction: an error half-way (here: when the roles get their rights) leaves the
    database as it was, empty."""
    engine = _engine(app)

    def refuse(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO AB_PERMISSION_VIEW_ROLE"):
            raise RuntimeError("brudd midt i")

    event.listen(engine, "before_cursor_execute", refuse)
    try:
        with pytest.raises(RuntimeError, match="brudd midt i"):
            _init(app)
    finally:
        event.remove(engine, "before_cursor_execute", refuse)
    state = _state(app)
    assert not state["roles"] and not state["pairs"] and not state["permissions"] and not state["view_menus"]
