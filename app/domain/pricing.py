"""Order and quote totals, computed with Decimal from the lines (one rule for every door), and the
customer's payment terms.

VAT is computed per VAT rate on the sum of that rate's lines (as on a Norwegian invoice), rounded
half up to whole øre, so the VAT on an invoice equals the VAT of the order it bills.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, NamedTuple

from app.models import Company, PaymentTerms

ORE = Decimal("0.01")
DEFAULT_VAT_RATE = Decimal("25.00")

Number = Decimal | int | str


def money(value: Number) -> Decimal:
    """Round to whole øre, half up (never binary floats)."""
    return Decimal(value).quantize(ORE, rounding=ROUND_HALF_UP)


def line_total(quantity: int, unit_price: Number) -> Decimal:
    """Line amount ex. VAT."""
    return money(Decimal(unit_price) * quantity)


class Totals(NamedTuple):
    ex_vat: Decimal
    vat: Decimal

    @property
    def inc_vat(self) -> Decimal:
        return self.ex_vat + self.vat


class VatAmount(NamedTuple):
    """One VAT rate's share of an order: the rate (%), the lines' sum ex. VAT, the VAT on it."""

    rate: Decimal
    base: Decimal
    vat: Decimal


def _get(line: Any, name: str) -> Any:
    return line[name] if isinstance(line, dict) else getattr(line, name)


def _has(line: Any, name: str) -> bool:
    return name in line if isinstance(line, dict) else hasattr(line, name)


def vat_breakdown(lines: Iterable[Any]) -> list[VatAmount]:
    """VAT per rate, lowest rate first, of lines with `quantity`, `unit_price` and optional
    `vat_rate` (objects or dicts; no rate: the standard rate)."""
    by_rate: dict[Decimal, Decimal] = {}
    for line in lines:
        rate = _get(line, "vat_rate") if _has(line, "vat_rate") else None
        rate = Decimal(rate) if rate is not None else DEFAULT_VAT_RATE
        amount = line_total(int(_get(line, "quantity")), _get(line, "unit_price"))
        by_rate[rate] = by_rate.get(rate, Decimal("0")) + amount
    return [VatAmount(rate, money(base), money(base * rate / 100)) for rate, base in sorted(by_rate.items())]


def order_totals(lines: Iterable[Any]) -> Totals:
    """(ex_vat, vat) of lines with `quantity`, `unit_price` and optional `vat_rate` (objects or dicts).

    Lines whose `status` is "cancelled" still count: a cancelled order keeps the totals it had.
    """
    return totals_of(vat_breakdown(lines))


def totals_of(breakdown: Iterable[VatAmount]) -> Totals:
    """The totals a VAT breakdown adds up to."""
    breakdown = list(breakdown)
    return Totals(
        money(sum((v.base for v in breakdown), Decimal("0"))), money(sum((v.vat for v in breakdown), Decimal("0")))
    )


def is_invoice_customer(company: Company | None) -> bool:
    """Does the company pay by invoice (payment terms `invoice`, not card)?"""
    return company is not None and company.payment_terms == PaymentTerms.invoice.value
