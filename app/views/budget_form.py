"""Form fields of BudgetView (Bruksgrense): the amount as Norwegians type it, and the users of one company.

* `MoneyField`: "1500", "1 500,50" or "1500.50"; the rule (>= 0, at most two decimals) is
  app/domain/validation.validate_amount, so the messages are the same as the API's. WTForms'
  DecimalField would refuse a decimal comma with "Beløpet må fylles ut." (it sees no number).
* `active`: a plain checkbox (FAB makes a NOT NULL boolean "required", so it could not be unticked).
* `budget_user_field`: the users of the form's company only (customer side: the tenancy guard
  scopes the query as well); a deactivated user is marked so.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from flask_appbuilder.fields import QuerySelectField
from flask_appbuilder.fieldwidgets import BS3TextFieldWidget, Select2Widget
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from wtforms import BooleanField, StringField
from wtforms.validators import StopValidation

from ..domain.formatting import NBSP
from ..domain.validation import InvalidValue, validate_amount
from ..extensions import db
from ..models import PortalUser
from .base import form_company_id

# Numeric(12, 2): the largest amount the column holds.
MAX_AMOUNT = Decimal("9999999999.99")


class MoneyField(StringField):
    """An amount in NOK typed as text; `data` is a Decimal once validated."""

    def __init__(self, label: Any = None, validators: Any = None, **kwargs: Any) -> None:
        kwargs.setdefault("widget", BS3TextFieldWidget())
        kwargs.setdefault("render_kw", {"inputmode": "decimal"})
        super().__init__(label, validators, **kwargs)
        self.flags.required = True

    def _value(self) -> str:
        if isinstance(self.data, Decimal):
            return f"{self.data:.2f}".replace(".", ",")
        return str(self.data or "")

    def process_formdata(self, valuelist: list[str]) -> None:
        if valuelist:
            self.data = (valuelist[0] or "").strip()

    def pre_validate(self, form: Any) -> None:
        raw = self.data if isinstance(self.data, str) else ("" if self.data is None else str(self.data))
        text = raw.replace(" ", "").replace(NBSP, "")
        if not text:
            raise StopValidation(str(_l("Beløpet må fylles ut.")))
        try:
            amount = validate_amount(text)
        except InvalidValue as exc:
            raise StopValidation(str(exc.message)) from exc
        if amount > MAX_AMOUNT:
            raise StopValidation(str(_l("Beløpet er for stort.")))
        self.data = amount


def _company_users() -> list[PortalUser]:
    return list(db.session.scalars(select(PortalUser).where(PortalUser.company_id == form_company_id())
                                   .order_by(PortalUser.first_name, PortalUser.last_name, PortalUser.username)))


def _user_label(user: PortalUser) -> str:
    return user.full_name if user.active else str(_l("%(name)s (deaktivert)", name=user.full_name))


def budget_user_field() -> QuerySelectField:
    return QuerySelectField(_l("Bruker"), query_func=_company_users, get_pk_func=lambda user: user.id,
                            get_label=_user_label, allow_blank=True, blank_text=_l("(alle brukere)"),
                            widget=Select2Widget(),
                            description=_l("Tomt: grensen gjelder alle brukerne i bedriften samlet."))


def budget_form_fields() -> dict[str, Any]:
    return {
        "user": budget_user_field(),
        "amount": MoneyField(_l("Beløp eks. mva."), description=_l(
            "Myk grense: ordre over grensen blir lagt inn, men merket, og administratorene varsles.")),
        # Unticked must be allowed (FAB makes a NOT NULL boolean column "required").
        "active": BooleanField(_l("Aktiv"), default=True,
                               description=_l("En bruksgrense som ikke er aktiv, gjelder ikke.")),
    }
