"""The budget dashboard in a real browser (demo data, production config):

`hansen.admin` opens "Bruksgrense – oversikt" from the menu and sees the Plotly charts for
`hansen.bruker`'s (Jonas Eriksen's) monthly budget, which the demo data has exceeded: the bar chart
of consumption against the limit and the cumulative line with limit and forecast, each drawn by
plotly.js (served from the installed package) and with its table beside it.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import login, screenshot

pytestmark = pytest.mark.e2e


def test_customer_admin_sees_the_exceeded_budget_in_both_charts(page: Any) -> None:
    scripts: list[str] = []
    page.on("request", lambda request: scripts.append(request.url) if request.resource_type == "script" else None)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    login(page, "hansen.admin")
    page.click("text=Min side")
    with page.expect_navigation():
        page.click("text=Bruksgrense – oversikt")
    assert page.url.rstrip("/").endswith("/bruksgrense/oversikt")

    # Both charts are drawn by plotly.js: an SVG with bars and one with lines.
    page.wait_for_selector("#consumption-chart .main-svg")
    page.wait_for_selector("#cumulative-chart .main-svg")
    assert page.locator("#consumption-chart g.trace.bars").count() == 2  # Forbruk and Grense
    # Consumption and limit, and the forecast once enough days and orders count (else it says so).
    traces = page.locator("#cumulative-chart g.scatterlayer g.trace").count()
    assert traces >= 3 or (traces == 2 and page.locator("#forecast-waits").is_visible())
    assert "gjennomsnittet per dag" in (page.text_content("#forecast-method") or "")
    chart_text = page.text_content("#consumption-chart") or ""
    assert "Jonas Eriksen" in chart_text and "Forbruk" in chart_text and "Grense" in chart_text
    if traces >= 3:
        assert "Prognose" in (page.text_content("#cumulative-chart") or "")

    # The table beside the bar chart says the same, in Norwegian.
    row = page.locator("#consumption-table tr", has_text="Jonas Eriksen")
    assert "Over grensen" in (row.text_content() or "")
    assert "15\u00a0000,00\u00a0kr" in (row.text_content() or "")
    assert "Jonas Eriksen" in (page.text_content("#cumulative-panel .panel-title") or "")
    assert page.locator("#daily-table tbody tr").count() >= 1

    # plotly.js came from our own server (the installed package), not from a CDN.
    plotly = [url for url in scripts if "plotly" in url]
    assert plotly and all(url.startswith(page.url.split("/bruksgrense")[0]) for url in plotly), plotly
    assert not errors, errors

    # The charts and tables sit side by side on a laptop screen (1280 px).
    chart = page.locator("#consumption-chart").bounding_box()
    table = page.locator("#consumption-table").bounding_box()
    assert chart and table and table["x"] > chart["x"] + chart["width"] - 5
    screenshot(page, "budget-dashboard-hansen-admin")

    # The period picker: the quarter shows the company-wide budget.
    with page.expect_navigation():
        page.click(".period-picker a:has-text('Kvartal')")
    page.wait_for_selector("#consumption-chart .main-svg")
    assert "Alle brukere" in (page.text_content("#consumption-table") or "")
