"""Users (Brukere) of a company: list, create (welcome mail), deactivate/activate, promote/demote.

The rules are app/domain/accounts.py's, as on the HTML pages: a customer admin sees and manages
its own company's users only (another company's user is 404), customer service and Admin any
company's. Passwords, hashes and security stamps are never part of an answer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from flask import Response, current_app
from flask_appbuilder.api import expose
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_appbuilder.security.decorators import permission_name, protect
from flask_babel import lazy_gettext as _
from marshmallow import fields, validate
from sqlalchemy.orm import joinedload

from app.api.base import PortalModelRestApi, current_actor, ids_in_range, safe
from app.api.fields import MAX_ID, MSG_NOT_FOUND_REF, InputSchema, computed
from app.domain import accounts, labels, throttle
from app.domain.errors import ValidationFailed
from app.extensions import db
from app.models import PortalUser

MSG_TOO_MANY_CREATIONS = _(
    "For mange avviste brukernavn eller e-postadresser på kort tid. Vent en stund og prøv igjen."
)
MSG_TOO_MANY_CHECKS = _("For mange forsøk med feil passord. Vent en stund og prøv igjen.")


def _caller_key() -> str:
    return str(current_actor().id)


def _throttle_allows(bucket: str) -> bool:
    return throttle.of(current_app).allowed(db.session, bucket, _caller_key())


class UserIn(InputSchema):
    """POST body. The domain checks the content (required, format, unique) with its own messages."""

    first_name = fields.String(load_default="")
    last_name = fields.String(load_default="")
    email = fields.String(load_default="")
    phone = fields.String(load_default=None, allow_none=True)
    username = fields.String(load_default="")
    role = fields.String(load_default=accounts.CUSTOMER_USER, metadata={"description": "CustomerUser or CustomerAdmin"})
    # Supplier staff name the company (customer users must have one); a customer's is its own.
    company_id = fields.Integer(
        strict=True,
        allow_none=True,
        load_default=None,
        validate=validate.Range(min=1, max=MAX_ID, error=MSG_NOT_FOUND_REF),
    )
    customer_number = fields.String(
        allow_none=True, load_default=None, metadata={"description": "Instead of company_id"}
    )


class PasswordIn(InputSchema):
    """POST /user/me/password. The domain checks the current password and the policy."""

    current_password = fields.String(load_default="")
    password = fields.String(load_default="")
    confirm_password = fields.String(
        load_default=None, allow_none=True, metadata={"description": "If sent, must equal password"}
    )


class _UserInterface(SQLAInterface):
    """Lists load the users' roles in the page's own statement (not one statement per user)."""

    def apply_all(self, query: Any, *args: Any, **kwargs: Any) -> Any:
        return super().apply_all(query, *args, **kwargs).options(joinedload(PortalUser.roles))


def _role_codes(user: PortalUser) -> list[str]:
    return sorted(r.name for r in user.roles)


def _role_labels(user: PortalUser) -> list[str]:
    return [labels.label(labels.ROLE, name) for name in _role_codes(user)]


class UserApi(PortalModelRestApi):
    """/api/v1/user/ — the users of a company (customer admins: their own; customer service: all).

    POST {first_name, last_name, email, username, role ("CustomerUser"|"CustomerAdmin"), phone?,
    company_id or customer_number (supplier staff)}: creates the user and puts a welcome mail with
    a set-password link (expires, works once) in the outbox; 201. Workflow (POST, no body):
    `/<id>/deactivate` (ends the user's sessions and API tokens at once), `/<id>/activate`,
    `/<id>/promote` (to CustomerAdmin), `/<id>/demote` (to CustomerUser), `/<id>/send_link`
    (a new set-password link). The last active customer admin of a company can be neither
    deactivated nor demoted: 409 with the reason. Every user: `POST /me/password` (own password).
    """

    resource_name = "user"
    list_title = _("Brukere")
    show_title = _("Bruker")
    add_title = _("Ny bruker")
    edit_title = _("Endre bruker")
    tenant_owned = False  # company_id is checked by the domain (a customer's is always its own)
    datamodel = _UserInterface(PortalUser)
    virtual_fields = {
        "roles": computed(_role_codes, fields.List, fields.String()),
        "role_labels": computed(_role_labels, fields.List, fields.String()),
    }
    label_columns = {
        "username": _("Brukernavn"),
        "first_name": _("Fornavn"),
        "last_name": _("Etternavn"),
        "newsletter": _("Nyhetsbrev"),
        "last_login": _("Sist innlogget"),
        "roles": _("Roller (koder)"),
        "role_labels": _("Roller"),
        "role": _("Rolle"),
    }
    list_columns = [
        "id",
        "username",
        "first_name",
        "last_name",
        "email",
        "phone",
        "company_id",
        "company.customer_number",
        "company.name",
        "active",
        "newsletter",
        "last_login",
        "roles",
        "role_labels",
    ]
    show_columns = list_columns
    search_columns = ["username", "first_name", "last_name", "email", "active", "company_id"]
    order_columns = ["username", "first_name", "last_name", "email", "last_login", "active"]
    base_order = ("last_name", "asc")
    add_model_schema = UserIn()
    add_columns = ["first_name", "last_name", "email", "phone", "username", "role", "company_id", "customer_number"]
    customer_add_columns: ClassVar[list[str]] = []  # one hand-written body (UserIn) for everybody
    edit_columns = ["first_name"]  # no PUT route: contact details are the user's own (Min profil)
    throttled_routes = frozenset({"post", "change_password"})

    @safe
    def post_headless(self) -> Response:
        data = self.load_input(UserIn(), self.json_body())
        # Refusals on the username or e-mail count per user (they tell what exists elsewhere).
        if not _throttle_allows(throttle.USER_CREATE):
            return self.response(429, message=str(MSG_TOO_MANY_CREATIONS))
        user, _mail = self._counting_refusals(
            throttle.USER_CREATE,
            {"username", "email"},
            lambda: accounts.create_user(
                db.session,
                current_actor(),
                first_name=data["first_name"],
                last_name=data["last_name"],
                email=data["email"],
                phone=data.get("phone"),
                username=data["username"],
                role=data["role"],
                company_id=data.get("company_id"),
                customer_number=data.get("customer_number"),
            ),
        )
        return self.response(201, id=user.id, result=self._show(user))

    def _counting_refusals(self, bucket: str, fields: set[str], action: Callable[[], Any]) -> Any:
        """`commit`, counting a refusal on one of `fields` in the caller's throttle."""
        try:
            return self.commit(action)
        except ValidationFailed as exc:
            if exc.errors.keys() & fields:
                db.session.rollback()
                throttle.of(current_app).hit(db.session, bucket, _caller_key())
            raise

    def _change(self, pk: int, rule: Callable[..., Any]) -> Response:
        user = self.commit(lambda: rule(db.session, current_actor(), pk))
        return self.response(200, id=pk, result=self._show(user))

    @expose("/<int:pk>/deactivate", methods=["POST"])
    @protect()
    @safe
    @permission_name("deactivate")
    @ids_in_range
    def deactivate(self, pk: int) -> Response:
        """Deactivate a user: access ends at once (sessions and API tokens).
        ---
        post:
          summary: Deactivate a user (customer admin of the company, customer service)
          parameters:
          - {in: path, name: pk, required: true, schema: {type: integer}}
          responses:
            200: {description: The user, now inactive}
            403: {$ref: '#/components/responses/403'}
            404: {$ref: '#/components/responses/404'}
            409: {description: 'Not allowed now: the last active customer admin, oneself, already inactive'}
        """
        return self._change(pk, accounts.deactivate_user)

    @expose("/<int:pk>/activate", methods=["POST"])
    @protect()
    @safe
    @permission_name("activate")
    @ids_in_range
    def activate(self, pk: int) -> Response:
        """Activate a deactivated user again.
        ---
        post:
          summary: Activate a user
          parameters:
          - {in: path, name: pk, required: true, schema: {type: integer}}
          responses:
            200: {description: The user, now active}
            403: {$ref: '#/components/responses/403'}
            404: {$ref: '#/components/responses/404'}
            409: {description: Already active}
        """
        return self._change(pk, accounts.activate_user)

    @expose("/<int:pk>/promote", methods=["POST"])
    @protect()
    @safe
    @permission_name("promote")
    @ids_in_range
    def promote(self, pk: int) -> Response:
        """Make a customer user an administrator of its company (CustomerAdmin).
        ---
        post:
          summary: Promote a user to customer admin
          parameters:
          - {in: path, name: pk, required: true, schema: {type: integer}}
          responses:
            200: {description: The user, now CustomerAdmin}
            403: {$ref: '#/components/responses/403'}
            404: {$ref: '#/components/responses/404'}
            409: {description: Already an admin}
        """
        return self._change(pk, accounts.promote_user)

    @expose("/<int:pk>/demote", methods=["POST"])
    @protect()
    @safe
    @permission_name("demote")
    @ids_in_range
    def demote(self, pk: int) -> Response:
        """Make a customer admin a plain user (CustomerUser); never the company's last active admin.
        ---
        post:
          summary: Demote a customer admin to user
          parameters:
          - {in: path, name: pk, required: true, schema: {type: integer}}
          responses:
            200: {description: The user, now CustomerUser}
            403: {$ref: '#/components/responses/403'}
            404: {$ref: '#/components/responses/404'}
            409: {description: 'Not an admin, or the last active admin of the company'}
        """
        return self._change(pk, accounts.demote_user)

    @expose("/<int:pk>/send_link", methods=["POST"])
    @protect()
    @safe
    @permission_name("send_link")
    @ids_in_range
    def send_link(self, pk: int) -> Response:
        """Send the user a new set-password link (e.g. the welcome link expired).
        ---
        post:
          summary: Mail a new set-password link
          parameters:
          - {in: path, name: pk, required: true, schema: {type: integer}}
          responses:
            200: {description: The mail is in the outbox}
            403: {$ref: '#/components/responses/403'}
            404: {$ref: '#/components/responses/404'}
            409: {description: The user is inactive}
        """
        mail = self.commit(lambda: accounts.send_password_link(db.session, current_actor(), pk))
        return self.response(
            200, id=pk, message=str(_("En ny lenke for å velge passord er sendt til %(email)s.", email=mail.to_address))
        )

    @expose("/me/password", methods=["POST"])
    @protect()
    @safe
    @permission_name("change_password")
    def change_password(self) -> Response:
        """The caller's own password, as on Min profil: the current one, then the password policy.
        ---
        post:
          summary: Change your own password (every user)
          description: >-
            The new password has 10-128 characters, is not a common or guessable password and does
            not contain the username. Every session and API token of the user ends, this one too:
            log in again with the new password.
          requestBody:
            required: true
            content:
              application/json:
                schema:
                  type: object
                  required: [current_password, password]
                  properties:
                    current_password: {type: string}
                    password: {type: string, minLength: 10, maxLength: 128}
                    confirm_password: {type: string}
          responses:
            200: {description: The password is changed; log in again}
            400: {$ref: '#/components/responses/400'}
            401: {$ref: '#/components/responses/401'}
        """
        data = self.load_input(PasswordIn(), self.json_body())
        confirm = data["confirm_password"] if data["confirm_password"] is not None else data["password"]
        if not _throttle_allows(throttle.PASSWORD_CHECK):
            return self.response(429, message=str(MSG_TOO_MANY_CHECKS))
        user = self._counting_refusals(
            throttle.PASSWORD_CHECK,
            {"current_password"},
            lambda: accounts.change_password(
                db.session,
                current_actor(),
                current=data["current_password"],
                password=data["password"],
                confirm=confirm,
            ),
        )
        return self.response(
            200,
            id=user.id,
            message=str(_("Passordet er endret. Logg inn på nytt med det nye passordet.")),
        )
