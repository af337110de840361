"""The caller's own notices and mail choices: /api/v1/notice/ (the rules: app/domain/notices.py).

No route takes a user id: every call reads or changes the logged-in user's own notices, supplier
staff included, so nobody reaches another user's (another user's notice id answers 404).

* `GET /?before=<id>&page_size=<n>` the notices newest first (keyset: `next_before` is the next
  page's `before`), with `unread` (bounded: at most `unread_bound`).
* `POST /<id>/read` mark one read (again: no change, still 200); `POST /read_all` mark all read.
* `GET /mail_choices` the kinds of mail the caller may get, on or off, and which are fixed;
  `PUT /mail_choices` `{"<kind>": true|false, ...}` changes some of them (a fixed kind off: 400).
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Response, request
from flask_appbuilder.api import expose
from flask_appbuilder.security.decorators import permission_name, protect
from flask_babel import lazy_gettext as _l

from app.api.base import PortalBaseApi, answered, current_actor
from app.api.fields import MSG_BODY_OBJECT, MSG_NOT_JSON
from app.domain import notices
from app.domain.errors import ValidationFailed
from app.extensions import db

log = logging.getLogger(__name__)

MSG_NOT_AN_ID = _l("Må være et helt tall.")
MSG_PAGE_SIZE = _l("Må være et helt tall fra 1 til %(most)s.", most=notices.MAX_PAGE_SIZE)
MSG_ON_OFF = _l("Må være true eller false.")


def _notice(row: notices.NoticeRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "kind": row.kind,
        "kind_label": row.kind_label,
        "text": row.text,
        "link": row.link,
        "created_at": row.created_at.isoformat(),
        "read": row.read_at is not None,
        "read_at": row.read_at.isoformat() if row.read_at else None,
    }


def _int_arg(name: str, low: int, high: int, message: Any) -> int | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return None
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise ValidationFailed({name: str(message)})
    return int(raw)


class NoticeApi(PortalBaseApi):
    resource_name = "notice"
    openapi_spec_tag = "Varsler"
    everyone_may = True  # every role uses these on its own notices

    @expose("/", methods=["GET"])
    @protect()
    @permission_name("get")
    @answered
    def get_list(self) -> Response:
        """The caller's notices, newest first.
        ---
        get:
          summary: Your notices, newest first (keyset pages)
          parameters:
          - {in: query, name: before, schema: {type: integer}, description: 'Only notices older than this id (next_before of the previous page)'}
          - {in: query, name: page_size, schema: {type: integer, minimum: 1, maximum: 100, default: 25}}
          responses:
            200:
              description: A page of notices
              content:
                application/json:
                  schema:
                    type: object
                    properties:
                      unread: {type: integer, description: 'Unread notices, counted up to unread_bound'}
                      unread_bound: {type: integer}
                      next_before: {type: integer, nullable: true}
                      result:
                        type: array
                        items:
                          type: object
                          properties:
                            id: {type: integer}
                            kind: {type: string}
                            kind_label: {type: string}
                            text: {type: string}
                            link: {type: string, description: A path in the portal}
                            created_at: {type: string, format: date-time}
                            read: {type: boolean}
                            read_at: {type: string, format: date-time, nullable: true}
            400: {$ref: '#/components/responses/400'}
            401: {$ref: '#/components/responses/401'}
        """
        user_id = current_actor().id
        before = _int_arg("before", 1, 2**31 - 1, MSG_NOT_AN_ID)
        size = _int_arg("page_size", 1, notices.MAX_PAGE_SIZE, MSG_PAGE_SIZE) or notices.PAGE_SIZE
        result = notices.page(db.session, user_id, before=before, size=size)  # type: ignore[arg-type]  # logged in
        bell = notices.bell(db.session, user_id)  # type: ignore[arg-type]
        return self.response(
            200,
            unread=bell.unread,
            unread_bound=notices.UNREAD_BOUND,
            next_before=result.next_before,
            result=[_notice(r) for r in result.rows],
        )

    @expose("/<int:notice_id>/read", methods=["POST"])
    @protect()
    @permission_name("read")
    @answered
    def read(self, notice_id: int) -> Response:
        """Mark one of your notices read.
        ---
        post:
          summary: Mark one of your notices read (again is no change)
          parameters:
          - {in: path, name: notice_id, required: true, schema: {type: integer}}
          responses:
            200:
              description: Read
              content:
                application/json:
                  schema:
                    type: object
                    properties:
                      changed: {type: boolean, description: 'false: it was read already'}
            401: {$ref: '#/components/responses/401'}
            404: {$ref: '#/components/responses/404'}
        """
        changed = notices.mark_read(db.session, current_actor().id, notice_id)  # type: ignore[arg-type]
        return self.response(200, changed=changed)

    @expose("/read_all", methods=["POST"])
    @protect()
    @permission_name("read")
    @answered
    def read_all(self) -> Response:
        """Mark all your notices read.
        ---
        post:
          summary: Mark all your notices read
          responses:
            200:
              description: How many were unread
              content:
                application/json:
                  schema:
                    type: object
                    properties:
                      changed: {type: integer}
            401: {$ref: '#/components/responses/401'}
        """
        return self.response(200, changed=notices.mark_all_read(db.session, current_actor().id))  # type: ignore[arg-type]

    @expose("/mail_choices", methods=["GET"])
    @protect()
    @permission_name("get")
    @answered
    def mail_choices(self) -> Response:
        """Which mails you get.
        ---
        get:
          summary: The kinds of mail you may get, on or off (fixed ones cannot be turned off)
          responses:
            200:
              description: The choices
              content:
                application/json:
                  schema:
                    type: object
                    properties:
                      result:
                        type: array
                        items:
                          type: object
                          properties:
                            kind: {type: string}
                            label: {type: string}
                            enabled: {type: boolean}
                            fixed: {type: boolean}
            401: {$ref: '#/components/responses/401'}
        """
        return self.response(200, result=self._choices())

    @expose("/mail_choices", methods=["PUT"])
    @protect()
    @permission_name("choose")
    @answered
    def set_mail_choices(self) -> Response:
        """Turn mails on or off.
        ---
        put:
          summary: 'Turn kinds of mail on or off: {"order_shipped": false}'
          requestBody:
            required: true
            content:
              application/json:
                schema:
                  type: object
                  additionalProperties: {type: boolean}
          responses:
            200:
              description: The choices after the change
              content:
                application/json:
                  schema:
                    type: object
                    properties:
                      result: {type: array, items: {type: object}}
            400: {$ref: '#/components/responses/400'}
            401: {$ref: '#/components/responses/401'}
        """
        if not request.is_json:
            raise ValidationFailed({"_schema": str(MSG_NOT_JSON)})
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise ValidationFailed({"_schema": str(MSG_BODY_OBJECT)})
        user_id = current_actor().id
        allowed = {k.code for k in notices.kinds_for(current_actor().roles)}
        errors: dict[str, str] = {}
        for kind, enabled in body.items():
            if kind not in allowed:
                errors[str(kind)] = str(notices.UNKNOWN_KIND)
            elif not isinstance(enabled, bool):
                errors[kind] = str(MSG_ON_OFF)
        if errors:
            raise ValidationFailed(errors)
        for kind, enabled in body.items():
            try:
                notices.set_mail_choice(db.session, user_id, kind, enabled)  # type: ignore[arg-type]
            except ValidationFailed as exc:
                raise ValidationFailed({kind: exc.errors["kind"]}) from None
        return self.response(200, result=self._choices())

    def _choices(self) -> list[dict[str, Any]]:
        actor = current_actor()
        return [
            {"kind": c.kind, "label": c.label, "enabled": c.enabled, "fixed": c.fixed}
            for c in notices.mail_choices(db.session, actor.id, actor.roles)  # type: ignore[arg-type]  # logged in
        ]
