"""What `/api/v1/_openapi` says about every operation of the portal's REST API, made true in one place.

FAB builds each operation from the route method's docstring (its own for CRUD, ours for workflow
routes) and from the marshmallow schemas. `document_operation` then corrects, for every operation
of a PortalModelRestApi:

* answers: 400 (every operation: app/inputs.py checks every request's input, and each reads its id,
  `q` or body), 401 (every operation needs a token), 403 (where some role lacks the permission, or
  the route says so), 404 (every operation with an id in its path), 500; 409 stays where the route declares it (workflow routes). FAB's 422
  is dropped: the portal answers bad input with 400, never 422;
* error bodies: `{"message": "..."}`, and for 400 `{"message": "..." | {field: ["...", ...]}}`;
* ids are integers (FAB documents `id` and `ids` as strings);
* 409 also on a POST/PUT/DELETE that saves through an app/domain function (its NotAllowed);
* `_info` lists its add and edit fields as arrays (FAB documents objects);
* POST and PUT answer the row as GET shows it (FAB documents the body's schema);
* a docstring response written `{description: A, B}` (YAML reads a second key "B") keeps its words.
"""

from __future__ import annotations

from typing import Any

MESSAGE_SCHEMA = "PortalMessage"
BAD_REQUEST_SCHEMA = "PortalBadRequest"

SCHEMAS: dict[str, dict[str, Any]] = {
    MESSAGE_SCHEMA: {
        "type": "object",
        "properties": {"message": {"type": "string", "description": "What went wrong, in Norwegian"}},
        "required": ["message"],
    },
    BAD_REQUEST_SCHEMA: {
        "type": "object",
        "description": (
            "Bad input. `message` names each field or query parameter with its Norwegian messages "
            '({"amount": ["Beløpet er for stort."]}); a body that is not a JSON '
            "object, or a refused list filter, is one message as text."
        ),
        "properties": {
            "message": {
                "oneOf": [
                    {"type": "string"},
                    {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}},
                ]
            }
        },
        "required": ["message"],
    },
}

_DESCRIPTIONS = {
    "400": "Bad input: the message names the field or parameter",
    "401": "Not logged in, or the token is invalid, expired or revoked",
    "403": "The user's role may not do this",
    "404": "No such row, or one of another company",
    "409": "Not allowed in the row's current state (the message says why)",
    "429": "Too many attempts by this user in a short time: wait and try again",
    "500": "Server error (never details)",
}
_RESPONSE_KEYS = {"description", "content", "headers", "links", "$ref"}


def _schema_ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def _error_response(status: str, description: str | None) -> dict[str, Any]:
    schema = BAD_REQUEST_SCHEMA if status == "400" else MESSAGE_SCHEMA
    return {
        "description": description or _DESCRIPTIONS[status],
        "content": {"application/json": {"schema": _schema_ref(schema)}},
    }


def _description(response: Any) -> str | None:
    """A response's own description (None for a bare `$ref`), with YAML's split-off words put back."""
    if not isinstance(response, dict) or "$ref" in response:
        return None
    words = [str(response.get("description") or "")]
    words += [str(key) for key in response if key not in _RESPONSE_KEYS]
    return ", ".join(w for w in words if w) or None


