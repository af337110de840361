"""Users: FAB's user admin for supplier staff (PortalUserDBModelView, also "Min profil"), and a customer
admin's read-only list of the company's users (CompanyUserView)."""
from __future__ import annotations

from typing import Any

from flask import current_app, g
from flask_appbuilder.fields import QuerySelectMultipleField
from flask_appbuilder.fieldwidgets import Select2ManyWidget
from flask_appbuilder.models.filters import BaseFilter
from flask_appbuilder.security.sqla.models import Role
from flask_appbuilder.security.views import UserDBModelView
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import joinedload, selectinload
from wtforms.validators import DataRequired, Email, Length, ValidationError

from ..domain import labels
from ..models import Company, PortalUser
from ..roles import CUSTOMER_ROLES
from .base import (
    FormRefused,
    LookupField,
    PortalInterface,
    PortalModelView,
    fmt_datetime,
    fmt_roles,
    fmt_yes_no,
)

USER_LABELS = {
    "first_name": _l("Fornavn"),
    "last_name": _l("Etternavn"),
    "full_name": _l("Navn"),
    "username": _l("Brukernavn"),
    "email": _l("E-post"),
    "phone": _l("Telefon"),
    "company": _l("Bedrift"),
    "roles": _l("Roller"),
    "groups": _l("Grupper"),
    "active": _l("Aktiv"),
    "newsletter": _l("Nyhetsbrev"),
    "password": _l("Passord"),
    "conf_password": _l("Bekreft passord"),
    "last_login": _l("Sist innlogget"),
    "login_count": _l("Antall innlogginger"),
    "fail_login_count": _l("Mislykkede innlogginger"),
    "created_on": _l("Opprettet"),
    "changed_on": _l("Endret"),
    "created_by": _l("Opprettet av"),
    "changed_by": _l("Endret av"),
}

USER_FORMATTERS = {
    "roles": fmt_roles,
    "active": fmt_yes_no,
    "newsletter": fmt_yes_no,
    "last_login": fmt_datetime,
    "created_on": fmt_datetime,
    "changed_on": fmt_datetime,
}


def _roles_fit_company(form: Any, field: Any) -> None:
    """At least one role; customer roles need a company, a company's users only customer roles.

    (FAB's own validator also reads a "groups" field, which this form does not have.)
    """
    if not field.data:
        raise ValidationError(str(_l("Velg minst én rolle.")))
    message = _role_company_conflict({r.name for r in field.data}, getattr(form.company, "object", None))
    if message:
        raise ValidationError(message)


def _role_company_conflict(role_names: set[str], company: Any) -> str:
    if role_names & set(CUSTOMER_ROLES) and company is None:
        return str(_l("En kundebruker må høre til en bedrift (kundenummer)."))
    if company is not None and role_names - set(CUSTOMER_ROLES):
        return str(_l("Brukere hos en kunde kan bare ha kunderoller."))
    return ""


def _is_admin() -> bool:
    user = g.get("user")
    return bool(user) and any(r.name == "Admin" for r in getattr(user, "roles", []))


def _assignable_roles() -> list[Role]:
    query = current_app.appbuilder.session.query(Role).order_by(Role.name)
    if _is_admin():
        return query.filter(Role.name != "Public").all()
    return query.filter(Role.name.in_(CUSTOMER_ROLES)).all()


class FilterAssignableRoles(BaseFilter):
    """Roles a user admin may hand out: customer service gives customer roles only; Admin gives any."""

    name = "assignable roles"

    def apply(self, query: Any, value: Any) -> Any:
        if _is_admin():
            return query.filter(Role.name != "Public")
        return query.filter(Role.name.in_(CUSTOMER_ROLES))


