"""Throttles: how many attempts of one kind (a bucket) one key (an account, a client address, a
user) may make in a moving time window.

The counts live where every worker and every app host sees them: in Redis when
`RATELIMIT_STORAGE_URI` is a redis:// URI (the `limits` library's moving window), otherwise in the
database (`ThrottleHit` rows). A count is written on a connection of its own, so it holds even when
the request's own transaction is rolled back (a refused form), and it is committed at once. Should
Redis not answer, the database keeps the count (logged as a warning): a throttle never fails open.

Which attempts count is the caller's choice: a login counts only its failures (`allowed` before,
`hit` after a wrong password), an export counts every download (`attempt`). Limits are the
settings named in `SETTINGS` ("10 per 5 minute"), read at every call.

Between two simultaneous attempts of the same key the database counts may let one attempt more
through than the limit (each sees the other only once committed); the bound is the number of
requests in flight, not the number of workers.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from limits import RateLimitItem, parse
from limits.storage import Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter
from sqlalchemy import delete, func, insert, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from app.models import ThrottleHit, utcnow

log = logging.getLogger(__name__)

# --- the buckets and the settings of their limits ---------------------------------------------
LOGIN_ADDRESS = "login_address"  # failed logins (wrong password or code) per client address
LOGIN_ACCOUNT = "login_account"  # failed logins per account (or per name tried, if no account)
PASSWORD_CHECK = "password_check"  # wrong "current password" per user (Min profil, API)
USER_CREATE = "user_create"  # user creations refused on the username or e-mail, per user
CSV_EXPORT = "csv_export"  # CSV downloads per user
PDF_DOWNLOAD = "pdf_download"  # PDF downloads per user

SETTINGS = {
    LOGIN_ADDRESS: "AUTH_RATE_LIMIT",
    LOGIN_ACCOUNT: "AUTH_ACCOUNT_RATE_LIMIT",
    PASSWORD_CHECK: "PASSWORD_CHECK_RATE_LIMIT",
    USER_CREATE: "USER_CREATE_RATE_LIMIT",
    CSV_EXPORT: "CSV_EXPORT_RATE_LIMIT",
    PDF_DOWNLOAD: "PDF_DOWNLOAD_RATE_LIMIT",
}
DEFAULTS = {
    LOGIN_ADDRESS: "10 per 5 minute",
    LOGIN_ACCOUNT: "10 per 15 minute",
    PASSWORD_CHECK: "10 per 15 minute",
    USER_CREATE: "20 per hour",
    CSV_EXPORT: "100 per 10 minute",
    PDF_DOWNLOAD: "200 per 10 minute",
}
LOGIN_BUCKETS = frozenset({LOGIN_ADDRESS, LOGIN_ACCOUNT})
KEY_LENGTH = 300  # ThrottleHit.key


def account_key(username: str | None) -> str:
    """One count per account, however the username is typed."""
    return (username or "").strip().lower()[:KEY_LENGTH]


@lru_cache(maxsize=64)
def _item(text: str) -> RateLimitItem:
    return parse(text)


def _is_redis(uri: str | None) -> bool:
    return bool(uri) and str(uri).split(":", 1)[0].startswith("redis")


class Throttle:
    """The throttles of one app: limits and storage from its config (a live mapping)."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.config = config
        self._redis: dict[str, tuple[Storage, MovingWindowRateLimiter]] = {}

    # --- settings ---------------------------------------------------------------------------

    def enabled(self, bucket: str) -> bool:
        if not self.config.get("RATELIMIT_ENABLED", True):
            return False
        return bucket not in LOGIN_BUCKETS or bool(self.config.get("AUTH_RATE_LIMITED", True))

    def limit(self, bucket: str) -> RateLimitItem:
        return _item(str(self.config.get(SETTINGS[bucket]) or DEFAULTS[bucket]))

    def _limiter(self) -> tuple[Storage, MovingWindowRateLimiter] | None:
        uri = str(self.config.get("RATELIMIT_STORAGE_URI") or "")
        if not _is_redis(uri):
            return None
        found = self._redis.get(uri)
        if found is None:
            storage = storage_from_string(uri)
            assert isinstance(storage, Storage)  # a synchronous storage for a redis:// URI
            found = self._redis[uri] = (storage, MovingWindowRateLimiter(storage))
        return found

    # --- the four operations ------------------------------------------------------------------

    def allowed(self, session: Session, bucket: str, key: str) -> bool:
        """Is there budget left for one more attempt? (Counts nothing.)"""
        if not self.enabled(bucket):
            return True
        item = self.limit(bucket)
        redis = self._limiter()
        if redis is not None:
            try:
                return bool(redis[1].test(item, bucket, key))
            except Exception as exc:  # noqa: BLE001 - any Redis failure: count in the database
                log.warning("Throttle storage %s failed (%s); using the database", type(exc).__name__, exc)
        with _engine(session).connect() as conn:
            return _count(conn, bucket, key, item) < item.amount

    def hit(self, session: Session, bucket: str, key: str) -> int:
        """Count one attempt (even over the limit); returns the attempts left."""
        if not self.enabled(bucket):
            return self.limit(bucket).amount
        item = self.limit(bucket)
        redis = self._limiter()
        if redis is not None:
            try:
                redis[1].hit(item, bucket, key)
                return int(redis[1].get_window_stats(item, bucket, key).remaining)
            except Exception as exc:  # noqa: BLE001
                log.warning("Throttle storage %s failed (%s); using the database", type(exc).__name__, exc)
        with _engine(session).begin() as conn:
            return max(0, item.amount - _add(conn, bucket, key, item))

    def attempt(self, session: Session, bucket: str, key: str) -> bool:
        """Count one attempt if there is budget for it: True if it may go ahead. A refused attempt
        is not counted (the window empties while the user waits)."""
        if not self.enabled(bucket):
            return True
        item = self.limit(bucket)
        redis = self._limiter()
        if redis is not None:
            try:
                return bool(redis[1].hit(item, bucket, key))
            except Exception as exc:  # noqa: BLE001
                log.warning("Throttle storage %s failed (%s); using the database", type(exc).__name__, exc)
        with _engine(session).connect() as conn, conn.begin() as tx:
            if _add(conn, bucket, key, item) > item.amount:
                tx.rollback()
                return False
        return True

    def remaining(self, session: Session, bucket: str, key: str) -> int:
        item = self.limit(bucket)
        if not self.enabled(bucket):
            return item.amount
        redis = self._limiter()
        if redis is not None:
            try:
                return int(redis[1].get_window_stats(item, bucket, key).remaining)
            except Exception as exc:  # noqa: BLE001
                log.warning("Throttle storage %s failed (%s); using the database", type(exc).__name__, exc)
        with _engine(session).connect() as conn:
            return max(0, item.amount - _count(conn, bucket, key, item))

    def reset(self, session: Session, bucket: str, key: str) -> None:
        """Forget the key's attempts (an account's failed logins, once it has logged in)."""
        item = self.limit(bucket)
        redis = self._limiter()
        if redis is not None:
            try:
                redis[0].clear(item.key_for(bucket, key))
            except Exception as exc:  # noqa: BLE001
                log.warning("Throttle storage %s failed (%s); using the database", type(exc).__name__, exc)
        with _engine(session).begin() as conn:
            conn.execute(delete(ThrottleHit).where(ThrottleHit.bucket == bucket, ThrottleHit.key == key))


