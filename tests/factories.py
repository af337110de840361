"""A small, fixed world for tests: two customer companies and one user per role.

Built with the ORM outside any request (no tenant scope), like the CLI would.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from typing import Any

from flask_appbuilder.security.sqla.models import Role
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from app.domain.orders.fulfilment import billing_of
from app.models import (
    ApprovalRule,
    AuditEntry,
    Budget,
    Company,
    CompanyChange,
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
    ShoppingList,
    ShoppingListLine,
    StandingOrder,
    StandingOrderLine,
    Store,
    utcnow,
)

PASSWORD = "demo1234"


@lru_cache(maxsize=1)
def password_hash() -> str:
    """The world's users' password, hashed with few PBKDF2 rounds: every login checks it, and with
    the production default (scrypt, a tenth of a second or more per check) the 500-odd logins of a
    run add up to minutes. Passwords the app sets itself are hashed as in production."""
    return generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")


@dataclass
class Tenant:
    company: Company
    admin: PortalUser
    user: PortalUser
    address: DeliveryAddress
    order: Order
    quote: Quote
    budget: Budget
    inquiry: Inquiry
    reservation: PickupReservation
    standing_order: StandingOrder
    invoice: Invoice
    shipment: Shipment
    audit_entry: AuditEntry | None = None  # the company's entry in the audit log (build_world)
    shopping_list: ShoppingList | None = None  # a Handleliste made by the company's user
    # Godkjenning hos dere: a rule that is off, so the world's orders are placed as without rules.
    approval_rule: ApprovalRule | None = None


@dataclass
class World:
    a: Tenant
    b: Tenant
    staff: dict[str, PortalUser] = field(default_factory=dict)
    product: Product | None = None
    configurable: Product | None = None
    store: Store | None = None

    def user(self, role: str) -> PortalUser:
        """The user to log in as for a role; customer roles belong to company A."""
        if role == "CustomerAdmin":
            return self.a.admin
        if role == "CustomerUser":
            return self.a.user
        return self.staff[role]


def make_user(session: Session, sm: Any, username: str, role: str, company: Company | None = None) -> PortalUser:
    user = PortalUser(
        first_name=username.split(".")[0].capitalize(),
        last_name="Testesen",
        username=username,
        email=f"{username}@example.no",
        active=True,
        password=password_hash(),
        company=company,
        roles=[session.scalars(select(Role).where(Role.name == role)).one()],
    )
    session.add(user)
    return user


def _tenant(
    session: Session, sm: Any, prefix: str, number: str, product: Product, store: Store, dealer: bool
) -> Tenant:
    company = Company(
        customer_number=number,
        name=f"{prefix.capitalize()} AS",
        org_number="923609016",
        postal_street="Storgata 1",
        postal_code="0155",
        postal_city="Oslo",
        kind="dealer" if dealer else "webshop",
        payment_terms="invoice" if dealer else "card",
        credit_limit=Decimal("200000.00"),
        requires_approval=dealer,
    )
    session.add(company)
    admin = make_user(session, sm, f"{prefix}.admin", "CustomerAdmin", company)
    user = make_user(session, sm, f"{prefix}.bruker", "CustomerUser", company)
    address = DeliveryAddress(
        company=company, recipient_name=f"{prefix} lager", street="Lagerveien 2", postal_code="2815", city="Gjøvik"
    )
    order = Order(
        company=company,
        number=f"{number}-1",
        channel="webshop",
        status="processing",
        delivery_address=address,
        created_by=user,
        total_ex_vat=Decimal("1000.00"),
        total_vat=Decimal("250.00"),
    )
    order.lines.append(OrderLine(company=company, line_no=1, product=product, quantity=2, unit_price=Decimal("500.00")))
    order.events.append(OrderEvent(company=company, from_status=None, to_status="processing", actor_name="Test"))
    quote = Quote(
        company=company,
        number=f"T{number}-1",
        status="sent",
        valid_until=dt.date.today() + dt.timedelta(days=30),
        end_customer_ref="Ola Nordmann",
        delivery_address=address,
        created_by=user,
    )
    quote.lines.append(QuoteLine(company=company, line_no=1, product=product, quantity=1, unit_price=Decimal("500.00")))
    budget = Budget(company=company, user=user, period="month", amount=Decimal("10000.00"))
    inquiry = Inquiry(company=company, subject=f"Spørsmål fra {prefix}", channel="portal", created_by=user)
    inquiry.messages.append(InquiryMessage(company=company, author_name="Test", body="Hei!"))
    reservation = PickupReservation(
        company=company,
        store=store,
        status="reserved",
        pickup_code="AB12",
        pickup_deadline=utcnow() + dt.timedelta(days=2),
        items=[{"sku": product.sku, "name": product.name, "quantity": 1}],
    )
    standing = StandingOrder(
        company=company,
        name="Ukentlig påfyll",
        delivery_address=address,
        frequency="weekly",
        weekday=0,
        start_date=dt.date.today(),
    )
    standing.lines.append(StandingOrderLine(company=company, product=product, quantity=3))
    invoice = Invoice(
        company=company,
        number=f"F{number}-1",
        order=order,
        invoice_date=dt.date.today(),
        due_date=dt.date.today() + dt.timedelta(days=14),
        amount=Decimal("1250.00"),
        **billing_of(company),
    )
    shipment = Shipment(company=company, order=order, carrier="collicare", waybill_number=f"CC{number}")
    shipment.lines.append(ShipmentLine(company=company, order_line=order.lines[0], quantity=1))
    session.add(
        CompanyChange(
            company=company, actor_name="Kundeservice", field="postal_city", old_value="Bergen", new_value="Oslo"
        )
    )
    rule = ApprovalRule(company=company, kind="amount", key="amount", amount=Decimal("5000.00"), active=False)
    session.add_all([address, order, quote, budget, inquiry, reservation, standing, invoice, shipment, rule])
    tenant = Tenant(
        company,
        admin,
        user,
        address,
        order,
        quote,
        budget,
        inquiry,
        reservation,
        standing,
        invoice,
        shipment,
        approval_rule=rule,
    )
    # Handlelister: one list with a line, made by the company's (non-admin) user.
    tenant.shopping_list = ShoppingList(company=company, name=f"Faste varer {prefix}", created_by=user)
    tenant.shopping_list.lines.append(ShoppingListLine(company=company, product=product, quantity=4))
    session.add(tenant.shopping_list)
    return tenant


def billing_for(session: Session, company_id: int) -> dict[str, str | None]:
    """What an invoice of the company is issued to (for invoices a test makes itself)."""
    company = session.get(Company, company_id)
    assert company is not None
    return billing_of(company)


def build_world(session: Session, sm: Any) -> World:
    product = Product(sku="STOL-1", name="Kontorstol Basic", unit_price=Decimal("500.00"))
    configurable = Product(
        sku="SOFA-1",
        name="Sofa Modul",
        unit_price=Decimal("12000.00"),
        min_width=80,
        max_width=240,
        min_depth=60,
        max_depth=120,
        variants={"fabric": ["Ull grå", "Lin natur"], "colour": ["Eik", "Svart"]},
    )
    store = Store(name="Butikk Oslo", street="Karl Johans gate 1", postal_code="0154", city="Oslo")
    session.add_all([product, configurable, store])
    a = _tenant(session, sm, "hansen", "10001", product, store, dealer=True)
    b = _tenant(session, sm, "berg", "10002", product, store, dealer=False)
    staff = {
        role: make_user(session, sm, name, role)
        for role, name in (
            ("Admin", "admin"),
            ("Seller", "selger"),
            ("CustomerService", "kundeservice"),
            ("Manager", "leder"),
        )
    }
    session.commit()
    # One audit log entry per company (the log is not TenantScoped: company_id once the ids exist).
    for tenant in (a, b):
        tenant.audit_entry = AuditEntry(
            action="company_changed",
            outcome="ok",
            actor_name="Kundeservice",
            target_type="company",
            target_id=str(tenant.company.id),
            company_id=tenant.company.id,
            details={"change": "updated", "fields": {"postal_city": {"old": "Bergen", "new": "Oslo"}}},
        )
        session.add(tenant.audit_entry)
    session.commit()
    return World(a=a, b=b, staff=staff, product=product, configurable=configurable, store=store)
