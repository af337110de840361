"""`portal init`: roles and their permissions, exactly as app/roles.py says (idempotent)."""
from __future__ import annotations

from flask import current_app

from ..roles import ALL_ROLES, ROLE_PERMISSIONS

# A role that may open a view's default page also sees its menu item.
MENU_PERMISSIONS = frozenset({"can_list", "can_get", "can_this_form_get", "can_new", "can_queue"})


def init_roles() -> dict[str, int]:
    """Create FAB's permissions for every view, then set each role's permissions to the table.

    Permissions not in the table are removed from the role, so a role never keeps a stale right.
    Menu access follows from the views a role may list.
    """
    appbuilder = current_app.appbuilder
    sm = appbuilder.sm
    # Admin must exist first: FAB gives the admin role each permission it creates.
    sm.add_role(current_app.config["AUTH_ROLE_ADMIN"])
    # Let FAB register permission/view pairs for every registered view and API.
    appbuilder.add_permissions(update_perms=True)
    counts: dict[str, int] = {}
    menu_names = _menu_names_by_view(appbuilder)
    for role_name in ALL_ROLES:
        if role_name == "Admin":
            continue
        role = sm.find_role(role_name) or sm.add_role(role_name)
        wanted = []
        for view_name, perms in ROLE_PERMISSIONS[role_name].items():
            for perm in perms:
                pv = sm.add_permission_view_menu(perm, view_name)
                wanted.append(pv)
            if MENU_PERMISSIONS.intersection(perms):
                for menu in menu_names.get(view_name, ()):
                    wanted.append(sm.add_permission_view_menu("menu_access", menu))
        wanted_ids = {pv.id for pv in wanted}
        for pv in list(role.permissions):
            if pv.id not in wanted_ids:
                sm.del_permission_role(role, pv)
        for pv in wanted:
            if pv not in role.permissions:
                sm.add_permission_role(role, pv)
        counts[role_name] = len(wanted_ids)
    admin = sm.find_role(current_app.config["AUTH_ROLE_ADMIN"])
    sm.session.commit()
    counts["Admin"] = len(admin.permissions)
    return counts


def _menu_names_by_view(appbuilder) -> dict[str, set[str]]:  # type: ignore[no-untyped-def]
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
