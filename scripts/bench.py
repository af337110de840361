"""`make bench`: Kundeportal's pages, jobs and throughput on a large database, beside the peers.

`make bench` migrates the database, runs `portal init`, loads `portal bench-data` when it has no
orders, and then runs this script, which

1. serves the database with gunicorn (one sync worker, `wsgi_app()` below: the app with
   app/bench_sql.py's per-request statement counter), logs in as a seller (selger), a manager
   (leder), customer service (kundeservice), the admin and a customer admin and user
   (hansen.admin, hansen.bruker), and times every page of PAGES: BENCH_REPEAT (30) sequential
   requests each, all pages interleaved; median and p95 of the round trip, the server's own time,
   and the SQL statements per request;
2. times `portal standing-orders` on BENCH_PLANS generated plans due on one day and `portal
   send-mail` on BENCH_MAILS generated mails to a local aiosmtpd server (both removed again);
3. serves with two sync workers (as `make run`) and runs `wrk -t2 -c4 -d10s` on one customer's
   order list for throughput;
4. measures the peers of ../shared/bench-peers in the same run, interleaved with its own pages,
   where PEER_FAB_URL / PEER_DJANGO_URL name them (and PEER_FAB_WRK_URL / PEER_DJANGO_WRK_URL
   their two-worker instances for wrk), and prints one table with the ratios.

Every page, job and the throughput have a target (Page.bound_ms, PLAN_BOUND_MS, MAIL_BOUND_MS,
THROUGHPUT_BOUND); the table says for each whether it is met, and counts them at the end.

Environment: BENCH_DATABASE_URL (the database), BENCH_REPEAT, BENCH_PLANS, BENCH_MAILS,
BENCH_JOB_TIMEOUT (seconds per job, 900), BENCH_WRK_SECONDS (10), BENCH_SKIP (comma-separated:
pages, jobs, wrk). The measuring functions also run on Flask's test client (tests/test_bench.py).
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlencode, urlsplit

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PASSWORD = "demo1234"
DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/bench"
PLAN_PREFIX = "Benk: fast ordre"
MAIL_KIND = "bench"

STATEMENTS_HEADER = "X-SQL-Statements"
SQL_TIME_HEADER = "X-SQL-Time-ms"
SERVER_TIME_HEADER = "X-Server-Time-ms"


def wsgi_app() -> Any:
    """gunicorn 'scripts.bench:wsgi_app()': the app, counting statements when BENCH_COUNT_SQL=1."""
    sys.path.insert(0, str(ROOT))
    from app import create_app

    app = create_app()
    if os.environ.get("BENCH_COUNT_SQL") == "1":
        from app.bench_sql import install

        install(app)
    return app


# --- what is measured -----------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    key: str  # a peer page with the same key is shown beside it
    label: str
    client: str  # who asks: a key of the clients dict ("selger", "selger/api", ...)
    path: str
    bound_ms: float | None = None  # the target for the median: server time, or SQL time with bound_on_sql
    bound_on_sql: bool = False  # the bound is on the SQL time (the customer's pages)


@dataclass(frozen=True)
class Facts:
    """What the page URLs need to know about the database."""

    orders: int
    number_prefix: str  # matches a handful of order numbers


REST_STATUS_PATH = "/api/v1/order/?q=" + "(filters:!((col:status,opr:eq,value:shipped)))"
# The targets of the jobs (per item, so that a smaller run is judged too) and of throughput.
PLAN_BOUND_MS = 60_000 / 100_000
MAIL_BOUND_MS = 15_000 / 10_000
THROUGHPUT_BOUND = 250.0


def portal_pages(facts: Facts) -> list[Page]:
    reports = (
        ("salg", "Salg per måned"),
        ("ordrestatus", "Ordrer per status"),
        ("godkjenningstid", "Tid til godkjenning"),
        ("toppkunder", "Topp 10 kunder"),
        ("bruksgrenser", "Forbruk av bruksgrenser"),
    )
    pages = [
        Page("first", "ordreliste, første side", "selger", "/orderview/list/", 10),
        Page("rest", "REST GET /api/v1/order/", "selger/api", "/api/v1/order/", 10),
        Page("status_eq", "statusfilter (= shipped)", "selger", "/orderview/list/?_flt_3_status=shipped", 15),
        Page("status", "statusfilter (første filter, shipped)", "selger", "/orderview/list/?_flt_0_status=shipped", 15),
        Page("channel", "kanalfilter (= edi)", "selger", "/orderview/list/?_flt_3_channel=edi", 15),
        Page("rest_status", "REST statusfilter (= shipped)", "selger/api", REST_STATUS_PATH, 15),
        Page(
            "search",
            f"nummersøk (prefiks {facts.number_prefix})",
            "selger",
            f"/orderview/list/?_flt_0_number={facts.number_prefix}",
            10,
        ),
        Page("deep", "ordreliste, side 2 000", "selger", "/orderview/list/?page_OrderView=2000", 30),
        Page("queue", "godkjenningskø", "selger", "/godkjenning/", 30),
    ]
    pages += [
        Page(f"report_{slug}", f"rapport «{title}»", "leder", f"/rapporter/{slug}/", 200) for slug, title in reports
    ]
    pages += [
        Page(f"home_{who}", f"startside ({who})", who, "/", 20)
        for who in ("selger", "kundeservice", "leder", "admin", "hansen.admin", "hansen.bruker")
    ]
    pages += [
        Page("customer_list", "kundens ordreliste (hansen.bruker)", "hansen.bruker", "/orderview/list/", 10, True),
        Page(
            "customer_rest", "kundens REST-ordreliste (hansen.bruker)", "hansen.bruker/api", "/api/v1/order/", 10, True
        ),
    ]
    return pages


def peer_pages(kind: str) -> list[Page]:
    """The four pages of ../shared/bench-peers/measure.py."""
    if kind == "django":
        base = "/admin/djpeer_app/order/"
        paths = {
            "first": base,
            "deep": base + "?p=2000",
            "status_eq": base + "?status__exact=shipped",
            "search": base + "?q=O000123456",
        }
    else:
        base = "/orderview/list/"
        paths = {
            "first": base,
            "deep": base + "?page_OrderView=2000",
            "status": base + "?_flt_0_status=shipped",
            "search": base + "?_flt_0_number=O000123456",
        }
    return [Page(key, key, kind, path) for key, path in paths.items()]


# --- clients: real HTTP, or Flask's test client ------------------------------------------------


@dataclass
class Reply:
    status: int
    ms: float
    headers: dict[str, str]
    body: bytes

    def header_float(self, name: str) -> float | None:
        value = next((v for k, v in self.headers.items() if k.lower() == name.lower()), None)
        return float(value) if value not in (None, "") else None


class Client(Protocol):
    def request(
        self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> Reply: ...


class HttpClient:
    """A cookie-keeping HTTP/1.1 client, one connection per request (sync workers close them)."""

    def __init__(self, base: str) -> None:
        parts = urlsplit(base)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.prefix = parts.path.rstrip("/")
        self.cookies: dict[str, str] = {}
        self.bearer: str | None = None

    def cookie_header(self) -> str:
        return "; ".join(f"{k}={v}" for k, v in self.cookies.items())

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> Reply:
        sent = dict(headers or {})
        if self.cookies:
            sent["Cookie"] = self.cookie_header()
        if self.bearer:
            sent["Authorization"] = f"Bearer {self.bearer}"
        conn = http.client.HTTPConnection(self.host, self.port, timeout=900)
        try:
            started = time.perf_counter()
            conn.request(method, self.prefix + path, body=body, headers=sent)
            response = conn.getresponse()
            data = response.read()
            ms = (time.perf_counter() - started) * 1000
        finally:
            conn.close()
        for value in response.headers.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(value).items():
                if morsel["max-age"] == "0" or morsel["expires"].startswith("Thu, 01 Jan 1970"):
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        return Reply(response.status, ms, dict(response.headers.items()), data)


class FlaskClient:
    """Flask's test client behind the same interface (tests: no server needed)."""

    def __init__(self, app: Any) -> None:
        self.client = app.test_client()
        self.bearer: str | None = None

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> Reply:
        sent = dict(headers or {})
        if self.bearer:
            sent["Authorization"] = f"Bearer {self.bearer}"
        started = time.perf_counter()
        response = self.client.open(path, method=method, data=body, headers=sent)
        data = response.get_data()
        ms = (time.perf_counter() - started) * 1000
        return Reply(response.status_code, ms, dict(response.headers.items()), data)


