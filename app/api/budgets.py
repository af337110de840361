"""Budgets (Bruksgrense): a soft spending limit per company, optionally per user and period."""

from __future__ import annotations

from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_babel import lazy_gettext as _

from app.api.base import PortalModelRestApi
from app.api.fields import domain_validator, one_of
from app.domain import labels
from app.domain.budgets import validate_budget_amount
from app.models import Budget, BudgetPeriod


class BudgetApi(PortalModelRestApi):
    """/api/v1/budget/ — CustomerAdmin keeps the budgets of its own company.

    Body: `period` (month|quarter|year), `amount` (NOK, >= 0, at most two decimals and
    9999999999.99; a number or a string), optional `user_id` (a user of the same company; none =
    the whole company), `active`. `amount` is answered as a 2-decimal string.
    """

    resource_name = "budget"
    list_title = _("Bruksgrenser")
    show_title = _("Bruksgrense")
    add_title = _("Ny bruksgrense")
    edit_title = _("Endre bruksgrense")
    datamodel = SQLAInterface(Budget)
    label_fields = {"period": labels.BUDGET_PERIOD}
    list_columns = [
        "id",
        "company_id",
        "company.name",
        "user_id",
        "user.first_name",
        "user.last_name",
        "user.username",
        "period",
        "period_label",
        "amount",
        "active",
        "created_at",
    ]
    show_columns = list_columns
    add_columns = ["company_id", "user_id", "period", "amount", "active"]
    edit_columns = ["user_id", "period", "amount", "active"]
    search_columns = ["company_id", "user_id", "period", "active", "amount"]
    base_order = ("created_at", "desc")
    validators_columns = {"amount": domain_validator(validate_budget_amount), "period": one_of(BudgetPeriod)}
