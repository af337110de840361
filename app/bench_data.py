"""`portal bench-data`: a large, realistic world for measuring Kundeportal (scripts/bench.py).

At N orders the world has about N / 1000 customer companies (dealers and webshop customers; most
dealers approve every order; invoice or card), their users, delivery addresses, budgets, standing
orders, inquiries and pickup reservations; the demo catalogue; N orders over two years in every
status and channel with their lines, status events, shipments and invoices; quotes.

Every value is a function of a row's index through `mix`, an integer hash written once in Python
and once as SQL. So a world depends only on (orders, companies, now): PostgreSQL builds the large
tables with set-based INSERT ... SELECT over generate_series, SQLite from the same rules in Python
with executemany batches, and both give the same rows (tests/test_bench.py compares them).

What holds by construction (and is checked by tests/test_bench.py):
* ids follow the rows that exist; order number = 100000 + id (app/domain/lifecycle.py
  assign_number), quote number = T + (300000 + id), invoice number = F + order number; the
  PostgreSQL sequences are moved past the new ids, so the app's own inserts carry on;
* totals come from the lines as in app/domain/pricing.py (VAT per rate on that rate's sum,
  rounded half up to whole øre);
* the status events are the order's path through app/domain/lifecycle.py MOVES, each event's
  from_status the previous event's to_status, the last one the order's status;
* shipments (and their lines) exist for what has left the warehouse and add up to the lines'
  delivered quantities; an invoice exists exactly for invoiced orders, for the order's total;
* every CHECK, foreign key and unique constraint of app/models.py.
"""

from __future__ import annotations

import datetime as dt
import random
import secrets
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from faker import Faker
from sqlalchemy import Connection, Table, func, select, text
from werkzeug.security import generate_password_hash

from app.demo import DEMO_PASSWORD, DEMO_USERS, PLACES, PRODUCTS, STORES, STREETS, SUPPLIES, TRADES
from app.domain import quotes as quote_rules
from app.domain import report_totals
from app.domain.formatting import OSLO
from app.domain.lifecycle import ORDER_NUMBER_BASE, number_from_id
from app.domain.pricing import money, order_totals
from app.domain.validation import org_number_check_digit
from app.models import (
    Budget,
    Company,
    DeliveryAddress,
    Inquiry,
    InquiryMessage,
    Invoice,
    Order,
    OrderEvent,
    OrderLine,
    PickupReservation,
    PortalUser,
    Product,
    Quote,
    QuoteLine,
    Shipment,
    ShipmentLine,
    StandingOrder,
    StandingOrderLine,
    Store,
)

SEED = 20261201
SPAN_DAYS = 730  # orders over the last two years
# The live numbering's bases (one definition: lifecycle.py, quotes.py); the SQL below writes them as literals.
ORDER_BASE, QUOTE_BASE, QUOTE_PREFIX = ORDER_NUMBER_BASE, quote_rules.NUMBER_BASE, quote_rules.NUMBER_PREFIX
PENDING_SHARE = 0.05  # of all orders wait for approval (dealers that approve every order)
PENDING_WINDOW_DAYS = 365  # ... placed within this many days (older ones were decided)
# A standing order's orders lie more than a week (and a daylight-saving hour) apart, so their
# delivery dates (the plan's weekday after the order's Oslo day) never coincide.
STANDING_GAP_S = 7 * 86400 + 3600 + 2
BATCH = 5000  # orders per executemany batch on SQLite
ORDERS_PER_COMPANY = 1000

# Company i (0-based): dealers are i % 5 in (0, 2) and approve every order unless i % 10 == 2;
# webshop customers with i % 10 in (3, 8) pay by invoice, the other webshop customers by card.
DEALER_CHANNELS = (("seller", 30), ("phone", 50), ("edi", 70), ("webshop", 95), ("quote", 100))
WEBSHOP_CHANNELS = (("webshop", 65), ("phone", 80), ("edi", 92), ("quote", 97), ("seller", 100))
LINES_BY_TENTH = (1, 1, 1, 2, 2, 2, 2, 3, 3, 4)  # about 2.1 lines per order
CARRIERS = (("collicare", 35), ("schenker", 65), ("postnord", 80), ("bring", 95), ("own", 100))
EXTRA_QUOTE_STATUSES = (("draft", 15), ("sent", 40), ("declined", 65), ("expired", 100))

REJECT_REASONS = (
    "Kredittgrensen er overskredet",
    "Forfalte fakturaer må betales før nye ordre godkjennes",
    "Målene kan ikke produseres – kontakt selgeren",
)
CANCEL_REASONS = (
    "Kunden ønsket å kansellere",
    "Varen er utgått – erstattes av ny ordre",
    "Bestilt dobbelt ved en feil",
    "Prosjektet er utsatt",
)
FIRST_REASONS = {"quote": "Bestilt fra tilbud", "standing_order": "Opprettet fra fast ordre", "edi": "Mottatt via EDI"}
PENDING_REASON = "Venter på godkjenning fra selger"
HELD_REASON = "Venter på godkjenning hos dere (ordrer over 5 000,00 kr)"
APPROVED_REASON = "Godkjent av selger"
PARTIAL_REASON = "Delsending: resten leveres så snart varene er produsert"
SHIPPED_REASON = "Alle varer er sendt fra lager"
INVOICED_REASON = "Faktura sendt"
EDI_ACTOR = "EDI-integrasjon"
PLAN_NAMES = (
    "Ukentlig kontorrekvisita",
    "Fast påfyll kaffe og papir",
    "Ukentlig lagerpåfyll",
    "Rekvisita til hovedkontoret",
)
INQUIRY_SUBJECTS = (
    "Leveringstid på Modulsofa Oslo",
    "Fakturakopi",
    "Reklamasjon: riper i bordplate",
    "Endre leveringsadresse",
    "Manglende varer i levering",
    "Spørsmål om pris på tilbud",
)
PICKUP_STATUSES = ("reserved", "ready", "collected", "expired", "cancelled")
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"

MASK32 = 0xFFFFFFFF


def mix(k: int, salt: int) -> int:
    """A 32-bit hash of (k, salt): the world's only source of variety (`_mix_sql` is the same in SQL)."""
    x = (k * 2654435761 + salt * 1013904223) & MASK32
    x = ((x ^ (x >> 16)) * 73244475) & MASK32
    return x ^ (x >> 16)


def _mix_sql(k: str, salt: int) -> str:
    x = f"((({k}) * 2654435761 + {salt * 1013904223}) & 4294967295)"
    y = f"((({x} # ({x} >> 16)) * 73244475) & 4294967295)"
    return f"({y} # ({y} >> 16))"


def _pick(value: int, table: Sequence[tuple[str, int]]) -> str:
    return next(name for name, upto in table if value < upto)


def _pick_sql(value: str, table: Sequence[tuple[str, int]]) -> str:
    cases = " ".join(f"WHEN {value} < {upto} THEN '{name}'" for name, upto in table[:-1])
    return f"(CASE {cases} ELSE '{table[-1][0]}' END)"


def _skew(k: int, salt: int, n: int) -> int:
    """0..n-1, low values far more often (a few large customers, many small): floor(n·u²)."""
    m = mix(k, salt) & 0x7FFFFFFF
    return (n * ((m * m) >> 31)) >> 31


def _skew_sql(k: str, salt: int, n: int) -> str:
    m = f"({_mix_sql(k, salt)} & 2147483647)"
    return f"(({n}::bigint * (({m} * {m}) >> 31)) >> 31)"


# --- the world's shape: small tables, built in Python for both databases ---------------------


@dataclass(frozen=True)
class ProductSpec:
    id: int
    sku: str
    name: str
    price: Decimal
    vat: Decimal
    min_w: int | None
    max_w: int | None
    min_d: int | None
    max_d: int | None
    fabrics: tuple[str, ...]
    colours: tuple[str, ...]

    @property
    def simple(self) -> bool:
        return not (self.min_w or self.max_w or self.min_d or self.max_d or self.fabrics or self.colours)


@dataclass
class CompanySpec:
    ci: int
    id: int
    number: str
    name: str
    dealer: bool
    approval: bool
    invoice: bool
    first_user: int
    nusers: int
    first_addr: int
    naddr: int
    billing: dict[str, Any] = field(default_factory=dict)  # what its invoices are issued to


@dataclass
class PlanSpec:
    p: int
    id: int
    ci: int
    creator_id: int
    address_id: int
    name: str
    lines: list[tuple[int, int]]  # (product id, quantity)