def document_operation(
    operation: dict[str, Any],
    path: str,
    method: str,
    route_name: str,
    api_name: str,
    domain_write: bool = False,
    everyone_may: bool = False,
    throttled: bool = False,
) -> None:
    """Correct one operation of the spec in place (see the module docstring). `domain_write`: the
    route saves through an app/domain function, whose NotAllowed is a 409 (and Forbidden a 403);
    `everyone_may`: every role holds the route's permission, so FAB never answers 403."""
    responses: dict[str, Any] = {str(k): v for k, v in (operation.get("responses") or {}).items()}
    responses.pop("422", None)
    for status, response in list(responses.items()):
        if isinstance(response, dict) and not status.startswith(("4", "5")):
            extra = [k for k in response if k not in _RESPONSE_KEYS]
            if extra:
                responses[status] = {
                    **{k: v for k, v in response.items() if k in _RESPONSE_KEYS},
                    "description": _description(response),
                }
    wanted = {"400", "401", "500"}
    if not everyone_may or domain_write or "403" in responses:
        wanted.add("403")
    if "{" in path:
        wanted.add("404")
    wanted |= {s for s in responses if s in ("409", "429")}  # declared by the route itself
    if throttled:  # a per-user throttle (app/domain/throttle.py) answers 429
        wanted.add("429")
    if domain_write:
        wanted.add("409")
    for status in sorted(wanted):
        responses[status] = _error_response(status, _description(responses.get(status)))
    for status in [s for s in responses if s.startswith(("4", "5")) and s not in wanted]:
        responses.pop(status)
    _integer_ids(responses, route_name)
    if route_name in ("post", "put"):
        _shown_result(responses, api_name)
    if route_name == "info":
        _info_columns(responses)
    operation["responses"] = dict(sorted(responses.items()))


def document_operations(
    operations: dict[str, Any],
    path: str | None,
    methods: list[str] | None,
    route_name: str,
    api_name: str,
    **flags: bool,
) -> None:
    """`document_operation` for each of a route's methods (what FAB's `operation_helper` hands over)."""
    for method in methods or ():
        if method.lower() in operations:
            document_operation(operations[method.lower()], path or "", method, route_name, api_name, **flags)


def _shown_result(responses: dict[str, Any], api_name: str) -> None:
    """POST and PUT answer the saved row as GET shows it (PortalModelRestApi._show), not the body's schema."""
    for status in ("200", "201"):
        try:
            properties = responses[status]["content"]["application/json"]["schema"]["properties"]
        except (KeyError, TypeError):
            continue
        properties["result"] = _schema_ref(f"{api_name}.get")


def _info_columns(responses: dict[str, Any]) -> None:
    """`_info` answers `add_columns` / `edit_columns` as lists of field descriptions (FAB: "object")."""
    try:
        properties = responses["200"]["content"]["application/json"]["schema"]["properties"]
    except (KeyError, TypeError):
        return
    field = {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "label": {"type": "string"},
            "description": {"type": "string"},
            "required": {"type": "boolean"},
            "unique": {"type": "boolean"},
            "type": {"type": "string"},
        },
    }
    for key in ("add_columns", "edit_columns"):
        if key in properties:
            properties[key] = {"type": "array", "items": field}


def _integer_ids(responses: dict[str, Any], route_name: str) -> None:
    """`id` of get/post/put answers and `ids` of lists are the integer primary keys."""
    for status in ("200", "201"):
        try:
            schema = responses[status]["content"]["application/json"]["schema"]
        except (KeyError, TypeError):
            continue
        properties = schema.get("properties") if isinstance(schema, dict) else None
        if properties is None:
            continue
        if "ids" in properties:
            properties["ids"] = {**properties["ids"], "items": {"type": "integer"}}
        if "id" in properties or route_name in ("post", "put", "get"):
            properties["id"] = {"type": "integer", "description": "The row's id"}


def document_idempotency_key(operation: dict[str, Any], header: str) -> None:
    """POST /order/: the optional key header, the replay header of a repeated answer, and the 409
    of a key reused with another body."""
    parameters = [p for p in operation.get("parameters", []) if p.get("name") != header]
    parameters.append(
        {
            "in": "header",
            "name": header,
            "required": False,
            "description": "Makes the POST happen once per user and key within 24 hours (see the description).",
            "schema": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "^[A-Za-z0-9_.:-]+$"},
        }
    )
    operation["parameters"] = parameters
    responses = operation.setdefault("responses", {})
    created = responses.get("201")
    if isinstance(created, dict):
        created.setdefault("headers", {})["Idempotent-Replayed"] = {
            "description": "`true` when the answer repeats the order the key made before",
            "schema": {"type": "string", "enum": ["true"]},
        }
    if "409" in responses:
        responses["409"]["description"] = (
            "Not allowed now (the message says why), or the Idempotency-Key was used with another body"
        )
