"""SQL statements and time per request, as response headers, for the benchmark (scripts/bench.py).

Not part of the app: `install(app)` is called by the benchmark's WSGI entry (and by tests) only.
Every request then answers with

* `X-SQL-Statements`: statements the request sent to the database (the login check, FAB's
  permission look-ups and the page's own queries alike);
* `X-SQL-Time-ms`: time spent waiting for them;
* `X-Server-Time-ms`: time from the start of the request to its response (the app's share of the
  round trip, without the HTTP client and the network).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, g, has_app_context, request_started
from sqlalchemy import event
from sqlalchemy.engine import Engine

STATEMENTS_HEADER = "X-SQL-Statements"
SQL_TIME_HEADER = "X-SQL-Time-ms"
SERVER_TIME_HEADER = "X-Server-Time-ms"


def _started(sender: Flask, **extra: Any) -> None:
    g.bench_sql = [0, 0.0]  # statements, seconds
    g.bench_started = time.perf_counter()


def _before_cursor(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
    conn.info["bench_t"] = time.perf_counter()


def _after_cursor(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
    if not has_app_context():
        return
    counter = g.get("bench_sql")
    if counter is not None:
        counter[0] += 1
        counter[1] += time.perf_counter() - conn.info.pop("bench_t", time.perf_counter())


def _headers(response: Response) -> Response:
    counter = g.get("bench_sql")
    if counter is not None:
        response.headers[STATEMENTS_HEADER] = str(counter[0])
        response.headers[SQL_TIME_HEADER] = f"{counter[1] * 1000:.2f}"
        response.headers[SERVER_TIME_HEADER] = f"{(time.perf_counter() - g.bench_started) * 1000:.2f}"
    return response


def install(app: Flask) -> Callable[[], None]:
    """Count every request's statements on the app's engine; returns a function that stops it."""
    from app.extensions import db

    with app.app_context():
        engine: Engine = db.engine
    event.listen(engine, "before_cursor_execute", _before_cursor)
    event.listen(engine, "after_cursor_execute", _after_cursor)
    request_started.connect(_started, app)
    # Appended directly: Flask refuses after_request() once the app has served a request (tests).
    app.after_request_funcs.setdefault(None, []).append(_headers)

    def uninstall() -> None:
        event.remove(engine, "before_cursor_execute", _before_cursor)
        event.remove(engine, "after_cursor_execute", _after_cursor)
        request_started.disconnect(_started, app)
        app.after_request_funcs[None] = [f for f in app.after_request_funcs.get(None, []) if f is not _headers]

    return uninstall
