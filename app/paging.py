"""Lists that stay fast at a million rows: a bounded row count and pages through a deferred join.

* The count stops at COUNT_BOUND: `SELECT count(*) FROM (SELECT ... LIMIT 10001)` reads at most
  10 001 index entries, where an exact count would read every matching row on every page. Below
  the bound it is exact; above it the list says "over 10 000" and the API's `count` is 10 001.
  Small lists (a customer's) therefore keep their exact count, through the same code.
* A page is read in two steps inside one statement: the page's primary keys (filters, sort and
  OFFSET over an index-only scan where an index covers them), then the rows, joined to those keys.
  OFFSET then skips index entries, not whole rows with their joined relations.
* When the count is not exact, one key more than the page is read, so the page knows whether a next
  page exists (the page links end there; there is no "last page" to link to).

Used by the HTML lists (app/views/base.py) and the REST lists (app/api/base.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask_appbuilder.models.sqla.filters import SQLAFilterConverter
from flask_appbuilder.models.sqla.interface import SQLAInterface
from sqlalchemy import func, select

COUNT_BOUND = 10_000
# The highest page index a list serves (0-based): OFFSET stays far inside every database's range.
MAX_PAGE = 10_000_000


class BoundedCount(int):
    """A row count that is exact up to COUNT_BOUND; beyond it the value is COUNT_BOUND + 1."""

    exact: bool
    has_next: bool | None  # set by a page read: is there a row after this page? None: not known

    def __new__(cls, value: int, bound: int | None = None) -> BoundedCount:
        bound = COUNT_BOUND if bound is None else bound
        self = super().__new__(cls, min(int(value), bound + 1))
        self.exact = int(value) <= bound
        self.has_next = None
        return self


def bounded_count(query: Any, bound: int | None = None) -> BoundedCount:
    """The rows of an ORM query, counted up to `bound` (COUNT_BOUND; see the module docstring)."""
    bound = COUNT_BOUND if bound is None else bound
    return BoundedCount(query.order_by(None).limit(bound + 1).count(), bound)


def bounded_count_of(session: Any, statement: Any, bound: int | None = None) -> BoundedCount:
    """The rows of a `select()`, counted up to `bound`: the same count for 2.0-style statements."""
    from sqlalchemy import func, select

    bound = COUNT_BOUND if bound is None else bound
    limited = statement.order_by(None).limit(bound + 1).subquery()
    return BoundedCount(session.scalar(select(func.count()).select_from(limited)) or 0, bound)


def count_text(count: int) -> str:
    """ "1 234", or "over 10 000" when the count stopped at its bound (Norwegian digit grouping)."""
    from flask_babel import gettext

    if isinstance(count, BoundedCount) and not count.exact:
        return gettext("over %(count)s", count=_grouped(int(count) - 1))
    return _grouped(int(count))


def _grouped(number: int) -> str:
    return f"{number:,}".replace(",", "\u00a0")


class OnceFilterConverter(SQLAFilterConverter):
    """FAB's converter, building a column's filters once per interface: FAB makes a new `Filters`
    (every column's filters) several times per list request. Filters hold no request state; the
    list is copied because FAB extends it in place with a view's extra filters."""

    def convert(self, col_name: str) -> Any:
        made: dict[str, Any] = self.datamodel.__dict__.setdefault("_portal_filters", {})
        if col_name not in made:
            made[col_name] = super().convert(col_name)
        found = made[col_name]
        return list(found) if found is not None else None


class _Page(list[Any]):
    """A page's rows, and whether a row follows them."""

    has_next: bool | None = None


class PagedInterface(SQLAInterface):
    """SQLAInterface whose `query` counts with a bound and reads pages through a deferred join.

    `list_options` (loader options such as joinedload) are added to the row query only.
    """

    filter_converter_class = OnceFilterConverter
    list_options: tuple[Any, ...] = ()
    # name -> a (correlated) SQL expression read with the page's rows and set on each row's object.
    extra_list_columns: dict[str, Any] = {}  # noqa: RUF012  # replaced per instance, never mutated

    def query_count(self, query: Any, filters: Any = None, select_columns: Any = None) -> BoundedCount:
        # The filters alone: joins FAB would add for the selected columns change no count.
        inner = self._apply_inner_all(query, filters, aliases_mapping={})
        return bounded_count(inner)

    def query(
        self,
        filters=None,
        order_column="",
        order_direction="",
        page=None,
        page_size=None,
        select_columns=None,
        outer_default_load=False,
    ):
        inner = self._apply_inner_all(self.session.query(self.obj), filters, aliases_mapping={})
        if select_columns and self._related_loads(tuple(select_columns)) is None:
            count = bounded_count(inner)  # FAB's own path for to-many columns: counted on its own
            items = self.page_rows(
                count, filters, order_column, order_direction, page, page_size, select_columns, outer_default_load
            )
            return count, items
        # The bounded count rides along as a column of the page's row statement (one statement, not
        # two); only a page without rows has to count on its own.
        total = select(func.count()).select_from(inner.order_by(None).limit(COUNT_BOUND + 1).subquery())
        counted: list[int] = []
        items = self.page_rows(
            None,
            filters,
            order_column,
            order_direction,
            page,
            page_size,
            select_columns,
            outer_default_load,
            total=(total.scalar_subquery(), counted),
        )
        count = BoundedCount(counted[0]) if counted else bounded_count(inner)
        count.has_next = getattr(items, "has_next", None)
        return count, list(items)

    def page_rows(
        self,
        count: BoundedCount | None,
        filters: Any,
        order_column: str,
        order_direction: str,
        page: int | None,
        page_size: int | None,
        select_columns: Any = None,
        outer_default_load: bool = False,
        total: tuple[Any, list[int]] | None = None,
    ) -> list[Any]:
        """The rows of one page; sets `count.has_next` when the count is not exact. With `total`
        (a count expression and a list to put its value in) there is no count yet: one key more than
        the page is read, and the returned list carries `has_next`."""
        wanted = page_size + 1 if page_size and (count is None or not count.exact) else page_size
        pk = self.get_pk()
        keys = self._apply_inner_all(
            self.session.query(self.obj), filters, order_column, order_direction, aliases_mapping={}
        )
        if page and page_size:
            keys = keys.offset(page * page_size)
        if wanted:
            keys = keys.limit(wanted)
        keys = keys.with_entities(pk).subquery("page_keys")
        rows_query = self.session.query(self.obj).join(keys, pk == keys.c[self.get_pk_name()])
        related = self._related_loads(tuple(select_columns)) if select_columns else None
        if related is not None:
            select_columns = None  # the rows whole, their many-to-one relations joined in the same statement
        rows_query = self.apply_all(
            rows_query, None, order_column, order_direction, None, None, select_columns, outer_default_load
        )
        if self.list_options:
            rows_query = rows_query.options(*self.list_options)
        if related:
            rows_query = rows_query.options(*related)
        extra = self.extra_list_columns
        if extra:
            rows_query = rows_query.add_columns(*(expr.label(name) for name, expr in extra.items()))
        if total is not None:
            rows_query = rows_query.add_columns(total[0].label("portal_total"))
        results = rows_query.all()
        items = [getattr(r, self.obj.__name__) if hasattr(r, self.obj.__name__) else r for r in results]
        if extra:
            for row, item in zip(results, items, strict=True):
                for name in extra:
                    setattr(item, name, getattr(row, name))
        if total is not None:
            if results:
                total[1].append(int(results[0].portal_total))
            page_items = _Page(items[:page_size] if page_size else items)
            page_items.has_next = len(items) > page_size if page_size else False
            return page_items
        if wanted != page_size and count is not None:
            count.has_next = len(items) > (page_size or 0)
            items = items[:page_size]
        return items

    def _related_loads(self, columns: tuple[str, ...]) -> tuple[Any, ...] | None:
        """A REST list's dotted columns ("company.name") as joinedload options, made once per column
        set; None if one reaches a to-many relation (FAB's own path then). FAB would build aliased
        joins with a column list on every request: most of a REST page's time, for the same rows."""
        made: dict[tuple[str, ...], tuple[Any, ...] | None] = self.__dict__.setdefault("_portal_related_loads", {})
        if columns not in made:
            from sqlalchemy.orm import joinedload

            roots = list(dict.fromkeys(c.split(".", 1)[0] for c in columns if "." in c))
            if all(self.is_relation_many_to_one(root) for root in roots):
                made[columns] = tuple(joinedload(getattr(self.obj, root)) for root in roots)
            else:
                made[columns] = None
        return made[columns]


def page_arg_error(page: Any, page_size: Any, max_page_size: int) -> dict[str, Any]:
    """A REST list's `page` / `page_size` (None: not given) -> {name: Norwegian message}, empty if fine.

    Whole numbers only (not true/false), page 0..MAX_PAGE, page_size 1..max_page_size: a negative
    OFFSET or one beyond 64 bits would be a database error, and a page size FAB would silently
    change to its maximum is refused, so a client learns the bound."""
    from flask_babel import lazy_gettext as _

    errors: dict[str, Any] = {}
    if page is not None and (type(page) is not int or not 0 <= page <= MAX_PAGE):
        errors["page"] = _("Sidetallet må være et heltall fra 0 til %(max)s.", max=MAX_PAGE)
    if page_size is not None and (type(page_size) is not int or not 1 <= page_size <= max_page_size):
        errors["page_size"] = _("Sidestørrelsen må være et heltall fra 1 til %(max)s.", max=max_page_size)
    return errors


@dataclass(frozen=True)
class PageLinks:
    """What a list's pagination shows: the window of page numbers (0-based) around the current
    page, and the first/previous/next/last targets (None: no such link)."""

    page: int
    window: range
    previous: int | None
    next: int | None
    last: int | None  # unknown when the count stopped at its bound

    @property
    def first(self) -> int | None:
        return 0 if self.window.start > 0 else None


def page_links(page: int | None, page_size: int, count: int, has_next: bool | None = None, span: int = 3) -> PageLinks:
    """FAB's seven-page window, for an exact count or one that stopped at its bound.

    With a bounded count the pages known are those the count covers, and, beyond them, the current
    one and the next when the page read found a row after it."""
    page = max(page or 0, 0)
    exact = not isinstance(count, BoundedCount) or count.exact
    pages = -(-int(count) // page_size) if page_size else 1
    if not exact:
        pages = max(pages, page + 1 + (1 if has_next else 0))
    low, high = page - span, page + span + 1
    if low < 0:
        high -= low
    if exact and high > pages:
        low -= high - pages
    low, high = max(low, 0), min(high, pages)
    following = page + 1 if page + 1 < pages else None
    return PageLinks(
        page=page,
        window=range(low, high),
        previous=page - 1 if page > 0 else None,
        next=following,
        last=pages - 1 if exact and high < pages else None,
    )


_PAGED_CLASSES: dict[type, type] = {}


def paged(datamodel: SQLAInterface) -> PagedInterface:
    """The same interface (and model, session, overrides) with PagedInterface's count and pages."""
    if isinstance(datamodel, PagedInterface):
        return datamodel
    cls = type(datamodel)
    klass = _PAGED_CLASSES.setdefault(cls, type(f"Paged{cls.__name__}", (PagedInterface, cls), {}))
    return klass(datamodel.obj, datamodel._session)


COUNT_DESCRIPTION = (
    f"Matching rows: exact up to {COUNT_BOUND}; beyond that the count stops and is {COUNT_BOUND + 1}, "
    f'meaning "more than {COUNT_BOUND}" (then `count_exact` is false). Pages go on beyond it.'
)
