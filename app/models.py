"""SQLAlchemy models of Kundeportal (typed, on Flask-AppBuilder's Model and metadata).

Every tenant-owned model carries `company_id` through `TenantScoped`; `app.tenancy` scopes reads
and guards writes on that column. Money is `Numeric(12, 2)` / Decimal; times are UTC.
"""

from __future__ import annotations

import datetime as dt
import enum
import secrets
from decimal import Decimal
from typing import Any

from flask_appbuilder import Model
from flask_appbuilder.security.sqla.models import User
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, declared_attr, mapped_column, relationship

MONEY = Numeric(12, 2)


class UTCDateTime(TypeDecorator):
    """Stores aware datetimes as UTC and always returns them aware (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _check_in(column: str, enum_cls: type[enum.Enum], name: str) -> CheckConstraint:
    values = ", ".join(f"'{m.value}'" for m in enum_cls)
    return CheckConstraint(f"{column} IN ({values})", name=name)


# --- Code values (labels in app/domain/labels.py) -------------------------------------------


class CompanyKind(str, enum.Enum):
    dealer = "dealer"
    webshop = "webshop"


class PaymentTerms(str, enum.Enum):
    invoice = "invoice"
    card = "card"


class OrderStatus(str, enum.Enum):
    pending_internal_approval = "pending_internal_approval"  # the company's own approval rules
    pending_approval = "pending_approval"
    processing = "processing"
    shipped = "shipped"
    partially_delivered = "partially_delivered"
    invoiced = "invoiced"
    cancelled = "cancelled"
    rejected = "rejected"


class OrderChannel(str, enum.Enum):
    webshop = "webshop"
    phone = "phone"
    seller = "seller"
    edi = "edi"
    standing_order = "standing_order"
    quote = "quote"


class LineStatus(str, enum.Enum):
    open = "open"
    partially_delivered = "partially_delivered"
    delivered = "delivered"
    cancelled = "cancelled"


class QuoteStatus(str, enum.Enum):
    draft = "draft"
    sent = "sent"
    accepted = "accepted"
    declined = "declined"
    expired = "expired"


class Carrier(str, enum.Enum):
    collicare = "collicare"
    schenker = "schenker"
    postnord = "postnord"
    bring = "bring"
    own = "own"


class Frequency(str, enum.Enum):
    weekly = "weekly"
    every_n_weeks = "every_n_weeks"
    monthly = "monthly"


class InquiryChannel(str, enum.Enum):
    chat = "chat"
    contact_form = "contact_form"
    portal = "portal"


class InquiryStatus(str, enum.Enum):
    open = "open"
    answered = "answered"
    closed = "closed"


class ReservationStatus(str, enum.Enum):
    reserved = "reserved"
    ready = "ready"
    collected = "collected"
    expired = "expired"
    cancelled = "cancelled"


class BudgetPeriod(str, enum.Enum):
    month = "month"
    quarter = "quarter"
    year = "year"


# --- Companies and users --------------------------------------------------------------------


class Company(Model):
    __tablename__ = "companies"
    __table_args__ = (
        _check_in("kind", CompanyKind, "ck_companies_kind"),
        _check_in("payment_terms", PaymentTerms, "ck_companies_payment_terms"),
        CheckConstraint("credit_limit >= 0", name="ck_companies_credit_limit"),
        Index("ix_companies_name", "name"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_number: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    org_number: Mapped[str] = mapped_column(String(9))
    postal_street: Mapped[str | None] = mapped_column(String(200))
    postal_code: Mapped[str | None] = mapped_column(String(4))
    postal_city: Mapped[str | None] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20), default=CompanyKind.webshop.value)
    payment_terms: Mapped[str] = mapped_column(String(20), default=PaymentTerms.card.value)
    credit_limit: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))
    requires_approval: Mapped[bool] = mapped_column(Boolean, default=False)
    email: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(30))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    delivery_addresses: Mapped[list[DeliveryAddress]] = relationship(
        back_populates="company", order_by="DeliveryAddress.id"
    )

    def __repr__(self) -> str:
        return f"{self.name} ({self.customer_number})"


def new_security_stamp() -> str:
    return secrets.token_hex(16)


class PortalUser(User):
    """FAB's user, extended: a customer user belongs to exactly one company."""

    __tablename__ = "ab_user"

    company_id: Mapped[int | None] = mapped_column(ForeignKey("companies.id"), nullable=True, index=True)
    phone: Mapped[str | None] = mapped_column(String(30), nullable=True)
    newsletter: Mapped[bool | None] = mapped_column(Boolean, default=False, nullable=True)
    # Changes when the password changes or the user is deactivated: sessions and API tokens carry
    # the stamp they were issued with, so a new stamp ends them all at once.
    security_stamp: Mapped[str | None] = mapped_column(String(32), nullable=True, default=new_security_stamp)
    # TOTP (app/domain/mfa.py): the base32 secret, when enrolment was confirmed, and the last time
    # step used (a code is accepted once). A new secret waits in `mfa_pending_secret` until a code
    # from the app confirms it (it is never used for a login before that).
    mfa_secret: Mapped[str | None] = mapped_column(String(64), nullable=True)
    mfa_enabled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    mfa_last_step: Mapped[int | None] = mapped_column(Integer, nullable=True)
    mfa_pending_secret: Mapped[str | None] = mapped_column(String(64), nullable=True)
    company: Mapped[Company | None] = relationship(foreign_keys=[company_id])

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


