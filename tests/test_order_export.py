"""Export of the order list (CSV and XLSX, optionally with lines): the list's filters and the tenancy
guard, Norwegian headers, money as "1234,50" in CSV and numbers in XLSX, Oslo times, the per-user
throttle, a streamed answer, and memory that does not grow with the number of rows."""

from __future__ import annotations

import csv
import datetime as dt
import io
import tracemalloc
from decimal import Decimal

import pytest
from flask import Flask
from openpyxl import load_workbook
from sqlalchemy import insert, select

from app.domain.orders import export as E
from app.models import Order
from tests.factories import World
from tests.helpers import client_as, db_engine, db_session

URL = "/orderview/eksport/{kind}"


def _csv(body: bytes) -> list[list[str]]:
    assert body.startswith(b"\xef\xbb\xbf")  # UTF-8 with BOM: Excel reads æøå
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig")), delimiter=";"))


def _set_order(app: Flask, world: World) -> None:
    with db_session(app) as s:
        order = s.get(Order, world.a.order.id)
        order.created_at = dt.datetime(2026, 7, 1, 22, 30, tzinfo=dt.UTC)  # 2 July 00:30 in Oslo
        order.total_ex_vat, order.total_vat = Decimal("1234.50"), Decimal("308.63")
        s.commit()


def test_customer_csv_is_their_companys_filtered_list(app: Flask, world: World) -> None:
    _set_order(app, world)
    client = client_as(app, world.user("CustomerUser"))
    response = client.get(URL.format(kind="csv"))
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.is_streamed
    assert "attachment" in response.headers["Content-Disposition"]
    rows = _csv(response.get_data())
    assert rows[0][:3] == ["Ordrenummer", "Bestilt", "Status"] and "Sum inkl. mva." in rows[0]
    assert [r[0] for r in rows[1:]] == [world.a.order.number]  # never company B's
    row = dict(zip(rows[0], rows[1], strict=True))
    assert row["Bestilt"] == "02.07.2026 00:30" and row["Status"] == "Under behandling"
    assert row["Sum eks. mva."] == "1234,50" and row["Sum inkl. mva."] == "1543,13"
    # The list's own search filters: a status the order does not have gives no rows.
    rows = _csv(client.get(URL.format(kind="csv") + "?_flt_0_status=invoiced").get_data())
    assert rows[1:] == []
    rows = _csv(client.get(URL.format(kind="csv") + f"?_flt_0_number={world.a.order.number}").get_data())
    assert [r[0] for r in rows[1:]] == [world.a.order.number]


