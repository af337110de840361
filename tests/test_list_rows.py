"""A list page's rows written in Python (app/views/list_rows.py) give the markup of the template loop
they replace: the same cells, links and escaping."""

from __future__ import annotations

import re
from pathlib import Path

from flask import Flask
from markupsafe import Markup

from app.views.list_rows import list_rows

TEMPLATE = Path(__file__).resolve().parent.parent / "app/templates/appbuilder/general/widgets/portal_list.html"


def _template_loop() -> str:
    """portal_list.html's own Jinja loop (the branch kept for rows with a delete button), read from the
    template: so the comparison is with what the page would render, not with a copy."""
    source = TEMPLATE.read_text(encoding="utf-8")
    block = source[source.index("{% block begin_loop_values %}") :]
    loop = block[block.index("{% else %}") + len("{% else %}") : block.rindex("{% endif %}")]
    assert "{% for item in value_columns %}" in loop
    return loop


ROWS = [
    {"number": "100001", "ref": "<b>Kari & Co</b>", "sum": 1234, "link": Markup('<a href="/x">Sporing</a>')},
    {"number": "100002", "ref": None, "sum": 0, "link": Markup("")},
    {"number": "100003", "ref": "a \"quoted\" 'ref'", "sum": -5, "link": Markup("<i>ok</i>")},
]
PKS = [17, "a b/c", 3]
COLUMNS = ["number", "ref", "sum", "link"]
FORMATTERS = {"sum": lambda v: f"{v} kr"}


def _squeeze(html: str) -> str:
    return re.sub(r">\s+<", "><", re.sub(r"\s+", " ", html)).strip()


def _jinja(app: Flask, actions: bool, show: str | None, edit: str | None) -> str:
    template = app.jinja_env.from_string(_template_loop())
    return template.render(
        crud=bool(show or edit),
        can_delete=False,
        value_columns=ROWS,
        pks=PKS,
        include_columns=COLUMNS,
        formatters_columns=FORMATTERS,
        actions={"x": 1} if actions else {},
        show_href=show,
        edit_href=edit,
        show_title="Vis <rad>",
        show_label="Vis",
        edit_title="Endre",
        edit_label="Endre & lagre",
    )


def _python(actions: bool, show: str | None, edit: str | None) -> str:
    buttons = []
    if show:
        buttons.append((show, "Vis <rad>", "Vis", "fa-search"))
    if edit:
        buttons.append((edit, "Endre", "Endre & lagre", "fa-edit"))
    return str(list_rows(ROWS, PKS, COLUMNS, FORMATTERS, actions, buttons))


def test_rows_match_the_template_loop(app: Flask) -> None:
    for actions in (False, True):
        for show, edit in ((None, None), ("/o/show/__pk__?_flt=1&x=<y>", None), ("/s/__pk__", "/e/__pk__")):
            expected = _squeeze(_jinja(app, actions, show, edit))
            assert _squeeze(_python(actions, show, edit)) == expected, (actions, show)


def test_text_is_escaped_and_markup_kept() -> None:
    html = _python(True, "/s/__pk__", None)
    assert "&lt;b&gt;Kari &amp; Co&lt;/b&gt;" in html and "<b>Kari" not in html
    assert '<a href="/x">Sporing</a>' in html
    assert 'href="/s/a%20b/c"' in html  # the key in the link is URL-encoded
    assert html.count("<tr>") == 3
