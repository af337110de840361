"""The security manager and the security stamp.

`PortalSecurityManager` is FAB's SQLA security manager with the portal's user model, its own views
for user admin, own profile and login (class attributes, as FAB's examples/extendsecurity does),
the throttled API login with the code of two-factor login, API logout, per-request permission
caching and the security stamp: a password change or deactivation ends the user's sessions and API
tokens. Sessions live on the server (app/domain/sessions.py): the cookie names a LoginSession row,
which the user loader reads with the user; JWTs are checked against the revoked-token blocklist in
the same way. The tenancy guard is app/tenancy.py.

What a request costs in security look-ups: one statement loads the user with its roles and groups
(and its session row, or its token's blocklist row), one more the roles' (view, permission) pairs; every `has_access` after that (the view's own check,
one per menu item, the page's buttons) is answered from memory. Nothing is kept from one request
to the next, so a changed role, password or deactivation counts from the user's next request.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from typing import TYPE_CHECKING, Any

from flask import abort, current_app, flash, g, has_request_context, request, session
from flask.typing import ResponseReturnValue
from flask_appbuilder.api import expose as api_expose
from flask_appbuilder.baseviews import expose
from flask_appbuilder.const import API_SECURITY_ACCESS_TOKEN_KEY, API_SECURITY_REFRESH_TOKEN_KEY
from flask_appbuilder.security.api import SecurityApi
from flask_appbuilder.security.schemas import login_post
from flask_appbuilder.security.sqla.manager import SecurityManager
from flask_appbuilder.security.views import (
    PermissionModelView,
    PermissionViewModelView,
    RoleModelView,
    UserGroupModelView,
    ViewMenuModelView,
)
from flask_babel import gettext, lazy_gettext
from flask_jwt_extended import create_access_token, create_refresh_token, decode_token, get_jwt, jwt_required
from flask_login import current_user, logout_user, user_logged_in, user_logged_out
from marshmallow import ValidationError
from sqlalchemy import and_, bindparam, select
from sqlalchemy.orm import Session, joinedload

from app.api.fields import MSG_NOT_JSON
from app.domain import audit, mfa, sessions, throttle
from app.extensions import db
from app.models import LoginSession, PortalUser, RevokedToken, SecurityVersion
from app.views.accounts import login as page_login
from app.views.accounts.profile import ResetMyPasswordView, UserInfoEditView
from app.views.accounts.users import PortalUserDBModelView, ResetPasswordView
from app.views.audit import audited_roles
from app.views.fragments import FragmentCache

# --- Security stamp: a password change or deactivation ends sessions and API tokens ---------
# app/domain/accounts.py gives a user a new `security_stamp` whenever the password is set or the
# user is deactivated. A session keeps the stamp it logged in with (flask.session), a JWT carries
# it as a claim; a request whose stamp no longer matches the user's counts as logged out (pages:
# to the login page; API: 401). Wired into PortalSecurityManager below.

log = logging.getLogger(__name__)

# (security version, role ids) -> (view, permission) pairs, for as long as the version stands.
KEPT_GRANTS = FragmentCache()


def _remember_security_version(token: str | None, n: int | None, users_n: int | None) -> None:
    """The versions of roles and permissions and of users read with this request's user (None if the
    row is missing: then nothing is kept between requests)."""
    if has_request_context():
        known = token is not None and n is not None and users_n is not None
        g._portal_security_version = (token, n) if known else None
        g._portal_users_version = (token, users_n) if known else None


SESSION_STAMP_KEY = "_portal_stamp"
JWT_STAMP_CLAIM = "stamp"


def remember_stamp(user: Any) -> None:
    """Store the user's current stamp in this session (at login; after the user's own password change)."""
    session[SESSION_STAMP_KEY] = user.security_stamp


def _remember_stamp_on_login(sender: Any, user: Any, **extra: Any) -> None:
    remember_stamp(user)


def _end_server_session(sender: Any, user: Any, **extra: Any) -> None:
    """Whoever logs a user out (logout, a stale stamp, the set-password link of another user), the
    server-side session ends with it: no copy of the cookie stays logged in."""
    sid = session.pop(page_login.SID_KEY, None)
    if sid:
        with Session(db.engine) as own, own.begin():
            sessions.end(own, sid)


def install_stamp_listeners() -> None:
    """A session keeps the stamp it logged in with, and ends on the server when the user is
    logged out (called once by create_app)."""
    user_logged_in.connect(_remember_stamp_on_login)
    user_logged_out.connect(_end_server_session)


def end_stale_session() -> None:
    """Log out a session whose user has a new stamp since it logged in (FAB's user loader
    already treats an inactive user as logged out)."""
    if not current_user or not current_user.is_authenticated:
        return
    if session.get(SESSION_STAMP_KEY) != current_user.security_stamp:
        logout_user()  # ends the server-side session too (`_end_server_session`)
        page_login.forget_login()
        flash(
            gettext("Du er logget ut fordi passordet er endret eller brukeren er deaktivert. Logg inn på nytt."),
            "warning",
        )


# --- Security manager -----------------------------------------------------------------------


MSG_CODE_NEEDED = lazy_gettext(
    "Brukeren har tofaktorinnlogging: send koden fra autentiseringsappen, eller en gjenopprettingskode, "
    "i feltet «totp»."
)
MSG_WRONG_CODE = lazy_gettext("Koden i feltet «totp» er feil eller allerede brukt.")
MSG_BAD_REFRESH = lazy_gettext("Ikke et gyldig refresh-token for denne brukeren.")
MSG_API_LOGGED_OUT = lazy_gettext("Du er logget ut. Tokenene virker ikke lenger.")
MSG_CODE_NOT_TEXT = lazy_gettext("Koden må være tekst.")


class RateLimitedSecurityApi(SecurityApi):
    """JWT login under the same throttle as the login page (failed logins per account and per
    client address), with the code of two-factor login; logout revokes the tokens."""

    @api_expose("/login", methods=["POST"])
    def login(self) -> ResponseReturnValue:
        """Log in and get a JWT access token (and a refresh token, if asked)
        ---
        post:
          description: >-
            A user with two-factor login also sends `totp`: the code from the authenticator app or
            a recovery code (without it: 401 saying so). Failed logins are throttled per account
            and per client address: 429, without the password being checked.
          requestBody:
            required: true
            content:
              application/json:
                schema:
                  type: object
                  required: [username, password]
                  properties:
                    username: {type: string}
                    password: {type: string}
                    provider: {type: string, enum: [db]}
                    refresh: {type: boolean}
                    totp: {type: string, description: Code for two-factor login}
          responses:
            200:
              description: Logged in
              content:
                application/json:
                  schema:
                    type: object
                    properties:
                      access_token: {type: string}
                      refresh_token: {type: string}
            400: {$ref: '#/components/responses/400'}
            401: {$ref: '#/components/responses/401'}
            429: {description: Too many failed logins from this address or for this account}
        """
        if not request.is_json or not isinstance(request.json, dict):
            return self.response_400(message=str(MSG_NOT_JSON))
        body = dict(request.json)
        code = body.pop("totp", None)
        if code is not None and not isinstance(code, str):
            return self.response_400(message={"totp": [str(MSG_CODE_NOT_TEXT)]})
        try:
            payload = login_post.load(body)
        except ValidationError as error:
            return self.response_400(message=error.messages)
        username = payload["username"]
        if not page_login.login_allowed(username):
            page_login.refuse_throttled(username, "api")
            refused = self.response(429, message=str(page_login.MSG_THROTTLED))
            refused.headers["Retry-After"] = str(page_login.retry_after())
            return refused
        user = self.appbuilder.sm.auth_user_db(username, payload["password"])
        if not user:
            page_login.failed_login(username, "api")
            return self.response_401()
        if mfa.enrolled(user):
            if not code:
                return self.response(401, message=str(MSG_CODE_NEEDED))
            ok = mfa.verify_login_code(db.session, user, code)
            page_login.code_checked(user, ok, "api")
            if not ok:
                return self.response(401, message=str(MSG_WRONG_CODE))
        page_login.logged_in(user, "api", with_code=mfa.enrolled(user))
        tokens = {API_SECURITY_ACCESS_TOKEN_KEY: create_access_token(identity=str(user.id), fresh=True)}
        if payload.get("refresh"):
            tokens[API_SECURITY_REFRESH_TOKEN_KEY] = create_refresh_token(identity=str(user.id))
        return self.response(200, **tokens)

    @api_expose("/logout", methods=["POST"])
    @jwt_required()
    def logout(self) -> ResponseReturnValue:
        """Log out: the access token of the request, and the refresh token in the body, stop working
        ---
        post:
          description: >-
            Revokes the access token this request carries (Authorization header) and, if given in
            the body as `refresh_token`, the refresh token of the same login. Both are refused from
            then on (401), on every API route and on /security/refresh.
          requestBody:
            required: false
            content:
              application/json:
                schema:
                  type: object
                  properties:
                    refresh_token: {type: string}
          responses:
            200: {description: Logged out}
            400: {$ref: '#/components/responses/400'}
            401: {$ref: '#/components/responses/401'}
          security:
            - jwt: []
        """
        access = get_jwt()
        body = request.get_json(silent=True) if request.data else {}
        if not isinstance(body, dict):
            return self.response_400(message=str(MSG_NOT_JSON))
        refresh = None
        raw = body.get("refresh_token")
        if raw is not None:
            try:
                refresh = decode_token(raw, allow_expired=True) if isinstance(raw, str) else None
            except Exception:  # noqa: BLE001 - any undecodable or forged token is just not one
                refresh = None
            if not refresh or refresh.get("type") != "refresh" or str(refresh.get("sub")) != str(access.get("sub")):
                return self.response_400(message={"refresh_token": [str(MSG_BAD_REFRESH)]})
        sessions.revoke_token(db.session, access)
        if refresh is not None:
            sessions.revoke_token(db.session, refresh)
        user = g.get("user")
        audit.record(
            db.session,
            audit.LOGOUT,
            actor=user if getattr(user, "id", None) else None,
            target=("user", access.get("sub")),
            details={"channel": "api", "refresh_token": refresh is not None},
        )
        db.session.commit()
        return self.response(200, message=str(MSG_API_LOGGED_OUT))


if TYPE_CHECKING:
    # Mixed into FAB's security ModelViews: to the type checker the mixin is one (FAB ships no types, so its
    # attributes are Any); at run time it stays a plain class in front of the view's own bases.
    from flask_appbuilder import ModelView as _ModelViewHost
else:
    _ModelViewHost = object


class _StrictFabViewMixin(_ModelViewHost):
    """FAB's own security views, without the routes that can only answer with a 500.

    * `download/<filename>` serves uploaded files; the portal has no uploads (no UPLOAD_FOLDER).
    * FAB dispatches any action from both action routes, but an action declared list-only (Copy
      role) or single-only crashes on the other one: answer 404 instead.
    """

    exclude_route_methods = {"download"}

    @expose("/action/<string:name>/<pk>", methods=["GET", "POST"])
    def action(self, name: str, pk: Any) -> Any:
        found = self.actions.get(name)
        if found is None or not found.single:
            abort(404)
        return super().action(name, pk)

    @expose("/action_post", methods=["POST"])
    def action_post(self) -> Any:
        found = self.actions.get(request.form.get("action", ""))
        if found is None or not found.multiple:
            abort(404)
        return super().action_post()


def _strict(view: type) -> type:
    # Same class name: FAB's permission and endpoint names stay as they are.
    return type(view.__name__, (_StrictFabViewMixin, view), {"__module__": __name__})


class PortalSecurityManager(SecurityManager):
    user_model = PortalUser
    security_api = RateLimitedSecurityApi
    authdbview = page_login.AuthDBView  # throttle, server-side sessions, code step, POST logout
    userdbmodelview = PortalUserDBModelView
    resetpasswordview = ResetPasswordView  # the password policy next to the field
    # FAB's own-profile forms lead to "Min profil" (password policy, ends other sessions).
    resetmypasswordview = ResetMyPasswordView
    userinfoeditview = UserInfoEditView
    rolemodelview = _strict(audited_roles(RoleModelView))  # changes in the audit log (app/views/audit.py)
    groupmodelview = _strict(UserGroupModelView)
    permissionmodelview = _strict(PermissionModelView)
    viewmenumodelview = _strict(ViewMenuModelView)
    permissionviewmodelview = _strict(PermissionViewModelView)

    def create_limiter(self, app: Any) -> Any:
        throttle.install(app)  # the portal's own throttles (app/domain/throttle.py), beside FAB's limiter
        return super().create_limiter(app)

    @property
    def is_auth_limited(self) -> bool:
        """FAB's Flask-Limiter decorator on the login page counts every POST, successful ones too:
        app/views/accounts/login.py throttles failed logins instead (AUTH_RATE_LIMITED still
        turns that on and off)."""
        return False

    # --- server-side sessions (app/domain/sessions.py) -------------------------------------------

    def create_login_manager(self, app: Any) -> Any:
        lm = super().create_login_manager(app)
        lm.user_loader(self.load_session_user)
        return lm

    def load_session_user(self, pk: Any) -> Any:
        """Flask-Login's user loader: the user AND the session row the cookie names, in the one
        statement that loads the user. No row, an ended row, or one past the idle timeout or the
        absolute lifetime: anonymous (so a remember-me cookie, which carries no session id,
        cannot bring a login back either)."""
        sid = session.get(page_login.SID_KEY) if has_request_context() else None
        if not sid:
            return None
        row = self.session.execute(self._session_user_statement(), {"pk": int(pk), "sid": str(sid)}).unique().first()
        if row is None:
            page_login.forget_login()
            return None
        user, login_session, token, n, users_n = row
        _remember_security_version(token, n, users_n)
        config = current_app.config
        why = sessions.ended(
            login_session,
            idle=dt.timedelta(minutes=config.get("SESSION_IDLE_MINUTES", 30)),
            max_age=dt.timedelta(hours=config.get("SESSION_MAX_HOURS", 12)),
        )
        if why is not None or not user.is_active:
            self._on_own_connection(lambda s: sessions.end(s, login_session.id))
            page_login.forget_login()
            if why == sessions.IDLE:
                flash(gettext("Du er logget ut fordi du ikke har vært aktiv på en stund. Logg inn på nytt."), "warning")
            elif why == sessions.TOO_OLD:
                flash(
                    gettext(
                        "Innloggingen varer i høyst %(hours)s timer. Logg inn på nytt.",
                        hours=config.get("SESSION_MAX_HOURS", 12),
                    ),
                    "warning",
                )
            return None
        if sessions.needs_touch(login_session):
            self._on_own_connection(lambda s: sessions.touch(s, login_session.id))
        return user

    # The two statements that load a request's user are built once and reused with new values: a
    # statement object keeps its SQLAlchemy cache key, which is otherwise worked out anew for each
    # request (with its joined roles and groups, a good part of loading the user).

    @functools.cached_property
    def _user_with_roles(self) -> tuple[Any, ...]:
        model = self.user_model
        return (joinedload(model.roles), joinedload(model.groups).joinedload(self.group_model.roles))

    def _session_user_statement(self) -> Any:
        """The user, the session row the cookie names, and the versions (params pk, sid)."""
        stmt = self.__dict__.get("_portal_session_user")
        if stmt is None:
            model = self.user_model
            stmt = self.__dict__["_portal_session_user"] = (
                select(model, LoginSession, SecurityVersion.token, SecurityVersion.n, SecurityVersion.users_n)
                .select_from(model)
                .join(LoginSession, and_(LoginSession.user_id == model.id, LoginSession.id == bindparam("sid")))
                .outerjoin(SecurityVersion, SecurityVersion.id == 1)
                .where(model.id == bindparam("pk"))
                .options(*self._user_with_roles)
            )
        return stmt

    def _token_user_statement(self) -> Any:
        """The token's user, its jti if revoked, and the versions (params pk, jti)."""
        stmt = self.__dict__.get("_portal_token_user")
        if stmt is None:
            model = self.user_model
            stmt = self.__dict__["_portal_token_user"] = (
                select(model, RevokedToken.jti, SecurityVersion.token, SecurityVersion.n, SecurityVersion.users_n)
                .select_from(model)
                .outerjoin(RevokedToken, RevokedToken.jti == bindparam("jti"))
                .outerjoin(SecurityVersion, SecurityVersion.id == 1)
                .where(model.id == bindparam("pk"))
                .options(*self._user_with_roles)
            )
        return stmt

    def _on_own_connection(self, work: Any) -> None:
        """A small write beside the request's transaction (committed at once, expiring nothing
        the request has loaded)."""
        with Session(db.engine) as own, own.begin():
            work(own)

    # --- per-request permission look-ups --------------------------------------------------------

    def load_user(self, pk: Any) -> Any:
        """Flask-Login's (and the JWT's) user loader: the user with roles and groups in one statement
        (FAB: one for the user, then one each for its roles and its groups at the first check)."""
        model = self.user_model
        stmt = (
            select(model)
            .where(model.id == int(pk))
            .options(joinedload(model.roles), joinedload(model.groups).joinedload(self.group_model.roles))
        )
        user = self.session.execute(stmt).unique().scalar_one_or_none()
        if user is not None and user.is_active:
            return user
        return None

    def has_access(self, permission_name: str, view_name: str) -> bool:
        """FAB's check, answered once per (permission, view, user) per request: a page asks it for
        the view, for each menu item and for each button."""
        if not has_request_context():
            return bool(super().has_access(permission_name, view_name))
        # On the request, not on `g`: an app context can outlive a request (tests, CLI).
        memo: dict[tuple[str, str, Any], bool] = request.environ.setdefault("portal.access", {})
        key = (permission_name, view_name, g.get("user"))
        found = memo.get(key)
        if found is None:
            found = memo[key] = bool(super().has_access(permission_name, view_name))
        return found

    def _has_view_access(self, user: Any, permission_name: str, view_name: str) -> bool:
        """FAB's rule (a built-in role's patterns, else the roles' stored permissions) over the
        user's roles and permissions as read once in this request."""
        if not has_request_context():
            return bool(super()._has_view_access(user, permission_name, view_name))
        builtin, pairs = self.request_grants(user)
        if any(self._has_access_builtin_roles(role, permission_name, view_name) for role in builtin):
            return True
        return (view_name, permission_name) in pairs

    def request_grants(self, user: Any) -> tuple[list[Any], frozenset[tuple[str, str]]]:
        """The user's built-in roles and the (view, permission) pairs of its other roles, read once per request."""
        grants: dict[Any, tuple[list[Any], frozenset[tuple[str, str]]]] = request.environ.setdefault(
            "portal.grants", {}
        )
        found = grants.get(user)
        if found is None:
            roles = self.get_user_roles(user)
            builtin = [role for role in roles if role.name in self.builtin_roles]
            db_role_ids = tuple(sorted({role.id for role in roles if role.name not in self.builtin_roles}))
            found = grants[user] = (builtin, self._role_pairs(db_role_ids) if db_role_ids else frozenset())
        return found

    def exist_permission_on_roles(self, view_name: str, permission_name: str, role_ids: list[int]) -> bool:
        """FAB asks the database once per check: read the roles' (view, permission) pairs once per
        request instead."""
        if not has_request_context():
            return bool(super().exist_permission_on_roles(view_name, permission_name, role_ids))
        return (view_name, permission_name) in self._role_pairs(tuple(sorted(set(role_ids))))

    def _role_pairs(self, role_ids: tuple[int, ...]) -> frozenset[tuple[str, str]]:
        """The roles' (view, permission) pairs: kept by the process while the security version read
        with this request's user is the same (see SecurityVersion), else read once per request."""
        version = g.get("_portal_security_version")
        if version is not None:
            key = (version, role_ids)
            found = KEPT_GRANTS.get(key)
            if found is None:
                found = KEPT_GRANTS.put(key, self._permission_pairs(role_ids))
            return found
        cache: dict[tuple[int, ...], frozenset[tuple[str, str]]] = request.environ.setdefault("portal.permissions", {})
        if role_ids not in cache:
            cache[role_ids] = self._permission_pairs(role_ids)
        return cache[role_ids]

    def is_item_public(self, permission_name: str, view_name: str) -> bool:
        """FAB asks this first on every API request (one query for the public role and its
        permissions): answered from the public role's pairs, kept as a role set's are."""
        version = g.get("_portal_security_version") if has_request_context() else None
        if version is None:
            return bool(super().is_item_public(permission_name, view_name))
        key = (version, "public")
        pairs = KEPT_GRANTS.get(key)
        if pairs is None:
            role = self.get_public_role()
            pairs = KEPT_GRANTS.put(key, self._permission_pairs((role.id,)) if role is not None else frozenset())
        return (view_name, permission_name) in pairs

    def _permission_pairs(self, role_ids: tuple[int, ...]) -> frozenset[tuple[str, str]]:
        from flask_appbuilder.security.sqla.models import assoc_permissionview_role

        pv = self.permissionview_model
        rows = (
            self.session.query(self.viewmenu_model.name, self.permission_model.name)
            .select_from(pv)
            .join(self.viewmenu_model, pv.view_menu_id == self.viewmenu_model.id)
            .join(self.permission_model, pv.permission_id == self.permission_model.id)
            .join(assoc_permissionview_role, assoc_permissionview_role.c.permission_view_id == pv.id)
            .filter(assoc_permissionview_role.c.role_id.in_(role_ids))
            .all()
        )
        return frozenset((view, perm) for view, perm in rows)

    remember_stamp = staticmethod(remember_stamp)

    # --- the password policy for FAB's own ways of setting a password -----------------------
    # (`flask fab create-admin`, `create-user`, `reset-password`); the pages and `portal
    # set-password` go through app/domain/accounts.py.

    def add_user(
        self,
        username: str,
        first_name: str,
        last_name: str,
        email: str,
        role: Any,
        password: str = "",
        hashed_password: str = "",
        groups: Any = None,
    ) -> Any:
        if password and not hashed_password:
            from app.domain.passwords import password_problem

            problem = password_problem(password, username, personal=(first_name, last_name, email))
            if problem:
                log.error("Brukeren %s er ikke opprettet: %s", username, problem)
                return None  # FAB's commands then say that no user was created
        return super().add_user(username, first_name, last_name, email, role, password, hashed_password, groups)

    def reset_password(self, userid: Any, password: str) -> None:
        from app.domain.accounts import check_new_password

        user = self.get_user_by_id(userid)
        if user is not None:
            check_new_password(password, user)  # ValidationFailed names the refused password
        super().reset_password(userid, password)

    # --- security stamp (see "Security stamp" above) ----------------------------------------

    @staticmethod
    def before_request() -> None:
        """FAB's before_request (g.user), after ending a session whose stamp is stale.

        FAB stores Flask-Login's proxy; the user itself spares every `g.user.<attr>` (each
        permission check, the templates) a detour through the proxy. Logging in or out during a
        request reassigns it (FAB's login and logout views redirect right after)."""
        end_stale_session()
        g.user = current_user._get_current_object()

    def create_jwt_manager(self, app: Any) -> Any:
        jwt_manager = super().create_jwt_manager(app)
        _decode_jwt_once_per_request()
        jwt_manager.additional_claims_loader(self._jwt_stamp_claim)
        jwt_manager.token_in_blocklist_loader(self._jwt_revoked)
        jwt_manager.revoked_token_loader(
            lambda header, data: ({"message": gettext("Innloggingen er avsluttet (logget ut). Logg inn på nytt.")}, 401)
        )
        return jwt_manager

    def _jwt_revoked(self, _jwt_header: Any, jwt_data: dict[str, Any]) -> bool:
        """The blocklist check of every API request, in the statement that loads the user (kept
        for `load_user_jwt`, which flask-jwt-extended calls next)."""
        jti, sub = jwt_data.get("jti"), jwt_data.get("sub")
        known = g.get("_portal_jwt")
        if known is not None and known[0] == jti:
            return bool(known[2])  # verified twice per request (FAB's `protect` and the view)
        try:
            user_id = int(sub)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return True
        row = self.session.execute(self._token_user_statement(), {"pk": user_id, "jti": str(jti)}).unique().first()
        if row is None:
            g._portal_jwt = (jti, None, False)
            return False  # no such user: the user loader answers 401
        user, revoked, token, n, users_n = row
        _remember_security_version(token, n, users_n)
        g._portal_jwt = (jti, user, revoked is not None)
        return revoked is not None

    def _jwt_stamp_claim(self, identity: Any) -> dict[str, Any]:
        user = self.get_user_by_id(int(identity))
        return {JWT_STAMP_CLAIM: getattr(user, "security_stamp", None)}

    def load_user_jwt(self, _jwt_header: Any, jwt_data: dict[str, Any]) -> Any:
        cached = g.get("_portal_jwt")
        if cached is not None and cached[0] == jwt_data.get("jti"):
            user = cached[1]
        else:
            user = self.load_user(jwt_data["sub"])
        if user is None or not user.is_active or jwt_data.get(JWT_STAMP_CLAIM) != user.security_stamp:
            return None  # flask-jwt-extended answers 401
        g.user = user  # as FAB's loader does: the API's permission checks read g.user
        return user


def _decode_jwt_once_per_request() -> None:
    """An API request verifies its token twice: the tenant guard (app/tenancy.py) before any query,
    and FAB's `protect`. flask-jwt-extended decodes and checks the signature each time; the second
    takes the first's result from this request's `g` (a failed decode is not kept: it fails again)."""
    from flask_jwt_extended import view_decorators

    decode = view_decorators._decode_jwt_from_request
    if getattr(decode, "portal_once", False):
        return

    def once(
        locations: Any,
        fresh: bool,
        refresh: bool = False,
        verify_type: bool = True,
        skip_revocation_check: bool = False,
    ) -> Any:
        key = (
            tuple(locations) if isinstance(locations, list) else locations,
            fresh,
            refresh,
            verify_type,
            skip_revocation_check,
        )
        known: dict[Any, Any] = g.setdefault("_portal_jwt_decoded", {})
        if key not in known:
            known[key] = decode(locations, fresh, refresh, verify_type, skip_revocation_check)
        return known[key]

    once.portal_once = True  # type: ignore[attr-defined]
    view_decorators._decode_jwt_from_request = once
