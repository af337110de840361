"""Language: bokmål by default (FAB's own texts too), English via /lang/en, and complete catalogues.

Catalogues: app/translations/nb translates FAB's English msgids into bokmål; app/translations/en
translates our Norwegian msgids into English. Both are checked against a fresh extraction, so a
new string without a translation fails here (fix: scripts/i18n.sh all, translate, compile).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from pathlib import Path

import flask_appbuilder
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from babel.support import Translations
from flask import Flask
from flask.testing import FlaskClient

from tests.helpers import login

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "app" / "translations"
# Same keywords as scripts/i18n.sh (pybabel adds its defaults to the -k ones).
KEYWORDS = {**DEFAULT_KEYWORDS, "lazy_gettext": None, "_l": None, "lazy_ngettext": (1, 2)}
FIX = "run scripts/i18n.sh all, translate the new msgids, then scripts/i18n.sh compile"


def page_text(client: FlaskClient, url: str) -> str:
    """Visible text and attribute values of a page, entities decoded, whitespace collapsed."""
    response = client.get(url)
    assert response.status_code == 200, f"{url} answered {response.status_code}"
    raw = response.get_data(as_text=True)
    raw = re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), raw)  # tojson'ed labels
    return re.sub(r"\s+", " ", html.unescape(raw))


def switch(client: FlaskClient, locale: str) -> None:
    response = client.get(f"/lang/{locale}")
    assert response.status_code == 302
    with client.session_transaction() as sess:
        assert sess["locale"] == locale


# --- Locale selection --------------------------------------------------------------------------


def test_new_visitor_gets_norwegian_login_page(client: FlaskClient) -> None:
    text = page_text(client, "/login/")
    for expected in ("Logg inn", "Brukernavn", "Passord", "Skriv inn brukernavn og passord"):
        assert expected in text
    for english in ("Sign In", "Username", "Password", "Enter your login"):
        assert english not in text
    with client.session_transaction() as sess:
        assert sess["locale"] == "nb"


def test_accept_language_does_not_override_default(client: FlaskClient) -> None:
    response = client.get("/login/", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert "Logg inn" in response.get_data(as_text=True)


def test_language_menu_switches_to_english_and_back(client: FlaskClient) -> None:
    assert 'href="/lang/en"' in client.get("/login/").get_data(as_text=True)  # menu offers English
    switch(client, "en")
    text = page_text(client, "/login/")
    for expected in ("Sign In", "Username", "Password", "Enter your login and password below"):
        assert expected in text
    assert "Logg inn" not in text and "Brukernavn" not in text
    assert 'href="/lang/nb"' in client.get("/login/").get_data(as_text=True)
    switch(client, "nb")
    assert "Brukernavn" in page_text(client, "/login/")


def test_unknown_locale_is_refused_and_stale_locale_falls_back(client: FlaskClient) -> None:
    assert client.get("/lang/de").status_code == 404
    with client.session_transaction() as sess:
        sess["locale"] = "de"  # e.g. a cookie from before LANGUAGES changed
    text = page_text(client, "/login/")
    assert "Brukernavn" in text, "an unsupported session locale must fall back to bokmål"
    with client.session_transaction() as sess:
        assert sess["locale"] == "nb"


def test_failed_login_message_is_norwegian(client: FlaskClient, world) -> None:  # noqa: ANN001
    response = client.post("/login/", data={"username": "hansen.bruker", "password": "feil"}, follow_redirects=True)
    assert "Feil brukernavn eller passord. Prøv igjen." in html.unescape(response.get_data(as_text=True))


def test_translation_directories_search_fab_first_then_ours(app: Flask) -> None:
    dirs = [Path(d).resolve() for d in app.extensions["babel"].translation_directories]
    fab = (Path(flask_appbuilder.__file__).parent / "translations").resolve()
    assert fab in dirs and dirs[-1] == TRANSLATIONS.resolve(), dirs  # last merged wins
    assert app.config["BABEL_DEFAULT_LOCALE"] == "nb"
    assert list(app.config["LANGUAGES"]) == ["nb", "en"]


# --- Pages the roles use ----------------------------------------------------------------------


def _has_route(app: Flask, path: str) -> bool:
    return any(rule.rule == path for rule in app.url_map.iter_rules())


def test_order_list_in_norwegian_then_english(app: Flask, client: FlaskClient, world) -> None:  # noqa: ANN001
    assert _has_route(app, "/orderview/list/"), "the order list (OrderView) is not registered"
    login(client, "hansen.bruker")
    text = page_text(client, "/orderview/list/")
    for expected in ("Logg ut", "Min profil", "Søk", "Legg til filter", "Antall rader", "Under behandling"):
        assert expected in text, f"{expected!r} missing on the Norwegian order list"
    for english in ("Logout", "Add Filter", "Record Count", "Processing"):
        assert english not in text, f"{english!r} on the Norwegian order list"
    switch(client, "en")
    text = page_text(client, "/orderview/list/")
    for expected in ("Logout", "Profile", "Search", "Add Filter", "Record Count", "Processing"):
        assert expected in text, f"{expected!r} missing on the English order list"
    for norwegian in ("Logg ut", "Legg til filter", "Under behandling"):
        assert norwegian not in text, f"{norwegian!r} on the English order list"


def test_filter_operations_are_norwegian(app: Flask, client: FlaskClient, world) -> None:  # noqa: ANN001
    assert _has_route(app, "/orderview/list/"), "the order list (OrderView) is not registered"
    login(client, "hansen.bruker")
    text = page_text(client, "/orderview/list/")
    assert "Er lik" in text and "Equal to" not in text


# --- Catalogues -------------------------------------------------------------------------------


def _extract(root: Path, method_map: list[tuple[str, str]]) -> set[str]:
    ids: set[str] = set()
    for _filename, _lineno, message, _comments, _context in extract_from_dir(
        str(root), method_map, {}, keywords=KEYWORDS
    ):
        ids.add(message if isinstance(message, str) else message[0])
    return {i for i in ids if i}


def _po(locale: str) -> Catalog:
    with open(TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po", "rb") as fh:
        return read_po(fh)


def _untranslated(catalog: Catalog, msgids: Iterable[str]) -> list[str]:
    bad = []
    for msgid in sorted(msgids):
        message = catalog.get(msgid)
        string = message.string if message is not None else None
        if isinstance(string, (tuple, list)):
            string = string[0] if all(string) else ""
        if message is None or not string or message.fuzzy:
            bad.append(msgid)
    return bad


def _mo_out_of_date(locale: str, catalog: Catalog) -> list[str]:
    with open(TRANSLATIONS / locale / "LC_MESSAGES" / "messages.mo", "rb") as fh:
        mo = Translations(fh)
    return [
        m.id
        for m in catalog
        if m.id and isinstance(m.id, str) and m.string and not m.fuzzy and mo.gettext(m.id) != m.string
    ]


def _fab_ids() -> set[str]:
    return _extract(Path(flask_appbuilder.__file__).parent, [("**.py", "python"), ("**/templates/**.html", "jinja2")])


def test_nb_catalogue_translates_every_fab_string() -> None:
    fab_ids = _fab_ids()
    assert len(fab_ids) > 100, "FAB extraction found almost nothing; check the keywords"
    catalog = _po("nb")
    missing = _untranslated(catalog, fab_ids)
    assert not missing, f"FAB msgids without bokmål ({FIX}): {missing}"
    assert not _mo_out_of_date("nb", catalog), f"nb .mo is older than the .po ({FIX})"


def test_en_catalogue_translates_every_project_string() -> None:
    with open(ROOT / "babel.cfg", encoding="utf-8") as fh:
        method_map, _options = parse_mapping_cfg(fh)
    # Our copies of FAB templates (app/templates/appbuilder) keep FAB's English msgids: the nb
    # catalogue translates those, and English needs no translation.
    kept_fab_ids = _extract(ROOT / "app" / "templates" / "appbuilder", [("**.html", "jinja2")]) & _fab_ids()
    our_ids = _extract(ROOT, method_map) - kept_fab_ids
    assert "Til godkjenning" in our_ids, "extraction via babel.cfg found none of our labels"
    catalog = _po("en")
    missing = _untranslated(catalog, our_ids)
    assert not missing, f"msgids without English ({FIX}): {missing}"
    assert not _mo_out_of_date("en", catalog), f"en .mo is older than the .po ({FIX})"


class _AnyVariables(dict):
    def __missing__(self, key: str) -> str:
        return "x"


def test_template_strings_survive_jinja_formatting() -> None:
    """Jinja's newstyle gettext always does `text % variables`, so a literal "%" in a template
    string must be written "%%" (e.g. "over 80 %% er brukt"), or the page crashes."""
    with open(ROOT / "babel.cfg", encoding="utf-8") as fh:
        method_map, _options = parse_mapping_cfg(fh)
    template_ids = _extract(ROOT, [(p, m) for p, m in method_map if m == "jinja2"])
    english = _po("en")
    broken = []
    for msgid in sorted(template_ids):
        message = english.get(msgid)
        for text in (msgid, message.string if message is not None else ""):
            try:
                text % _AnyVariables()
            except (TypeError, ValueError, KeyError):
                broken.append(text)
    assert not broken, f"write a literal % as %% in templates: {broken}"


def test_translations_keep_placeholders() -> None:
    for locale in ("nb", "en"):
        for message in _po(locale):
            if not message.id or not isinstance(message.id, str) or not message.string:
                continue
            placeholders = sorted(re.findall(r"%\(\w+\)s|%s|%d|\{\w*\}", message.id))
            assert placeholders == sorted(re.findall(r"%\(\w+\)s|%s|%d|\{\w*\}", message.string)), (
                locale,
                message.id,
                message.string,
            )
