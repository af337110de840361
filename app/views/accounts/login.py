"""Logging in and out on the page, and what the API login shares with it.

* Only failed logins count in the throttle (app/domain/throttle.py), per account and per client
  address; a throttled login is refused before the password is even checked (429). A successful
  login forgets the account's failures, not the address's.
* A login is a server-side session (app/domain/sessions.py): the cookie carries its id, logout
  ends it, and app/security.py's user loader checks it on every request.
* A user with two-factor login gives the password first; the login then waits in the session
  (user, time, security stamp) for the code from the authenticator app or a recovery code, on
  /login/kode/. Wrong codes count as failed logins.
* Logout is a POST with the CSRF token (the navbar's button); GET /logout/ only shows that button.
"""

from __future__ import annotations

import time
from typing import Any

from flask import current_app, flash, g, redirect, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_appbuilder.baseviews import expose
from flask_appbuilder.security.decorators import no_cache
from flask_appbuilder.security.forms import LoginForm_db
from flask_appbuilder.security.views import AuthDBView as FabAuthDBView
from flask_appbuilder.utils.base import get_safe_redirect
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import login_user, logout_user
from sqlalchemy import func, or_, select

from app.domain import audit, mfa, sessions, throttle
from app.extensions import db
from app.models import PortalUser

# Keys in the (signed) session cookie.
SID_KEY = "_portal_sid"  # the LoginSession's id
PENDING_KEY = "_portal_mfa_pending"  # a password-checked login waiting for its code
PENDING_SECONDS = 300  # how long the code page waits for the code

MSG_THROTTLED = _l("For mange mislykkede innloggingsforsøk. Vent noen minutter og prøv igjen.")
MSG_CODE_FIELD = _l("Kode fra autentiseringsappen, eller en gjenopprettingskode")
MSG_WRONG_CODE = _l("Koden er feil eller allerede brukt. Prøv igjen.")
MSG_PENDING_GONE = _l("Innloggingen tok for lang tid. Logg inn på nytt.")


# --- shared by the page and the API login -------------------------------------------------------


def _throttle() -> throttle.Throttle:
    return throttle.of(current_app)


def client_address() -> str:
    return request.remote_addr or "unknown"


def account_key(username: str | None) -> str:
    """The account's key in the throttle: the user's id when the name (a username or an e-mail
    address, as FAB's login takes both) belongs to a user, so each way of naming an account
    counts against the same budget; else the name as typed."""
    typed = throttle.account_key(username)
    memo: dict[str, str] = g.setdefault("_portal_account_keys", {})
    if typed not in memo:
        found = db.session.execute(
            select(PortalUser.id)
            .where(or_(func.lower(PortalUser.username) == typed, func.lower(PortalUser.email) == typed))
            .order_by(PortalUser.id)
            .limit(1)
        ).scalar()
        memo[typed] = f"user:{found}" if found is not None else f"name:{typed}"[: throttle.KEY_LENGTH]
    return memo[typed]


def login_allowed(username: str | None) -> bool:
    """Budget left for this account and this address? (Counts nothing.)"""
    th = _throttle()
    return th.allowed(db.session, throttle.LOGIN_ADDRESS, client_address()) and th.allowed(
        db.session, throttle.LOGIN_ACCOUNT, account_key(username)
    )


def refuse_throttled(username: str | None, channel: str) -> None:
    """Record a login refused by the throttle (the password was not checked)."""
    audit.record(
        db.session,
        audit.LOGIN,
        outcome=audit.DENIED,
        actor_name=(username or "")[:256] or None,
        details={"channel": channel, "reason": "throttled"},
    )
    db.session.commit()


def count_failure(username: str | None) -> int:
    """Count a failed login (wrong password or code) for the account and the address; returns
    the address's attempts left."""
    th = _throttle()
    th.hit(db.session, throttle.LOGIN_ACCOUNT, account_key(username))
    return th.hit(db.session, throttle.LOGIN_ADDRESS, client_address())


def failed_login(username: str | None, channel: str) -> int:
    """A wrong username or password: audit it and count it."""
    db.session.rollback()  # FAB's failure bookkeeping is committed already; nothing else is pending
    audit.record(
        db.session,
        audit.LOGIN,
        outcome=audit.FAILED,
        actor_name=(username or "")[:256] or None,
        details={"channel": channel},
    )
    db.session.commit()
    return count_failure(username)


def code_checked(user: Any, ok: bool, channel: str) -> None:
    """Audit the second step of a login (and count a wrong code)."""
    audit.record(
        db.session,
        audit.MFA,
        actor=user,
        outcome=audit.OK if ok else audit.FAILED,
        target=("user", user.id),
        details={"channel": channel, "step": "login"},
    )
    db.session.commit()
    if not ok:
        count_failure(user.username)


def logged_in(user: Any, channel: str, *, with_code: bool) -> None:
    """Audit a completed login and forget the account's failed attempts."""
    audit.record(
        db.session,
        audit.LOGIN,
        actor=user,
        target=("user", user.id),
        details={"channel": channel, "mfa": with_code},
    )
    db.session.commit()
    _throttle().reset(db.session, throttle.LOGIN_ACCOUNT, f"user:{user.id}")


def retry_after() -> int:
    """Seconds to wait after a refused login: the longer of the two windows, at most."""
    th = _throttle()
    return max(th.limit(bucket).get_expiry() for bucket in (throttle.LOGIN_ADDRESS, throttle.LOGIN_ACCOUNT))


