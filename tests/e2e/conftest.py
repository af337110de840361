"""Browser tests: the real app (gunicorn, production config: CSRF and all) on the test database with
the demo data, driven by Debian's Chromium through Playwright's sync API.

Without /usr/bin/chromium the tests skip with a reason (`make test` installs it when it can); under
CI=true a missing Chromium fails instead, so CI never passes without having run them.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from app.demo import DEMO_PASSWORD
from tests.helpers import reset_database

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
SCREENSHOTS = ARTIFACTS / "screenshots"


def _require_chromium() -> None:
    if os.access(CHROMIUM, os.X_OK):
        return
    reason = f"{CHROMIUM} mangler (installer Debian-pakken chromium, eller kjør `make test` som root)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true krever nettlesertestene: {reason}")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until_up(url: str, process: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn stoppet (kode {process.returncode}):\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"{url} svarte ikke innen {timeout} s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="package")
def live_server(app: Flask, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of the app served by gunicorn on a free port, on a fresh copy of the demo data."""
    _require_chromium()
    from app.extensions import db

    reset_database(app)
    result = app.test_cli_runner().invoke(args=["portal", "demo"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        db.session.remove()
        db.engine.dispose()  # the server process owns the database from here on

    port = _free_port()
    ARTIFACTS.mkdir(exist_ok=True)
    log = ARTIFACTS / "e2e-server.log"
    env = {
        **os.environ,
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "SECRET_KEY": "e2e-only-secret",
        "PORTAL_INSTANCE_DIR": str(tmp_path_factory.mktemp("e2e-instance")),
        "PORT": str(port),
        "FAB_UPDATE_PERMS": "0",
        "AUTH_RATE_LIMIT": "1000 per minute",  # every demo login from one address in a few seconds
    }
    with log.open("w") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--workers",
                "2",
                "--worker-class",
                "sync",
                "--bind",
                f"127.0.0.1:{port}",
                "--no-control-socket",
                "--access-logfile",
                "-",
                "run:app",
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(f"{base_url}/login/", process, log)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="package")
def browser(live_server: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture()
def page(browser: Any, live_server: str, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh browser context (no cookies) per test; a screenshot of the last page is always saved."""
    context = browser.new_context(
        base_url=live_server, locale="nb-NO", timezone_id="Europe/Oslo", viewport={"width": 1280, "height": 900}
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        yield page
    finally:
        screenshot(page, request.node.name + "-last")
        context.close()


@pytest.fixture()
def js_errors(page: Any) -> Iterator[list[str]]:
    """Uncaught script errors on the pages a test opens (select2, the line editor, Plotly, FAB's own)."""
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield errors


def open_menu(page: Any, category: str, item: str) -> None:
    """Open a page the way a person does: the category in the navbar, then its item."""
    navbar = page.locator(".navbar-collapse > ul.nav.navbar-nav:not(.navbar-right)")
    menu = navbar.locator("li.dropdown", has=page.locator("a.dropdown-toggle", has_text=category))
    menu.locator("a.dropdown-toggle").click()
    with page.expect_navigation():
        menu.locator(".dropdown-menu a", has_text=re.compile(rf"^\s*{re.escape(item)}\s*$")).click()


def screenshot(page: Any, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / (re.sub(r"[^\w.-]+", "_", name) + ".png")
    # A closed page has nothing to show; never hide the test's own error.
    with contextlib.suppress(Exception):
        page.screenshot(path=str(path), full_page=True)
    return path


def login(page: Any, username: str, password: str = DEMO_PASSWORD) -> Any:
    """Log in through the login form like a person would; returns the response of the page landed on."""
    page.goto("/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    with page.expect_navigation():
        page.click("form[name=login] [type=submit]")
    assert "/login" not in page.url, f"{username} kom ikke forbi innloggingen ({page.url})"
    return page
