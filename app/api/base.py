"""Shared base for the REST API under /api/v1/: permissions, schemas, errors, tenancy.

Conventions every resource follows:

* Routes and permissions come from app/roles.py: an API registers exactly the routes some role
  may use (`can_get` -> list and item, `can_info` -> `_info`, `can_post`, `can_put`,
  `can_delete`), so no route exists that nobody should have (Admin gets every route that exists).
  Workflow routes work the same way: a method exposed with `@permission_name("approve")` is
  opened by `can_approve` and exists only when some role in roles.py holds `can_approve`.
* Results carry codes for programs and `<field>_label` in Norwegian for people
  (`"status": "processing", "status_label": "Under behandling"`).
* Money (every `Numeric` column) is a JSON **string with exactly two decimals** ("1250.00"),
  so no client meets binary floating point; inputs accept a number or such a string.
  Times are ISO 8601 in UTC ("2025-03-01T09:30:00+00:00"), dates "YYYY-MM-DD".
* Related rows are written as ids (`delivery_address_id`, `user_id`, `store_id`, ...). Each id
  is looked up through the tenancy-scoped session: for a customer another company's row does
  not exist, so the answer is 400 `{"message": {"delivery_address_id": ["..."]}}`; the
  flush-time guard (TenantViolation) is mapped to the same shape for everybody else.
* `company_id` is never taken from a customer's body: the guard sets it from the user. Supplier
  staff name the company in the body when they create a tenant-owned row; nobody moves a row
  to another company with PUT.
* Lists count matching rows up to 10 000: `count` is exact up to there, 10 001 beyond it, with
  `count_exact` saying which (app/paging.py); pages read their keys before their rows.
* Errors are JSON `{"message": ...}` with Norwegian text: 400 for bad input (field -> list of
  messages), 401 not logged in, 403 no permission, 404 missing or another company's row.
  Never SQL or a traceback.
"""

from __future__ import annotations

import copy
import enum
import functools
import logging
import sys
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any, ClassVar

from flask import Response, current_app, g, request
from flask_appbuilder.api import BaseApi, ModelRestApi
from flask_appbuilder.const import PERMISSION_PREFIX
from flask_appbuilder.exceptions import (
    DatabaseException,
    FABException,
    InvalidColumnFilterFABException,
    InvalidOperationFilterFABException,
)
from flask_appbuilder.models.sqla.filters import FilterEqual, FilterIn, FilterNotEqual, FilterNotIn
from flask_babel import get_locale
from flask_babel import lazy_gettext as _
from marshmallow import ValidationError
from marshmallow.fields import Field
from sqlalchemy.exc import SQLAlchemyError

from app.api import openapi
from app.api.columns import COLUMN_LABELS
from app.api.fields import (
    MAX_ID,
    MSG_BAD_FILTER,
    MSG_BODY_OBJECT,
    MSG_COMPANY_FROM_USER,
    MSG_DELETE_REFUSED,
    MSG_FORBIDDEN,
    MSG_NO_MOVE,
    MSG_NOT_FOUND,
    MSG_NOT_JSON,
    MSG_SAVE_REFUSED,
    MSG_SERVER_ERROR,
    MSG_UNAUTHORIZED,
    MSG_UNKNOWN_FIELD,
    LazyMessages,
    PortalSchemaConverter,
    flat_errors,
    label_of,
)
from app.domain.actors import Actor
from app.domain.errors import DomainError, ValidationFailed
from app.extensions import db
from app.inputs import MSG_OUT_OF_RANGE, is_input_refusal
from app.paging import COUNT_BOUND, COUNT_DESCRIPTION, paged
from app.roles import ROLE_PERMISSIONS
from app.tenancy import TenantViolation, current_tenant

log = logging.getLogger(__name__)

# Which FAB route methods a standard (CRUD) permission opens.
ROUTES_FOR_PERMISSION: dict[str, frozenset[str]] = {
    "can_get": frozenset({"get", "get_list"}),
    "can_info": frozenset({"info"}),
    "can_post": frozenset({"post"}),
    "can_put": frozenset({"put"}),
    "can_delete": frozenset({"delete"}),
}

