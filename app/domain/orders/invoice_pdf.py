"""Fakturakopi: a PDF copy of an invoice, drawn with reportlab, and its download.

Shows supplier, customer, invoice number, dates, the order's lines, VAT per rate and totals. The
line amounts and the VAT breakdown come from app/domain/pricing.py, the rule that computed the order.

reportlab's Paragraph reads its text as markup (`<b>`, `<a href>`, `<font>`, entities): every value
that is not our own fixed text goes in through `_text`, which escapes it, so a company name or a
postal address is printed as typed and can neither break the copy nor put a link into it.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from decimal import Decimal
from html import escape
from typing import Any

from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
from sqlalchemy.orm import Session

from app.domain.errors import NotFound
from app.domain.formatting import format_date, format_nok
from app.domain.pricing import line_total, money, totals_of, vat_breakdown
from app.models import Invoice

INVOICE_NOT_FOUND = _l("Fant ikke fakturaen.")

# What may stand in a download's file name; anything else in an invoice number becomes "_".
_UNSAFE_IN_FILENAME = re.compile(r"[^A-Za-z0-9._-]+")
# Control characters (tab, line break, bell, NUL ...) print as boxes: a space instead.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]+")


def invoice_copy(
    session: Session, invoice_id: int, config: Mapping[str, Any], order_id: int | None = None
) -> tuple[str, bytes]:
    """(file name, PDF) of an invoice copy. The invoice is read through `session`, which the tenancy
    guard scopes: another company's invoice, or (with `order_id`) another order's, is NotFound."""
    invoice = session.get(Invoice, invoice_id)
    if invoice is None or (order_id is not None and invoice.order_id != order_id):
        raise NotFound(INVOICE_NOT_FOUND)
    with force_locale("nb"):  # the copy of a Norwegian invoice is in bokmål whatever the page's language
        return copy_filename(invoice.number), render_invoice_pdf(invoice, supplier_from_config(config))


def copy_filename(number: str) -> str:
    """ "fakturakopi-F-9001.pdf": safe in a Content-Disposition header and on any file system."""
    return f"fakturakopi-{_UNSAFE_IN_FILENAME.sub('_', number)}.pdf"


def _text(value: Any) -> str:
    """A value inside a reportlab Paragraph, which reads its text as markup: escaped, one line."""
    return escape(_CONTROL.sub(" ", str(value if value is not None else "")), quote=False)


def a4_document(buffer: io.BytesIO, title: str, supplier: Mapping[str, str]) -> SimpleDocTemplate:
    """The page of every PDF we issue (invoice copy, Kontoutskrift): A4, 18 mm margins."""
    margin = 18 * mm
    return SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=margin,
        rightMargin=margin,
        topMargin=margin,
        bottomMargin=margin,
        title=title,
        author=supplier.get("name", ""),
    )


def supplier_block(supplier: Mapping[str, str]) -> str:
    """Who issues the document: name, address, org. number (escaped Paragraph markup)."""
    return "<br/>".join(
        [
            f"<b>{_text(supplier['name'])}</b>",
            _text(supplier["address"]),
            _text(_("Org.nr. %(number)s MVA", number=supplier["org_number"])),
        ]
    )


def customer_block(name: Any, customer_number: Any, street: Any, postal_code: Any, city: Any, org_number: Any) -> str:
    """To whom: name, customer number, postal address, org. number (escaped Paragraph markup)."""
    return "<br/>".join(
        [
            f"<b>{_text(name)}</b>",
            _text(_("Kundenummer %(number)s", number=customer_number)),
            _text(street),
            _text(f"{postal_code or ''} {city or ''}"),
            _text(_("Org.nr. %(number)s", number=org_number)),
        ]
    )


def render_invoice_pdf(invoice: Invoice, supplier: Mapping[str, str]) -> bytes:
    order = invoice.order
    styles = getSampleStyleSheet()
    buffer = io.BytesIO()
    title = _("Fakturakopi %(number)s", number=invoice.number)
    doc = a4_document(buffer, title, supplier)
    supplier_text = supplier_block(supplier)
    customer_text = customer_block(
        invoice.billing_name,
        invoice.billing_customer_number,
        invoice.billing_street,
        invoice.billing_postal_code,
        invoice.billing_city,
        invoice.billing_org_number,
    )
    normal = styles["Normal"]

    def cell(value: Any) -> Paragraph:
        """A table cell that wraps long user text (a plain string cell would run off the page)."""
        return Paragraph(_text(value), normal)

    story = [
        Paragraph(_text(title), styles["Title"]),
        Table(
            [[Paragraph(supplier_text, normal), Paragraph(customer_text, normal)]],
            colWidths=[87 * mm, 87 * mm],
        ),
        Spacer(1, 6 * mm),
        Table(
            [
                [_("Fakturanummer"), cell(invoice.number), _("Ordrenummer"), cell(order.number)],
                [_("Fakturadato"), format_date(invoice.invoice_date), _("Forfallsdato"), format_date(invoice.due_date)],
                [
                    _("Status"),
                    _("Betalt") if invoice.paid else _("Ubetalt"),
                    _("Deres referanse"),
                    cell(order.customer_reference),
                ],
            ],
            colWidths=[35 * mm, 52 * mm, 35 * mm, 52 * mm],
            style=TableStyle(
                [
                    ("FONTNAME", (0, 0), (0, -1), "Helvetica-Bold"),
                    ("FONTNAME", (2, 0), (2, -1), "Helvetica-Bold"),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ]
            ),
        ),
        Spacer(1, 6 * mm),
    ]
    rows: list[list[Any]] = [[_("Linje"), _("Vare"), _("Antall"), _("Enhetspris"), _("Mva"), _("Beløp eks. mva")]]
    for line in order.lines:
        desc = f"{line.product.sku} {line.product.name}"
        extras = [
            f"{line.width}×{line.depth} cm" if line.width or line.depth else "",
            line.fabric or "",
            line.colour or "",
        ]
        desc += "".join(f", {e}" for e in extras if e)
        rows.append(
            [
                str(line.line_no),
                cell(desc),
                str(line.quantity),
                format_nok(line.unit_price),
                _percent(line.vat_rate),
                format_nok(line_total(line.quantity, line.unit_price)),
            ]
        )
    table = Table(rows, colWidths=[12 * mm, 72 * mm, 16 * mm, 28 * mm, 14 * mm, 32 * mm], repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, 0), "Helvetica-Bold"),
                ("LINEBELOW", (0, 0), (-1, 0), 0.5, colors.black),
                ("ALIGN", (2, 0), (-1, -1), "RIGHT"),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    story += [table, Spacer(1, 4 * mm)]
    breakdown = vat_breakdown(order.lines)
    totals = totals_of(breakdown)
    rows = [[_("Sum eks. mva"), format_nok(totals.ex_vat)]]
    rows += [
        [_("Mva %(rate)s av %(base)s", rate=_percent(v.rate), base=format_nok(v.base)), format_nok(v.vat)]
        for v in breakdown
    ]
    rows.append([_("Sum inkl. mva"), format_nok(totals.inc_vat)])
    if money(invoice.amount) != totals.inc_vat:
        rows.append([_("Fakturert beløp"), format_nok(invoice.amount)])
    story.append(
        Table(
            rows,
            colWidths=[140 * mm, 34 * mm],
            style=TableStyle(
                [
                    ("ALIGN", (1, 0), (1, -1), "RIGHT"),
                    ("FONTNAME", (0, -1), (-1, -1), "Helvetica-Bold"),
                    ("LINEABOVE", (0, -1), (-1, -1), 0.5, colors.black),
                ]
            ),
        )
    )
    story += [
        Spacer(1, 8 * mm),
        Paragraph(
            _text(_("Dette er en kopi av fakturaen. Betaling til kontonummeret på originalfakturaen.")),
            styles["Italic"],
        ),
    ]
    doc.build(story)
    return buffer.getvalue()


def _percent(rate: Any) -> str:
    return f"{Decimal(rate):.0f} %"


def supplier_from_config(config: Mapping[str, Any]) -> dict[str, str]:
    return {
        "name": config["SUPPLIER_NAME"],
        "address": config["SUPPLIER_ADDRESS"],
        "org_number": config["SUPPLIER_ORG_NUMBER"],
    }
