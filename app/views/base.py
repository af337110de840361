"""The common base of every HTML CRUD view: FAB's ModelView made safe for a multi-tenant portal.

What it adds to `flask_appbuilder.ModelView` (FAB 5.3), and why:

* Routes follow `base_permissions`: a view registers only the routes some role may use (no
  `/delete/` on a view nobody may delete from, no `/action/` routes on a view without actions).
* Rows are loaded through the session, so the tenancy guard (app/tenancy.py) scopes them; a row
  that does not load — another company's, or a pk that is not a number — answers 404 on show,
  edit, delete and on FAB actions (FAB loads action rows itself and would crash on a missing one).
* Request arguments FAB would turn into a 500 are cleaned first: `psize_<View>` / `page_<View>`
  that are not integers are dropped, page sizes are capped at `MAX_PAGE_SIZE`, unknown sort
  columns and non-numeric related-row filters are dropped; a filter value the database refuses
  gives a message instead of an error page.
* Lists load relationship columns eagerly (`PortalInterface(list_options=...)`), so a list page
  runs a fixed number of statements whatever its size (FAB would lazy-load them row by row).
* Lists stay fast at a million rows (app/paging.py): the row count stops at 10 000 ("over
  10 000"), a page reads its keys before its rows, and the page links end where the rows known
  end. Code columns (status, channel) filter by equality on a select, not FAB's ILIKE.
* Related rows in forms are chosen without a `<select>` of a whole table: a company is typed as
  its customer number (`LookupField`), and selects of a company's own rows (delivery addresses,
  users) only offer the rows of the form's company (`form_company_id`).
* Saving flushes inside `pre_add` / `pre_update`, so a refused write (TenantViolation, unique
  constraint, domain error) is shown as a Norwegian message instead of FAB's raw error text.
"""

from __future__ import annotations

import builtins
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from flask import abort, current_app, flash, g, redirect, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_appbuilder import ModelView
from flask_appbuilder.baseviews import expose
from flask_appbuilder.const import FLAMSG_ERR_SEC_ACCESS_DENIED
from flask_appbuilder.exceptions import FABException
from flask_appbuilder.hooks import before_request
from flask_appbuilder.models.sqla.filters import FilterEqual, FilterEqualFunction, FilterNotEqual
from flask_appbuilder.security.decorators import has_access
from flask_appbuilder.urltools import get_order_args, get_page_args, get_page_size_args
from flask_appbuilder.widgets import ListWidget
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from werkzeug.datastructures import ImmutableMultiDict
from wtforms import StringField
from wtforms.validators import StopValidation

from app.domain import labels
from app.domain.formatting import format_date, format_nok, format_oslo_datetime
from app.models import Company
from app.paging import PagedInterface, count_text, page_links
from app.tenancy import TenantViolation, current_tenant
from app.views.fragments import PortalSearchWidget

MAX_PAGE_SIZE = 100
# FAB's text filter numbers on a code column (0 starts with, 1 ends with, 2 contains, 3 equal,
# 4-7 their negations, 8 in, 9 not in) -> the code filters' (0 equal, 1 not equal). 0 and 1 are
# the code filters' own: an old "starts with" link (0) reads as equal, an old "ends with" (1) as not equal.
CODE_FILTER_FROM_TEXT = {2: 0, 3: 0, 4: 1, 5: 1, 6: 1, 7: 1, 8: 0, 9: 1}
_PAGING_ARG = re.compile(r"^(psize|page)_(.+)$")
_ORDER_ARG = re.compile(r"^_oc_(.+)$")
_FILTER_ARG = re.compile(r"^_flt_(\d)_(.+)$")
# ModelView route methods and the permission each needs (FAB: "can_" + method name).
_PERMISSION_ROUTES = ("list", "show", "add", "edit", "delete", "download")


# --- who is asking ---------------------------------------------------------------------------


def is_customer() -> bool:
    """A customer-side request (the user belongs to a company; the guard scopes every read)."""
    return current_tenant() is not None


def is_supplier() -> bool:
    """A logged-in member of the supplier's staff (no company)."""
    return bool(current_user and current_user.is_authenticated) and current_tenant() is None


