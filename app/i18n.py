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
- `html_lang` for `<html lang="...">`. FAB hard-codes a bare `<html>` and an English "Cancel" in
  its confirm dialog, so app/templates/appbuilder/init.html and general/confirm.html override
  those two FAB templates (Flask searches the app's templates before FAB's blueprint templates).
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask, current_app, has_request_context, session
from flask_babel import get_babel, get_locale


def supported_locale(value: str | None) -> str | None:
    """`value` if it is one of the configured LANGUAGES, else None."""
    return value if value and value in current_app.config["LANGUAGES"] else None


def _guarded_selector(fab_selector: Callable[[], str | None] | None) -> Callable[[], str]:
    def select_locale() -> str:
        default: str = current_app.config["BABEL_DEFAULT_LOCALE"]
        if has_request_context() and "locale" in session and not supported_locale(session["locale"]):
            session["locale"] = default  # FAB would keep using it, and re-save it, forever
        chosen = fab_selector() if fab_selector is not None else None
        return supported_locale(chosen) or default

    return select_locale


def init_i18n(app: Flask) -> None:
    """Call once in create_app, after `appbuilder.init_app` (FAB creates the Babel instance there)."""
    babel = get_babel(app)
    babel.locale_selector = _guarded_selector(babel.locale_selector)

    @app.context_processor
    def _i18n_context() -> dict[str, str]:
        # Resolving here also stores session["locale"] for FAB's navbar before it is rendered.
        locale = get_locale()
        return {"html_lang": str(locale) if locale else app.config["BABEL_DEFAULT_LOCALE"]}
