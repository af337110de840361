"""`portal demo`: a realistic Norwegian demo world, reproducible and idempotent.

* Reproducible: every random choice comes from a `random.Random` / Faker seeded per company, so
  two runs on two machines give the same companies, users, products and orders (only the dates
  move with "now", so the demo always looks current).
* Idempotent: rows are found by their natural key (username, SKU, store name, customer number)
  and only missing ones are created. A company's orders, quotes, budgets ... are created together
  with the company, in one transaction, so a second run adds nothing.

Runs with the ORM outside any request: no tenant scope applies, but the write guard in
app/security.py still checks that every link stays inside one company.
"""

from __future__ import annotations

import datetime as dt
import random
import string
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from typing import Any

from faker import Faker
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from app.domain import quotes as quote_rules
from app.domain import report_totals
from app.domain.formatting import OSLO
from app.domain.lifecycle import assign_number
from app.domain.orders.fulfilment import billing_of
from app.domain.pricing import is_invoice_customer, order_totals
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

DEMO_PASSWORD = "demo1234"
SEED = 20261101

# (username, role, first name, last name, customer number or None). The only logins demo creates.
DEMO_USERS: tuple[tuple[str, str, str, str, str | None], ...] = (
    ("admin", "Admin", "Tone", "Aasen", None),
    ("selger", "Seller", "Per", "Selvik", None),
    ("kundeservice", "CustomerService", "Ingrid", "Dahl", None),
    ("leder", "Manager", "Morten", "Haugen", None),
    ("hansen.admin", "CustomerAdmin", "Kari", "Hansen", "10001"),
    ("hansen.bruker", "CustomerUser", "Jonas", "Eriksen", "10001"),
    ("berg.admin", "CustomerAdmin", "Line", "Berg", "10002"),
    ("berg.bruker", "CustomerUser", "Sondre", "Moe", "10002"),
)
STAFF_DOMAIN = "kundeportal.no"
EXTRA_COMPANIES = 20

# --- Catalogue -----------------------------------------------------------------------------

FABRICS = ["Ull grå", "Ull blå", "Lin natur", "Velur grønn", "Kunstskinn sort"]
WOODS = ["Eik", "Hvitpigmentert eik", "Ask", "Sort"]

# sku, name, price ex. VAT, (min_w, max_w), (min_d, max_d), variants, description
PRODUCTS: tuple[tuple[str, str, str, tuple[int, int] | None, tuple[int, int] | None, dict, str], ...] = (
    (
        "STOL-ERGO",
        "Kontorstol Ergo Pro",
        "4990.00",
        None,
        None,
        {"fabric": FABRICS[:3] + ["Kunstskinn sort"], "colour": ["Sort", "Aluminium"]},
        "Ergonomisk kontorstol med synkronvippe og justerbar korsryggstøtte.",
    ),
    ("STOL-BASIC", "Kontorstol Basic", "1490.00", None, None, {}, "Enkel kontorstol med armlener."),
    (
        "BORD-FLEX",
        "Hev/senk-skrivebord Flex",
        "6490.00",
        (120, 200),
        (60, 90),
        {"colour": ["Hvit", "Eik", "Sort"]},
        "Elektrisk hev/senk-bord med minnefunksjon. Mål i cm.",
    ),
    (
        "SOFA-OSLO",
        "Modulsofa Oslo",
        "18900.00",
        (160, 320),
        (80, 110),
        {"fabric": FABRICS, "colour": ["Eik", "Sort", "Krom"]},
        "Modulsofa produsert på mål. Bredde og dybde i cm.",
    ),
    (
        "SOFA-FJORD",
        "Sofa Fjord 2-seter",
        "12490.00",
        None,
        None,
        {"fabric": FABRICS[:4], "colour": ["Eik", "Sort"]},
        "Kompakt 2-seter med avtakbart trekk.",
    ),
    (
        "LENE-HVILE",
        "Lenestol Hvile",
        "7990.00",
        None,
        None,
        {"fabric": FABRICS, "colour": WOODS},
        "Lenestol med høy rygg.",
    ),
    (
        "BORD-ASK",
        "Møtebord Ask",
        "9900.00",
        (160, 400),
        (90, 120),
        {"colour": WOODS},
        "Møtebord i massiv ask, lages på mål.",
    ),
    ("REOL-MODUL", "Reolsystem Modul", "2290.00", (60, 120), (30, 40), {}, "Reolseksjon, bredde og dybde på mål."),
    ("SKAP-ARKIV", "Arkivskap med lås", "3490.00", None, None, {}, "Arkivskap i stål med fire skuffer."),
    ("LAMPE-LED", "Skrivebordslampe LED", "790.00", None, None, {}, "Dimbar LED-lampe med USB-lading."),
    ("TAVLE-120", "Whiteboard 120 x 90 cm", "1290.00", None, None, {}, "Emaljert, magnetisk tavle."),
    (
        "SKJERM-AKU",
        "Akustikkskjerm for skrivebord",
        "1890.00",
        (80, 180),
        None,
        {"fabric": ["Filt grå", "Filt blå", "Filt grønn"]},
        "Lyddempende bordskjerm. Bredde i cm.",
    ),
    (
        "TEPPE-ULL",
        "Gulvteppe ull 200 x 300 cm",
        "4490.00",
        None,
        None,
        {"colour": ["Naturhvit", "Grå", "Mørk blå"]},
        "Håndvevd ullteppe.",
    ),
    (
        "STOL-KANTINE",
        "Kantinestol Stabel",
        "990.00",
        None,
        None,
        {"colour": ["Hvit", "Sort", "Eik"]},
        "Stablebar kantinestol.",
    ),
    (
        "BORD-KANTINE",
        "Kantinebord",
        "3290.00",
        (120, 180),
        (70, 80),
        {"colour": ["Hvit", "Eik"]},
        "Kantinebord med stålben, mål i cm.",
    ),
    ("PAPIR-A4", "Kopipapir A4 80 g (5 x 500 ark)", "249.00", None, None, {}, "Kopipapir, 2500 ark per eske."),
    ("TONER-SORT", "Tonerkassett sort", "890.00", None, None, {}, "Tonerkassett for laserskrivere."),
    ("PERM-A4", "Ringperm A4 (10 stk)", "199.00", None, None, {}, "Ringperm med 2 ringer."),
    ("KAFFE-1KG", "Kaffe filtermalt 1 kg", "169.00", None, None, {}, "Filtermalt kaffe til kontoret."),
    ("POST-IT", "Selvklebende notatlapper (12 blokker)", "129.00", None, None, {}, "Gule notatlapper 76 x 76 mm."),
)
SUPPLIES = ("PAPIR-A4", "TONER-SORT", "PERM-A4", "KAFFE-1KG", "POST-IT")

