"""Our copies of FAB templates in app/templates/appbuilder win over FAB's, and stay FAB's copies.

Flask's loader searches the app's templates folder before blueprint folders, so
app/templates/appbuilder/init.html replaces FAB's appbuilder/init.html everywhere (baselayout.html
extends it), and general/confirm.html replaces the dialog every FAB page includes.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path

import flask_appbuilder
import pytest
from flask import Flask
from flask.templating import DispatchingJinjaLoader
from flask.testing import FlaskClient

from tests.helpers import login

ROOT = Path(__file__).resolve().parent.parent
OURS = ROOT / "app" / "templates" / "appbuilder"
FABS = Path(flask_appbuilder.__file__).parent / "templates" / "appbuilder"

# Our override -> the only lines it may change in FAB's template (FAB's line, our line).
OVERRIDES = {
    "init.html": [
        ("<html>", '<html lang="{{ html_lang }}">'),
        (None, "<link href=\"{{url_for('static',filename='css/portal.css')}}\" rel=\"stylesheet\">"),
        (
            None,
            "<script src=\"{{url_for('static',filename='js/navbar.js')}}\" nonce=\"{{baselib.get_nonce()}}\"></script>",
        ),
    ],
    "general/confirm.html": [
        (
            '<button type="button" class="btn btn-default" data-dismiss="modal">Cancel</button>',
            '<button type="button" class="btn btn-default" data-dismiss="modal">{{ _(\'Avbryt\') }}</button>',
        ),
    ],
}
CONFIRM_CANCEL = re.compile(
    r'<div class="modal fade" id="modal-confirm".*?data-dismiss="modal">([^<]*)</button>', re.DOTALL
)


def _without_header(source: str) -> str:
    """The template without the leading {# ... #} comment that says why it is overridden."""
    return re.sub(r"\A\{#.*?#\}\n", "", source, count=1, flags=re.DOTALL)


def _cancel_label(body: str) -> str:
    match = CONFIRM_CANCEL.search(body)
    assert match, "the confirm dialog is missing from the page"
    return match.group(1).strip()


def _switch(client: FlaskClient, locale: str) -> None:
    assert client.get(f"/lang/{locale}").status_code == 302


@pytest.mark.parametrize("name", sorted(OVERRIDES))
def test_override_is_the_template_flask_loads(app: Flask, name: str) -> None:
    loader = app.jinja_env.loader
    assert isinstance(loader, DispatchingJinjaLoader), "templates must load unpatched through Flask's loader"
    source, filename, _uptodate = loader.get_source(app.jinja_env, f"appbuilder/{name}")
    assert Path(filename).resolve() == (OURS / name).resolve()
    assert source == (OURS / name).read_text(encoding="utf-8")


@pytest.mark.parametrize("name", sorted(OVERRIDES))
def test_override_changes_only_what_it_must(name: str) -> None:
    """After a FAB upgrade this fails if FAB's template changed: copy it again, re-apply the change."""
    fab_lines = (FABS / name).read_text(encoding="utf-8").splitlines()
    our_lines = _without_header((OURS / name).read_text(encoding="utf-8")).splitlines()
    removed, added = [], []
    for line in difflib.ndiff(fab_lines, our_lines):
        if line.startswith("- "):
            removed.append(line[2:].strip())
        elif line.startswith("+ "):
            added.append(line[2:].strip())
    expected = OVERRIDES[name]
    assert (removed, added) == ([old for old, _new in expected if old is not None], [new for _old, new in expected])


def test_login_page_language_follows_locale(client: FlaskClient) -> None:
    body = client.get("/login/").get_data(as_text=True)
    assert '<html lang="nb">' in body and "<html>" not in body
    assert _cancel_label(body) == "Avbryt"
    _switch(client, "en")
    body = client.get("/login/").get_data(as_text=True)
    assert '<html lang="en">' in body
    assert _cancel_label(body) == "Cancel"
    _switch(client, "nb")
    body = client.get("/login/").get_data(as_text=True)
    assert '<html lang="nb">' in body and _cancel_label(body) == "Avbryt"


def test_stale_session_locale_renders_bokmaal(client: FlaskClient) -> None:
    with client.session_transaction() as sess:
        sess["locale"] = "de"
    body = client.get("/login/").get_data(as_text=True)
    assert '<html lang="nb">' in body and _cancel_label(body) == "Avbryt"


def test_logged_in_page_uses_overrides(client: FlaskClient, world) -> None:  # noqa: ANN001
    login(client, "hansen.bruker")
    response = client.get("/", follow_redirects=True)
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert '<html lang="nb">' in body and _cancel_label(body) == "Avbryt"
    _switch(client, "en")
    body = client.get("/", follow_redirects=True).get_data(as_text=True)
    assert '<html lang="en">' in body and _cancel_label(body) == "Cancel"
