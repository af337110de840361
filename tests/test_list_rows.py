"""A list page's rows written in Python (app/views/list_rows.py) give the markup of the template loop
they replace: the same cells, links and escaping."""

from __future__ import annotations

import re

from jinja2 import Environment
from markupsafe import Markup

from app.views.list_rows import list_rows

# portal_list.html's loop for rows without a delete button, as it was written in Jinja.
JINJA_LOOP = """
{% for item in value_columns %}
    {% set pk = pks[loop.index0] %}
    {% set pk_part = pk | string | urlencode %}
    <tr>
        {% if actions %}
        <td>
            <input id="{{pk}}" class="action_check" name="rowid" value="{{pk}}" type="checkbox">
        </td>
        {% endif %}
        {% if show_href or edit_href %}
            <td><center>
            <div class="btn-group btn-group-xs" style="display: flex;">
            {% if show_href %}<a href="{{ show_href.replace('__pk__', pk_part) }}" class="btn btn-sm btn-default" data-toggle="tooltip" rel="tooltip" title="{{ show_title }}"><span class="sr-only">{{ show_label }}</span><i class="fa fa-search"></i></a>{% endif %}
            {% if edit_href %}<a href="{{ edit_href.replace('__pk__', pk_part) }}" class="btn btn-sm btn-default" data-toggle="tooltip" rel="tooltip" title="{{ edit_title }}"><span class="sr-only">{{ edit_label }}</span><i class="fa fa-edit"></i></a>{% endif %}
            </div>
            </center></td>
        {% endif %}
        {% for value in include_columns %}
            {% set formatter = formatters_columns.get(value) %}
            <td>{% if formatter %}{{ formatter(item[value]) }}{% else %}{{ item[value] }}{% endif %}</td>
        {% endfor %}
    </tr>
{% endfor %}
"""

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


def _jinja(actions: bool, show: str | None, edit: str | None) -> str:
    template = Environment(autoescape=True).from_string(JINJA_LOOP)
    return template.render(
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


def test_rows_match_the_template_loop() -> None:
    for actions in (False, True):
        for show, edit in ((None, None), ("/o/show/__pk__?_flt=1&x=<y>", None), ("/s/__pk__", "/e/__pk__")):
            assert _squeeze(_python(actions, show, edit)) == _squeeze(_jinja(actions, show, edit)), (actions, show)


def test_text_is_escaped_and_markup_kept() -> None:
    html = _python(True, "/s/__pk__", None)
    assert "&lt;b&gt;Kari &amp; Co&lt;/b&gt;" in html and "<b>Kari" not in html
    assert '<a href="/x">Sporing</a>' in html
    assert 'href="/s/a%20b/c"' in html  # the key in the link is URL-encoded
    assert html.count("<tr>") == 3
