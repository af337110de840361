"""Several app hosts on one PostgreSQL, behind nginx, exactly as deploy/ sets them up.

Two app hosts run the systemd unit's gunicorn command (deploy/kundeportal.service) with the
environment file (deploy/kundeportal.env, filled in per host: same SECRET_KEY, DATABASE_URL and
Redis for the login throttle), each on its own port. nginx runs the site file
(deploy/nginx-kundeportal.conf) in the foreground on free ports, over HTTPS with a throw-away
certificate. The cron lines (deploy/kundeportal.cron) of both hosts run at the same time.

One change to the site file is the test's own: every response names the app host that answered
(`X-Upstream: $upstream_addr`). Each test client connects from a loopback address of its own, so
its login attempts are counted apart from any other client's and any earlier run's.

PostgreSQL only. nginx is Debian's package (`make test` installs it) and Redis runs on
127.0.0.1:6379 (database 5, or TEST_REDIS_URL): without them the tests skip with a reason, and
fail under CI=true.
"""

from __future__ import annotations

import asyncio
import email
import http.client
import os
import random
import re
import secrets
import shlex
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import policy
from functools import partial
from http.cookiejar import CookieJar
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from flask import Flask
from sqlalchemy import func, select, text

from app.domain import mail as outbox
from app.domain.formatting import oslo_today
from app.models import MailOutbox, Order, OrderChannel, StandingOrder, StandingOrderLine
from tests.factories import PASSWORD, World
from tests.helpers import db_engine, db_session, fresh_world, is_postgres

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
INSTALL_DIR = "/srv/kundeportal"  # where the deploy files expect the app
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/5")
LOGIN_LIMIT = 5  # AUTH_RATE_LIMIT of the hosts: attempts per client address
STANDING_ORDERS = 10


# --- what the tests need on the machine --------------------------------------------------------


def _need(ok: bool, reason: str) -> None:
    if ok:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true krever flervertstesten: {reason}")
    pytest.skip(reason)


def _nginx() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None)
    _need(found is not None, "nginx mangler (installer Debian-pakken nginx, eller kjør `make test` som root)")
    return found  # type: ignore[return-value]


def _redis() -> Any:
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_timeout=5)
    try:
        client.ping()
    except redis.RedisError as exc:
        _need(False, f"Redis svarer ikke på {REDIS_URL}: {exc}")
    return client


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _loopback_address() -> str:
    """A loopback address of the client's own (all of 127.0.0.0/8 is this machine)."""
    return f"127.{random.randint(1, 254)}.{random.randint(0, 255)}.{random.randint(1, 254)}"


# --- the deploy files, filled in for this machine ------------------------------------------------


def _substitute(text: str, pattern: str, replacement: str, what: str, flags: int = 0) -> str:
    changed, count = re.subn(pattern, replacement, text, flags=flags)
    assert count, f"{what} finnes ikke lenger i deploy-filen ({pattern!r})"
    return changed


def _on_this_machine(text: str) -> str:
    """Install paths of the deploy files pointed at this checkout and this Python."""
    text = text.replace(INSTALL_DIR, str(ROOT))
    return text.replace("python3.11", f"python{sys.version_info.major}.{sys.version_info.minor}")


def environment_file(values: dict[str, str]) -> str:
    """deploy/kundeportal.env with the values filled in; every value must have its line there."""
    text = (DEPLOY / "kundeportal.env").read_text()
    for key, value in values.items():
        assert not set(value) & set('$`\\"'), f'{key}: the file format allows no $ ` \\ or " in a value'
        text = _substitute(text, rf"(?m)^{key}=.*$", f'{key}="{value}"', f"{key}=")
    return text


