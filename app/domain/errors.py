"""Errors a domain function raises; views and APIs map them to a page message or a status code."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy.orm import Session

from app.domain.validation import MAX_ID

Row = TypeVar("Row")


class DomainError(Exception):
    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ValidationFailed(DomainError):
    """Bad input: `errors` maps a field name (e.g. "lines[0].width") to a Norwegian message. API: 400."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = errors


class NotAllowed(DomainError):
    """The state of the row does not allow this change now (API: 409)."""

    status = 409


class AlreadyHandled(NotAllowed):
    """Someone else changed the row first (e.g. two sellers approving at once)."""


class NotFound(DomainError):
    """The row does not exist for this user (another company's rows look like this too)."""

    status = 404


class Forbidden(DomainError):
    """The role may not do this at all (API: 403)."""

    status = 403


def get_visible(session: Session, model: type[Row], row_id: Any, message: Any) -> Row:
    """A row by id through the tenant-scoped session: another company's row, a row that does not
    exist and an id that is no id (text, a bool, beyond SQL's integer range) are all NotFound."""
    try:
        pk = int(row_id) if not isinstance(row_id, bool) else 0
    except (TypeError, ValueError):
        pk = 0
    row = session.get(model, pk) if 0 < pk <= MAX_ID else None
    if row is None:
        raise NotFound(message)
    return row
