"""schemathesis against a live server: the API does what `/api/v1/_openapi` says, for every role.

A werkzeug server in a thread serves the test app on a free port (the test database, this module's
own fresh world). Per role (Admin, Seller, CustomerService, Manager, CustomerAdmin, CustomerUser) the
document is loaded from the server and every operation of the portal's resources (FAB's
/api/v1/security/* login endpoints, the menu and the document itself left out) gets a few generated
cases with that role's JWT: no answer may be a 5xx (`not_a_server_error`), every answer's status must
be one the operation documents (`status_code_conformance`) and its body must match the documented
schema (`response_schema_conformance`).

Deterministic: hypothesis runs derandomized, without its example database, so the same cases are
sent on every run. Writes happen (schemathesis POSTs, PUTs and deletes): each role starts from a fresh
world (conftest's `world`), and every later test resets the database too, so no other test sees them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from flask import Flask
from hypothesis import HealthCheck, Phase, given, settings
from werkzeug.serving import make_server

from tests import authz_table as T
from tests.factories import World

schemathesis = pytest.importorskip("schemathesis")

# Cases per operation and role: about 60 operations -> a few hundred cases per role.
EXAMPLES_PER_OPERATION = 4
OWN_API = r"^/api/v1/(?!security/|_openapi|menu/)"


@pytest.fixture(scope="module")
def live_url(app: Flask) -> Iterator[str]:
    """The app served by werkzeug on a free port, in a thread of this process."""
    server = make_server("127.0.0.1", 0, app, threaded=False)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


def _token(base_url: str, username: str) -> str:
    response = requests.post(
        f"{base_url}/api/v1/security/login",
        json={"username": username, "password": "demo1234", "provider": "db"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


@pytest.mark.parametrize("role", T.ROLES)
def test_api_keeps_its_openapi_promises(live_url: str, world: World, role: str) -> None:
    sworld = world  # a fresh world per role: another role's cases may have deactivated this one's user
    from schemathesis.checks import not_a_server_error, response_schema_conformance, status_code_conformance

    headers = {"Authorization": f"Bearer {_token(live_url, sworld.user(role).username)}"}
    spec = requests.get(f"{live_url}/api/v1/_openapi", headers=headers, timeout=30)
    if spec.status_code == 403:
        # Customers may not read the document (tests/authz_table.py): test them against the one staff read.
        spec = requests.get(
            f"{live_url}/api/v1/_openapi",
            headers={"Authorization": f"Bearer {_token(live_url, sworld.user(T.ADMIN).username)}"},
            timeout=30,
        )
    assert spec.status_code == 200, spec.text
    schema = schemathesis.openapi.from_dict(spec.json()).include(path_regex=OWN_API)
    session = requests.Session()
    checks = [not_a_server_error, status_code_conformance, response_schema_conformance]
    failures: list[str] = []
    cases = 0
    started = time.perf_counter()
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            derandomize=True,
            database=None,
            deadline=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
            print_blob=False,
        )
        def run(case: Any) -> None:
            nonlocal cases
            cases += 1
            case.call_and_validate(base_url=live_url, session=session, headers=headers, checks=checks)

        try:
            run()
        except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - collect every operation's failure
            failures.append(f"{operation.label}: {_summary(exc)}")
    elapsed = time.perf_counter() - started
    print(f"schemathesis as {role}: {cases} cases in {elapsed:.1f}s")
    assert cases >= 150, cases  # a few hundred per role
    assert not failures, f"{len(failures)} operations failed as {role}:\n" + "\n".join(failures)


def _summary(exc: BaseException) -> str:
    """The failing checks' first lines and the request to reproduce (schemathesis groups them)."""
    parts = [str(exc).splitlines()[0] if str(exc) else type(exc).__name__]
    for sub in getattr(exc, "exceptions", ()) or ():
        lines = [ln for ln in str(sub).splitlines() if ln.strip()]
        parts.append(" | ".join(lines[:3]))
    text = str(exc)
    if "curl " in text:
        parts.append(text[text.index("curl ") :].splitlines()[0][:400])
    return "\n    ".join(parts)
