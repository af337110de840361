"""Start page: each role lands on what it works with. Anonymous visitors go to the login page.

A few aggregate queries through the session (so the tenancy guard scopes a customer's numbers);
which links a user gets follows app/roles.py, without asking the database.
"""
from __future__ import annotations

from typing import Any, Optional

from flask import g, redirect, url_for
from flask_appbuilder import IndexView
from flask_appbuilder.baseviews import expose
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from app.domain import labels
from app.models import (
    Company,
    Inquiry,
    InquiryStatus,
    Order,
    OrderStatus,
    PickupReservation,
    Quote,
)
from app.roles import ROLE_PERMISSIONS
from app.tenancy import current_tenant

# FAB's filter number for "equal to" on a text column (its SQLAFilterConverter order:
# starts with, ends with, contains, equal, ...): `?_flt_3_status=pending_approval`.
EQUAL_TEXT_FILTER = 3

# (label, view class, endpoint method) of the "Min side" links on a customer's start page.
CUSTOMER_LINKS = (
    (_l("Ordreoversikt"), "OrderView", "list"),
    (_l("Tilbud"), "QuoteView", "list"),
    (_l("Bedriftsinformasjon"), "MyCompanyView", "mine"),
    (_l("Leveringsadresser"), "DeliveryAddressView", "list"),
    (_l("Brukere"), "CompanyUserView", "list"),
    (_l("Bruksgrense"), "BudgetView", "list"),
    (_l("Faste ordre"), "StandingOrderView", "list"),
    (_l("Henvendelser"), "InquiryView", "list"),
    (_l("Klikk og Hent"), "PickupReservationView", "list"),
)


def _may_list(roles: set[str], view: str) -> bool:
    return any("can_list" in ROLE_PERMISSIONS.get(role, {}).get(view, ()) for role in roles) or "Admin" in roles


class PortalIndexView(IndexView):
    index_template = "index.html"

    @expose("/")
    def index(self):  # type: ignore[no-untyped-def]
        if not current_user.is_authenticated:
            return redirect(url_for(f"{self.appbuilder.sm.auth_view.endpoint}.login"))
        self.update_redirect()
        roles = {r.name for r in current_user.roles}
        tenant = current_tenant()
        context: dict[str, Any] = {"roles": roles, "role_labels": [labels.label(labels.ROLE, r) for r in sorted(roles)]}
        session = self.appbuilder.session
        if tenant is not None:
            context.update(self._customer(session, tenant, roles))
        else:
            if roles & {"Seller", "Admin"}:
                context.update(self._seller(session))
            if roles & {"CustomerService", "Admin"}:
                context.update(self._customer_service(session))
            if roles & {"Manager", "Admin"}:
                context.update(self._manager(session))
        return self.render_template(self.index_template, appbuilder=self.appbuilder, user=g.user,
                                    labels=labels, **context)

    # --- customers -------------------------------------------------------------------------

    def _customer(self, session: Any, tenant: int, roles: set[str]) -> dict[str, Any]:
        company: Optional[Company] = session.get(Company, tenant)
        latest = session.scalars(
            select(Order).options(joinedload(Order.created_by)).order_by(Order.created_at.desc()).limit(5)
        ).unique().all()
        open_quotes = session.scalar(
            select(func.count(Quote.id)).where(Quote.status.in_(("draft", "sent")))
        )
        links = [(label, url_for(f"{view}.{method}")) for label, view, method in CUSTOMER_LINKS
                 if _may_list(roles, view)]
        return {"company": company, "latest_orders": latest, "open_quotes": open_quotes or 0, "links": links}

    # --- supplier staff --------------------------------------------------------------------

    def _seller(self, session: Any) -> dict[str, Any]:
        pending = OrderStatus.pending_approval.value
        count = session.scalar(select(func.count(Order.id)).where(Order.status == pending)) or 0
        oldest = session.scalars(
            select(Order).options(joinedload(Order.company)).where(Order.status == pending)
            .order_by(Order.created_at.asc()).limit(5)
        ).unique().all()
        return {
            "pending_count": count,
            "pending_orders": oldest,
            "pending_url": url_for("OrderView.list", **{f"_flt_{EQUAL_TEXT_FILTER}_status": pending}),
        }

    def _customer_service(self, session: Any) -> dict[str, Any]:
        open_status = InquiryStatus.open.value
        count = session.scalar(select(func.count(Inquiry.id)).where(Inquiry.status == open_status)) or 0
        oldest = session.scalars(
            select(Inquiry).options(joinedload(Inquiry.company)).where(Inquiry.status == open_status)
            .order_by(Inquiry.created_at.asc()).limit(5)
        ).unique().all()
        reserved = session.scalar(
            select(func.count(PickupReservation.id)).where(PickupReservation.status == "reserved")
        ) or 0
        return {
            "open_inquiry_count": count,
            "open_inquiries": oldest,
            "open_inquiries_url": url_for("InquiryView.list", **{f"_flt_{EQUAL_TEXT_FILTER}_status": open_status}),
            "reserved_count": reserved,
            "reserved_url": url_for("PickupReservationView.list", **{f"_flt_{EQUAL_TEXT_FILTER}_status": "reserved"}),
        }

    def _manager(self, session: Any) -> dict[str, Any]:
        rows = session.execute(select(Order.status, func.count(Order.id), func.coalesce(
            func.sum(Order.total_ex_vat), 0)).group_by(Order.status)).all()
        by_status = {status: (count, total) for status, count, total in rows}
        overview = [
            {"status": code, "label": label, "count": by_status.get(code, (0, 0))[0],
             "total": by_status.get(code, (0, 0))[1],
             "url": url_for("OrderView.list", **{f"_flt_{EQUAL_TEXT_FILTER}_status": code})}
            for code, label in labels.ORDER_STATUS.items()
        ]
        companies = session.scalar(select(func.count(Company.id)).where(Company.active.is_(True))) or 0
        return {"order_overview": overview, "company_count": companies}
