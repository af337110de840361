"""Brukere: the users of a company, for its customer admins (CompanyUserView, own company) and for
customer service and Admin (PortalUserDBModelView, FAB's user admin, any company).

Both get the same pages on top of their list and show pages (`UserAdminRoutes`): "Ny bruker"
(welcome mail with a set-password link instead of a password typed by someone else), deactivate,
activate, make administrator / remove administrator role, send a new password link. The rules are
app/domain/accounts.py's. FAB's own "user info" page leads to Min profil (app/views/accounts/profile.py).
FAB's "reset password" of another user (`ResetPasswordView`) checks the password policy next to the
field and saves through the domain.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from flask import abort, current_app, flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_appbuilder.baseviews import expose
from flask_appbuilder.fields import QuerySelectMultipleField
from flask_appbuilder.fieldwidgets import BS3PasswordFieldWidget, Select2ManyWidget
from flask_appbuilder.forms import DynamicForm
from flask_appbuilder.models.filters import BaseFilter
from flask_appbuilder.security.decorators import has_access, permission_name
from flask_appbuilder.security.sqla.models import Role
from flask_appbuilder.security.views import ResetPasswordView as FabResetPasswordView
from flask_appbuilder.security.views import UserDBModelView
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import joinedload, selectinload
from wtforms import PasswordField
from wtforms.validators import DataRequired, EqualTo, Length, Optional, ValidationError

from app.domain import accounts, labels, throttle
from app.domain.passwords import PASSWORD_HINT
from app.domain.validation import validate_email, validate_phone
from app.extensions import db
from app.models import Company, PortalUser
from app.views import throttling
from app.views.accounts import mfa as mfa_views
from app.views.base import (
    FormRefused,
    LookupField,
    PortalInterface,
    PortalModelView,
    domain_rule,
    fmt_datetime,
    fmt_roles,
    fmt_yes_no,
)
from app.views.forms import MAX_ID, current_actor, domain_action, password_validator

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
    """The domain's rule for roles and company, next to the roles field of FAB's user form.

    (FAB's own validator also reads a "groups" field, which this form does not have.)
    """
    message = _role_company_conflict({r.name for r in field.data or []}, getattr(form.company, "object", None))
    if message:
        raise ValidationError(message)


def _role_company_conflict(role_names: set[str], company: Any) -> str:
    return next(iter(accounts.role_company_errors(role_names, company is not None).values()), "")


def _assignable_roles() -> list[Role]:
    names = accounts.assignable_roles(current_actor())
    return (
        current_app.extensions["appbuilder"].session.query(Role).filter(Role.name.in_(names)).order_by(Role.name).all()
    )


class FilterAssignableRoles(BaseFilter):
    """Roles a user admin may hand out: customer service gives customer roles only; Admin gives any."""

    name = "assignable roles"

    def apply(self, query: Any, value: Any) -> Any:
        return query.filter(Role.name.in_(accounts.assignable_roles(current_actor())))


# --- Ny bruker, deactivate/activate, promote/demote: the same pages for both user lists ---------

# The one-click changes on a user's page: the domain rule and what to say when it is done.
_MANAGE: dict[str, tuple[Callable[..., Any], Callable[[Any], str]]] = {
    "deactivate": (
        accounts.deactivate_user,
        lambda user: _("%(name)s er deaktivert og logget ut overalt.", name=user.full_name),
    ),
    "activate": (accounts.activate_user, lambda user: _("%(name)s er aktivert igjen.", name=user.full_name)),
    "promote": (accounts.promote_user, lambda user: _("%(name)s er nå administrator hos kunden.", name=user.full_name)),
    "demote": (accounts.demote_user, lambda user: _("%(name)s er ikke lenger administrator.", name=user.full_name)),
    "send_link": (
        accounts.send_password_link,
        lambda mail: _("En ny lenke for å velge passord er sendt til %(email)s.", email=mail.to_address),
    ),
}


if TYPE_CHECKING:
    # Mixed into a FAB ModelView: to the type checker the mixin is one (FAB ships no types, so its
    # attributes are Any); at run time it stays a plain class in front of the view's own bases.
    from flask_appbuilder import ModelView as _ModelViewHost
else:
    _ModelViewHost = object


class UserAdminRoutes(_ModelViewHost):
    """Mixed into a ModelView of PortalUser: "Ny bruker" (`add`, replacing FAB's form with a
    password) and the POST routes of the buttons on a user's page (permission `can_manage`)."""

    show_template = "portal/user_show.html"
    # A customer admin names no company (it is theirs); supplier staff type a customer number.
    company_by_customer_number = False

    @expose("/add", methods=["GET", "POST"])
    @has_access
    def add(self) -> ResponseReturnValue:
        actor = current_actor()
        # Supplier staff (Admin on the customer's page too) always name the company.
        by_number = self.company_by_customer_number or not actor.is_customer
        form = (
            request.form
            if request.method == "POST"
            else {"role": accounts.CUSTOMER_USER, "company": request.args.get("kundenummer", "")}
        )
        errors: dict[str, str] = {}
        if request.method == "POST":
            # Refusals on the username or e-mail count per user: they tell whether a username or
            # address exists in another company.
            if not throttling.allowed(throttle.USER_CREATE):
                abort(429)
            with domain_action(errors_on_page=True) as done:
                user, _mail = accounts.create_user(
                    db.session,
                    actor,
                    first_name=form.get("first_name"),
                    last_name=form.get("last_name"),
                    email=form.get("email"),
                    phone=form.get("phone"),
                    username=form.get("username"),
                    role=form.get("role"),
                    customer_number=form.get("company") if by_number else None,
                )
                created = _(
                    "Brukeren %(username)s er opprettet. En velkomstmail med lenke for å velge passord "
                    "er sendt til %(email)s (lenken gjelder i %(hours)s timer).",
                    username=user.username,
                    email=user.email,
                    hours=accounts.link_hours(),
                )
                user_id = user.id
            if done.ok:
                flash(created, "success")
                return redirect(url_for(f"{self.endpoint}.show", pk=user_id))
            if done.errors.keys() & {"username", "email"}:
                throttling.count(throttle.USER_CREATE)
            if not done.errors:  # refused as a whole (said above the page)
                return redirect(url_for(f"{self.endpoint}.list"))
            # The page has one company field: the customer number.
            errors = {_FORM_NAMES.get(k, k): v for k, v in done.errors.items()}
        roles = [(name, labels.label(labels.ROLE, name)) for name in accounts.assignable_roles(actor)]
        return self.render_template(
            "portal/user_new.html",
            title=_("Ny bruker"),
            form=form,
            errors=errors,
            roles=roles,
            with_company=by_number,
            list_url=url_for(f"{self.endpoint}.list"),
        )

    @expose("/<pk>/deaktiver", methods=["POST"])
    @has_access
    @permission_name("manage")
    def deactivate(self, pk: str) -> ResponseReturnValue:
        return self._manage("deactivate", pk)

    @expose("/<pk>/aktiver", methods=["POST"])
    @has_access
    @permission_name("manage")
    def activate(self, pk: str) -> ResponseReturnValue:
        return self._manage("activate", pk)

    @expose("/<pk>/administrator", methods=["POST"])
    @has_access
    @permission_name("manage")
    def promote(self, pk: str) -> ResponseReturnValue:
        return self._manage("promote", pk)

    @expose("/<pk>/bruker", methods=["POST"])
    @has_access
    @permission_name("manage")
    def demote(self, pk: str) -> ResponseReturnValue:
        return self._manage("demote", pk)

    @expose("/<pk>/ny-passordlenke", methods=["POST"])
    @has_access
    @permission_name("manage")
    def send_link(self, pk: str) -> ResponseReturnValue:
        return self._manage("send_link", pk)

    def _manage(self, change: str, pk: str) -> ResponseReturnValue:
        user_id = _user_id_or_404(pk)
        rule, said = _MANAGE[change]
        with domain_action() as done:
            message = said(rule(db.session, current_actor(), user_id))
        if done.ok:
            flash(message, "success")
        return redirect(url_for(f"{self.endpoint}.show", pk=user_id))

    def show_context(self, item: Any) -> dict[str, Any]:
        actor = current_actor()
        manageable = (
            item.company_id is not None
            and accounts.may_manage_users(actor, item.company_id)
            and self.appbuilder.sm.has_access("can_manage", self.class_permission_name)
        )
        return {
            "can_manage": manageable,
            "is_admin_user": accounts.CUSTOMER_ADMIN in {r.name for r in item.roles},
            "is_self": item.id == actor.id,
            "manage_endpoint": self.endpoint,
        }


# Domain field names -> the "Ny bruker" page's field names.
_FORM_NAMES = {"company_id": "company", "customer_number": "company"}


def _user_id_or_404(pk: str) -> int:
    if not (pk.isascii() and pk.isdigit()) or not 0 < int(pk) <= MAX_ID:
        abort(404)
    return int(pk)


class PortalUserDBModelView(UserAdminRoutes, PortalModelView, UserDBModelView):
    """FAB's user admin with company (typed as customer number), phone and newsletter; Norwegian.
    Customer service manages any company's users here; new users get a welcome mail."""

    base_permissions = ["can_list", "can_show", "can_add", "can_edit", "can_userinfo", "can_manage"]
    company_by_customer_number = True

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
        (
            _l("Bruker"),
            {
                "fields": [
                    "first_name",
                    "last_name",
                    "username",
                    "email",
                    "phone",
                    "company",
                    "active",
                    "roles",
                    "newsletter",
                ]
            },
        ),
        (
            _l("Innlogging"),
            {
                "fields": ["last_login", "login_count", "fail_login_count", "created_on", "changed_on"],
                "expanded": False,
            },
        ),
    ]
    user_show_fieldsets = [
        (
            _l("Min profil"),
            {"fields": ["first_name", "last_name", "username", "email", "phone", "company", "newsletter"]},
        ),
    ]
    add_columns = [
        "first_name",
        "last_name",
        "username",
        "email",
        "phone",
        "company",
        "active",
        "roles",
        "password",
        "conf_password",
    ]
    edit_columns = ["first_name", "last_name", "username", "email", "phone", "company", "active", "roles"]
    _company_field = LookupField(
        _l("Bedrift (kundenummer)"),
        model=Company,
        key="customer_number",
        required=False,
        not_found=_l("Fant ingen bedrift med dette kundenummeret."),
    )
    # Roles by their Norwegian names; customer service may only hand out customer roles.
    _roles_field = QuerySelectMultipleField(
        _l("Roller"),
        query_func=_assignable_roles,
        get_pk_func=lambda role: role.id,
        get_label=lambda role: labels.label(labels.ROLE, role.name),
        widget=Select2ManyWidget(),
        validators=[_roles_fit_company],
    )
    add_form_extra_fields = {**UserDBModelView.add_form_extra_fields, "company": _company_field, "roles": _roles_field}
    edit_form_extra_fields = {"company": _company_field, "roles": _roles_field}
    validators_columns = {
        "first_name": [DataRequired(message=_l("Skriv fornavnet.")), Length(max=64)],
        "last_name": [DataRequired(message=_l("Skriv etternavnet.")), Length(max=64)],
        "username": [DataRequired(message=_l("Skriv et brukernavn.")), Length(max=128)],
        "email": [DataRequired(message=_l("Skriv e-postadressen.")), domain_rule(validate_email)],
        "phone": [Optional(), domain_rule(validate_phone)],
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

    @expose("/<pk>/nullstill-tofaktor", methods=["POST"])
    @has_access
    @permission_name("manage")
    def reset_mfa(self, pk: str) -> ResponseReturnValue:
        """Turn off the user's two-factor login (lost phone): app/views/accounts/mfa.py."""
        return mfa_views.reset_from_user_admin(self.endpoint, pk)

    def show_context(self, item: Any) -> dict[str, Any]:
        return {**super().show_context(item), **mfa_views.reset_context(self.endpoint, item)}

    @expose("/userinfo/")
    @has_access
    def userinfo(self) -> ResponseReturnValue:
        """FAB's own-profile page: ours is Min profil."""
        return redirect(url_for("ProfileView.index"))

    def before_save(self, item: Any, is_new: bool) -> None:
        message = _role_company_conflict({r.name for r in item.roles or []}, item.company)
        if message:  # the form says it next to the field; this holds for any other way in
            raise FormRefused(message)
        if not is_new:  # deactivating or demoting here keeps one active admin per company too
            accounts.check_user_edit(self.datamodel.session, item, current_actor())


class CompanyUserView(UserAdminRoutes, PortalModelView):
    """Brukere (Min side): everyone who can order on the customer admin's own company (the guard
    scopes the rows); new users, deactivation and the admin role from the buttons (UserAdminRoutes)."""

    route_base = "/companyusers"
    datamodel = PortalInterface(PortalUser, list_options=[selectinload(PortalUser.roles)])
    base_permissions = ["can_list", "can_show", "can_add", "can_manage"]
    add_title = _l("Ny bruker")
    add_columns = ["first_name", "last_name"]  # FAB builds an add form; "Ny bruker" is our own page

    list_title = _l("Brukere")
    show_title = _l("Bruker")
    label_columns = USER_LABELS
    formatters_columns = USER_FORMATTERS
    list_columns = ["first_name", "last_name", "username", "email", "phone", "roles", "active", "last_login"]
    order_columns = ["first_name", "last_name", "username", "last_login"]
    base_order = ("last_name", "asc")
    search_columns = ["first_name", "last_name", "username", "email", "active"]
    show_fieldsets = [
        (
            _l("Bruker"),
            {
                "fields": [
                    "first_name",
                    "last_name",
                    "username",
                    "email",
                    "phone",
                    "roles",
                    "active",
                    "newsletter",
                    "last_login",
                ]
            },
        ),
    ]


# --- FAB's "reset password" of another user (Admin) ----------------------------------------------


def _reset_user_id() -> int | None:
    """FAB's reset form names the user in the query string (?pk=)."""
    pk = request.args.get("pk", "")
    return int(pk) if pk.isascii() and pk.isdigit() and 0 < int(pk) <= MAX_ID else None


def _reset_user(form: Any = None) -> PortalUser | None:
    user_id = _reset_user_id()
    return db.session.get(PortalUser, user_id) if user_id is not None else None


class ResetPasswordForm(DynamicForm):
    password = PasswordField(
        _l("Nytt passord"),
        description=PASSWORD_HINT,
        validators=[DataRequired(message=_l("Skriv et nytt passord.")), password_validator(_reset_user)],
        widget=BS3PasswordFieldWidget(),
    )
    conf_password = PasswordField(
        _l("Bekreft passord"),
        validators=[EqualTo("password", message=_l("Passordene er ikke like."))],
        widget=BS3PasswordFieldWidget(),
    )


class ResetPasswordView(FabResetPasswordView):
    """FAB's "reset password" form for another user, with the portal's password policy (FAB's
    accepts anything). Same class name, so FAB's endpoint and permission stay as they are."""

    form = ResetPasswordForm
    form_title = _l("Nytt passord")

    def form_get(self, form: Any) -> None:
        if _reset_user() is None:
            abort(404)

    def form_post(self, form: Any) -> ResponseReturnValue | None:
        user_id = _reset_user_id()
        if user_id is None:
            abort(404)
        with domain_action(form) as done:
            user = accounts.reset_password(db.session, current_actor(), user_id, form.password.data)
            said = _("Passordet til %(name)s er endret. Brukeren er logget ut overalt.", name=user.full_name)
        if not done.ok:
            return self.render_template(
                self.form_template,
                title=self.form_title,
                widgets=self._get_edit_widget(form=form),
                appbuilder=self.appbuilder,
            )
        if user_id == current_actor().id:
            self.appbuilder.sm.remember_stamp(user)  # an admin's own session stays, as on Min profil
        flash(said, "success")
        return redirect(url_for(f"{self.appbuilder.sm.userdbmodelview.__name__}.show", pk=user_id))