_TEXT_FILTER_OPS = frozenset({"sw", "nsw", "ew", "new", "ct", "nct"})


def granted_permissions(class_name: str) -> set[str]:
    """Every permission some role in app/roles.py holds on `class_name` (CRUD and workflow)."""
    granted: set[str] = set()
    for perms in ROLE_PERMISSIONS.values():
        granted.update(perms.get(class_name, ()))
    return granted


def api_permissions(class_name: str) -> set[str]:
    """The standard (CRUD) API permissions some role in app/roles.py holds on `class_name`."""
    return {p for p in granted_permissions(class_name) if p in ROUTES_FOR_PERMISSION}


def api_routes(api_class: type) -> dict[str, frozenset[str]]:
    """Permission -> the route methods of `api_class` it opens, read from FAB's decorators
    (`@permission_name`, or `method_permission_name`): can_get -> {get, get_list}, ..., and
    e.g. can_approve -> {approve} for a workflow route."""
    overrides = getattr(api_class, "method_permission_name", None) or {}
    routes: dict[str, set[str]] = {}
    for name in dir(api_class):
        method = getattr(api_class, name, None)
        if not hasattr(method, "_urls"):
            continue
        permission = overrides.get(name) or getattr(method, "_permission_name", None) or name
        routes.setdefault(f"{PERMISSION_PREFIX}{permission}", set()).add(name)
    return {permission: frozenset(names) for permission, names in routes.items()}


def custom_api_permissions(api_class: type) -> set[str]:
    """The workflow permissions (beyond CRUD) of `api_class` that some role holds."""
    return (granted_permissions(api_class.__name__) & set(api_routes(api_class))) - set(ROUTES_FOR_PERMISSION)


def is_customer_request() -> bool:
    return current_tenant() is not None


def current_user_id() -> int | None:
    user = g.get("portal_user") or g.get("user")
    return getattr(user, "id", None)


def current_actor() -> Actor:
    """The logged-in user as app/domain sees it (JWT or cookie, resolved in app/security.py)."""
    return Actor.from_user(g.get("portal_user") or g.user)


def plain(messages: Any) -> Any:
    """Lazy strings (and dicts/lists of them) -> JSON values; a field's errors are always a list."""
    if isinstance(messages, dict):
        out: dict[str, Any] = {}
        for key, value in messages.items():
            if isinstance(value, dict):
                out[str(key)] = plain(value)
            elif isinstance(value, (list, tuple)):
                out[str(key)] = [plain(v) for v in value]
            else:
                out[str(key)] = [plain(value)]
        return out
    if isinstance(messages, (list, tuple)):
        return [plain(v) for v in messages]
    if messages is None or isinstance(messages, (int, float, bool)):
        return messages
    return str(messages)


def _refused_filter(filters: Any, raw: list[Any]) -> str:
    """Which filter of the request FAB refused, in words: the column, or the operation on it."""
    for flt in raw:
        if not isinstance(flt, dict):
            continue
        column, operation = flt.get("col"), flt.get("opr")
        if column not in filters.search_columns:
            return str(_("Feltet «%(col)s» kan ikke brukes i et filter.", col=column))
        if not filters._rest_check_valid_filter_operation(column, operation):
            return str(_("Filteret «%(opr)s» kan ikke brukes på feltet «%(col)s».", opr=operation, col=column))
    return str(MSG_BAD_FILTER)


class BadBody(Exception):
    """The request body is not what the route takes (not JSON, not an object): 400 with the message."""

    def __init__(self, message: Any) -> None:
        super().__init__(str(message))
        self.message = message


# What a route may raise and `error_response` answers (anything else is a 500 without details).
REFUSALS = (DomainError, BadBody, ValidationError, TenantViolation, SQLAlchemyError, DatabaseException)


