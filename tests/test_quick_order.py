"""Hurtigbestilling: pasted text, CSV and XLSX read into rows, each row checked with the order
form's own line check (catalogue.line_errors), errors next to their row, the good rows handed to the
order and quote forms (`prefill`), the API's answers and 400s, and a fixed number of statements.

Runs on SQLite and, with TEST_DATABASE_URL, on PostgreSQL.
"""

from __future__ import annotations

import io
import re
import time
import zipfile
from decimal import Decimal

import openpyxl
import pytest
from flask import Flask
from sqlalchemy import update

from app.domain import quick_order
from app.domain.errors import ValidationFailed
from app.models import Order, Product, Quote
from tests.factories import World
from tests.helpers import Caller, StatementCounter, client_as, count_rows, db_engine, db_session, field_errors, text_of

PAGE = "/hurtigbestilling/"
API = "/api/v1/quick_order/check"


def xlsx(rows: list[list[object]]) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _cells(rows: list[quick_order.RawRow]) -> list[dict[str, str]]:
    return [{k: v for k, v in r.cells.items() if v} for r in rows]


# --- reading the input ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "STOL-1;2\nSOFA-1;1;160;90;Ull grå;Eik",
        "STOL-1\t2\nSOFA-1\t1\t160\t90\tUll grå\tEik",
        "STOL-1,2\nSOFA-1,1,160,90,Ull grå,Eik",
        "Varenummer;Antall\nSTOL-1;2\nSOFA-1;1;160;90;Ull grå;Eik",
        "\n  STOL-1 ; 2 \n\nSOFA-1;1;160;90;Ull grå;Eik\n\n",
    ],
)
def test_every_format_reads_the_same_rows(text: str) -> None:
    rows = quick_order.parse_text(text)
    assert _cells(rows) == [
        {"sku": "STOL-1", "quantity": "2"},
        {"sku": "SOFA-1", "quantity": "1", "width": "160", "depth": "90", "fabric": "Ull grå", "colour": "Eik"},
    ]


def test_row_numbers_count_the_header_and_blank_lines_and_keep_the_text() -> None:
    rows = quick_order.parse_text("SKU;Antall\nSTOL-1;2\n\nSOFA-1;1")
    assert [(r.number, r.text) for r in rows] == [(2, "STOL-1;2"), (4, "SOFA-1;1")]


def test_a_header_may_name_the_columns_in_another_order() -> None:
    rows = quick_order.parse_text("Antall;Farge;Varenr;Stoff;Bredde;Dybde\n1;Eik;SOFA-1;Ull grå;160;90")
    assert _cells(rows) == [
        {"sku": "SOFA-1", "quantity": "1", "width": "160", "depth": "90", "fabric": "Ull grå", "colour": "Eik"}
    ]


def test_empty_and_too_many_rows_are_refused_for_the_field() -> None:
    with pytest.raises(ValidationFailed) as empty:
        quick_order.parse_text(" \n\n")
    assert set(empty.value.errors) == {"text"}
    with pytest.raises(ValidationFailed) as many:
        quick_order.parse_text("\n".join(f"STOL-1;{i}" for i in range(1, 502)))
    assert many.value.errors == {"text": "Høyst 500 linjer."}
    assert len(quick_order.parse_text("\n".join(f"STOL-1;{i}" for i in range(1, 501)))) == 500


def test_csv_file_utf8_with_bom_and_windows_1252() -> None:
    for data in (
        "\ufeffSKU;Antall\nSOFA-1;1;160;90;Ull grå;Eik".encode(),
        "SOFA-1;1;160;90;Ull grå;Eik".encode("cp1252"),
    ):
        rows = quick_order.parse_file("linjer.csv", data)
        assert rows[0].cells["fabric"] == "Ull grå"


