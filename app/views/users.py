"""User administration views."""
from __future__ import annotations

from flask_appbuilder.security.views import UserDBModelView


class PortalUserDBModelView(UserDBModelView):
    """FAB's user admin with the company, phone and newsletter columns."""

    list_columns = ["first_name", "last_name", "username", "email", "company", "roles", "active"]
    show_fieldsets = [
        ("Bruker", {"fields": ["first_name", "last_name", "username", "email", "phone", "company", "active", "roles", "newsletter"]}),
        ("Innlogging", {"fields": ["last_login", "login_count", "fail_login_count", "created_on", "changed_on"]}),
    ]
    add_columns = ["first_name", "last_name", "username", "email", "phone", "company", "active", "roles", "password", "conf_password"]
    edit_columns = ["first_name", "last_name", "username", "email", "phone", "company", "active", "roles"]