def safe(route: Callable[..., Response]) -> Callable[..., Response]:
    """FAB's `safe` plus the portal's refusals: a route raises, this answers (one error path)."""

    @functools.wraps(route)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Response:
        try:
            return route(self, *args, **kwargs)
        except REFUSALS as exc:
            return self.error_response(exc)
        except Exception as exc:  # noqa: BLE001 - never a traceback to the client
            db.session.rollback()
            if not is_input_refusal(exc):
                log.exception("%s.%s failed", type(self).__name__, route.__name__)
            return self.response_500()

    return wrapper


# --- the base API ---------------------------------------------------------------------------


class PortalModelRestApi(ModelRestApi):
    """Base of every Kundeportal REST resource (see the module docstring for the contract)."""

    # Routes a per-user throttle guards (app/domain/throttle.py): their spec names the 429.
    throttled_routes: frozenset[str] = frozenset()

    model2schemaconverter = PortalSchemaConverter
    allow_browser_login = False  # JWT only: no cookie-authenticated, CSRF-exempt writes
    # Computed read-only fields by name (usable in list_columns/show_columns).
    virtual_fields: ClassVar[dict[str, Callable[[], Field]]] = {}
    # code column -> its labels (app/domain/labels.py); adds "<column>_label".
    label_fields: ClassVar[dict[str, Mapping[Any, Any]]] = {}
    # Does the resource belong to a company (company_id from the user / body)?
    tenant_owned: ClassVar[bool] = True
    # What a customer may send when creating (default: add_columns without company_id).
    customer_add_columns: ClassVar[list[str] | None] = None
    # Add columns the server fills in when they are missing (pre_add).
    optional_add_columns: ClassVar[frozenset[str]] = frozenset()

    # Code columns (status, channel): filtered by eq, neq, in, nin only (FAB's text operators on them
    # run ILIKE over the whole table).
    code_filter_columns: ClassVar[tuple[str, ...]] = ()

    customer_add_model_schema: Any = None
    datamodel: Any
    # FAB's ModelRestApi attributes that __init__ below completes (declared only, for the type checker).
    order_columns: list[str] | None
    label_columns: dict[str, Any] | None

    def __init__(self) -> None:
        # Bounded count and deferred-join pages (app/paging.py) for every list.
        self.datamodel = paged(self.datamodel)
        routes = api_routes(type(self))
        wanted = granted_permissions(type(self).__name__)
        granted = wanted & set(routes)
        if wanted - granted:
            log.warning(
                "%s: app/roles.py grants %s, but no route uses it",
                type(self).__name__,
                ", ".join(sorted(wanted - granted)),
            )
        self.base_permissions = sorted(granted)
        self.include_route_methods = set().union(*(routes[p] for p in granted))
        self._virtual = {
            **{f"{col}_label": label_of(mapping, col) for col, mapping in self.label_fields.items()},
            **self.virtual_fields,
        }
        if self.list_columns:
            self.list_select_columns = self._real(self.list_columns)
            self.order_columns = self.order_columns or self.datamodel.get_order_columns_list(
                list_columns=[c for c in self.list_select_columns if "." not in c]
            )
        if self.show_columns:
            self.show_select_columns = self._real(self.show_columns)
        if "company_id" in (self.edit_columns or []):
            raise TypeError(f"{type(self).__name__}: company_id is never editable (rows do not move)")
        self.label_columns = {**COLUMN_LABELS, **self._code_labels(), **(self.label_columns or {})}
        super().__init__()
        self.model2schemaconverter.virtual_fields = self._virtual
        self.model2schemaconverter.code_values = {
            column: [getattr(code, "value", code) for code in mapping] for column, mapping in self.label_fields.items()
        }
        for column in self.code_filter_columns:
            self._filters.get_search_filters()[column] = [
                flt(column, self.datamodel) for flt in (FilterEqual, FilterNotEqual, FilterIn, FilterNotIn)
            ]

    def _label_columns_json(self, cols: Any = None) -> dict[str, Any]:
        """FAB's labels of the response's columns, translated once per language and column set
        (FAB translates each label of every response again)."""
        key = (str(get_locale()), tuple(cols or ()))
        made: dict[Any, dict[str, Any]] = self.__dict__.setdefault("_portal_labels_json", {})
        if key not in made:
            made[key] = super()._label_columns_json(cols)
        return dict(made[key])

    def _code_labels(self) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for column in self.label_fields:
            base = COLUMN_LABELS.get(column, column)
            result[column] = _("%(label)s (kode)", label=base)
            result[f"{column}_label"] = base
        if "effective_status" in self.virtual_fields:
            result["effective_status_label"] = COLUMN_LABELS["effective_status"]
        return result

    def _real(self, columns: Iterable[str]) -> list[str]:
        """Columns that exist in the table (what the SQL selects); computed ones read them."""
        return [c for c in columns if c not in self._virtual]

    def _init_model_schemas(self) -> None:
        super()._init_model_schemas()
        customer_columns = self.customer_add_columns
        if customer_columns is None:
            customer_columns = [c for c in self.add_columns if c != "company_id"]
        if customer_columns:
            self.customer_add_model_schema = self.model2schemaconverter.convert(
                customer_columns, nested=False, parent_schema_name=f"{type(self).__name__}.post_customer"
            )
        for schema in (self.add_model_schema, self.edit_model_schema, self.customer_add_model_schema):
            if schema is None:
                continue
            schema.error_messages = LazyMessages(schema.error_messages, unknown=MSG_UNKNOWN_FIELD, type=MSG_BODY_OBJECT)
            for name in self.optional_add_columns & set(schema.fields):
                schema.fields[name].required = False

    # --- responses in Norwegian, never a traceback --------------------------------------

    def response_400_fields(self, messages: Any) -> Response:
        return self.response(400, message=plain(messages))

    def response_401(self) -> Response:
        return self.response(401, message=str(MSG_UNAUTHORIZED))

    def response_403(self) -> Response:
        return self.response(403, message=str(MSG_FORBIDDEN))

    def response_404(self) -> Response:
        return self.response(404, message=str(MSG_NOT_FOUND))

    def response_500(self, message: str | None = None) -> Response:
        # FAB's `safe` calls this inside its `except`: a value the database refused as out of range
        # is the input's fault (400), anything else a 500. FAB passes a traceback as `message` when
        # FAB_API_SHOW_STACKTRACE is on: never show it.
        if is_input_refusal(sys.exc_info()[1]):
            db.session.rollback()
            return self.response_400_fields(MSG_OUT_OF_RANGE)
        return self.response(500, message=str(MSG_SERVER_ERROR))

    # --- lists: the bounded count (app/paging.py) ----------------------------------------

    def pre_get_list(self, data: dict[str, Any]) -> None:
        count = data.get("count")
        data["count_exact"] = getattr(count, "exact", True)

    def operation_helper(
        self,
        path: str | None = None,
        operations: dict[str, Any] | None = None,
        methods: list[str] | None = None,
        func: Callable[..., Response] | None = None,
        **kwargs: Any,
    ) -> None:
        super().operation_helper(path=path, operations=operations, methods=methods, func=func, **kwargs)
        if func is None or not operations:
            return
        if func.__name__ == "get_list" and "get" in operations:
            self._document_count(operations["get"])
        openapi.document_operations(
            operations,
            path,
            methods,
            func.__name__,
            type(self).__name__,
            domain_write=self._writes_through_domain(func.__name__),
            everyone_may=self._every_role_may(func.__name__),
            throttled=func.__name__ in self.throttled_routes,
        )

    def _every_role_may(self, route: str) -> bool:
        """Does every role of app/roles.py (Admin holds all) have the permission that opens `route` here?"""
        routes = {**api_routes(type(self)), **ROUTES_FOR_PERMISSION}
        permission = next((p for p, names in routes.items() if route in names), None)
        name = type(self).__name__
        return permission is not None and all(permission in perms.get(name, ()) for perms in ROLE_PERMISSIONS.values())

    def _writes_through_domain(self, route: str) -> bool:
        """Does FAB's post/put/delete of this API reach app/domain (an override of the headless
        method or of its pre_ hook), so that a domain NotAllowed (409) can answer it?"""
        hooks = {"post": ("post_headless", "pre_add"), "put": ("put_headless", "pre_update"), "delete": ("pre_delete",)}
        return any(getattr(type(self), name) is not getattr(PortalModelRestApi, name) for name in hooks.get(route, ()))

    def _document_count(self, operation: dict[str, Any]) -> None:
        try:
            schema = operation["responses"][200]["content"]["application/json"]["schema"]
        except (KeyError, TypeError):
            return
        properties = schema.setdefault("properties", {})
        properties["count"] = {"type": "integer", "description": COUNT_DESCRIPTION}
        properties["count_exact"] = {
            "type": "boolean",
            "description": f"Whether `count` is the exact number of matching rows (it is up to {COUNT_BOUND}).",
        }

    def add_apispec_components(self, api_spec: Any) -> None:
        super().add_apispec_components(api_spec)
        for name, schema in openapi.SCHEMAS.items():
            if name not in api_spec.components.schemas:
                api_spec.components.schema(name, schema)

    # --- list filters -------------------------------------------------------------------

    def _handle_filters_args(self, rison_args: dict[str, Any]) -> Any:
        """FAB's filters, but per request: FAB keeps one shared object per view (#2366)."""
        filters = copy.copy(self._filters)
        filters.clear_filters()
        raw = rison_args.get("filters", [])
        for flt in raw:
            value = flt.get("value") if isinstance(flt, dict) else None
            if isinstance(flt, dict) and flt.get("opr") in _TEXT_FILTER_OPS and not isinstance(value, str):
                raise FABException(str(MSG_BAD_FILTER))
            if isinstance(flt, dict) and not self._filter_value_fits(flt.get("col"), value):
                raise FABException(str(_("Ugyldig verdi i filteret på feltet «%(col)s».", col=flt.get("col"))))
        try:
            filters.rest_add_filters(raw)
        except (InvalidColumnFilterFABException, InvalidOperationFilterFABException) as exc:
            raise FABException(_refused_filter(filters, raw)) from exc  # FAB's own text is English
        return filters.get_joined_filters(self._base_filters)

    def _filter_value_fits(self, column: Any, value: Any) -> bool:
        """A filter compares a column with a value of the column's type: a whole number in SQL's
        integer range for integers and related rows' ids, text for text and codes, true/false for
        flags, a finite number for money. Else PostgreSQL refuses the statement (integer out of
        range, varchar = bigint) and SQLite overflows: a 400 here instead."""
        if not isinstance(column, str):
            return True
        if self.datamodel.is_relation(column):
            kind: Any = int
        elif column in self.datamodel.list_columns:
            try:
                kind = self.datamodel.list_columns[column].type.python_type
            except NotImplementedError:
                return True
        else:
            return True
        values = value if isinstance(value, list) else [value]
        return all(_fits(kind, v) for v in values if v is not None and v != "")

    # --- writes -------------------------------------------------------------------------

    def json_body(self) -> dict[str, Any]:
        """The request's JSON object (BadBody: 400 when it is not one)."""
        if not request.is_json:
            raise BadBody(MSG_NOT_JSON)
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise BadBody(MSG_BODY_OBJECT)
        return dict(body)

    def _add_schema(self) -> Any:
        if self.tenant_owned and is_customer_request():
            return self.customer_add_model_schema
        return self.add_model_schema

    def _drop_company(self, body: dict[str, Any], current: int | None) -> None:
        """Drop a `company_id` that changes nothing; refuse one that names another company (400)."""
        if "company_id" not in body or not self.tenant_owned:
            return
        if current is not None and body["company_id"] == current:
            body.pop("company_id")
            return
        message = MSG_COMPANY_FROM_USER if is_customer_request() else MSG_NO_MOVE
        raise ValidationError({"company_id": [message]})

    def _write_error(self, exc: Exception) -> Response:
        """Map what a write can raise to a 400 (the session is rolled back first)."""
        db.session.rollback()
        if isinstance(exc, ValidationError):
            return self.response_400_fields(exc.messages)
        if isinstance(exc, TenantViolation):
            if exc.field:
                return self.response_400_fields({self._body_name(exc.field): [exc.message]})
            return self.response_400_fields(exc.message)
        log.warning("%s refused a write: %s", type(self).__name__, type(exc.__cause__ or exc).__name__)
        return self.response_400_fields(MSG_SAVE_REFUSED)

    def _body_name(self, field: str) -> str:
        """The guard names a relationship ("delivery_address") or a column; bodies use `<x>_id`."""
        return f"{field}_id" if f"{field}_id" in self.datamodel.list_columns else field

    def _show(self, item: Any) -> Any:
        return self.show_model_schema.dump(item, many=False)

    # FAB's post/put/delete call these; `safe` answers their refusals (FAB's own would say 500).

    @safe
    def post_headless(self) -> Response:
        body = self.json_body()
        if self.tenant_owned and is_customer_request():
            self._drop_company(body, current_tenant())
        schema = self._add_schema()
        if schema is None:
            return self.response_403()
        item = schema.load(body)
        self.pre_add(item)
        self.datamodel.add(item)
        self.post_add(item)
        pk = self.datamodel.get_pk_value(item)
        return self.response(201, id=pk, result=self._show(item))

    def get_headless(self, pk: Any, **kwargs: Any) -> Response:
        if _int_or_none(pk) is None:  # beyond SQL's integer range: SQLite would raise OverflowError
            return self.response_404()
        return super().get_headless(pk, **kwargs)

    @safe
    def put_headless(self, pk: Any) -> Response:
        item_id = _int_or_none(pk)
        item = self.datamodel.get(item_id, self._base_filters) if item_id is not None else None
        if item is None:
            return self.response_404()
        body = self.json_body()
        self._drop_company(body, getattr(item, "company_id", None))
        # A schema of its own: marshmallow-sqlalchemy keeps `instance` on the schema object
        # during load, so two PUTs sharing FAB's schema in threads could swap their rows.
        schema = type(self.edit_model_schema)()
        schema.error_messages = self.edit_model_schema.error_messages
        item = schema.load(body, instance=item, partial=True)
        self.pre_update(item)
        self.datamodel.edit(item)
        self.post_update(item)
        return self.response(200, id=item_id, result=self._show(item))

    @safe
    def delete_headless(self, pk: Any) -> Response:
        item_id = _int_or_none(pk)
        item = self.datamodel.get(item_id, self._base_filters) if item_id is not None else None
        if item is None:
            return self.response_404()
        try:
            self.pre_delete(item)
            self.datamodel.delete(item)
            self.post_delete(item)
        except (SQLAlchemyError, DatabaseException):
            db.session.rollback()
            return self.response_400_fields(MSG_DELETE_REFUSED)
        return self.response(200, message=str(_("Slettet.")))

    def pre_add(self, item: Any) -> None:
        """Server-side fields: who created the row (never from the body)."""
        if hasattr(item, "created_by_id") and getattr(item, "created_by_id", None) is None:
            item.created_by_id = current_user_id()

    def error_response(self, exc: Exception) -> Response:
        """THE mapping of a refusal to an answer; the session is rolled back, nothing is written.

        app/domain errors carry their status (ValidationFailed 400 per field, NotAllowed 409,
        NotFound 404, Forbidden 403); bad bodies, schema errors, guard and database refusals are 400.
        """
        db.session.rollback()
        if isinstance(exc, DomainError):
            return self.response_domain_error(exc)
        if isinstance(exc, BadBody):
            return self.response_400_fields(exc.message)
        return self._write_error(exc)

    def response_domain_error(self, exc: DomainError) -> Response:
        """app/domain errors: ValidationFailed 400 per field, NotAllowed 409, NotFound 404, Forbidden 403."""
        db.session.rollback()
        if isinstance(exc, ValidationFailed):
            return self.response_400_fields({k: [v] for k, v in exc.errors.items()})
        if exc.status == 404:
            return self.response_404()
        if exc.status == 403:
            return self.response_403()
        return self.response(exc.status, message=str(exc.message))

    def user_may(self, permission: str) -> bool:
        """Does the logged-in user hold `permission` on this API (app/roles.py via FAB's tables)?"""
        if permission not in self.base_permissions:
            return False
        return bool(current_app.extensions["appbuilder"].sm.has_access(permission, self.class_permission_name))

    # --- workflow routes (POST /<id>/approve etc.): bodies and answers ------------------

    def load_input(self, schema: Any, body: dict[str, Any]) -> dict[str, Any]:
        """Load a workflow body; bad input raises ValidationError named like the domain does
        ("lines[0].width"), so the answer is the same whichever layer found the problem."""
        try:
            return schema.load(body)
        except ValidationError as exc:
            raise ValidationError(flat_errors(exc.messages)) from exc

    def new_body(self) -> tuple[dict[str, Any], bool]:
        """The JSON body of a POST that creates through a domain function, loaded with the add schema,
        and whether the caller is a customer; a customer's own company_id is dropped and another
        company's is refused (400), as for every POST. Raises what `error_response` answers."""
        body = self.json_body()
        customer = is_customer_request()
        if customer:
            self._drop_company(body, current_tenant())
        return self.load_input(self._add_schema(), body), customer

    def optional_body(self) -> dict[str, Any]:
        """A body that may be left out entirely (e.g. an optional reason); if sent, a JSON object."""
        if not request.get_data(cache=True):
            return {}
        return self.json_body()

    def commit(self, action: Callable[[], Any], rename: Callable[[str], str] | None = None) -> Any:
        """Run a domain function and commit: the one place an API write commits. A refusal is
        raised on to `safe` (answered by `error_response`); `rename` maps the domain's field
        names to the body's where they differ."""
        try:
            result = action()
        except ValidationFailed as exc:
            if rename is None:
                raise
            raise ValidationFailed({rename(key): message for key, message in exc.errors.items()}) from exc
        db.session.commit()
        return result

    # --- _info: the add fields a customer may send --------------------------------------

    def _get_field_info(
        self, field: Field, filter_rel_field: Any, page: int | None = None, page_size: int | None = None
    ) -> dict[str, Any]:
        info = super()._get_field_info(field, filter_rel_field, page=page, page_size=page_size)
        # FAB runs gettext("") for a column without a description: that is the catalogue header.
        if not self.description_columns.get(field.name):
            info["description"] = ""
        info["label"] = str(info["label"])
        return info

    def _get_fields_info(
        self, cols: list[str], model_schema: Any, filter_rel_fields: Any, **kwargs: Any
    ) -> list[dict[str, Any]]:
        # No add/edit fields (and no related-row lookups) for a user who may not add or edit.
        if (model_schema is self.add_model_schema and not self.user_may("can_post")) or (
            model_schema is self.edit_model_schema and not self.user_may("can_put")
        ):
            return []
        if model_schema is self.add_model_schema and self.tenant_owned and is_customer_request():
            model_schema = self.customer_add_model_schema
            cols = list(model_schema.fields) if model_schema is not None else []
        return super()._get_fields_info(cols, model_schema, filter_rel_fields, **kwargs)