def user_can(permission: str, view_name: str) -> bool:
    """Whether the current user has `permission` on a registered view (False if it is not registered)."""
    appbuilder = current_app.extensions["appbuilder"]
    if not any(v.__class__.__name__ == view_name for v in appbuilder.baseviews):
        return False
    return bool(appbuilder.sm.has_access(permission, view_name))


def form_company_id() -> int:
    """The company whose rows a form's related selects may offer.

    Customer side: always the user's company. Supplier side: the company of the row being edited,
    or the company the add form was opened for (`_flt_0_company=<id>`, as FAB's related views link
    it); otherwise -1, so a select offers nothing rather than every company's rows.
    """
    tenant = current_tenant()
    if tenant is not None:
        return tenant
    value = g.get("portal_form_company_id")
    return value if isinstance(value, int) else -1


def code_filters(column: str, datamodel: Any) -> builtins.list[Any]:
    """A code column's list filters: equal (first), not equal; both served by a btree index."""
    return [FilterEqual(column, datamodel), FilterNotEqual(column, datamodel)]


def company_scoped(column: str = "company_id") -> list[list[Any]]:
    """`*_form_query_rel_fields` entry: offer only rows of `form_company_id()` (evaluated per request)."""
    return [[column, FilterEqualFunction, form_company_id]]


# --- formatting helpers for formatters_columns / computed columns ---------------------------


def fmt_nok(value: Any) -> str:
    return format_nok(value) if value is not None else ""


def fmt_datetime(value: Any) -> str:
    return format_oslo_datetime(value)


def fmt_date(value: Any) -> str:
    return format_date(value)


def fmt_yes_no(value: Any) -> str:
    return labels.yes_no(value)


def fmt_code(mapping: Mapping[Any, Any]) -> Callable[[Any], str]:
    """Formatter showing a stored code as its Norwegian label (labels.py)."""

    def _format(value: Any) -> str:
        return labels.label(mapping, value)

    return _format


def fmt_roles(roles: Any) -> str:
    return ", ".join(labels.label(labels.ROLE, r.name) for r in (roles or []))


def code_select(label: Any, mapping: Mapping[Any, Any], search: bool = False) -> Any:
    """A select of stored codes shown by their Norwegian labels (forms: select2; search: plain)."""
    from flask_appbuilder.fieldwidgets import Select2Widget
    from wtforms import SelectField

    if search:  # FAB's search widget copies the field's HTML into each filter row
        return SelectField(label, choices=labels.choices(mapping), render_kw={"class": "form-control"})
    return SelectField(label, choices=labels.choices(mapping), widget=Select2Widget())


# --- data access -----------------------------------------------------------------------------


