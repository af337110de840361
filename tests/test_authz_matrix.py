"""Authorization matrix, generated from `app.url_map`: every route, every role, and the tenancy.

Design
------
* The cases are generated at run time from `app.url_map`: every rule x every method (without
  HEAD/OPTIONS) x every principal (the six roles and anonymous). A route added tomorrow is in the
  matrix without anyone remembering it.
* Who may use a route comes from the hand-written table in tests/authz_table.py (endpoint ->
  allowed principals; FAB actions: "<View>.<action>" -> principals). A route without an entry
  FAILS `test_every_route_is_in_the_table` with the line to add. The table is written from the
  role descriptions in DESIGN.md, not generated from app/roles.py, so a wrong roles.py entry (or a
  view checking the wrong permission) fails here.
* `test_table_agrees_with_fab_permissions` compares the table, statically, with what FAB will
  check: the permission of each endpoint (`_permission_name` of the view method, renamed by
  `method_permission_name`, on `class_permission_name`) and the roles that hold it in roles.py
  (Admin holds all). It points at the exact (permission, view) pair when they disagree.
* `test_route_access_matrix` then asks the running app, one test class per principal: allowed
  means not 401/403, not a redirect to /login/ and no "access denied" flash (FAB's refusal for
  actions); refused means one of those (or a status listed in EXTRA_REFUSALS). A refused
  state-changing request must not have written anything (row snapshot + row counts of every
  table). Allowed requests must not end in a 5xx. HTML routes use a session cookie per role,
  /api/ routes a JWT per role.
  Rules that need no table: a GET never changes data (GET on FAB's delete and action routes is
  turned away for everybody, FAB refuses GET mutations once CSRFProtect is installed); an action
  name that does not exist, or an action the route does not offer (FAB's `single`/`multiple`),
  is refused or 404 for everybody.
* `test_table_has_no_stale_entries`: the table lists no route the app does not have.
* The customer roles log in as company A's users; whatever they are shown (a list, a form and
  its select options, a search, an API answer, `_info` with related values) must not contain any
  text that only company B's rows produce (B's name, customer number, order/quote/invoice
  numbers, address, users, inquiry).
* `test_foreign_rows_answer_404` takes every route with a row id (and `action_post`, whose ids
  come in the form) and asks it, as each customer role of company A (one test each), about
  company B's row: the answer is 404 (or the role's ordinary refusal if it may not use the route at all) and B's
  row is unchanged. Edit bodies carry changed values, so a view that saved them would show.
* Speed: one world for the module (built once per worker); requests that would change company A's
  row when allowed work on a throwaway copy of the row instead, so the world stays valid for all
  cases. Each principal has its own test class, so `--dist loadscope` spreads them over the
  workers. The number of cases and the time are written to the terminal.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Table, func, insert, select
from werkzeug.routing import Rule

from tests import authz_table as T
from tests.factories import World
from tests.helpers import api_token, auth_header, db_engine, db_session, fresh_world, login

SKIP_METHODS = {"HEAD", "OPTIONS"}
MUTATING = {"POST", "PUT", "PATCH", "DELETE"}
# GET routes that change data in FAB when CSRF is off (as in TestConfig).
MUTATING_GET_FUNCS = {"delete", "action"}
LOGIN_PATHS = ("/login",)
# Asked of every action route: an action that does not exist is refused (or 404) for everybody.
NO_SUCH_ACTION = "finnes-ikke"
PARAM = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


# --- the world and the principals -----------------------------------------------------------


@dataclass
class Principals:
    cookies: dict[str, str]
    tokens: dict[str, str]
    usernames: dict[str, str]


@pytest.fixture(scope="module")
def mworld(app: Flask) -> World:
    from flask_appbuilder.security.sqla.models import Group

    world = fresh_world(app)
    with db_session(app) as session:
        # FAB's group view needs a row to show; groups are supplier-side (Admin) only.
        session.add(Group(name="Testgruppe", label="Testgruppe"))
        session.commit()
    return world


@pytest.fixture(scope="module")
def principals(app: Flask, mworld: World) -> Principals:
    cookies: dict[str, str] = {}
    tokens: dict[str, str] = {}
    usernames = {role: mworld.user(role).username for role in T.ROLES}
    for role in T.ROLES:
        client = app.test_client()
        login(client, mworld.user(role).username)
        cookie = client.get_cookie("session")
        assert cookie is not None
        cookies[role] = cookie.value
        tokens[role] = api_token(client, mworld.user(role).username)
    return Principals(cookies, tokens, usernames)


def _report(request: pytest.FixtureRequest, line: str) -> None:
    """Print to the terminal even with output capture on (pytest -q): the case count is news."""
    print(line)
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is not None and capture is not None:
        with capture.global_and_fixture_disabled():
            reporter.write("\n" + line + "\n")


# --- reading the app ------------------------------------------------------------------------


def _views_by_endpoint(app: Flask) -> dict[str, Any]:
    views: dict[str, Any] = {}
    for view in app.appbuilder.baseviews:
        views[getattr(view, "endpoint", None) or view.__class__.__name__] = view
        views.setdefault(view.__class__.__name__, view)
    return views


def _model_by_name(name: str) -> type:
    import flask_appbuilder.security.sqla.models as fab_models

    import app.models as models

    model = getattr(models, name, None) or getattr(fab_models, name, None)
    assert model is not None, f"PK_MODELS names an unknown model {name!r}"
    return model


def _is_action(endpoint: str, view: Any) -> bool:
    method = endpoint.rsplit(".", 1)[-1]
    return view is not None and method in ("action", "action_post") and hasattr(view, "actions")


@dataclass
class Route:
    endpoint: str
    rule: Rule
    method: str
    view: Any
    model: type | None
    action: str | None = None  # FAB action name for /action/ and /action_post

    @property
    def key(self) -> str:
        if self.action is not None:
            return f"{self.endpoint.rsplit('.', 1)[0]}.{self.action}"
        return self.endpoint

    @property
    def not_offered(self) -> bool:
        """An unknown action, or one this route does not offer: FAB declares actions for the show
        page (`single`) and/or the list (`multiple`); the other route must answer 404, not run it."""
        if self.action is None:
            return False
        if self.action == NO_SUCH_ACTION:
            return True
        item = self.view.actions[self.action]
        return not (item.multiple if self.endpoint.endswith(".action_post") else item.single)

    @property
    def table(self) -> dict[str, frozenset[str]]:
        if self.not_offered:
            return {self.key: T.NOBODY}
        return T.ACTIONS if self.action is not None else T.ROUTES

    @property
    def extra_refusals(self) -> frozenset[int]:
        if self.not_offered:
            return frozenset({404})
        return T.EXTRA_REFUSALS.get(self.key, frozenset())

    @property
    def is_api(self) -> bool:
        return self.rule.rule.startswith("/api/")

    @property
    def has_pk(self) -> bool:
        return "pk" in self.rule.arguments or self.endpoint.endswith(".action_post")

    @property
    def get_mutation(self) -> bool:
        """GET /delete/<pk> or GET /action/...: FAB refuses these when CSRFProtect is installed."""
        return self.method == "GET" and self.endpoint.rsplit(".", 1)[-1] in MUTATING_GET_FUNCS

    @property
    def mutating(self) -> bool:
        return self.method in MUTATING or self.get_mutation

    @property
    def label(self) -> str:
        suffix = f" [{self.action}]" if self.action else ""
        return f"{self.method} {self.rule.rule}{suffix} ({self.endpoint})"


def _routes(app: Flask) -> list[Route]:
    views = _views_by_endpoint(app)
    routes: list[Route] = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint)):
        prefix = rule.endpoint.rsplit(".", 1)[0] if "." in rule.endpoint else rule.endpoint
        view = views.get(prefix)
        model: type | None = None
        if rule.endpoint in T.PK_MODELS:
            model = _model_by_name(T.PK_MODELS[rule.endpoint])
        elif view is not None and getattr(view, "datamodel", None) is not None:
            model = view.datamodel.obj
        for method in sorted((rule.methods or set()) - SKIP_METHODS):
            if _is_action(rule.endpoint, view):
                for name in [*sorted(view.actions), NO_SUCH_ACTION]:
                    routes.append(Route(rule.endpoint, rule, method, view, model, action=name))
            else:
                routes.append(Route(rule.endpoint, rule, method, view, model))
    return routes


# --- rows: which id to use, snapshots, throwaway copies ----------------------------------------


def _table(model: type) -> Table:
    return model.__table__  # type: ignore[attr-defined]


def _tenant_column(model: type) -> Any:
    from app.models import Company

    table = _table(model)
    if model is Company:
        return table.c.id
    return table.c.get("company_id")


def _is_tenant_model(model: type | None) -> bool:
    return model is not None and _tenant_column(model) is not None


def _row_id(app: Flask, model: type, company_id: int | None) -> int | None:
    """First row of the model belonging to the company (or any row for models without one)."""
    table = _table(model)
    stmt = select(table.c.id).order_by(table.c.id).limit(1)
    column = _tenant_column(model)
    if column is not None and company_id is not None:
        stmt = stmt.where(column == company_id)
    with db_engine(app).connect() as conn:
        return conn.execute(stmt).scalar()


def _snapshot(app: Flask, model: type, pk: int) -> dict[str, Any] | None:
    table = _table(model)
    with db_engine(app).connect() as conn:
        row = conn.execute(select(table).where(table.c.id == pk)).mappings().first()
    return dict(row) if row else None


_COUNT_STMT: Any = None


def _counts(app: Flask) -> tuple[int, ...]:
    """Row count of every table, in one statement (a refused request must not add or remove rows)."""
    global _COUNT_STMT
    from flask_appbuilder import Model

    if _COUNT_STMT is None:
        # The audit log is left out: a refusal (403) is recorded there, by design.
        _COUNT_STMT = select(
            *[
                select(func.count()).select_from(t).scalar_subquery()
                for t in Model.metadata.sorted_tables
                if t.name != "audit_log"
            ]
        )
    with db_engine(app).connect() as conn:
        return tuple(conn.execute(_COUNT_STMT).one())


_clone_seq = iter(range(1, 10**9))


def _clone(app: Flask, model: type, pk: int) -> int:
    """A throwaway copy of a row (unique values made unique), for allowed state-changing requests."""
    table = _table(model)
    unique_sets = [[c] for c in table.columns if c.unique]
    unique_sets += [
        list(c.columns)
        for c in table.constraints  # type: ignore[attr-defined]
        if c.__class__.__name__ == "UniqueConstraint"
    ]
    n = next(_clone_seq)
    with db_engine(app).begin() as conn:
        row = dict(conn.execute(select(table).where(table.c.id == pk)).mappings().one())
        row.pop("id")
        for columns in unique_sets:
            # Change one column of each unique set: a string, else a plain number, else NULL.
            strings = [c for c in columns if isinstance(row.get(c.name), str)]
            numbers = [c for c in columns if isinstance(row.get(c.name), int) and not c.foreign_keys]
            if strings:
                column = strings[0]
                length = getattr(column.type, "length", None) or 200
                row[column.name] = f"k{n}-{row[column.name]}"[:length]
            elif numbers:
                row[numbers[0].name] = row[numbers[0].name] + 100000 + n
            else:
                for column in columns:
                    if column.nullable:
                        row[column.name] = None
        return int(conn.execute(insert(table).values(**row).returning(table.c.id)).scalar_one())


# --- requests -------------------------------------------------------------------------------


def _denied_messages(app: Flask) -> set[str]:
    from flask_appbuilder.const import FLAMSG_ERR_SEC_ACCESS_DENIED

    messages = {"Access is Denied"}
    with app.test_request_context():
        messages.add(str(FLAMSG_ERR_SEC_ACCESS_DENIED))
    return messages


@dataclass
class Outcome:
    status: int
    location: str
    denied_flash: bool
    body: str = ""

    def refused(self, extra: Iterable[int] = ()) -> bool:
        if self.status in (401, 403) or self.status in set(extra):
            return True
        if 300 <= self.status < 400 and self.location.split("?")[0].rstrip("/").endswith(LOGIN_PATHS):
            return True
        return self.denied_flash

    def describe(self) -> str:
        where = f" -> {self.location}" if self.location else ""
        flash = " +access-denied flash" if self.denied_flash else ""
        return f"{self.status}{where}{flash}"


@dataclass
class Runner:
    app: Flask
    principals: Principals
    denied: set[str]
    count: int = 0

    def url(self, route: Route, pk: int | None, rows: dict[str, int] | None = None) -> str:
        def value(match: re.Match[str]) -> str:
            name = match.group(1)
            if name == "pk":
                return str(pk)
            if name in T.ROW_PARAMS:
                assert rows and rows.get(name) is not None, f"{route.label}: no {T.ROW_PARAMS[name]} row for <{name}>"
                return str(rows[name])
            if name == "name":
                return str(route.action)
            for key in (f"{route.endpoint}:{name}", name):
                if key in T.PARAMS:
                    return T.PARAMS[key]
            raise AssertionError(f"{route.label}: add a value for <{name}> to PARAMS in tests/authz_table.py")

        return PARAM.sub(value, route.rule.rule)

    def call(
        self,
        route: Route,
        principal: str,
        pk: int | None,
        body: dict[str, Any] | None = None,
        rows: dict[str, int] | None = None,
    ) -> Outcome:
        self.count += 1
        client: FlaskClient = self.app.test_client()
        headers: dict[str, str] = {}
        kwargs: dict[str, Any] = {}
        # Logging out ends the login it is called with: such a route gets a login of its own.
        own_login = principal != T.ANON and route.endpoint in T.ENDS_LOGIN
        if route.is_api:
            if own_login:
                headers = auth_header(api_token(client, self.principals.usernames[principal]))
            elif principal != T.ANON:
                headers = auth_header(self.principals.tokens[principal])
            if route.method in MUTATING and route.method != "DELETE":
                kwargs["json"] = body or {}
        else:
            if own_login:
                login(client, self.principals.usernames[principal])
            elif principal != T.ANON:
                client.set_cookie("session", self.principals.cookies[principal])
            if route.method in MUTATING:
                data = dict(body or {})
                if route.endpoint.endswith(".action_post"):
                    data.update({"action": route.action, "rowid": str(pk)})
                kwargs["data"] = data
        response = client.open(self.url(route, pk, rows), method=route.method, headers=headers, **kwargs)
        denied = False
        if not route.is_api:
            with client.session_transaction() as session:
                denied = any(msg in self.denied for _, msg in session.get("_flashes", []))
        # Static scripts and styles (plotly.js: 4.8 MB of minified code) are the same bytes for everyone and
        # hold no rows; scanning them for company B's numbers only finds chance digits ("10002").
        static_file = response.mimetype in ("text/javascript", "application/javascript", "text/css")
        keep_body = response.status_code >= 500 or (
            principal in T.CUSTOMER and response.status_code < 300 and not static_file
        )
        body_text = response.get_data().decode("utf-8", "replace") if keep_body else ""
        response.close()
        return Outcome(response.status_code, response.headers.get("Location", ""), denied, body_text)


@pytest.fixture(scope="module")
def runner(app: Flask, principals: Principals) -> Runner:
    return Runner(app, principals, _denied_messages(app))


# --- the tests ------------------------------------------------------------------------------


def test_every_route_is_in_the_table(app: Flask) -> None:
    missing: list[str] = []
    for route in _routes(app):
        if route.key not in route.table:
            table = "ACTIONS" if route.action else "ROUTES"
            missing.append(f'{table}: "{route.key}": <allowed roles>,   # {route.label}')
    assert not missing, "Routes without an entry in tests/authz_table.py (say who may use them):\n  " + "\n  ".join(
        sorted(set(missing))
    )


def test_table_has_no_stale_entries(app: Flask) -> None:
    """Entries for routes that no longer exist hide mistakes: keep the table in step with the app."""
    keys = {route.key for route in _routes(app)}
    stale = sorted(set(T.ROUTES) - keys) + sorted(set(T.ACTIONS) - keys)
    assert not stale, f"tests/authz_table.py lists routes the app does not have: {stale}"


def _fab_permission(route: Route) -> tuple[str, str] | None:
    """(permission, view name) FAB checks for this route, or None when FAB checks none."""
    view = route.view
    if view is None:
        return None
    if route.not_offered:
        return None
    if route.action is not None:
        return view.get_action_permission_name(route.action), view.class_permission_name
    func_name = route.endpoint.rsplit(".", 1)[-1]
    func = getattr(view, func_name, None)
    name = getattr(func, "_permission_name", None)
    if name is None:
        return None
    override = (view.method_permission_name or {}).get(func_name)
    permission = f"can_{override or name}"
    return permission, view.class_permission_name


def _roles_holding(permission: str, view_name: str) -> frozenset[str]:
    from app.roles import ROLE_PERMISSIONS

    holders = {T.ADMIN}  # FAB gives Admin every permission
    for role, perms in ROLE_PERMISSIONS.items():
        if permission in perms.get(view_name, ()):
            holders.add(role)
    return frozenset(holders)


def test_table_agrees_with_fab_permissions(app: Flask) -> None:
    """Static check: the table vs. (FAB's permission for the route) x (roles.py)."""
    problems: list[str] = []
    seen: set[str] = set()
    for route in _routes(app):
        if route.not_offered or route.key in seen or route.key not in route.table:
            continue
        seen.add(route.key)
        needed = _fab_permission(route)
        if needed is None:
            continue  # no FAB permission check (public routes): the HTTP matrix covers them
        permission, view_name = needed
        if permission not in (route.view.base_permissions or ()):
            holders = frozenset()  # FAB refuses everyone for a permission outside base_permissions
        else:
            holders = _roles_holding(permission, view_name)
        expected = route.table[route.key] - {T.ANON}
        if expected != holders:
            extra = sorted(holders - expected)
            lacking = sorted(expected - holders)
            problems.append(
                f"{route.key}: needs {permission} on {view_name}; "
                + (f"roles.py also grants it to {extra} " if extra else "")
                + (f"roles.py does not grant it to {lacking}" if lacking else "")
            )
    assert not problems, "tests/authz_table.py and app/roles.py disagree:\n  " + "\n  ".join(problems)


def _row_params(app: Flask, route: Route, company_id: int) -> dict[str, int]:
    """Ids for the route's other row parameters (ROW_PARAMS), of the given company."""
    rows: dict[str, int] = {}
    for name in route.rule.arguments & set(T.ROW_PARAMS):
        row = _row_id(app, _model_by_name(T.ROW_PARAMS[name]), company_id)
        if row is not None:
            rows[name] = row
    return rows


def _a_row(app: Flask, world: World, route: Route) -> int | None:
    if route.model is None:
        return None
    return _row_id(app, route.model, world.a.company.id)


def _foreign_markers(world: World) -> dict[str, re.Pattern[str]]:
    """Text that only company B's rows produce: a customer of A must never see any of it.
    Matched as whole tokens, so B's customer number 10002 does not match order number 100021."""
    b = world.b
    words = {
        b.company.name,
        b.company.customer_number,
        b.order.number,
        b.quote.number,
        b.invoice.number,
        b.address.recipient_name,
        b.admin.username,
        b.user.username,
        b.admin.email,
        b.user.email,
        b.inquiry.subject,
        b.shipment.waybill_number or b.company.customer_number,
    }
    return {w: re.compile(rf"(?<![0-9A-Za-z]){re.escape(w)}(?![0-9A-Za-z])") for w in words}


def _route_access_matrix(
    app: Flask, mworld: World, runner: Runner, request: pytest.FixtureRequest, principal: str
) -> None:
    """Every route x method as one principal: allowed or refused as the table says, never a 500, a
    refused request writes nothing, a customer is never shown company B's data."""
    started = time.perf_counter()
    markers = _foreign_markers(mworld)
    start_count = runner.count
    failures: list[str] = []
    routes = [r for r in _routes(app) if r.key in r.table]
    for route in routes:
        extra = route.extra_refusals
        pk: int | None = None
        if route.has_pk:
            if route.model is None:
                failures.append(f"{route.label}: <pk> of which model? add it to PK_MODELS in tests/authz_table.py")
                continue
            pk = _a_row(app, mworld, route)
            if pk is None:
                failures.append(f"{route.label}: the test world has no {route.model.__name__} row for company A")
                continue
        # A GET never changes data, whoever asks: it must be refused or turned away.
        allowed = principal in route.table[route.key] and not route.get_mutation
        if route.mutating and allowed and pk is not None:
            pk = _clone(app, route.model, pk)  # type: ignore[arg-type]
        before = (
            (_counts(app), _snapshot(app, route.model, pk) if pk else None)
            if (route.mutating and not allowed)
            else None
        )
        outcome = runner.call(route, principal, pk, rows=_row_params(app, route, mworld.a.company.id))
        refused = outcome.refused(extra) or (route.get_mutation and 300 <= outcome.status < 400)
        who = f"{route.label} as {principal}"
        if allowed and refused:
            failures.append(f"{who}: should be ALLOWED, got {outcome.describe()}")
        elif not allowed and not refused:
            failures.append(f"{who}: should be REFUSED, got {outcome.describe()}")
        if outcome.status >= 500:
            failures.append(f"{who}: server error {outcome.status}")
        leaked = (
            sorted(w for w, rx in markers.items() if rx.search(outcome.body))
            if (principal in T.CUSTOMER and outcome.body)
            else []
        )
        if leaked and outcome.status < 300:
            failures.append(f"{who}: shows company B's data {leaked}")
        if before is not None:
            after = (_counts(app), _snapshot(app, route.model, pk) if pk else None)
            if after != before:
                failures.append(f"{who}: refused request CHANGED DATA")
    elapsed = time.perf_counter() - started
    cases = runner.count - start_count
    _report(request, f"authz matrix as {principal}: {cases} cases over {len(routes)} route/methods in {elapsed:.1f}s")
    assert not failures, f"{len(failures)} of {cases} cases failed:\n  " + "\n  ".join(failures)


def _edit_body(route: Route, snapshot: dict[str, Any]) -> dict[str, Any]:
    """Changed values for the plain columns the view lets one edit: a real attempt to save."""
    columns = getattr(route.view, "edit_columns", None) or []
    body: dict[str, Any] = {}
    for name in columns:
        if name not in snapshot or name in ("id", "company_id"):
            continue
        value = snapshot[name]
        if isinstance(value, str):
            body[name] = (value + " endret")[:4] if name == "postal_code" else value + " endret"
        elif isinstance(value, bool):
            body[name] = not value if route.is_api else ("" if value else "y")
        elif isinstance(value, (int, Decimal)) and not name.endswith("_id"):
            body[name] = str(value + 1) if not route.is_api else int(value) + 1
        elif isinstance(value, dt.date):
            body[name] = (value + dt.timedelta(days=1)).isoformat()[:10]
    return body


def _foreign_rows_answer_404(
    app: Flask, mworld: World, runner: Runner, request: pytest.FixtureRequest, principal: str
) -> None:
    """Every route with a row id, as a customer of company A, on company B's row."""
    started = time.perf_counter()
    start_count = runner.count
    failures: list[str] = []
    routes = [r for r in _routes(app) if r.key in r.table and r.has_pk and _is_tenant_model(r.model)]
    for route in routes:
        foreign_pk = _row_id(app, route.model, mworld.b.company.id)  # type: ignore[arg-type]
        if foreign_pk is None:
            failures.append(f"{route.label}: the test world has no {route.model.__name__} row for company B")
            continue
        before_row = _snapshot(app, route.model, foreign_pk)  # type: ignore[arg-type]
        before_counts = _counts(app)
        is_edit = route.endpoint.rsplit(".", 1)[-1] in ("edit", "put") and route.method in ("POST", "PUT")
        body = _edit_body(route, before_row or {}) if is_edit else None
        outcome = runner.call(route, principal, foreign_pk, body, rows=_row_params(app, route, mworld.b.company.id))
        allowed = principal in route.table[route.key]
        who = f"{route.label} as {principal} on company B's row"
        refused = outcome.refused(route.extra_refusals) or (route.get_mutation and 300 <= outcome.status < 400)
        if outcome.status != 404 and (allowed and not route.get_mutation or not refused):
            failures.append(f"{who}: expected 404, got {outcome.describe()}")
        if _snapshot(app, route.model, foreign_pk) != before_row:  # type: ignore[arg-type]
            failures.append(f"{who}: company B's row CHANGED")
        if _counts(app) != before_counts:
            failures.append(f"{who}: rows were added or removed")
    elapsed = time.perf_counter() - started
    cases = runner.count - start_count
    _report(
        request,
        f"authz matrix as {principal}: {cases} foreign-row cases over {len(routes)} routes "
        f"with an id in {elapsed:.1f}s",
    )
    assert cases >= 25, "the foreign-row matrix ran suspiciously few cases"
    assert not failures, f"{len(failures)} of {cases} cases failed:\n  " + "\n  ".join(failures)


# --- one class per principal -----------------------------------------------------------------
# A class is its own scope for `pytest --dist loadscope`, so xdist can run the principals side by
# side; `--dist loadfile` keeps the file on one worker.


class _AsPrincipal:
    principal: str

    def test_route_access_matrix(
        self, app: Flask, mworld: World, runner: Runner, request: pytest.FixtureRequest
    ) -> None:
        _route_access_matrix(app, mworld, runner, request, self.principal)


class _AsCustomer(_AsPrincipal):
    def test_foreign_rows_answer_404(
        self, app: Flask, mworld: World, runner: Runner, request: pytest.FixtureRequest
    ) -> None:
        _foreign_rows_answer_404(app, mworld, runner, request, self.principal)


class TestAnonymous(_AsPrincipal):
    principal = T.ANON


class TestAdmin(_AsPrincipal):
    principal = T.ADMIN


class TestSeller(_AsPrincipal):
    principal = T.SELLER


class TestCustomerService(_AsPrincipal):
    principal = T.CS


class TestManager(_AsPrincipal):
    principal = T.MANAGER


class TestCustomerAdmin(_AsCustomer):
    principal = T.CADMIN


class TestCustomerUser(_AsCustomer):
    principal = T.CUSER


def test_every_principal_has_its_matrix(app: Flask) -> None:
    """Each principal of tests/authz_table.py has its class here (customers with the foreign-row
    matrix), and the matrix asks enough cases to mean something."""
    classes = [
        c
        for c in globals().values()
        if isinstance(c, type) and issubclass(c, _AsPrincipal) and c.__name__.startswith("Test")
    ]
    assert sorted(c.principal for c in classes) == sorted(T.PRINCIPALS)
    assert sorted(c.principal for c in classes if issubclass(c, _AsCustomer)) == sorted(T.CUSTOMER)
    routes = [r for r in _routes(app) if r.key in r.table]
    assert len(routes) * len(T.PRINCIPALS) >= 500, "the matrix would run suspiciously few cases"
