"""Order and quote totals, computed with Decimal from the lines (one rule for every door), and the
customer's payment terms.

VAT is computed per VAT rate on the sum of that rate's lines (as on a Norwegian invoice), rounded
half up to whole øre, so the VAT on an invoice equals the VAT of the order it bills.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, NamedTuple

from sqlalchemy.orm import Session

from app.domain.actors import Actor
from app.domain.budgets import budget_status, usage_level
from app.domain.catalogue import MAX_QUANTITY, LineInput, check_lines
from app.models import Budget, Company, PaymentTerms, Product

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


# --- prices while ordering: what a form shows before it is sent -------------------------------


@dataclass(frozen=True)
class LinePrice:
    """One line's price as it would be stored: None until the line names an orderable product
    (unit price) and a valid quantity (total)."""

    unit_price: Decimal | None
    total: Decimal | None


@dataclass(frozen=True)
class BudgetLeft:
    """What a budget that applies to the customer has left after the order being written:
    amount − consumption − this order, ex. VAT (negative: over the limit)."""

    budget: Budget
    used: Decimal
    left: Decimal
    level: str  # budgets.usage_level with this order: "ok", "warn" (80 % or more) or "over"
    start: dt.date
    end: dt.date


@dataclass(frozen=True)
class PricedLines:
    lines: list[LinePrice]
    errors: dict[str, str]  # the line check's messages, keyed `lines` / `lines[<i>].<field>`
    totals: Totals
    budgets: list[BudgetLeft]


def catalogue_price(product: Product, line: LineInput) -> Decimal:
    """The price an order line is stored at (orders/placing.build_order): a frozen quote price, else
    the catalogue's."""
    return line.unit_price if line.unit_price is not None else product.unit_price


def price_lines(
    session: Session,
    actor: Actor,
    lines: Sequence[LineInput],
    *,
    price_of: Callable[[Product, LineInput], Decimal] = catalogue_price,
    with_budgets: bool = False,
    statuses: list[dict[str, Any]] | None = None,
) -> PricedLines:
    """The lines of a form being written, checked and priced by the rules that apply when it is sent:
    the line check (catalogue.check_lines), each line's price (`price_of`; quotes pass their own
    rule for a seller's special price) and total, the order's totals with VAT per rate
    (order_totals), and, `with_budgets`, what each of the customer's budgets has left after it
    (`statuses`: budgets.budget_status already read for the same actor and day, not read again).

    A line with a problem in its measures or variants is still priced (its price does not depend on
    them); only the product and the quantity are needed.
    """
    errors, products = check_lines(session, lines)
    priced: list[LinePrice] = []
    rows: list[dict[str, Any]] = []
    for i, ln in enumerate(lines):
        product = products.get(ln.product_id) if ln.product_id else None
        if product is None or f"lines[{i}].product_id" in errors:
            priced.append(LinePrice(None, None))
            continue
        unit = price_of(product, ln)
        if ln.quantity is None or not 0 < ln.quantity <= MAX_QUANTITY:
            priced.append(LinePrice(unit, None))
            continue
        priced.append(LinePrice(unit, line_total(ln.quantity, unit)))
        rows.append({"quantity": ln.quantity, "unit_price": unit, "vat_rate": product.vat_rate})
    totals = order_totals(rows)
    budgets: list[BudgetLeft] = []
    if with_budgets and actor.is_customer:
        # The actor's own company only (budget_status reads by actor.company_id, through the guard).
        for status in budget_status(session, actor) if statuses is None else statuses:
            budgets.append(
                BudgetLeft(
                    budget=status["budget"],
                    used=status["used"],
                    left=status["remaining"] - totals.ex_vat,
                    level=usage_level(status["used"] + totals.ex_vat, status["budget"].amount)[1],
                    start=status["start"],
                    end=status["end"],
                )
            )
    return PricedLines(priced, errors, totals, budgets)
