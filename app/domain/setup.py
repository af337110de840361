"""`portal init`: roles and their permissions, exactly as app/roles.py says (idempotent).

All writes happen in one transaction with one commit at the end. FAB's SecurityManager helpers
(`add_permission_view_menu`, `add_permission_role`, `add_role`, `appbuilder.add_permissions`)
commit after every single row (about a thousand commits for this app), so they are not used;
the same state is computed here and written with plain SQLAlchemy on FAB's models:

* FAB's permissions: for every registered view or API, the pairs (permission in its
  `base_permissions`, its `class_permission_name`), and its view menu even if it has none; for
  every menu item and category, ("menu_access", name). This is what `appbuilder.add_permissions`
  makes (FAB's `add_permissions_view` and `add_permissions_menu`).
* A pair on a registered view whose permission the view no longer offers is stale: it is removed
  from every role and deleted (and its permission name, if no other pair uses it), like FAB's
  `add_permissions_view` intends. Pairs that app/roles.py names are never stale: they are made
  and granted even if the view does not check them (as `add_permission_view_menu` did).
* The Admin role holds every FAB pair (FAB gives the admin role each permission it makes) and
  keeps whatever else it holds; every other role holds exactly its pairs from app/roles.py,
  plus menu access to the menu items of the views it may open.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from flask import current_app
from flask_appbuilder.security.sqla.models import (
    Permission,
    PermissionView,
    Role,
    ViewMenu,
    assoc_permissionview_role,
)
from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from app.roles import ALL_ROLES, ROLE_PERMISSIONS

# A role that may open a view's default page also sees its menu item.
MENU_PERMISSIONS = frozenset({"can_list", "can_get", "can_this_form_get", "can_new", "can_queue"})
MENU_ACCESS = "menu_access"

Pair = tuple[str, str]  # (permission name, view menu name)


def init_roles() -> dict[str, int]:
    """Create FAB's permissions for every view, then set each role's permissions to the table.

    Permissions not in the table are removed from the role, so a role never keeps a stale right.
    Menu access follows from the views a role may list. Returns the number of permissions of
    each role.
    """
    appbuilder = current_app.extensions["appbuilder"]
    session: Session = appbuilder.sm.session
    admin_name = current_app.config["AUTH_ROLE_ADMIN"]
    admin_gets_all = admin_name not in appbuilder.sm.builtin_roles
    view_names, view_pairs, menu_pairs = fab_permissions(appbuilder)
    role_pairs = role_permissions(appbuilder)
    fab_pairs = view_pairs | menu_pairs
    wanted_pairs = fab_pairs.union(*role_pairs.values())
    try:
        pv_ids = _ensure_pairs(session, wanted_pairs, view_names)
        stale = _stale_pairs(session, view_names, wanted_pairs)
        roles = _ensure_roles(session, [admin_name, *(r for r in ALL_ROLES if r != admin_name)])
        held = _held_permissions(session)
        if stale:
            _delete_pairs(session, stale)
            for ids in held.values():
                ids.difference_update(stale)
        wanted: dict[int, set[int]] = {}
        for role_name, pairs in role_pairs.items():
            wanted[roles[role_name]] = {pv_ids[p] for p in pairs}
        admin_id = roles[admin_name]
        wanted[admin_id] = held[admin_id] | ({pv_ids[p] for p in fab_pairs} if admin_gets_all else set())
        _set_role_permissions(session, held, wanted)
        session.commit()
    except Exception:
        session.rollback()
        raise
    return {**{name: len(wanted[roles[name]]) for name in role_pairs}, admin_name: len(wanted[admin_id])}


def fab_permissions(appbuilder: Any) -> tuple[set[str], set[Pair], set[Pair]]:
    """What `appbuilder.add_permissions(update_perms=True)` would make: the view menu names of the
    registered views and APIs, their (permission, view) pairs, and menu access to every menu item
    and category."""
    view_names: set[str] = set()
    view_pairs: set[Pair] = set()
    for view in appbuilder.baseviews:
        name = view.class_permission_name
        view_names.add(name)
        view_pairs.update((perm, name) for perm in (view.base_permissions or ()) if perm)
    menu_pairs: set[Pair] = set()
    if appbuilder.menu is not None:
        for category in appbuilder.menu.get_list():
            menu_pairs.add((MENU_ACCESS, category.name))
            menu_pairs.update((MENU_ACCESS, item.name) for item in category.childs if item.name != "-")
    return view_names, view_pairs, menu_pairs


def role_permissions(appbuilder: Any) -> dict[str, set[Pair]]:
    """The (permission, view) pairs of each role but Admin, from app/roles.py, with menu access."""
    menu_names = _menu_names_by_view(appbuilder)
    result: dict[str, set[Pair]] = {}
    for role_name in ALL_ROLES:
        if role_name == current_app.config["AUTH_ROLE_ADMIN"]:
            continue
        pairs: set[Pair] = set()
        for view_name, perms in ROLE_PERMISSIONS[role_name].items():
            pairs.update((perm, view_name) for perm in perms)
            if MENU_PERMISSIONS.intersection(perms):
                pairs.update((MENU_ACCESS, menu) for menu in menu_names.get(view_name, ()))
        result[role_name] = pairs
    return result


def _ensure_pairs(session: Session, pairs: set[Pair], view_names: Iterable[str]) -> dict[Pair, int]:
    """Permission, view menu and permission/view rows for the pairs (and a view menu for every
    view); returns the id of each pair's row."""
    permissions = {p.name: p for p in session.scalars(select(Permission))}
    view_menus = {v.name: v for v in session.scalars(select(ViewMenu))}
    for name in sorted({perm for perm, _ in pairs} - set(permissions)):
        permissions[name] = Permission(name=name)
        session.add(permissions[name])
    for name in sorted(({view for _, view in pairs} | set(view_names)) - set(view_menus)):
        view_menus[name] = ViewMenu(name=name)
        session.add(view_menus[name])
    session.flush()
    existing = {(perm, view): pv_id for pv_id, perm, view in _pair_rows(session)}
    missing = sorted(set(pairs) - set(existing))
    if missing:
        session.execute(
            insert(PermissionView),
            [{"permission_id": permissions[perm].id, "view_menu_id": view_menus[view].id} for perm, view in missing],
        )
        existing = {(perm, view): pv_id for pv_id, perm, view in _pair_rows(session)}
    return existing


