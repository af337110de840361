"""Per-user throttles on pages (app/domain/throttle.py): a route decorator that counts every
call, and the two calls a page makes when only failures count."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import abort, current_app, g

from app.domain import throttle
from app.extensions import db

F = TypeVar("F", bound=Callable[..., Any])


def _key() -> str:
    return str(getattr(g.get("user"), "id", None) or "anonymous")


def allowed(bucket: str) -> bool:
    """Budget left for the logged-in user? (Counts nothing.)"""
    return throttle.of(current_app).allowed(db.session, bucket, _key())


def count(bucket: str) -> None:
    """Count a failed attempt of the logged-in user."""
    throttle.of(current_app).hit(db.session, bucket, _key())


def per_user(bucket: str) -> Callable[[F], F]:
    """Every call counts; over the limit the page answers 429 (the Norwegian error page). Put it
    below `has_access`: a refused caller uses up nothing."""

    def decorate(route: F) -> F:
        @wraps(route)
        def throttled(*args: Any, **kwargs: Any) -> Any:
            if not throttle.of(current_app).attempt(db.session, bucket, _key()):
                abort(429)
            return route(*args, **kwargs)

        return throttled  # type: ignore[return-value]

    return decorate


def attempt(bucket: str) -> bool:
    """Count a call of the logged-in user if there is budget for it (False: answer 429)."""
    return throttle.of(current_app).attempt(db.session, bucket, _key())
