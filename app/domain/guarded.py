"""Guarded UPDATEs: one statement that changes a row only while it is still as the caller saw it."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import CursorResult
from sqlalchemy.orm import Session
from sqlalchemy.sql import Executable


def rows_changed(session: Session, statement: Executable) -> int:
    """Run an UPDATE/DELETE and return how many rows it changed.

    `Session.execute` is typed as returning a plain `Result`; for DML it is a `CursorResult`, which
    carries the rowcount.
    """
    return cast(CursorResult[Any], session.execute(statement)).rowcount
