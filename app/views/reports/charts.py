"""What each report page shows: tables (HTML and CSV from the same rows) and Plotly figures.

The numbers come from app/domain/reports.py; this module only labels and formats them. A table's
rows are plain values with a column kind; `html_cell` and `csv_cell` format the same value for the
page and for the CSV file, so the download holds exactly the rows on the page.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import Any

import plotly.io as pio
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from plotly.subplots import make_subplots

from app.domain import labels
from app.domain import reports as R
from app.domain.budgets import period_label
from app.domain.formatting import NBSP, format_date, format_month, format_nok, format_oslo_datetime

STATUS_COLOURS = {
    "pending_approval": "#f0ad4e",
    "processing": "#337ab7",
    "shipped": "#5bc0de",
    "partially_delivered": "#8e6cc4",
    "invoiced": "#5cb85c",
    "cancelled": "#9e9e9e",
    "rejected": "#d9534f",
    "pending_internal_approval": "#f5d76e",
}
CHANNEL_COLOURS = {
    "webshop": "#337ab7",
    "phone": "#f0ad4e",
    "seller": "#5cb85c",
    "edi": "#8e6cc4",
    "standing_order": "#5bc0de",
    "quote": "#d9534f",
}
LEVEL_COLOURS = {"over": "#d9534f", "warn": "#f0ad4e", "ok": "#5cb85c"}
LEVEL_LABELS = {"over": _l("Over grensen"), "warn": _l("Nær grensen (≥ 80 %)"), "ok": _l("Under grensen")}
HOUR = Decimal(3600)


# --- tables ---------------------------------------------------------------------------------


@dataclass
class Column:
    label: str
    kind: str = "text"  # text, int, money (with "kr"), amount (kr without unit), hours, percent, date, datetime


@dataclass
class Table:
    key: str  # ?tabell=<key> on the CSV link
    title: str
    columns: list[Column]
    rows: list[list[Any]]
    footer: list[list[Any]] = field(default_factory=list)  # sum rows: shown, and in the CSV too
    note: str = ""
    row_classes: list[str] = field(default_factory=list)  # Bootstrap row colours ("danger", "warning")

    @property
    def all_rows(self) -> list[list[Any]]:
        return self.rows + self.footer


def _hours(seconds: Decimal) -> Decimal:
    return (seconds / HOUR).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def _decimal_comma(value: Decimal, places: str) -> str:
    return f"{value.quantize(Decimal(places), rounding=ROUND_HALF_UP)}".replace(".", ",")


def html_cell(value: Any, kind: str) -> str:
    if value is None:
        return "–"
    if kind == "int":
        return f"{value:,}".replace(",", NBSP)
    if kind == "money":
        return format_nok(value)
    if kind == "amount":
        return format_nok(value, with_unit=False)
    if kind == "hours":
        return _decimal_comma(_hours(value), "0.1")
    if kind == "percent":
        return _decimal_comma(value * 100, "0.1") + NBSP + "%"
    if kind == "date":
        return format_date(value)
    if kind == "datetime":
        return format_oslo_datetime(value)
    return str(value)


def csv_cell(value: Any, kind: str) -> str:
    """What a Norwegian spreadsheet reads as a number: decimal comma, no thousands separator, no unit."""
    if value is None:
        return ""
    if kind in ("money", "amount"):
        return _decimal_comma(Decimal(value), "0.01")
    if kind == "hours":
        return _decimal_comma(_hours(value), "0.1")
    if kind == "percent":
        return _decimal_comma(value * 100, "0.1")
    if kind == "int":
        return str(value)
    return html_cell(value, kind)


# --- figures --------------------------------------------------------------------------------


# Figures are plain Plotly JSON (dicts): plotly's figure objects validate every property on every
# assignment, which cost more than the report's SQL. The template and the subplot grids are
# resolved by plotly once and reused.
TEMPLATE: dict[str, Any] = pio.templates["plotly_white"].to_plotly_json()


def _layout(height: int = 460, **kw: Any) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "template": TEMPLATE,
        "height": height,
        "separators": ", ",  # decimal comma, space for thousands
        "font": {"family": "Helvetica Neue, Helvetica, Arial, sans-serif", "size": 13},
        "margin": {"l": 70, "r": 20, "t": 50, "b": 70},
        "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.02, "xanchor": "left", "x": 0},
        "hoverlabel": {"namelength": -1},
    }
    return {**settings, **kw}


@lru_cache(maxsize=32)
def _grid_json(
    titles: tuple[str, ...], rows: int, heights: tuple[float, ...] | None, spacing: float | None, secondary_y: bool
) -> str:
    grid = make_subplots(
        rows=rows,
        cols=1,
        subplot_titles=titles or None,
        row_heights=list(heights) if heights else None,
        vertical_spacing=spacing,
        specs=[[{"secondary_y": secondary_y}] for _row in range(rows)],
    )
    return json.dumps(grid.to_plotly_json()["layout"])


def _grid(
    titles: tuple[str, ...] = (),
    rows: int = 1,
    row_heights: tuple[float, ...] | None = None,
    vertical_spacing: float | None = None,
    secondary_y: bool = False,
) -> dict[str, Any]:
    """The axes (and title annotations) of a plotly subplot grid of one column, computed by plotly
    once per grid and language."""
    return json.loads(_grid_json(titles, rows, row_heights, vertical_spacing, secondary_y))


def _update(layout: dict[str, Any], axis: str, **values: Any) -> None:
    layout.setdefault(axis, {}).update(values)


def _title(text: str) -> dict[str, str]:
    return {"text": text}


def count_axis(largest: int) -> dict[str, Any]:
    """Whole-number ticks for a count axis (plotly would put 0,5 steps on small counts)."""
    return {"tickformat": "d", "rangemode": "tozero", "tick0": 0, "dtick": max(1, -(-largest // 8))}


def month_label(bucket: R.Bucket) -> str:
    """ "januar 2025" (nb), "January 2025" (en)."""
    return format_month(bucket.first)


def week_label(bucket: R.Bucket) -> str:
    return _("uke %(week)s/%(year)s", week=bucket.number, year=bucket.year)


def week_axis(weeks: Sequence[R.Bucket], max_ticks: int = 12) -> dict[str, Any]:
    """A readable week axis: the categories are the full labels (for hovering), and every n-th week is
    labelled on two lines ("uke 49" over "2025"), so a year of weeks fits a laptop-wide chart."""
    step = max(1, -(-len(weeks) // max_ticks))
    shown = weeks[::step]
    return {
        "type": "category",
        "tickmode": "array",
        "tickangle": 0,
        "tickvals": [week_label(w) for w in shown],
        "ticktext": [_("uke %(week)s", week=w.number) + f"<br>{w.year}" for w in shown],
    }


@dataclass
class Content:
    figure: dict[str, Any]  # {"data": [...], "layout": {...}}: Plotly JSON
    tables: list[Table]
    notes: list[str] = field(default_factory=list)


# --- 1. sales -------------------------------------------------------------------------------


def sales(report: R.SalesReport) -> Content:
    channel_names = [labels.label(labels.ORDER_CHANNEL, c) for c in R.CHANNELS]
    x = [month_label(m) for m in report.months]
    data = [
        {
            "type": "bar",
            "x": x,
            "y": [float(report.amount(m.index, code)) for m in report.months],
            "name": name,
            "marker": {"color": CHANNEL_COLOURS[code]},
            "hovertemplate": "%{x}<br>" + name + ": %{y:,.2f} kr<extra></extra>",
        }
        for code, name in zip(R.CHANNELS, channel_names, strict=True)
    ]
    layout = _layout(barmode="stack", xaxis={"title": _title(_("Måned"))})
    layout["yaxis"] = {"title": _title(_("Salg eks. mva. (kr)")), "tickformat": ",.0f"}
    layout["legend"] = {**layout["legend"], "traceorder": "normal"}
    fig = {"data": data, "layout": layout}
    columns = [Column(_("Måned"))] + [Column(n, "amount") for n in channel_names] + [Column(_("Sum"), "amount")]
    rows = [
        [month_label(m)] + [report.amount(m.index, c) for c in R.CHANNELS] + [report.month_total(m.index)]
        for m in report.months
    ]
    footer = [[_("Sum")] + [report.channel_total(c) for c in R.CHANNELS] + [report.total]]
    table = Table("salg", _("Salg per måned og kanal"), columns, rows, footer, note=_("Beløp i kr eks. mva."))
    return Content(
        fig,
        [table],
        notes=[
            _(
                "Salg er ordrer lagt inn i perioden med status Under behandling, Kjørt ut fra lager, Dellevert eller "
                "Fakturert, eks. mva. Kansellerte og avviste ordrer telles ikke, og heller ikke ordrer som venter på "
                "godkjenning: de er ikke akseptert før en selger har godkjent dem."
            ),
        ],
    )


# --- 2. statuses ----------------------------------------------------------------------------


def statuses(report: R.StatusReport) -> Content:
    shown = report.statuses  # the company's own approval status only when used
    names = {s: labels.order_status(s) for s in shown}
    weeks = [week_label(w) for w in report.weeks]
    layout = _grid(
        (_("Ordrer fra perioden etter status nå"), _("Statusendringer per uke")),
        rows=2,
        row_heights=(0.32, 0.68),
        vertical_spacing=0.12,
    )
    data: list[dict[str, Any]] = []
    for status in shown:
        colour = STATUS_COLOURS[status]
        data.append(
            {
                "type": "bar",
                "y": [names[status]],
                "x": [report.now.get(status, 0)],
                "orientation": "h",
                "name": names[status],
                "legendgroup": status,
                "marker": {"color": colour},
                "showlegend": False,
                "hovertemplate": names[status] + ": %{x}<extra></extra>",
                "xaxis": "x",
                "yaxis": "y",
            }
        )
        data.append(
            {
                "type": "bar",
                "x": weeks,
                "y": [report.entered_in(w.index, status) for w in report.weeks],
                "name": names[status],
                "legendgroup": status,
                "marker": {"color": colour},
                "hovertemplate": "%{x}<br>" + names[status] + ": %{y}<extra></extra>",
                "xaxis": "x2",
                "yaxis": "y2",
            }
        )
    layout.update(
        _layout(
            height=640,
            barmode="stack",
            margin={"l": 70, "r": 20, "t": 90, "b": 50},
            legend={
                "orientation": "h",
                "yanchor": "bottom",
                "y": 1.06,
                "xanchor": "left",
                "x": 0,
                "traceorder": "normal",
            },
        )
    )
    _update(layout, "yaxis", autorange="reversed", automargin=True)
    _update(layout, "xaxis", **count_axis(max(report.now.values(), default=0)))
    weekly_max = max((sum(report.entered_in(w.index, s) for s in shown) for w in report.weeks), default=0)
    _update(layout, "yaxis2", title=_title(_("Ordrer inn i status")), **count_axis(weekly_max))
    _update(layout, "xaxis2", **week_axis(report.weeks))
    fig = {"data": data, "layout": layout}
    now = Table(
        "status",
        _("Status nå"),
        [Column(_("Status")), Column(_("Antall ordrer"), "int")],
        [[names[s], report.now.get(s, 0)] for s in shown],
        footer=[[_("Sum"), sum(report.now.values())]],
        note=_("Ordrer lagt inn i perioden, etter den statusen de har nå."),
    )
    short = {s: names[s] for s in shown}
    weekly = Table(
        "uker",
        _("Statusendringer per uke"),
        [Column(_("Uke"))] + [Column(short[s], "int") for s in shown],
        [[week_label(w)] + [report.entered_in(w.index, s) for s in shown] for w in report.weeks],
        note=_("Hvor mange ordrer som gikk inn i hver status i uken (fra statushistorikken)."),
    )
    return Content(fig, [now, weekly])


# --- 3. approval lead time --------------------------------------------------------------------


def _float_hours(seconds: Decimal | None) -> float | None:
    return None if seconds is None else float(_hours(seconds))


def _age(delta: dt.timedelta) -> str:
    days, hours = delta.days, delta.seconds // 3600
    if days:
        return _("%(d)s d %(h)s t", d=days, h=hours)
    return _("%(h)s t %(m)s min", h=hours, m=delta.seconds % 3600 // 60)


def approvals(report: R.ApprovalReport) -> Content:
    weeks = [week_label(w.week) for w in report.weeks]
    layout = _grid(secondary_y=True)
    data: list[dict[str, Any]] = [
        {
            "type": "bar",
            "x": weeks,
            "y": [w.decided for w in report.weeks],
            "name": _("Behandlet (antall)"),
            "marker": {"color": "#d9dde3"},
            "hovertemplate": "%{x}<br>" + _("Behandlet") + ": %{y}<extra></extra>",
            "xaxis": "x",
            "yaxis": "y2",
        }
    ]
    for name, values, colour in (
        (_("Median"), [w.median for w in report.weeks], "#337ab7"),
        (_("90-persentil"), [w.p90 for w in report.weeks], "#d9534f"),
    ):
        data.append(
            {
                "type": "scatter",
                "x": weeks,
                "y": [_float_hours(v) for v in values],
                "name": name + " " + _("(timer)"),
                "mode": "lines+markers",
                "line": {"color": colour, "width": 2.5},
                "connectgaps": False,
                "hovertemplate": "%{x}<br>" + name + ": %{y:.1f} t<extra></extra>",
                "xaxis": "x",
                "yaxis": "y",
            }
        )
    layout.update(_layout())
    layout["legend"] = {**layout["legend"], "traceorder": "normal"}
    _update(layout, "xaxis", title=_title(_("Uke for beslutningen")), **week_axis([w.week for w in report.weeks]))
    _update(layout, "yaxis", title=_title(_("Ledetid (timer)")), rangemode="tozero")
    _update(
        layout,
        "yaxis2",
        title=_title(_("Antall behandlet")),
        showgrid=False,
        **count_axis(max((w.decided for w in report.weeks), default=0)),
    )
    fig = {"data": data, "layout": layout}
    lead = Table(
        "ledetid",
        _("Ledetid per uke"),
        [
            Column(_("Uke")),
            Column(_("Behandlet"), "int"),
            Column(_("Godkjent"), "int"),
            Column(_("Avvist"), "int"),
            Column(_("Median (timer)"), "hours"),
            Column(_("90-persentil (timer)"), "hours"),
        ],
        [[week_label(w.week), w.decided, w.approved, w.rejected, w.median, w.p90] for w in report.weeks],
    )
    waiting = Table(
        "venter",
        _("Eldste ordrer som fortsatt venter"),
        [
            Column(_("Ordre")),
            Column(_("Bedrift")),
            Column(_("Til godkjenning siden"), "datetime"),
            Column(_("Har ventet")),
            Column(_("Sum inkl. mva."), "money"),
        ],
        [[w.number, w.company, w.since, _age(w.waiting(report.now)), w.total_inc_vat] for w in report.waiting],
        note=_(
            "%(shown)s av %(total)s ordrer som venter på godkjenning nå, uansett periode.",
            shown=len(report.waiting),
            total=report.waiting_total,
        ),
    )
    return Content(
        fig,
        [lead, waiting],
        notes=[
            _(
                "Ledetid er tiden fra ordren ble satt til Til godkjenning til den ble godkjent eller avvist, "
                "talt i uken beslutningen ble tatt. Median og 90-persentil er interpolert mellom nærmeste "
                "rangeringer (som PERCENTILE.INC i regneark)."
            ),
        ],
    )


# --- 4. top customers -------------------------------------------------------------------------


def customers(rows: Sequence[R.CustomerSales]) -> Content:
    names = [f"{r.name} ({r.customer_number})" for r in rows]
    data = [
        {
            "type": "bar",
            "y": names,
            "x": [float(v) for v in values],
            "name": name,
            "orientation": "h",
            "marker": {"color": colour},
            "hovertemplate": "%{y}<br>" + name + ": %{x:,.2f} " + fmt + "<extra></extra>",
        }
        for name, values, colour, fmt in (
            (_("Salg eks. mva."), [r.sales for r in rows], "#337ab7", "kr"),
            (_("Eksponering nå"), [r.exposure for r in rows], "#f0ad4e", "kr"),
            (_("Kredittgrense"), [r.credit_limit for r in rows], "#9e9e9e", "kr"),
        )
    ]
    layout = _layout(
        height=max(380, 90 + 62 * len(rows)),
        barmode="group",
        xaxis={"title": _title(_("Kroner")), "tickformat": ",.0f"},
        yaxis={"autorange": "reversed", "automargin": True},
        margin={"l": 230, "r": 20, "t": 50, "b": 60},
    )
    fig = {"data": data, "layout": layout}
    table = Table(
        "kunder",
        _("Topp 10 kunder"),
        [
            Column(_("Kunde")),
            Column(_("Kundenr.")),
            Column(_("Ordrer"), "int"),
            Column(_("Salg eks. mva."), "money"),
            Column(_("Kredittgrense"), "money"),
            Column(_("Eksponering nå"), "money"),
        ],
        [[r.name, r.customer_number, r.orders, r.sales, r.credit_limit, r.exposure] for r in rows],
        row_classes=["danger" if r.exposure > r.credit_limit else "" for r in rows],
        note=_("Rødt: eksponeringen er over kredittgrensen."),
    )
    return Content(
        fig,
        [table],
        notes=[
            _(
                "Salg som i rapporten Salg per måned. Eksponering nå er, som ved godkjenning, summen inkl. mva. av "
                "kundens ordrer som ikke er fakturert ennå, pluss ubetalte fakturaer."
            ),
        ],
    )


# --- 5. budgets -------------------------------------------------------------------------------


def budgets(report: R.BudgetReport, chart_rows: int = 15) -> Content:
    counts = report.counts
    level_names = [str(LEVEL_LABELS[lv]) for lv in R.LEVELS]
    top = report.rows[:chart_rows]  # highest share first
    whole = _("hele bedriften")
    names = [f"{r.company} – {r.user or whole}" for r in top]
    layout = _grid(
        (_("Antall bruksgrenser"), _("Andel av grensen brukt (de %(n)s høyeste)", n=len(top))),
        rows=2,
        row_heights=(0.3, 0.7),
        vertical_spacing=0.14,
    )
    data = [
        {
            "type": "bar",
            "y": level_names,
            "x": [counts[lv] for lv in R.LEVELS],
            "text": [str(counts[lv]) for lv in R.LEVELS],
            "orientation": "h",
            "textposition": "outside",
            "cliponaxis": False,
            "marker": {"color": [LEVEL_COLOURS[lv] for lv in R.LEVELS]},
            "hovertemplate": "%{y}: %{x}<extra></extra>",
            "showlegend": False,
            "xaxis": "x",
            "yaxis": "y",
        },
        {
            "type": "bar",
            "y": names,
            "x": [float(r.ratio * 100) for r in top],
            "orientation": "h",
            "showlegend": False,
            "marker": {"color": [LEVEL_COLOURS[r.level] for r in top]},
            "customdata": [[format_nok(r.used), format_nok(r.amount)] for r in top],
            "hovertemplate": "%{y}<br>%{x:.1f} %<br>%{customdata[0]} av %{customdata[1]}<extra></extra>",
            "xaxis": "x2",
            "yaxis": "y2",
        },
    ]
    # The "near" and "over" lines across the lower chart.
    layout["shapes"] = [
        {
            "type": "line",
            "x0": share,
            "x1": share,
            "xref": "x2",
            "y0": 0,
            "y1": 1,
            "yref": "y2 domain",
            "line": {"color": "#777", "width": 1, "dash": dash},
        }
        for share, dash in ((80, "dot"), (100, "dash"))
    ]
    layout.update(_layout(height=max(460, 330 + 28 * len(top)), margin={"l": 70, "r": 30, "t": 40, "b": 50}))
    _update(layout, "xaxis", **count_axis(max(counts.values(), default=0)))
    _update(layout, "yaxis", autorange="reversed", automargin=True)
    _update(layout, "yaxis2", autorange="reversed", automargin=True)
    _update(layout, "xaxis2", title=_title(_("Prosent av grensen")), ticksuffix=" %", rangemode="tozero")
    fig = {"data": data, "layout": layout}
    summary = Table(
        "oversikt",
        _("Bruksgrenser etter forbruk"),
        [Column(_("Forbruk")), Column(_("Antall"), "int")],
        [[name, counts[lv]] for name, lv in zip(level_names, R.LEVELS, strict=True)],
        footer=[[_("Sum"), len(report.rows)]],
    )
    detail = Table(
        "bruksgrenser",
        _("Alle aktive bruksgrenser"),
        [
            Column(_("Bedrift")),
            Column(_("Gjelder")),
            Column(_("Periode")),
            Column(_("Grense"), "money"),
            Column(_("Forbruk"), "money"),
            Column(_("Andel"), "percent"),
            Column(_("Nivå")),
        ],
        [
            [
                r.company,
                r.user or _("Hele bedriften"),
                period_label(r.period, r.first),
                r.amount,
                r.used,
                r.ratio,
                str(LEVEL_LABELS[r.level]),
            ]
            for r in report.rows
        ],
        row_classes=[{"over": "danger", "warn": "warning"}.get(r.level, "") for r in report.rows],
        note=_("Høyest andel først."),
    )
    return Content(
        fig,
        [summary, detail],
        notes=[
            _(
                "Forbruk er summen eks. mva. av ordrene i bruksgrensens periode (måned, kvartal eller år) som "
                "inneholder %(day)s, lagt inn av brukeren bruksgrensen gjelder (eller av hele bedriften); kansellerte "
                "og avviste ordrer telles ikke. Nær grensen: minst 80 %% brukt.",
                day=format_date(report.day),
            ),
        ],
    )
