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

import logging
from typing import Any

from flask import Response
from flask_appbuilder.api import expose
from flask_appbuilder.security.decorators import permission_name, protect
from flask_babel import gettext as _
from marshmallow import fields

from app.api.base import PortalBaseApi, answered, current_actor, json_object
from app.api.fields import InputSchema
from app.domain import mfa
from app.extensions import db

log = logging.getLogger(__name__)


class CodeIn(InputSchema):
    code = fields.String(load_default="", metadata={"description": "A code from the app (or a recovery code)"})


class DisableIn(InputSchema):
    code = fields.String(load_default="")
    password = fields.String(load_default="")


def _record_refusal(event: str, errors: dict[str, Any]) -> None:
    """A wrong code or password goes into the audit log, in a transaction of its own."""
    try:
        mfa.record_refusal(db.session, current_actor(), event, errors)
        db.session.commit()
    except Exception:  # noqa: BLE001 - the answer (400) does not depend on the log entry
        log.exception("MfaApi: the refusal could not be recorded")
        db.session.rollback()


class MfaApi(PortalBaseApi):
    resource_name = "mfa"
    openapi_spec_tag = "Tofaktorinnlogging"
    everyone_may = True  # every role may use these routes on its own account

    def refused(self, route_name: str, errors: dict[str, Any]) -> None:
        _record_refusal(route_name, errors)

    @expose("/", methods=["GET"])
    @protect()
    @permission_name("get")
    @answered
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
    @answered
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
        data = json_object(CodeIn())
        enrolment = mfa.start_enrolment(db.session, current_actor(), data["code"])
        return self.response(200, secret=enrolment.secret, otpauth_uri=enrolment.uri, qr_svg=enrolment.qr_svg)

    @expose("/confirm", methods=["POST"])
    @protect()
    @permission_name("post")
    @answered
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
        data = json_object(CodeIn())
        codes = mfa.confirm_enrolment(db.session, current_actor(), data["code"])
        return self.response(
            200,
            recovery_codes=codes,
            message=str(_("Tofaktorinnlogging er på. Skriv ut gjenopprettingskodene eller lagre dem et trygt sted.")),
        )

    @expose("/recovery_codes", methods=["POST"])
    @protect()
    @permission_name("post")
    @answered
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
        data = json_object(CodeIn())
        return self.response(
            200, recovery_codes=mfa.regenerate_recovery_codes(db.session, current_actor(), data["code"])
        )

    @expose("/disable", methods=["POST"])
    @protect()
    @permission_name("post")
    @answered
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
        data = json_object(DisableIn())
        mfa.disable(db.session, current_actor(), code=data["code"], password=data["password"])
        return self.response(200, message=str(_("Tofaktorinnlogging er skrudd av. Logg inn på nytt.")))