def ids_in_range(route: Callable[..., Response]) -> Callable[..., Response]:
    """404 for an id in the URL beyond SQL's integer range (SQLite would raise OverflowError)."""

    @functools.wraps(route)
    def wrapper(self: PortalModelRestApi, *args: Any, **kwargs: Any) -> Response:
        if any(isinstance(v, int) and not 0 < v <= MAX_ID for v in (*args, *kwargs.values())):
            return self.response_404()
        return route(self, *args, **kwargs)

    return wrapper


def _fits(kind: Any, value: Any) -> bool:
    """Is `value` (from a filter) of the column's Python type `kind`?"""
    if isinstance(kind, type) and issubclass(kind, bool):
        return isinstance(value, bool) or value in ("y", "true", "false")
    if isinstance(kind, type) and issubclass(kind, int):
        return _int_in_range(value)
    if isinstance(kind, type) and issubclass(kind, (Decimal, float)):
        if isinstance(value, bool):
            return False
        try:
            return Decimal(str(value)).is_finite()
        except ArithmeticError:
            return False
    if isinstance(kind, type) and issubclass(kind, (str, enum.Enum)):
        return isinstance(value, str)
    return not isinstance(value, (dict, list))


def _int_in_range(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, str):
        value = value.strip()
        if not value.lstrip("-").isdigit() or len(value) > 11:
            return False
        value = int(value)
    return isinstance(value, int) and -MAX_ID <= value <= MAX_ID


