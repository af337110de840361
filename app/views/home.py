"""Start page: each role lands on what it works with. Anonymous visitors go to the login page.

A few aggregate queries through the session (so the tenancy guard scopes a customer's numbers);
which links a user gets follows app/roles.py, without asking the database.
"""

from __future__ import annotations

from typing import Any

from flask import g, redirect, url_for
from flask.typing import ResponseReturnValue
from flask_appbuilder import IndexView
from flask_appbuilder.baseviews import expose
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from app.domain import labels
from app.domain.actors import Actor
from app.domain.inquiries import OPEN as OPEN_INQUIRY
from app.domain.lifecycle import PENDING_APPROVAL
from app.domain.pickup import RESERVED
from app.domain.quotes import EDITABLE as OPEN_QUOTES
from app.domain.reports import status_totals
from app.domain.statements import overdue_summary
from app.models import (
    Company,
    Inquiry,
    Order,
    PickupReservation,
    Quote,
)
from app.paging import bounded_count_of, count_text
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
    (_l("Kontoutskrift"), "StatementView", "index"),
    (_l("Faste ordre"), "StandingOrderView", "list"),
    (_l("Henvendelser"), "InquiryView", "list"),
    (_l("Klikk og Hent"), "PickupReservationView", "list"),
)


def _may_list(roles: set[str], view: str) -> bool:
    return any("can_list" in ROLE_PERMISSIONS.get(role, {}).get(view, ()) for role in roles) or "Admin" in roles


def _count(session: Any, model: Any, condition: Any) -> int:
    # count(*), not count(id): an index on the condition's columns answers it alone.
    return session.scalar(select(func.count()).select_from(model).where(condition)) or 0


def _oldest(session: Any, model: Any, condition: Any, limit: int = 5) -> list[Any]:
    """The `limit` oldest rows matching `condition`, each with its company."""
    return list(
        session.scalars(
            select(model)
            .options(joinedload(model.company))
            .where(condition)
            .order_by(model.created_at.asc())
            .limit(limit)
        ).unique()
    )


def _status_url(endpoint: str, status: str) -> str:
    # Typed as Any: url_for's own keyword arguments (_external: bool, ...) would claim a dict[str, str].
    args: dict[str, Any] = {f"_flt_{EQUAL_TEXT_FILTER}_status": status}
    return url_for(endpoint, **args)


class PortalIndexView(IndexView):
    index_template = "index.html"

    @expose("/")
    def index(self) -> ResponseReturnValue:
        if not current_user.is_authenticated:
            return redirect(url_for(f"{self.appbuilder.sm.auth_view.endpoint}.login"))
        self.update_redirect()
        actor = Actor.from_user(current_user)
        roles = set(actor.roles)
        tenant = current_tenant()
        context: dict[str, Any] = {"roles": roles, "role_labels": [labels.label(labels.ROLE, r) for r in sorted(roles)]}
        session = self.appbuilder.session
        if tenant is not None:
            context.update(self._customer(session, tenant, roles))
        else:
            if actor.is_seller:
                context.update(self._seller(session))
            if actor.is_customer_service:
                context.update(self._customer_service(session))
            if _may_list(roles, "ReportsView"):  # the manager's (and Admin's) overview
                context.update(self._manager(session))
        return self.render_template(
            self.index_template, appbuilder=self.appbuilder, user=g.user, labels=labels, **context
        )

    # --- customers -------------------------------------------------------------------------

    def _customer(self, session: Any, tenant: int, roles: set[str]) -> dict[str, Any]:
        company: Company | None = session.get(Company, tenant)
        latest = (
            session.scalars(
                select(Order).options(joinedload(Order.created_by)).order_by(Order.created_at.desc()).limit(5)
            )
            .unique()
            .all()
        )
        open_quotes = _count(session, Quote, Quote.status.in_(OPEN_QUOTES))
        links = [
            (label, url_for(f"{view}.{method}")) for label, view, method in CUSTOMER_LINKS if _may_list(roles, view)
        ]
        context = {"company": company, "latest_orders": latest, "open_quotes": open_quotes, "links": links}
        if _may_list(roles, "StatementView"):  # the customer admin: "Forfalt", one indexed aggregate
            context["overdue"] = overdue_summary(session, tenant)
            context["statement_url"] = url_for("StatementView.index")
        return context

    # --- supplier staff --------------------------------------------------------------------

    def _seller(self, session: Any) -> dict[str, Any]:
        waiting = Order.status == PENDING_APPROVAL
        # Counted up to the list's bound ("over 10 000"): at tens of thousands waiting the exact
        # number says no more, and it costs a scan of them all.
        pending = bounded_count_of(session, select(Order.id).where(waiting))
        return {
            "pending_count": count_text(pending),
            "pending_orders": _oldest(session, Order, waiting),
            "pending_url": url_for("ApprovalQueueView.queue"),  # where the seller approves them
        }

    def _customer_service(self, session: Any) -> dict[str, Any]:
        unanswered = Inquiry.status == OPEN_INQUIRY
        return {
            "open_inquiry_count": _count(session, Inquiry, unanswered),
            "open_inquiries": _oldest(session, Inquiry, unanswered),
            "open_inquiries_url": _status_url("InquiryView.list", OPEN_INQUIRY),
            "reserved_count": _count(session, PickupReservation, PickupReservation.status == RESERVED),
            "reserved_url": _status_url("PickupReservationView.list", RESERVED),
        }

    def _manager(self, session: Any) -> dict[str, Any]:
        by_status = status_totals(session)
        overview = [
            {
                "status": code,
                "label": label,
                "count": by_status.get(code, (0, 0))[0],
                "total": by_status.get(code, (0, 0))[1],
                "url": _status_url("OrderView.list", code),
            }
            for code, label in labels.ORDER_STATUS.items()
        ]
        return {"order_overview": overview, "company_count": _count(session, Company, Company.active.is_(True))}