def rate_headers(response: Any, remaining: int) -> Any:
    """X-RateLimit-* of the address's failed-login budget, as Flask-Limiter sent them."""
    if current_app.config.get("RATELIMIT_HEADERS_ENABLED"):
        response.headers["X-RateLimit-Limit"] = str(_throttle().limit(throttle.LOGIN_ADDRESS).amount)
        response.headers["X-RateLimit-Remaining"] = str(remaining)
    return response


def forget_login() -> None:
    """Drop the login from this cookie (after its server-side session has ended)."""
    for key in (SID_KEY, PENDING_KEY, "_user_id", "_fresh", "_id", "_portal_stamp"):
        session.pop(key, None)


# --- the page -------------------------------------------------------------------------------------


class AuthDBView(FabAuthDBView):
    """FAB's login page (same name: same endpoints), with the throttle, server-side sessions, the
    code step of two-factor login and a POST-only logout."""

    invalid_login_message = _l("Feil brukernavn eller passord. Prøv igjen.")

    @expose("/login/", methods=["GET", "POST"])
    @no_cache
    def login(self) -> ResponseReturnValue:
        if g.user is not None and g.user.is_authenticated:
            return redirect(self._get_safe_next_url())
        form = LoginForm_db()
        if not form.validate_on_submit():
            return self._login_page(form)
        username = form.username.data
        next_url = get_safe_redirect(request.args.get("next", ""))
        if not login_allowed(username):
            refuse_throttled(username, "page")
            flash(str(MSG_THROTTLED), "danger")
            return self._login_page(form, 429)
        user = self.appbuilder.sm.auth_user_db(username, form.password.data)
        if not user:
            remaining = failed_login(username, "page")
            flash(str(self.invalid_login_message), "warning")
            return rate_headers(redirect(self.appbuilder.get_url_for_login_with(next_url)), remaining)
        if mfa.enrolled(user):
            session[PENDING_KEY] = {"uid": user.id, "at": time.time(), "stamp": user.security_stamp, "next": next_url}
            return redirect(url_for(f"{self.endpoint}.login_code"))
        logged_in(user, "page", with_code=False)
        self._start_session(user)
        return redirect(next_url)

    @expose("/login/kode/", methods=["GET", "POST"])
    @no_cache
    def login_code(self) -> ResponseReturnValue:
        """The second step: the code from the authenticator app, or a recovery code."""
        if g.user is not None and g.user.is_authenticated:
            return redirect(self._get_safe_next_url())
        user, next_url = self._pending_user()
        if user is None:
            flash(str(MSG_PENDING_GONE), "warning")
            return redirect(self.appbuilder.get_url_for_login)
        error = None
        status = 200
        if request.method == "POST":
            if not login_allowed(user.username):
                refuse_throttled(user.username, "page")
                session.pop(PENDING_KEY, None)
                flash(str(MSG_THROTTLED), "danger")
                return self._login_page(LoginForm_db(formdata=None), 429)
            ok = mfa.verify_login_code(db.session, user, request.form.get("code", ""))
            code_checked(user, ok, "page")
            if ok:
                session.pop(PENDING_KEY, None)
                logged_in(user, "page", with_code=True)
                self._start_session(user)
                return redirect(next_url)
            error = str(MSG_WRONG_CODE)
        return (
            self.render_template("portal/login_code.html", title=_("Logg inn"), error=error, label=MSG_CODE_FIELD),
            status,
        )

    @expose("/logout/", methods=["GET", "POST"])
    def logout(self) -> ResponseReturnValue:
        """POST (with the CSRF token) ends the session on the server; GET only asks."""
        if request.method == "GET":
            if g.user is None or not g.user.is_authenticated:
                return redirect(self.appbuilder.get_url_for_index)
            return self.render_template("portal/logout.html", title=_("Logg ut"))
        user = self._get_authenticated_user()
        sessions.end(db.session, session.get(SID_KEY))  # also for a login whose user is gone
        if user is not None:
            audit.record(db.session, audit.LOGOUT, actor=user, target=("user", user.id), details={"channel": "page"})
        db.session.commit()
        logout_user()
        forget_login()
        if user is not None:
            self.appbuilder.sm.on_user_logout(user)
        return redirect(current_app.config.get("LOGOUT_REDIRECT_URL", self.appbuilder.get_url_for_index))

    # --- helpers -------------------------------------------------------------------------------

    def _login_page(self, form: Any, status: int = 200) -> ResponseReturnValue:
        page = self.render_template(self.login_template, title=self.title, form=form, appbuilder=self.appbuilder)
        headers = {"Retry-After": str(retry_after())} if status == 429 else {}
        return page, status, headers

    def _pending_user(self) -> tuple[Any, str]:
        """The user whose password was right a moment ago in this browser, if the login still
        stands (not too old, same security stamp, still active)."""
        pending = session.get(PENDING_KEY)
        if not isinstance(pending, dict):
            return None, ""
        try:
            user_id, started = int(pending["uid"]), float(pending["at"])
        except (KeyError, TypeError, ValueError):
            session.pop(PENDING_KEY, None)
            return None, ""
        user = self.appbuilder.sm.get_user_by_id(user_id) if time.time() - started < PENDING_SECONDS else None
        if user is None or not user.is_active or user.security_stamp != pending.get("stamp") or not mfa.enrolled(user):
            session.pop(PENDING_KEY, None)
            return None, ""
        return user, get_safe_redirect(pending.get("next") or "")

    def _start_session(self, user: Any) -> None:
        sid = sessions.start(db.session, user, client_addr=request.remote_addr)
        db.session.commit()
        forget_login()
        session[SID_KEY] = sid
        login_user(user, remember=False)  # the stamp is stored by app/security.py's listener
        g.user = user
