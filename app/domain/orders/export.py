"""The order list as a file (CSV or XLSX), optionally one row per order line ("med ordrelinjer").

The rows are exactly the filtered list's: the caller hands in the list's filtered query of order
ids, and the tenancy guard scopes every read. Rows are read a chunk of orders at a time (keyset
pages, plain column tuples, not ORM objects) and written out chunk by chunk, so the CSV's memory
stays flat whatever the number of rows. XLSX is written by openpyxl's write-only workbook to a
temporary file, then yielded in pieces; openpyxl still keeps each distinct text of the file in memory.

Formats: CSV is `;`-separated, UTF-8 with BOM, money as "1234,50" (what Excel in Norway reads as a
number); XLSX holds money as numbers with two decimals. Times are Europe/Oslo wall-clock times.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, and_, or_, select
from sqlalchemy.orm import Session

from app.domain import labels
from app.domain.formatting import to_oslo
from app.models import Order, OrderLine, PortalUser, Product

CHUNK = 1000  # rows per database round trip and per piece written
FILE_PIECE = 64 * 1024

TEXT, MONEY, NUMBER, DATETIME, DATE = "text", "money", "number", "datetime", "date"
ORDER_NUMBER = "order_number"  # text in CSV, a number in XLSX


@dataclass(frozen=True)
class Column:
    label: Any
    kind: str = TEXT


ORDER_COLUMNS = (
    Column(_l("Ordrenummer"), ORDER_NUMBER),
    Column(_l("Bestilt"), DATETIME),
    Column(_l("Status")),
    Column(_l("Kanal")),
    Column(_l("Deres referanse")),
    Column(_l("Bestilt av")),
    Column(_l("Leveringsdato"), DATE),
    Column(_l("Sum eks. mva."), MONEY),
    Column(_l("Mva."), MONEY),
    Column(_l("Sum inkl. mva."), MONEY),
)
LINE_COLUMNS = (
    Column(_l("Linje"), NUMBER),
    Column(_l("Varenummer")),
    Column(_l("Produkt")),
    Column(_l("Bredde (cm)"), NUMBER),
    Column(_l("Dybde (cm)"), NUMBER),
    Column(_l("Stoff")),
    Column(_l("Farge")),
    Column(_l("Antall"), NUMBER),
    Column(_l("Levert"), NUMBER),
    Column(_l("Linjestatus")),
    Column(_l("Enhetspris eks. mva."), MONEY),
    Column(_l("Linjesum eks. mva."), MONEY),
)


def columns(with_lines: bool) -> tuple[Column, ...]:
    return ORDER_COLUMNS + (LINE_COLUMNS if with_lines else ())


def _order_cells(row: Any) -> list[Any]:
    creator = SimpleNamespace(full_name=f"{row.first_name} {row.last_name}") if row.first_name is not None else None
    who = SimpleNamespace(created_by=creator, created_by_id=row.created_by_id, channel=row.channel)
    return [
        row.number,
        to_oslo(row.created_at).replace(tzinfo=None) if row.created_at else None,
        labels.order_status(row.status),
        labels.label(labels.ORDER_CHANNEL, row.channel),
        row.customer_reference or "",
        labels.ordered_by(who),
        row.delivery_date,
        row.total_ex_vat,
        row.total_vat,
        (row.total_ex_vat or Decimal("0")) + (row.total_vat or Decimal("0")),
    ]


def _line_cells(row: Any) -> list[Any]:
    if row.line_no is None:  # an order without lines still has its row
        return [None] * len(LINE_COLUMNS)
    line = SimpleNamespace(status=row.line_status, order=SimpleNamespace(status=row.status))
    return [
        row.line_no,
        row.sku or "",
        row.product_name or "",
        row.width,
        row.depth,
        row.fabric or "",
        row.colour or "",
        row.quantity,
        row.delivered_quantity,
        labels.line_status(line),
        row.unit_price,
        (row.unit_price * row.quantity).quantize(Decimal("0.01")),
    ]


def _statement(ids: list[int], with_lines: bool) -> Select[Any]:
    """The export's rows for one chunk of order ids."""
    stmt = (
        select(
            Order.id,
            Order.number,
            Order.created_at,
            Order.status,
            Order.channel,
            Order.customer_reference,
            Order.created_by_id,
            Order.delivery_date,
            Order.total_ex_vat,
            Order.total_vat,
            PortalUser.first_name,
            PortalUser.last_name,
        )
        .where(Order.id.in_(ids))
        .outerjoin(PortalUser, PortalUser.id == Order.created_by_id)
    )
    order_by: list[Any] = [Order.created_at.desc(), Order.id.desc()]
    if with_lines:
        stmt = (
            stmt.add_columns(
                OrderLine.line_no,
                OrderLine.width,
                OrderLine.depth,
                OrderLine.fabric,
                OrderLine.colour,
                OrderLine.quantity,
                OrderLine.delivered_quantity,
                OrderLine.status.label("line_status"),
                OrderLine.unit_price,
                Product.sku,
                Product.name.label("product_name"),
            )
            .outerjoin(OrderLine, OrderLine.order_id == Order.id)
            .outerjoin(Product, Product.id == OrderLine.product_id)
        )
        order_by.append(OrderLine.line_no)
    return stmt.order_by(*order_by)


