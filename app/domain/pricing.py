"""Order and quote totals, computed with Decimal from the lines (one rule for every door).

VAT is computed per VAT rate on the sum of that rate's lines (as on a Norwegian invoice), rounded
half up to whole øre, so the VAT on an invoice equals the VAT of the order it bills.
"""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Iterable, NamedTuple, Union

ORE = Decimal("0.01")
DEFAULT_VAT_RATE = Decimal("25.00")

Number = Union[Decimal, int, str]


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


def _get(line: Any, name: str) -> Any:
    return line[name] if isinstance(line, dict) else getattr(line, name)


def order_totals(lines: Iterable[Any]) -> Totals:
    """(ex_vat, vat) of lines with `quantity`, `unit_price` and optional `vat_rate` (objects or dicts).

    Lines whose `status` is "cancelled" still count: a cancelled order keeps the totals it had.
    """
    by_rate: dict[Decimal, Decimal] = {}
    for line in lines:
        rate = _get(line, "vat_rate") if _has(line, "vat_rate") else None
        rate = Decimal(rate) if rate is not None else DEFAULT_VAT_RATE
        amount = line_total(int(_get(line, "quantity")), _get(line, "unit_price"))
        by_rate[rate] = by_rate.get(rate, Decimal("0")) + amount
    ex_vat = sum(by_rate.values(), Decimal("0"))
    vat = sum((money(amount * rate / 100) for rate, amount in by_rate.items()), Decimal("0"))
    return Totals(money(ex_vat), money(vat))


def _has(line: Any, name: str) -> bool:
    return name in line if isinstance(line, dict) else hasattr(line, name)