class MfaRecoveryCode(Model):
    """One-time recovery codes of a user's two-factor login, stored hashed."""

    __tablename__ = "mfa_recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("ab_user.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


# --- Sessions, tokens and throttles (app/domain/sessions.py, app/domain/throttle.py) ----------


class LoginSession(Model):
    """A browser session on the server: the cookie carries only its id, so logout and the idle and
    absolute lifetimes end it here, whatever copy of the cookie is left."""

    __tablename__ = "login_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("ab_user.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    client_addr: Mapped[str | None] = mapped_column(String(64))


class RevokedToken(Model):
    """API tokens revoked by logout (the jti blocklist every API request checks)."""

    __tablename__ = "revoked_tokens"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int | None] = mapped_column(Integer)
    token_type: Mapped[str] = mapped_column(String(10))
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    revoked_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class SecurityVersion(Model):
    """One row whose `n` changes with every change to roles and permissions (database triggers on
    FAB's ab_role, ab_permission, ab_view_menu, ab_permission_view and ab_permission_view_role) and
    whose `users_n` changes when a user is added or removed or changes name, company or active flag
    (migration 0016). Each request reads it with its user, so a process may keep a role set's
    permissions (app/security.py) and a list's choice of users (app/views/fragments.py) until they
    change. `token` is new for every database made, so a rebuilt or restored database never matches
    what a process kept from another."""

    __tablename__ = "security_version"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token: Mapped[str] = mapped_column(String(32))
    n: Mapped[int] = mapped_column(BigInteger, default=0)
    users_n: Mapped[int] = mapped_column(BigInteger, default=0)