def _pair_rows(session: Session) -> list[tuple[int, str, str]]:
    return list(
        session.execute(
            select(PermissionView.id, Permission.name, ViewMenu.name)
            .join(Permission, PermissionView.permission_id == Permission.id)
            .join(ViewMenu, PermissionView.view_menu_id == ViewMenu.id)
        ).tuples()
    )


def _stale_pairs(session: Session, view_names: set[str], wanted: set[Pair]) -> set[int]:
    """Ids of pairs on a registered view whose permission the view (and app/roles.py) no longer has."""
    return {pv_id for pv_id, perm, view in _pair_rows(session) if view in view_names and (perm, view) not in wanted}


def _delete_pairs(session: Session, pv_ids: set[int]) -> None:
    """Take the pairs from every role, delete them, and delete permission names left unused."""
    permission_ids = set(session.scalars(select(PermissionView.permission_id).where(PermissionView.id.in_(pv_ids))))
    session.execute(delete(assoc_permissionview_role).where(assoc_permissionview_role.c.permission_view_id.in_(pv_ids)))
    session.execute(
        delete(PermissionView).where(PermissionView.id.in_(pv_ids)), execution_options={"synchronize_session": False}
    )
    still_used = set(
        session.scalars(select(PermissionView.permission_id).where(PermissionView.permission_id.in_(permission_ids)))
    )
    if permission_ids - still_used:
        session.execute(
            delete(Permission).where(Permission.id.in_(permission_ids - still_used)),
            execution_options={"synchronize_session": False},
        )


def _ensure_roles(session: Session, names: list[str]) -> dict[str, int]:
    roles = {r.name: r for r in session.scalars(select(Role))}
    for name in names:  # in this order, so Admin gets the first id on a fresh database
        if name not in roles:
            roles[name] = Role(name=name)
            session.add(roles[name])
            session.flush()
    return {name: role.id for name, role in roles.items()}


def _held_permissions(session: Session) -> dict[int, set[int]]:
    held: dict[int, set[int]] = defaultdict(set)
    for role_id, pv_id in session.execute(
        select(assoc_permissionview_role.c.role_id, assoc_permissionview_role.c.permission_view_id)
    ):
        held[role_id].add(pv_id)
    return held


def _set_role_permissions(session: Session, held: dict[int, set[int]], wanted: dict[int, set[int]]) -> None:
    table = assoc_permissionview_role
    for role_id, ids in sorted(wanted.items()):
        removed = held[role_id] - ids
        if removed:
            session.execute(
                delete(table).where(table.c.role_id == role_id, table.c.permission_view_id.in_(sorted(removed)))
            )
    added = [
        {"role_id": role_id, "permission_view_id": pv_id}
        for role_id, ids in sorted(wanted.items())
        for pv_id in sorted(ids - held[role_id])
    ]
    if added:
        session.execute(insert(table), added)


def _menu_names_by_view(appbuilder: Any) -> dict[str, set[str]]:
    """Map a view class name to the menu item names (and their category) that open it."""
    result: dict[str, set[str]] = {}
    for view in appbuilder.baseviews:
        name = view.__class__.__name__
        for item in appbuilder.menu.get_list():
            for child in [item, *item.childs]:
                if getattr(child, "baseview", None) is view:
                    result.setdefault(name, set()).add(child.name)
                    if child is not item:
                        result[name].add(item.name)
    return result
