"""The seller's approval queue ("Til godkjenning"): approve one or several, reject one with a reason."""

from __future__ import annotations

from collections.abc import Callable

from flask import flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.security.decorators import permission_name
from flask_babel import gettext as _
from sqlalchemy import select

from app.domain import approvals
from app.domain.labels import order_status
from app.extensions import db
from app.models import Order
from app.paging import count_text, page_links
from app.views.base import user_can
from app.views.forms import current_actor, domain_action
from app.views.orders.actions import order_or_404

PAGE_SIZE = 25
MAX_PAGE = 1_000_000  # beyond it OFFSET would leave the database's integer range for no purpose


class ApprovalQueueView(BaseView):
    route_base = "/godkjenning"
    default_view = "queue"
    base_permissions = ["can_queue", "can_approve", "can_reject"]

    @expose("/")
    @has_access
    def queue(self) -> ResponseReturnValue:
        return self._queue_page()

    def _queue_page(self, errors: dict[int, str] | None = None, reasons: dict[int, str] | None = None) -> str:
        """The queue; `errors`/`reasons`: an override refused, shown next to that order's field."""
        page = min(max(request.args.get("side", 0, type=int) or 0, 0), MAX_PAGE)
        rows, total = approvals.approval_queue(db.session, page=page, page_size=PAGE_SIZE)
        # A manager reads the queue; only sellers get the checkboxes and buttons.
        return self.render_template(
            "workflow/approval_queue.html",
            rows=rows,
            total=total,
            total_label=count_text(total),
            links=page_links(page, PAGE_SIZE, total, total.has_next),
            can_approve=user_can("can_approve", "ApprovalQueueView"),
            can_reject=user_can("can_reject", "ApprovalQueueView"),
            override_errors=errors or {},
            override_reasons=reasons or {},
        )

    @expose("/godkjenn", methods=["POST"])
    @has_access
    @permission_name("approve")
    def approve(self) -> ResponseReturnValue:
        ids = [int(v) for v in request.form.getlist("order_id") if v.isdigit() and len(v) < 10]
        if not ids:
            flash(_("Velg minst én ordre å godkjenne."), "warning")
            return redirect(url_for("ApprovalQueueView.queue"))
        with domain_action() as done:
            approved, refused = approvals.approve_orders(db.session, ids, current_actor())
        if not done.ok:
            return redirect(url_for("ApprovalQueueView.queue"))
        if approved:
            flash(_("Godkjent: %(numbers)s", numbers=", ".join(o.number for o in approved)), "success")
        # Name the order in each refusal: with several ticked, "already handled" alone says too little.
        numbers = dict(db.session.execute(select(Order.id, Order.number).where(Order.id.in_(refused))).all())
        if refused:
            flash(
                _(
                    "Ikke godkjent: %(numbers)s. Ordrer som ikke består kontrollene godkjennes én og én "
                    "med en begrunnelse.",
                    numbers=", ".join(str(numbers.get(oid, oid)) for oid in refused),
                ),
                "warning",
            )
        for oid, message in refused.items():
            flash(_("Ordre %(number)s: %(message)s", number=numbers.get(oid, oid), message=message), "danger")
        return redirect(url_for("ApprovalQueueView.queue"))

    @expose("/overstyr/<int:pk>", methods=["POST"])
    @has_access
    @permission_name("approve")
    def override(self, pk: int) -> ResponseReturnValue:
        """ "Godkjenn likevel": one order that fails a check, with the seller's reason."""
        reason = request.form.get("override_reason", "")
        with domain_action(errors_on_page=True) as done:
            order = approvals.approve_with_override(db.session, pk, current_actor(), reason)
            number = order.number
        if done.ok:
            flash(_("Ordre %(number)s er godkjent.", number=number), "success")
            return redirect(url_for("ApprovalQueueView.queue"))
        if done.errors:  # no reason, or too long: next to the order's field
            message = done.errors.get("override_reason") or "; ".join(done.errors.values())
            return self._queue_page(errors={pk: message}, reasons={pk: reason})
        return redirect(url_for("ApprovalQueueView.queue"))

    @expose("/avvis/<int:pk>", methods=["GET", "POST"])
    @has_access
    @permission_name("reject")
    def reject(self, pk: int) -> ResponseReturnValue:
        return reject_page(
            self,
            pk,
            lambda reason: approvals.reject_order(db.session, pk, current_actor(), reason),
            approvals.awaits_decision,
            "ApprovalQueueView.queue",
            "workflow/reject.html",
        )


def reject_page(
    view: BaseView,
    pk: int,
    reject: Callable[[str | None], Order],
    awaits: Callable[[Order], bool],
    queue: str,
    template: str,
) -> ResponseReturnValue:
    """The page that rejects one waiting order with a reason, for the seller's queue and the
    customer's own ("Godkjenning hos dere"): the form, the reason's message next to the field, back to
    the `queue` endpoint when done or when another decided first."""
    error = None
    if request.method == "POST":
        with domain_action(errors_on_page=True) as done:
            number = reject(request.form.get("reason")).number
        if done.ok:
            flash(_("Ordre %(number)s er avvist.", number=number), "success")
            return redirect(url_for(queue))
        if not done.errors:  # already handled, or may not decide: said above the queue
            return redirect(url_for(queue))
        error = done.errors.get("reason")
    order = order_or_404(pk)
    if not awaits(order):
        flash(
            _(
                "Ordre %(number)s er allerede behandlet (status: %(status)s).",
                number=order.number,
                status=order_status(order.status),
            ),
            "warning",
        )
        return redirect(url_for("OrderView.show", pk=order.id))
    return view.render_template(template, order=order, error=error, reason=request.form.get("reason", ""))