def export_rows(session: Session, order_ids: Any, with_lines: bool = False) -> Iterator[list[Any]]:
    """The rows (typed values: Decimal, Oslo datetime, date, int, str), newest order first, read
    CHUNK orders at a time by keyset on (created_at, id): each chunk is its own short query, so no
    cursor has to outlive the request's transaction, and only one chunk is held at a time. Every
    chunk's query runs under the tenancy guard (the caller streams inside the request's context)."""
    after: tuple[Any, Any] | None = None
    while True:
        page = select(Order.id, Order.created_at).join(order_ids, order_ids.c.id == Order.id)
        if after is not None:
            at, last_id = after
            page = page.where(or_(Order.created_at < at, and_(Order.created_at == at, Order.id < last_id)))
        chunk = session.execute(page.order_by(Order.created_at.desc(), Order.id.desc()).limit(CHUNK)).all()
        if not chunk:
            return
        ids = [row.id for row in chunk]
        for row in session.execute(_statement(ids, with_lines)):
            cells = _order_cells(row)
            if with_lines:
                cells.extend(_line_cells(row))
            yield cells
        after = (chunk[-1].created_at, chunk[-1].id)
        session.expunge_all()  # nothing of a chunk stays in the identity map


# --- CSV ----------------------------------------------------------------------------------------


def csv_cell(value: Any, kind: str) -> str:
    if value is None:
        return ""
    if kind == MONEY:
        return f"{Decimal(value).quantize(Decimal('0.01'))}".replace(".", ",")
    if kind == DATETIME:
        return value.strftime("%d.%m.%Y %H:%M")
    if kind == DATE:
        return value.strftime("%d.%m.%Y")
    return str(value)


def csv_chunks(rows: Iterable[list[Any]], cols: tuple[Column, ...]) -> Iterator[bytes]:
    """`;`-separated UTF-8 with BOM, in pieces of about CHUNK rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    writer.writerow([str(c.label) for c in cols])
    yield buffer.getvalue().encode("utf-8-sig")
    buffer.seek(0)
    buffer.truncate()
    for n, row in enumerate(rows, start=1):
        writer.writerow([csv_cell(v, c.kind) for v, c in zip(row, cols, strict=True)])
        if n % CHUNK == 0:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue().encode("utf-8")


# --- XLSX ---------------------------------------------------------------------------------------


def _xlsx_value(value: Any, kind: str) -> Any:
    if value is None:
        return None
    if kind == MONEY:
        return float(Decimal(value).quantize(Decimal("0.01")))  # a number Excel sums, two decimals shown
    if kind == ORDER_NUMBER:
        # A number in the sheet (sorts and filters as one); openpyxl keeps every distinct text of the
        # file in memory (its shared strings), so numbers also keep a long export's memory flat.
        return int(value) if str(value).isdigit() else str(value)
    if kind in (TEXT,):
        return str(value)
    return value


def xlsx_chunks(rows: Iterable[list[Any]], cols: tuple[Column, ...], title: str = "Ordrer") -> Iterator[bytes]:
    """An .xlsx file (openpyxl write-only: rows go to a temporary file as they come), yielded in pieces."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title)
    sheet.append([str(c.label) for c in cols])
    formats = {MONEY: "#,##0.00", DATETIME: "dd.mm.yyyy hh:mm", DATE: "dd.mm.yyyy"}
    for row in rows:
        cells = []
        for value, col in zip(row, cols, strict=True):
            cell = WriteOnlyCell(sheet, value=_xlsx_value(value, col.kind))
            if col.kind in formats and value is not None:
                cell.number_format = formats[col.kind]
            cells.append(cell)
        sheet.append(cells)
    with tempfile.TemporaryFile() as out:
        workbook.save(out)
        out.seek(0)
        while piece := out.read(FILE_PIECE):
            yield piece


def filename(kind: str, with_lines: bool, today: dt.date) -> str:
    return f"ordrer{'-med-linjer' if with_lines else ''}_{today.isoformat()}.{kind}"
