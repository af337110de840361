"""Parts of a page that depend on few things, rendered once per those things and reused.

- The navbar's menu depends only on the user's grants (roles and their permissions, read on every
  request), the side (supplier staff or customer) and the language.
- A list's search form ("Legg til filter") depends on the view, the language and the choices its
  select filters offer (read on every request), never on the rows or the active filters, which the
  page's script fills in.

The key holds everything the output is made from, so a changed role, permission, colleague or
language gives a new key on the next request: nothing is kept longer than its inputs. Rendering
these was about a third of a list page's time.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

from flask import current_app, g, render_template
from flask_appbuilder._compat import as_unicode
from flask_appbuilder.fields import QuerySelectField, QuerySelectMultipleField
from flask_appbuilder.widgets import SearchWidget
from flask_babel import get_locale
from jinja2.utils import htmlsafe_json_dumps
from markupsafe import Markup

from app.tenancy import current_tenant

MAX_ENTRIES = 256  # per process; a worker serves few role sets, languages and companies


class FragmentCache:
    """A bounded map of key -> rendered text; when full it starts over (cheap, and rare)."""

    def __init__(self, limit: int = MAX_ENTRIES) -> None:
        self.limit = limit
        self._items: dict[Hashable, Any] = {}

    def get(self, key: Hashable) -> Any:
        return self._items.get(key)

    def put(self, key: Hashable, value: Any) -> Any:
        if len(self._items) >= self.limit:
            self._items.clear()
        self._items[key] = value
        return value

    def clear(self) -> None:
        self._items.clear()


MENUS = FragmentCache()
SEARCH_FORMS = FragmentCache()
USER_CHOICES = FragmentCache()


def _language() -> str:
    return str(get_locale() or current_app.config["BABEL_DEFAULT_LOCALE"])


# --- the navbar's menu -----------------------------------------------------------------------


def _menu_key() -> Hashable | None:
    user = g.get("user")
    if user is None or not getattr(user, "is_authenticated", False):
        return None  # the public menu asks other questions (FAB's public role); rendered each time
    builtin, pairs = current_app.appbuilder.sm.request_grants(user)  # type: ignore[attr-defined]
    # The side decides the "Kunder" / "Min side" items (app/registry.py's menu_cond).
    supplier_side = current_tenant() is None
    return (_language(), supplier_side, tuple(sorted(r.name for r in builtin)), pairs)


def navbar_menu() -> Markup:
    """The menu items of the navbar (appbuilder/navbar_menu.html)."""
    key = _menu_key()
    found = MENUS.get(key) if key is not None else None
    if found is None:
        found = Markup(render_template("portal/navbar_menu_items.html", menu=current_app.appbuilder.menu))  # type: ignore[attr-defined]
        if key is not None:
            MENUS.put(key, found)
    return found


# --- what a page offers of users ---------------------------------------------------------------


def kept_while_users_unchanged(key: Hashable, read: Callable[[], list[Any]]) -> list[Any]:
    """What `read` takes from the users (immutable values, never ORM objects), kept by the process
    while the users' version read with this request's user stands (SecurityVersion.users_n: a user
    added, removed, renamed, moved or (de)activated moves it on); without a version, read each time.
    The key must hold everything the read depends on, such as the tenant."""
    version = g.get("_portal_users_version")
    if version is None:
        return read()
    found = USER_CHOICES.get((version, key))
    if found is None:
        found = USER_CHOICES.put((version, key), read())
    return found


# --- a list's search form --------------------------------------------------------------------


def _choices(field: Any) -> tuple[tuple[str, str], ...]:
    return tuple((str(value), str(label)) for value, label, *_ in field.iter_choices())


class PortalSearchWidget(SearchWidget):
    """FAB's search widget with its labels, field markup and filter names rendered once per view,
    language and choices (FAB renders every field of the form on every list request)."""

    template = "appbuilder/general/widgets/portal_search.html"

    def __call__(self, **kwargs: Any) -> Any:
        form = self.template_args["form"]
        columns = tuple(self.template_args["include_cols"])
        choices = tuple(
            _choices(form[col]) if isinstance(form[col], QuerySelectField | QuerySelectMultipleField) else ()
            for col in columns
        )
        key = (self.template_args.get("route_base"), _language(), columns, choices)
        parts = SEARCH_FORMS.get(key)
        if parts is None:
            dict_filters = self.filters.get_search_filters()
            labels = {col: as_unicode(form[col].label.text) for col in columns}
            fields = {col: str(form[col]()) for col in columns}
            names = {col: [as_unicode(flt.name) for flt in dict_filters[col]] for col in columns}
            parts = SEARCH_FORMS.put(
                key,
                {
                    "label_columns": labels,
                    "label_columns_json": _json(labels),
                    "form_fields_json": _json(fields),
                    "search_filters_json": _json(names),
                },
            )
        kwargs.update(parts)
        kwargs["active_filters_json"] = _json(self.filters.get_filters_values_tojson())
        return super(SearchWidget, self).__call__(**kwargs)


def _json(value: Any) -> Markup:
    """As the template's `tojson` writes it (Flask's JSON, HTML-unsafe characters escaped)."""
    return htmlsafe_json_dumps(value, dumps=current_app.json.dumps)