class ThrottleHit(Model):
    """One counted attempt (failed login, password check, export ...) in a throttle bucket, when
    the counts are kept in the database (without Redis)."""

    __tablename__ = "throttle_hits"
    __table_args__ = (Index("ix_throttle_hits_bucket_key_at", "bucket", "key", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    bucket: Mapped[str] = mapped_column(String(40))
    key: Mapped[str] = mapped_column(String(300))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


# --- Audit log and idempotency (app/domain/audit.py, app/domain/idempotency.py) -------------


class AuditEntry(Model):
    """Append-only: who did what to which row, when, for which company, from where, and how it went.
    The database refuses UPDATE and DELETE of a row (triggers in migration 0007)."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_company_at", "company_id", "at"),
        Index("ix_audit_log_action_at", "action", "at"),
        Index("ix_audit_log_actor_at", "actor_id", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    # No foreign keys: an entry outlives the user or company it names.
    actor_id: Mapped[int | None] = mapped_column(Integer)
    actor_name: Mapped[str | None] = mapped_column(String(256))
    action: Mapped[str] = mapped_column(String(60))
    outcome: Mapped[str] = mapped_column(String(20), default="ok")
    target_type: Mapped[str | None] = mapped_column(String(60))
    target_id: Mapped[str | None] = mapped_column(String(64))
    company_id: Mapped[int | None] = mapped_column(Integer)
    client_addr: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    # The company the entry belongs to, for showing its name (read-only: no foreign key, above).
    company: Mapped[Company | None] = relationship(
        Company, primaryjoin="foreign(AuditEntry.company_id) == Company.id", viewonly=True
    )


class IdempotencyKey(Model):
    """A key (the order form's one-time token, or the API's Idempotency-Key header) used once per
    user and scope: a second submit with the same key finds the first order instead of making one."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("user_id", "scope", "key", name="uq_idempotency_keys_user_scope_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("ab_user.id", ondelete="CASCADE"))
    scope: Mapped[str] = mapped_column(String(20))
    key: Mapped[str] = mapped_column(String(200))
    # SHA-256 of the request body the key was first used with (API): the same key with another
    # body is refused instead of answered with an order the client did not ask for.
    fingerprint: Mapped[str | None] = mapped_column(String(64))
    # What the key made: an order (the order form, the API) or a standing order (its form).
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    standing_order_id: Mapped[int | None] = mapped_column(ForeignKey("standing_orders.id", ondelete="CASCADE"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class TenantScoped:
    """Mixin for tenant-owned rows: `company_id` is set from the user and guarded in security.py."""

    @declared_attr
    def company_id(cls) -> Mapped[int]:
        return mapped_column(ForeignKey("companies.id"), index=True, nullable=False)

    @declared_attr
    def company(cls) -> Mapped[Company]:
        return relationship(Company, foreign_keys=[cls.company_id])  # type: ignore[list-item]  # declared_attr: the column here, typed Mapped


class DeliveryAddress(TenantScoped, Model):
    __tablename__ = "delivery_addresses"
    __table_args__ = (CheckConstraint("length(postal_code) = 4", name="ck_delivery_addresses_postal_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    recipient_name: Mapped[str] = mapped_column(String(200))
    street: Mapped[str] = mapped_column(String(200))
    postal_code: Mapped[str] = mapped_column(String(4))
    city: Mapped[str] = mapped_column(String(100))
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    company: Mapped[Company] = relationship(back_populates="delivery_addresses")

    def __repr__(self) -> str:
        return f"{self.recipient_name}, {self.street}, {self.postal_code} {self.city}"


class CompanyChange(TenantScoped, Model):
    """One changed company field: who, when, old → new (shown on the company)."""

    __tablename__ = "company_changes"
    __table_args__ = (Index("ix_company_changes_company_at", "company_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("ab_user.id"))
    actor_name: Mapped[str] = mapped_column(String(200))
    field: Mapped[str] = mapped_column(String(60))
    old_value: Mapped[str | None] = mapped_column(Text)
    new_value: Mapped[str | None] = mapped_column(Text)


# --- Catalogue ------------------------------------------------------------------------------


class Product(Model):
    __tablename__ = "products"
    __table_args__ = (
        CheckConstraint("unit_price >= 0", name="ck_products_unit_price"),
        CheckConstraint("vat_rate >= 0 AND vat_rate <= 100", name="ck_products_vat_rate"),
        CheckConstraint("min_width IS NULL OR max_width IS NULL OR min_width <= max_width", name="ck_products_width"),
        CheckConstraint("min_depth IS NULL OR max_depth IS NULL OR min_depth <= max_depth", name="ck_products_depth"),
        Index("ix_products_name", "name"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sku: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    unit_price: Mapped[Decimal] = mapped_column(MONEY)
    vat_rate: Mapped[Decimal] = mapped_column(Numeric(5, 2), default=Decimal("25.00"))
    min_width: Mapped[int | None] = mapped_column(Integer)
    max_width: Mapped[int | None] = mapped_column(Integer)
    min_depth: Mapped[int | None] = mapped_column(Integer)
    max_depth: Mapped[int | None] = mapped_column(Integer)
    # Allowed variants, e.g. {"fabric": ["Ull grå", ...], "colour": ["Eik", ...]}; empty = none.
    variants: Mapped[dict | None] = mapped_column(JSON, default=dict)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    @property
    def is_configurable(self) -> bool:
        return bool(self.min_width or self.min_depth or (self.variants or {}))

    def __repr__(self) -> str:
        return f"{self.sku} {self.name}"


class Store(Model):
    __tablename__ = "stores"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    street: Mapped[str] = mapped_column(String(200))
    postal_code: Mapped[str] = mapped_column(String(4))
    city: Mapped[str] = mapped_column(String(100))
    opening_hours: Mapped[str | None] = mapped_column(String(200))

    def __repr__(self) -> str:
        return self.name


# --- Quotes and orders ----------------------------------------------------------------------


class Quote(TenantScoped, Model):
    __tablename__ = "quotes"
    __table_args__ = (
        _check_in("status", QuoteStatus, "ck_quotes_status"),
        Index("ix_quotes_company_created", "company_id", "created_at"),
        # The staff's quote list, newest first (FAB adds the id as a tie-breaker to every sort).
        Index("ix_quotes_created_at", "created_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    status: Mapped[str] = mapped_column(String(20), default=QuoteStatus.draft.value, index=True)
    end_customer_ref: Mapped[str | None] = mapped_column(String(200))
    valid_until: Mapped[dt.date] = mapped_column(Date)
    delivery_address_id: Mapped[int | None] = mapped_column(ForeignKey("delivery_addresses.id"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("ab_user.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    note: Mapped[str | None] = mapped_column(Text)

    delivery_address: Mapped[DeliveryAddress | None] = relationship()
    created_by: Mapped[PortalUser | None] = relationship(foreign_keys=[created_by_id])
    lines: Mapped[list[QuoteLine]] = relationship(
        back_populates="quote", order_by="QuoteLine.line_no", cascade="all, delete-orphan"
    )
    order: Mapped[Order | None] = relationship(back_populates="quote", uselist=False)

    def __repr__(self) -> str:
        return self.number


class QuoteLine(TenantScoped, Model):
    __tablename__ = "quote_lines"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="ck_quote_lines_quantity"),
        CheckConstraint("unit_price >= 0", name="ck_quote_lines_unit_price"),
        UniqueConstraint("quote_id", "line_no", name="uq_quote_lines_line_no"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    quote_id: Mapped[int] = mapped_column(ForeignKey("quotes.id", ondelete="CASCADE"), index=True)
    line_no: Mapped[int] = mapped_column(Integer)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price: Mapped[Decimal] = mapped_column(MONEY)
    vat_rate: Mapped[Decimal] = mapped_column(Numeric(5, 2), default=Decimal("25.00"))
    width: Mapped[int | None] = mapped_column(Integer)
    depth: Mapped[int | None] = mapped_column(Integer)
    fabric: Mapped[str | None] = mapped_column(String(100))
    colour: Mapped[str | None] = mapped_column(String(100))

    quote: Mapped[Quote] = relationship(back_populates="lines")
    product: Mapped[Product] = relationship()

    @property
    def line_total(self) -> Decimal:
        return (self.unit_price * self.quantity).quantize(Decimal("0.01"))


class Order(TenantScoped, Model):
    __tablename__ = "orders"
    __table_args__ = (
        _check_in("status", OrderStatus, "ck_orders_status"),
        _check_in("channel", OrderChannel, "ck_orders_channel"),
        CheckConstraint("total_ex_vat >= 0 AND total_vat >= 0", name="ck_orders_totals"),
        Index("ix_orders_company_created", "company_id", "created_at"),
        # By status, newest or oldest first (the approval queue): the page's ids from the index alone.
        Index("ix_orders_status_created", "status", "created_at", "id"),
        # The staff's order list, newest first, whole or by channel (FAB adds the id as a
        # tie-breaker to every sort: with it in the index no sort is left to do).
        Index("ix_orders_created_at", "created_at", "id"),
        Index("ix_orders_channel_created", "channel", "created_at", "id"),
        # A company's open orders, summed for the credit check (approval queue, top customers), from
        # the index alone on PostgreSQL.
        Index(
            "ix_orders_company_status", "company_id", "status", postgresql_include=["id", "total_ex_vat", "total_vat"]
        ),
        # Prefix search on the order number ("10023%") uses this index on PostgreSQL too.
        Index("ix_orders_number_prefix", "number", postgresql_ops={"number": "text_pattern_ops"}),
        UniqueConstraint("standing_order_id", "delivery_date", name="uq_orders_standing_delivery"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    channel: Mapped[str] = mapped_column(String(20), default=OrderChannel.webshop.value)
    status: Mapped[str] = mapped_column(String(30), default=OrderStatus.processing.value)
    delivery_address_id: Mapped[int | None] = mapped_column(ForeignKey("delivery_addresses.id"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("ab_user.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    customer_reference: Mapped[str | None] = mapped_column(String(200))
    total_ex_vat: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))
    total_vat: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))
    over_budget: Mapped[bool] = mapped_column(Boolean, default=False)
    quote_id: Mapped[int | None] = mapped_column(ForeignKey("quotes.id"), unique=True)
    standing_order_id: Mapped[int | None] = mapped_column(ForeignKey("standing_orders.id"))
    delivery_date: Mapped[dt.date | None] = mapped_column(Date)

    delivery_address: Mapped[DeliveryAddress | None] = relationship()
    created_by: Mapped[PortalUser | None] = relationship(foreign_keys=[created_by_id])
    lines: Mapped[list[OrderLine]] = relationship(
        back_populates="order", order_by="OrderLine.line_no", cascade="all, delete-orphan"
    )
    events: Mapped[list[OrderEvent]] = relationship(
        back_populates="order", order_by="OrderEvent.at", cascade="all, delete-orphan"
    )
    shipments: Mapped[list[Shipment]] = relationship(back_populates="order", order_by="Shipment.shipped_at")
    invoices: Mapped[list[Invoice]] = relationship(back_populates="order", order_by="Invoice.invoice_date")
    quote: Mapped[Quote | None] = relationship(back_populates="order")
    standing_order: Mapped[StandingOrder | None] = relationship(back_populates="orders")

    @property
    def total_inc_vat(self) -> Decimal:
        return self.total_ex_vat + self.total_vat

    def __repr__(self) -> str:
        return self.number


class OrderLine(TenantScoped, Model):
    __tablename__ = "order_lines"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="ck_order_lines_quantity"),
        CheckConstraint("unit_price >= 0", name="ck_order_lines_unit_price"),
        CheckConstraint("delivered_quantity >= 0 AND delivered_quantity <= quantity", name="ck_order_lines_delivered"),
        _check_in("status", LineStatus, "ck_order_lines_status"),
        UniqueConstraint("order_id", "line_no", name="uq_order_lines_line_no"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    line_no: Mapped[int] = mapped_column(Integer)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price: Mapped[Decimal] = mapped_column(MONEY)
    vat_rate: Mapped[Decimal] = mapped_column(Numeric(5, 2), default=Decimal("25.00"))
    width: Mapped[int | None] = mapped_column(Integer)
    depth: Mapped[int | None] = mapped_column(Integer)
    fabric: Mapped[str | None] = mapped_column(String(100))
    colour: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(30), default=LineStatus.open.value)
    delivered_quantity: Mapped[int] = mapped_column(Integer, default=0)

    order: Mapped[Order] = relationship(back_populates="lines")
    product: Mapped[Product] = relationship()

    @property
    def line_total(self) -> Decimal:
        return (self.unit_price * self.quantity).quantize(Decimal("0.01"))


class OrderEvent(TenantScoped, Model):
    """Status history: who, when, from, to, why."""

    __tablename__ = "order_events"
    __table_args__ = (
        Index("ix_order_events_order_at", "order_id", "at"),
        # The reports: status changes of a period, and decisions on approval (from -> to) by time.
        Index("ix_order_events_at_status", "at", "to_status"),
        Index("ix_order_events_transition", "from_status", "to_status", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("ab_user.id"))
    actor_name: Mapped[str | None] = mapped_column(String(200))
    from_status: Mapped[str | None] = mapped_column(String(30))
    to_status: Mapped[str] = mapped_column(String(30))
    reason: Mapped[str | None] = mapped_column(Text)

    order: Mapped[Order] = relationship(back_populates="events")


class Shipment(TenantScoped, Model):
    __tablename__ = "shipments"
    __table_args__ = (_check_in("carrier", Carrier, "ck_shipments_carrier"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    carrier: Mapped[str] = mapped_column(String(20))
    waybill_number: Mapped[str | None] = mapped_column(String(60), index=True)
    shipped_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    signed_by: Mapped[str | None] = mapped_column(String(200))

    order: Mapped[Order] = relationship(back_populates="shipments")
    lines: Mapped[list[ShipmentLine]] = relationship(back_populates="shipment", cascade="all, delete-orphan")


class ShipmentLine(TenantScoped, Model):
    """How much of an order line went out with a shipment (partial deliveries)."""

    __tablename__ = "shipment_lines"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="ck_shipment_lines_quantity"),
        UniqueConstraint("shipment_id", "order_line_id", name="uq_shipment_lines_line"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipments.id", ondelete="CASCADE"), index=True)
    order_line_id: Mapped[int] = mapped_column(ForeignKey("order_lines.id"), index=True)
    quantity: Mapped[int] = mapped_column(Integer)

    shipment: Mapped[Shipment] = relationship(back_populates="lines")
    order_line: Mapped[OrderLine] = relationship()


class Invoice(TenantScoped, Model):
    __tablename__ = "invoices"
    __table_args__ = (
        CheckConstraint("amount >= 0", name="ck_invoices_amount"),
        # Unpaid invoices of a company, summed for the credit check from the index alone (PostgreSQL).
        Index("ix_invoices_company_paid", "company_id", "paid", postgresql_include=["order_id", "amount"]),
        # Kontoutskrift: a company's unpaid invoices by due date ("Forfalt" on the start page from the
        # index alone), and its payments of a period.
        Index("ix_invoices_company_paid_due", "company_id", "paid", "due_date", postgresql_include=["amount"]),
        Index("ix_invoices_company_paid_at", "company_id", "paid_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    invoice_date: Mapped[dt.date] = mapped_column(Date)
    due_date: Mapped[dt.date] = mapped_column(Date)
    amount: Mapped[Decimal] = mapped_column(MONEY)
    paid: Mapped[bool] = mapped_column(Boolean, default=False)
    # When the payment was registered (app/domain/statements.py register_payment); NULL while unpaid.
    paid_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # Whom it was issued to, as the company stood that day (billing_of in app/domain/orders/
    # fulfilment.py): the invoice copy prints these, not today's company details.
    billing_name: Mapped[str] = mapped_column(String(200))
    billing_customer_number: Mapped[str] = mapped_column(String(20))
    billing_org_number: Mapped[str] = mapped_column(String(9))
    billing_street: Mapped[str | None] = mapped_column(String(200))
    billing_postal_code: Mapped[str | None] = mapped_column(String(4))
    billing_city: Mapped[str | None] = mapped_column(String(100))

    order: Mapped[Order] = relationship(back_populates="invoices")


# --- Standing orders ------------------------------------------------------------------------


class StandingOrder(TenantScoped, Model):
    __tablename__ = "standing_orders"
    __table_args__ = (
        _check_in("frequency", Frequency, "ck_standing_orders_frequency"),
        CheckConstraint("interval_weeks IS NULL OR interval_weeks >= 1", name="ck_standing_orders_interval"),
        CheckConstraint("weekday IS NULL OR (weekday >= 0 AND weekday <= 6)", name="ck_standing_orders_weekday"),
        CheckConstraint(
            "day_of_month IS NULL OR (day_of_month >= 1 AND day_of_month <= 31)", name="ck_standing_orders_dom"
        ),
        CheckConstraint("end_date IS NULL OR end_date >= start_date", name="ck_standing_orders_dates"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    delivery_address_id: Mapped[int] = mapped_column(ForeignKey("delivery_addresses.id"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("ab_user.id"))
    frequency: Mapped[str] = mapped_column(String(20), default=Frequency.weekly.value)
    interval_weeks: Mapped[int | None] = mapped_column(Integer)
    weekday: Mapped[int | None] = mapped_column(Integer)
    day_of_month: Mapped[int | None] = mapped_column(Integer)
    start_date: Mapped[dt.date] = mapped_column(Date)
    end_date: Mapped[dt.date | None] = mapped_column(Date)
    paused_until: Mapped[dt.date | None] = mapped_column(Date)
    skip_date: Mapped[dt.date | None] = mapped_column(Date)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # A delivery planned on a public holiday is delivered on the next working day.
    holiday_shift: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    delivery_address: Mapped[DeliveryAddress] = relationship()
    created_by: Mapped[PortalUser | None] = relationship(foreign_keys=[created_by_id])
    lines: Mapped[list[StandingOrderLine]] = relationship(
        back_populates="standing_order", cascade="all, delete-orphan", order_by="StandingOrderLine.id"
    )
    orders: Mapped[list[Order]] = relationship(back_populates="standing_order")

    def __repr__(self) -> str:
        return self.name


class StandingOrderLine(TenantScoped, Model):
    __tablename__ = "standing_order_lines"
    __table_args__ = (CheckConstraint("quantity > 0", name="ck_standing_order_lines_quantity"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    standing_order_id: Mapped[int] = mapped_column(ForeignKey("standing_orders.id", ondelete="CASCADE"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    quantity: Mapped[int] = mapped_column(Integer)
    width: Mapped[int | None] = mapped_column(Integer)
    depth: Mapped[int | None] = mapped_column(Integer)
    fabric: Mapped[str | None] = mapped_column(String(100))
    colour: Mapped[str | None] = mapped_column(String(100))

    standing_order: Mapped[StandingOrder] = relationship(back_populates="lines")
    product: Mapped[Product] = relationship()


# --- Inquiries, click and collect, budgets --------------------------------------------------


class Inquiry(TenantScoped, Model):
    __tablename__ = "inquiries"
    __table_args__ = (
        _check_in("channel", InquiryChannel, "ck_inquiries_channel"),
        _check_in("status", InquiryStatus, "ck_inquiries_status"),
        Index("ix_inquiries_status_created", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subject: Mapped[str] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(20), default=InquiryChannel.portal.value)
    status: Mapped[str] = mapped_column(String(20), default=InquiryStatus.open.value)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("ab_user.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    created_by: Mapped[PortalUser | None] = relationship(foreign_keys=[created_by_id])
    messages: Mapped[list[InquiryMessage]] = relationship(
        back_populates="inquiry", order_by="InquiryMessage.created_at", cascade="all, delete-orphan"
    )

    def __repr__(self) -> str:
        return self.subject


class InquiryMessage(TenantScoped, Model):
    __tablename__ = "inquiry_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    inquiry_id: Mapped[int] = mapped_column(ForeignKey("inquiries.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("ab_user.id"))
    author_name: Mapped[str] = mapped_column(String(200))
    from_supplier: Mapped[bool] = mapped_column(Boolean, default=False)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    inquiry: Mapped[Inquiry] = relationship(back_populates="messages")


class PickupReservation(TenantScoped, Model):
    __tablename__ = "pickup_reservations"
    __table_args__ = (
        _check_in("status", ReservationStatus, "ck_pickup_reservations_status"),
        Index("ix_pickup_reservations_company_status", "company_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("ab_user.id"))
    status: Mapped[str] = mapped_column(String(20), default=ReservationStatus.reserved.value)
    pickup_code: Mapped[str] = mapped_column(String(12))
    pickup_deadline: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    # Reserved items: [{"sku": ..., "name": ..., "quantity": n}]
    items: Mapped[list] = mapped_column(JSON, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    store: Mapped[Store] = relationship()
    created_by: Mapped[PortalUser | None] = relationship(foreign_keys=[created_by_id])


class Budget(TenantScoped, Model):
    """Bruksgrense: a soft spending limit per company, optionally per user, per period."""

    __tablename__ = "budgets"
    __table_args__ = (
        _check_in("period", BudgetPeriod, "ck_budgets_period"),
        CheckConstraint("amount >= 0", name="ck_budgets_amount"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("ab_user.id"), index=True)
    period: Mapped[str] = mapped_column(String(10), default=BudgetPeriod.month.value)
    amount: Mapped[Decimal] = mapped_column(MONEY)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[PortalUser | None] = relationship(foreign_keys=[user_id])


# --- Mail -----------------------------------------------------------------------------------


class MailOutbox(Model):
    """Mail written in the same transaction as the change that causes it; sent by `portal send-mail`."""

    __tablename__ = "mail_outbox"
    __table_args__ = (
        CheckConstraint("attempts >= 0", name="ck_mail_outbox_attempts"),
        Index("ix_mail_outbox_pending", "sent_at", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    to_address: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(300))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text)
    # Set when a mail must go out at most once (e.g. "budget 7 exceeded in 2026-11").
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


TENANT_MODELS: tuple[type[Any], ...] = (
    DeliveryAddress,
    CompanyChange,
    Quote,
    QuoteLine,
    Order,
    OrderLine,
    OrderEvent,
    Shipment,
    ShipmentLine,
    Invoice,
    StandingOrder,
    StandingOrderLine,
    Inquiry,
    InquiryMessage,
    PickupReservation,
    Budget,
)


# --- report totals (kept by app/domain/report_totals.py in the transaction of each change) --------


class OrderDayTotal(Model):
    """Per Oslo calendar day, channel and status: the orders placed that day that are now in the
    status (count and sum ex. VAT), and how many status changes into it happened that day."""

    __tablename__ = "order_day_totals"

    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    channel: Mapped[str] = mapped_column(String(20), primary_key=True)
    status: Mapped[str] = mapped_column(String(30), primary_key=True)
    placed: Mapped[int] = mapped_column(Integer, default=0)
    placed_ex_vat: Mapped[Decimal] = mapped_column(Numeric(16, 2), default=Decimal("0"))
    entered: Mapped[int] = mapped_column(Integer, default=0)


class CompanyMonthTotal(Model):
    """Per Oslo calendar month (its first day), company, orderer (0: none) and status: the orders
    placed that month that are now in the status, count and sum ex. VAT."""

    __tablename__ = "company_month_totals"
    __table_args__ = (
        # A range of months in some statuses, read from the index alone (top customers, budgets).
        Index(
            "ix_company_month_totals_month_status",
            "month",
            "status",
            postgresql_include=["company_id", "creator_id", "orders", "total_ex_vat"],
        ),
    )

    month: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    company_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    creator_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(30), primary_key=True)
    orders: Mapped[int] = mapped_column(Integer, default=0)
    total_ex_vat: Mapped[Decimal] = mapped_column(Numeric(16, 2), default=Decimal("0"))


class ApprovalWait(Model):
    """An order's wait in pending approval, from its (latest) entry: open while it waits, then the
    seller's decision (approved: processing, or rejected) with the whole seconds it waited and the
    Oslo ISO week (its Monday) of the decision. A wait ended by a cancellation is removed."""

    __tablename__ = "approval_waits"
    __table_args__ = (
        Index("ix_approval_waits_week", "week", "seconds", postgresql_include=["decided_at", "outcome"]),
        Index(
            "ix_approval_waits_open",
            "entered_at",
            postgresql_where=text("decided_at IS NULL"),
            sqlite_where=text("decided_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    entered_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[str | None] = mapped_column(String(30))
    seconds: Mapped[int | None] = mapped_column(Integer)
    week: Mapped[dt.date | None] = mapped_column(Date)


# --- Handlelister (shopping lists; rules in app/domain/shopping_lists.py) -------------------


class ShoppingList(TenantScoped, Model):
    """A named list of lines a company's users order from again and again; kept by its creator and
    the company's customer admins, read and used by every user of the company."""

    __tablename__ = "shopping_lists"
    __table_args__ = (
        # One name once per company (also what makes "new list" race-safe); the list is sorted by it.
        UniqueConstraint("company_id", "name", name="uq_shopping_lists_company_name"),
        # Supplier staff's list of every company's lists, by name.
        Index("ix_shopping_lists_name", "name"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("ab_user.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    created_by: Mapped[PortalUser | None] = relationship(foreign_keys=[created_by_id])
    lines: Mapped[list[ShoppingListLine]] = relationship(
        back_populates="shopping_list", cascade="all, delete-orphan", order_by="ShoppingListLine.id"
    )

    def __repr__(self) -> str:
        return self.name


class ShoppingListLine(TenantScoped, Model):
    """A product with quantity, size and variants, as an order line has them (no price: ordering
    from the list takes the catalogue's price of the day)."""

    __tablename__ = "shopping_list_lines"
    __table_args__ = (CheckConstraint("quantity > 0", name="ck_shopping_list_lines_quantity"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    shopping_list_id: Mapped[int] = mapped_column(ForeignKey("shopping_lists.id", ondelete="CASCADE"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    quantity: Mapped[int] = mapped_column(Integer)
    width: Mapped[int | None] = mapped_column(Integer)
    depth: Mapped[int | None] = mapped_column(Integer)
    fabric: Mapped[str | None] = mapped_column(String(100))
    colour: Mapped[str | None] = mapped_column(String(100))

    shopping_list: Mapped[ShoppingList] = relationship(back_populates="lines")
    product: Mapped[Product] = relationship()


TENANT_MODELS = (*TENANT_MODELS, ShoppingList, ShoppingListLine)
# --- notices (the navbar's bell) and mail choices (app/domain/notices.py) ---------------------------


class Notice(Model):
    """One notice to one user ("Ordre 100012 er godkjent"), written in the transaction of the change.
    Per user, not per company: a colleague never reads it, so it carries no company_id and is not a
    tenant row; every read filters on `user_id` = the logged-in user (app/domain/notices.py)."""

    __tablename__ = "notices"
    __table_args__ = (
        # The bell's latest notices and the list /varsler/ (newest first, keyset on id).
        Index("ix_notices_user_id", "user_id", "id"),
        # The unread count: only unread rows are in it, so it stays small whatever the history.
        Index(
            "ix_notices_unread",
            "user_id",
            "id",
            postgresql_where=text("read_at IS NULL"),
            sqlite_where=text("read_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("ab_user.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(40))
    # What it is about, shown after the kind's label: an order number, an inquiry's subject, a plan's name.
    subject: Mapped[str] = mapped_column(String(200))
    # A path inside the portal (the row the notice is about).
    link: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)


class MailChoice(Model):
    """A user's choice of mail for one kind of notice; no row: the kind's default."""

    __tablename__ = "mail_choices"
    __table_args__ = (UniqueConstraint("user_id", "kind", name="uq_mail_choices_user_kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("ab_user.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(40))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    changed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


# Rows that belong to one user, not to a company: read only through the user's own id (never a
# tenant row readable by colleagues). tests/test_tenancy_guard.py classifies every model by these.
USER_OWNED_MODELS: tuple[type[Any], ...] = (Notice, MailChoice)
# --- Godkjenning hos dere: the company's own approval rules (app/domain/internal_approval.py) -----


class ApprovalRuleKind(str, enum.Enum):
    amount = "amount"  # orders above `amount` (ex. VAT)
    budget = "budget"  # orders that take one of the orderer's budgets over its limit
    user = "user"  # every order of `user_id`


class ApprovalRule(TenantScoped, Model):
    """A customer admin's rule: which orders wait for a customer admin's approval before they
    reach the supplier. `key` makes one rule of each kind (per user for `user`) per company."""

    __tablename__ = "approval_rules"
    __table_args__ = (
        _check_in("kind", ApprovalRuleKind, "ck_approval_rules_kind"),
        CheckConstraint("amount IS NULL OR amount >= 0", name="ck_approval_rules_amount"),
        UniqueConstraint("company_id", "key", name="uq_approval_rules_company_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    key: Mapped[str] = mapped_column(String(40))
    amount: Mapped[Decimal | None] = mapped_column(MONEY)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("ab_user.id"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[PortalUser | None] = relationship(foreign_keys=[user_id])


TENANT_MODELS = (*TENANT_MODELS, ApprovalRule)
