"""Checks every request's input passes before any view sees it: one place per kind of bad input.

* A NUL character in the URL path, a query parameter, a form field or a JSON string is refused
  (400 naming the parameter or field). Refused, not stripped: no text the portal stores or looks up
  ever holds NUL (PostgreSQL cannot store it at all, SQLite would keep it and cut it off in some
  readers), so a NUL is a broken client or an attack, and silently changing what was sent would
  store something the sender never saw.
* A JSON body is parsed here once (Flask caches it for the view) with its nesting bounded:
  deeper than `MAX_JSON_DEPTH` is refused before marshmallow, jsonschema or our own code recurse
  through it (5 000 levels would end in RecursionError, a 500).
* The REST API's `q` (FAB's rison argument) is parsed here too: text prison cannot read ("1e+5",
  "2e-"), a value that is not an object, a number that is not finite, and a `page` / `page_size`
  outside what a list can serve answer 400 `{"message": {"q": [...]}}` / `{"page": [...]}`.
* `int` in URL rules is bounded to SQL's integer range (`BoundedIntConverter`): a longer id in
  the path matches no route, so it is a 404 like any row that does not exist.
* What still reaches the database out of range (a value no check above knew about) is refused by
  the database; `is_input_refusal` names those errors, so the error handlers answer 400 instead of
  500 (app/__init__.py's `_install_error_pages`, app/api/base.py's `response_500`).

Messages are Norwegian (lazy, so the English catalogue translates them).
"""

from __future__ import annotations

import json
import math
import urllib.parse
from collections.abc import Iterator
from typing import Any

import prison  # type: ignore[import-untyped]
from flask import Flask, Response, current_app, jsonify, request
from flask_babel import lazy_gettext as _
from sqlalchemy.exc import DataError, StatementError
from werkzeug.exceptions import BadRequest
from werkzeug.routing import IntegerConverter

from app.domain.validation import MAX_ID
from app.paging import page_arg_error

MAX_JSON_DEPTH = 32

MSG_NUL = _("Teksten kan ikke inneholde NUL-tegnet (\\0).")
MSG_TOO_DEEP = _("JSON-innholdet er nestet for dypt (høyst %(max)s nivåer).", max=MAX_JSON_DEPTH)
MSG_BAD_Q = _("Parameteren q er ikke gyldig rison eller JSON, for eksempel (page:0,page_size:25).")
MSG_Q_OBJECT = _("Parameteren q må være et objekt, for eksempel (page:0,page_size:25).")
MSG_NOT_FINITE = _("Tallet må være endelig.")
MSG_OUT_OF_RANGE = _("En verdi er utenfor det som kan lagres eller søkes etter.")


class InputRefused(BadRequest):
    """A page request refused here: the error page shows its (Norwegian) description."""


class BoundedIntConverter(IntegerConverter):
    """`<int:...>` in URL rules: ids only, so at most SQL's integer (a longer one matches no route: 404)."""

    def __init__(self, map: Any, fixed_digits: int = 0, min: int | None = None, max: int | None = None) -> None:  # noqa: A002
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=MAX_ID if max is None else max)


def install(app: Flask) -> None:
    """Register the converter (before any route is added) and the request check."""
    app.url_map.converters["int"] = BoundedIntConverter
    app.before_request(check_request)


def check_request() -> Response | None:
    """The before_request hook: None lets the request through, else the 400 answer."""
    errors = request_errors()
    if not errors:
        return None
    if request.path.startswith("/api/"):
        response = jsonify(message={name: [str(message)] for name, message in errors.items()})
        response.status_code = 400
        return response
    raise InputRefused(description=str(next(iter(errors.values()))))