STORES: tuple[tuple[str, str, str, str, str], ...] = (
    ("Butikk Oslo Storo", "Vitaminveien 7", "0485", "Oslo", "Man–fre 10–20, lør 10–18"),
    ("Butikk Bergen Åsane", "Liamyrane 9", "5132", "Nyborg", "Man–fre 10–20, lør 10–18"),
    ("Butikk Trondheim Tiller", "Ivar Lykkes veg 10", "7075", "Tiller", "Man–fre 10–20, lør 10–18"),
    ("Butikk Gjøvik", "Industriveien 12", "2815", "Gjøvik", "Man–fre 9–17, lør 10–15"),
)

STREETS = (
    "Storgata",
    "Kirkegata",
    "Industriveien",
    "Strandgata",
    "Sjøgata",
    "Jernbanegata",
    "Parkveien",
    "Nygata",
    "Fjordveien",
    "Havnegata",
    "Kongens gate",
    "Dronningens gate",
    "Løkkeveien",
    "Bryggeveien",
    "Verkstedveien",
    "Næringsveien",
    "Skolegata",
    "Torggata",
)
PLACES = (
    ("0150", "Oslo"),
    ("0484", "Oslo"),
    ("0661", "Oslo"),
    ("1337", "Sandvika"),
    ("1440", "Drøbak"),
    ("1606", "Fredrikstad"),
    ("1710", "Sarpsborg"),
    ("2000", "Lillestrøm"),
    ("2317", "Hamar"),
    ("2609", "Lillehammer"),
    ("3015", "Drammen"),
    ("3110", "Tønsberg"),
    ("3210", "Sandefjord"),
    ("3717", "Skien"),
    ("4006", "Stavanger"),
    ("4306", "Sandnes"),
    ("4610", "Kristiansand"),
    ("4836", "Arendal"),
    ("5003", "Bergen"),
    ("5527", "Haugesund"),
    ("6003", "Ålesund"),
    ("6413", "Molde"),
    ("7010", "Trondheim"),
    ("8006", "Bodø"),
    ("9008", "Tromsø"),
)
TRADES = (
    "Interiør",
    "Møbler",
    "Kontormøbler",
    "Kontorservice",
    "Innredning",
    "Bolig og Interiør",
    "Møbelhus",
    "Kontor og Rekvisita",
)


# --- Small helpers -------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _faker_locale() -> str:
    """Norwegian bokmål: Faker names it `no_NO` (newer releases may accept `nb_NO`)."""
    try:
        Faker("nb_NO")
        return "nb_NO"
    except AttributeError:
        return "no_NO"


def make_org_number(rng: random.Random) -> str:
    """A random organisation number that passes the mod-11 check (validation.py holds the rule)."""
    while True:
        body = str(rng.choice((8, 9))) + "".join(str(rng.randrange(10)) for _ in range(7))
        check = org_number_check_digit(body)
        if check is not None:
            return f"{body}{check}"


def _oslo_month_start(now: dt.datetime) -> dt.datetime:
    local = now.astimezone(OSLO)
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0).astimezone(dt.UTC)


@dataclass
class LinePlan:
    sku: str
    quantity: int
    width: int | None = None
    depth: int | None = None
    fabric: str | None = None
    colour: str | None = None
    unit_price: Decimal | None = None  # None: the product's price


@dataclass
class OrderPlan:
    status: str
    channel: str
    age_days: float
    lines: list[LinePlan]
    created_by: str | None = None  # username
    buyer: str | None = None  # a name for orders without a portal user (EDI, webshop guest)
    address_no: int = 0
    this_month: bool = False  # keep it inside the current month (budgets)
    reason: str | None = None  # why rejected / cancelled
    cancelled_by_customer: bool = False
    carriers: tuple[str, ...] = ("collicare",)
    paid: bool = False
    quote_no: int | None = None  # index of the accepted quote it came from
    standing: bool = False
    reference: str | None = None


@dataclass
class Ctx:
    session: Session
    sm: Any
    now: dt.datetime
    fake: Faker
    users: dict[str, PortalUser] = field(default_factory=dict)
    products: dict[str, Product] = field(default_factory=dict)
    stores: list[Store] = field(default_factory=list)
    created: dict[str, int] = field(default_factory=dict)

    def count(self, kind: str, n: int = 1) -> None:
        self.created[kind] = self.created.get(kind, 0) + n

    def seeded(self, key: str) -> random.Random:
        """A generator of its own per company, and Faker re-seeded the same way: order-independent."""
        seed = SEED * 100_000 + sum(ord(c) * (i + 1) for i, c in enumerate(key))
        self.fake.seed_instance(seed)
        return random.Random(seed)


# --- Entry point ---------------------------------------------------------------------------


def load_demo(session: Session, sm: Any, now: dt.datetime | None = None) -> dict[str, int]:
    """Create whatever part of the demo world is missing; returns how many rows of each kind."""
    ctx = Ctx(session=session, sm=sm, now=now or dt.datetime.now(dt.UTC), fake=Faker(_faker_locale()))
    _ensure_stores(ctx)
    _ensure_products(ctx)
    _ensure_users(ctx, company=None)
    session.flush()  # staff ids are written into order events and inquiry messages
    _ensure_hansen(ctx)
    _ensure_berg(ctx)
    for spec in _extra_company_specs():
        _ensure_extra_company(ctx, spec)
    session.flush()
    report_totals.rebuild(session)  # the demo writes orders and events directly
    session.commit()
    return ctx.created


def has_companies(session: Session) -> bool:
    return bool(session.scalar(select(func.count(Company.id))))


def _ensure_stores(ctx: Ctx) -> None:
    existing = {s.name: s for s in ctx.session.scalars(select(Store))}
    for name, street, postal_code, city, hours in STORES:
        store = existing.get(name)
        if store is None:
            store = Store(name=name, street=street, postal_code=postal_code, city=city, opening_hours=hours)
            ctx.session.add(store)
            ctx.count("stores")
        ctx.stores.append(store)


