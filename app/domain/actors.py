"""Who is acting: the domain needs the user's id, name, company and roles, not a Flask request."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.roles import CUSTOMER_ADMIN, CUSTOMER_SERVICE, SELLERS, SUPPLIER_ROLES


@dataclass(frozen=True)
class Actor:
    id: int | None
    name: str
    company_id: int | None = None
    roles: frozenset[str] = field(default_factory=frozenset)
    email: str | None = None

    @property
    def is_customer(self) -> bool:
        return self.company_id is not None

    def has_role(self, *names: str) -> bool:
        return bool(self.roles.intersection(names))

    @property
    def is_supplier_staff(self) -> bool:
        return not self.is_customer and self.has_role(*SUPPLIER_ROLES)

    @property
    def is_customer_service(self) -> bool:
        """Customer service (or Admin): keeps customers' data, ships, invoices, answers inquiries."""
        return not self.is_customer and self.has_role(*CUSTOMER_SERVICE)

    @property
    def is_customer_admin(self) -> bool:
        """A customer admin of the actor's own company."""
        return self.is_customer and self.has_role(CUSTOMER_ADMIN)

    @property
    def is_seller(self) -> bool:
        """A seller (or Admin): approves dealer orders, gives special prices on quotes."""
        return not self.is_customer and self.has_role(*SELLERS)

    @classmethod
    def from_user(cls, user: Any) -> Actor:
        return cls(
            id=user.id,
            name=f"{user.first_name} {user.last_name}".strip(),
            company_id=getattr(user, "company_id", None),
            roles=frozenset(r.name for r in user.roles),
            email=user.email,
        )


SYSTEM = Actor(id=None, name="Systemet")