def read_environment(text: str) -> dict[str, str]:
    """KEY=value lines the way systemd's EnvironmentFile= and `sh -a; .` both read them."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            (assignment,) = shlex.split(line)
            key, _, value = assignment.partition("=")
            values[key] = value
    return values


def unit_command() -> tuple[list[str], Path]:
    """ExecStart= and WorkingDirectory= of deploy/kundeportal.service, on this machine."""
    unit = _on_this_machine((DEPLOY / "kundeportal.service").read_text())
    exec_start = re.search(r"(?m)^ExecStart=(.+)$", unit)
    workdir = re.search(r"(?m)^WorkingDirectory=(.+)$", unit)
    assert exec_start and workdir, "kundeportal.service mangler ExecStart= eller WorkingDirectory="
    assert re.search(r"(?m)^EnvironmentFile=/etc/kundeportal/kundeportal\.env$", unit)
    return shlex.split(exec_start.group(1)), Path(workdir.group(1))


def cron_jobs(log_dir: Path) -> dict[str, tuple[str, str]]:
    """The cron lines of deploy/kundeportal.cron: job name -> (command, PATH of the crontab)."""
    text = _on_this_machine((DEPLOY / "kundeportal.cron").read_text()).replace("/var/log/kundeportal", str(log_dir))
    path = re.search(r"(?m)^PATH=(.+)$", text)
    jobs = {}
    for line in text.splitlines():
        if line.strip() and not line.startswith("#") and not re.match(r"^[A-Z]+=", line):
            fields = line.split(None, 6)
            command = fields[6]  # minute hour day month weekday user command
            job = re.search(r"portal-job (\S+)", command)
            assert job, line
            jobs[job.group(1)] = (command, path.group(1) if path else "/usr/bin:/bin")
    return jobs


def site_config(upstreams: list[int], https_port: int, http_port: int, tls: Path, logs: Path) -> str:
    """deploy/nginx-kundeportal.conf on local ports, with the test's header naming the app host."""
    text = _on_this_machine((DEPLOY / "nginx-kundeportal.conf").read_text())
    servers = "".join(f"    server 127.0.0.1:{port} max_fails=3 fail_timeout=30s;\n" for port in upstreams)
    text = _substitute(text, r"(upstream kundeportal \{\n)(?:    server [^\n]+\n)+", rf"\g<1>{servers}", "upstream")
    text = _substitute(text, r"(?m)^\s*listen \[::\]:\d+[^\n]*\n", "", "IPv6 listen")
    text = _substitute(text, r"listen 80;", f"listen 127.0.0.1:{http_port};", "listen 80")
    text = _substitute(text, r"listen 443 ssl", f"listen 127.0.0.1:{https_port} ssl", "listen 443")
    text = _substitute(text, r"server_name portal\.example\.no;", "server_name 127.0.0.1;", "server_name")
    text = _substitute(text, r"ssl_certificate [^;]+;", f"ssl_certificate {tls / 'cert.pem'};", "ssl_certificate")
    text = _substitute(text, r"ssl_certificate_key [^;]+;", f"ssl_certificate_key {tls / 'key.pem'};", "key")
    text = _substitute(text, r"/var/log/nginx/", f"{logs}/", "log paths")
    return _substitute(
        text,
        r"(ssl_session_timeout [^;]+;\n)",
        r"\g<1>    add_header X-Upstream $upstream_addr always;\n",
        "ssl_session_timeout",
    )