# --- the database's counts ---------------------------------------------------------------------


def _engine(session: Session) -> Engine:
    bind = session.get_bind()
    return bind if isinstance(bind, Engine) else bind.engine


def _since(item: RateLimitItem) -> dt.datetime:
    return utcnow() - dt.timedelta(seconds=item.get_expiry())


def _count(conn: Connection, bucket: str, key: str, item: RateLimitItem) -> int:
    stmt = select(func.count()).where(
        ThrottleHit.bucket == bucket, ThrottleHit.key == key, ThrottleHit.at > _since(item)
    )
    return int(conn.execute(stmt).scalar() or 0)


def _add(conn: Connection, bucket: str, key: str, item: RateLimitItem) -> int:
    """Add one attempt (dropping the key's attempts that have left the window); the count in the
    window, this one included."""
    conn.execute(
        delete(ThrottleHit).where(ThrottleHit.bucket == bucket, ThrottleHit.key == key, ThrottleHit.at <= _since(item))
    )
    conn.execute(insert(ThrottleHit).values(bucket=bucket, key=key, at=utcnow()))
    return _count(conn, bucket, key, item)


def purge(session: Session, *, older_than: dt.timedelta = dt.timedelta(days=1)) -> int:
    """Delete the database's attempts older than any window (`portal purge-security`)."""
    result = session.execute(delete(ThrottleHit).where(ThrottleHit.at < utcnow() - older_than))
    return int(getattr(result, "rowcount", 0) or 0)


EXTENSION = "portal.throttle"


def install(app: Any) -> Throttle:
    """The app's throttles (called once per app, by app/security.py's security manager)."""
    found = Throttle(app.config)
    for bucket in SETTINGS:
        try:
            found.limit(bucket)  # a mistyped limit stops the start, not a login
        except ValueError as exc:
            raise ValueError(f"{SETTINGS[bucket]}: {exc}") from exc
    app.extensions[EXTENSION] = found
    return found


def of(app: Any) -> Throttle:
    """The throttles of an app (`throttle.of(current_app)`)."""
    found: Throttle = app.extensions[EXTENSION]
    return found