def test_chunks_read_while_streaming_stay_scoped_to_the_company(
    app: Flask, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One order per chunk: every chunk after the first is read while the answer streams, and each is
    scoped by the tenancy guard as the first is (company B's rows never appear)."""
    monkeypatch.setattr(E, "CHUNK", 1)
    _generate(app, world, 5)
    with db_session(app) as s:
        own = s.scalars(select(Order.number).where(Order.company_id == world.a.company.id)).all()
        every = s.scalars(select(Order.number)).all()
    rows = _csv(client_as(app, world.user("CustomerUser")).get(URL.format(kind="csv")).get_data())
    assert sorted(r[0] for r in rows[1:]) == sorted(own) and len(own) >= 6
    rows = _csv(client_as(app, world.user("CustomerService")).get(URL.format(kind="csv")).get_data())
    assert sorted(r[0] for r in rows[1:]) == sorted(every) and len(every) > len(own)


def test_with_lines_one_row_per_line(app: Flask, world: World) -> None:
    rows = _csv(client_as(app, world.user("CustomerAdmin")).get(URL.format(kind="csv") + "?linjer=1").get_data())
    header, body = rows[0], rows[1:]
    assert "Varenummer" in header and "Linjestatus" in header and len(body) == 1
    row = dict(zip(header, body[0], strict=True))
    assert row["Varenummer"] == world.product.sku and row["Antall"] == "2" and row["Linjesum eks. mva."] == "1000,00"
    assert row["Linjestatus"] == "Åpen"


def test_xlsx_holds_money_as_numbers(app: Flask, world: World) -> None:
    _set_order(app, world)
    response = client_as(app, world.user("CustomerUser")).get(URL.format(kind="xlsx") + "?linjer=1")
    assert response.status_code == 200 and response.is_streamed
    sheet = load_workbook(io.BytesIO(response.get_data()), read_only=True).active
    rows = list(sheet.iter_rows(values_only=True))
    header, row = rows[0], dict(zip(rows[0], rows[1], strict=True))
    assert header[0] == "Ordrenummer" and len(rows) == 2
    assert row["Sum eks. mva."] == pytest.approx(1234.50) and isinstance(row["Sum eks. mva."], float)
    assert row["Bestilt"] == dt.datetime(2026, 7, 2, 0, 30)
    assert row["Varenummer"] == world.product.sku


def test_staff_export_what_their_list_shows(app: Flask, world: World) -> None:
    rows = _csv(client_as(app, world.user("Seller")).get(URL.format(kind="csv")).get_data())
    assert {r[0] for r in rows[1:]} == {world.a.order.number, world.b.order.number}


def test_unknown_format_is_404_and_the_list_links_the_exports(app: Flask, world: World) -> None:
    client = client_as(app, world.user("CustomerUser"))
    assert client.get(URL.format(kind="pdf")).status_code == 404
    body = client.get("/orderview/list/?_flt_0_status=processing").get_data(as_text=True)
    assert "/orderview/eksport/csv?_flt_0_status=processing" in body
    assert "/orderview/eksport/xlsx?" in body and "linjer=1" in body


def test_exports_are_throttled_per_user(app: Flask, world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(app.config, "CSV_EXPORT_RATE_LIMIT", "2 per 10 minute")
    monkeypatch.setitem(app.config, "RATELIMIT_ENABLED", True)
    client = client_as(app, world.user("CustomerUser"))
    assert client.get(URL.format(kind="csv")).status_code == 200
    assert client.get(URL.format(kind="xlsx")).status_code == 200
    assert client.get(URL.format(kind="csv")).status_code == 429
    assert client_as(app, world.user("CustomerAdmin")).get(URL.format(kind="csv")).status_code == 200


# --- memory: flat in the number of rows ----------------------------------------------------------


def _generate(app: Flask, world: World, n: int) -> None:
    start = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    rows = [
        {
            "company_id": world.a.company.id,
            "number": str(9_000_000 + 100_000 * (n // 600) + i),  # the live scheme: digits
            "channel": "webshop",
            "status": "processing",
            "delivery_address_id": world.a.address.id,
            "created_at": start + dt.timedelta(minutes=i),
            "total_ex_vat": Decimal("100.00"),
            "total_vat": Decimal("25.00"),
            "over_budget": False,
        }
        for i in range(n)
    ]
    with db_engine(app).begin() as conn:
        for k in range(0, n, 5000):
            conn.execute(insert(Order), rows[k : k + 5000])


def _peak(app: Flask, world: World, kind: str) -> tuple[int, int]:
    with db_session(app) as s:
        ids = select(Order.id.label("id")).where(Order.company_id == world.a.company.id).subquery()
        chunks = E.csv_chunks if kind == "csv" else E.xlsx_chunks
        tracemalloc.start()
        size = sum(len(piece) for piece in chunks(E.export_rows(s, ids), E.columns(False)))
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return peak, size


# Both files: rows are read 1 000 at a time and openpyxl's write-only sheet keeps no rows (nor, for
# these columns, a growing table of strings).
@pytest.mark.parametrize(("kind", "n"), [("csv", 2000), ("xlsx", 1000)])
def test_memory_does_not_grow_with_the_rows(app: Flask, world: World, kind: str, n: int) -> None:
    _generate(app, world, n)
    small, small_size = _peak(app, world, kind)
    _generate(app, world, 9 * n)
    large, large_size = _peak(app, world, kind)
    assert large_size > 5 * small_size  # ten times the rows were written
    assert large < small * 1.5 + 256 * 1024, (small, large)  # ... in the same memory
