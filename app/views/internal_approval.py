"""Godkjenning hos dere (Min side, customer admins): the orders waiting for the company's own
approval (approve, or reject with a reason) and the rules that make them wait.

Every rule is app/domain/internal_approval.py's; these pages read forms and call it."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.security.decorators import permission_name
from flask_babel import gettext as _

from app.domain import internal_approval as rules
from app.domain.labels import order_status
from app.extensions import db
from app.paging import count_text, page_links
from app.tenancy import current_tenant
from app.views.approvals import reject_page
from app.views.base import user_can
from app.views.forms import current_actor, domain_action

PAGE_SIZE = 25
MAX_PAGE = 1_000_000


class InternalApprovalView(BaseView):
    route_base = "/godkjenning-hos-dere"
    default_view = "queue"
    base_permissions = ["can_queue", "can_approve", "can_reject", "can_rules", "can_edit_rules"]

    # --- the queue ----------------------------------------------------------------------------

    @expose("/")
    @has_access
    def queue(self) -> ResponseReturnValue:
        page = min(max(request.args.get("side", 0, type=int) or 0, 0), MAX_PAGE)
        rows, total = rules.queue(db.session, current_tenant(), page=page, page_size=PAGE_SIZE)
        return self.render_template(
            "internal_approval/queue.html",
            rows=rows,
            total=total,
            total_label=count_text(total),
            links=page_links(page, PAGE_SIZE, total, total.has_next),
            can_approve=user_can("can_approve", "InternalApprovalView"),
            can_reject=user_can("can_reject", "InternalApprovalView"),
            show_company=current_tenant() is None,
        )

    @expose("/godkjenn/<int:pk>", methods=["POST"])
    @has_access
    @permission_name("approve")
    def approve(self, pk: int) -> ResponseReturnValue:
        with domain_action() as done:
            order = rules.approve(db.session, pk, current_actor())
            number, status = order.number, order.status
        if done.ok:
            flash(
                _(
                    "Ordre %(number)s er godkjent og har nå status «%(status)s».",
                    number=number,
                    status=order_status(status),
                ),
                "success",
            )
        return redirect(self._back())

    @expose("/avvis/<int:pk>", methods=["GET", "POST"])
    @has_access
    @permission_name("reject")
    def reject(self, pk: int) -> ResponseReturnValue:
        return reject_page(
            self,
            pk,
            lambda reason: rules.reject(db.session, pk, current_actor(), reason),
            rules.awaits_decision,
            "InternalApprovalView.queue",
            "internal_approval/reject.html",
        )

    def _back(self) -> str:
        """Back to the order page when the decision was made there, else to the queue."""
        if request.form.get("next") == "order" and request.view_args:
            return url_for("OrderView.show", pk=request.view_args["pk"])
        return url_for("InternalApprovalView.queue")

    # --- the rules ----------------------------------------------------------------------------

    @expose("/regler/")
    @has_access
    @permission_name("rules")
    def rules_page(self) -> ResponseReturnValue:
        return self._rules_page()

    def _rules_page(self, errors: dict[str, str] | None = None, form: dict[str, str] | None = None) -> str:
        company_id = current_tenant()
        return self.render_template(
            "internal_approval/rules.html",
            rules=rules.company_rules(db.session, company_id),
            users=rules.rule_users(db.session, company_id) if company_id is not None else [],
            kinds=rules.KIND_LABELS,
            describe=rules.describe,
            can_edit=company_id is not None and user_can("can_edit_rules", "InternalApprovalView"),
            show_company=company_id is None,
            errors=errors or {},
            form=form or {},
        )

    @expose("/regler/ny", methods=["POST"])
    @has_access
    @permission_name("edit_rules")
    def add_rule(self) -> ResponseReturnValue:
        form = {k: request.form.get(k, "") for k in ("kind", "amount", "user_id")}
        with domain_action(errors_on_page=True) as done:
            rule = rules.create_rule(
                db.session, current_actor(), kind=form["kind"], amount=form["amount"], user_id=form["user_id"]
            )
            text = rules.describe(rule)
        if done.ok:
            flash(_("Regelen er lagt til: %(rule)s.", rule=text), "success")
            return redirect(url_for("InternalApprovalView.rules_page"))
        if done.errors:
            return self._rules_page(errors=done.errors, form=form)
        return redirect(url_for("InternalApprovalView.rules_page"))

    @expose("/regler/<int:pk>/av-paa", methods=["POST"])
    @has_access
    @permission_name("edit_rules")
    def toggle_rule(self, pk: int) -> ResponseReturnValue:
        with domain_action():
            rule = rules.get_rule(db.session, pk)
            rules.update_rule(db.session, current_actor(), pk, active=not rule.active)
        return redirect(url_for("InternalApprovalView.rules_page"))

    @expose("/regler/<int:pk>/slett", methods=["POST"])
    @has_access
    @permission_name("edit_rules")
    def delete_rule(self, pk: int) -> ResponseReturnValue:
        with domain_action() as done:
            rules.delete_rule(db.session, current_actor(), pk)
        if done.ok:
            flash(_("Regelen er slettet."), "success")
        return redirect(url_for("InternalApprovalView.rules_page"))


def order_panel(order: Any) -> dict[str, bool]:
    """For the order page's include (portal/_internal_approval.html): is the order waiting for
    the company's own approval, and may the current user decide it now? No query."""
    waiting = rules.awaits_decision(order)
    return {
        "waiting": waiting,
        "may_decide": waiting
        and rules.may_decide(current_actor(), order)
        and user_can("can_approve", "InternalApprovalView"),
    }