def _ensure_products(ctx: Ctx) -> None:
    existing = {p.sku: p for p in ctx.session.scalars(select(Product))}
    for sku, name, price, width, depth, variants, description in PRODUCTS:
        product = existing.get(sku)
        if product is None:
            product = Product(
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
            ctx.session.add(product)
            ctx.count("products")
        ctx.products[sku] = product


def _ensure_users(ctx: Ctx, company: Company | None, customer_number: str | None = None) -> None:
    """Create the demo logins of the supplier (company None) or of one named company."""
    password = None
    for username, role_name, first, last, number in DEMO_USERS:
        if number != customer_number:
            continue
        user = ctx.session.scalar(select(PortalUser).where(PortalUser.username == username))
        if user is None:
            role = ctx.sm.find_role(role_name)
            if role is None:
                raise RuntimeError(f"Rollen {role_name} finnes ikke: kjør `flask --app run portal init` først.")
            password = password or generate_password_hash(DEMO_PASSWORD)
            domain = STAFF_DOMAIN if company is None else _domain(company.name)
            user = PortalUser(
                first_name=first,
                last_name=last,
                username=username,
                active=True,
                password=password,
                email=f"{first.lower()}.{last.lower()}@{domain}",
                roles=[role],
                company=company,
                phone=None if company is None else _phone(ctx),
                newsletter=username.endswith(".admin"),
            )
            ctx.session.add(user)
            ctx.count("users")
        ctx.users[username] = user


def _domain(company_name: str) -> str:
    base = company_name.lower().replace(" as", "").replace("&", "og")
    for a, b in (("æ", "ae"), ("ø", "o"), ("å", "a"), (" ", ""), (",", ""), (".", "")):
        base = base.replace(a, b)
    return f"{base}.no"


def _phone(ctx: Ctx) -> str:
    digits = str(ctx.fake.random_int(40_000_000, 99_999_999))
    return f"{digits[:3]} {digits[3:5]} {digits[5:]}"


# --- Building blocks: company, orders and what hangs on them -------------------------------


def _find_company(ctx: Ctx, number: str) -> Company | None:
    return ctx.session.scalar(select(Company).where(Company.customer_number == number))


def _address(company: Company, recipient: str, street: str, postal_code: str, city: str) -> DeliveryAddress:
    return DeliveryAddress(
        company=company, recipient_name=recipient, street=street, postal_code=postal_code, city=city, active=True
    )


def _spread(start: dt.datetime, gaps_hours: Sequence[float], now: dt.datetime) -> list[dt.datetime]:
    """Event times from `start`, squeezed so the last one is not in the future."""
    limit = now - dt.timedelta(minutes=1)
    span = sum(gaps_hours)
    room = max((limit - start).total_seconds() / 3600, 0.0)
    scale = 1.0 if span <= room else room / span
    times, t = [start], start
    for gap in gaps_hours:
        t = t + dt.timedelta(hours=gap * scale)
        times.append(t)
    return times


def _status_path(plan: OrderPlan, approval: bool) -> list[str]:
    """The statuses an order went through to reach `plan.status`."""
    start = ["pending_approval"] if approval else []
    approved = start + ["processing"]
    return {
        "pending_approval": ["pending_approval"],
        "processing": approved,
        "shipped": approved + ["shipped"],
        "partially_delivered": approved + ["partially_delivered"],
        "invoiced": approved + (["partially_delivered"] if len(plan.carriers) > 1 else []) + ["shipped", "invoiced"],
        "rejected": ["pending_approval", "rejected"],
        "cancelled": (start if plan.cancelled_by_customer and approval else approved) + ["cancelled"],
    }[plan.status]


# Typical hours between two statuses (approval in hours, picking in days, invoicing after delivery).
_GAP_HOURS = {
    "processing": 5.0,
    "shipped": 40.0,
    "partially_delivered": 30.0,
    "invoiced": 72.0,
    "cancelled": 3.0,
    "rejected": 6.0,
}


def _build_order(
    ctx: Ctx,
    company: Company,
    addresses: list[DeliveryAddress],
    plan: OrderPlan,
    rng: random.Random,
    quote: Quote | None = None,
    standing: StandingOrder | None = None,
) -> Order:
    """An order as it would have come about, numbered by the live rule (lifecycle.assign_number):
    build a company's orders oldest first (`_oldest_first`), and their numbers rise with time."""
    approval = company.requires_approval
    path = _status_path(plan, approval)
    created = ctx.now - dt.timedelta(days=plan.age_days)
    if plan.this_month:
        month_start = _oslo_month_start(ctx.now)
        floor = month_start + min(dt.timedelta(minutes=5), (ctx.now - month_start) / 4)
        created = max(created, floor)
    times = _spread(created, [_GAP_HOURS[s] * rng.uniform(0.6, 1.4) for s in path[1:]], ctx.now)
    if plan.cancelled_by_customer:
        # A customer may cancel only on the (Oslo) day the order was placed.
        day_end = created.astimezone(OSLO).replace(hour=23, minute=59, second=0, microsecond=0)
        times[-1] = max(times[-2], min(times[-1], day_end.astimezone(dt.UTC)))
    creator = ctx.users.get(plan.created_by) if plan.created_by else None
    order = Order(
        company=company,
        channel=plan.channel,
        status=plan.status,
        delivery_address=addresses[plan.address_no % len(addresses)],
        created_by=creator,
        created_at=created,
        customer_reference=plan.reference,
        quote=quote,
        standing_order=standing,
    )
    if standing is not None:
        order.delivery_date = (created + dt.timedelta(days=2)).astimezone(OSLO).date()
    for no, lp in enumerate(plan.lines, start=1):
        product = ctx.products[lp.sku]
        order.lines.append(
            OrderLine(
                company=company,
                line_no=no,
                product=product,
                quantity=lp.quantity,
                unit_price=lp.unit_price if lp.unit_price is not None else product.unit_price,
                vat_rate=product.vat_rate,
                width=lp.width,
                depth=lp.depth,
                fabric=lp.fabric,
                colour=lp.colour,
            )
        )
    order.total_ex_vat, order.total_vat = order_totals(order.lines)
    _add_events(ctx, order, plan, path, times, creator)
    _deliver(ctx, order, plan, path, times, rng)
    ctx.session.add(order)
    assign_number(order, ctx.session)
    if plan.status == "invoiced":
        _invoice(ctx, order, plan, times[-1])
    ctx.count("orders")
    ctx.count("order_lines", len(order.lines))
    return order


def _creator_name(plan: OrderPlan, creator: PortalUser | None) -> str:
    if creator is not None:
        return creator.full_name
    if plan.channel == "edi":
        return "EDI-integrasjon"
    if plan.channel == "standing_order":
        return "Fast ordre (automatisk)"
    return f"{plan.buyer} (nettbutikk)" if plan.buyer else "Nettbutikken"


def _add_events(
    ctx: Ctx, order: Order, plan: OrderPlan, path: list[str], times: list[dt.datetime], creator: PortalUser | None
) -> None:
    selger, kundeservice = ctx.users["selger"], ctx.users["kundeservice"]
    previous: str | None = None
    for status, at in zip(path, times, strict=True):
        actor: PortalUser | None = kundeservice
        reason: str | None = None
        if previous is None:
            actor = creator
            reason = {
                "quote": "Bestilt fra tilbud",
                "standing_order": "Opprettet fra fast ordre",
                "edi": "Mottatt via EDI",
            }.get(plan.channel)
        elif status == "processing":
            actor, reason = selger, "Godkjent: produserbar og innenfor kredittgrensen"
        elif status == "rejected":
            actor, reason = selger, plan.reason
        elif status == "cancelled":
            actor = creator if plan.cancelled_by_customer and creator else kundeservice
            reason = plan.reason
        elif status == "partially_delivered":
            reason = "Delsending: resten leveres så snart varene er produsert"
        elif status == "shipped":
            reason = "Alle varer er sendt fra lager"
        elif status == "invoiced":
            reason = "Faktura sendt"
        order.events.append(
            OrderEvent(
                company=order.company,
                at=at,
                actor_id=actor.id if actor is not None else None,
                from_status=previous,
                to_status=status,
                actor_name=actor.full_name if actor is not None else _creator_name(plan, None),
                reason=reason,
            )
        )
        previous = status
    ctx.count("order_events", len(path))


def _waybill(carrier: str, rng: random.Random) -> str:
    if carrier == "collicare":
        return "70" + "".join(str(rng.randrange(10)) for _ in range(9))
    return "10" + "".join(str(rng.randrange(10)) for _ in range(8))


def _partial_quantities(lines: Sequence[OrderLine]) -> list[int]:
    """What a part delivery sends: the first line in full, half of the second, nothing of the rest."""
    return [line.quantity if no == 0 else line.quantity // 2 if no == 1 else 0 for no, line in enumerate(lines)]


def _deliver(
    ctx: Ctx, order: Order, plan: OrderPlan, path: list[str], times: list[dt.datetime], rng: random.Random
) -> None:
    """Shipments (with their lines), delivered quantities and line statuses that fit the order's status."""
    lines = order.lines
    if plan.status in ("cancelled", "rejected"):
        # As a live cancel or rejection leaves them: open, nothing delivered; they read as the
        # order does ("Kansellert", "Avvist": labels.line_status).
        for line in lines:
            line.status, line.delivered_quantity = "open", 0
        return
    delivered = [0] * len(lines)
    stages = [s for s in path if s in ("partially_delivered", "shipped")]
    for no, stage in enumerate(stages):
        at = times[path.index(stage)]
        carrier = plan.carriers[min(no, len(plan.carriers) - 1)]
        delivered_at = at + dt.timedelta(hours=rng.uniform(18, 50))
        arrived = delivered_at < ctx.now
        shipment = Shipment(
            company=order.company,
            carrier=carrier,
            waybill_number=_waybill(carrier, rng),
            shipped_at=at,
            delivered_at=delivered_at if arrived else None,
            signed_by=ctx.fake.name() if arrived else None,
        )
        target = _partial_quantities(lines) if stage == "partially_delivered" else [ln.quantity for ln in lines]
        for line, before, after in zip(lines, delivered, target, strict=True):
            if after > before:
                shipment.lines.append(ShipmentLine(company=order.company, order_line=line, quantity=after - before))
        delivered = target
        order.shipments.append(shipment)
        ctx.count("shipments")
    for line, quantity in zip(lines, delivered, strict=True):
        line.delivered_quantity = quantity
        line.status = "delivered" if quantity >= line.quantity else "partially_delivered" if quantity else "open"


def _invoice(ctx: Ctx, order: Order, plan: OrderPlan, at: dt.datetime) -> None:
    invoice_date = at.astimezone(OSLO).date()
    terms = 30 if is_invoice_customer(order.company) else 0
    paid = plan.paid or not is_invoice_customer(order.company)
    order.invoices.append(
        Invoice(
            company=order.company,
            number=f"F{order.number}",
            invoice_date=invoice_date,
            due_date=invoice_date + dt.timedelta(days=terms or 14),
            amount=order.total_ex_vat + order.total_vat,
            paid=paid,
            # Card payments are paid when invoiced; invoice customers pay some days before the due date.
            paid_at=(at if terms == 0 else min(at + dt.timedelta(days=20), ctx.now)) if paid else None,
            **billing_of(order.company),
        )
    )
    ctx.count("invoices")


def _build_quote(
    ctx: Ctx,
    company: Company,
    status: str,
    age_days: float,
    created_by: str,
    end_customer: str,
    lines: list[LinePlan],
    address: DeliveryAddress | None,
    note: str | None = None,
) -> Quote:
    created = ctx.now - dt.timedelta(days=age_days)
    today = ctx.now.astimezone(OSLO).date()
    valid_until = created.astimezone(OSLO).date() + dt.timedelta(days=30)
    if status == "expired":
        valid_until = min(valid_until, today - dt.timedelta(days=3))
    elif status in quote_rules.EDITABLE:
        valid_until = max(valid_until, today + dt.timedelta(days=14))
    quote = Quote(
        company=company,
        status=status,
        end_customer_ref=end_customer,
        valid_until=valid_until,
        delivery_address=address,
        created_by=ctx.users[created_by],
        created_at=created,
        note=note,
    )
    for no, lp in enumerate(lines, start=1):
        product = ctx.products[lp.sku]
        quote.lines.append(
            QuoteLine(
                company=company,
                line_no=no,
                product=product,
                quantity=lp.quantity,
                unit_price=lp.unit_price if lp.unit_price is not None else product.unit_price,
                vat_rate=product.vat_rate,
                width=lp.width,
                depth=lp.depth,
                fabric=lp.fabric,
                colour=lp.colour,
            )
        )
    ctx.count("quotes")
    return quote  # not in the session yet: `_number_quotes` adds and numbers it


def _inquiry(
    ctx: Ctx,
    company: Company,
    subject: str,
    channel: str,
    status: str,
    age_days: float,
    author: str,
    thread: list[tuple[bool, str]],
) -> None:
    """A thread: (from_supplier, text) pairs, customer first; answers by `kundeservice`."""
    customer, staff = ctx.users[author], ctx.users["kundeservice"]
    created = ctx.now - dt.timedelta(days=age_days)
    inquiry = Inquiry(
        company=company, subject=subject, channel=channel, status=status, created_by=customer, created_at=created
    )
    times = _spread(created, (3.0, 20.0, 4.0, 24.0)[: len(thread) - 1], ctx.now)
    for (from_supplier, body), at in zip(thread, times, strict=True):
        who = staff if from_supplier else customer
        # author_id, not a relationship: the model has none; users are flushed before inquiries.
        inquiry.messages.append(
            InquiryMessage(
                company=company,
                author_id=who.id,
                author_name=who.full_name,
                from_supplier=from_supplier,
                body=body,
                created_at=at,
            )
        )
    ctx.session.add(inquiry)
    ctx.count("inquiries")
    ctx.count("inquiry_messages", len(thread))


def _reservation(
    ctx: Ctx,
    company: Company,
    rng: random.Random,
    store_no: int,
    status: str,
    age_days: float,
    user: str,
    items: list[tuple[str, int]],
) -> None:
    created = ctx.now - dt.timedelta(days=age_days)
    deadline = created + dt.timedelta(days=3)
    if status in ("reserved", "ready"):
        deadline = max(deadline, ctx.now + dt.timedelta(days=1))
    code = "".join(rng.choice(string.ascii_uppercase.replace("O", "").replace("I", "") + "23456789") for _ in range(6))
    ctx.session.add(
        PickupReservation(
            company=company,
            store=ctx.stores[store_no % len(ctx.stores)],
            created_by=ctx.users[user],
            status=status,
            pickup_code=code,
            pickup_deadline=deadline,
            created_at=created,
            items=[{"sku": sku, "name": ctx.products[sku].name, "quantity": qty} for sku, qty in items],
        )
    )
    ctx.count("pickup_reservations")


def _oldest_first(plans: list[OrderPlan]) -> list[OrderPlan]:
    """Orders are built (and so numbered) in the order they were placed: numbers rise with time."""
    return sorted(plans, key=lambda p: -p.age_days)


def _number_quotes(ctx: Ctx, quotes: list[Quote]) -> list[Quote]:
    """Add a company's quotes oldest first, each numbered by the live rule (quotes.number_quote)."""
    for quote in sorted(quotes, key=lambda q: q.created_at):
        ctx.session.add(quote)
        quote_rules.number_quote(ctx.session, quote)
    return quotes


def _flag_over_budget(orders: list[Order], username: str, limit: Decimal, since: dt.datetime) -> None:
    """Mark the order that took the user past the month's limit (soft limit: it was still placed)."""
    spent = Decimal("0")
    mine = [
        o
        for o in orders
        if o.created_by is not None
        and o.created_by.username == username
        and o.created_at >= since
        and o.status not in ("cancelled", "rejected")
    ]
    for order in sorted(mine, key=lambda o: o.created_at):
        spent += order.total_ex_vat
        order.over_budget = spent > limit


# --- Hansen Interiør AS (dealer, approval) -------------------------------------------------


def _ensure_hansen(ctx: Ctx) -> None:
    number = "10001"
    company = _find_company(ctx, number)
    if company is not None:
        _ensure_users(ctx, company, number)
        return
    rng = ctx.seeded(number)
    company = Company(
        customer_number=number,
        name="Hansen Interiør AS",
        org_number="914378125",
        postal_street="Postboks 412 Sentrum",
        postal_code="2803",
        postal_city="Gjøvik",
        kind="dealer",
        payment_terms="invoice",
        credit_limit=Decimal("200000.00"),
        requires_approval=True,
        email="post@hanseninterior.no",
        phone="61 17 42 00",
        active=True,
        created_at=ctx.now - dt.timedelta(days=900),
    )
    ctx.session.add(company)
    ctx.count("companies")
    _ensure_users(ctx, company, number)
    addresses = [
        _address(company, "Hansen Interiør AS – lager", "Hunnsvegen 62", "2821", "Gjøvik"),
        _address(company, "Hansen Interiør AS – butikk Hamar", "Torggata 18", "2317", "Hamar"),
        _address(company, "Hansen Interiør AS – butikk Lillehammer", "Storgata 70", "2609", "Lillehammer"),
    ]
    ctx.session.add_all(addresses)
    ctx.count("delivery_addresses", len(addresses))
    ctx.session.flush()

    sofa = LinePlan("SOFA-OSLO", 1, width=240, depth=95, fabric="Ull grå", colour="Eik")
    quotes = [
        _build_quote(
            ctx,
            company,
            "accepted",
            24,
            "selger",
            "Tannlegene på Torget, Gjøvik",
            [
                LinePlan("SOFA-OSLO", 1, width=280, depth=100, fabric="Lin natur", colour="Sort"),
                LinePlan("LENE-HVILE", 1, fabric="Ull blå", colour="Eik"),
            ],
            addresses[0],
            note="Levering etter avtale med kunden.",
        ),
        _build_quote(
            ctx,
            company,
            "sent",
            5,
            "selger",
            "Advokatfirmaet Moe & Lie, Hamar",
            [
                LinePlan("BORD-ASK", 1, width=320, depth=110, colour="Ask"),
                LinePlan("STOL-ERGO", 10, fabric="Ull grå", colour="Sort"),
            ],
            addresses[1],
        ),
        _build_quote(
            ctx,
            company,
            "draft",
            1,
            "hansen.bruker",
            "Familien Nordby, Biri",
            [LinePlan("SOFA-FJORD", 1, fabric="Velur grønn", colour="Eik"), LinePlan("TEPPE-ULL", 1, colour="Grå")],
            addresses[0],
        ),
        _build_quote(
            ctx,
            company,
            "expired",
            70,
            "hansen.admin",
            "Gjøvik Frisk Treningssenter",
            [
                LinePlan("BORD-KANTINE", 6, width=160, depth=80, colour="Hvit"),
                LinePlan("STOL-KANTINE", 24, colour="Sort"),
            ],
            addresses[0],
        ),
        _build_quote(
            ctx,
            company,
            "declined",
            40,
            "selger",
            "Biri Hotell",
            [LinePlan("LENE-HVILE", 12, fabric="Lin natur", colour="Hvitpigmentert eik")],
            addresses[2],
        ),
    ]
    _number_quotes(ctx, quotes)
    accepted = quotes[0]

    standing = StandingOrder(
        company=company,
        name="Ukentlig kontorrekvisita til lageret",
        delivery_address=addresses[0],
        created_by=ctx.users["hansen.admin"],
        frequency="weekly",
        weekday=0,
        start_date=_monday_before(ctx.now.astimezone(OSLO).date() - dt.timedelta(weeks=10)),
        active=True,
        created_at=ctx.now - dt.timedelta(weeks=10, days=2),
    )
    for sku, qty in (("PAPIR-A4", 10), ("PERM-A4", 4), ("KAFFE-1KG", 6), ("TONER-SORT", 2)):
        standing.lines.append(StandingOrderLine(company=company, product=ctx.products[sku], quantity=qty))
    ctx.session.add(standing)
    ctx.count("standing_orders")

    plans = [
        OrderPlan(
            "pending_approval",
            "webshop",
            0.05,
            [sofa, LinePlan("LENE-HVILE", 1, fabric="Ull grå", colour="Eik")],
            created_by="hansen.bruker",
            this_month=True,
            reference="Butikk Gjøvik – utstilling",
        ),
        OrderPlan(
            "pending_approval",
            "seller",
            1.2,
            [
                LinePlan("BORD-ASK", 1, width=240, depth=100, colour="Eik"),
                LinePlan("STOL-ERGO", 1, fabric="Ull blå", colour="Sort"),
            ],
            created_by="selger",
            address_no=1,
            reference="Hamar kommune – møterom 3",
        ),
        OrderPlan(
            "processing",
            "webshop",
            2.0,
            [
                LinePlan("BORD-FLEX", 2, width=160, depth=80, colour="Hvit"),
                LinePlan("SKJERM-AKU", 2, width=140, fabric="Filt grå"),
            ],
            created_by="hansen.bruker",
            this_month=True,
            reference="Kontor Hunnsvegen",
        ),
        OrderPlan(
            "processing",
            "quote",
            3.0,
            accepted_lines(accepted),
            created_by="hansen.admin",
            quote_no=0,
            reference=accepted.end_customer_ref,
        ),
        OrderPlan(
            "processing",
            "phone",
            6.0,
            [LinePlan("SOFA-FJORD", 1, fabric="Lin natur", colour="Sort")],
            created_by="selger",
            address_no=2,
            reference="Tlf. bestilling Kari",
        ),
        OrderPlan(
            "shipped",
            "seller",
            12.0,
            [LinePlan("STOL-KANTINE", 8, colour="Eik"), LinePlan("BORD-KANTINE", 2, width=180, depth=80, colour="Eik")],
            created_by="selger",
            carriers=("collicare",),
            reference="Lillehammer Folkehøgskole",
        ),
        OrderPlan(
            "partially_delivered",
            "edi",
            20.0,
            [LinePlan("REOL-MODUL", 3, width=100, depth=35), LinePlan("SKAP-ARKIV", 2), LinePlan("LAMPE-LED", 4)],
            buyer="EDI",
            carriers=("schenker",),
            reference="EDI 4500123871",
        ),
        OrderPlan(
            "invoiced",
            "webshop",
            45.0,
            [
                LinePlan("TEPPE-ULL", 2, colour="Naturhvit"),
                LinePlan("LENE-HVILE", 2, fabric="Velur grønn", colour="Eik"),
            ],
            created_by="hansen.bruker",
            carriers=("schenker",),
            paid=True,
            reference="Kunde Berit Lund",
        ),
        OrderPlan(
            "invoiced",
            "edi",
            75.0,
            [
                LinePlan("STOL-ERGO", 2, fabric="Kunstskinn sort", colour="Aluminium"),
                LinePlan("BORD-FLEX", 1, width=140, depth=70, colour="Sort"),
            ],
            buyer="EDI",
            carriers=("collicare", "schenker"),
            paid=False,
            reference="EDI 4500119004",
        ),
        OrderPlan(
            "invoiced",
            "standing_order",
            9.0,
            [
                LinePlan(sku, qty)
                for sku, qty in (("PAPIR-A4", 10), ("PERM-A4", 4), ("KAFFE-1KG", 6), ("TONER-SORT", 2))
            ],
            standing=True,
            carriers=("collicare",),
            paid=False,
        ),
        OrderPlan(
            "cancelled",
            "webshop",
            15.0,
            [LinePlan("SOFA-OSLO", 1, width=200, depth=90, fabric="Ull blå", colour="Krom")],
            created_by="hansen.bruker",
            cancelled_by_customer=True,
            reason="Feil mål – bestiller på nytt med riktig bredde",
        ),
        OrderPlan(
            "cancelled",
            "phone",
            33.0,
            [LinePlan("TAVLE-120", 3), LinePlan("LAMPE-LED", 6)],
            created_by="selger",
            reason="Kunden ringte: prosjektet er utsatt",
        ),
        OrderPlan(
            "rejected",
            "webshop",
            8.0,
            [LinePlan("SOFA-OSLO", 3, width=300, depth=110, fabric="Velur grønn", colour="Sort")],
            created_by="hansen.admin",
            reason="Over kredittgrensen: forfalte fakturaer må betales før ordren kan godkjennes",
        ),
    ]
    orders = []
    for plan in _oldest_first(plans):
        quote = quotes[plan.quote_no] if plan.quote_no is not None else None
        order = _build_order(
            ctx, company, addresses, plan, rng, quote=quote, standing=standing if plan.standing else None
        )
        orders.append(order)

    user_budget = Decimal("15000.00")
    ctx.session.add_all(
        [
            Budget(
                company=company,
                user=ctx.users["hansen.bruker"],
                period="month",
                amount=user_budget,
                active=True,
                created_at=ctx.now - dt.timedelta(days=120),
            ),
            Budget(
                company=company,
                user=None,
                period="quarter",
                amount=Decimal("250000.00"),
                active=True,
                created_at=ctx.now - dt.timedelta(days=120),
            ),
        ]
    )
    ctx.count("budgets", 2)
    _flag_over_budget(orders, "hansen.bruker", user_budget, _oslo_month_start(ctx.now))
    ctx.session.flush()

    _inquiry(
        ctx,
        company,
        "Leveringstid på Modulsofa Oslo",
        "chat",
        "closed",
        30,
        "hansen.bruker",
        [
            (False, "Hei! Hva er leveringstiden på Modulsofa Oslo i Lin natur nå?"),
            (True, "Hei Jonas, leveringstiden er for tiden 6–7 uker fra godkjent ordre."),
            (False, "Flott, takk for raskt svar!"),
        ],
    )
    _inquiry(
        ctx,
        company,
        "Fakturakopi for ordre i september",
        "contact_form",
        "answered",
        6,
        "hansen.admin",
        [
            (False, "Vi finner ikke fakturaen for EDI-ordren 4500119004. Kan dere sende en kopi?"),
            (True, "Hei Kari, fakturakopien ligger nå under Ordreoversikt på ordren. Si fra om noe mangler."),
        ],
    )
    _inquiry(
        ctx,
        company,
        "Reklamasjon: riper i bordplate",
        "portal",
        "open",
        0.5,
        "hansen.bruker",
        [
            (False, "Et av kantinebordene fra forrige levering har dype riper i bordplaten. Bilde kan ettersendes."),
        ],
    )

    _reservation(ctx, company, rng, 3, "reserved", 0.3, "hansen.bruker", [("LAMPE-LED", 2), ("POST-IT", 5)])
    _reservation(ctx, company, rng, 0, "ready", 1.5, "hansen.admin", [("STOL-ERGO", 1)])
    _reservation(ctx, company, rng, 3, "collected", 20, "hansen.bruker", [("TAVLE-120", 1)])
    _reservation(ctx, company, rng, 1, "expired", 40, "hansen.bruker", [("TEPPE-ULL", 1)])


def accepted_lines(quote: Quote) -> list[LinePlan]:
    """An accepted quote's lines with the prices frozen, as the order that came from it."""
    return [
        LinePlan(
            line.product.sku,
            line.quantity,
            width=line.width,
            depth=line.depth,
            fabric=line.fabric,
            colour=line.colour,
            unit_price=line.unit_price,
        )
        for line in quote.lines
    ]


def _monday_before(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


# --- Berg Kontorservice AS (webshop, card, no approval) -------------------------------------


def _ensure_berg(ctx: Ctx) -> None:
    number = "10002"
    company = _find_company(ctx, number)
    if company is not None:
        _ensure_users(ctx, company, number)
        return
    rng = ctx.seeded(number)
    company = Company(
        customer_number=number,
        name="Berg Kontorservice AS",
        org_number="986532145",
        postal_street="Sandviksbodene 12",
        postal_code="5035",
        postal_city="Bergen",
        kind="webshop",
        payment_terms="card",
        credit_limit=Decimal("0.00"),
        requires_approval=False,
        email="ordre@bergkontorservice.no",
        phone="55 31 20 90",
        active=True,
        created_at=ctx.now - dt.timedelta(days=400),
    )
    ctx.session.add(company)
    ctx.count("companies")
    _ensure_users(ctx, company, number)
    addresses = [
        _address(company, "Berg Kontorservice AS", "Sandviksbodene 12", "5035", "Bergen"),
        _address(company, "Berg Kontorservice AS – avd. Åsane", "Åsane senter 42", "5116", "Ulset"),
    ]
    ctx.session.add_all(addresses)
    ctx.count("delivery_addresses", len(addresses))
    ctx.session.flush()

    quotes = [
        _build_quote(
            ctx,
            company,
            "accepted",
            55,
            "selger",
            "Berg Kontorservice – nytt møterom",
            [
                LinePlan("BORD-ASK", 1, width=280, depth=110, colour="Hvitpigmentert eik"),
                LinePlan("STOL-ERGO", 8, fabric="Ull grå", colour="Aluminium"),
            ],
            addresses[0],
        ),
        _build_quote(
            ctx,
            company,
            "sent",
            3,
            "selger",
            "Resepsjon Åsane",
            [LinePlan("SOFA-FJORD", 1, fabric="Ull blå", colour="Sort"), LinePlan("TEPPE-ULL", 1, colour="Mørk blå")],
            addresses[1],
        ),
        _build_quote(
            ctx,
            company,
            "draft",
            0.5,
            "berg.admin",
            "Hjemmekontor ansatte",
            [LinePlan("BORD-FLEX", 5, width=140, depth=70, colour="Hvit")],
            addresses[0],
        ),
        _build_quote(
            ctx,
            company,
            "expired",
            90,
            "selger",
            "Kantine 2. etasje",
            [LinePlan("STOL-KANTINE", 16, colour="Hvit")],
            addresses[0],
        ),
    ]
    _number_quotes(ctx, quotes)
    plans = [
        OrderPlan(
            "processing",
            "webshop",
            0.1,
            [LinePlan("PAPIR-A4", 20), LinePlan("POST-IT", 10)],
            created_by="berg.bruker",
            this_month=True,
        ),
        OrderPlan(
            "processing",
            "phone",
            4.0,
            [LinePlan("TONER-SORT", 6), LinePlan("PERM-A4", 5)],
            created_by="selger",
            address_no=1,
            reference="Ringt inn av Line",
        ),
        OrderPlan(
            "shipped",
            "webshop",
            7.0,
            [LinePlan("STOL-ERGO", 2, fabric="Ull blå", colour="Sort"), LinePlan("LAMPE-LED", 2)],
            created_by="berg.admin",
            carriers=("collicare",),
        ),
        OrderPlan(
            "partially_delivered",
            "edi",
            14.0,
            [LinePlan("PAPIR-A4", 40), LinePlan("TONER-SORT", 8), LinePlan("KAFFE-1KG", 12)],
            buyer="EDI",
            carriers=("schenker",),
            reference="EDI 7700451",
        ),
        OrderPlan(
            "invoiced",
            "webshop",
            30.0,
            [LinePlan("SKJERM-AKU", 4, width=120, fabric="Filt blå"), LinePlan("STOL-BASIC", 4)],
            created_by="berg.bruker",
            carriers=("collicare",),
            paid=True,
        ),
        OrderPlan(
            "invoiced",
            "quote",
            50.0,
            [],
            created_by="berg.admin",
            quote_no=0,
            carriers=("schenker",),
            paid=True,
            reference=quotes[0].end_customer_ref,
        ),
        OrderPlan(
            "invoiced",
            "seller",
            90.0,
            [LinePlan("REOL-MODUL", 8, width=80, depth=30), LinePlan("SKAP-ARKIV", 2)],
            created_by="selger",
            carriers=("schenker", "collicare"),
            paid=True,
        ),
        OrderPlan(
            "cancelled",
            "webshop",
            10.0,
            [LinePlan("KAFFE-1KG", 30)],
            created_by="berg.bruker",
            cancelled_by_customer=True,
            reason="Bestilt dobbelt ved en feil",
        ),
        OrderPlan(
            "cancelled",
            "phone",
            25.0,
            [LinePlan("TAVLE-120", 2)],
            created_by="selger",
            reason="Varen var utsolgt; kunden valgte å vente til neste sesong",
        ),
    ]
    plans[5].lines = accepted_lines(quotes[0])
    for plan in _oldest_first(plans):
        quote = quotes[plan.quote_no] if plan.quote_no is not None else None
        _build_order(ctx, company, addresses, plan, rng, quote=quote)
    ctx.session.add(
        Budget(
            company=company,
            user=ctx.users["berg.bruker"],
            period="quarter",
            amount=Decimal("40000.00"),
            active=True,
            created_at=ctx.now - dt.timedelta(days=200),
        )
    )
    ctx.count("budgets")
    ctx.session.flush()

    _inquiry(
        ctx,
        company,
        "Kan vi få fast levering av kaffe?",
        "chat",
        "answered",
        3,
        "berg.bruker",
        [
            (False, "Hei, kan vi få levert kaffe fast hver måned?"),
            (True, "Hei Sondre! Fast ordre er forbeholdt fakturakunder. Ta kontakt om dere vil søke om faktura."),
        ],
    )
    _inquiry(
        ctx,
        company,
        "Endre leveringsadresse",
        "contact_form",
        "closed",
        60,
        "berg.admin",
        [
            (False, "Vi har flyttet avdelingen i Åsane. Ny adresse er Åsane senter 42."),
            (True, "Takk, adressen er oppdatert."),
            (False, "Supert, takk!"),
        ],
    )
    _inquiry(
        ctx,
        company,
        "Manglende toner i levering",
        "portal",
        "open",
        1,
        "berg.admin",
        [
            (False, "EDI-ordren 7700451 kom uten tonerkassettene. Når kommer resten?"),
        ],
    )
    _reservation(ctx, company, rng, 1, "ready", 0.8, "berg.bruker", [("PAPIR-A4", 4)])
    _reservation(ctx, company, rng, 1, "reserved", 0.2, "berg.admin", [("LAMPE-LED", 1), ("POST-IT", 2)])
    _reservation(ctx, company, rng, 0, "collected", 12, "berg.bruker", [("STOL-BASIC", 2)])
    _reservation(ctx, company, rng, 1, "cancelled", 35, "berg.bruker", [("TEPPE-ULL", 1)])


# --- The 20 other companies -----------------------------------------------------------------


@dataclass
class CompanySpec:
    number: str
    name: str
    org_number: str
    kind: str
    street: str
    postal_code: str
    city: str


def _extra_company_specs() -> list[CompanySpec]:
    """Always generated in full from one seed (independent of what the database holds)."""
    rng = random.Random(SEED)
    fake = Faker(_faker_locale())
    fake.seed_instance(SEED)
    specs, names, orgs = [], {"Hansen Interiør AS", "Berg Kontorservice AS"}, {"914378125", "986532145"}
    for i in range(EXTRA_COMPANIES):
        name = ""
        while not name or name in names:
            name = f"{fake.last_name()} {rng.choice(TRADES)} AS"
        org = ""
        while not org or org in orgs:
            org = make_org_number(rng)
        names.add(name)
        orgs.add(org)
        postal_code, city = rng.choice(PLACES)
        specs.append(
            CompanySpec(
                number=str(10003 + i),
                name=name,
                org_number=org,
                kind="dealer" if i % 2 == 0 else "webshop",
                street=f"{rng.choice(STREETS)} {rng.randint(1, 120)}",
                postal_code=postal_code,
                city=city,
            )
        )
    return specs


_STATUS_WEIGHTS = {
    "dealer": {
        "invoiced": 5,
        "shipped": 2,
        "partially_delivered": 1,
        "processing": 2,
        "pending_approval": 2,
        "cancelled": 1,
        "rejected": 1,
    },
    "webshop": {"invoiced": 5, "shipped": 2, "partially_delivered": 1, "processing": 2, "cancelled": 1},
}
_REASONS = {
    "rejected": ("Kredittgrensen er overskredet", "Forfalte fakturaer må betales før nye ordre godkjennes"),
    "cancelled": ("Kunden ønsket å kansellere", "Varen er utgått – erstattes av ny ordre"),
}
_AGE_DAYS = {
    "pending_approval": (0.1, 6),
    "processing": (0.2, 8),
    "shipped": (3, 20),
    "partially_delivered": (5, 30),
    "invoiced": (20, 180),
    "cancelled": (1, 120),
    "rejected": (2, 120),
}


def _random_line(ctx: Ctx, rng: random.Random, supplies: bool) -> LinePlan:
    sku = rng.choice(SUPPLIES) if supplies else rng.choice([p[0] for p in PRODUCTS if p[0] not in SUPPLIES])
    product = ctx.products[sku]
    variants = product.variants or {}
    quantity = rng.randint(5, 40) if supplies else rng.randint(1, 8)

    def within(low: int | None, high: int | None) -> int | None:
        return None if low is None or high is None else rng.randrange(low, high + 1, 10)

    return LinePlan(
        sku,
        quantity,
        width=within(product.min_width, product.max_width),
        depth=within(product.min_depth, product.max_depth),
        fabric=rng.choice(variants["fabric"]) if variants.get("fabric") else None,
        colour=rng.choice(variants["colour"]) if variants.get("colour") else None,
    )


def _ensure_extra_company(ctx: Ctx, spec: CompanySpec) -> None:
    if _find_company(ctx, spec.number) is not None:
        return
    rng = ctx.seeded(spec.number)
    dealer = spec.kind == "dealer"
    company = Company(
        customer_number=spec.number,
        name=spec.name,
        org_number=spec.org_number,
        postal_street=spec.street,
        postal_code=spec.postal_code,
        postal_city=spec.city,
        kind=spec.kind,
        payment_terms="invoice" if dealer or rng.random() < 0.3 else "card",
        credit_limit=Decimal(rng.choice((100_000, 150_000, 250_000, 400_000))) if dealer else Decimal("0"),
        requires_approval=dealer,
        email=f"post@{_domain(spec.name)}",
        phone=_phone(ctx),
        active=True,
        created_at=ctx.now - dt.timedelta(days=rng.randint(200, 1500)),
    )
    if is_invoice_customer(company) and not dealer:
        company.credit_limit = Decimal("50000.00")
    address = _address(company, spec.name, spec.street, spec.postal_code, spec.city)
    ctx.session.add_all([company, address])
    ctx.count("companies")
    ctx.count("delivery_addresses")
    weights = _STATUS_WEIGHTS[spec.kind]
    channels = ("seller", "phone", "edi", "webshop") if dealer else ("webshop", "webshop", "phone", "edi")
    plans = []
    for _ in range(rng.randint(3, 7)):
        status = rng.choices(list(weights), weights=list(weights.values()))[0]
        channel = rng.choice(channels)
        supplies = not dealer and rng.random() < 0.6
        lines = [
            _random_line(ctx, rng, supplies) for _ in range(rng.randint(2 if status == "partially_delivered" else 1, 4))
        ]
        low, high = _AGE_DAYS[status]
        plans.append(
            OrderPlan(
                status=status,
                channel=channel,
                age_days=round(rng.uniform(low, high), 2),
                lines=lines,
                created_by="selger" if channel in ("seller", "phone") else None,
                buyer=ctx.fake.name() if channel == "webshop" else None,
                reference=f"PO {rng.randint(1000, 99999)}" if channel in ("edi", "seller") else None,
                reason=rng.choice(_REASONS[status]) if status in _REASONS else None,
                carriers=(rng.choice(("collicare", "schenker")),),
                paid=rng.random() < 0.8,
            )
        )
    for plan in _oldest_first(plans):
        _build_order(ctx, company, [address], plan, rng)
    ctx.session.flush()
