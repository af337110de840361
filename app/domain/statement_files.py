"""Kontoutskrift as a file: PDF (reportlab, as the invoice copy) and CSV/XLSX (the order export's
writers: `;`-separated UTF-8 with BOM and "1234,50"; XLSX with money as numbers).

Every value in the PDF that is not our own fixed text goes through invoice_pdf's `_text`, which
escapes it for reportlab's markup: a company name with `<b>` or `<a href>` prints as typed.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Iterator
from typing import Any

from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from reportlab.lib import colors
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, Spacer, Table, TableStyle

from app.domain.formatting import format_date, format_month, format_nok, to_oslo
from app.domain.orders.export import DATE, MONEY, NUMBER, Column, csv_chunks, xlsx_chunks
from app.domain.orders.invoice_pdf import _text, a4_document, customer_block, supplier_block, supplier_from_config
from app.domain.statements import Line, Statement

__all__ = ["COLUMNS", "csv_chunks", "filename", "render_pdf", "rows", "supplier_from_config", "xlsx_chunks"]

_UNSAFE_IN_FILENAME = re.compile(r"[^A-Za-z0-9._-]+")

OPEN, OVERDUE, PAID = _l("Åpen"), _l("Forfalt"), _l("Betalt")

COLUMNS = (
    Column(_l("Status")),
    Column(_l("Fakturanummer")),
    Column(_l("Ordrenummer")),
    Column(_l("Fakturadato"), DATE),
    Column(_l("Forfallsdato"), DATE),
    Column(_l("Dager forfalt"), NUMBER),
    Column(_l("Betalt dato"), DATE),
    Column(_l("Beløp inkl. mva."), MONEY),
)


def filename(customer_number: str, today: dt.date) -> str:
    """ "kontoutskrift-10001_2026-12-02" (the extension is the caller's)."""
    return f"kontoutskrift-{_UNSAFE_IN_FILENAME.sub('_', customer_number)}_{today.isoformat()}"


def _status(line: Line) -> str:
    return str(PAID if line.paid_at is not None else OVERDUE if line.overdue else OPEN)


def _paid_day(line: Line) -> dt.date | None:
    return to_oslo(line.paid_at).date() if line.paid_at else None


def rows(st: Statement) -> Iterator[list[Any]]:
    """The open invoices (oldest due first), then those paid in the period (latest first)."""
    for line in [*st.open_lines, *st.paid_lines]:
        yield [
            _status(line),
            line.number,
            line.order_number,
            line.invoice_date,
            line.due_date,
            line.days_overdue if line.paid_at is None else None,
            _paid_day(line),
            line.amount,
        ]


def render_pdf(st: Statement, supplier: dict[str, str]) -> bytes:
    """The statement as a PDF in bokmål (like the invoice copy, whatever the page's language)."""
    with force_locale("nb"):
        return _render(st, supplier)


def _render(st: Statement, supplier: dict[str, str]) -> bytes:
    company = st.company
    styles = getSampleStyleSheet()
    normal = styles["Normal"]
    buffer = io.BytesIO()
    title = _("Kontoutskrift %(date)s", date=format_date(st.today))
    doc = a4_document(buffer, title, supplier)
    supplier_text = supplier_block(supplier)
    customer_text = customer_block(
        company.name,
        company.customer_number,
        company.postal_street,
        company.postal_code,
        company.postal_city,
        company.org_number,
    )

    def cell(value: Any) -> Paragraph:
        return Paragraph(_text(value), normal)

    bold_first = TableStyle([("FONTNAME", (0, 0), (0, -1), "Helvetica-Bold"), ("ALIGN", (1, 0), (1, -1), "RIGHT")])
    story: list[Any] = [
        Paragraph(_text(title), styles["Title"]),
        Table([[Paragraph(supplier_text, normal), Paragraph(customer_text, normal)]], colWidths=[87 * mm, 87 * mm]),
        Spacer(1, 6 * mm),
        Table(
            [
                [_("Kredittgrense"), format_nok(st.credit_limit)],
                [_("Eksponering"), format_nok(st.exposure)],
                [_("Ledig kreditt"), format_nok(st.available_credit)],
                [_("Åpne fakturaer (%(n)s)", n=st.open.count), format_nok(st.open.amount)],
                [_("Forfalt (%(n)s)", n=st.overdue.count), format_nok(st.overdue.amount)],
            ],
            colWidths=[60 * mm, 40 * mm],
            style=bold_first,
            hAlign="LEFT",
        ),
        Spacer(1, 6 * mm),
        Paragraph(_text(_("Åpne fakturaer")), styles["Heading2"]),
    ]
    header = [_("Faktura"), _("Ordre"), _("Fakturadato"), _("Forfallsdato"), _("Dager forfalt"), _("Beløp")]
    table_rows: list[list[Any]] = [header]
    overdue_rows: list[int] = []
    for n, line in enumerate(st.open_lines, start=1):
        table_rows.append(
            [
                cell(line.number),
                cell(line.order_number),
                format_date(line.invoice_date),
                format_date(line.due_date),
                str(line.days_overdue) if line.overdue else "",
                format_nok(line.amount),
            ]
        )
        if line.overdue:
            overdue_rows.append(n)
    if not st.open_lines:
        table_rows.append([_("Ingen åpne fakturaer."), "", "", "", "", ""])
    story.append(_table(table_rows, overdue_rows))
    story += [
        Spacer(1, 6 * mm),
        Paragraph(
            _text(
                _(
                    "Betalte fakturaer %(start)s–%(end)s",
                    start=format_date(st.period_start),
                    end=format_date(st.period_end),
                )
            ),
            styles["Heading2"],
        ),
    ]
    paid_rows: list[list[Any]] = [
        [_("Faktura"), _("Ordre"), _("Fakturadato"), _("Forfallsdato"), _("Betalt"), _("Beløp")]
    ]
    for line in st.paid_lines:
        paid_rows.append(
            [
                cell(line.number),
                cell(line.order_number),
                format_date(line.invoice_date),
                format_date(line.due_date),
                format_date(line.paid_at),
                format_nok(line.amount),
            ]
        )
    if not st.paid_lines:
        paid_rows.append([_("Ingen betalte fakturaer i perioden."), "", "", "", "", ""])
    paid_rows.append([_("Sum (%(n)s)", n=st.paid.count), "", "", "", "", format_nok(st.paid.amount)])
    story.append(_table(paid_rows, []))
    if st.history:
        story += [Spacer(1, 6 * mm), Paragraph(_text(_("Eksponering per måned")), styles["Heading2"])]
        story.append(
            Table(
                [[cell(format_month(p.month)), format_nok(p.exposure)] for p in st.history],
                colWidths=[60 * mm, 40 * mm],
                style=TableStyle([("ALIGN", (1, 0), (1, -1), "RIGHT")]),
                hAlign="LEFT",
            )
        )
    doc.build(story)
    return buffer.getvalue()


def _table(rows: list[list[Any]], highlighted: list[int]) -> Table:
    table = Table(rows, colWidths=[30 * mm, 26 * mm, 26 * mm, 26 * mm, 28 * mm, 38 * mm], repeatRows=1)
    style = [
        ("FONTNAME", (0, 0), (-1, 0), "Helvetica-Bold"),
        ("LINEBELOW", (0, 0), (-1, 0), 0.5, colors.black),
        ("ALIGN", (4, 0), (-1, -1), "RIGHT"),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ]
    for n in highlighted:  # overdue: red and bold, as on the page
        style += [
            ("TEXTCOLOR", (0, n), (-1, n), colors.HexColor("#a94442")),
            ("FONTNAME", (2, n), (-1, n), "Helvetica-Bold"),
        ]
    table.setStyle(TableStyle(style))
    return table
