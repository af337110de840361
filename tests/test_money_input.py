"""Money as people type it ("75 000,00", "75000", "75 000", "75000.50", non-breaking spaces) in every
form where money is typed: the company's credit limit, a budget's amount, a quote line's price. One
rule (app/domain/validation.validate_amount) read by one field (app/views/forms.MoneyField); the
form shows the amount the same way ("75 000,00"), and bad input gets a Norwegian message next to
the field."""

from __future__ import annotations

import html as html_lib
import re
from decimal import Decimal

import pytest
from flask import Flask
from sqlalchemy import select

from app.domain.validation import InvalidValue, parse_amount, validate_amount
from app.models import Budget, Company, QuoteLine
from tests.factories import World
from tests.helpers import client_as, db_session

NBSP = "\u00a0"
TYPED = ["75 000,00", "75000", "75 000", "75000.00", f"75{NBSP}000,00", "75\u202f000,00", " 75 000,00 kr "]
BAD_FORMAT = "Skriv et beløp i kroner, for eksempel 1500,00."


@pytest.mark.parametrize("typed", TYPED)
def test_the_rule_reads_amounts_as_people_type_them(typed: str) -> None:
    assert validate_amount(typed) == Decimal("75000.00")


def test_the_rule_refuses_what_is_not_an_amount() -> None:
    assert validate_amount("75000.50") == Decimal("75000.50") and validate_amount("0,5") == Decimal("0.50")
    assert validate_amount(Decimal("12.3")) == Decimal("12.30") and validate_amount(7) == Decimal("7.00")
    for bad in ("", "abc", "1e3", "7 5000", "1,2,3", "75.000,00", "NaN", "Infinity", "12,"):
        with pytest.raises(InvalidValue) as refused:
            validate_amount(bad)
        assert str(refused.value.message) == BAD_FORMAT, bad
    with pytest.raises(InvalidValue, match="negativt"):
        validate_amount("-5")
    with pytest.raises(InvalidValue, match="to desimaler"):
        validate_amount("1 000,005")
    assert parse_amount(None) is None and parse_amount(True) is None


def _input_value(body: str, name: str) -> str:
    tag = re.search(rf'<input[^>]*name="{name}"[^>]*>', body)
    assert tag, f"no input {name}"
    value = re.search(r'value="([^"]*)"', tag.group(0))
    return html_lib.unescape(value.group(1)) if value else ""


def _error_next_to(body: str, name: str) -> str:
    """The message FAB's form shows under the field (the alert after its input and help text)."""
    match = re.search(
        rf'name="{name}"[^>]*>\s*<span class="help-block">[^<]*</span>\s*<div class="alert alert-danger">\s*(.*?)\s*</div>',
        body,
        re.S,
    )
    assert match, f"no message next to {name}"
    return html_lib.unescape(match.group(1))


def _company_form(**values: str) -> dict[str, str]:
    return {
        "name": "Hansen AS",
        "org_number": "923609016",
        "kind": "dealer",
        "payment_terms": "invoice",
        "credit_limit": "50000",
        "requires_approval": "y",
        "postal_street": "",
        "postal_code": "",
        "postal_city": "",
        "email": "",
        "phone": "",
        "active": "y",
        **values,
    }


@pytest.mark.parametrize("typed", ["75 000,00", f"75{NBSP}000", "75000.50"])
def test_company_credit_limit(app: Flask, world: World, typed: str) -> None:
    client = client_as(app, "kundeservice")
    url = f"/companyview/edit/{world.a.company.id}"
    response = client.post(url, data=_company_form(credit_limit=typed))
    assert response.status_code == 302, _error_next_to(response.get_data(as_text=True), "credit_limit")
    with app.app_context(), db_session(app) as s:
        limit = s.get(Company, world.a.company.id).credit_limit
    assert limit == validate_amount(typed)
    shown = _input_value(client.get(url).get_data(as_text=True), "credit_limit")
    assert shown == ("75 000,50" if typed == "75000.50" else "75 000,00")


def test_company_credit_limit_refused_next_to_the_field(app: Flask, world: World) -> None:
    client = client_as(app, "kundeservice")
    url = f"/companyview/edit/{world.a.company.id}"
    body = client.post(url, data=_company_form(credit_limit="75 000 kroner")).get_data(as_text=True)
    assert _error_next_to(body, "credit_limit") == BAD_FORMAT
    assert _input_value(body, "credit_limit") == "75 000 kroner"  # what was typed stays to correct
    body = client.post(url, data=_company_form(credit_limit="")).get_data(as_text=True)
    assert _error_next_to(body, "credit_limit") == "Beløpet må fylles ut."
    with app.app_context(), db_session(app) as s:
        assert s.get(Company, world.a.company.id).credit_limit == Decimal("200000.00")


def test_new_company_with_a_typed_credit_limit(app: Flask, world: World) -> None:
    client = client_as(app, "kundeservice")
    data = _company_form(customer_number="20020", name="Fjord AS", org_number="974760673", credit_limit="1 250 000,5")
    response = client.post("/companyview/add", data=data)
    assert response.status_code == 302
    with app.app_context(), db_session(app) as s:
        made = s.scalars(select(Company).where(Company.customer_number == "20020")).one()
        assert made.credit_limit == Decimal("1250000.50")


def test_budget_amount(app: Flask, world: World) -> None:
    client = client_as(app, "hansen.admin")
    url = f"/budgetview/edit/{world.a.budget.id}"
    assert _input_value(client.get(url).get_data(as_text=True), "amount") == "10 000,00"
    data = {"user": str(world.a.user.id), "period": "month", "amount": f"12{NBSP}500,50", "active": "y"}
    assert client.post(url, data=data).status_code == 302
    with app.app_context(), db_session(app) as s:
        assert s.get(Budget, world.a.budget.id).amount == Decimal("12500.50")
    body = client.post(url, data={**data, "amount": "12.500,50"}).get_data(as_text=True)
    assert _error_next_to(body, "amount") == BAD_FORMAT


def test_quote_line_price(app: Flask, world: World) -> None:
    line_id = world.a.quote.lines[0].id
    seller = client_as(app, "selger")
    form = {"product": "STOL-1", "quantity": "2", "width": "", "depth": "", "fabric": "", "colour": ""}
    url = f"/quotelineview/edit/{line_id}"
    assert seller.post(url, data={**form, "unit_price": "1 480,00"}).status_code == 302
    with app.app_context(), db_session(app) as s:
        assert s.get(QuoteLine, line_id).unit_price == Decimal("1480.00")
    assert _input_value(seller.get(url).get_data(as_text=True), "unit_price") == "1 480,00"
    body = seller.post(url, data={**form, "unit_price": "tusen"}).get_data(as_text=True)
    assert _error_next_to(body, "unit_price") == BAD_FORMAT
    # Blank is the product's list price (the price is optional).
    assert seller.post(url, data={**form, "unit_price": ""}).status_code == 302
    with app.app_context(), db_session(app) as s:
        assert s.get(QuoteLine, line_id).unit_price == Decimal("500.00")
