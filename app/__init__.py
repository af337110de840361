"""App factory: extensions, AppBuilder, views, APIs, CLI commands, security headers."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, g, render_template, request
from flask.typing import ResponseReturnValue
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError
from werkzeug.exceptions import HTTPException, SecurityError

from app.extensions import appbuilder, csrf, db, mail, migrate

log = logging.getLogger(__name__)


def create_app(config_object: object | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=False)
    if config_object is None:
        from config import Config

        config_object = Config
    app.config.from_object(config_object)
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO)
    logging.getLogger("flask_appbuilder").setLevel(logging.WARNING)

    from app.security import install_stamp_listeners
    from app.tenancy import (
        clear_request_tenant,
        install_tenant_guard,
        resolve_request_tenant,
    )

    install_tenant_guard()
    install_stamp_listeners()
    from app.api import rison_schemas

    rison_schemas.install()  # FAB's `?q=` schema check, without re-checking the schema each request
    _install_input_checks(app)  # before any route: the bounded `int` converter
    with app.app_context():
        db.init_app(app)
        _ping_idle_connections(db.engine, app.config.get("DB_PING_AFTER_IDLE_SECONDS", 10.0))
        migrate.init_app(app, db, directory=str(__import__("pathlib").Path(__file__).parent.parent / "migrations"))
        csrf.init_app(app)
        mail.init_app(app)
        appbuilder.init_app(app, db.session)
        from app.i18n import init_i18n

        init_i18n(app)
        # After FAB's own before_request (g.user), so the tenant is known before any query.
        app.before_request(resolve_request_tenant)
        app.teardown_request(lambda exc: clear_request_tenant())
        _install_audit_client_addr(app)

        from app.registry import register_all

        register_all(app, appbuilder)

    from app.cli import portal_cli

    app.cli.add_command(portal_cli)
    _install_template_helpers(app)
    _install_security_headers(app)
    _install_jwt_messages(app)
    _install_error_pages(app)
    return app


def _install_input_checks(app: Flask) -> None:
    """Bad input answers 400 (or 404) before any view runs: NUL, deep JSON, the API's `q`, huge ids (app/inputs.py)."""
    from app import inputs
    from app.views.base import clean_fab_list_args

    inputs.install(app)
    app.before_request(clean_fab_list_args)


def _install_audit_client_addr(app: Flask) -> None:
    """The audit log names the client's address: the domain gets it from here, not from the request."""
    from app.domain import audit

    app.before_request(lambda: audit.set_client_addr(request.remote_addr))
    app.teardown_request(lambda exc: audit.set_client_addr(None))