FORM = {"Content-Type": "application/x-www-form-urlencoded"}
_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]*)"|value="([^"]*)"[^>]*name="csrf_token"')


def login_portal(client: Client, username: str, password: str = PASSWORD) -> None:
    page = client.request("GET", "/login/")
    match = _CSRF.search(page.body.decode("utf-8", "replace"))
    form = {"username": username, "password": password}
    if match:
        form["csrf_token"] = match.group(1) or match.group(2)
    reply = client.request("POST", "/login/", urlencode(form).encode(), FORM)
    location = reply.headers.get("Location", "")
    if reply.status != 302 or "/login" in location:
        raise RuntimeError(f"innlogging som {username} feilet ({reply.status})")


def api_token(client: Client, username: str, password: str = PASSWORD) -> str:
    body = json.dumps({"username": username, "password": password, "provider": "db", "refresh": False})
    reply = client.request("POST", "/api/v1/security/login", body.encode(), {"Content-Type": "application/json"})
    if reply.status != 200:
        raise RuntimeError(f"API-innlogging som {username} feilet ({reply.status})")
    return str(json.loads(reply.body)["access_token"])


def login_peer(client: Client, kind: str) -> None:
    if kind == "django":
        page = client.request("GET", "/admin/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.body.decode()).group(1)  # type: ignore[union-attr]
        form = {"csrfmiddlewaretoken": token, "username": "admin", "password": "admin", "next": "/admin/"}
        referer = (
            f"http://{client.host}:{client.port}{client.prefix}/admin/login/"
            if isinstance(client, HttpClient)
            else "/admin/login/"
        )
        reply = client.request("POST", "/admin/login/", urlencode(form).encode(), {**FORM, "Referer": referer})
    else:
        reply = client.request("POST", "/login/", urlencode({"username": "admin", "password": "admin"}).encode(), FORM)
    if reply.status not in (302, 303):
        raise RuntimeError(f"innlogging hos {kind} feilet ({reply.status})")


def portal_clients(
    make: Callable[[], Any],
    who: Sequence[str] = ("selger", "kundeservice", "leder", "admin", "hansen.admin", "hansen.bruker"),
) -> dict[str, Any]:
    """One logged-in client per user, and an API client (bearer token) for the seller and the customer."""
    clients: dict[str, Any] = {}
    for username in who:
        clients[username] = make()
        login_portal(clients[username], username)
    for username in ("selger", "hansen.bruker"):
        if username in who:
            api = make()
            api.bearer = api_token(api, username)
            clients[f"{username}/api"] = api
    return clients


# --- measuring ------------------------------------------------------------------------------


@dataclass
class Measurement:
    target: str  # "kundeportal", "fab", "django"
    page: Page
    ms: list[float] = field(default_factory=list)
    server_ms: list[float] = field(default_factory=list)
    sql_ms: list[float] = field(default_factory=list)
    statements: list[int] = field(default_factory=list)
    statuses: set[int] = field(default_factory=set)
    size: int = 0

    @staticmethod
    def _median(values: Sequence[float]) -> float | None:
        return statistics.median(values) if values else None

    @property
    def median(self) -> float | None:
        return self._median(self.ms)

    @property
    def p95(self) -> float | None:
        if not self.ms:
            return None
        ordered = sorted(self.ms)
        return ordered[max(int(round(0.95 * len(ordered))) - 1, 0)]

    @property
    def server_median(self) -> float | None:
        return self._median(self.server_ms)

    @property
    def sql_median(self) -> float | None:
        return self._median(self.sql_ms)

    @property
    def statement_count(self) -> int | None:
        return max(self.statements) if self.statements else None


def measure(
    targets: Sequence[tuple[str, dict[str, Any], Sequence[Page]]],
    repeat: int,
    progress: Callable[[str], None] = lambda s: None,
) -> list[Measurement]:
    """Time every page of every target `repeat` times, interleaved (after one warm-up request each)."""
    runs: list[tuple[Any, Measurement]] = []
    for target, clients, pages in targets:
        for page in pages:
            runs.append((clients[page.client], Measurement(target, page)))
    for client, m in runs:  # warm-up: caches, connections, and a first check of the answer
        reply = client.request("GET", m.page.path)
        m.statuses.add(reply.status)
        m.size = len(reply.body)
    for i in range(repeat):
        for client, m in runs:
            reply = client.request("GET", m.page.path)
            m.ms.append(reply.ms)
            m.statuses.add(reply.status)
            for values, header in ((m.server_ms, SERVER_TIME_HEADER), (m.sql_ms, SQL_TIME_HEADER)):
                value = reply.header_float(header)
                if value is not None:
                    values.append(value)
            count = reply.header_float(STATEMENTS_HEADER)
            if count is not None:
                m.statements.append(int(count))
        progress(f"  runde {i + 1}/{repeat}")
    return [m for _client, m in runs]


# --- the jobs -------------------------------------------------------------------------------


@dataclass
class JobResult:
    name: str
    items: int  # plans due or mails queued
    seconds: float | None
    done: int  # orders made or mails sent
    note: str = ""


def due_day(today: dt.date | None = None) -> dt.date:
    """The delivery day of the generated plans: a Monday about two months ahead."""
    day = (today or dt.date.today()) + dt.timedelta(days=60)
    return day - dt.timedelta(days=day.weekday())


def watermarks(conn: Any) -> dict[str, int]:
    from sqlalchemy import text

    return {
        t: int(conn.execute(text(f"SELECT coalesce(max(id), 0) FROM {t}")).scalar() or 0)
        for t in ("orders", "mail_outbox", "standing_orders", "notices")
    }


def prepare_plans(conn: Any, day: dt.date, n: int) -> int:
    """n weekly plans of invoice customers that deliver exactly on `day` (start = end = day)."""
    from sqlalchemy import select, text

    from app.models import Product, StandingOrder, StandingOrderLine

    companies = conn.execute(
        text("""
        SELECT c.id, min(u.id), min(a.id) FROM companies c
        JOIN ab_user u ON u.company_id = c.id
        JOIN ab_user_role ur ON ur.user_id = u.id JOIN ab_role r ON r.id = ur.role_id AND r.name = 'CustomerAdmin'
        JOIN delivery_addresses a ON a.company_id = c.id AND a.active
        WHERE c.payment_terms = 'invoice' AND c.active GROUP BY c.id ORDER BY c.id""")
    ).all()
    simple = conn.execute(
        select(Product.__table__.c.id, Product.__table__.c.variants)
        .where(
            Product.__table__.c.active.is_(True),
            Product.__table__.c.min_width.is_(None),
            Product.__table__.c.max_width.is_(None),
            Product.__table__.c.min_depth.is_(None),
            Product.__table__.c.max_depth.is_(None),
        )
        .order_by(Product.__table__.c.id)
    ).all()
    products = [pid for pid, variants in simple if not variants][:3]
    if not companies or not products or n < 1:
        return 0
    first = int(conn.execute(text("SELECT coalesce(max(id), 0) FROM standing_orders")).scalar() or 0)
    plans, lines = [], []
    for i in range(n):
        cid, admin, address = companies[i % len(companies)]
        pid = first + i + 1
        plans.append(
            dict(
                id=pid,
                company_id=cid,
                name=f"{PLAN_PREFIX} {i + 1}",
                delivery_address_id=address,
                created_by_id=admin,
                frequency="weekly",
                weekday=day.weekday(),
                start_date=day,
                end_date=day,
                active=True,
                created_at=dt.datetime.now(dt.UTC),
            )
        )
        lines += [
            dict(company_id=cid, standing_order_id=pid, product_id=prod, quantity=2 + j)
            for j, prod in enumerate(products)
        ]
    conn.execute(StandingOrder.__table__.insert(), plans)
    conn.execute(StandingOrderLine.__table__.insert(), lines)
    if conn.dialect.name == "postgresql":
        conn.execute(
            text(
                "SELECT setval(pg_get_serial_sequence('standing_orders', 'id'), (SELECT max(id) FROM standing_orders))"
            )
        )
    return n


def prepare_mails(conn: Any, n: int) -> int:
    from app.models import MailOutbox

    now = dt.datetime.now(dt.UTC)
    rows = [
        dict(
            kind=MAIL_KIND,
            to_address=f"benk{i}@example.no",
            subject=f"Ordrebekreftelse benk {i}",
            body_text=f"Takk for bestillingen!\n\nOrdrenummer: benk {i}",
            body_html=f"<p>Takk for bestillingen!</p><p>Ordrenummer: benk {i}</p>",
            attempts=0,
            created_at=now,
            next_attempt_at=now - dt.timedelta(minutes=1),
        )
        for i in range(n)
    ]
    for i in range(0, n, 5000):
        conn.execute(MailOutbox.__table__.insert(), rows[i : i + 5000])
    return n


def clean_up(conn: Any, marks: dict[str, int]) -> None:
    """Remove what the job runs added (orders, their rows, mails, notices, plans) after the
    watermarks, and rebuild the report totals the removed orders were counted in."""
    from sqlalchemy import text

    from app.domain import report_totals

    rebuild = bool(conn.execute(text("SELECT count(*) FROM orders WHERE id > :m"), {"m": marks["orders"]}).scalar())
    conn.execute(text("DELETE FROM notices WHERE id > :m"), {"m": marks["notices"]})
    order = marks["orders"]
    for table in ("order_events", "order_lines"):
        conn.execute(text(f"DELETE FROM {table} WHERE order_id > :m"), {"m": order})
    conn.execute(text("DELETE FROM orders WHERE id > :m"), {"m": order})
    conn.execute(text("DELETE FROM mail_outbox WHERE id > :m"), {"m": marks["mail_outbox"]})
    conn.execute(text("DELETE FROM standing_order_lines WHERE standing_order_id > :m"), {"m": marks["standing_orders"]})
    conn.execute(text("DELETE FROM standing_orders WHERE id > :m"), {"m": marks["standing_orders"]})
    if rebuild:
        report_totals.rebuild(conn)


def count_pending_mail(conn: Any) -> int:
    from sqlalchemy import text

    return int(conn.execute(text("SELECT count(*) FROM mail_outbox WHERE sent_at IS NULL")).scalar() or 0)


Runner = Callable[[Sequence[str], float | None], tuple[int, str, float]]


def subprocess_runner(env: dict[str, str]) -> Runner:
    """Run `flask --app run <args>` with the bench environment: (exit code, output, seconds)."""

    def run(args: Sequence[str], timeout: float | None) -> tuple[int, str, float]:
        started = time.monotonic()
        try:
            done = subprocess.run(
                [str(BIN / "flask"), "--app", "run", *args],
                cwd=ROOT,
                env=env,
                timeout=timeout,
                capture_output=True,
                text=True,
            )
            return done.returncode, done.stdout + done.stderr, time.monotonic() - started
        except subprocess.TimeoutExpired as exc:
            output = (exc.stdout or b"").decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
            return -1, output, time.monotonic() - started

    return run


def time_standing_orders(run: Runner, day: dt.date, plans: int, timeout: float | None) -> JobResult:
    code, output, seconds = run(["portal", "standing-orders", "--date", day.isoformat()], timeout)
    made = re.search(r"Ferdig: (\d+) opprettet", output)
    # "[i/n]" per plan on a short run, "12 000 av 100 000 faste ordre (...)" every few seconds on a long one
    progress = [(a, b) for a, b in re.findall(r"\[(\d+)/(\d+)\]", output)] + [
        (a.replace(" ", ""), b.replace(" ", "")) for a, b in re.findall(r"(\d[\d ]*) av (\d[\d ]*) faste ordre", output)
    ]
    due = max((int(b) for _a, b in progress), default=plans)  # the generated plans and the world's own
    if made:
        return JobResult(
            "portal standing-orders", due, seconds, int(made.group(1)), "" if code == 0 else f"status {code}"
        )
    done = max((int(a) for a, _b in progress), default=0)
    return JobResult("portal standing-orders", due, None, done, f"stoppet etter {seconds:.0f} s")


def time_send_mail(run: Runner, mails: int, timeout: float | None) -> JobResult:
    code, output, seconds = run(["portal", "send-mail"], timeout)
    sent = re.search(r"Ferdig: (\d+) sendt", output)
    if sent:
        return JobResult("portal send-mail", mails, seconds, int(sent.group(1)), "" if code == 0 else f"status {code}")
    progress = re.findall(r"sendt så langt: (\d+)", output)
    done = int(progress[-1]) if progress else 0
    return JobResult("portal send-mail", mails, None, done, f"stoppet etter {seconds:.0f} s ({done} sendt)")


class SmtpSink:
    """A local aiosmtpd server that accepts and counts every mail."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.count = 0
        self.lock = threading.Lock()
        self.port = free_port()
        sink = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                with sink.lock:
                    sink.count += 1
                return "250 OK"

        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> SmtpSink:
        self.controller.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.controller.stop()


def run_jobs(
    conn_factory: Callable[[], Any],
    run: Runner,
    plans: int,
    mails: int,
    timeout: float | None,
    smtp_port: int,
    echo: Callable[[str], None] = print,
) -> list[JobResult]:
    """Make the due plans and the mails, time both jobs, and remove what they added."""
    day = due_day()
    with conn_factory() as conn:
        marks = watermarks(conn)
        prepare_plans(conn, day, plans)
        conn.commit()
    results = []
    startup = run(["portal", "--help"], timeout)[2]  # loading the app, part of every job's time
    try:
        echo(f"  portal standing-orders --date {day} ({plans} planer) ...")
        results.append(time_standing_orders(run, day, plans, timeout))
        with conn_factory() as conn:
            clean_up(conn, marks)
            others = count_pending_mail(conn)
            prepare_mails(conn, mails)
            conn.commit()
        echo(f"  portal send-mail ({mails} e-poster, port {smtp_port}) ...")
        result = time_send_mail(run, mails + others, timeout)
        if others:
            result.note = (result.note + f" ({others} andre ventet også)").strip()
        results.append(result)
    finally:
        with conn_factory() as conn:
            clean_up(conn, marks)
            conn.commit()
    for result in results:
        result.note = f"{result.note} (oppstart av appen {startup:.1f} s)".strip()
    return results


# --- throughput ------------------------------------------------------------------------------


@dataclass
class Throughput:
    label: str
    per_second: float | None
    note: str = ""


def run_wrk(client: HttpClient, path: str, seconds: int) -> Throughput:
    """wrk on one page with the client's cookies, after checking that the page answers 200."""
    url = f"http://{client.host}:{client.port}{client.prefix}{path}"
    cookie = client.cookie_header()
    check = client.request("GET", path)
    if check.status != 200:
        return Throughput(url, None, f"siden svarte {check.status}, ikke 200")
    wrk = shutil.which("wrk")
    if wrk is None:
        return Throughput(url, None, "wrk mangler (apt-get install wrk)")
    done = subprocess.run(
        [wrk, "-t2", "-c4", f"-d{seconds}s", "-H", f"Cookie: {cookie}", url],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
    )
    rate = re.search(r"Requests/sec:\s+([\d.]+)", done.stdout)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", done.stdout)
    note = f"{errors.group(1)} svar som ikke var 2xx/3xx" if errors else ""
    return Throughput(url, float(rate.group(1)) if rate else None, note or done.stderr.strip()[:200])


# --- serving ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """gunicorn serving the app on a free port."""

    def __init__(self, env: dict[str, str], workers: int, count_sql: bool) -> None:
        self.port = free_port()
        self.env = {**env, "BENCH_COUNT_SQL": "1" if count_sql else "0"}
        self.workers = workers
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Server:
        self.process = subprocess.Popen(
            [
                str(BIN / "gunicorn"),
                "--workers",
                str(self.workers),
                "--worker-class",
                "sync",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--no-control-socket",
                "--timeout",
                "900",
                "--log-level",
                "warning",
                "scripts.bench:wsgi_app()",
            ],
            cwd=ROOT,
            env=self.env,
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("gunicorn stoppet under oppstart")
            try:
                if HttpClient(self.url).request("GET", "/login/").status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.5)
        raise RuntimeError("gunicorn svarte ikke innen 120 s")

    def __exit__(self, *exc: Any) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()


# --- the table -------------------------------------------------------------------------------


def _ms(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:,.1f}".replace(",", " ") if value < 100 else f"{value:,.0f}".replace(",", " ")


def verdict(value: float | None, bound: float | None, at_least: bool = False) -> str:
    """ "ja" when a measured figure is within its target, "NEI" when not, "" without a target."""
    if bound is None:
        return ""
    if value is None:
        return "NEI"
    return "ja" if (value >= bound if at_least else value <= bound) else "NEI"


def page_verdict(m: Measurement) -> str:
    return verdict(m.sql_median if m.page.bound_on_sql else m.server_median, m.page.bound_ms)


def job_bound(job: JobResult) -> float | None:
    per_item = {"portal standing-orders": PLAN_BOUND_MS, "portal send-mail": MAIL_BOUND_MS}.get(job.name)
    return per_item * job.items / 1000 if per_item is not None else None


def table(results: Sequence[Measurement], jobs: Sequence[JobResult], rates: Sequence[Throughput]) -> str:
    ours = [m for m in results if m.target == "kundeportal"]
    peers = {(m.target, m.page.key): m for m in results if m.target != "kundeportal"}
    kinds = [k for k in ("fab", "django") if any(t == k for t, _ in peers)]
    head = ["side", "bruker", "median ms", "p95 ms", "server ms", "SQL ms", "SQL-setninger", "status", "mål ms", "nådd"]
    for kind in kinds:
        head += [f"{kind} median ms", f"Kundeportal/{kind}"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    verdicts: list[str] = []
    for m in ours:
        bound = "" if m.page.bound_ms is None else f"{'SQL ' if m.page.bound_on_sql else ''}≤ {m.page.bound_ms:g}"
        verdicts.append(page_verdict(m))
        row = [
            m.page.label,
            m.page.client,
            _ms(m.median),
            _ms(m.p95),
            _ms(m.server_median),
            _ms(m.sql_median),
            str(m.statement_count if m.statement_count is not None else "–"),
            ",".join(str(s) for s in sorted(m.statuses)),
            bound,
            verdicts[-1],
        ]
        for kind in kinds:
            peer = peers.get((kind, m.page.key))
            if peer is None or m.page.client.startswith("hansen"):
                row += ["", ""]
            else:
                ratio = (m.median / peer.median) if m.median and peer.median else None
                row += [_ms(peer.median), f"{ratio:.2f}×" if ratio else "–"]
        lines.append("| " + " | ".join(row) + " |")
    out = ["\n".join(lines)]
    if jobs:
        out.append(
            "\n| jobb | mengde | sekunder | per stykk ms | utført | mål s | nådd | merknad |\n|---|---|---|---|---|---|---|---|"
        )
        for j in jobs:
            each = f"{j.seconds / j.done * 1000:.1f}" if j.seconds and j.done else "–"
            seconds_bound = job_bound(j)
            verdicts.append(verdict(j.seconds if j.done >= j.items else None, seconds_bound))
            out.append(
                f"| {j.name} | {j.items} | {_ms(j.seconds) if j.seconds is not None else '–'} | {each} | "
                f"{j.done} | {'' if seconds_bound is None else f'≤ {seconds_bound:g}'} | {verdicts[-1]} | {j.note} |"
            )
    if rates:
        out.append(
            "\n| gjennomstrømning (wrk -t2 -c4, 2 sync workers) | forespørsler/s | mål | nådd | merknad |\n"
            "|---|---|---|---|---|"
        )
        for r in rates:
            ours_rate = r.label.startswith("Kundeportal")
            verdicts.append(verdict(r.per_second, THROUGHPUT_BOUND, at_least=True) if ours_rate else "")
            goal = f"≥ {THROUGHPUT_BOUND:g}" if ours_rate else ""
            out.append(
                f"| {r.label} | {f'{r.per_second:.1f}' if r.per_second else '–'} | {goal} | {verdicts[-1]} | {r.note} |"
            )
    judged = [v for v in verdicts if v]
    if judged:
        out.append(f"\n{judged.count('ja')} av {len(judged)} mål nådd.")
    return "\n".join(out)


# --- the whole run ---------------------------------------------------------------------------


def facts_of(conn: Any) -> Facts:
    from sqlalchemy import text

    orders = int(conn.execute(text("SELECT count(*) FROM orders")).scalar() or 0)
    middle = conn.execute(
        text("SELECT number FROM orders ORDER BY id LIMIT 1 OFFSET :n"), {"n": max(orders // 2 - 1, 0)}
    ).scalar()
    prefix = str(middle or "1000")[:-1] if middle and len(str(middle)) > 1 else "1000"
    return Facts(orders, prefix)


def machine() -> str:
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"{platform.node()}: {os.cpu_count()} kjerner, Python {platform.python_version()}, belastning {load}"


def create_database(url: str) -> None:
    """CREATE DATABASE for a PostgreSQL URL whose database does not exist yet."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    target = make_url(url)
    if not target.get_backend_name().startswith("postgresql"):
        return
    engine = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            if not conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": target.database}).scalar():
                conn.execute(text(f'CREATE DATABASE "{target.database}"'))
                print(f"Databasen {target.database} er opprettet.")
    finally:
        engine.dispose()


def main(argv: Sequence[str] = ()) -> int:
    sys.path.insert(0, str(ROOT))
    from sqlalchemy import create_engine, text

    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    if "--create-database" in argv:
        create_database(url)
        return 0
    repeat = int(os.environ.get("BENCH_REPEAT", "30"))
    plans = int(os.environ.get("BENCH_PLANS", "100000"))
    mails = int(os.environ.get("BENCH_MAILS", "10000"))
    timeout = float(os.environ.get("BENCH_JOB_TIMEOUT", "900"))
    wrk_seconds = int(os.environ.get("BENCH_WRK_SECONDS", "10"))
    skip = {s.strip() for s in os.environ.get("BENCH_SKIP", "").split(",") if s.strip()}
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "FAB_UPDATE_PERMS": "0",
        "RATELIMIT_ENABLED": "0",
        "SECRET_KEY": os.environ.get("SECRET_KEY", "kundeportal-bench-secret-key-32-bytes-at-least"),
        "PYTHONPATH": str(ROOT),
    }
    engine = create_engine(url)
    with engine.connect() as conn:
        facts = facts_of(conn)
        version = conn.execute(text("SELECT version()")).scalar() if engine.dialect.name == "postgresql" else "SQLite"
    print(f"Kundeportal-benk {dt.datetime.now():%Y-%m-%d %H:%M}: {facts.orders} ordre i {url}")
    print(f"  {machine()}\n  {str(version).split(',')[0]}")
    results: list[Measurement] = []
    jobs: list[JobResult] = []
    rates: list[Throughput] = []

    if "pages" not in skip:
        with Server(env, workers=1, count_sql=True) as server:
            clients = portal_clients(lambda: HttpClient(server.url))
            targets: list[tuple[str, dict[str, Any], Sequence[Page]]] = [("kundeportal", clients, portal_pages(facts))]
            for kind, variable in (("fab", "PEER_FAB_URL"), ("django", "PEER_DJANGO_URL")):
                if os.environ.get(variable):
                    peer = HttpClient(os.environ[variable])
                    login_peer(peer, kind)
                    targets.append((kind, {kind: peer}, peer_pages(kind)))
            print(f"Sider: {repeat} runder, alle sider flettet ({sum(len(t[2]) for t in targets)} per runde)")
            results = measure(targets, repeat, progress=print)
    if "jobs" not in skip:
        print("Jobber:")
        with SmtpSink() as sink:
            job_env = {**env, "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(sink.port), "MAIL_USE_TLS": "0"}
            jobs = run_jobs(engine.connect, subprocess_runner(job_env), plans, mails, timeout, sink.port)
            print(f"  SMTP-serveren tok imot {sink.count} e-poster")
    if "wrk" not in skip:
        print(f"Gjennomstrømning: wrk -t2 -c4 -d{wrk_seconds}s")
        with Server(env, workers=2, count_sql=False) as server:
            customer = HttpClient(server.url)
            login_portal(customer, "hansen.bruker")
            rates.append(run_wrk(customer, "/orderview/list/", wrk_seconds))
            rates[-1].label = "Kundeportal: kundens ordreliste (hansen.bruker)"
        for kind, variable, path in (
            ("fab", "PEER_FAB_WRK_URL", "/orderview/list/?_flt_0_company=1"),
            ("django", "PEER_DJANGO_WRK_URL", "/admin/djpeer_app/order/?company__id__exact=1"),
        ):
            if os.environ.get(variable):
                peer = HttpClient(os.environ[variable])
                login_peer(peer, kind)
                rates.append(run_wrk(peer, path, wrk_seconds))
                rates[-1].label = f"{kind}: én bedrifts ordre"
    print()
    print(table(results, jobs, rates))
    print(f"\n{machine()} (etter kjøringen)")
    engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
