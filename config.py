"""Settings from environment variables, with safe defaults (embedded SQLite)."""

from __future__ import annotations

import datetime as dt
import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = Path(os.environ.get("PORTAL_INSTANCE_DIR", BASE_DIR / "instance"))


def _secret_key() -> str:
    """SECRET_KEY from the environment; otherwise a dev key generated once into instance/."""
    key = os.environ.get("SECRET_KEY")
    if key:
        return key
    INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
    key_file = INSTANCE_DIR / "secret_key"
    if not key_file.exists():
        try:
            # Created with mode 600 in one step: never readable by others, not even for a moment.
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another worker wrote it first
            pass
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(32))
    return key_file.read_text().strip()


def _database_url() -> str:
    url = os.environ.get("DATABASE_URL")
    if url:
        # Heroku-style URLs name the driver "postgres"; we speak psycopg 3.
        if url.startswith("postgres://"):
            url = "postgresql+psycopg://" + url[len("postgres://") :]
        elif url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url[len("postgresql://") :]
        return url
    INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{INSTANCE_DIR / 'kundeportal.db'}"


class Config:
    APP_NAME = "Kundeportal"
    APP_THEME = ""
    SECRET_KEY = _secret_key()
    SQLALCHEMY_DATABASE_URI = _database_url()
    SQLALCHEMY_TRACK_MODIFICATIONS = False
    # No `pool_pre_ping` (a round trip before every request): app/__init__.py pings a pooled
    # connection only when it has been idle this long, which is when a database restart or an
    # idle timeout may have closed it.
    SQLALCHEMY_ENGINE_OPTIONS: dict[str, object] = {}
    DB_PING_AFTER_IDLE_SECONDS = float(os.environ.get("DB_PING_AFTER_IDLE_SECONDS", "10"))

    # Flask-AppBuilder: migrations own the schema, `portal init` owns permissions.
    FAB_CREATE_DB = False
    FAB_UPDATE_PERMS = os.environ.get("FAB_UPDATE_PERMS", "0") == "1"
    FAB_SECURITY_MANAGER_CLASS = "app.security.PortalSecurityManager"
    FAB_ADD_SECURITY_VIEWS = True
    FAB_API_SWAGGER_UI = True
    FAB_OPENAPI_SERVERS = None
    FAB_API_MAX_PAGE_SIZE = 100
    FAB_SAFE_REDIRECT_HOSTS = [h for h in os.environ.get("SAFE_REDIRECT_HOSTS", "127.0.0.1,localhost").split(",") if h]
    # The Host: names this app answers to (Flask's TRUSTED_HOSTS; the port is not compared): any
    # other Host: is 400, so it never reaches a redirect or a link. Default: this machine and the
    # host of PORTAL_BASE_URL. A name starting with "." takes its subdomains too.
    TRUSTED_HOSTS = [
        h.strip()
        for h in os.environ.get(
            "TRUSTED_HOSTS",
            ",".join(["127.0.0.1", "localhost", urlsplit(os.environ.get("PORTAL_BASE_URL", "")).hostname or ""]),
        ).split(",")
        if h.strip()
    ]
    # Content-Security-Policy (Flask-Talisman, app/__init__.py): our own origin only; scripts and
    # <style> elements need the page's nonce. Style attributes (style="..." in Flask-AppBuilder's
    # templates, ours, and HTML that scripts insert) stay allowed: style-src-attr 'unsafe-inline'.
    # data: images: no page needs them today; kept for an image given inline (a QR code).
    CONTENT_SECURITY_POLICY: dict[str, str] = {
        "default-src": "'self'",
        "script-src": "'self'",
        "style-src": "'self'",
        "style-src-attr": "'unsafe-inline'",
        "img-src": "'self' data:",
        "font-src": "'self'",
        "connect-src": "'self'",
        "object-src": "'none'",
        "base-uri": "'self'",
        "form-action": "'self'",
        "frame-ancestors": "'none'",
    }
    CONTENT_SECURITY_POLICY_NONCE_IN = ["script-src", "style-src"]
    # Strict-Transport-Security on responses to HTTPS requests only (behind nginx: those it says
    # came over HTTPS, believed from FORWARDED_ALLOW_IPS only). 0 turns it off.
    HSTS_MAX_AGE = int(os.environ.get("HSTS_MAX_AGE", str(365 * 24 * 3600)))
    FAB_INDEX_VIEW = "app.views.home.PortalIndexView"
    AUTH_TYPE = 1  # AUTH_DB
    AUTH_ROLE_ADMIN = "Admin"
    AUTH_ROLE_PUBLIC = "Public"
    AUTH_USER_REGISTRATION = False
    # Failed logins (app/domain/throttle.py; successful ones do not count): per client address
    # and per account, on the login page and the API login together.
    AUTH_RATE_LIMITED = True
    AUTH_RATE_LIMIT = os.environ.get("AUTH_RATE_LIMIT", "10 per 5 minute")
    AUTH_ACCOUNT_RATE_LIMIT = os.environ.get("AUTH_ACCOUNT_RATE_LIMIT", "10 per 15 minute")
    AUTH_PASSWORD_COMPLEXITY_ENABLED = False
    # Two-factor login (app/domain/mfa.py): the roles that must use it, e.g.
    # MFA_REQUIRED_ROLES=Admin,CustomerAdmin; MFA_REQUIRED_FOR_STAFF=1 adds the supplier staff
    # (Admin, Seller, CustomerService, Manager). Empty and 0 (the default, `make run`'s demo): optional
    # for everybody. A user of such a role is sent to the enrolment page until enrolled.
    MFA_REQUIRED_ROLES = [r.strip() for r in os.environ.get("MFA_REQUIRED_ROLES", "").split(",") if r.strip()]
    MFA_REQUIRED_FOR_STAFF = os.environ.get("MFA_REQUIRED_FOR_STAFF", "0") == "1"
    RATELIMIT_ENABLED = os.environ.get("RATELIMIT_ENABLED", "1") == "1"
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "memory://")
    RATELIMIT_HEADERS_ENABLED = True

    # Forms: CSRF everywhere (installed in the app factory; FAB exempts its REST API).
    WTF_CSRF_ENABLED = True
    WTF_CSRF_TIME_LIMIT = None
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = os.environ.get("SESSION_COOKIE_SECURE", "0") == "1"
    JWT_ACCESS_TOKEN_EXPIRES = 3600
    # Sessions end on the server (app/domain/sessions.py): after this long without a request, and
    # this long after the login whatever happens. The remember-me cookie is never set; its
    # settings are strict anyway.
    SESSION_IDLE_MINUTES = int(os.environ.get("SESSION_IDLE_MINUTES", "30"))
    SESSION_MAX_HOURS = int(os.environ.get("SESSION_MAX_HOURS", "12"))
    REMEMBER_COOKIE_SECURE = SESSION_COOKIE_SECURE
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_DURATION = dt.timedelta(hours=SESSION_MAX_HOURS)
    # Per-user throttles (generous: a normal day's work never meets them).
    PASSWORD_CHECK_RATE_LIMIT = os.environ.get("PASSWORD_CHECK_RATE_LIMIT", "10 per 15 minute")
    USER_CREATE_RATE_LIMIT = os.environ.get("USER_CREATE_RATE_LIMIT", "20 per hour")
    CSV_EXPORT_RATE_LIMIT = os.environ.get("CSV_EXPORT_RATE_LIMIT", "100 per 10 minute")
    PDF_DOWNLOAD_RATE_LIMIT = os.environ.get("PDF_DOWNLOAD_RATE_LIMIT", "200 per 10 minute")

    # Language: Norwegian bokmål first.
    # FAB reads BABEL_DEFAULT_LOCALE for a visitor without session["locale"] (Accept-Language is
    # ignored) and prepends its own translations folder to BABEL_TRANSLATION_DIRECTORIES; ours is
    # searched last so it wins. Catalogues and commands: scripts/i18n.sh, glue: app/i18n.py.
    BABEL_DEFAULT_LOCALE = "nb"
    BABEL_DEFAULT_TIMEZONE = "Europe/Oslo"
    BABEL_DEFAULT_FOLDER = str(BASE_DIR / "app" / "translations")  # `flask fab babel-*` commands
    BABEL_TRANSLATION_DIRECTORIES = str(BASE_DIR / "app" / "translations")
    LANGUAGES = {
        "nb": {"flag": "no", "name": "Norsk"},
        "en": {"flag": "gb", "name": "English"},
    }
    DISPLAY_TIMEZONE = "Europe/Oslo"

    # Mail: written to the outbox, delivered by `portal send-mail`.
    MAIL_SERVER = os.environ.get("MAIL_SERVER", "127.0.0.1")
    MAIL_PORT = int(os.environ.get("MAIL_PORT", "25"))
    MAIL_USE_TLS = os.environ.get("MAIL_USE_TLS", "0") == "1"
    MAIL_USERNAME = os.environ.get("MAIL_USERNAME")
    MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD")
    MAIL_DEFAULT_SENDER = os.environ.get("MAIL_DEFAULT_SENDER", "Kundeportal <kundeservice@kundeportal.no>")
    PORTAL_BASE_URL = os.environ.get("PORTAL_BASE_URL", f"http://127.0.0.1:{os.environ.get('PORT', '8080')}")

    # Tracking link per carrier; "{waybill}" is replaced by the waybill number. Own transport has none.
    CARRIER_TRACKING_URLS = {
        "collicare": "https://www.collicare.no/sporing/?sendingsnummer={waybill}",
        "schenker": "https://www.dbschenker.com/app/tracking-public/?refNumber={waybill}",
        "postnord": "https://www.postnord.no/sporing?shipmentId={waybill}",
        "bring": "https://sporing.bring.no/sporing/{waybill}",
        "own": None,
    }

    SUPPLIER_NAME = "Kundeportal Leverandør AS"
    SUPPLIER_ORG_NUMBER = "923609016"
    SUPPLIER_ADDRESS = "Industriveien 12, 2815 Gjøvik"


class TestConfig(Config):
    TESTING = True
    WTF_CSRF_ENABLED = False
    RATELIMIT_ENABLED = False
    SQLALCHEMY_DATABASE_URI = os.environ.get("TEST_DATABASE_URL", "sqlite://")
