"""Rapporter in a real browser: `leder` opens each report from the menu on the demo data; the
Plotly chart renders (plotly.js from the installed package) beside its table, and the CSV link
downloads a file. Screenshots go to test-artifacts/screenshots/reports-*.png.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import login, open_menu, screenshot

pytestmark = pytest.mark.e2e

# (menu label = page heading, a table key on the page)
REPORTS = (
    ("Salg per måned", "salg"),
    ("Ordrer per status", "status"),
    ("Tid til godkjenning", "ledetid"),
    ("Topp 10 kunder", "kunder"),
    ("Forbruk av bruksgrenser", "oversikt"),
)


@pytest.mark.parametrize(("label", "table"), REPORTS, ids=[t for _l, t in REPORTS])
def test_manager_sees_each_report_with_its_chart(page: Any, js_errors: list[str], label: str, table: str) -> None:
    login(page, "leder")
    open_menu(page, "Rapporter", label)
    assert page.locator("h1").inner_text().strip() == label
    # Plotly drew the chart: its SVG root is in the chart's container.
    page.wait_for_selector(".report-chart .main-svg", state="attached")
    assert page.locator(".report-chart.js-plotly-plot, .report-chart .plotly").count() >= 1
    rows = page.locator(f'table.report-data[data-table="{table}"] tbody tr')
    assert rows.count() >= 1
    # The chart and the table stand side by side on a laptop screen.
    chart_box = page.locator(".report-chart").bounding_box()
    table_box = page.locator(f"#table-{table}").bounding_box()
    assert chart_box and table_box and table_box["x"] >= chart_box["x"] + chart_box["width"] - 5
    page.wait_for_timeout(300)  # let Plotly finish its transitions before the picture
    screenshot(page, f"reports-{table}")
    with page.expect_download() as download:
        page.locator(f"#table-{table} a.csv-link").click()
    assert download.value.suggested_filename.endswith(".csv")
    with open(download.value.path(), "rb") as handle:
        assert handle.read(3) == b"\xef\xbb\xbf"
    assert not js_errors, js_errors


def test_date_filter_reloads_the_report(page: Any, js_errors: list[str]) -> None:
    login(page, "leder")
    page.goto("/rapporter/salg/")
    page.fill("#filter-fra", "2026-01-01")
    page.fill("#filter-til", "2026-03-31")
    with page.expect_navigation():
        page.click(".report-filter button[type=submit]")
    assert "fra=2026-01-01" in page.url and "til=2026-03-31" in page.url
    page.wait_for_selector(".report-chart .main-svg", state="attached")
    rows = page.locator('table.report-data[data-table="salg"] tbody tr')
    assert [rows.nth(i).locator("td").first.inner_text() for i in range(rows.count())] == [
        "januar 2026",
        "februar 2026",
        "mars 2026",
    ]
    assert not js_errors, js_errors