def nginx_config(work: Path, site: Path, logs: Path) -> str:
    """A main nginx.conf of the test's own: foreground, its own pid, logs and temp folders."""
    user = "user root;" if os.geteuid() == 0 else ""  # workers must read the temp folders under /tmp
    temp = "\n".join(
        f"    {kind}_temp_path {work / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""daemon off;
{user}
worker_processes 1;
pid {work / "nginx.pid"};
error_log {logs / "nginx-error.log"} info;
events {{ worker_connections 256; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    sendfile on;
    access_log {logs / "nginx-access.log"};
{temp}
    include {site};
}}
"""


# --- the running hosts --------------------------------------------------------------------------


@dataclass
class Host:
    name: str
    port: int
    env_file: Path
    lock_dir: Path
    log: Path
    process: subprocess.Popen | None = None

    def upstream(self) -> str:
        return f"127.0.0.1:{self.port}"


@dataclass
class Cluster:
    app: Flask
    base_url: str
    hosts: list[Host]
    tls: ssl.SSLContext
    logs: Path
    smtp: MailCounter
    world: World
    processes: list[subprocess.Popen] = field(default_factory=list)

    def host_of(self, upstream: str | None) -> str | None:
        return next((h.name for h in self.hosts if h.upstream() == upstream), None)

    def logs_text(self) -> str:
        parts = []
        for path in sorted(self.logs.rglob("*.log")):
            parts.append(f"--- {path.name}\n{path.read_text(errors='replace')[-2500:]}")
        return "\n".join(parts)


class MailCounter:
    """aiosmtpd handler: every accepted mail as (sender, recipient, subject, outbox id).

    With `wait_for_senders`, a sender's first mail is held until that many SMTP sessions have
    reached DATA (at most 25 s, below the senders' SMTP timeout): the senders then surely overlap.
    """

    def __init__(self) -> None:
        self.mails: list[tuple[str, str, str, int]] = []
        self.sessions: set[int] = set()
        self.wait_for_senders = 0
        self.lock = threading.Lock()

    def reset(self, wait_for_senders: int = 0) -> None:
        with self.lock:
            self.mails, self.sessions, self.wait_for_senders = [], set(), wait_for_senders

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.sessions.add(id(session))
        deadline = time.monotonic() + 25
        while len(self.sessions) < self.wait_for_senders and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        message = email.message_from_bytes(envelope.content, policy=policy.default)
        with self.lock:
            for rcpt in envelope.rcpt_tos:
                self.mails.append(
                    (str(message["From"]), rcpt, str(message["Subject"]), int(message[outbox.OUTBOX_HEADER]))
                )
        return "250 Message accepted for delivery"


def _wait_for(url: str, process: subprocess.Popen, log: Path, context: ssl.SSLContext | None = None) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[0]} stoppet (kode {process.returncode}):\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=5, context=context) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} svarte ikke innen 60 s:\n{log.read_text()[-3000:]}")


def _stop(*processes: subprocess.Popen) -> None:
    """Stop the processes together (nginx first when it is named first)."""
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _self_signed(tls: Path) -> ssl.SSLContext:
    tls.mkdir()
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1"]
        + ["-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(tls / "key.pem"), "-out", str(tls / "cert.pem")],
        check=True,
        capture_output=True,
    )
    return ssl.create_default_context(cafile=str(tls / "cert.pem"))


@pytest.fixture(scope="module")
def cluster(app: Flask, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    # Module fixtures are made before the autouse PostgreSQL check runs: the same check, first.
    if not is_postgres(app):
        pytest.skip("needs PostgreSQL: set TEST_DATABASE_URL=postgresql+psycopg://...")
    nginx = _nginx()
    _redis()
    _need(shutil.which("openssl") is not None, "openssl mangler (for testsertifikatet)")

    world = fresh_world(app)
    work = tmp_path_factory.mktemp("multihost")
    logs = work / "logs"
    logs.mkdir()
    tls = work / "tls"
    tls_context = _self_signed(tls)
    https_port, http_port = _free_port(), _free_port()
    base_url = f"https://127.0.0.1:{https_port}"

    smtp = MailCounter()
    smtp_port = _free_port()
    controller = Controller(smtp, hostname="127.0.0.1", port=smtp_port)
    controller.start()

    shared = {
        "SECRET_KEY": secrets.token_hex(32),
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "RATELIMIT_STORAGE_URI": REDIS_URL,
        "AUTH_RATE_LIMIT": f"{LOGIN_LIMIT} per 10 minute",
        "PORTAL_BASE_URL": base_url,
        "SAFE_REDIRECT_HOSTS": "127.0.0.1",
        "TRUSTED_HOSTS": "127.0.0.1",
        "SESSION_COOKIE_SECURE": "1",
        # The test's staff have no authenticator app; tests/test_mfa.py covers the enforcement.
        "MFA_REQUIRED_FOR_STAFF": "0",
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(smtp_port),
        "MAIL_USE_TLS": "0",
        "MAIL_USERNAME": "",
        "MAIL_PASSWORD": "",
        "FAB_UPDATE_PERMS": "0",
        "GUNICORN_WORKERS": "1",
        "FORWARDED_ALLOW_IPS": "127.0.0.1",  # the nginx host
    }
    hosts = []
    for name in ("a", "b"):
        folder = work / f"host-{name}"
        (folder / "instance").mkdir(parents=True)
        (folder / "locks").mkdir()
        port = _free_port()
        env_file = folder / "kundeportal.env"
        env_file.write_text(
            environment_file(
                {
                    **shared,
                    "PORTAL_INSTANCE_DIR": str(folder / "instance"),
                    "GUNICORN_BIND": f"127.0.0.1:{port}",
                    # Which host's sender delivered a mail: the only value that differs in the test.
                    "MAIL_DEFAULT_SENDER": f"Kundeportal <vert-{name}@kundeportal.no>",
                }
            )
        )
        hosts.append(Host(name, port, env_file, folder / "locks", logs / f"gunicorn-{name}.log"))

    command, workdir = unit_command()
    cluster = Cluster(app, base_url, hosts, tls_context, logs, smtp, world)
    try:
        for host in hosts:
            # systemd starts the unit with the environment file and hardly anything else.
            env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", **read_environment(host.env_file.read_text())}
            with host.log.open("w") as out:
                host.process = subprocess.Popen(command, cwd=workdir, env=env, stdout=out, stderr=subprocess.STDOUT)
            cluster.processes.append(host.process)
        for host in hosts:
            assert host.process is not None
            _wait_for(f"http://{host.upstream()}/login/", host.process, host.log)

        site = work / "kundeportal.conf"
        site.write_text(site_config([h.port for h in hosts], https_port, http_port, tls, logs))
        main = work / "nginx.conf"
        main.write_text(nginx_config(work, site, logs))
        nginx_log = logs / "nginx-start.log"
        with nginx_log.open("w") as out:
            proxy = subprocess.Popen(
                [nginx, "-p", str(work), "-e", str(logs / "nginx-error.log"), "-c", str(main)],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        cluster.processes.append(proxy)
        _wait_for(f"{base_url}/login/", proxy, nginx_log, cluster.tls)
        yield cluster
    finally:
        _stop(*reversed(cluster.processes))
        controller.stop()


# --- a browser, as far as the tests need one ----------------------------------------------------


@dataclass
class Page:
    status: int
    headers: Any
    body: str
    host: str | None  # the app host that answered (None: nginx itself)

    def csrf_token(self) -> str:
        found = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', self.body) or re.search(
            r'value="([^"]+)"[^>]*name="csrf_token"', self.body
        )
        assert found, "siden har ikke noe CSRF-felt"
        return found.group(1)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # every hop is looked at (and counted) by the test


class _BoundHTTPS(urllib.request.HTTPSHandler):
    """HTTPS from a chosen source address."""

    def __init__(self, context: ssl.SSLContext, source: str) -> None:
        super().__init__(context=context)
        self.source = source
        self.context = context

    def https_open(self, req: Any) -> Any:
        connection = partial(http.client.HTTPSConnection, source_address=(self.source, 0))
        return self.do_open(connection, req, context=self.context)


class Browser:
    """Cookies, no automatic redirects, a Referer on form posts (as a browser sends it), one
    client address."""

    def __init__(self, cluster: Cluster, headers: dict[str, str] | None = None) -> None:
        self.cluster = cluster
        self.address = _loopback_address()
        self.headers = headers or {}
        self.cookies = CookieJar()
        self.opener = urllib.request.build_opener(
            _BoundHTTPS(cluster.tls, self.address), urllib.request.HTTPCookieProcessor(self.cookies), _NoRedirects()
        )
        self.pages: list[Page] = []

    def _open(self, request: urllib.request.Request) -> Page:
        try:
            response = self.opener.open(request, timeout=30)
        except urllib.error.HTTPError as exc:  # 3xx (not followed), 4xx and 5xx
            response = exc
        with response:
            body = response.read().decode("utf-8", errors="replace")
        page = Page(response.status, response.headers, body, self.cluster.host_of(response.headers.get("X-Upstream")))
        self.pages.append(page)
        return page

    def get(self, path: str) -> Page:
        return self._open(urllib.request.Request(self.cluster.base_url + path, headers=self.headers))

    def post(self, path: str, data: dict[str, str], referer: str | None = "same") -> Page:
        headers = {**self.headers, "Content-Type": "application/x-www-form-urlencoded"}
        if referer is not None:
            headers["Referer"] = self.cluster.base_url + (path if referer == "same" else referer)
        body = urllib.parse.urlencode(data).encode()
        return self._open(urllib.request.Request(self.cluster.base_url + path, data=body, headers=headers))

    def log_in(self, username: str, password: str = PASSWORD) -> tuple[Page, Page]:
        form = self.get("/login/")
        assert form.status == 200
        answer = self.post("/login/", {"username": username, "password": password, "csrf_token": form.csrf_token()})
        return form, answer


def _path(location: str) -> str:
    return urllib.parse.urlsplit(location)._replace(scheme="", netloc="").geturl()


# --- the tests ----------------------------------------------------------------------------------


def test_customer_places_and_follows_an_order_across_both_hosts(cluster: Cluster) -> None:
    world = cluster.world
    browser = Browser(cluster)
    login_form, login = browser.log_in(world.a.user.username)
    assert login.status == 302 and "/login" not in login.headers["Location"], login.body[-2000:]
    session_cookie = next(c for c in browser.cookies if c.name == "session")
    assert session_cookie.secure, "SESSION_COOKIE_SECURE=1: the session cookie goes over HTTPS only"

    home = browser.get(_path(login.headers["Location"]))
    assert home.status == 200 and "/logout" in home.body
    # Through nginx: one HSTS header (nginx's; the app's copy is hidden) and the app's CSP.
    assert home.headers.get_all("Strict-Transport-Security") == ["max-age=31536000"], home.headers
    assert "frame-ancestors 'none'" in home.headers["Content-Security-Policy"]

    form = browser.get("/bestill/")
    assert form.status == 200 and "Ny bestilling" in form.body
    order_form = {
        "csrf_token": form.csrf_token(),
        "delivery_address_id": str(world.a.address.id),
        "lines-0-product_id": str(world.product.id),  # type: ignore[union-attr]
        "lines-0-quantity": "2",
        "lines-1-product_id": "",
        "lines-1-quantity": "",
        "customer_reference": "Flere verter",
    }
    # Behind HTTPS the app asks for a Referer of its own origin on a form post (Flask-WTF's
    # strict check): it knows the customer came over HTTPS only through X-Forwarded-Proto.
    no_referer = browser.post("/bestill/", order_form, referer=None)
    assert no_referer.status == 400, no_referer.status
    placed = browser.post("/bestill/", order_form)
    assert placed.status == 302, placed.body[-2000:]
    order_id = int(re.search(r"/orderview/show/(\d+)", placed.headers["Location"]).group(1))  # type: ignore[union-attr]

    with db_session(cluster.app) as s:
        order = s.get(Order, order_id)
        assert order is not None and order.company_id == world.a.company.id
        assert order.customer_reference == "Flere verter" and order.status == "pending_approval"
        assert s.scalar(select(func.count()).select_from(Order).where(Order.customer_reference == "Flere verter")) == 1
        number = order.number

    shown = browser.get(_path(placed.headers["Location"]))
    assert shown.status == 200 and number in shown.body and "Til godkjenning" in shown.body
    assert f"Ordre {number} er registrert" in shown.body  # the flash, kept in the session across hosts
    listed = browser.get("/orderview/list/")
    assert listed.status == 200 and number in listed.body and world.a.order.number in listed.body
    again = browser.get(f"/orderview/show/{order_id}")
    assert again.status == 200 and number in again.body

    answered = [p.host for p in browser.pages]
    assert None not in answered, "every page above comes from an app host"
    assert set(answered) == {"a", "b"}, answered
    # The session made on one host is good on the other, and a form's CSRF token from one host
    # is taken by the other.
    assert {p.host for p in (home, form, listed, shown, again)} == {"a", "b"}
    crossed = [(f.host, p.host) for f, p in ((login_form, login), (form, placed)) if f.host != p.host]
    assert crossed, "no form was posted to another host than the one that made it"

    # Static files come from nginx itself, from the paths in the site file.
    from app.registry import PLOTLY_JS_URL

    css = browser.get("/static/appbuilder/css/ab.css")
    plotly = browser.get(PLOTLY_JS_URL)
    assert (css.status, css.host, css.headers.get_content_type()) == (200, None, "text/css")
    assert (plotly.status, plotly.host) == (200, None) and "javascript" in plotly.headers.get_content_type()
    assert "max-age=" in css.headers.get("Cache-Control", "") and css.headers.get("X-Upstream") is None


def _limiter_keys(address: str) -> list[str]:
    """Flask-Limiter's counters in Redis for a client address (login page and API login)."""
    return [key.decode() for key in _redis().scan_iter(match=f"*LIMITER/*{address}/*", count=1000)]


def test_login_throttle_counts_the_attempts_of_both_hosts_together(cluster: Cluster) -> None:
    """AUTH_RATE_LIMIT holds for the whole portal: Flask-Limiter counts in Redis, not per host,
    per customer address as nginx saw it (not nginx's own, and not what the customer claims)."""
    forged = _loopback_address()
    guesser = Browser(cluster, headers={"X-Forwarded-For": forged})
    form = guesser.get("/login/")
    wrong = {"username": cluster.world.a.user.username, "password": "feil-passord", "csrf_token": form.csrf_token()}
    attempts = [guesser.post("/login/", wrong) for _ in range(LOGIN_LIMIT)]
    assert [a.status for a in attempts] == [302] * LOGIN_LIMIT  # back to the login page, not logged in
    assert all("/login" in a.headers["Location"] for a in attempts)
    assert {a.host for a in attempts} == {"a", "b"}, [a.host for a in attempts]
    # One counter for both hosts: what is left goes down by one per attempt, whichever host took it.
    remaining = [int(a.headers["X-RateLimit-Remaining"]) for a in attempts]
    assert remaining == list(range(LOGIN_LIMIT - 1, -1, -1)), remaining

    # Over the limit, on either host, even with the right password.
    refused = [guesser.post("/login/", {**wrong, "password": PASSWORD}) for _ in range(2)]
    assert [r.status for r in refused] == [429, 429]
    assert {r.host for r in refused} == {"a", "b"}
    still_out = guesser.get("/bestill/")
    assert still_out.status == 302 and "/login" in still_out.headers["Location"], "not logged in"
    assert _limiter_keys(guesser.address), "the counter is in Redis, under the address nginx saw"
    assert not _limiter_keys(forged), "an X-Forwarded-For of the client's own is not believed"

    # The limit is per client address: another customer logs in meanwhile.
    _, login = Browser(cluster).log_in(cluster.world.b.user.username)
    assert login.status == 302 and "/login" not in login.headers["Location"]

    # Straight to an app host, not through nginx: X-Forwarded-For is not believed from that peer.
    direct, claimed = _loopback_address(), _loopback_address()
    connection = http.client.HTTPConnection("127.0.0.1", cluster.hosts[0].port, timeout=30, source_address=(direct, 0))
    body = '{"username": "hansen.bruker", "password": "feil-passord", "provider": "db"}'
    connection.request(
        "POST", "/api/v1/security/login", body, {"Content-Type": "application/json", "X-Forwarded-For": claimed}
    )
    assert connection.getresponse().status == 401
    connection.close()
    assert _limiter_keys(direct) and not _limiter_keys(claimed)


def _due_plans(cluster: Cluster, count: int) -> list[int]:
    """`count` weekly plans of the dealer (invoice terms) delivering today, made by its user:
    their orders wait for approval, count against the user's budget and mail a confirmation."""
    world, today = cluster.world, oslo_today()
    with db_session(cluster.app) as s:
        plans = []
        for i in range(count):
            plan = StandingOrder(
                company_id=world.a.company.id,
                name=f"Påfyll {i + 1}",
                delivery_address_id=world.a.address.id,
                created_by_id=world.a.user.id,
                frequency="weekly",
                weekday=today.weekday(),
                start_date=today,
            )
            plan.lines.append(
                StandingOrderLine(company_id=world.a.company.id, product_id=world.product.id, quantity=3)  # type: ignore[union-attr]
            )
            plans.append(plan)
        s.add_all(plans)
        s.commit()
        return [p.id for p in plans]


def _queue_mails(cluster: Cluster, count: int) -> None:
    with cluster.app.app_context(), db_session(cluster.app) as s:
        for i in range(count):
            outbox.queue_mail(s, kind="test", to=f"kunde{i}@example.no", subject=f"Melding {i}", text="Hei!")
        s.commit()


def _count_mails(cluster: Cluster, kind: str) -> int:
    with db_session(cluster.app) as s:
        return s.scalar(select(func.count()).select_from(MailOutbox).where(MailOutbox.kind == kind)) or 0


@dataclass
class Job:
    host: str
    name: str
    process: subprocess.Popen
    log: Path

    def finish(self) -> tuple[int, str]:
        try:
            self.process.wait(timeout=120)
        finally:
            _stop(self.process)
        return self.process.returncode, self.log.read_text()


def _start_on_both_hosts(cluster: Cluster, *names: str) -> list[Job]:
    """The jobs' cron lines of every host, all started at the same moment, as cron does when
    their times meet."""
    jobs = []
    for host in cluster.hosts:
        log_dir = cluster.logs / f"cron-{host.name}"
        log_dir.mkdir(exist_ok=True)
        lines = cron_jobs(log_dir)
        for name in names:
            command, path = lines[name]
            # Cron's environment: next to nothing; deploy/portal-job reads the host's environment file.
            env = {"PATH": path, "LANG": "C.UTF-8", "HOME": str(log_dir), "SHELL": "/bin/sh"}
            env |= {"KUNDEPORTAL_ENV_FILE": str(host.env_file), "KUNDEPORTAL_LOCK_DIR": str(host.lock_dir)}
            process = subprocess.Popen(["/bin/sh", "-c", command], env=env)
            jobs.append(Job(host.name, name, process, log_dir / f"{name}.log"))
    return jobs


def _waiting_for(conn: Any, table: str, count: int, jobs: list[Job]) -> bool:
    """Wait until `count` other sessions wait for a lock, at least one of them on the table (at
    most 120 s: on a busy machine four Python processes take a while to start). The others may
    wait on the first one's row locks (the budgets it counts against) rather than on the table."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        on_table = conn.execute(
            text("SELECT count(*) FROM pg_locks WHERE relation = CAST(:t AS regclass) AND NOT granted"), {"t": table}
        ).scalar()
        conn.execute(text("SELECT pg_stat_clear_snapshot()"))  # the view is otherwise read once per transaction
        waiting = conn.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
            )
        ).scalar()
        if on_table >= 1 and waiting >= count:
            return True
        if any(job.process.poll() is not None and job.name == "standing-orders" for job in jobs):
            return False
        time.sleep(0.1)
    return False


def test_both_hosts_run_the_jobs_at_once_without_duplicate_orders_or_mails(cluster: Cluster) -> None:
    plan_ids = _due_plans(cluster, STANDING_ORDERS)
    confirmations_before = _count_mails(cluster, "order_confirmation")
    # More mails than one sender claims at a time, so that the second sender has its own to send;
    # its first mail is held until the other host's sender is sending too.
    _queue_mails(cluster, outbox.BATCH_SIZE + 10)
    with db_session(cluster.app) as s:
        sent_before = set(s.scalars(select(MailOutbox.id).where(MailOutbox.sent_at.is_not(None))))
        waiting = set(s.scalars(select(MailOutbox.id).where(MailOutbox.sent_at.is_(None))))
    cluster.smtp.reset(wait_for_senders=len(cluster.hosts))

    # 05:15: both cron lines of both hosts start in the same minute. The orders table is held
    # until both hosts' standing-order runs are about to write their first order: then they race.
    with db_engine(cluster.app).connect() as conn:
        with conn.begin():
            conn.execute(text("LOCK TABLE orders IN SHARE MODE"))  # reads go on, writes wait
            jobs = _start_on_both_hosts(cluster, "standing-orders", "send-mail")
            met = _waiting_for(conn, "orders", len(cluster.hosts), jobs)
        results = [(job, *job.finish()) for job in jobs]
    for job, status, log in results:
        assert status == 0, f"{job.name} on host {job.host}:\n{log}\n{cluster.logs_text()}"
    assert met, "the two standing-order runs never wrote at the same time"
    with db_session(cluster.app) as s:
        made = Counter(s.scalars(select(Order.standing_order_id).where(Order.standing_order_id.in_(plan_ids))))
        channels = set(s.scalars(select(Order.channel).where(Order.standing_order_id.in_(plan_ids))))
    assert made == Counter(dict.fromkeys(plan_ids, 1)), "one order per standing order and day"
    assert channels == {OrderChannel.standing_order.value}
    assert _count_mails(cluster, "order_confirmation") == confirmations_before + STANDING_ORDERS
    assert _count_mails(cluster, "budget_exceeded") == 1, "the user's budget is passed once, its admin told once"

    delivered = list(cluster.smtp.mails)
    senders = Counter(sender for sender, *_rest in delivered)
    assert set(senders) == {f"Kundeportal <vert-{h.name}@kundeportal.no>" for h in cluster.hosts}, senders
    delivered_ids = [mail_id for *_rest, mail_id in delivered]
    assert waiting <= set(delivered_ids), "every mail that was waiting went out"

    with db_session(cluster.app) as s:
        rows = [m for m in s.scalars(select(MailOutbox)) if m.id not in sent_before]
    # Each mail reached the SMTP server once and is marked sent, or it still waits for the next
    # minute's run (a confirmation queued by a standing order while the senders were at work).
    assert len(set(delivered_ids)) == len(delivered_ids), "no mail delivered twice"
    assert sorted(delivered_ids) == sorted(m.id for m in rows if m.sent_at is not None)
    per_recipient_and_subject = Counter((to, subject) for _sender, to, subject, _id in delivered)
    assert per_recipient_and_subject == Counter((m.to_address, m.subject) for m in rows if m.sent_at is not None)
    assert max(per_recipient_and_subject.values()) == 1
