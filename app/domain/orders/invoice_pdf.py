"""Fakturakopi: a PDF copy of an invoice, drawn with reportlab.

Shows supplier, customer, invoice number, dates, the order's lines, VAT per rate and totals. The
lines and VAT come from app/domain/pricing.py, the same rule that computed the order.
"""
from __future__ import annotations

import io
from decimal import Decimal

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from app.domain.formatting import format_date, format_nok
from app.domain.pricing import line_total, money
from app.models import Invoice


def render_invoice_pdf(invoice: Invoice, supplier: dict[str, str]) -> bytes:
    order = invoice.order
    company = order.company
    styles = getSampleStyleSheet()
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=A4, leftMargin=18 * mm, rightMargin=18 * mm, topMargin=18 * mm,
                            bottomMargin=18 * mm, title=f"Fakturakopi {invoice.number}",
                            author=supplier.get("name", ""))
    story = [
        Paragraph(f"Fakturakopi {invoice.number}", styles["Title"]),
        Table(
            [[Paragraph(f"<b>{supplier['name']}</b><br/>{supplier['address']}<br/>Org.nr. {supplier['org_number']} MVA",
                        styles["Normal"]),
              Paragraph(f"<b>{company.name}</b><br/>Kundenummer {company.customer_number}<br/>"
                        f"{company.postal_street or ''}<br/>{company.postal_code or ''} {company.postal_city or ''}<br/>"
                        f"Org.nr. {company.org_number}", styles["Normal"])]],
            colWidths=[87 * mm, 87 * mm],
        ),
        Spacer(1, 6 * mm),
        Table([
            ["Fakturanummer", invoice.number, "Ordrenummer", order.number],
            ["Fakturadato", format_date(invoice.invoice_date), "Forfallsdato", format_date(invoice.due_date)],
            ["Status", "Betalt" if invoice.paid else "Ubetalt", "Deres referanse", order.customer_reference or ""],
        ], colWidths=[35 * mm, 52 * mm, 35 * mm, 52 * mm],
            style=TableStyle([("FONTNAME", (0, 0), (0, -1), "Helvetica-Bold"),
                              ("FONTNAME", (2, 0), (2, -1), "Helvetica-Bold")])),
        Spacer(1, 6 * mm),
    ]
    rows = [["Linje", "Vare", "Antall", "Enhetspris", "Mva", "Beløp eks. mva"]]
    by_rate: dict[Decimal, Decimal] = {}
    for line in order.lines:
        desc = f"{line.product.sku} {line.product.name}"
        extras = [f"{line.width}×{line.depth} cm" if line.width or line.depth else "", line.fabric or "",
                  line.colour or ""]
        desc += "".join(f", {e}" for e in extras if e)
        amount = line_total(line.quantity, line.unit_price)
        by_rate[Decimal(line.vat_rate)] = by_rate.get(Decimal(line.vat_rate), Decimal("0")) + amount
        rows.append([str(line.line_no), Paragraph(desc, styles["Normal"]), str(line.quantity),
                     format_nok(line.unit_price), f"{Decimal(line.vat_rate):.0f} %", format_nok(amount)])
    table = Table(rows, colWidths=[12 * mm, 72 * mm, 16 * mm, 28 * mm, 14 * mm, 32 * mm], repeatRows=1)
    table.setStyle(TableStyle([
        ("FONTNAME", (0, 0), (-1, 0), "Helvetica-Bold"),
        ("LINEBELOW", (0, 0), (-1, 0), 0.5, colors.black),
        ("ALIGN", (2, 0), (-1, -1), "RIGHT"),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ]))
    story += [table, Spacer(1, 4 * mm)]
    ex_vat = money(sum(by_rate.values(), Decimal("0")))
    totals = [["Sum eks. mva", format_nok(ex_vat)]]
    vat_total = Decimal("0")
    for rate, amount in sorted(by_rate.items()):
        vat = money(amount * rate / 100)
        vat_total += vat
        totals.append([f"Mva {rate:.0f} % av {format_nok(amount)}", format_nok(vat)])
    totals.append(["Sum inkl. mva", format_nok(ex_vat + vat_total)])
    if money(invoice.amount) != money(ex_vat + vat_total):
        totals.append(["Fakturert beløp", format_nok(invoice.amount)])
    story.append(Table(totals, colWidths=[140 * mm, 34 * mm], style=TableStyle([
        ("ALIGN", (1, 0), (1, -1), "RIGHT"),
        ("FONTNAME", (0, -1), (-1, -1), "Helvetica-Bold"),
        ("LINEABOVE", (0, -1), (-1, -1), 0.5, colors.black),
    ])))
    story += [Spacer(1, 8 * mm), Paragraph("Dette er en kopi av fakturaen. Betaling til kontonummeret på "
                                           "originalfakturaen.", styles["Italic"])]
    doc.build(story)
    return buffer.getvalue()


def supplier_from_config(config: dict) -> dict[str, str]:
    return {"name": config["SUPPLIER_NAME"], "address": config["SUPPLIER_ADDRESS"],
            "org_number": config["SUPPLIER_ORG_NUMBER"]}