def test_utf16_text_export_and_overlong_lines() -> None:
    """Excel's "Unicode text" is UTF-16 with tabs; a line too long to be a row is cut, not a 500."""
    rows = quick_order.parse_file(
        "liste.txt", "Varenummer\tAntall\r\nSOFA-1\t1\t160\t90\tUll grå\tEik".encode("utf-16")
    )
    assert rows[0].cells["fabric"] == "Ull grå"
    long = quick_order.parse_text("STOL-1;" + "9" * 150_000)
    assert len(long[0].text) == quick_order.MAX_LINE_CHARS
    with pytest.raises(ValidationFailed, match="Teksten er for lang"):
        quick_order.parse_text("STOL-1;1" + " " * quick_order.MAX_TEXT_CHARS)
    # A file's text is bounded by its size: 500 rows with long notes beside them are read.
    padded = "\n".join(f"STOL-1;1;;;;;{'merknad ' * 60}" for _ in range(500)).encode()
    assert len(padded) > quick_order.MAX_TEXT_CHARS
    assert len(quick_order.parse_file("a.csv", padded)) == 500


def test_random_bytes_are_refused_or_read_never_an_exception() -> None:
    import random

    rng = random.Random(12)
    starts = [b"", quick_order.XLSX_MAGIC, b"\xff\xfe", b"\xef\xbb\xbf"]
    for i in range(300):
        data = rng.choice(starts) + bytes(rng.randrange(256) for _ in range(rng.randrange(1, 400)))
        try:
            quick_order.parse_file(rng.choice(["a.csv", "a.xlsx", "a.txt", ""]), data)
        except ValidationFailed as exc:
            assert set(exc.errors) == {"file"}, (i, exc.errors)


