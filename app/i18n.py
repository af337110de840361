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
  those two FAB templates (Flask searches the app's templates before FAB's blueprint templates);
- the catalogue is looked up once per request, not once per string: a list page translates a few
  hundred strings, and Flask-Babel would resolve the locale and its catalogue for each of them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask, current_app, g, has_request_context, session
from flask_babel import Domain, get_babel, get_locale
from flask_babel import _get_current_context as _babel_context


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


class RequestCachedDomain(Domain):
    """Flask-Babel's domain, keeping the catalogue for the rest of the request (or app context).

    Stored where Flask-Babel itself looks for it (`babel_translations` in its per-context
    namespace), so `flask_babel.refresh()` and `force_locale()` still switch the language in the
    middle of a request: both reset that attribute.
    """

    def get_translations(self) -> Any:
        try:  # one look-up through the `g` proxy instead of three (Flask-Babel's context helper)
            ctx = g._get_current_object().__dict__["_flask_babel"]
        except (RuntimeError, KeyError):
            ctx = _babel_context()
            if ctx is None:
                return super().get_translations()
        cached = getattr(ctx, "babel_translations", None)
        if cached is None:
            cached = super().get_translations()
            ctx.babel_translations = cached
        return cached


def init_i18n(app: Flask) -> None:
    """Call once in create_app, after `appbuilder.init_app` (FAB creates the Babel instance there)."""
    babel = get_babel(app)
    babel.locale_selector = _guarded_selector(babel.locale_selector)
    # Replaces Flask-Babel's default domain (a cached property) before the first request uses it.
    domain = RequestCachedDomain(domain=babel.instance.domain)
    babel.instance.domain_instance = domain
    # Templates' `_()` straight to that domain (Flask-Babel's callables look the domain up each time).
    app.jinja_env.install_gettext_callables(  # type: ignore[attr-defined]  # added by jinja2.ext.i18n
        gettext=lambda s: domain.get_translations().ugettext(s),
        ngettext=lambda s, p, n: domain.get_translations().ungettext(s, p, n),
        pgettext=lambda c, s: domain.get_translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: domain.get_translations().unpgettext(c, s, p, n),
        newstyle=True,
    )

    @app.context_processor
    def _i18n_context() -> dict[str, str]:
        # Resolving here also stores session["locale"] for FAB's navbar before it is rendered.
        locale = get_locale()
        return {"html_lang": str(locale) if locale else app.config["BABEL_DEFAULT_LOCALE"]}
