"""Varsler: the navbar's bell on every page and the list /varsler/ (rules in app/domain/notices.py).

Every route acts on the logged-in user's own notices only; another user's notice id is a 404.
Opening a notice (its link in the bell or the list) marks it read and leads to its row.
"""

from __future__ import annotations

from flask import abort, flash, g, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.security.decorators import permission_name
from flask_babel import gettext as _
from flask_login import current_user

from app.domain import notices
from app.extensions import db
from app.views.forms import domain_action


def page_bell() -> notices.Bell | None:
    """The bell of the logged-in user for the navbar: one statement, once per request."""
    if not current_user.is_authenticated:
        return None
    if "notice_bell" not in g:
        g.notice_bell = notices.bell(db.session, current_user.id)
    bell: notices.Bell = g.notice_bell
    return bell


def _safe_target(link: str) -> str:
    """A notice's link is a path in the portal; anything else (never written by us) goes home."""
    return link if link.startswith("/") and not link.startswith("//") and "\\" not in link else "/"


def _back() -> str:
    target = request.form.get("next") or ""
    return _safe_target(target) if target else url_for("NoticeView.index")


class NoticeView(BaseView):
    """/varsler/: the user's notices, newest first, 25 a page (keyset: ?eldre=<id>)."""

    route_base = "/varsler"
    default_view = "index"
    base_permissions = ["can_list", "can_read"]

    @expose("/")
    @has_access
    @permission_name("list")
    def index(self) -> ResponseReturnValue:
        raw = request.args.get("eldre", "")
        before = int(raw) if raw.isdigit() else None
        result = notices.page(db.session, current_user.id, before=before)
        return self.render_template(
            "notices/list.html",
            title=_("Varsler"),
            rows=result.rows,
            next_before=result.next_before,
            first_page=before is None,
        )

    @expose("/<int:notice_id>")
    @has_access
    @permission_name("read")
    def open(self, notice_id: int) -> ResponseReturnValue:
        target = "/"
        with domain_action() as done:
            target = notices.open_notice(db.session, current_user.id, notice_id)
        if not done.ok:
            abort(404)
        return redirect(_safe_target(target))

    @expose("/<int:notice_id>/lest", methods=["POST"])
    @has_access
    @permission_name("read")
    def read(self, notice_id: int) -> ResponseReturnValue:
        with domain_action():
            notices.mark_read(db.session, current_user.id, notice_id)
        return redirect(_back())

    @expose("/alle-lest", methods=["POST"])
    @has_access
    @permission_name("read")
    def read_all(self) -> ResponseReturnValue:
        with domain_action() as done:
            notices.mark_all_read(db.session, current_user.id)
        if done.ok:
            flash(_("Alle varsler er merket som lest."), "success")
        return redirect(_back())