class PortalUserDBModelView(PortalModelView, UserDBModelView):
    """FAB's user admin with company (typed as customer number), phone and newsletter; Norwegian."""

    base_permissions = ["can_list", "can_show", "can_add", "can_edit", "can_userinfo"]

    list_title = _l("Brukere")
    show_title = _l("Bruker")
    add_title = _l("Ny bruker")
    edit_title = _l("Endre bruker")
    user_info_title = _l("Min profil")

    label_columns = USER_LABELS
    formatters_columns = USER_FORMATTERS
    description_columns = {
        "company": _l("Kundenummeret til bedriften brukeren hører til. Tomt for våre egne ansatte."),
        "active": _l("Deaktiver brukere i stedet for å slette dem."),
        "roles": _l("Kundebrukere får rollene «Administrator hos kunde» eller «Bruker»."),
    }
    list_columns = ["first_name", "last_name", "username", "email", "company", "roles", "active"]
    order_columns = ["first_name", "last_name", "username", "email"]
    base_order = ("username", "asc")
    search_columns = ["first_name", "last_name", "username", "email", "active", "roles"]
    supplier_only_columns = ()
    show_fieldsets = [
        (_l("Bruker"), {"fields": ["first_name", "last_name", "username", "email", "phone", "company", "active",
                                   "roles", "newsletter"]}),
        (_l("Innlogging"), {"fields": ["last_login", "login_count", "fail_login_count", "created_on",
                                       "changed_on"], "expanded": False}),
    ]
    user_show_fieldsets = [
        (_l("Min profil"), {"fields": ["first_name", "last_name", "username", "email", "phone", "company",
                                       "newsletter"]}),
    ]
    add_columns = ["first_name", "last_name", "username", "email", "phone", "company", "active", "roles",
                   "password", "conf_password"]
    edit_columns = ["first_name", "last_name", "username", "email", "phone", "company", "active", "roles"]
    _company_field = LookupField(
        _l("Bedrift (kundenummer)"), model=Company, key="customer_number", required=False,
        not_found=_l("Fant ingen bedrift med dette kundenummeret."),
    )
    # Roles by their Norwegian names; customer service may only hand out customer roles.
    _roles_field = QuerySelectMultipleField(
        _l("Roller"), query_func=_assignable_roles, get_pk_func=lambda role: role.id,
        get_label=lambda role: labels.label(labels.ROLE, role.name), widget=Select2ManyWidget(),
        validators=[_roles_fit_company],
    )
    add_form_extra_fields = {**UserDBModelView.add_form_extra_fields, "company": _company_field,
                             "roles": _roles_field}
    edit_form_extra_fields = {"company": _company_field, "roles": _roles_field}
    validators_columns = {
        "first_name": [DataRequired(message=_l("Skriv fornavnet.")), Length(max=64)],
        "last_name": [DataRequired(message=_l("Skriv etternavnet.")), Length(max=64)],
        "username": [DataRequired(message=_l("Skriv et brukernavn.")), Length(max=128)],
        "email": [DataRequired(message=_l("Skriv e-postadressen.")), Email(message=_l("Ugyldig e-postadresse."))],
    }
    search_form_query_rel_fields = {"roles": [["name", FilterAssignableRoles, None]]}

    def __init__(self, **kwargs: Any) -> None:
        # The security manager sets a plain SQLAInterface on the class; lists need eager loading.
        self.datamodel = PortalInterface(
            PortalUser,
            list_options=[joinedload(PortalUser.company), selectinload(PortalUser.roles)],
        )
        super().__init__(**kwargs)

    def show_actions(self) -> dict[str, Any]:
        # FAB's own-profile actions ("edit my info", "reset my password") make no sense on another
        # user's page; keep only resetting that user's password.
        return {k: v for k, v in self.actions.items() if k == "resetpasswords"}

    def before_save(self, item: Any, is_new: bool) -> None:
        message = _role_company_conflict({r.name for r in item.roles or []}, item.company)
        if message:  # the form says it next to the field; this holds for any other way in
            raise FormRefused(message)


class CompanyUserView(PortalModelView):
    """Brukere (Min side): the users of the customer admin's own company; the guard scopes the rows."""

    route_base = "/companyusers"
    datamodel = PortalInterface(PortalUser, list_options=[selectinload(PortalUser.roles)])
    base_permissions = ["can_list", "can_show"]

    list_title = _l("Brukere")
    show_title = _l("Bruker")
    label_columns = USER_LABELS
    formatters_columns = USER_FORMATTERS
    list_columns = ["first_name", "last_name", "username", "email", "phone", "roles", "active", "last_login"]
    order_columns = ["first_name", "last_name", "username", "last_login"]
    base_order = ("last_name", "asc")
    search_columns = ["first_name", "last_name", "username", "email", "active"]
    show_fieldsets = [
        (_l("Bruker"), {"fields": ["first_name", "last_name", "username", "email", "phone", "roles", "active",
                                   "newsletter", "last_login"]}),
    ]