def _int_or_none(value: Any) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if 0 < number <= MAX_ID else None


# --- resources that are not a model (no list, no ids) ----------------------------------------


class PortalBaseApi(BaseApi):
    """Base of the REST resources that are not a model (two-factor login, notices, quick order, the
    statement): JWT only, Norwegian 401/403, and the spec's answers as for every other resource."""

    allow_browser_login = False
    everyone_may: ClassVar[bool] = False  # every role holds the routes' permissions: no 403 in the spec

    def response_401(self) -> Response:
        return self.response(401, message=str(MSG_UNAUTHORIZED))

    def response_403(self) -> Response:
        return self.response(403, message=str(MSG_FORBIDDEN))

    def operation_helper(
        self,
        path: str | None = None,
        operations: dict[str, Any] | None = None,
        methods: list[str] | None = None,
        func: Callable[..., Response] | None = None,
        **kwargs: Any,
    ) -> None:
        super().operation_helper(path=path, operations=operations, methods=methods, func=func, **kwargs)
        if func is None or not operations:
            return
        openapi.document_operations(
            operations, path, methods, func.__name__, type(self).__name__, everyone_may=self.everyone_may
        )

    def refused(self, route_name: str, errors: dict[str, Any]) -> None:
        """Called after a 400 was rolled back (the two-factor login records wrong codes)."""


