"""Tofaktorinnlogging on Min profil: set up (QR code), recovery codes, turn off (app/domain/mfa.py).

Every route acts on the logged-in user's own account (no user id in any URL). The QR code is an
inline SVG made on the server (no outside service, no script). Recovery codes are shown once, on
the page that answers the confirming POST, and are never stored in plain text.

`enforce_enrolment` (a before_request hook, registered in app/registry.py) sends a user whose role
requires two-factor login, and who has not set it up, to this page from every other page; the API
answers 403 instead. Logging out, the language switch, static files and these pages stay open.
"""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, flash, g, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.security.decorators import permission_name
from flask_babel import gettext as _
from markupsafe import Markup

from app.domain import mfa
from app.extensions import db
from app.models import PortalUser
from app.views.forms import MAX_ID, current_actor, domain_action

# Endpoints a user who must set up two-factor login may still use (besides MfaView and MfaApi).
_OPEN_ENDPOINTS = frozenset(
    {
        "static",
        "appbuilder.static",
        "plotly_js",
        "LocaleView.index",
        "AuthDBView.login",
        "AuthDBView.logout",
        "UtilView.back",
        "PasswordLinkView.set_password",
    }
)
_OPEN_PREFIXES = ("MfaView.", "MfaApi.")
# By path too: the login and logout routes of the security API and pages, whatever their endpoint.
_OPEN_PATHS = ("/static/", "/login", "/logout", "/lang/", "/api/v1/security/")


def _stays_open() -> bool:
    endpoint = request.endpoint or ""
    return (
        endpoint in _OPEN_ENDPOINTS
        or endpoint.startswith(_OPEN_PREFIXES)
        or endpoint.endswith(".static")
        or request.path.startswith(_OPEN_PATHS)
    )


def enforce_enrolment() -> ResponseReturnValue | None:
    """before_request: a user whose role requires two-factor login uses nothing else until it is set
    up. Costs nothing when no role requires it (the default), no statement otherwise."""
    if not mfa.required_roles():
        return None
    user = g.get("portal_user")
    if user is None or not getattr(user, "is_authenticated", False) or not mfa.must_enrol(user):
        return None
    if _stays_open():
        return None
    if request.path.startswith("/api/"):
        return {
            "message": _(
                "Du må sette opp tofaktorinnlogging før du kan bruke API-et: POST /api/v1/mfa/enrol, "
                "deretter /api/v1/mfa/confirm."
            )
        }, 403
    flash(_("Rollen din krever tofaktorinnlogging. Sett den opp før du går videre."), "warning")
    return redirect(url_for("MfaView.index"))


class MfaView(BaseView):
    """/min-profil/tofaktor: the user's own two-factor login."""

    route_base = "/min-profil/tofaktor"
    default_view = "index"
    base_permissions = ["can_show", "can_edit"]

    @expose("/")
    @has_access
    @permission_name("show")
    def index(self) -> ResponseReturnValue:
        return self._page()

    @expose("/start", methods=["POST"])
    @has_access
    @permission_name("edit")
    def start(self) -> ResponseReturnValue:
        with domain_action(errors_on_page=True) as done:
            mfa.start_enrolment(db.session, current_actor(), request.form.get("code", ""))
        if not done.ok:
            self._record_refusal("start", done.errors)
            return self._page(errors={"start": done.errors})
        return redirect(url_for("MfaView.index"))

    @expose("/bekreft", methods=["POST"])
    @has_access
    @permission_name("edit")
    def confirm(self) -> ResponseReturnValue:
        codes: list[str] = []
        with domain_action(errors_on_page=True) as done:
            codes = mfa.confirm_enrolment(db.session, current_actor(), request.form.get("code", ""))
        if not done.ok:
            self._record_refusal("confirm", done.errors)
            return self._page(errors={"confirm": done.errors})
        self._keep_this_session()
        return self._codes_page(codes, _("Tofaktorinnlogging er på."))

    @expose("/nye-koder", methods=["POST"])
    @has_access
    @permission_name("edit")
    def recovery_codes(self) -> ResponseReturnValue:
        codes: list[str] = []
        with domain_action(errors_on_page=True) as done:
            codes = mfa.regenerate_recovery_codes(db.session, current_actor(), request.form.get("code", ""))
        if not done.ok:
            self._record_refusal("recovery_codes", done.errors)
            return self._page(errors={"codes": done.errors})
        return self._codes_page(codes, _("Nye gjenopprettingskoder er laget. De gamle virker ikke lenger."))

    @expose("/skru-av", methods=["POST"])
    @has_access
    @permission_name("edit")
    def disable(self) -> ResponseReturnValue:
        form = request.form
        with domain_action(errors_on_page=True) as done:
            mfa.disable(db.session, current_actor(), code=form.get("code", ""), password=form.get("password", ""))
        if not done.ok:
            self._record_refusal("disable", done.errors)
            return self._page(errors={"disable": done.errors})
        self._keep_this_session()
        flash(_("Tofaktorinnlogging er skrudd av. Du er logget ut på alle andre enheter."), "success")
        return redirect(url_for("ProfileView.index"))

    @staticmethod
    def _record_refusal(event: str, errors: dict[str, Any]) -> None:
        """A wrong code or password goes into the audit log (the refused change was rolled back)."""
        if errors:
            with domain_action():
                mfa.record_refusal(db.session, current_actor(), event, errors)

    @staticmethod
    def _keep_this_session() -> None:
        """The change gave the user a new stamp (other sessions and tokens end): this one stays."""
        current_app.extensions["appbuilder"].sm.remember_stamp(db.session.get(PortalUser, g.user.id))

    def _page(self, errors: dict[str, dict[str, Any]] | None = None) -> ResponseReturnValue:
        actor = current_actor()
        state = mfa.status(db.session, actor)
        pending = mfa.pending_enrolment(db.session, actor)
        return self.render_template(
            "mfa/index.html",
            title=_("Tofaktorinnlogging"),
            state=state,
            pending=pending,
            qr_svg=Markup(pending.qr_svg) if pending else None,  # noqa: S704 - segno's SVG of our own URI
            secret_text=mfa.group_secret(pending.secret) if pending else None,
            errors=errors or {},
        )

    def _codes_page(self, codes: list[str], heading: str) -> ResponseReturnValue:
        return self.render_template(
            "mfa/recovery_codes.html", title=_("Gjenopprettingskoder"), codes=codes, heading=heading
        )


# --- the user admin's "reset two-factor login" (a lost phone), PortalUserDBModelView ----------------


def reset_context(endpoint: str, item: Any) -> dict[str, Any]:
    """What a user's page in the user admin needs for the reset button (shown when it may be used)."""
    usable = (mfa.enrolled(item) or bool(item.mfa_pending_secret)) and mfa.may_reset(current_actor(), item)
    return {"mfa_reset_url": url_for(f"{endpoint}.reset_mfa", pk=item.id) if usable else None}


def reset_from_user_admin(endpoint: str, pk: str) -> ResponseReturnValue:
    if not (pk.isascii() and pk.isdigit()) or not 0 < int(pk) <= MAX_ID:
        abort(404)
    with domain_action() as done:
        user = mfa.reset(db.session, current_actor(), int(pk))
        said = _(
            "Tofaktorinnloggingen til %(username)s er tilbakestilt. Brukeren er logget ut overalt og logger inn "
            "med passordet.",
            username=user.username,
        )
    if done.ok:
        flash(said, "success")
    return redirect(url_for(f"{endpoint}.show", pk=pk))