@dataclass
class World:
    """Everything the large tables are computed from."""

    orders: int
    now: dt.datetime
    start: dt.datetime
    companies: list[CompanySpec]
    plans: list[PlanSpec]
    furniture: list[ProductSpec]
    supplies: list[ProductSpec]
    products: dict[int, ProductSpec]
    users: dict[int, str]  # id -> full name (every user an order or event may name)
    seller_id: int
    service_id: int
    end_customers: list[str]
    signers: list[str]
    order0: int  # order ids are order0 + k, k = 1..orders
    line0: int
    shipment0: int
    quote0: int
    extra_quotes: int
    span_s: int = SPAN_DAYS * 86400
    standing_every: int = 0  # S: every S-th order is a standing order's (0: none)
    pending_window_s: int = PENDING_WINDOW_DAYS * 86400
    pending_per_10000: int = 0
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def den(self) -> int:
        return max(self.orders - 1, 1)

    @property
    def today(self) -> dt.date:
        return self.now.astimezone(OSLO).date()

    def created_at(self, k: int) -> dt.datetime:
        # The last order 10 minutes before now, the first two years earlier, ids rising with time.
        return self.start + dt.timedelta(seconds=((k - 1) * (self.span_s - 600)) // self.den)


def default_companies(orders: int) -> int:
    return max(4, min(orders // ORDERS_PER_COMPANY, 100_000))


def _org_number(rng: random.Random, taken: set[str]) -> str:
    while True:
        body = str(rng.choice((8, 9))) + "".join(str(rng.randrange(10)) for _ in range(7))
        check = org_number_check_digit(body)
        if check is not None and f"{body}{check}" not in taken:
            taken.add(f"{body}{check}")
            return f"{body}{check}"


def _ascii(value: str) -> str:
    for a, b in (("æ", "ae"), ("ø", "o"), ("å", "a"), ("é", "e"), ("ü", "u"), ("ö", "o"), ("ä", "a")):
        value = value.replace(a, b)
    return "".join(ch for ch in value.lower() if ch.isalnum())


def _faker() -> Faker:
    try:
        fake = Faker("nb_NO")
    except AttributeError:
        fake = Faker("no_NO")
    fake.seed_instance(SEED)
    return fake


def _max_id(conn: Connection, table: Table) -> int:
    return int(conn.scalar(select(func.coalesce(func.max(table.c.id), 0))) or 0)


def ensure_catalogue(conn: Connection) -> list[ProductSpec]:
    """The demo's products and stores (app/demo.py), where missing; returns the active products."""
    products, stores = Product.__table__, Store.__table__
    have = set(conn.scalars(select(products.c.sku)))
    rows = [
        dict(
            sku=sku,
            name=name,
            unit_price=Decimal(price),
            vat_rate=Decimal("25.00"),
            description=description,
            min_width=width[0] if width else None,
            max_width=width[1] if width else None,
            min_depth=depth[0] if depth else None,
            max_depth=depth[1] if depth else None,
            variants=variants or {},
            active=True,
        )
        for sku, name, price, width, depth, variants, description in PRODUCTS
        if sku not in have
    ]
    if rows:
        conn.execute(products.insert(), rows)
    have_stores = set(conn.scalars(select(stores.c.name)))
    store_rows = [
        dict(name=name, street=street, postal_code=code, city=city, opening_hours=hours)
        for name, street, code, city, hours in STORES
        if name not in have_stores
    ]
    if store_rows:
        conn.execute(stores.insert(), store_rows)
    result = []
    for row in conn.execute(select(products).where(products.c.active.is_(True)).order_by(products.c.id)):
        variants = row.variants or {}
        result.append(
            ProductSpec(
                row.id,
                row.sku,
                row.name,
                Decimal(row.unit_price),
                Decimal(row.vat_rate),
                row.min_width,
                row.max_width,
                row.min_depth,
                row.max_depth,
                tuple(variants.get("fabric") or ()),
                tuple(variants.get("colour") or ()),
            )
        )
    if not result:
        raise RuntimeError("Ingen aktive produkter å bestille.")
    return result


def _role_ids(conn: Connection) -> dict[str, int]:
    return {name: rid for rid, name in conn.execute(text("SELECT id, name FROM ab_role"))}


def build_small_tables(
    conn: Connection, orders: int, companies: int, now: dt.datetime, echo: Callable[[str], None]
) -> World:
    """Insert companies, users, addresses, budgets, plans, inquiries, reservations; return the World."""
    roles = _role_ids(conn)
    missing = {"CustomerAdmin", "CustomerUser", "Seller", "CustomerService", "Manager", "Admin"} - set(roles)
    if missing:
        raise RuntimeError(f"Rollene {sorted(missing)} finnes ikke: kjør `flask --app run portal init` først.")
    catalogue = ensure_catalogue(conn)
    supplies = [p for p in catalogue if p.sku in SUPPLIES] or catalogue
    furniture = [p for p in catalogue if p.sku not in SUPPLIES] or catalogue
    simple = [p for p in catalogue if p.simple]
    fake, rng = _faker(), random.Random(SEED)
    password = generate_password_hash(DEMO_PASSWORD)  # once: hashing is slow on purpose
    start = now - dt.timedelta(days=SPAN_DAYS)
    users_t, roles_t = PortalUser.__table__, PortalUser.__table__.metadata.tables["ab_user_role"]
    taken_usernames = set(conn.scalars(select(users_t.c.username)))
    taken_names = set(conn.scalars(select(Company.__table__.c.name)))
    taken_orgs = set(conn.scalars(select(Company.__table__.c.org_number)))
    numbers = [int(n) for n in conn.scalars(select(Company.__table__.c.customer_number)) if n.isdigit()]
    number0 = max([10000, *numbers])

    # Staff: the demo's supplier logins (password demo1234), created when missing.
    user_id = _max_id(conn, users_t)
    user_rows: list[dict[str, Any]] = []
    role_rows: list[dict[str, Any]] = []
    names: dict[int, str] = {}

    def add_user(username: str, first: str, last: str, role: str, email_domain: str, company_id: int | None) -> int:
        nonlocal user_id
        user_id += 1
        user_rows.append(
            dict(
                id=user_id,
                first_name=first,
                last_name=last,
                username=username,
                password=password,
                active=True,
                email=f"{username}@{email_domain}",
                created_on=start.replace(tzinfo=None),
                changed_on=start.replace(tzinfo=None),
                login_count=0,
                fail_login_count=0,
                company_id=company_id,
                phone=None if company_id is None else f"9{rng.randrange(10_000_000):07d}",
                newsletter=role == "CustomerAdmin",
                security_stamp=secrets.token_hex(16),
            )
        )
        role_rows.append(dict(user_id=user_id, role_id=roles[role]))
        names[user_id] = f"{first} {last}"
        taken_usernames.add(username)
        return user_id

    staff: dict[str, int] = {}
    for username, role, first, last, number in DEMO_USERS:
        if number is not None:
            continue
        row = conn.execute(
            select(users_t.c.id, users_t.c.first_name, users_t.c.last_name).where(users_t.c.username == username)
        ).first()
        if row is not None:
            staff[username] = row.id
            names[row.id] = f"{row.first_name} {row.last_name}"
        else:
            staff[username] = add_user(username, first, last, role, "kundeportal.no", None)
    demo_logins = {
        ci: [(u, r, f, la) for u, r, f, la, n in DEMO_USERS if n == number]
        for ci, number in ((0, "10001"), (1, "10002"))
    }
    demo_names = {0: "Hansen Interiør AS", 1: "Berg Kontorservice AS"}

    company0, address_id = _max_id(conn, Company.__table__), _max_id(conn, DeliveryAddress.__table__)
    specs: list[CompanySpec] = []
    company_rows, address_rows = [], []
    for ci in range(companies):
        cid, number = company0 + ci + 1, str(number0 + ci + 1)
        dealer = ci % 5 in (0, 2)
        approval = dealer and ci % 10 != 2
        invoice = dealer or ci % 10 in (3, 8)
        name = demo_names.get(ci, "")
        if not name or name in taken_names:
            name = ""
            for attempt in range(8):
                trade = TRADES[rng.randrange(len(TRADES))]
                candidate = (
                    f"{fake.last_name()} {trade} AS"
                    if attempt < 4
                    else f"{fake.last_name()} & {fake.last_name()} {trade} AS"
                )
                if candidate not in taken_names:
                    name = candidate
                    break
            name = name or f"{fake.last_name()} {TRADES[ci % len(TRADES)]} {number} AS"
        taken_names.add(name)
        postal_code, city = PLACES[rng.randrange(len(PLACES))]
        street = f"{STREETS[rng.randrange(len(STREETS))]} {rng.randint(1, 120)}"
        domain = f"{_ascii(name.removesuffix(' AS'))[:40] or 'firma'}{number}.no"
        credit = (
            Decimal((100_000, 150_000, 250_000, 400_000)[(ci // 5) % 4])
            if dealer
            else Decimal("50000")
            if invoice
            else Decimal("0")
        )
        company_rows.append(
            dict(
                id=cid,
                customer_number=number,
                name=name,
                org_number=_org_number(rng, taken_orgs),
                postal_street=f"Postboks {100 + ci % 900}" if dealer else street,
                postal_code=postal_code,
                postal_city=city,
                kind="dealer" if dealer else "webshop",
                payment_terms="invoice" if invoice else "card",
                credit_limit=credit,
                requires_approval=approval,
                email=f"post@{domain}",
                phone=f"{rng.randint(21, 99)} {rng.randint(10, 99)} {rng.randint(10, 99)} {rng.randint(10, 99)}",
                active=True,
                created_at=start - dt.timedelta(days=30 + ci % 900),
            )
        )
        naddr = 1 + ci % 3
        first_addr = address_id + 1
        for j in range(naddr):
            address_id += 1
            code, place = (postal_code, city) if j == 0 else PLACES[rng.randrange(len(PLACES))]
            address_rows.append(
                dict(
                    id=address_id,
                    company_id=cid,
                    active=True,
                    postal_code=code,
                    city=place,
                    recipient_name=name if j == 0 else f"{name} – avd. {place}",
                    street=street if j == 0 else f"{STREETS[rng.randrange(len(STREETS))]} {rng.randint(1, 120)}",
                )
            )
        nusers = 2 + ci % 4
        logins = [login for login in demo_logins.get(ci, []) if login[0] not in taken_usernames]
        first_user = user_id + 1
        for j in range(nusers):
            role = "CustomerAdmin" if j == 0 else "CustomerUser"
            login = next((x for x in logins if x[1] == role), None)
            if login is not None:
                logins.remove(login)
                username, first, last = login[0], login[2], login[3]
            else:
                username = f"{number}.admin" if j == 0 else f"{number}.bruker{j}"
                first, last = fake.first_name(), fake.last_name()
            add_user(username, first, last, role, domain, cid)
        specs.append(
            CompanySpec(
                ci,
                cid,
                number,
                name,
                dealer,
                approval,
                invoice,
                first_user,
                nusers,
                first_addr,
                naddr,
                billing={
                    "billing_name": name,
                    "billing_customer_number": number,
                    "billing_org_number": company_rows[-1]["org_number"],
                    "billing_street": company_rows[-1]["postal_street"],
                    "billing_postal_code": postal_code,
                    "billing_city": city,
                },
            )
        )

    conn.execute(Company.__table__.insert(), company_rows)
    conn.execute(DeliveryAddress.__table__.insert(), address_rows)
    conn.execute(users_t.insert(), user_rows)
    conn.execute(roles_t.insert(), role_rows)
    echo(f"  {len(company_rows)} bedrifter, {len(user_rows)} brukere, {len(address_rows)} leveringsadresser")

    # Budgets: a quarter's limit for every other company, a month's for one user in every fourth.
    budget_rows = []
    for c in specs:
        if c.ci % 2 == 0:
            budget_rows.append(
                dict(
                    company_id=c.id,
                    user_id=None,
                    period="quarter",
                    active=True,
                    amount=Decimal((150_000, 250_000, 500_000)[c.ci % 3]),
                    created_at=start,
                )
            )
        if c.ci % 4 == 0:
            budget_rows.append(
                dict(
                    company_id=c.id,
                    user_id=c.first_user + 1,
                    period="month",
                    active=True,
                    amount=Decimal(15_000 + 5_000 * (c.ci % 5)),
                    created_at=start,
                )
            )
    if budget_rows:
        conn.execute(Budget.__table__.insert(), budget_rows)

    # Standing orders: every third invoice customer has one weekly plan of simple products.
    plan0 = _max_id(conn, StandingOrder.__table__)
    plans: list[PlanSpec] = []
    plan_rows: list[dict[str, Any]] = []
    plan_line_rows: list[dict[str, Any]] = []
    for c in specs:
        if not (c.invoice and c.ci % 3 == 0 and simple):
            continue
        p = len(plans)
        lines = [
            (simple[(p + j) % len(simple)].id, 2 + mix(p * 8 + j, 91) % 10) for j in range(min(2 + p % 3, len(simple)))
        ]
        plan = PlanSpec(p, plan0 + p + 1, c.ci, c.first_user, c.first_addr, PLAN_NAMES[p % len(PLAN_NAMES)], lines)
        plans.append(plan)
        plan_rows.append(
            dict(
                id=plan.id,
                company_id=c.id,
                name=plan.name,
                delivery_address_id=plan.address_id,
                created_by_id=plan.creator_id,
                frequency="weekly",
                interval_weeks=None,
                weekday=p % 5,
                day_of_month=None,
                start_date=(start - dt.timedelta(days=7)).astimezone(OSLO).date(),
                end_date=None,
                paused_until=None,
                skip_date=None,
                active=True,
                created_at=start - dt.timedelta(days=10),
            )
        )
        plan_line_rows.extend(
            dict(company_id=c.id, standing_order_id=plan.id, product_id=pid, quantity=qty) for pid, qty in lines
        )
    if plan_rows:
        conn.execute(StandingOrder.__table__.insert(), plan_rows)
        conn.execute(StandingOrderLine.__table__.insert(), plan_line_rows)

    _inquiries(conn, specs, staff["kundeservice"], names, now)
    _reservations(conn, specs, supplies, now)
    echo(f"  {len(budget_rows)} bruksgrenser, {len(plan_rows)} faste ordre, {len(specs) * 3} henvendelser")

    world = World(
        orders=orders,
        now=now,
        start=start,
        companies=specs,
        plans=plans,
        furniture=furniture,
        supplies=supplies,
        products={p.id: p for p in catalogue},
        users=names,
        seller_id=staff["selger"],
        service_id=staff["kundeservice"],
        end_customers=[fake.name() for _ in range(50)],
        signers=[fake.name() for _ in range(50)],
        order0=_max_id(conn, Order.__table__),
        line0=_max_id(conn, OrderLine.__table__),
        shipment0=_max_id(conn, Shipment.__table__),
        quote0=_max_id(conn, Quote.__table__),
        extra_quotes=max(companies, orders // 40),
    )
    _plan_pending(world)
    if plans:
        # Order k belongs to plan ((k-1) // S) % P when k % S == 0: one plan's orders lie S·P apart.
        world.standing_every = max(20, -(-STANDING_GAP_S * world.den // (len(plans) * (world.span_s - 600))) + 1)
    return world


def _plan_pending(world: World) -> None:
    """How many of the approving companies' recent orders still wait, so about PENDING_SHARE of all do."""
    n = len(world.companies)
    share = sum((((c.ci + 1) / n) ** 0.5 - (c.ci / n) ** 0.5) for c in world.companies if c.approval)
    window = min(world.pending_window_s / world.span_s, 1.0)
    if share > 0:
        world.pending_per_10000 = min(10000, round(PENDING_SHARE * 10000 / (share * window)))


def _inquiries(
    conn: Connection, companies: list[CompanySpec], service_id: int, names: dict[int, str], now: dt.datetime
) -> None:
    inquiry0 = _max_id(conn, Inquiry.__table__)
    rows, messages = [], []
    for c in companies:
        for j in range(3):
            n = c.ci * 3 + j
            status = ("open", "answered", "closed")[n % 3]
            author = c.first_user + j % c.nusers
            created = now - dt.timedelta(hours=2 + mix(n, 101) % (24 * 120))
            inquiry0 += 1
            rows.append(
                dict(
                    id=inquiry0,
                    company_id=c.id,
                    subject=INQUIRY_SUBJECTS[mix(n, 102) % len(INQUIRY_SUBJECTS)],
                    channel=("chat", "contact_form", "portal")[mix(n, 103) % 3],
                    status=status,
                    created_by_id=author,
                    created_at=created,
                )
            )
            for m in range({"open": 1, "answered": 2, "closed": 3}[status]):
                supplier = m % 2 == 1
                who = service_id if supplier else author
                messages.append(
                    dict(
                        company_id=c.id,
                        inquiry_id=inquiry0,
                        author_id=who,
                        author_name=names[who],
                        from_supplier=supplier,
                        created_at=min(created + dt.timedelta(hours=3 * m), now),
                        body=(
                            "Takk for henvendelsen, vi har sett på saken og svarer her."
                            if supplier
                            else "Hei! Kan dere hjelpe oss med dette?"
                            if m == 0
                            else "Flott, takk for svaret!"
                        ),
                    )
                )
    if rows:
        conn.execute(Inquiry.__table__.insert(), rows)
        conn.execute(InquiryMessage.__table__.insert(), messages)


def _reservations(
    conn: Connection, companies: list[CompanySpec], supplies: list[ProductSpec], now: dt.datetime
) -> None:
    stores = list(conn.scalars(select(Store.__table__.c.id).order_by(Store.__table__.c.id)))
    rows = []
    for c in companies:
        status = PICKUP_STATUSES[c.ci % len(PICKUP_STATUSES)]
        waiting = status in ("reserved", "ready")
        created = now - (dt.timedelta(hours=1 + c.ci % 20) if waiting else dt.timedelta(days=5 + c.ci % 60))
        product = supplies[c.ci % len(supplies)]
        rows.append(
            dict(
                company_id=c.id,
                store_id=stores[c.ci % len(stores)],
                created_by_id=c.first_user + 1,
                status=status,
                pickup_code="".join(CODE_ALPHABET[mix(c.ci * 8 + i, 111) % len(CODE_ALPHABET)] for i in range(6)),
                pickup_deadline=now + dt.timedelta(days=1 + c.ci % 3) if waiting else created + dt.timedelta(days=3),
                items=[{"sku": product.sku, "name": product.name, "quantity": 1 + c.ci % 4}],
                created_at=created,
            )
        )
    if rows and stores:
        conn.execute(PickupReservation.__table__.insert(), rows)


# --- the large tables: the rules in Python (SQLite, and the reference for the SQL) ----------


@dataclass
class OrderRows:
    """One order and everything that hangs on it, as table rows."""

    quote: dict[str, Any] | None
    quote_lines: list[dict[str, Any]]
    order: dict[str, Any]
    lines: list[dict[str, Any]]
    events: list[dict[str, Any]]
    shipments: list[dict[str, Any]]
    shipment_lines: list[dict[str, Any]]
    invoice: dict[str, Any] | None


def _line_values(world: World, key: int, dealer: bool, quote: bool) -> dict[str, Any]:
    """Product, quantity and a valid configuration of a regular line (`key` = index·8 + line number)."""
    supply = not dealer and mix(key, 21) % 100 < 60
    category = world.supplies if supply else world.furniture
    p = category[mix(key, 22) % len(category)]
    quantity = 5 + mix(key, 23) % 36 if supply else 1 + mix(key, 23) % 8

    def measure(low: int | None, high: int | None, salt: int) -> int | None:
        if low is None and high is None:
            return None
        lo, hi = (low if low is not None else high), (high if high is not None else low)
        return lo + 10 * (mix(key, salt) % ((hi - lo) // 10 + 1))  # type: ignore[operator]

    return dict(
        product_id=p.id,
        quantity=quantity,
        unit_price=money(p.price * 95 / 100) if quote else p.price,
        vat_rate=p.vat,
        width=measure(p.min_w, p.max_w, 24),
        depth=measure(p.min_d, p.max_d, 25),
        fabric=p.fabrics[mix(key, 26) % len(p.fabrics)] if p.fabrics else None,
        colour=p.colours[mix(key, 27) % len(p.colours)] if p.colours else None,
    )


def _held(world: World, k: int, approval: bool, channel: str, created: dt.datetime) -> bool:
    """A recent webshop order of a customer without the supplier's approval that still waits for
    its company's own approval (Godkjenning hos dere), at the rate dealers' orders wait for a seller."""
    age_s = int((world.now - created).total_seconds())
    return (
        channel == "webshop"
        and not approval
        and age_s < world.pending_window_s
        and mix(k, 17) % 10000 < world.pending_per_10000
    )


def _steps(
    world: World, k: int, approval: bool, nlines: int, created: dt.datetime, held: bool = False
) -> dict[str, dt.datetime | None]:
    """When the order reached each status of its path (None: never). The path stops at now."""

    def after(t: dt.datetime, low_s: int, spread_s: int, salt: int) -> dt.datetime:
        return t + dt.timedelta(seconds=low_s + mix(k, salt) % spread_s)

    t: dict[str, dt.datetime | None] = dict.fromkeys(
        ("processing", "rejected", "cancelled", "partially_delivered", "shipped", "invoiced")
    )
    processing: dt.datetime | None = None if held else created
    if approval:
        age_s = int((world.now - created).total_seconds())
        decision = mix(k, 12) % 100
        if age_s < world.pending_window_s and mix(k, 11) % 10000 < world.pending_per_10000:
            processing = None  # still waiting for a seller
        elif decision < 4:
            t["rejected"], processing = after(created, 7200, 165600, 31), None
        elif decision < 5:
            t["cancelled"], processing = after(created, 1800, 86400, 32), None
        else:
            processing = after(created, 7200, 165600, 31)
        t["processing"] = processing
    if processing is not None:
        if mix(k, 13) % 100 < 3:
            t["cancelled"] = after(processing, 3600, 172800, 33)
        elif nlines >= 2 and mix(k, 14) % 100 < 15:
            t["partially_delivered"] = after(processing, 86400, 259200, 35)
            if mix(k, 15) % 100 >= 7:
                t["shipped"] = after(t["partially_delivered"], 259200, 1036800, 36)  # type: ignore[arg-type]
        else:
            t["shipped"] = after(processing, 86400, 518400, 34)
        if t["shipped"] is not None and mix(k, 16) % 100 >= 3:
            t["invoiced"] = after(t["shipped"], 86400, 345600, 37)
    return {s: (at if at is not None and at <= world.now else None) for s, at in t.items()}


def order_rows(world: World, k: int, quote_rank: list[int], shipment_id: list[int], line_id: list[int]) -> OrderRows:
    """The rows of order k (1-based). `quote_rank`, `shipment_id`, `line_id` are running counters."""
    created = world.created_at(k)
    plan: PlanSpec | None = None
    if world.standing_every and (k - 1) % world.standing_every == world.standing_every - 1:
        plan = world.plans[((k - 1) // world.standing_every) % len(world.plans)]
    c = world.companies[plan.ci if plan else _skew(k, 1, len(world.companies))]
    if plan is not None:
        channel = "standing_order"
    else:
        channel = _pick(mix(k, 2) % 100, DEALER_CHANNELS if c.dealer else WEBSHOP_CHANNELS)
    if plan is not None:
        created_by: int | None = plan.creator_id
    elif channel in ("seller", "phone"):
        created_by = world.seller_id
    elif channel == "edi":
        created_by = None
    else:
        created_by = c.first_user + mix(k, 3) % c.nusers
    oid = world.order0 + k
    number = number_from_id(oid)
    quote = channel == "quote"

    lines: list[dict[str, Any]]
    if plan is not None:
        lines = [
            dict(
                product_id=pid,
                quantity=qty,
                unit_price=world.products[pid].price,
                vat_rate=world.products[pid].vat,
                width=None,
                depth=None,
                fabric=None,
                colour=None,
            )
            for pid, qty in plan.lines
        ]
    else:
        lines = [
            _line_values(world, k * 8 + no, c.dealer, quote) for no in range(1, LINES_BY_TENTH[mix(k, 6) % 10] + 1)
        ]
    held = _held(world, k, c.approval, channel, created)
    steps = _steps(world, k, c.approval, len(lines), created, held)
    status = next(
        (
            s
            for s in ("invoiced", "shipped", "partially_delivered", "cancelled", "rejected", "processing")
            if steps[s] is not None
        ),
        "pending_internal_approval" if held else "pending_approval" if c.approval else "processing",
    )
    ex_vat, vat = order_totals(lines)

    quote_row, quote_lines, reference = None, [], None
    if quote:
        quote_rank[0] += 1
        qid = world.quote0 + quote_rank[0]
        reference = world.end_customers[mix(k, 41) % len(world.end_customers)]
        quote_created = created - dt.timedelta(seconds=86400 + mix(k, 42) % (20 * 86400))
        quote_row = dict(
            id=qid,
            company_id=c.id,
            number=quote_rules.quote_number(qid),
            status="accepted",
            end_customer_ref=reference,
            delivery_address_id=c.first_addr + mix(k, 4) % c.naddr,
            valid_until=quote_created.astimezone(OSLO).date() + dt.timedelta(days=30),
            created_by_id=created_by,
            created_at=quote_created,
            note=None,
        )
        quote_lines = [dict(company_id=c.id, quote_id=qid, line_no=no, **line) for no, line in enumerate(lines, 1)]
    elif plan is not None:
        reference = plan.name
    elif channel == "edi":
        reference = f"EDI {4500000000 + k}"
    elif channel in ("seller", "phone") and mix(k, 5) % 2 == 0:
        reference = f"PO {1000 + mix(k, 5) % 99000}"

    delivery_date = None
    if plan is not None:
        day = created.astimezone(OSLO).date() + dt.timedelta(days=1)
        delivery_date = day + dt.timedelta(days=(plan.p % 5 - day.weekday()) % 7)
    order = dict(
        id=oid,
        company_id=c.id,
        number=number,
        channel=channel,
        status=status,
        delivery_address_id=plan.address_id if plan else c.first_addr + mix(k, 4) % c.naddr,
        created_by_id=created_by,
        created_at=created,
        customer_reference=reference,
        total_ex_vat=ex_vat,
        total_vat=vat,
        over_budget=False,
        quote_id=quote_row["id"] if quote_row else None,
        standing_order_id=plan.id if plan else None,
        delivery_date=delivery_date,
    )

    first = "pending_internal_approval" if held else "pending_approval" if c.approval else "processing"
    creator_name = world.users[created_by] if created_by is not None else EDI_ACTOR
    seller, service = (world.seller_id, world.users[world.seller_id]), (world.service_id, world.users[world.service_id])
    path: list[tuple[str | None, str, dt.datetime, tuple[int | None, str], str | None]] = [
        (
            None,
            first,
            created,
            (created_by, creator_name),
            HELD_REASON
            if held
            else FIRST_REASONS.get(channel) or (PENDING_REASON if first == "pending_approval" else None),
        )
    ]
    if c.approval and steps["processing"] is not None:
        path.append(("pending_approval", "processing", steps["processing"], seller, APPROVED_REASON))
    if steps["rejected"] is not None:
        path.append(
            (
                "pending_approval",
                "rejected",
                steps["rejected"],
                seller,
                REJECT_REASONS[mix(k, 43) % len(REJECT_REASONS)],
            )
        )
    if steps["cancelled"] is not None:
        path.append(
            (
                "processing" if steps["processing"] is not None or not c.approval else "pending_approval",
                "cancelled",
                steps["cancelled"],
                service,
                CANCEL_REASONS[mix(k, 44) % len(CANCEL_REASONS)],
            )
        )
    if steps["partially_delivered"] is not None:
        path.append(("processing", "partially_delivered", steps["partially_delivered"], service, PARTIAL_REASON))
    if steps["shipped"] is not None:
        path.append(
            (
                "partially_delivered" if steps["partially_delivered"] is not None else "processing",
                "shipped",
                steps["shipped"],
                service,
                SHIPPED_REASON,
            )
        )
    if steps["invoiced"] is not None:
        path.append(("shipped", "invoiced", steps["invoiced"], service, INVOICED_REASON))
    events = [
        dict(
            company_id=c.id,
            order_id=oid,
            at=at,
            actor_id=actor[0],
            actor_name=actor[1],
            from_status=frm,
            to_status=to,
            reason=reason,
        )
        for frm, to, at, actor, reason in path
    ]

    # Lines: the first part delivery sends line 1 in full and half of line 2; shipping sends the rest.
    partial: list[int] = [
        ln["quantity"] if no == 1 else ln["quantity"] // 2 if no == 2 else 0 for no, ln in enumerate(lines, 1)
    ]
    if status in ("cancelled", "rejected"):
        delivered = [0] * len(lines)
    elif status in ("shipped", "invoiced"):
        delivered = [ln["quantity"] for ln in lines]
    elif status == "partially_delivered":
        delivered = partial
    else:
        delivered = [0] * len(lines)
    line_rows: list[dict[str, Any]] = []
    for no, (ln, done) in enumerate(zip(lines, delivered, strict=True), 1):
        line_id[0] += 1
        line_status = (
            "cancelled"
            if status in ("cancelled", "rejected")
            else "delivered"
            if done >= ln["quantity"]
            else "partially_delivered"
            if done
            else "open"
        )
        line_rows.append(
            dict(
                id=line_id[0],
                company_id=c.id,
                order_id=oid,
                line_no=no,
                status=line_status,
                delivered_quantity=done,
                **ln,
            )
        )

    shipments, shipment_lines = [], []
    for stage, at in ((1, steps["partially_delivered"]), (2, steps["shipped"])):
        if at is None:
            continue
        shipment_id[0] += 1
        key = k * 2 + stage
        carrier = _pick(mix(key, 71) % 100, CARRIERS)
        delivered_at = at + dt.timedelta(seconds=64800 + mix(key, 73) % 115200)
        arrived = delivered_at <= world.now
        shipments.append(
            dict(
                id=shipment_id[0],
                company_id=c.id,
                order_id=oid,
                carrier=carrier,
                shipped_at=at,
                waybill_number=(
                    None
                    if carrier == "own"
                    else f"70{mix(key, 72) % 10**9:09d}"
                    if carrier == "collicare"
                    else f"10{mix(key, 72) % 10**8:08d}"
                ),
                delivered_at=delivered_at if arrived else None,
                signed_by=world.signers[mix(key, 74) % len(world.signers)] if arrived else None,
            )
        )
        for ln, before in zip(line_rows, partial, strict=True):
            quantity = before if stage == 1 else ln["quantity"] - (before if steps["partially_delivered"] else 0)
            if quantity > 0:
                shipment_lines.append(
                    dict(company_id=c.id, shipment_id=shipment_id[0], order_line_id=ln["id"], quantity=quantity)
                )

    invoice = None
    if steps["invoiced"] is not None:
        day = steps["invoiced"].astimezone(OSLO).date()
        due = day + dt.timedelta(days=30 if c.invoice else 14)
        paid_draw = mix(k, 81) % 100
        paid = (not c.invoice) or paid_draw < 40 or (due < world.today - dt.timedelta(days=14) and paid_draw < 97)
        # Card: paid when invoiced; invoice terms: 0-34 days after the invoice (the same draw in SQL below).
        paid_at = (
            min(steps["invoiced"] + dt.timedelta(days=mix(k, 82) % 35), world.now) if c.invoice else steps["invoiced"]
        )
        invoice = dict(
            company_id=c.id,
            order_id=oid,
            number=f"F{number}",
            invoice_date=day,
            due_date=due,
            amount=ex_vat + vat,
            paid=paid,
            paid_at=paid_at if paid else None,
            **c.billing,
        )
    return OrderRows(quote_row, quote_lines, order, line_rows, events, shipments, shipment_lines, invoice)


def extra_quote_rows(world: World, j: int, nacc: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Quote j (1-based) that did not become an order: draft, sent, declined or expired."""
    c = world.companies[_skew(j, 51, len(world.companies))]
    qid = world.quote0 + nacc + j
    status = _pick(mix(j, 52) % 100, EXTRA_QUOTE_STATUSES)
    if status in ("draft", "sent"):
        created = world.now - dt.timedelta(seconds=3600 + mix(j, 53) % (25 * 86400))
    else:
        created = world.start + dt.timedelta(seconds=mix(j, 53) % (world.span_s - 40 * 86400))
    day = created.astimezone(OSLO).date()
    valid = day + dt.timedelta(days=30)
    if status in ("draft", "sent"):
        valid = max(valid, world.today + dt.timedelta(days=14))
    elif status == "expired":
        valid = min(valid, world.today - dt.timedelta(days=3))
    row = dict(
        id=qid,
        company_id=c.id,
        number=quote_rules.quote_number(qid),
        status=status,
        end_customer_ref=world.end_customers[mix(j, 54) % len(world.end_customers)],
        delivery_address_id=c.first_addr,
        valid_until=valid,
        created_by_id=c.first_user if mix(j, 55) % 2 else world.seller_id,
        created_at=created,
        note=None,
    )
    lines = [
        dict(
            company_id=c.id,
            quote_id=qid,
            line_no=no,
            **_line_values(world, (world.orders + j) * 8 + no, c.dealer, True),
        )
        for no in range(1, 1 + 1 + mix(j, 56) % 3)
    ]
    return row, lines


def python_rows(world: World) -> Iterator[OrderRows]:
    """Every order's rows in id order (the reference the SQL follows)."""
    quote_rank, shipment_id, line_id = [0], [world.shipment0], [world.line0]
    for k in range(1, world.orders + 1):
        yield order_rows(world, k, quote_rank, shipment_id, line_id)


def _load_python(conn: Connection, world: World, echo: Callable[[str], None]) -> None:
    tables = {
        name: model.__table__
        for name, model in (
            ("quotes", Quote),
            ("quote_lines", QuoteLine),
            ("orders", Order),
            ("order_lines", OrderLine),
            ("order_events", OrderEvent),
            ("shipments", Shipment),
            ("shipment_lines", ShipmentLine),
            ("invoices", Invoice),
        )
    }
    batch: dict[str, list[dict[str, Any]]] = {name: [] for name in tables}
    counts = dict.fromkeys(tables, 0)
    started, nacc = time.monotonic(), 0

    def flush() -> None:
        for name, table in tables.items():  # parents before children
            if batch[name]:
                conn.execute(table.insert(), batch[name])
                counts[name] += len(batch[name])
                batch[name] = []

    for k, rows in enumerate(python_rows(world), 1):
        if rows.quote is not None:
            batch["quotes"].append(rows.quote)
            batch["quote_lines"].extend(rows.quote_lines)
            nacc += 1
        batch["orders"].append(rows.order)
        batch["order_lines"].extend(rows.lines)
        batch["order_events"].extend(rows.events)
        batch["shipments"].extend(rows.shipments)
        batch["shipment_lines"].extend(rows.shipment_lines)
        if rows.invoice is not None:
            batch["invoices"].append(rows.invoice)
        if k % BATCH == 0:
            flush()
            echo(f"  ordre {k}/{world.orders} ({time.monotonic() - started:.0f} s)")
    for j in range(1, world.extra_quotes + 1):
        row, lines = extra_quote_rows(world, j, nacc)
        batch["quotes"].append(row)
        batch["quote_lines"].extend(lines)
    flush()
    world.counts.update(counts)


# --- the large tables in PostgreSQL: the same rules as set-based SQL --------------------------


def _sql_array(values: Sequence[str]) -> str:
    return "ARRAY[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]::text[]"


def _sql_pick_array(values: Sequence[str], index: str) -> str:
    return f"({_sql_array(values)})[1 + ({index}) % {len(values)}]"


def _sql_after(t: str, k: str, low_s: int, spread_s: int, salt: int) -> str:
    return f"({t} + ({low_s} + {_mix_sql(k, salt)} % {spread_s}) * interval '1 second')"


def _load_postgresql(conn: Connection, world: World, echo: Callable[[str], None]) -> None:
    started = time.monotonic()

    def run(label: str, sql: str, **params: Any) -> int:
        t = time.monotonic()
        result = conn.execute(text(sql), params)
        rows = result.rowcount if result.rowcount is not None else -1
        echo(f"  {label}: {rows} rader ({time.monotonic() - t:.1f} s, totalt {time.monotonic() - started:.0f} s)")
        return rows

    conn.execute(text("SET LOCAL synchronous_commit = off"))
    # Foreign keys are checked once for all rows at the end (check_foreign_keys), not by a
    # trigger per inserted row: that is most of the time of a large load.
    conn.execute(text("SET LOCAL session_replication_role = replica"))
    conn.execute(text("SET LOCAL work_mem = '64MB'"))
    conn.execute(text("SET LOCAL maintenance_work_mem = '256MB'"))
    _pg_inputs(conn, world)
    n, C, S, P = world.orders, len(world.companies), world.standing_every, len(world.plans)
    now = world.now

    plan_expr = f"CASE WHEN (k - 1) % {S} = {S - 1} THEN ((k - 1) / {S}) % {P} END" if S else "NULL::int"
    run(
        "ordre (grunnlag)",
        f"""
        CREATE TEMP TABLE bench_o1 ON COMMIT DROP AS
        SELECT g.k, g.created_at, g.p, COALESCE(pl.ci, g.skew) AS ci
        FROM (SELECT k::bigint AS k,
                     CAST(:start AS timestamptz) + ((k::bigint - 1) * {world.span_s - 600} / {world.den})
                         * interval '1 second' AS created_at,
                     {plan_expr} AS p, {_skew_sql("k", 1, C)} AS skew
              FROM generate_series(1, {n}) AS k) g
        LEFT JOIN bench_plan pl ON pl.p = g.p""",
        start=world.start,
    )
    dealer_ch, webshop_ch = (
        _pick_sql(f"{_mix_sql('o.k', 2)} % 100", DEALER_CHANNELS),
        _pick_sql(f"{_mix_sql('o.k', 2)} % 100", WEBSHOP_CHANNELS),
    )
    run(
        "ordre (kanal, kunde)",
        f"""
        CREATE TEMP TABLE bench_o2 ON COMMIT DROP AS
        SELECT o.k, o.created_at, o.p, o.ci, c.company_id, c.dealer, c.approval, c.invoice, ch.channel,
               CASE WHEN o.p IS NOT NULL THEN pl.creator_id
                    WHEN ch.channel IN ('seller', 'phone') THEN {world.seller_id}
                    WHEN ch.channel = 'edi' THEN NULL
                    ELSE c.first_user + {_mix_sql("o.k", 3)} % c.nusers END AS created_by_id,
               CASE WHEN o.p IS NOT NULL THEN pl.address_id
                    ELSE c.first_addr + {_mix_sql("o.k", 4)} % c.naddr END AS address_id,
               CASE WHEN o.p IS NOT NULL THEN pl.nlines
                    ELSE ({_sql_array([str(x) for x in LINES_BY_TENTH])})[1 + {_mix_sql("o.k", 6)} % 10]::int
               END AS nlines
        FROM bench_o1 o JOIN bench_c c ON c.ci = o.ci LEFT JOIN bench_plan pl ON pl.p = o.p
        CROSS JOIN LATERAL (SELECT CASE WHEN o.p IS NOT NULL THEN 'standing_order'
                                        WHEN c.dealer THEN {dealer_ch} ELSE {webshop_ch} END AS channel) ch""",
    )

    # The path: planned times of each status (NULL: not on the path), then cut at now.
    proc_approval = f"""CASE WHEN EXTRACT(EPOCH FROM (CAST(:now AS timestamptz) - o.created_at)) < {world.pending_window_s}
                               AND {_mix_sql("o.k", 11)} % 10000 < {world.pending_per_10000} THEN NULL
                             WHEN {_mix_sql("o.k", 12)} % 100 < 5 THEN NULL
                             ELSE {_sql_after("o.created_at", "o.k", 7200, 165600, 31)} END"""
    waiting = (
        f"(EXTRACT(EPOCH FROM (CAST(:now AS timestamptz) - o.created_at)) < {world.pending_window_s} "
        f"AND {_mix_sql('o.k', 11)} % 10000 < {world.pending_per_10000})"
    )
    held = (
        f"(o.channel = 'webshop' AND NOT o.approval "
        f"AND EXTRACT(EPOCH FROM (CAST(:now AS timestamptz) - o.created_at)) < {world.pending_window_s} "
        f"AND {_mix_sql('o.k', 17)} % 10000 < {world.pending_per_10000})"
    )
    run(
        "ordre (statusvei)",
        f"""
        CREATE TEMP TABLE bench_o3 ON COMMIT DROP AS
        SELECT o.*, x.t_rej, x.t_can0, x.t_proc, {held} AS held
        FROM bench_o2 o CROSS JOIN LATERAL (
            SELECT CASE WHEN o.approval AND NOT {waiting} AND {_mix_sql("o.k", 12)} % 100 < 4
                        THEN {_sql_after("o.created_at", "o.k", 7200, 165600, 31)} END AS t_rej,
                   CASE WHEN o.approval AND NOT {waiting} AND {_mix_sql("o.k", 12)} % 100 = 4
                        THEN {_sql_after("o.created_at", "o.k", 1800, 86400, 32)} END AS t_can0,
                   CASE WHEN o.approval THEN {proc_approval} WHEN {held} THEN NULL
                        ELSE o.created_at END AS t_proc) x""",
        now=now,
    )
    run(
        "ordre (levering)",
        f"""
        CREATE TEMP TABLE bench_o4 ON COMMIT DROP AS
        SELECT o.*, y.t_can1, y.t_part, y.t_ship
        FROM bench_o3 o CROSS JOIN LATERAL (
            SELECT CASE WHEN o.t_proc IS NOT NULL AND {_mix_sql("o.k", 13)} % 100 < 3
                        THEN {_sql_after("o.t_proc", "o.k", 3600, 172800, 33)} END AS t_can1,
                   CASE WHEN o.t_proc IS NOT NULL AND {_mix_sql("o.k", 13)} % 100 >= 3 AND o.nlines >= 2
                             AND {_mix_sql("o.k", 14)} % 100 < 15
                        THEN {_sql_after("o.t_proc", "o.k", 86400, 259200, 35)} END AS t_part,
                   CASE WHEN o.t_proc IS NULL OR {_mix_sql("o.k", 13)} % 100 < 3 THEN NULL
                        WHEN o.nlines >= 2 AND {_mix_sql("o.k", 14)} % 100 < 15 THEN
                            CASE WHEN {_mix_sql("o.k", 15)} % 100 >= 7 THEN
                                {_sql_after(_sql_after("o.t_proc", "o.k", 86400, 259200, 35), "o.k", 259200, 1036800, 36)}
                            END
                        ELSE {_sql_after("o.t_proc", "o.k", 86400, 518400, 34)} END AS t_ship) y""",
    )
    cut = "CASE WHEN {0} <= CAST(:now AS timestamptz) THEN {0} END"
    run(
        "ordre (status)",
        f"""
        CREATE TEMP TABLE bench_o ON COMMIT DROP AS
        SELECT z.*, {world.order0} + z.k AS id,
               CASE WHEN z.s_inv IS NOT NULL THEN 'invoiced' WHEN z.s_ship IS NOT NULL THEN 'shipped'
                    WHEN z.s_part IS NOT NULL THEN 'partially_delivered' WHEN z.s_can IS NOT NULL THEN 'cancelled'
                    WHEN z.s_rej IS NOT NULL THEN 'rejected' WHEN z.s_proc IS NOT NULL THEN 'processing'
                    WHEN z.held THEN 'pending_internal_approval'
                    WHEN z.approval THEN 'pending_approval' ELSE 'processing' END AS status,
               {world.line0} + sum(z.nlines) OVER (ORDER BY z.k) - z.nlines AS line_base,
               {world.shipment0} + sum((z.s_part IS NOT NULL)::int + (z.s_ship IS NOT NULL)::int)
                   OVER (ORDER BY z.k) - (z.s_part IS NOT NULL)::int - (z.s_ship IS NOT NULL)::int AS ship_base,
               CASE WHEN z.channel = 'quote' THEN {world.quote0} + count(*) FILTER (WHERE z.channel = 'quote')
                   OVER (ORDER BY z.k) END AS quote_id
        FROM (SELECT o.*, {cut.format("o.t_proc")} AS s_proc, {cut.format("o.t_rej")} AS s_rej,
                     {cut.format("COALESCE(o.t_can0, o.t_can1)")} AS s_can, {cut.format("o.t_part")} AS s_part,
                     {cut.format("o.t_ship")} AS s_ship,
                     CASE WHEN o.t_ship IS NOT NULL AND {_mix_sql("o.k", 16)} % 100 >= 3
                          AND {_sql_after("o.t_ship", "o.k", 86400, 345600, 37)} <= CAST(:now AS timestamptz)
                          THEN {_sql_after("o.t_ship", "o.k", 86400, 345600, 37)} END AS s_inv
              FROM bench_o4 o) z""",
        now=now,
    )
    conn.execute(text("DROP TABLE bench_o1, bench_o2, bench_o3, bench_o4"))
    conn.execute(text("CREATE INDEX ON bench_o (k)"))
    conn.execute(text("ANALYZE bench_o"))

    # Lines: a plan's own lines, or regular ones from the catalogue (the rules of _line_values).
    regular = _lines_sql(
        world,
        """
        SELECT o.k, o.id AS order_id, o.company_id, o.status, o.channel, g.no AS line_no, o.line_base + g.no AS id,
               o.k * 8 + g.no AS key, o.dealer, o.channel = 'quote' AS discount
        FROM bench_o o CROSS JOIN LATERAL generate_series(1, o.nlines) AS g(no) WHERE o.p IS NULL""",
        "x.k, x.order_id, x.company_id, x.status, x.channel, x.line_no, x.id",
    )
    run(
        "ordrelinjer (grunnlag)",
        f"""
        CREATE TEMP TABLE bench_l ON COMMIT DROP AS
        {regular}
        UNION ALL
        SELECT o.k, o.id, o.company_id, o.status, o.channel, pl.line_no, o.line_base + pl.line_no, pl.product_id,
               pl.quantity, pr.price, pr.vat, NULL, NULL, NULL, NULL
        FROM bench_o o JOIN bench_plan_line pl ON pl.p = o.p JOIN bench_prod pr ON pr.product_id = pl.product_id""",
    )
    conn.execute(text("ANALYZE bench_l"))
    run(
        "ordresummer",
        """
        CREATE TEMP TABLE bench_t ON COMMIT DROP AS
        SELECT order_id, sum(ex) AS ex_vat, sum(round(ex * vat_rate / 100, 2)) AS vat
        FROM (SELECT order_id, vat_rate, sum(round(unit_price * quantity, 2)) AS ex
              FROM bench_l GROUP BY order_id, vat_rate) r GROUP BY order_id""",
    )

    run(
        "tilbud (bestilt)",
        f"""
        INSERT INTO quotes (id, company_id, number, status, end_customer_ref, delivery_address_id, valid_until,
                            created_by_id, created_at, note)
        SELECT o.quote_id, o.company_id, '{QUOTE_PREFIX}' || ({QUOTE_BASE} + o.quote_id), 'accepted',
               {_sql_pick_array(world.end_customers, _mix_sql("o.k", 41))}, o.address_id,
               ((o.created_at - (86400 + {_mix_sql("o.k", 42)} % {20 * 86400}) * interval '1 second')
                   AT TIME ZONE 'Europe/Oslo')::date + 30,
               o.created_by_id, o.created_at - (86400 + {_mix_sql("o.k", 42)} % {20 * 86400}) * interval '1 second',
               NULL
        FROM bench_o o WHERE o.channel = 'quote' ORDER BY o.k""",
    )
    run(
        "tilbudslinjer (bestilt)",
        """
        INSERT INTO quote_lines (company_id, quote_id, line_no, product_id, quantity, unit_price, vat_rate,
                                 width, depth, fabric, colour)
        SELECT l.company_id, o.quote_id, l.line_no, l.product_id, l.quantity, l.unit_price, l.vat_rate,
               l.width, l.depth, l.fabric, l.colour
        FROM bench_l l JOIN bench_o o ON o.k = l.k WHERE o.channel = 'quote' ORDER BY l.id""",
    )

    run(
        "ordre",
        f"""
        INSERT INTO orders (id, company_id, number, channel, status, delivery_address_id, created_by_id, created_at,
                            customer_reference, total_ex_vat, total_vat, over_budget, quote_id, standing_order_id,
                            delivery_date)
        SELECT o.id, o.company_id, ({ORDER_BASE} + o.id)::text, o.channel, o.status, o.address_id,
               o.created_by_id, o.created_at,
               CASE WHEN o.channel = 'quote' THEN {_sql_pick_array(world.end_customers, _mix_sql("o.k", 41))}
                    WHEN o.p IS NOT NULL THEN pl.name
                    WHEN o.channel = 'edi' THEN 'EDI ' || (4500000000 + o.k)
                    WHEN o.channel IN ('seller', 'phone') AND {_mix_sql("o.k", 5)} % 2 = 0
                        THEN 'PO ' || (1000 + {_mix_sql("o.k", 5)} % 99000) END,
               t.ex_vat, t.vat, false, o.quote_id, pl.plan_id,
               CASE WHEN o.p IS NOT NULL THEN
                   ((o.created_at AT TIME ZONE 'Europe/Oslo')::date + 1)
                   + ((pl.p % 5 - (EXTRACT(ISODOW FROM (o.created_at AT TIME ZONE 'Europe/Oslo')::date + 1)::int - 1)
                       + 7) % 7) END
        FROM bench_o o JOIN bench_t t ON t.order_id = o.id LEFT JOIN bench_plan pl ON pl.p = o.p
        ORDER BY o.k""",
    )
    run(
        "ordrelinjer",
        """
        INSERT INTO order_lines (id, company_id, order_id, line_no, product_id, quantity, unit_price, vat_rate,
                                 width, depth, fabric, colour, status, delivered_quantity)
        SELECT l.id, l.company_id, l.order_id, l.line_no, l.product_id, l.quantity, l.unit_price, l.vat_rate,
               l.width, l.depth, l.fabric, l.colour,
               CASE WHEN l.status IN ('cancelled', 'rejected') THEN 'cancelled'
                    WHEN l.status IN ('shipped', 'invoiced') THEN 'delivered'
                    WHEN l.status = 'partially_delivered' AND l.line_no = 1 THEN 'delivered'
                    WHEN l.status = 'partially_delivered' AND l.line_no = 2 AND l.quantity / 2 > 0
                        THEN 'partially_delivered'
                    ELSE 'open' END,
               CASE WHEN l.status IN ('shipped', 'invoiced') THEN l.quantity
                    WHEN l.status = 'partially_delivered' AND l.line_no = 1 THEN l.quantity
                    WHEN l.status = 'partially_delivered' AND l.line_no = 2 THEN l.quantity / 2
                    ELSE 0 END
        FROM bench_l l ORDER BY l.id""",
    )

    first_reason = (
        f"CASE WHEN o.held THEN '{HELD_REASON}' ELSE CASE o.channel "
        + " ".join(f"WHEN '{ch}' THEN '{r}'" for ch, r in FIRST_REASONS.items())
        + f" ELSE CASE WHEN o.approval THEN '{PENDING_REASON}' END END END"
    )
    seller, service = world.seller_id, world.service_id
    run(
        "statushendelser",
        f"""
        INSERT INTO order_events (company_id, order_id, at, actor_id, actor_name, from_status, to_status, reason)
        SELECT o.company_id, o.id, e.at, e.actor_id, COALESCE(u.name, '{EDI_ACTOR}'), e.frm, e.too, e.reason
        FROM bench_o o CROSS JOIN LATERAL (VALUES
            (1, o.created_at, o.created_by_id, NULL,
                CASE WHEN o.held THEN 'pending_internal_approval' WHEN o.approval THEN 'pending_approval'
                     ELSE 'processing' END, {first_reason}),
            (2, CASE WHEN o.approval THEN o.s_proc END, {seller}, 'pending_approval', 'processing',
                '{APPROVED_REASON}'),
            (3, o.s_rej, {seller}, 'pending_approval', 'rejected',
                {_sql_pick_array(REJECT_REASONS, _mix_sql("o.k", 43))}),
            (4, o.s_can, {service}, CASE WHEN o.s_proc IS NOT NULL OR NOT o.approval THEN 'processing'
                                         ELSE 'pending_approval' END, 'cancelled',
                {_sql_pick_array(CANCEL_REASONS, _mix_sql("o.k", 44))}),
            (5, o.s_part, {service}, 'processing', 'partially_delivered', '{PARTIAL_REASON}'),
            (6, o.s_ship, {service}, CASE WHEN o.s_part IS NOT NULL THEN 'partially_delivered' ELSE 'processing' END,
                'shipped', '{SHIPPED_REASON}'),
            (7, o.s_inv, {service}, 'shipped', 'invoiced', '{INVOICED_REASON}')
        ) AS e(seq, at, actor_id, frm, too, reason)
        LEFT JOIN bench_u u ON u.id = e.actor_id
        WHERE e.at IS NOT NULL ORDER BY o.k, e.seq""",
    )

    key2 = "(o.k * 2 + s.stage)"
    carrier = _pick_sql(f"{_mix_sql(key2, 71)} % 100", CARRIERS)
    delivered = f"(s.at + (64800 + {_mix_sql(key2, 73)} % 115200) * interval '1 second')"
    run(
        "forsendelser (grunnlag)",
        f"""
        CREATE TEMP TABLE bench_s ON COMMIT DROP AS
        SELECT o.k, o.id AS order_id, o.company_id, s.stage, s.at,
               o.ship_base + row_number() OVER (PARTITION BY o.k ORDER BY s.stage) AS id, {carrier} AS carrier,
               CASE WHEN {delivered} <= CAST(:now AS timestamptz) THEN {delivered} END AS delivered_at,
               {_sql_pick_array(world.signers, _mix_sql(key2, 74))} AS signer,
               {_mix_sql(key2, 72)} AS waybill_draw, o.s_part IS NOT NULL AS had_part
        FROM bench_o o CROSS JOIN LATERAL (VALUES (1, o.s_part), (2, o.s_ship)) AS s(stage, at)
        WHERE s.at IS NOT NULL""",
        now=now,
    )
    run(
        "forsendelser",
        """
        INSERT INTO shipments (id, company_id, order_id, carrier, waybill_number, shipped_at, delivered_at, signed_by)
        SELECT id, company_id, order_id, carrier,
               CASE carrier WHEN 'own' THEN NULL WHEN 'collicare' THEN '70' || lpad((waybill_draw % 1000000000)::text, 9, '0')
                    ELSE '10' || lpad((waybill_draw % 100000000)::text, 8, '0') END,
               at, delivered_at, CASE WHEN delivered_at IS NOT NULL THEN signer END
        FROM bench_s ORDER BY id""",
    )
    run(
        "forsendelseslinjer",
        """
        INSERT INTO shipment_lines (company_id, shipment_id, order_line_id, quantity)
        SELECT company_id, shipment_id, order_line_id, quantity FROM (
            SELECT s.company_id, s.id AS shipment_id, l.id AS order_line_id,
                   CASE WHEN s.stage = 1 THEN part
                        ELSE l.quantity - CASE WHEN s.had_part THEN part ELSE 0 END END AS quantity
            FROM bench_s s JOIN bench_l l ON l.k = s.k
            CROSS JOIN LATERAL (SELECT CASE l.line_no WHEN 1 THEN l.quantity WHEN 2 THEN l.quantity / 2
                                            ELSE 0 END AS part) pq) x
        WHERE quantity > 0 ORDER BY shipment_id, order_line_id""",
    )
    today = world.today
    run(
        "fakturaer",
        f"""
        INSERT INTO invoices (company_id, order_id, number, invoice_date, due_date, amount, paid, paid_at,
                              billing_name, billing_customer_number, billing_org_number, billing_street,
                              billing_postal_code, billing_city)
        SELECT o.company_id, o.id, 'F' || ({ORDER_BASE} + o.id), d.day, d.due, t.ex_vat + t.vat, p.paid,
               CASE WHEN NOT p.paid THEN NULL WHEN o.invoice
                    THEN LEAST(o.s_inv + make_interval(days => d.pay_days), CAST(:now AS timestamptz))
                    ELSE o.s_inv END,
               c.name, c.customer_number, c.org_number, c.postal_street, c.postal_code, c.postal_city
        FROM bench_o o JOIN bench_t t ON t.order_id = o.id JOIN companies c ON c.id = o.company_id
        CROSS JOIN LATERAL (SELECT (o.s_inv AT TIME ZONE 'Europe/Oslo')::date AS day,
                                   (o.s_inv AT TIME ZONE 'Europe/Oslo')::date
                                       + CASE WHEN o.invoice THEN 30 ELSE 14 END AS due,
                                   {_mix_sql("o.k", 81)} % 100 AS draw,
                                   CAST({_mix_sql("o.k", 82)} % 35 AS integer) AS pay_days) d
        CROSS JOIN LATERAL (SELECT NOT o.invoice OR d.draw < 40
                                   OR (d.due < CAST(:today AS date) - 14 AND d.draw < 97) AS paid) p
        WHERE o.s_inv IS NOT NULL ORDER BY o.k""",
        today=today,
        now=world.now,
    )
    nacc = int(conn.scalar(text("SELECT count(*) FROM bench_o WHERE channel = 'quote'")) or 0)
    _extra_quotes_postgresql(conn, world, nacc, run)
    world.counts.update(
        {
            name: int(conn.scalar(text(f"SELECT count(*) FROM {name}")) or 0)
            for name in (
                "orders",
                "order_lines",
                "order_events",
                "shipments",
                "shipment_lines",
                "invoices",
                "quotes",
                "quote_lines",
            )
        }
    )


def _extra_quotes_postgresql(conn: Connection, world: World, nacc: int, run: Callable[..., int]) -> None:
    C = len(world.companies)
    status = _pick_sql(f"{_mix_sql('j', 52)} % 100", EXTRA_QUOTE_STATUSES)
    run(
        "tilbud (åpne og avsluttede)",
        f"""
        CREATE TEMP TABLE bench_q ON COMMIT DROP AS
        SELECT q.*, (q.created_at AT TIME ZONE 'Europe/Oslo')::date + 30 AS valid0
        FROM (SELECT j, c.company_id, c.dealer, c.first_addr, c.first_user, s.status,
                     {world.quote0 + nacc} + j AS id,
                     CASE WHEN s.status IN ('draft', 'sent')
                          THEN CAST(:now AS timestamptz) - (3600 + {_mix_sql("j", 53)} % {25 * 86400}) * interval '1 second'
                          ELSE CAST(:start AS timestamptz)
                               + ({_mix_sql("j", 53)} % {world.span_s - 40 * 86400}) * interval '1 second' END AS created_at
              FROM generate_series(1, {world.extra_quotes}) AS j
              CROSS JOIN LATERAL (SELECT {status} AS status) s
              JOIN bench_c c ON c.ci = {_skew_sql("j", 51, C)}) q""",
        now=world.now,
        start=world.start,
    )
    run(
        "tilbud (åpne og avsluttede)",
        f"""
        INSERT INTO quotes (id, company_id, number, status, end_customer_ref, delivery_address_id, valid_until,
                            created_by_id, created_at, note)
        SELECT id, company_id, '{QUOTE_PREFIX}' || ({QUOTE_BASE} + id), status,
               {_sql_pick_array(world.end_customers, _mix_sql("j", 54))}, first_addr,
               CASE WHEN status IN ('draft', 'sent') THEN GREATEST(valid0, CAST(:today AS date) + 14)
                    WHEN status = 'expired' THEN LEAST(valid0, CAST(:today AS date) - 3) ELSE valid0 END,
               CASE WHEN {_mix_sql("j", 55)} % 2 = 1 THEN first_user ELSE {world.seller_id} END, created_at, NULL
        FROM bench_q ORDER BY j""",
        today=world.today,
    )
    lines = _lines_sql(
        world,
        f"""
        SELECT q.company_id, q.id AS quote_id, g.no AS line_no, ({world.orders} + q.j) * 8 + g.no AS key, q.dealer,
               true AS discount
        FROM bench_q q CROSS JOIN LATERAL generate_series(1, 1 + {_mix_sql("q.j", 56)} % 3) AS g(no)""",
        "x.company_id, x.quote_id, x.line_no",
    )
    run(
        "tilbudslinjer (åpne og avsluttede)",
        f"""
        INSERT INTO quote_lines (company_id, quote_id, line_no, product_id, quantity, unit_price, vat_rate,
                                 width, depth, fabric, colour)
        SELECT * FROM ({lines}) l ORDER BY 2, 3""",
    )


def _lines_sql(world: World, source: str, columns: str) -> str:
    """A SELECT of regular lines (the rules of _line_values): `source` gives rows with `key`
    (index·8 + line number), `dealer` and `discount` (a quote's price); `columns` are passed on."""
    key = "x.key"

    def measure(low: str, high: str, salt: int) -> str:
        lo, hi = f"COALESCE(p.{low}, p.{high})", f"COALESCE(p.{high}, p.{low})"
        return (
            f"CASE WHEN p.{low} IS NOT NULL OR p.{high} IS NOT NULL "
            f"THEN {lo} + 10 * ({_mix_sql(key, salt)} % (({hi} - {lo}) / 10 + 1)) END"
        )

    # OFFSET 0 keeps the subquery whole: each hash is computed once per line, not per product tried.
    return f"""
        SELECT {columns}, p.product_id,
               CASE WHEN x.supply THEN 5 + {_mix_sql(key, 23)} % 36 ELSE 1 + {_mix_sql(key, 23)} % 8 END::int
                   AS quantity,
               CASE WHEN x.discount THEN round(p.price * 95 / 100, 2) ELSE p.price END AS unit_price,
               p.vat AS vat_rate, {measure("min_w", "max_w", 24)} AS width, {measure("min_d", "max_d", 25)} AS depth,
               CASE WHEN cardinality(p.fabrics) > 0
                    THEN p.fabrics[1 + {_mix_sql(key, 26)} % cardinality(p.fabrics)] END AS fabric,
               CASE WHEN cardinality(p.colours) > 0
                    THEN p.colours[1 + {_mix_sql(key, 27)} % cardinality(p.colours)] END AS colour
        FROM (SELECT s.*, (NOT s.dealer AND {_mix_sql("s.key", 21)} % 100 < 60) AS supply,
                     {_mix_sql("s.key", 22)} AS draw
              FROM ({source}) s OFFSET 0) x
        JOIN bench_p p ON p.supply = x.supply
             AND p.idx = x.draw % CASE WHEN x.supply THEN {len(world.supplies)} ELSE {len(world.furniture)} END"""


def _pg_inputs(conn: Connection, world: World) -> None:
    """The World's small parts as temporary tables the SQL joins."""
    conn.execute(
        text("""
        CREATE TEMP TABLE bench_c (ci int PRIMARY KEY, company_id int, dealer bool, approval bool, invoice bool,
                                   first_user int, nusers int, first_addr int, naddr int) ON COMMIT DROP;
        CREATE TEMP TABLE bench_u (id int PRIMARY KEY, name text) ON COMMIT DROP;
        CREATE TEMP TABLE bench_plan (p int PRIMARY KEY, plan_id int, ci int, creator_id int, address_id int,
                                      name text, nlines int) ON COMMIT DROP;
        CREATE TEMP TABLE bench_plan_line (p int, line_no int, product_id int, quantity int) ON COMMIT DROP;
        CREATE TEMP TABLE bench_prod (product_id int PRIMARY KEY, price numeric(12, 2), vat numeric(5, 2))
            ON COMMIT DROP;
        CREATE TEMP TABLE bench_p (supply bool, idx int, product_id int, price numeric(12, 2), vat numeric(5, 2),
                                   min_w int, max_w int, min_d int, max_d int, fabrics text[], colours text[],
                                   PRIMARY KEY (supply, idx)) ON COMMIT DROP""")
    )
    conn.execute(
        text(
            "INSERT INTO bench_c VALUES (:ci, :id, :dealer, :approval, :invoice, :first_user, :nusers, "
            ":first_addr, :naddr)"
        ),
        [
            dict(
                ci=c.ci,
                id=c.id,
                dealer=c.dealer,
                approval=c.approval,
                invoice=c.invoice,
                first_user=c.first_user,
                nusers=c.nusers,
                first_addr=c.first_addr,
                naddr=c.naddr,
            )
            for c in world.companies
        ],
    )
    conn.execute(
        text("INSERT INTO bench_u VALUES (:id, :name)"), [dict(id=uid, name=name) for uid, name in world.users.items()]
    )
    if world.plans:
        conn.execute(
            text("INSERT INTO bench_plan VALUES (:p, :id, :ci, :creator, :address, :name, :nlines)"),
            [
                dict(
                    p=pl.p,
                    id=pl.id,
                    ci=pl.ci,
                    creator=pl.creator_id,
                    address=pl.address_id,
                    name=pl.name,
                    nlines=len(pl.lines),
                )
                for pl in world.plans
            ],
        )
        conn.execute(
            text("INSERT INTO bench_plan_line VALUES (:p, :no, :product, :qty)"),
            [
                dict(p=pl.p, no=no, product=pid, qty=qty)
                for pl in world.plans
                for no, (pid, qty) in enumerate(pl.lines, 1)
            ],
        )
    conn.execute(
        text("INSERT INTO bench_prod VALUES (:id, :price, :vat)"),
        [dict(id=p.id, price=p.price, vat=p.vat) for p in world.products.values()],
    )
    conn.execute(
        text(
            "INSERT INTO bench_p VALUES (:supply, :idx, :id, :price, :vat, :min_w, :max_w, :min_d, "
            ":max_d, :fabrics, :colours)"
        ),
        [
            dict(
                supply=supply,
                idx=i,
                id=p.id,
                price=p.price,
                vat=p.vat,
                min_w=p.min_w,
                max_w=p.max_w,
                min_d=p.min_d,
                max_d=p.max_d,
                fabrics=list(p.fabrics),
                colours=list(p.colours),
            )
            for supply, category in ((True, world.supplies), (False, world.furniture))
            for i, p in enumerate(category)
        ],
    )


# --- indexes, sequences, statistics --------------------------------------------------------------

BIG_TABLES = (
    "orders",
    "order_lines",
    "order_events",
    "shipments",
    "shipment_lines",
    "invoices",
    "quotes",
    "quote_lines",
)


def _drop_plain_indexes(conn: Connection) -> list[str]:
    """Drop the big tables' indexes that back no constraint (rebuilt after the load: faster than
    keeping them up to date row by row); returns their definitions."""
    rows = conn.execute(
        text("""
        SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
        FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid
        WHERE t.relname = ANY(:tables) AND t.relnamespace = 'public'::regnamespace
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)"""),
        {"tables": list(BIG_TABLES)},
    ).all()
    for name, _definition in rows:
        conn.execute(text(f"DROP INDEX {name}"))
    return [definition for _name, definition in rows]


def fix_sequences(conn: Connection) -> None:
    """Move every id sequence past the largest id, so the app's own inserts carry on (PostgreSQL)."""
    owned = conn.execute(
        text("""
        SELECT s.oid::regclass::text, t.relname
        FROM pg_class s JOIN pg_depend d ON d.objid = s.oid AND d.deptype = 'a'
        JOIN pg_class t ON t.oid = d.refobjid
        JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid
        WHERE s.relkind = 'S' AND a.attname = 'id' AND t.relnamespace = 'public'::regnamespace""")
    ).all()
    for sequence, table in owned:
        top = f'(SELECT max(id) FROM "{table}")'
        conn.execute(text(f"SELECT setval('{sequence}', GREATEST({top}, 1), {top} IS NOT NULL)"))


def check_foreign_keys(conn: Connection, tables: Sequence[str] = BIG_TABLES) -> dict[str, int]:
    """Rows whose foreign key names no row, per "table.column -> parent" (empty: all hold)."""
    from flask_appbuilder import Model

    broken = {}
    for name in tables:
        table = Model.metadata.tables[name]
        for fk in table.foreign_keys:
            parent = fk.column.table
            n = int(
                conn.execute(
                    text(
                        f'SELECT count(*) FROM "{name}" c WHERE c."{fk.parent.name}" IS NOT NULL AND NOT EXISTS '
                        f'(SELECT 1 FROM "{parent.name}" p WHERE p."{fk.column.name}" = c."{fk.parent.name}")'
                    )
                ).scalar()
                or 0
            )
            if n:
                broken[f"{name}.{fk.parent.name} -> {parent.name}"] = n
    return broken


# --- entry point ---------------------------------------------------------------------------------


def order_count(conn: Connection) -> int:
    return int(conn.scalar(select(func.count()).select_from(Order.__table__)) or 0)


def load_bench(
    conn: Connection,
    orders: int,
    companies: int | None = None,
    now: dt.datetime | None = None,
    echo: Callable[[str], None] = print,
) -> World:
    """Add the bench world to the database behind `conn`, in the caller's transaction."""
    if orders < 1:
        raise ValueError("orders must be at least 1")
    companies = companies or default_companies(orders)
    now = (now or dt.datetime.now(dt.UTC)).replace(microsecond=0)
    started = time.monotonic()
    postgres = conn.dialect.name == "postgresql"
    echo(f"Benkdata: {orders} ordre, {companies} bedrifter ({conn.dialect.name})")
    world = build_small_tables(conn, orders, companies, now, echo)
    dropped = _drop_plain_indexes(conn) if postgres else []
    if postgres:
        _load_postgresql(conn, world, echo)
    else:
        _load_python(conn, world, echo)
    if postgres:
        for definition in dropped:
            t = time.monotonic()
            conn.execute(text(definition))
            echo(f"  {definition.split(' USING ')[0].removeprefix('CREATE ')} ({time.monotonic() - t:.1f} s)")
        fix_sequences(conn)
        t = time.monotonic()
        broken = check_foreign_keys(conn)
        if broken:
            raise RuntimeError(f"Fremmednøkler uten rad: {broken}")
        echo(f"  fremmednøkler kontrollert ({time.monotonic() - t:.1f} s)")
    t = time.monotonic()
    report_totals.rebuild(conn)  # the rows above bypass the domain: the reports' totals from them
    echo(f"  rapporttall ({time.monotonic() - t:.1f} s)")
    echo(
        "Ferdig: "
        + ", ".join(f"{name} {n}" for name, n in world.counts.items())
        + f" ({time.monotonic() - started:.0f} s)"
    )
    return world


def vacuum_analyze(conn: Connection) -> None:
    """Statistics and a visibility map as a database in use has them (PostgreSQL, an autocommit
    connection): the planner's estimates, and index-only scans, depend on them."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("VACUUM ANALYZE"))