def request_errors() -> dict[str, Any]:
    """Parameter or field name -> message, for the first problem found in each part of the request."""
    if "\x00" in request.path:
        return {"path": MSG_NUL}
    for name, value in request.args.items(multi=True):
        if "\x00" in name or "\x00" in value:
            return {_printable(name): MSG_NUL}
    if request.method in ("POST", "PUT", "PATCH", "DELETE"):
        if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
            for name, value in request.form.items(multi=True):
                if "\x00" in name or "\x00" in value:
                    return {_printable(name): MSG_NUL}
        if request.is_json:
            errors = _json_body_errors()
            if errors:
                return errors
    if request.path.startswith("/api/") and request.args.get("q"):
        return q_errors(request.args["q"], current_app.config.get("FAB_API_MAX_PAGE_SIZE") or 100)
    return {}


def _printable(name: str) -> str:
    return name.replace("\x00", "\\0")


def _json_body_errors() -> dict[str, Any]:
    try:
        body = request.get_json(silent=True)  # cached for the view
    except RecursionError:
        return {"_schema": MSG_TOO_DEEP}
    return structure_errors(body)


def structure_errors(value: Any, nul_is_error: bool = True) -> dict[str, Any]:
    """Too deep, a NUL in a string (key or value), or a number that is not finite: name -> message."""
    for path, depth, item in _walk(value):
        if depth > MAX_JSON_DEPTH:
            return {"_schema": MSG_TOO_DEEP}
        if isinstance(item, str) and "\x00" in item and nul_is_error:
            return {path or "_schema": MSG_NUL}
        if isinstance(item, float) and not math.isfinite(item):
            return {path or "_schema": MSG_NOT_FINITE}
    return {}


def _walk(value: Any) -> Iterator[tuple[str, int, Any]]:
    """(dotted path, depth, value) of every value, keys included, without recursion."""
    stack: list[tuple[str, int, Any]] = [("", 0, value)]
    while stack:
        path, depth, item = stack.pop()
        yield path, depth, item
        if depth > MAX_JSON_DEPTH:
            return
        if isinstance(item, dict):
            for key, child in item.items():
                name = f"{path}.{key}" if path else str(key)
                stack.append((_printable(name), depth + 1, key))
                stack.append((_printable(name), depth + 1, child))
        elif isinstance(item, list):
            stack.extend((f"{path}[{i}]", depth + 1, child) for i, child in enumerate(item))


def parse_q(text: str) -> Any:
    """FAB's reading of `q`: rison, else URL-encoded JSON (`FAB_API_ALLOW_JSON_QS`). ValueError if neither."""
    try:
        return prison.loads(text)
    except RecursionError as exc:
        raise ValueError("too deep") from exc
    except Exception:  # noqa: BLE001 - prison raises ValueError, IndexError, ParserException ...
        pass
    try:
        return json.loads(urllib.parse.parse_qs(f"q={text}").get("q", [""])[0])
    except (ValueError, RecursionError) as exc:
        raise ValueError("neither rison nor JSON") from exc


def q_errors(text: str, max_page_size: int) -> dict[str, Any]:
    """What is wrong with an API request's `q`, by parameter name (empty: nothing)."""
    try:
        value = parse_q(text)
    except ValueError:
        return {"q": MSG_BAD_Q}
    if not isinstance(value, dict):
        return {"q": MSG_Q_OBJECT}
    errors = structure_errors(value)
    if errors:
        return {"q": next(iter(errors.values()))}
    for _path, _depth, item in _walk(value):
        if isinstance(item, dict) and ("page" in item or "page_size" in item):
            problem = page_arg_error(item.get("page"), item.get("page_size"), max_page_size)
            if problem:
                return problem
    return {}


def is_input_refusal(exc: BaseException | None) -> bool:
    """Did the database (or its driver) refuse a value as out of range or malformed, rather than fail?

    PostgreSQL: DataError ("integer out of range", "numeric field overflow", invalid text for a
    type). SQLite: the driver's OverflowError for an int beyond 64 bits (wrapped or not)."""
    while exc is not None:
        if isinstance(exc, (DataError, OverflowError)):
            return True
        if isinstance(exc, StatementError) and isinstance(exc.orig, (OverflowError, ValueError)):
            return True
        exc = exc.__cause__ or exc.__context__
    return False
