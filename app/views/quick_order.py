"""Hurtigbestilling (quick order): paste or upload lines, see each row's errors, hand the good rows
to the order or quote form (a `prefill` POST: nothing is placed until the user sends that form).

The rules are app/domain/quick_order.py; this page reads the request and shows the result.
"""

from __future__ import annotations

from flask import request
from flask.typing import ResponseReturnValue
from flask_appbuilder import BaseView, expose, has_access

from app.domain import quick_order
from app.domain.errors import ValidationFailed
from app.extensions import db
from app.views.forms import current_actor

# The text and the file together, with room for the form's other fields and multipart framing:
# a longer body is refused before Werkzeug spools it to disk.
MAX_BODY_BYTES = quick_order.MAX_FILE_BYTES + 4 * quick_order.MAX_TEXT_CHARS + 64 * 1024
PLACEHOLDER = "STOL-1;2\nSOFA-1;1;160;90;Ull grå;Eik"


def checked_from_request() -> tuple[quick_order.Checked | None, dict[str, str]]:
    """The checked rows of the posted file (if one is chosen) or text, or the input's errors."""
    if (request.content_length or 0) > MAX_BODY_BYTES:
        return None, dict(quick_order.too_big().errors)
    upload = request.files.get("file")
    try:
        if upload is not None and upload.filename:
            data = upload.stream.read(quick_order.MAX_FILE_BYTES + 1)
            return quick_order.check_file(db.session, upload.filename, data), {}
        return quick_order.check_text(db.session, request.form.get("text", "")), {}
    except ValidationFailed as exc:
        return None, dict(exc.errors)


class QuickOrderView(BaseView):
    route_base = "/hurtigbestilling"
    default_view = "new"
    base_permissions = ["can_new"]

    @expose("/", methods=["GET", "POST"])
    @has_access
    def new(self) -> ResponseReturnValue:
        actor = current_actor()
        checked: quick_order.Checked | None = None
        errors: dict[str, str] = {}
        if request.method == "POST":
            checked, errors = checked_from_request()
        return self.render_template(
            "quick_order/new.html",
            checked=checked,
            errors=errors,
            text=request.form.get("text", "") if request.method == "POST" else "",
            placeholder=PLACEHOLDER,
            is_customer=actor.is_customer,
            max_lines=quick_order.catalogue.MAX_LINES,
            max_mb=quick_order.MAX_FILE_BYTES // (1024 * 1024),
        )