def test_xlsx_file_with_numbers_and_a_header() -> None:
    data = xlsx(
        [
            ["Varenummer", "Antall", "Bredde", "Dybde", "Stoff", "Farge"],
            ["STOL-1", 2],
            ["SOFA-1", 1, 160.0, 90, "Ull grå", "Eik"],
        ]
    )
    rows = quick_order.parse_file("bestilling.xlsx", data)
    assert _cells(rows) == [
        {"sku": "STOL-1", "quantity": "2"},
        {"sku": "SOFA-1", "quantity": "1", "width": "160", "depth": "90", "fabric": "Ull grå", "colour": "Eik"},
    ]
    assert [(r.number, r.text) for r in rows] == [(2, "STOL-1;2"), (3, "SOFA-1;1;160;90;Ull grå;Eik")]


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("tom.csv", b"", "Filen er tom."),
        ("stor.csv", b"STOL-1;1\n" * (quick_order.MAX_FILE_BYTES // 9 + 1), "Filen er for stor"),
        ("bilde.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "Filen er ikke et regneark"),
        ("gammel.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "Gamle Excel-filer"),
        ("falsk.xlsx", b"dette er ikke en zip", "Filen er ikke et regneark"),
        ("arkiv.xlsx", b"", "Filen er tom."),
        ("blank.csv", b"\r\n;;\n  \n", "Filen har ingen linjer"),
        ("tomt-ark.xlsx", xlsx([]), "Filen har ingen linjer"),
    ],
)
def test_files_that_are_not_spreadsheets_are_refused_in_norwegian(name: str, data: bytes, message: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        quick_order.parse_file(name, data)
    assert set(refused.value.errors) == {"file"}
    assert message in refused.value.errors["file"]


def test_a_zip_that_is_no_workbook_and_a_zip_bomb_are_refused() -> None:
    plain_zip = io.BytesIO()
    with zipfile.ZipFile(plain_zip, "w") as archive:
        archive.writestr("hei.txt", "hei")
    with pytest.raises(ValidationFailed, match="kunne ikke leses som XLSX"):
        quick_order.parse_file("a.xlsx", plain_zip.getvalue())
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", b"0" * (quick_order.MAX_XLSX_UNPACKED_BYTES + 1))
    assert len(bomb.getvalue()) < quick_order.MAX_FILE_BYTES
    with pytest.raises(ValidationFailed, match="Filen er for stor"):
        quick_order.parse_file("a.xlsx", bomb.getvalue())


# --- checking the rows ---------------------------------------------------------------------------


def _check(app: Flask, text: str) -> quick_order.Checked:
    with app.test_request_context(), db_session(app) as s:
        checked = quick_order.check_text(s, text)
        for row in checked.rows:  # loaded while the session is open
            _ = row.product.sku if row.product else None
        return checked


def test_rows_are_checked_with_the_order_forms_messages(app: Flask, world: World) -> None:
    checked = _check(
        app,
        "\n".join(
            [
                "STOL-1;2",  # 1 good
                "stol-1;3",  # 2 good: SKUs are read in any case
                "FINNES-IKKE;1",  # 3 unknown SKU
                "STOL-1;to",  # 4 not a number
                "STOL-1;0",  # 5 the rule: at least 1
                "SOFA-1;1;300;90;Ull grå;Eik",  # 6 the rule: width out of range
                "SOFA-1;1;160;90;Silke;Eik",  # 7 the rule: no such fabric
                "SOFA-1;1;160,0;89,5;Ull grå;Eik",  # 8 decimal comma: 160 is fine, 89,5 cm is no whole cm
                "STOL-1;1;100",  # 9 the rule: no measures on this product
                ";4",  # 10 no SKU
                "STOL-1;1e400",  # 11 a number beyond any bound: the rule's bound is said
                "SOFA-1;1;9" + "9" * 40 + ";90;Ull grå;Eik",  # 12 likewise for a measure
            ]
        ),
    )
    by_row = {r.number: r for r in checked.rows}
    assert [r.number for r in checked.good] == [1, 2]
    assert by_row[2].line is not None and by_row[2].line.quantity == 3
    assert by_row[3].errors == {"sku": "Finner ikke varenummer «FINNES-IKKE» i katalogen."}
    assert by_row[4].errors == {"quantity": "Antall må være et helt tall."}
    assert by_row[5].errors == {"quantity": "Antall må være minst 1."}
    assert by_row[6].errors == {"width": "Bredde må være mellom 80 og 240 cm"}
    assert by_row[7].errors["fabric"].startswith("Stoff «Silke» finnes ikke for Sofa Modul.")
    assert by_row[8].errors == {"depth": "Dybde må være et helt tall."}
    assert by_row[9].errors == {"width": "Kontorstol Basic har ikke valgbar bredde."}
    assert by_row[10].errors == {"sku": "Varenummer mangler."}
    assert by_row[11].errors == {"quantity": "Antall kan være høyst 99999."}
    assert by_row[12].errors == {"width": "Bredde må være mellom 80 og 240 cm"}


def test_the_messages_are_the_order_forms_own(app: Flask, world: World) -> None:
    """The same line posted to Ny bestilling is refused with the same message as here."""
    text = "SOFA-1;1;300;90;Ull grå;Eik"
    row = _check(app, text).rows[0]
    response = client_as(app, "hansen.bruker").post(
        "/bestill/",
        data={
            "lines-0-product_id": str(world.configurable.id),
            "lines-0-quantity": "1",
            "lines-0-width": "300",
            "lines-0-depth": "90",
            "lines-0-fabric": "Ull grå",
            "lines-0-colour": "Eik",
        },
    )
    assert row.errors["width"] in text_of(response)


def test_a_product_no_longer_sold_is_not_orderable(app: Flask, world: World) -> None:
    with db_session(app) as s:
        s.execute(update(Product).where(Product.id == world.product.id).values(active=False))
        s.commit()
    row = _check(app, "STOL-1;2").rows[0]
    assert row.errors == {"sku": "Kontorstol Basic kan ikke bestilles lenger. Velg et annet produkt."}
    assert not row.ok


def _many(n: int) -> str:
    return "\n".join("SOFA-1;1;160;90;Ull grå;Eik" if i % 2 else f"STOL-1;{i + 1}" for i in range(n))


def test_statements_do_not_grow_with_rows_and_500_rows_are_quick(app: Flask, world: World) -> None:
    with db_session(app) as s:
        s.add_all(Product(sku=f"EXTRA-{i}", name=f"Ekstra {i}", unit_price=Decimal("10.00")) for i in range(300))
        s.commit()
    counts = []
    for text in (_many(5), _many(200) + "\n" + "\n".join(f"EXTRA-{i};1" for i in range(300))):
        with app.test_request_context(), db_session(app) as s, StatementCounter(db_engine(app)) as counter:
            start = time.perf_counter()
            checked = quick_order.check_text(s, text)
            elapsed = time.perf_counter() - start
        assert not checked.bad, [(r.number, r.errors) for r in checked.bad][:3]
        counts.append(counter.count)
    assert len(checked.rows) == 500
    assert counts[0] == counts[1] == 1, counts
    assert elapsed < 2.0, elapsed


def test_page_500_rows_fixed_statements_and_quick(app: Flask, world: World) -> None:
    client = client_as(app, "hansen.bruker")
    counts = []
    for n in (5, 500):
        with StatementCounter(db_engine(app)) as counter:
            start = time.perf_counter()
            response = client.post(PAGE, data={"text": _many(n)})
            elapsed = time.perf_counter() - start
        assert response.status_code == 200
        assert text_of(response).count('class="quick-row success"') == n
        counts.append(counter.count)
    assert counts[0] == counts[1], counts
    assert elapsed < 2.0, elapsed


# --- the page ------------------------------------------------------------------------------------


def _row_html(body: str, number: int) -> str:
    match = re.search(rf'<tr id="quick-row-{number}".*?</tr>', body, re.S)
    assert match, f"row {number} not shown"
    return match.group(0)


def test_page_shows_each_error_next_to_its_row_and_hands_on_the_good_rows(app: Flask, world: World) -> None:
    client = client_as(app, "hansen.bruker")
    assert client.get(PAGE).status_code == 200
    response = client.post(PAGE, data={"text": "STOL-1;2\nUKJENT-9;1\nSOFA-1;1;160;90;Ull grå;Eik"})
    body = text_of(response)
    assert response.status_code == 200
    bad = _row_html(body, 2)
    assert "UKJENT-9;1" in bad and "Finner ikke varenummer «UKJENT-9» i katalogen." in bad
    assert "Finner ikke" not in _row_html(body, 1) + _row_html(body, 3)
    form = re.search(r'<form method="post" id="quick-prefill">.*?</form>', body, re.S)
    assert form
    hidden = dict(re.findall(r'name="(lines-\d+-\w+|prefill)" value="([^"]*)"', form.group(0)))
    assert hidden == {
        "prefill": "1",
        "lines-0-product_id": str(world.product.id),
        "lines-0-quantity": "2",
        "lines-1-product_id": str(world.configurable.id),
        "lines-1-quantity": "1",
        "lines-1-width": "160",
        "lines-1-depth": "90",
        "lines-1-fabric": "Ull grå",
        "lines-1-colour": "Eik",
    }
    assert "Legg i bestilling" in form.group(0) and "Lag tilbud" in form.group(0)
    # What the buttons send fills the order form and the quote form, and places nothing.
    orders, quotes = count_rows(app, Order), count_rows(app, Quote)
    to_order = client.post("/bestill/", data=hidden)
    assert to_order.status_code == 200
    assert f'<option value="{world.configurable.id}" selected' in text_of(to_order)
    to_quote = client.post("/tilbud/ny", data=hidden)
    assert f'<option value="{world.product.id}" selected' in text_of(to_quote)
    assert (count_rows(app, Order), count_rows(app, Quote)) == (orders, quotes)


def test_page_upload_xlsx_and_refusals_in_norwegian(app: Flask, world: World) -> None:
    client = client_as(app, "hansen.admin")
    data = xlsx([["SKU", "Antall"], ["STOL-1", 4], ["SOFA-1", 1, 500, 90, "Ull grå", "Eik"]])
    response = client.post(PAGE, data={"file": (io.BytesIO(data), "liste.xlsx")}, content_type="multipart/form-data")
    body = text_of(response)
    assert response.status_code == 200
    assert "success" in _row_html(body, 2)
    assert "Bredde må være mellom 80 og 240 cm" in _row_html(body, 3)
    for name, payload, message in (
        ("bilde.png", b"\x89PNG\r\n\x1a\n\x00\x00", "Filen er ikke et regneark"),
        ("stor.csv", b"x" * (quick_order.MAX_FILE_BYTES + 10), "Filen er for stor"),
        ("ødelagt.xlsx", b"PK\x03\x04broken", "kunne ikke leses som XLSX"),
    ):
        refused = client.post(PAGE, data={"file": (io.BytesIO(payload), name)}, content_type="multipart/form-data")
        assert refused.status_code == 200, name
        assert message in text_of(refused), name
        assert 'id="error-file"' in text_of(refused)
    empty = client.post(PAGE, data={"text": ""})
    assert 'id="error-text"' in text_of(empty)


def test_seller_makes_a_quote_from_the_rows_and_others_may_not(app: Flask, world: World) -> None:
    seller = client_as(app, "selger")
    body = text_of(seller.post(PAGE, data={"text": "STOL-1;2"}))
    assert "Lag tilbud" in body and "Legg i bestilling" not in body and 'name="customer_number"' in body
    quote_form = seller.post(
        "/tilbud/ny",
        data={
            "prefill": "1",
            "customer_number": "10001",
            "lines-0-product_id": str(world.product.id),
            "lines-0-quantity": "2",
        },
    )
    assert f'<option value="{world.product.id}" selected' in text_of(quote_form)
    for username in ("kundeservice", "leder"):
        response = client_as(app, username).get(PAGE)
        assert response.status_code in (302, 403), username


# --- tenancy -------------------------------------------------------------------------------------


def test_tenancy_the_lines_go_to_the_callers_own_company(app: Flask, world: World) -> None:
    """A customer cannot name another company: the quote form takes the company from the user, even
    if the quick order's hand-over carries B's customer number."""
    client = client_as(app, "hansen.bruker")
    body = text_of(client.post(PAGE, data={"text": "STOL-1;2", "customer_number": "10002"}))
    assert "Berg AS" not in body and "10002" not in body
    quote_form = client.post(
        "/tilbud/ny",
        data={
            "prefill": "1",
            "customer_number": "10002",
            "lines-0-product_id": str(world.product.id),
            "lines-0-quantity": "2",
        },
    )
    assert "Berg AS" not in text_of(quote_form)
    answer = Caller(app, "hansen.bruker").post(API, {"text": "STOL-1;2"})
    assert answer.status_code == 200
    assert "Berg" not in answer.get_data(as_text=True)


# --- the API -------------------------------------------------------------------------------------


def test_api_answers_every_row_and_the_good_lines(app: Flask, world: World) -> None:
    caller = Caller(app, "hansen.bruker")
    response = caller.post(API, {"text": "SKU;Antall\nSTOL-1;2\nUKJENT;1\nSOFA-1;1;160;90;Ull grå;Eik"})
    assert response.status_code == 200, response.json
    body = response.json
    assert (body["count"], body["ok_count"]) == (3, 2)
    assert [(r["row"], r["ok"]) for r in body["rows"]] == [(2, True), (3, False), (4, True)]
    assert body["rows"][1]["errors"] == {"sku": ["Finner ikke varenummer «UKJENT» i katalogen."]}
    assert body["rows"][1]["text"] == "UKJENT;1"
    assert body["lines"][1] == {
        "product_id": world.configurable.id,
        "quantity": 1,
        "width": 160,
        "depth": 90,
        "fabric": "Ull grå",
        "colour": "Eik",
    }
    # The lines are what the order API takes.
    before = count_rows(app, Order)
    order = caller.post("/api/v1/order/", {"lines": body["lines"], "delivery_address_id": world.a.address.id})
    assert order.status_code in (200, 201), order.json
    assert count_rows(app, Order) == before + 1


def test_api_reads_an_uploaded_xlsx(app: Flask, world: World) -> None:
    caller = Caller(app, "hansen.bruker")
    data = xlsx([["STOL-1", 2], ["SOFA-1", 1, 160, 90, "Ull grå", "Svart"]])
    response = caller.client.post(
        API, data={"file": (io.BytesIO(data), "a.xlsx")}, headers=caller.headers, content_type="multipart/form-data"
    )
    assert response.status_code == 200, response.json
    assert response.json["ok_count"] == 2


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "text"),
        ({"text": ""}, "text"),
        ({"text": 5}, "text"),
        ({"text": "STOL-1;1", "company_id": 2}, "company_id"),
        ({"text": "x;1\n" * 501}, "text"),
        ([1, 2], "text"),
    ],
)
def test_api_400_names_the_field(app: Flask, world: World, body: object, field: str) -> None:
    response = Caller(app, "hansen.bruker").post(API, body)
    errors = field_errors(response)
    assert field in errors, errors


def test_api_400_for_a_bad_file_and_a_missing_file(app: Flask, world: World) -> None:
    caller = Caller(app, "hansen.bruker")
    for data in ({"file": (io.BytesIO(b"\x89PNG\r\n\x00"), "a.png")}, {"other": "x"}):
        response = caller.client.post(API, data=data, headers=caller.headers, content_type="multipart/form-data")
        assert "file" in field_errors(response)
