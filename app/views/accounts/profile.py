"""Min profil (every logged-in user) and the public set-password page of the welcome mail.

Rules live in app/domain/accounts.py. FAB's own-profile forms (user info edit, "reset my
password": no current password, no policy, sessions kept) lead here instead.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, flash, g, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.security.decorators import permission_name
from flask_appbuilder.security.views import (
    ResetMyPasswordView as FabResetMyPasswordView,
)
from flask_appbuilder.security.views import UserInfoEditView as FabUserInfoEditView
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, logout_user

from app.domain import accounts, labels, notices, throttle
from app.domain.passwords import PASSWORD_HINT
from app.extensions import db
from app.models import PortalUser
from app.tenancy import set_request_tenant
from app.views import throttling
from app.views.base import user_can
from app.views.forms import current_actor, domain_action

# (label, view, endpoint method, permission) of the company administration a customer admin reaches
# from Min profil; each shown only if the user holds the permission.
COMPANY_ADMIN_LINKS = (
    (_l("Bedriftsinformasjon"), "MyCompanyView", "mine", "can_show"),
    (_l("Brukere"), "CompanyUserView", "list", "can_list"),
    (_l("Leveringsadresser"), "DeliveryAddressView", "list", "can_list"),
    (_l("Bruksgrense"), "BudgetView", "list", "can_list"),
)


MSG_TOO_MANY_CHECKS = _l("For mange forsøk med feil passord. Vent en stund og prøv igjen.")


def _checked(value: str | None) -> bool:
    return (value or "").lower() in ("y", "on", "1", "true", "ja")


class ProfileView(BaseView):
    """Min profil: contact information, password and newsletter of the logged-in user."""

    route_base = "/min-profil"
    default_view = "index"
    base_permissions = ["can_show", "can_edit"]

    @expose("/")
    @has_access
    @permission_name("show")
    def index(self) -> ResponseReturnValue:
        return self._page()

    @expose("/kontakt", methods=["POST"])
    @has_access
    @permission_name("edit")
    def contact(self) -> ResponseReturnValue:
        form = request.form
        with domain_action(errors_on_page=True) as done:
            accounts.update_contact(
                db.session,
                current_actor(),
                first_name=form.get("first_name"),
                last_name=form.get("last_name"),
                email=form.get("email"),
                phone=form.get("phone"),
            )
        if not done.ok:
            return self._page(contact_errors=done.errors, contact_values=form)
        flash(_("Kontaktinformasjonen er lagret."), "success")
        return redirect(url_for("ProfileView.index"))

    @expose("/passord", methods=["POST"])
    @has_access
    @permission_name("edit")
    def password(self) -> ResponseReturnValue:
        form = request.form
        # Wrong current passwords count per user: a session left open is no way to guess it.
        if not throttling.allowed(throttle.PASSWORD_CHECK):
            return self._page(password_errors={"current_password": str(MSG_TOO_MANY_CHECKS)}), 429
        with domain_action(errors_on_page=True) as done:
            user = accounts.change_password(
                db.session,
                current_actor(),
                current=form.get("current_password", ""),
                password=form.get("password", ""),
                confirm=form.get("confirm_password", ""),
            )
        if not done.ok:
            if "current_password" in done.errors:
                throttling.count(throttle.PASSWORD_CHECK)
            return self._page(password_errors=done.errors)
        current_app.extensions["appbuilder"].sm.remember_stamp(
            user
        )  # this session stays; every other session and API token of the user ends
        flash(
            _("Passordet er endret. Du er logget ut på alle andre enheter, og gamle API-tokens virker ikke lenger."),
            "success",
        )
        return redirect(url_for("ProfileView.index"))

    @expose("/nyhetsbrev", methods=["POST"])
    @has_access
    @permission_name("edit")
    def newsletter(self) -> ResponseReturnValue:
        subscribe = _checked(request.form.get("newsletter"))
        with domain_action() as done:
            accounts.set_newsletter(db.session, current_actor(), subscribe)
        if done.ok:
            flash(_("Du får nyhetsbrevet.") if subscribe else _("Du er meldt av nyhetsbrevet."), "success")
        return redirect(url_for("ProfileView.index"))

    @expose("/varsler", methods=["POST"])
    @has_access
    @permission_name("edit")
    def mail_choices(self) -> ResponseReturnValue:
        """E-post ved varsler: each kind the user may turn off, on when ticked."""
        actor = current_actor()
        wanted = {kind: _checked(request.form.get(f"mail_{kind}")) for kind in notices.KINDS}
        with domain_action() as done:
            notices.set_mail_choices(db.session, actor.id, actor.roles, wanted)  # type: ignore[arg-type]  # logged in
        if done.ok:
            flash(_("Valgene for e-post er lagret."), "success")
        return redirect(url_for("ProfileView.index") + "#varsler")

    def _page(
        self,
        contact_errors: dict[str, str] | None = None,
        contact_values: Any = None,
        password_errors: dict[str, str] | None = None,
    ):
        user = db.session.get(PortalUser, g.user.id)
        actor = current_actor()
        role_names = sorted(r.name for r in user.roles)
        admin_links: list[tuple[Any, str]] = []
        company_admins: list[PortalUser] = []
        if actor.is_customer:
            if actor.has_role(accounts.CUSTOMER_ADMIN):
                admin_links = [
                    (label, url_for(f"{view}.{method}"))
                    for label, view, method, perm in COMPANY_ADMIN_LINKS
                    if user_can(perm, view)
                ]
            else:
                company_admins = accounts.company_admins(db.session, actor.company_id)  # type: ignore[arg-type]  # customer branch: company set
        values = (
            contact_values
            if contact_values is not None
            else {
                "first_name": user.first_name,
                "last_name": user.last_name,
                "email": user.email,
                "phone": user.phone or "",
            }
        )
        return self.render_template(
            "portal/profile.html",
            title=_("Min profil"),
            user=user,
            values=values,
            contact_errors=contact_errors or {},
            password_errors=password_errors or {},
            role_labels=[labels.label(labels.ROLE, r) for r in role_names],
            admin_links=admin_links,
            company_admins=company_admins,
            is_customer=actor.is_customer,
            password_hint=PASSWORD_HINT,
            mail_choices=notices.mail_choices(db.session, user.id, actor.roles),
        )


class PasswordLinkView(BaseView):
    """/passord/<token>: the link in the welcome mail. Public: the signed link says who it is for."""

    route_base = "/passord"
    default_view = "set_password"

    @expose("/<token>", methods=["GET", "POST"])
    def set_password(self, token: str) -> ResponseReturnValue:
        self._act_for_link(token)
        with domain_action(errors_on_page=True) as link:
            user = accounts.user_for_link(db.session, token)
        if not link.ok:
            return self._link_page(errors=link.errors)
        errors: dict[str, str] = {}
        if request.method == "POST":
            with domain_action(errors_on_page=True) as done:
                accounts.set_password_from_link(
                    db.session,
                    token,
                    password=request.form.get("password", ""),
                    confirm=request.form.get("confirm_password", ""),
                )
            if done.ok:
                flash(
                    _(
                        "Passordet er lagret. Logg inn med brukernavnet %(username)s og det nye passordet.",
                        username=user.username,
                    ),
                    "success",
                )
                return redirect(url_for(f"{self.appbuilder.sm.auth_view.endpoint}.login"))
            errors = done.errors
        return self._link_page(errors=errors, user=user)

    def _link_page(self, errors: dict[str, str], user: PortalUser | None = None) -> ResponseReturnValue:
        """The form for the link's user, or (refused link) only why the link does not work."""
        invalid = errors.get(accounts.LINK_FIELD)
        return self.render_template(
            "portal/password_link.html",
            title=_("Velg passord"),
            invalid=invalid,
            errors={} if invalid else errors,
            user=None if invalid else user,
            password_hint=PASSWORD_HINT,
        )

    @staticmethod
    def _act_for_link(token: str) -> None:
        """The page acts for the link's user: another user logged in in this browser is logged out
        (and with it the company scope, as the link may be for another company's user)."""
        if current_user.is_authenticated and accounts.token_user_id(token) != current_user.id:
            logout_user()
            g.user = current_user
            g.pop("portal_user", None)
            set_request_tenant(None)


class _ToMinProfil:
    """FAB's own-profile forms lead to Min profil (kept under FAB's names, so endpoints and
    permissions stay): FAB's would set a password without the current one and without the policy."""

    @expose("/form", methods=["GET"])
    @has_access
    def this_form_get(self) -> ResponseReturnValue:
        return redirect(url_for("ProfileView.index"))

    @expose("/form", methods=["POST"])
    @has_access
    def this_form_post(self) -> ResponseReturnValue:
        return redirect(url_for("ProfileView.index"))


class ResetMyPasswordView(_ToMinProfil, FabResetMyPasswordView):
    """FAB's "reset my password": to Min profil."""


class UserInfoEditView(_ToMinProfil, FabUserInfoEditView):
    """FAB's "edit my info": to Min profil."""
