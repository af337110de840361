"""A page of list rows as HTML, written in Python with the markup of portal_list.html's loop.

Jinja's cost per cell (a context lookup, a filter call, an escape and a join for each of 25 × 9
cells) was the largest part of a list page's render. Values are escaped exactly as the template
escapes them (`markupsafe.escape`: Markup passes through, None reads "None").
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from jinja2.filters import do_urlencode
from markupsafe import Markup, escape

_CHECKBOX = '<td><input id="{pk}" class="action_check" name="rowid" value="{pk}" type="checkbox"></td>'
_BUTTON = (
    '<a href="{href}" class="btn btn-sm btn-default" data-toggle="tooltip" rel="tooltip" title="{title}">'
    '<span class="sr-only">{label}</span><i class="fa {icon}"></i></a>'
)


def list_rows(
    value_columns: Sequence[Mapping[str, Any]],
    pks: Sequence[Any],
    include_columns: Sequence[str],
    formatters_columns: Mapping[str, Callable[[Any], Any]],
    with_checkbox: bool,
    buttons: Sequence[tuple[str, str, str, str]],
) -> Markup:
    """`buttons`: (href with `__pk__`, title, label, icon) per row button; none: no button cell."""
    cells = [(col, formatters_columns.get(col)) for col in include_columns]
    buttons = [(href, escape(title), escape(label), icon) for href, title, label, icon in buttons]
    out: list[str] = []
    for pk, item in zip(pks, value_columns, strict=False):
        out.append("<tr>")
        if with_checkbox:
            out.append(_CHECKBOX.format(pk=escape(pk)))
        if buttons:
            part = str(do_urlencode(str(pk)))
            out.append('<td><center><div class="btn-group btn-group-xs" style="display: flex;">')
            for href, title, label, icon in buttons:
                out.append(
                    _BUTTON.format(href=escape(href.replace("__pk__", part)), title=title, label=label, icon=icon)
                )
            out.append("</div></center></td>")
        for col, formatter in cells:
            value = item[col]
            out.append(f"<td>{escape(formatter(value) if formatter else value)}</td>")
        out.append("</tr>\n")
    return Markup("".join(out))