def answered(route: Callable[..., Response]) -> Callable[..., Response]:
    """A PortalBaseApi route in one transaction: committed when it answers, rolled back on a refusal
    (400 per field, the domain's 403/404/409), never a traceback to the client."""

    @functools.wraps(route)
    def wrapper(self: PortalBaseApi, *args: Any, **kwargs: Any) -> Response:
        try:
            result = route(self, *args, **kwargs)
            db.session.commit()
            return result
        except ValidationFailed as exc:
            db.session.rollback()
            self.refused(route.__name__, exc.errors)
            return self.response(400, message=plain({k: [v] for k, v in exc.errors.items()}))
        except ValidationError as exc:
            db.session.rollback()
            return self.response(400, message=plain(exc.messages))
        except DomainError as exc:
            db.session.rollback()
            return self.response(exc.status, message=str(exc.message))
        except Exception:  # noqa: BLE001 - never a traceback to the client
            log.exception("%s.%s failed", type(self).__name__, route.__name__)
            db.session.rollback()
            return self.response(500, message=str(MSG_SERVER_ERROR))

    return wrapper


def json_object(schema: Any) -> dict[str, Any]:
    """The request's JSON object (an empty body is {}), loaded with the marshmallow `schema`."""
    if not request.get_data(cache=True):
        return dict(schema.load({}))
    if not request.is_json:
        raise ValidationError({"_schema": [str(MSG_NOT_JSON)]})
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ValidationError({"_schema": [str(MSG_BODY_OBJECT)]})
    return dict(schema.load(body))