class PortalInterface(PagedInterface):
    """The lists' interface (app/paging.py: bounded count, deferred-join pages) with loader options
    for lists (no N+1) and for loading one row.

    `list_options` are added to the page query only, not to the count query; so are `list_columns`
    (name -> SQL expression), whose values are set on each row's object under that name.
    """

    def __init__(
        self,
        obj: Any,
        session: Any = None,
        list_options: Sequence[Any] = (),
        item_options: Sequence[Any] = (),
        list_columns: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(obj, session)
        self.list_options = tuple(list_options)
        self.item_options = tuple(item_options) or self.list_options
        self.extra_list_columns = dict(list_columns or {})

    def load(self, pk: int, filters: Any = None, options: Sequence[Any] | None = None) -> Any:
        """One row by primary key through the (tenant-scoped) session, or None."""
        query = self.session.query(self.obj).filter(self.get_pk() == pk)
        query = self.apply_filters(query, filters)
        opts = self.item_options if options is None else options
        if opts:
            query = query.options(*opts)
        return query.one_or_none()


# --- form fields -----------------------------------------------------------------------------


class LookupField(StringField):
    """A text input holding a business key (customer number, SKU, username) that names a row.

    Used instead of FAB's related <select>, which would hold every row of a large table. The row
    is looked up through the session when the form validates, so the tenancy guard applies to it
    (a customer can only name its own company's rows). With `supplier_only=True` the field is
    ignored on customer-side requests (the guard takes company_id from the user).
    """

    def __init__(
        self,
        label: Any = None,
        validators: Any = None,
        *,
        model: Any,
        key: str,
        not_found: Any,
        required: bool = True,
        supplier_only: bool = False,
        **kwargs: Any,
    ) -> None:
        from flask_appbuilder.fieldwidgets import BS3TextFieldWidget

        kwargs.setdefault("widget", BS3TextFieldWidget())
        super().__init__(label, validators, **kwargs)
        if required:
            self.flags.required = True  # FAB's form marks it with "*"
        self.model = model
        self.key = key
        self.not_found = not_found
        self.required = required
        self.supplier_only = supplier_only
        self.object: Any = None

    def _value(self) -> str:
        if isinstance(self.data, self.model):
            return str(getattr(self.data, self.key) or "")
        return str(self.data or "")

    def process_data(self, value: Any) -> None:
        if isinstance(value, self.model):
            self.object = value
            self.data = getattr(value, self.key)
        else:
            self.object = None
            self.data = value or ""

    def process_formdata(self, valuelist: list[str]) -> None:
        if valuelist:
            self.data = (valuelist[0] or "").strip()
            self.object = None

    def pre_validate(self, form: Any) -> None:
        if self.supplier_only and is_customer():
            raise StopValidation()
        if isinstance(self.data, self.model):  # set by FAB from a related-view filter
            self.object, self.data = self.data, getattr(self.data, self.key)
            return
        if not self.data:
            self.object = None
            if self.required:
                raise StopValidation(str(_l("Feltet må fylles ut.")))
            raise StopValidation()
        if self.object is not None and str(getattr(self.object, self.key)) == self.data:
            return
        session = current_app.extensions["appbuilder"].session
        column = getattr(self.model, self.key)
        found = session.scalars(select(self.model).where(column == self.data).limit(1)).first()
        if found is None:
            raise StopValidation(str(self.not_found))
        self.object = found

    def populate_obj(self, obj: Any, name: str) -> None:
        if self.supplier_only and is_customer():
            return
        setattr(obj, name, self.object)


def domain_rule(rule: Callable[[Any], Any]) -> Callable[[Any, Any], None]:
    """A WTForms validator from a rule in app/domain/validation.py (the rule lives there, once).

    A blank value is left to DataRequired/Optional; the rule's normalised value is kept.
    """
    from wtforms.validators import ValidationError

    from app.domain.validation import InvalidValue

    def _validate(form: Any, field: Any) -> None:
        if field.data is None or field.data == "":
            return
        try:
            field.data = rule(field.data)
        except InvalidValue as exc:
            raise ValidationError(str(exc.message)) from exc

    return _validate


class FormRefused(Exception):
    """A save the data layer refused; the message is shown to the user (FAB flashes str(exc))."""


# --- the base view ---------------------------------------------------------------------------


class PortalListWidget(ListWidget):
    """FAB's list with the portal's pagination and bounded row count (app/paging.py)."""

    template = "appbuilder/general/widgets/portal_list.html"


class PortalModelView(ModelView):
    """Base of every HTML CRUD view of the portal (see the module docstring)."""

    list_widget = PortalListWidget
    search_widget = PortalSearchWidget

    page_size = 25
    # Customer-side lists may show fewer columns (e.g. without "Bedrift"); None = list_columns.
    list_columns_customer: list[str] | None = None
    # Columns hidden from forms on customer-side requests (the guard sets them from the user).
    supplier_only_columns: tuple[str, ...] = ("company",)
    # column -> callable(item) for values that are not plain attributes (labels, totals, links).
    computed_columns: dict[str, Callable[[Any], Any]] | None = None

    add_row_message = _l("Lagret.")
    edit_row_message = _l("Endringene er lagret.")
    delete_row_message = _l("Slettet.")
    delete_integrity_error_message = _l("Kan ikke slettes: andre data henger sammen med denne raden.")
    add_integrity_error_message = _l("Kunne ikke lagre: verdien finnes allerede.")
    edit_integrity_error_message = _l("Kunne ikke lagre: verdien finnes allerede.")
    database_error_message = _l("Kunne ikke lagre. Prøv igjen, eller kontakt kundeservice.")

    # Number columns searched by exact-or-prefix match on the btree index (app/filters.py); the
    # filter comes first, so `?_flt_0_number=10023` is that search.
    number_prefix_columns: tuple[str, ...] = ()
    # Code columns (status, channel): filtered by equality ("er lik", first, `_flt_0_<col>`) or
    # inequality (`_flt_1_<col>`) on a select of codes. FAB's text filters ("starts with" is ILIKE)
    # cannot use an index; links with their numbers keep their sense (CODE_FILTER_FROM_TEXT).
    code_filter_columns: tuple[str, ...] = ()

    # FAB's BaseView attribute, completed in __init__ (declared only, for the type checker).
    exclude_route_methods: set[str]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.computed_columns = dict(self.computed_columns or {})
        # Register only the routes some role can use (see _register_urls in FAB's BaseView).
        excluded = set(self.exclude_route_methods or ())
        for method in _PERMISSION_ROUTES:
            if f"can_{method}" not in self.base_permissions:
                excluded.add(method)
        if not self.actions:
            excluded.update({"action", "action_post"})
        self.exclude_route_methods = excluded

    def _init_forms(self) -> None:
        super()._init_forms()
        from flask_appbuilder.fields import QuerySelectField, QuerySelectMultipleField

        # FAB leaves the blank choice of an optional related select without text; select2 then
        # shows its value ("__None").
        for form in (self.add_form, self.edit_form):
            for unbound in list(vars(form).values()):
                field_class = getattr(unbound, "field_class", None)
                if (
                    isinstance(field_class, type)
                    and issubclass(field_class, QuerySelectField)
                    and not issubclass(field_class, QuerySelectMultipleField)
                ):
                    unbound.kwargs.setdefault("blank_text", _l("(ingen)"))

    def _init_properties(self) -> None:
        super()._init_properties()
        from app.filters import FilterNumberPrefix

        for column in self.number_prefix_columns:
            for table in (self._filters.get_search_filters(), self._filters._all_filters):
                if column in table:
                    table[column].insert(0, FilterNumberPrefix(column, self.datamodel))
        for column in self.code_filter_columns:
            for table in (self._filters.get_search_filters(), self._filters._all_filters):
                table[column] = code_filters(column, self.datamodel)

    # --- request hygiene ---------------------------------------------------------------------

    @before_request
    def _clean_request_args(self) -> None:
        """Drop or cap list arguments that FAB would turn into a 500 (int() on user input etc.)."""
        clean_list_args(self)

    def _pk_or_404(self, pk: Any) -> int:
        value = _clean_int(str(pk), minimum=1)
        if value is None:
            abort(404)
        return int(value)

    def _load_or_404(self, pk: Any, options: Sequence[Any] | None = None) -> Any:
        item = self._load(self._pk_or_404(pk), options)
        if item is None:
            abort(404)
        return item

    def _load(self, pk: int, options: Sequence[Any] | None = None) -> Any:
        datamodel = self.datamodel
        if isinstance(datamodel, PortalInterface):
            return datamodel.load(pk, self._base_filters, options)
        return datamodel.get(pk, self._base_filters)

    def update_redirect(self) -> None:
        """FAB's "back" history, written only when it changes: writing it on every list request
        re-signs and re-sends the session cookie each time."""
        history = session.get("page_history") or []
        if history and history[-1] == request.url:
            return
        super().update_redirect()

    # --- list --------------------------------------------------------------------------------
    # From here on `list` in the class body is this route, so annotations below say `builtins.list`.

    @expose("/list/")
    @has_access
    def list(self) -> ResponseReturnValue:
        self.update_redirect()
        try:
            widgets = self._list()
        except FABException as exc:
            flash(str(exc), "warning")
            return redirect(url_for(f"{self.endpoint}.list"))
        except SQLAlchemyError:
            # e.g. a filter value the database cannot compare ("abc" for a date or an amount).
            self.datamodel.session.rollback()
            flash(str(_l("Søket kunne ikke utføres. Sjekk verdiene i filteret.")), "warning")
            return redirect(url_for(f"{self.endpoint}.list"))
        return self.render_template(self.list_template, title=self.list_title, widgets=widgets)

    def current_list_columns(self) -> builtins.list[str]:
        if self.list_columns_customer is not None and is_customer():
            return self.list_columns_customer
        return self.list_columns

    def value(self, item: Any, col: str) -> Any:
        """A column's value for list and show: computed, else the attribute; None shows as blank."""
        computed = self.computed_columns or {}
        value = computed[col](item) if col in computed else self.datamodel._get_attr_value(item, col)
        if value is None and col not in (self.formatters_columns or {}):
            return ""
        return value

    def values(self, items: Iterable[Any], columns: Sequence[str]) -> builtins.list[dict[str, Any]]:
        return [{col: self.value(item, col) for col in columns} for item in items]

    def _get_list_widget(
        self,
        filters,
        actions=None,
        order_column="",
        order_direction="",
        page=None,
        page_size=None,
        widgets=None,
        **kwargs,
    ):
        widgets = widgets or {}
        actions = actions or self.actions
        page_size = min(page_size or self.page_size, MAX_PAGE_SIZE)
        if not order_column and self.base_order:
            order_column, order_direction = self.base_order
        joined_filters = filters.get_joined_filters(self._base_filters)
        count, items = self.datamodel.query(
            joined_filters, order_column, order_direction, page=page, page_size=page_size
        )
        columns = self.current_list_columns()
        kwargs.setdefault("paging", page_links(page, page_size, count, getattr(count, "has_next", None)))
        kwargs.setdefault("count_label", count_text(count))
        # The add button says what it adds, where the view names it ("Ny henvendelse"; not FAB's English default).
        kwargs.setdefault("add_label", type(self).add_title or None)
        widgets["list"] = self.list_widget(
            label_columns=self.label_columns,
            include_columns=columns,
            value_columns=self.values(items, columns),
            order_columns=self.order_columns,
            formatters_columns=self.formatters_columns,
            page=page,
            page_size=page_size,
            count=count,
            pks=self.datamodel.get_keys(items),
            actions=actions,
            filters=filters,
            modelview_name=self.__class__.__name__,
            **kwargs,
        )
        return widgets

    # --- show --------------------------------------------------------------------------------

    def show_actions(self) -> dict[str, Any]:
        return self.actions

    def show_context(self, item: Any) -> dict[str, Any]:
        """Extra template variables for a custom show template (override per view)."""
        return {}

    def _get_show_widget(self, pk, item, widgets=None, actions=None, show_fieldsets=None):
        widgets = widgets or {}
        actions = actions or self.show_actions()
        show_fieldsets = show_fieldsets or self.show_fieldsets
        columns = self.show_columns
        if show_fieldsets:
            columns = [c for _, spec in show_fieldsets for c in spec.get("fields", [])]
        widgets["show"] = self.show_widget(
            pk=pk,
            label_columns=self.label_columns,
            include_columns=columns,
            value_columns=self._show_values(item, columns),
            formatters_columns=self.formatters_columns,
            actions=actions,
            fieldsets=show_fieldsets,
            modelview_name=self.__class__.__name__,
        )
        return widgets

    def _show_values(self, item: Any, columns: Sequence[str]) -> builtins.list[Any]:
        return [self.value(item, col) for col in columns]

    @expose("/show/<pk>", methods=["GET"])
    @has_access
    def show(self, pk) -> ResponseReturnValue:
        item = self._load_or_404(pk)
        pk = item.id
        widgets = self._get_show_widget(pk, item)
        widgets = self._get_related_views_widgets(
            item, orders=get_order_args(), pages=get_page_args(), page_sizes=get_page_size_args(), widgets=widgets
        )
        self.update_redirect()
        return self.render_template(
            self.show_template,
            pk=pk,
            title=self.show_title,
            widgets=widgets,
            related_views=self._related_views,
            item=item,
            **self.show_context(item),
        )

    # --- add / edit / delete -----------------------------------------------------------------

    def _add(self):
        company = request.args.get("_flt_0_company")
        if company and company.isdigit():
            g.portal_form_company_id = int(company)
        return super()._add()

    def _edit(self, pk):
        item = self._load_or_404(pk, options=())
        company_id = getattr(item, "company_id", None)
        if isinstance(company_id, int):
            g.portal_form_company_id = company_id
        return super()._edit(item.id)

    @expose("/delete/<pk>", methods=["GET", "POST"])
    @has_access
    def delete(self, pk) -> ResponseReturnValue:
        # The row first: another company's row is 404 whatever the method (FAB refuses a GET
        # delete before it looks, which would tell a foreign row from a missing one apart from 404).
        item = self._load_or_404(pk, options=())
        if not self.is_get_mutation_allowed():
            flash(str(FLAMSG_ERR_SEC_ACCESS_DENIED), "danger")  # FAB's answer to a GET that would change data
            return self.post_delete_redirect()
        self._delete(item.id)
        return self.post_delete_redirect()

    def _delete(self, pk):
        return super()._delete(self._pk_or_404(pk))

    def _form_exclusions(self, exclude_cols: builtins.list[str] | None) -> builtins.list[str]:
        exclude = list(exclude_cols or [])
        if is_customer():
            exclude.extend(c for c in self.supplier_only_columns if c not in exclude)
        return exclude

    def _get_add_widget(self, form, exclude_cols=None, widgets=None):
        return super()._get_add_widget(form, self._form_exclusions(exclude_cols), widgets)

    def _get_edit_widget(self, form, exclude_cols=None, widgets=None):
        return super()._get_edit_widget(form, self._form_exclusions(exclude_cols), widgets)

    def before_save(self, item: Any, is_new: bool) -> None:
        """Fill derived fields before the row is written (override per view)."""

    def pre_add(self, item: Any) -> None:
        super().pre_add(item)
        self._save_guarded(item, is_new=True)

    def pre_update(self, item: Any) -> None:
        super().pre_update(item)
        self._save_guarded(item, is_new=False)

    def _save_guarded(self, item: Any, is_new: bool) -> None:
        """Flush now, so a refused write becomes a message next to the form, not a 500."""
        from app.domain.errors import DomainError

        session = self.datamodel.session
        try:
            with session.no_autoflush:  # a half-filled row must not be flushed by a lookup query
                self.before_save(item, is_new)
            if is_new:
                session.add(item)
            session.flush()
        except TenantViolation as exc:
            session.rollback()
            raise FormRefused(exc.message) from exc
        except DomainError as exc:
            session.rollback()
            raise FormRefused(exc.message) from exc
        except IntegrityError as exc:
            session.rollback()
            raise FormRefused(str(self.add_integrity_error_message)) from exc
        except SQLAlchemyError as exc:  # never FAB's raw database text (it holds SQL)
            session.rollback()
            raise FormRefused(str(self.database_error_message)) from exc

    # --- actions (FAB loads these rows itself, without base filters and without a 404) ------

    @expose("/action/<string:name>/<pk>", methods=["GET", "POST"])
    def action(self, name, pk) -> ResponseReturnValue:
        action = self.actions.get(name)
        if action is None or not action.single:  # no such one-row action
            abort(404)
        if not current_user.is_authenticated:
            return redirect(url_for(f"{self.appbuilder.sm.auth_view.__class__.__name__}.login", next=request.url))
        item = self._load_or_404(pk, options=())  # before anything else: a foreign row is 404
        if not self.appbuilder.sm.has_access(self.get_action_permission_name(name), self.class_permission_name):
            abort(403)
        if not self.is_get_mutation_allowed():
            flash(str(FLAMSG_ERR_SEC_ACCESS_DENIED), "danger")
            return redirect(self.get_redirect())
        return action.func(item)

    @expose("/action_post", methods=["POST"])
    def action_post(self) -> ResponseReturnValue:
        name = request.form.get("action", "")
        action = self.actions.get(name)
        if action is None or not action.multiple:  # FAB would hand a one-row action a list (500)
            abort(404)
        if not current_user.is_authenticated:
            return redirect(url_for(f"{self.appbuilder.sm.auth_view.__class__.__name__}.login", next=request.url))
        pks = {self._pk_or_404(pk) for pk in request.form.getlist("rowid")}
        if not pks:
            flash(str(_l("Velg minst én rad.")), "warning")
            return redirect(self.get_redirect())
        pk_col = self.datamodel.get_pk()
        items = self.datamodel.session.query(self.datamodel.obj).filter(pk_col.in_(pks)).all()
        if len(items) != len(pks):  # one of them is not visible to this user: as if it did not exist
            abort(404)
        if not self.appbuilder.sm.has_access(self.get_action_permission_name(name), self.class_permission_name):
            abort(403)
        return action.func(items)


def clean_list_args(view: Any) -> None:
    """Drop or cap a FAB list's request arguments that FAB would turn into a 500: `psize_<View>` /
    `page_<View>` that are not whole numbers (sizes capped at MAX_PAGE_SIZE), unknown sort columns,
    filter numbers past the column's filters, non-numeric related-row ids, flag filters other than
    FAB's "y". For every FAB model view: the portal's own (PortalModelView) and FAB's security views."""
    views = {view.__class__.__name__: view}
    for inner in getattr(view, "_related_views", None) or ():
        views[inner.__class__.__name__] = inner
    code_columns = getattr(view, "code_filter_columns", ())
    cleaned: builtins.list[tuple[str, str]] = []
    changed = dropped = False
    for key, value in request.args.items(multi=True):
        keep: str | None = value
        if m := _PAGING_ARG.match(key):
            keep = _clean_int(value, minimum=1 if m.group(1) == "psize" else 0)
            if keep is not None and m.group(1) == "psize":
                keep = str(min(int(keep), MAX_PAGE_SIZE))
        elif m := _ORDER_ARG.match(key):
            inner_view = views.get(m.group(1))
            if inner_view is not None and value not in (getattr(inner_view, "order_columns", None) or ()):
                keep = None
        elif m := _FILTER_ARG.match(key):
            index, column = int(m.group(1)), m.group(2)
            if column in code_columns and index in CODE_FILTER_FROM_TEXT:
                index = CODE_FILTER_FROM_TEXT[index]
                renamed = f"_flt_{index}_{column}"
                changed = changed or renamed != key
                key = renamed
            known = getattr(getattr(view, "_filters", None), "_all_filters", {}).get(column)
            datamodel = view.datamodel
            if known is not None and index >= len(known):
                keep = None  # FAB would index past its filter list (IndexError -> 500)
            elif datamodel.is_relation(column) and _clean_int(value, minimum=1) is None:
                keep = None
            elif column in datamodel.list_columns and datamodel.is_boolean(column) and value != "y":
                keep = None  # FAB compares a flag with the text itself (PostgreSQL: boolean = varchar)
        if keep != value:
            changed = True
        if keep is not None:
            cleaned.append((key, keep))
        elif request.method == "GET":
            dropped = True
    if changed:
        request.args = ImmutableMultiDict(cleaned)
    if dropped:
        flash(str(_l("Noen søke-, sorterings- eller sideverdier var ugyldige og ble ikke brukt.")), "warning")


def clean_fab_list_args() -> None:
    """App-wide before_request: the same cleaning for FAB's own model views (users, roles, groups,
    permissions, the user chart), which are no PortalModelView."""
    from flask_appbuilder.baseviews import BaseModelView

    func = current_app.view_functions.get(request.endpoint or "")
    view = getattr(func, "__self__", None)
    if isinstance(view, BaseModelView) and not isinstance(view, PortalModelView):
        clean_list_args(view)


def _clean_int(value: str, minimum: int = 0) -> str | None:
    value = (value or "").strip()
    if not value.isdigit() or len(value) > 9:
        return None
    return value if int(value) >= minimum else None


def company_lookup_field() -> LookupField:
    return LookupField(
        _l("Bedrift (kundenummer)"),
        model=Company,
        key="customer_number",
        supplier_only=True,
        not_found=_l("Fant ingen bedrift med dette kundenummeret."),
    )