def _ping_idle_connections(engine: Engine, idle_seconds: float) -> None:
    """Check a pooled connection before use only if it has been idle `idle_seconds` or longer.

    Instead of SQLAlchemy's `pool_pre_ping`, which costs a round trip on every request. A dead
    connection found here is replaced before the request sees it; one that dies while in steady
    use fails that request, and SQLAlchemy then replaces every connection of the pool.
    """

    @event.listens_for(engine, "checkin")
    def _checked_in(dbapi_connection: Any, record: Any) -> None:
        record.info["portal.idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        since = record.info.pop("portal.idle_since", None)
        if since is None or time.monotonic() - since < idle_seconds:
            return  # just opened, or in steady use
        try:
            alive = engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:  # noqa: BLE001 - any failure means: use another connection
            raise DisconnectionError("idle connection is gone") from exc
        if not alive:
            raise DisconnectionError("idle connection is gone")


def _install_template_helpers(app: Flask) -> None:
    from flask import has_request_context

    from app.domain import formatting

    # Templates' url_for, with the URL of a static file built once per file (and mount point):
    # FAB's layout links 18 scripts and style sheets on every page.
    build_url: Callable[..., str] = app.url_for
    static_urls: dict[tuple[str, str, str], str] = {}

    def url_for_cached_static(endpoint: str, **values: Any) -> str:
        static = endpoint == "static" or endpoint.endswith(".static")
        if static and values.keys() == {"filename"} and has_request_context():
            key = (request.script_root, endpoint, values["filename"])
            found = static_urls.get(key)
            if found is None:
                found = static_urls[key] = build_url(endpoint, **values)
            return found
        return build_url(endpoint, **values)

    app.jinja_env.globals["url_for"] = url_for_cached_static

    app.jinja_env.filters["nok"] = formatting.format_nok
    app.jinja_env.filters["oslo"] = formatting.format_oslo_datetime
    app.jinja_env.filters["oslo_date"] = formatting.format_date
    app.jinja_env.filters["month"] = formatting.format_month
    app.jinja_env.filters["quarter"] = formatting.format_quarter


def _install_security_headers(app: Flask) -> None:
    """Flask-Talisman's Content-Security-Policy with a nonce per request (`csp_nonce()` in
    templates; FAB's `baselib.get_nonce()` calls it), our own HSTS, and the rest of the headers."""
    from flask_talisman import Talisman  # type: ignore[import-untyped]  # ships no type information

    Talisman(
        app,
        # nginx redirects to HTTPS; behind it the request arrives over HTTP from the proxy.
        force_https=False,
        # Talisman would send HSTS on any request carrying X-Forwarded-Proto: https, from whoever:
        # ours (below) goes by request.is_secure, which believes only the trusted proxy.
        strict_transport_security=False,
        content_security_policy=app.config["CONTENT_SECURITY_POLICY"],
        content_security_policy_nonce_in=app.config["CONTENT_SECURITY_POLICY_NONCE_IN"],
        frame_options="DENY",
        referrer_policy="same-origin",
        permissions_policy={"camera": "()", "microphone": "()", "geolocation": "()", "payment": "()"},
        # Talisman writes these into app.config: config.py's values, not Talisman's defaults
        # (which would make the session cookie Secure even on plain-HTTP `make run`).
        session_cookie_secure=app.config["SESSION_COOKIE_SECURE"],
        session_cookie_http_only=app.config["SESSION_COOKIE_HTTPONLY"],
        session_cookie_samesite=app.config["SESSION_COOKIE_SAMESITE"],
    )
    hsts_max_age = int(app.config.get("HSTS_MAX_AGE") or 0)

    @app.errorhandler(SecurityError)
    def _untrusted_host(exc: SecurityError) -> ResponseReturnValue:
        # A Host: outside TRUSTED_HOSTS. No URL can be built for it (so not the portal layout), and
        # the name it gave is not echoed back.
        if request.path.startswith("/api/"):
            return {"message": "Ukjent vertsnavn i Host-headeren."}, 400
        return _UNTRUSTED_HOST_PAGE, 400

    @app.after_request
    def _headers(response: Response) -> Response:
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if hsts_max_age and request.is_secure:
            response.headers["Strict-Transport-Security"] = f"max-age={hsts_max_age}"
        user = g.get("portal_user")
        # Logged-in pages may hold another company's data on a shared machine: never cache.
        if (
            (user is not None and getattr(user, "is_authenticated", False)) or request.path.startswith("/api/")
        ) and not request.path.startswith(("/static/", "/appbuilder/")):
            response.headers["Cache-Control"] = "no-store"
            response.headers["Pragma"] = "no-cache"
        return response


_UNTRUSTED_HOST_PAGE = (
    '<!doctype html><html lang="nb"><meta charset="utf-8"><title>Kundeportal</title>'
    "<h1>Ugyldig adresse</h1><p>Denne adressen hører ikke til Kundeportal.</p></html>"
)

_BARE_ERROR_PAGE = (
    '<!doctype html><html lang="nb"><meta charset="utf-8"><title>Kundeportal</title>'
    "<h1>Noe gikk galt</h1><p>Det oppstod en feil hos oss. Prøv igjen om litt, eller kontakt "
    'kundeservice.</p><p><a href="/">Til forsiden</a></p></html>'
)


def _error_page(code: int, exc: HTTPException | None, message: str | None = None) -> tuple[str, int]:
    """The Norwegian error page in the portal layout; a bare page if even that fails (DB down)."""
    try:
        if "user" not in g:
            # An error raised before FAB's before_request (CSRF, rate limit) leaves g.user unset,
            # and the menu in the layout needs it.
            from flask_login import current_user

            g.user = current_user
        # FAB's base.html needs `base_template` and `appbuilder`, like FAB's own views pass them.
        return render_template(
            "error.html",
            code=code,
            exc=exc,
            message=message,
            appbuilder=appbuilder,
            base_template=appbuilder.base_template,
        ), code
    except Exception:  # noqa: BLE001 - never let the error page itself fail with a traceback
        log.exception("Error page failed on %s", request.path)
        db.session.rollback()
        return _BARE_ERROR_PAGE, code


def _install_error_pages(app: Flask) -> None:
    from app.inputs import MSG_OUT_OF_RANGE, InputRefused, is_input_refusal

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> ResponseReturnValue:
        # Flask hands only exceptions with a code to this handler; `or 500` is for the type.
        code = exc.code or 500
        # Our own 400s (app/inputs.py) say what was wrong in Norwegian; others' texts are English.
        own = exc.description if isinstance(exc, InputRefused) else None
        # Keep the exception's own headers: `Allow` on 405, `Retry-After` on 429.
        headers = [(k, v) for k, v in exc.get_headers() if k.lower() != "content-type"]
        if request.path.startswith("/api/"):
            return {"message": exc.description or exc.name}, code, headers
        page, status = _error_page(code, exc, own)
        return page, status, headers

    @app.errorhandler(Exception)
    def _server_error(exc: Exception) -> ResponseReturnValue:
        db.session.rollback()
        if is_input_refusal(exc):
            # A value the database refused as out of range: the input's fault, nothing was written.
            log.warning("Refused input on %s: %s", request.path, type(exc).__name__)
            if request.path.startswith("/api/"):
                return {"message": str(MSG_OUT_OF_RANGE)}, 400
            return _error_page(400, None, str(MSG_OUT_OF_RANGE))
        log.exception("Unhandled error on %s", request.path)
        if request.path.startswith("/api/"):
            return {"message": "Noe gikk galt hos oss. Prøv igjen, eller kontakt kundeservice."}, 500
        return _error_page(500, None)


def _install_jwt_messages(app: Flask) -> None:
    """Bad, expired or missing tokens answer 401 with a Norwegian message (not 422 "Not enough segments")."""
    jwt = app.extensions.get("flask-jwt-extended")
    if jwt is None:
        return

    def _unauthorized(message: str) -> ResponseReturnValue:
        return {"message": message}, 401

    jwt.invalid_token_loader(lambda reason: _unauthorized("Ugyldig innloggingstoken. Logg inn på nytt."))
    jwt.expired_token_loader(lambda header, data: _unauthorized("Innloggingen er utløpt. Logg inn på nytt."))
    jwt.unauthorized_loader(lambda reason: _unauthorized("Du må logge inn."))
    jwt.user_lookup_error_loader(lambda header, data: _unauthorized("Brukeren finnes ikke eller er deaktivert."))
