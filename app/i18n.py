"""Language glue on top of Flask-AppBuilder's Babel setup: bokmål by default, English on request.

FAB (babel/manager.py) already does the heavy lifting: it creates the Flask-Babel instance, prepends
its own translations folder to BABEL_TRANSLATION_DIRECTORIES (ours comes last, so for a msgid in
both, ours wins when Flask-Babel merges them) and selects the locale from `session["locale"]`, set
by its /lang/<locale> view and defaulting to BABEL_DEFAULT_LOCALE ("nb"). Accept-Language is not
consulted, so a new visitor always gets bokmål. Catalogues: app/translations, see scripts/i18n.sh.

`init_i18n(app)` adds what FAB lacks:
- only configured LANGUAGES are ever selected (a stale or foreign `session["locale"]` falls back
  to the default instead of silently rendering with no catalogue);
- the locale is resolved before a template renders, so FAB's navbar flag menu (which reads
  `session["locale"]` and otherwise assumes "en") shows the right language from the first page;
- `<html lang="...">` and a translatable "Cancel" in FAB's confirm dialog, by a tiny
  source patch of those two FAB templates (FAB hard-codes both).
"""
from __future__ import annotations

from typing import Callable, Iterable, Optional

from flask import Flask, current_app, has_request_context, session
from flask_babel import get_babel, get_locale, lazy_gettext
from jinja2 import BaseLoader, Environment

# Strings used only inside the patched FAB templates below, listed here so `pybabel extract`
# puts them into messages.pot (and so into the English catalogue).
TEMPLATE_STRINGS = (lazy_gettext("Avbryt"),)

# template name -> (old, new) replacements applied to the template source once at load time.
FAB_TEMPLATE_PATCHES: dict[str, tuple[tuple[str, str], ...]] = {
    "appbuilder/init.html": (("<html>", '<html lang="{{ html_lang }}">'),),
    "appbuilder/general/confirm.html": (
        ('data-dismiss="modal">Cancel</button>', "data-dismiss=\"modal\">{{ _('Avbryt') }}</button>"),
    ),
}


def supported_locale(value: Optional[str]) -> Optional[str]:
    """`value` if it is one of the configured LANGUAGES, else None."""
    return value if value and value in current_app.config["LANGUAGES"] else None


def _guarded_selector(fab_selector: Optional[Callable[[], Optional[str]]]) -> Callable[[], str]:
    def select_locale() -> str:
        default: str = current_app.config["BABEL_DEFAULT_LOCALE"]
        if has_request_context() and "locale" in session and not supported_locale(session["locale"]):
            session["locale"] = default  # FAB would keep using it, and re-save it, forever
        chosen = fab_selector() if fab_selector is not None else None
        return supported_locale(chosen) or default

    return select_locale


class _PatchingLoader(BaseLoader):
    """Delegates to Flask's loader and applies FAB_TEMPLATE_PATCHES to the named templates.

    Works on whatever source wins the lookup, so an override in app/templates is patched too (a
    replacement that no longer matches is simply a no-op)."""

    def __init__(self, inner: BaseLoader, patches: dict[str, tuple[tuple[str, str], ...]]) -> None:
        self.inner = inner
        self.patches = patches

    def get_source(self, environment: Environment, template: str):  # type: ignore[no-untyped-def]
        source, filename, uptodate = self.inner.get_source(environment, template)
        for old, new in self.patches.get(template, ()):
            source = source.replace(old, new, 1)
        return source, filename, uptodate

    def list_templates(self) -> Iterable[str]:  # type: ignore[override]
        return self.inner.list_templates()


def init_i18n(app: Flask) -> None:
    """Call once in create_app, after `appbuilder.init_app` (FAB creates the Babel instance there)."""
    babel = get_babel(app)
    babel.locale_selector = _guarded_selector(babel.locale_selector)

    @app.context_processor
    def _i18n_context() -> dict[str, str]:
        # Resolving here also stores session["locale"] for FAB's navbar before it is rendered.
        locale = get_locale()
        return {"html_lang": str(locale) if locale else app.config["BABEL_DEFAULT_LOCALE"]}

    if not isinstance(app.jinja_env.loader, _PatchingLoader):
        app.jinja_env.loader = _PatchingLoader(app.jinja_env.loader, FAB_TEMPLATE_PATCHES)  # type: ignore[arg-type]
