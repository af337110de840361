"""Two-factor login of the caller's own account: /api/v1/mfa/ (the rules: app/domain/mfa.py).

There is no user id in any route: every call reads or changes the logged-in user's own two-factor
login, so nobody reaches another user's. These routes stay open to a user whose role requires
two-factor login before it is set up (every other API route answers 403 until then).

* `GET /` the state: enrolled, since when, required by the role, recovery codes left.
* `POST /enrol` {code?}: a new secret, pending until confirmed (`code`: a current code, needed
  only when two-factor login is on already) -> secret, otpauth URI, the QR code as SVG.
* `POST /confirm` {code}: the pending secret becomes the user's -> the 10 recovery codes (shown
  this once). The user's API tokens end, this one too: log in again with a code.
* `POST /recovery_codes` {code}: new recovery codes; the old ones stop working.
* `POST /disable` {code} or {password}: turn it off (409 while the role requires it).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from flask import Response, request
from flask_appbuilder.api import BaseApi, expose
from flask_appbuilder.security.decorators import permission_name, protect
from flask_babel import gettext as _
from marshmallow import ValidationError, fields

from app.api import openapi
from app.api.base import current_actor, plain
from app.api.fields import MSG_BODY_OBJECT, MSG_FORBIDDEN, MSG_NOT_JSON, MSG_SERVER_ERROR, MSG_UNAUTHORIZED, InputSchema
from app.domain import mfa
from app.domain.errors import DomainError, ValidationFailed
from app.extensions import db

log = logging.getLogger(__name__)


class CodeIn(InputSchema):
    code = fields.String(load_default="", metadata={"description": "A code from the app (or a recovery code)"})


class DisableIn(InputSchema):
    code = fields.String(load_default="")
    password = fields.String(load_default="")


def _answered(route: Callable[..., Response]) -> Callable[..., Response]:
    """A refusal as the API answers it everywhere (400 per field, 404, 409); nothing is kept."""

    @functools.wraps(route)
    def wrapper(self: MfaApi, *args: Any, **kwargs: Any) -> Response:
        try:
            result = route(self, *args, **kwargs)
            db.session.commit()
            return result
        except ValidationFailed as exc:
            db.session.rollback()
            _record_refusal(route.__name__, exc.errors)
            return self.response(400, message=plain({k: [v] for k, v in exc.errors.items()}))
        except ValidationError as exc:
            db.session.rollback()
            return self.response(400, message=plain(exc.messages))
        except DomainError as exc:
            db.session.rollback()
            return self.response(exc.status, message=str(exc.message))
        except Exception:  # noqa: BLE001 - never a traceback to the client
            log.exception("MfaApi.%s failed", route.__name__)
            db.session.rollback()
            return self.response(500, message=str(MSG_SERVER_ERROR))

    return wrapper


def _record_refusal(event: str, errors: dict[str, Any]) -> None:
    """A wrong code or password goes into the audit log, in a transaction of its own."""
    try:
        mfa.record_refusal(db.session, current_actor(), event, errors)
        db.session.commit()
    except Exception:  # noqa: BLE001 - the answer (400) does not depend on the log entry
        log.exception("MfaApi: the refusal could not be recorded")
        db.session.rollback()


def _body(schema: InputSchema) -> dict[str, Any]:
    """The JSON object of the request (an empty body is {}), loaded with `schema`."""
    if not request.get_data(cache=True):
        return dict(schema.load({}))
    if not request.is_json:
        raise ValidationError({"_schema": [str(MSG_NOT_JSON)]})
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ValidationError({"_schema": [str(MSG_BODY_OBJECT)]})
    return dict(schema.load(body))


class MfaApi(BaseApi):
    resource_name = "mfa"
    allow_browser_login = False  # JWT only, like every other resource
    openapi_spec_tag = "Tofaktorinnlogging"

    def response_401(self) -> Response:
        return self.response(401, message=str(MSG_UNAUTHORIZED))

    def response_403(self) -> Response:
        return self.response(403, message=str(MSG_FORBIDDEN))

    def operation_helper(
        self,
        path: str | None = None,
        operations: dict[str, Any] | None = None,
        methods: list[str] | None = None,
        func: Callable[..., Response] | None = None,
        **kwargs: Any,
    ) -> None:
        """The spec's answers and error bodies as for every other API (app/api/openapi.py); every
        role may use these routes on its own account."""
        super().operation_helper(path=path, operations=operations, methods=methods, func=func, **kwargs)
        if func is None or not operations:
            return
        openapi.document_operations(operations, path, methods, func.__name__, type(self).__name__, everyone_may=True)

    @expose("/", methods=["GET"])
    @protect()
    @permission_name("get")
    @_answered
    def status(self) -> Response:
        """The caller's two-factor login.
        ---
        get:
          summary: Your two-factor login (enrolled, required by your role, recovery codes left)
          responses:
            200:
              description: The state
              content:
                application/json:
                  schema:
                    type: object
                    properties:
                      enrolled: {type: boolean}
                      enabled_at: {type: string, format: date-time, nullable: true}
                      required: {type: boolean}
                      pending: {type: boolean, description: An enrolment waits for its confirming code}
                      recovery_codes_left: {type: integer}
            401: {$ref: '#/components/responses/401'}
        """
        state = mfa.status(db.session, current_actor())
        return self.response(
            200,
            enrolled=state.enrolled,
            enabled_at=state.enabled_at.isoformat() if state.enabled_at else None,
            required=state.required,
            pending=state.pending_secret is not None,
            recovery_codes_left=state.recovery_codes_left,
        )

    @expose("/enrol", methods=["POST"])
    @protect()
    @permission_name("post")
    @_answered
    def enrol(self) -> Response:
        """Start (or redo) enrolment: a new secret, not in use until confirmed.
        ---
        post:
          summary: Start enrolment; when two-factor login is on already, send a current code
          requestBody:
            required: false
            content:
              application/json:
                schema:
                  type: object
                  properties:
                    code: {type: string, description: 'A current code (or a recovery code); only when already enrolled'}
          responses:
            200:
              description: The secret for the authenticator app
              content:
                application/json:
                  schema:
                    type: object
                    properties:
                      secret: {type: string}
                      otpauth_uri: {type: string}
                      qr_svg: {type: string, description: The QR code of otpauth_uri as an SVG element}
            400: {$ref: '#/components/responses/400'}
            401: {$ref: '#/components/responses/401'}
            429: {description: Too many wrong codes or passwords in the last 15 minutes; wait}
        """
        data = _body(CodeIn())
        enrolment = mfa.start_enrolment(db.session, current_actor(), data["code"])
        return self.response(200, secret=enrolment.secret, otpauth_uri=enrolment.uri, qr_svg=enrolment.qr_svg)

    @expose("/confirm", methods=["POST"])
    @protect()
    @permission_name("post")
    @_answered
    def confirm(self) -> Response:
        """Confirm enrolment with a code from the app.
        ---
        post:
          summary: Confirm enrolment; answers the recovery codes (shown this once)
          description: >-
            Every session and API token of the user ends, this one too: log in again with a code.
          requestBody:
            required: true
            content:
              application/json:
                schema:
                  type: object
                  required: [code]
                  properties:
                    code: {type: string}
          responses:
            200:
              description: Two-factor login is on
              content:
                application/json:
                  schema:
                    type: object
                    properties:
                      recovery_codes: {type: array, items: {type: string}}
                      message: {type: string}
            400: {$ref: '#/components/responses/400'}
            401: {$ref: '#/components/responses/401'}
            409: {description: No enrolment was started}
        """
        data = _body(CodeIn())
        codes = mfa.confirm_enrolment(db.session, current_actor(), data["code"])
        return self.response(
            200,
            recovery_codes=codes,
            message=str(_("Tofaktorinnlogging er på. Skriv ut gjenopprettingskodene eller lagre dem et trygt sted.")),
        )

    @expose("/recovery_codes", methods=["POST"])
    @protect()
    @permission_name("post")
    @_answered
    def recovery_codes(self) -> Response:
        """New recovery codes for a current code.
        ---
        post:
          summary: New recovery codes (the old ones stop working)
          requestBody:
            required: true
            content:
              application/json:
                schema:
                  type: object
                  required: [code]
                  properties:
                    code: {type: string}
          responses:
            200:
              description: The new recovery codes (shown this once)
              content:
                application/json:
                  schema:
                    type: object
                    properties:
                      recovery_codes: {type: array, items: {type: string}}
            400: {$ref: '#/components/responses/400'}
            401: {$ref: '#/components/responses/401'}
            429: {description: Too many wrong codes or passwords in the last 15 minutes; wait}
            409: {description: Two-factor login is not set up}
        """
        data = _body(CodeIn())
        return self.response(
            200, recovery_codes=mfa.regenerate_recovery_codes(db.session, current_actor(), data["code"])
        )

    @expose("/disable", methods=["POST"])
    @protect()
    @permission_name("post")
    @_answered
    def disable(self) -> Response:
        """Turn two-factor login off.
        ---
        post:
          summary: Turn two-factor login off, with a current code or the password
          description: Not allowed while your role requires two-factor login (409).
          requestBody:
            required: true
            content:
              application/json:
                schema:
                  type: object
                  properties:
                    code: {type: string}
                    password: {type: string}
          responses:
            200: {description: Two-factor login is off; log in again}
            400: {$ref: '#/components/responses/400'}
            401: {$ref: '#/components/responses/401'}
            429: {description: Too many wrong codes or passwords in the last 15 minutes; wait}
            409: {description: 'Not set up, or required by your role'}
        """
        data = _body(DisableIn())
        mfa.disable(db.session, current_actor(), code=data["code"], password=data["password"])
        return self.response(200, message=str(_("Tofaktorinnlogging er skrudd av. Logg inn på nytt.")))
