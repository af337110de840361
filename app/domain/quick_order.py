"""Quick order (Hurtigbestilling): lines pasted or uploaded as SKU and quantity (and measures and
variants), each checked with the order form's own line check, the good ones handed to the order or
quote form to review.

Input: text with one line per row, `SKU;antall` or `SKU;antall;bredde;dybde;stoff;farge`, separated
by semicolon, tab or comma, with or without a header row (a header may name the columns in any
order), measures with a decimal comma or point; or a CSV or XLSX file of the same rows.

The check is catalogue.line_errors, the rule the order, quote and standing-order forms use; the only
rules of its own here are reading the text (a row's numbers, an SKU that is not in the catalogue).
The products of all rows are read in one query by SKU, so a check costs the same number of
statements for 5 rows as for 500. The catalogue is the same for every company; nothing a company
owns is read, and the lines go on to a form that takes the company from the logged-in user.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import openpyxl
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.domain import catalogue
from app.domain.errors import ValidationFailed
from app.models import Product

MAX_FILE_BYTES = 2 * 1024 * 1024  # 500 rows of a spreadsheet are a few tens of kB
# An XLSX is a zip: what it unpacks to is bounded too (a small file can unpack to gigabytes).
MAX_XLSX_UNPACKED_BYTES = 40 * 1024 * 1024
MAX_TEXT_CHARS = 200_000  # 500 rows of 400 characters
MAX_COLUMNS = 20  # columns read from a spreadsheet row; the known ones are six
MAX_CELL_CHARS = 100  # as the order form's fabric and colour fields
MAX_LINE_CHARS = 1000  # of a line split into cells (csv refuses a field over 128 kB with an error)
# A number beyond any quantity or measure: bigger ones are read as this, so the line check says
# what the bound is (a thousand-digit number is not turned into an int).
HUGE = Decimal(10) ** 9

FIELDS = ("sku", "quantity", "width", "depth", "fabric", "colour")
# Header words (lower case) naming each column, Norwegian and English.
HEADER_NAMES: dict[str, str] = {
    **dict.fromkeys(("sku", "varenummer", "varenr", "varenr.", "artikkelnummer", "artnr", "produkt", "vare"), "sku"),
    **dict.fromkeys(("antall", "ant", "ant.", "qty", "quantity", "mengde", "stk"), "quantity"),
    **dict.fromkeys(("bredde", "width", "b"), "width"),
    **dict.fromkeys(("dybde", "depth", "d"), "depth"),
    **dict.fromkeys(("stoff", "fabric"), "fabric"),
    **dict.fromkeys(("farge", "colour", "color"), "colour"),
}

XLSX_MAGIC = b"PK\x03\x04"
XLS_MAGIC = b"\xd0\xcf\x11\xe0"  # the old binary Excel format (OLE2)


@dataclass(frozen=True)
class RawRow:
    """One row as read: its number in the input (1-based, the header and blank lines counted, as
    the user sees it in the editor or spreadsheet), the original text and its cells by field."""

    number: int
    text: str
    cells: dict[str, str]


@dataclass
class CheckedRow:
    raw: RawRow
    line: catalogue.LineInput | None = None
    product: Product | None = None
    errors: dict[str, str] = field(default_factory=dict)  # field -> message

    @property
    def ok(self) -> bool:
        return self.line is not None and not self.errors

    @property
    def number(self) -> int:
        return self.raw.number

    @property
    def text(self) -> str:
        return self.raw.text


@dataclass
class Checked:
    rows: list[CheckedRow]

    @property
    def good(self) -> list[CheckedRow]:
        return [r for r in self.rows if r.ok]

    @property
    def bad(self) -> list[CheckedRow]:
        return [r for r in self.rows if not r.ok]

    @property
    def lines(self) -> list[catalogue.LineInput]:
        return [r.line for r in self.good if r.line is not None]


# --- reading the input ---------------------------------------------------------------------------


def _refuse(field_name: str, message: str) -> ValidationFailed:
    return ValidationFailed({field_name: message})


def too_big() -> ValidationFailed:
    """The refusal of a file over MAX_FILE_BYTES (pages and the API also say it of a request body
    too long to hold such a file, before reading it)."""
    return _refuse("file", _("Filen er for stor (høyst %(max)s MB).", max=MAX_FILE_BYTES // (1024 * 1024)))


def _delimiter(line: str) -> str:
    """Tab, semicolon or comma: the first of them the line has (a spreadsheet pastes tabs; with
    semicolons or tabs a measure may have a decimal comma)."""
    for delimiter in ("\t", ";"):
        if delimiter in line:
            return delimiter
    return ","


def _split(line: str) -> list[str]:
    line = line[:MAX_LINE_CHARS].replace("\x00", "")
    cells = next(csv.reader([line], delimiter=_delimiter(line)), [])
    return [c.strip() for c in cells]


def _header(cells: Sequence[str]) -> dict[int, str] | None:
    """Column position -> field, if these cells are a header row (an SKU column and a quantity
    column named), else None."""
    columns: dict[int, str] = {}
    for i, cell in enumerate(cells):
        name = HEADER_NAMES.get(cell.strip().lower())
        if name and name not in columns.values():
            columns[i] = name
    return columns if {"sku", "quantity"} <= set(columns.values()) else None


def _rows_of(table: Iterable[tuple[int, str, list[str]]]) -> list[RawRow]:
    """RawRows of (number, text, cells): a header row, if the first filled row is one, names the
    columns, else they are in FIELDS order. Empty rows are left out. More than MAX_LINES rows is
    refused (the order form's bound)."""
    rows: list[RawRow] = []
    columns: dict[int, str] | None = None
    first = True
    for number, text, cells in table:
        if not any(cells):
            continue
        if first:
            first = False
            columns = _header(cells)
            if columns is not None:
                if all(i < len(FIELDS) and FIELDS[i] == name for i, name in columns.items()):
                    # "SKU;Antall" over rows that also have measures: the columns in their usual order.
                    columns = None
                continue
        if columns is None:
            named = {name: (cells[i] if i < len(cells) else "") for i, name in enumerate(FIELDS)}
        else:
            named = {name: (cells[i] if i < len(cells) else "") for i, name in columns.items()}
        rows.append(RawRow(number=number, text=text, cells={k: v[:MAX_CELL_CHARS] for k, v in named.items()}))
        if len(rows) > catalogue.MAX_LINES:
            raise _refuse("text", _("Høyst %(max)s linjer.", max=catalogue.MAX_LINES))
    return rows


def parse_text(text: str, field_name: str = "text") -> list[RawRow]:
    """The rows of pasted text (or of a CSV file's text)."""
    # A file's text is bounded by MAX_FILE_BYTES already.
    if len(text) > MAX_TEXT_CHARS and field_name != "file":
        raise _refuse(field_name, _("Teksten er for lang (høyst %(max)s tegn).", max=MAX_TEXT_CHARS))
    try:
        rows = _rows_of(
            (n, line.strip()[:MAX_LINE_CHARS], _split(line)) for n, line in enumerate(text.splitlines(), start=1)
        )
    except ValidationFailed as exc:
        raise _refuse(field_name, str(next(iter(exc.errors.values())))) from exc
    if not rows:
        if field_name == "file":
            raise _refuse(field_name, _("Filen har ingen linjer med varenummer og antall."))
        raise _refuse(field_name, _("Lim inn minst én linje med varenummer og antall, eller velg en fil."))
    return rows


def _decode(data: bytes) -> str:
    """A CSV file's text: UTF-16 with its BOM (Excel's "Unicode text"), UTF-8 (with or without BOM),
    else Windows-1252 (Excel's Norwegian CSV)."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _cell_text(value: Any) -> str:
    """A spreadsheet cell as the text a user would have typed: 160.0 -> "160", 160.5 -> "160.5"."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer() and abs(value) < HUGE:
        return str(int(value))
    return str(value).replace("\x00", "").strip()[:MAX_CELL_CHARS]


def _xlsx_table(data: bytes) -> Iterator[tuple[int, str, list[str]]]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        if sum(info.file_size for info in archive.infolist()) > MAX_XLSX_UNPACKED_BYTES:
            raise too_big()
    workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    try:
        sheet = workbook.worksheets[0] if workbook.worksheets else None
        if sheet is None:
            return
        for number, values in enumerate(sheet.iter_rows(max_col=MAX_COLUMNS, values_only=True), start=1):
            cells = [_cell_text(v) for v in values]
            while cells and not cells[-1]:
                cells.pop()
            yield number, ";".join(cells), cells
    finally:
        workbook.close()


def parse_file(filename: str, data: bytes) -> list[RawRow]:
    """The rows of an uploaded CSV or XLSX file (the first sheet). Anything else, or a file too big
    or broken, is refused with a message for the `file` field."""
    if not data:
        raise _refuse("file", _("Filen er tom."))
    if len(data) > MAX_FILE_BYTES:
        raise too_big()
    name = (filename or "").lower()
    not_a_sheet = _("Filen er ikke et regneark. Last opp en CSV- eller XLSX-fil.")
    if data.startswith(XLS_MAGIC) or name.endswith(".xls"):
        raise _refuse("file", _("Gamle Excel-filer (.xls) kan ikke leses. Lagre filen som XLSX eller CSV."))
    if data.startswith(XLSX_MAGIC):
        try:
            rows = _rows_of(_xlsx_table(data))
        except ValidationFailed as exc:
            raise _refuse("file", str(next(iter(exc.errors.values())))) from exc
        except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds on a broken or foreign zip
            raise _refuse("file", _("Filen kunne ikke leses som XLSX. Lagre den på nytt fra regnearket.")) from exc
    else:
        text = _decode(data)
        if name.endswith((".xlsx", ".xlsm")) or "\x00" in text:
            raise _refuse("file", not_a_sheet)  # binary, or an XLSX that is not a zip
        rows = parse_text(text, field_name="file")
    if not rows:
        raise _refuse("file", _("Filen har ingen linjer med varenummer og antall."))
    return rows


# --- checking the rows ---------------------------------------------------------------------------


def _number(value: str, message: str, errors: dict[str, str], field_name: str) -> int | None:
    """A whole number from a cell ("2", "160", "160,0" or "160.0"); blank is None; anything else an
    error in `errors` (a measure of "160,5" cm cannot be made: it is not rounded)."""
    value = value.replace(" ", "").replace("\u00a0", "")
    if not value:
        return None
    try:
        number = Decimal(value.replace(",", "."))
    except InvalidOperation:
        errors[field_name] = message
        return None
    if not number.is_finite() or number != number.to_integral_value():
        errors[field_name] = message
        return None
    return int(max(min(number, HUGE), -HUGE))


def products_by_sku(session: Session, skus: Iterable[str]) -> dict[str, Product]:
    """The products with these SKUs (as typed or in upper case: SKUs are written in capitals), by
    upper-case SKU, in one query on the SKU's unique index."""
    wanted = {s for s in skus if s}
    wanted |= {s.upper() for s in wanted}
    if not wanted:
        return {}
    return {p.sku.upper(): p for p in session.scalars(select(Product).where(Product.sku.in_(wanted)))}


def check_rows(session: Session, rows: Sequence[RawRow]) -> Checked:
    """Each row checked as the order form checks a line (catalogue.line_errors), its errors by field."""
    messages = {
        "quantity": _("Antall må være et helt tall."),
        "width": _("Bredde må være et helt tall."),
        "depth": _("Dybde må være et helt tall."),
    }
    products = products_by_sku(session, (r.cells.get("sku", "") for r in rows))
    checked: list[CheckedRow] = []
    for raw in rows:
        row = CheckedRow(raw=raw)
        checked.append(row)
        sku = raw.cells.get("sku", "")
        if not sku:
            row.errors["sku"] = _("Varenummer mangler.")
            continue
        product = products.get(sku.upper())
        if product is None:
            row.errors["sku"] = _("Finner ikke varenummer «%(sku)s» i katalogen.", sku=sku)
            continue
        row.product = product
        values: dict[str, Any] = {
            f: _number(raw.cells.get(f, ""), messages[f], row.errors, f) for f in ("quantity", "width", "depth")
        }
        row.line = catalogue.LineInput(
            product_id=product.id,
            fabric=raw.cells.get("fabric") or None,
            colour=raw.cells.get("colour") or None,
            **values,
        )
    lines = [r.line for r in checked if r.line is not None]
    if lines:
        # The order form's own check, on the products already read; its errors come keyed by the
        # line's position among these lines.
        found = {r.product.id: r.product for r in checked if r.product is not None}
        errors = catalogue.line_errors(lines, found)
        with_line = [r for r in checked if r.line is not None]
        for key, message in errors.items():
            if not key.startswith("lines["):
                continue
            position, _dot, field_name = key[len("lines[") :].partition("].")
            target = with_line[int(position)]
            # A cell that was not a number keeps its own message (the rule saw None there).
            target.errors.setdefault("sku" if field_name == "product_id" else field_name, message)
    return Checked(rows=checked)


def check_text(session: Session, text: str) -> Checked:
    return check_rows(session, parse_text(text))


def check_file(session: Session, filename: str, data: bytes) -> Checked:
    return check_rows(session, parse_file(filename, data))
