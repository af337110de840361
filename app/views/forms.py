"""Form plumbing shared by the pages: FAB add/edit forms whose save is a domain function, read-only and Oslo-time fields, and the parsing of posted order/quote lines."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from flask import abort, flash, g, redirect, request, url_for
from flask_appbuilder.fieldwidgets import BS3TextFieldWidget
from flask_appbuilder.urltools import (
    get_filter_args,
    get_order_args,
    get_page_args,
    get_page_size_args,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import SQLAlchemyError
from wtforms import DateTimeField, StringField
from wtforms.validators import StopValidation, ValidationError

from app.domain import accounts
from app.domain.actors import Actor
from app.domain.catalogue import MAX_LINES, MAX_QUANTITY, LineInput
from app.domain.errors import DomainError, NotFound, ValidationFailed
from app.domain.formatting import OSLO, to_oslo
from app.domain.validation import MAX_ID, InvalidValue, validate_amount
from app.extensions import db
from app.models import PortalUser
from app.tenancy import TenantViolation

if TYPE_CHECKING:
    # Mixed into a FAB ModelView: to the type checker the mixin is one (FAB ships no types, so its
    # attributes are Any); at run time it stays a plain class in front of the view's own bases.
    from flask_appbuilder import ModelView as _ModelViewHost
else:
    _ModelViewHost = object


class DomainFormMixin(_ModelViewHost):
    """Mix in before PortalModelView; define `domain_add(form)` and/or `domain_edit(item, form)`,
    each returning the saved row (the session is committed here)."""

    # Domain field name -> form field name where they differ (e.g. company_id -> company).
    domain_field_names: dict[str, str] = {}
    # After adding, open the new row's page instead of going back.
    show_after_add = False

    domain_add: Callable[[Any], Any] | None = None
    domain_edit: Callable[[Any, Any], Any] | None = None

    # --- add ---------------------------------------------------------------------------------

    def _add(self):
        domain_add = self.domain_add  # a local, so the check below holds inside the lambda
        if request.method != "POST" or domain_add is None:
            return super()._add()
        company = request.args.get("_flt_0_company")
        if company and company.isdigit():
            g.portal_form_company_id = int(company)
        get_filter_args(self._filters, disallow_if_not_in_search=False)
        exclude_cols = self._filters.get_relation_cols()
        form = self.add_form.refresh()
        self._fill_form_exclude_cols(exclude_cols, form)
        if form.validate():
            saved = self._domain_save(form, lambda: domain_add(form))
            if saved is not None:
                flash(str(self.add_row_message), "success")
                g.portal_saved_id = getattr(saved, "id", None)
                return None
        return self._get_add_widget(form=form, exclude_cols=exclude_cols)

    def post_add_redirect(self):
        saved = g.get("portal_saved_id")
        if self.show_after_add and saved:
            return redirect(url_for(f"{self.endpoint}.show", pk=saved))
        return super().post_add_redirect()

    # --- edit --------------------------------------------------------------------------------

    def _edit(self, pk):
        domain_edit = self.domain_edit  # a local, so the check below holds inside the lambda
        if request.method != "POST" or domain_edit is None:
            return super()._edit(pk)
        item = self._load_or_404(pk, options=())
        company_id = getattr(item, "company_id", None)
        if isinstance(company_id, int):
            g.portal_form_company_id = company_id
        get_filter_args(self._filters, disallow_if_not_in_search=False)
        exclude_cols = self._filters.get_relation_cols()
        form = self.edit_form.refresh(request.form)
        self._fill_form_exclude_cols(exclude_cols, form)
        form._id = item.id
        if form.validate():
            saved = self._domain_save(form, lambda: domain_edit(item, form))
            if saved is not None:
                flash(str(self.edit_row_message), "success")
                return None
        for field in form:  # disabled inputs are not posted: show the row's values again
            if isinstance(field, ReadOnlyField):
                field.process_data(getattr(item, field.name, None))
        widgets = self._get_edit_widget(form=form, exclude_cols=exclude_cols)
        return self._get_related_views_widgets(
            item,
            filters={},
            orders=get_order_args(),
            pages=get_page_args(),
            page_sizes=get_page_size_args(),
            widgets=widgets,
        )

    # --- saving ------------------------------------------------------------------------------

    def _domain_save(self, form: Any, action: Callable[[], Any]) -> Any:
        """Run the domain function in `domain_action`: the saved row, or None (refused, said why)."""
        saved = None
        with domain_action(form, field_names=self.domain_field_names) as done:
            saved = action()
        return saved if done.ok else None


def form_values(form: Any, names: Any) -> dict[str, Any]:
    """{name: data} of the named form fields that the form has (ReadOnlyFields left out)."""
    return {name: form[name].data for name in names if name in form and not isinstance(form[name], ReadOnlyField)}


class ReadOnlyField(StringField):
    """A value shown in a form (disabled, with a note as help text) that is never read from the
    request nor written to the row, whatever the browser sends."""

    def __init__(self, label: Any = None, formatter: Callable[[Any], Any] | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("widget", BS3TextFieldWidget())
        kwargs.setdefault("render_kw", {"disabled": True})
        super().__init__(label, **kwargs)
        self.formatter = formatter

    def process_data(self, value: Any) -> None:
        self.data = self.formatter(value) if self.formatter is not None and value is not None else value

    def process_formdata(self, valuelist: list[Any]) -> None:
        return None

    def populate_obj(self, obj: Any, name: str) -> None:
        return None

    def _value(self) -> str:
        return "" if self.data is None else str(self.data)


MONEY_REQUIRED = _l("Beløpet må fylles ut.")


class MoneyField(StringField):
    """The one field for money typed in a form: an amount in NOK as text, read by the domain's rule
    (validate_amount, or `rule`): "75 000,00", "75000", "75 000", "75000.50". Shown as people write it
    ("75 000,00"); `data` is a Decimal once validated, None when left blank (`required=False`)."""

    data: str | Decimal | None  # WTForms' Field.data, narrowed to what this field holds

    def __init__(
        self,
        label: Any = None,
        validators: Any = None,
        required: bool = True,
        rule: Callable[[Any], Decimal] = validate_amount,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("widget", BS3TextFieldWidget())
        kwargs.setdefault("render_kw", {"inputmode": "decimal", "autocomplete": "off"})
        super().__init__(label, validators, **kwargs)
        self.required, self.rule = required, rule
        self.flags.required = required

    def _value(self) -> str:
        if isinstance(self.data, Decimal | int | float):
            # As the rule reads it in any language; plain spaces are easier to edit than non-breaking.
            return f"{Decimal(str(self.data)):,.2f}".replace(",", " ").replace(".", ",")
        return str(self.data or "")

    def process_formdata(self, valuelist: list[str]) -> None:
        if valuelist:
            self.data = (valuelist[0] or "").strip()

    def pre_validate(self, form: Any) -> None:
        if self.data is None or (isinstance(self.data, str) and not self.data.strip()):
            if self.required:
                raise StopValidation(str(MONEY_REQUIRED))
            self.data = None
            raise StopValidation()  # blank and optional: nothing else to check
        try:
            self.data = self.rule(self.data)
        except InvalidValue as exc:
            raise StopValidation(str(exc.message)) from exc


class OsloDateTimeField(DateTimeField):
    """A date and time typed and shown in Europe/Oslo (`data` is naive Oslo time, as the picker
    shows it); `utc_data` is the aware UTC value the database keeps."""

    def __init__(self, label: Any = None, validators: Any = None, **kwargs: Any) -> None:
        from flask_appbuilder.fieldwidgets import DateTimePickerWidget

        kwargs.setdefault("widget", DateTimePickerWidget())
        kwargs.setdefault("format", "%Y-%m-%d %H:%M:%S")
        super().__init__(label, validators, **kwargs)

    def process_data(self, value: Any) -> None:
        if isinstance(value, dt.datetime):
            # FAB's picker writes str(data) into the input: whole seconds, Oslo time, no zone.
            value = (to_oslo(value) if value.tzinfo is not None else value).replace(tzinfo=None, microsecond=0)
        super().process_data(value)

    def process_formdata(self, valuelist: list[Any]) -> None:
        text = " ".join(valuelist).strip() if valuelist else ""
        self.data = None
        if not text:
            return
        for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%d.%m.%Y %H:%M"):
            try:
                self.data = dt.datetime.strptime(text, fmt)
                return
            except ValueError:
                continue
        raise ValueError(str(_l("Skriv tidspunktet som ÅÅÅÅ-MM-DD TT:MM, for eksempel 2025-03-01 15:00.")))

    @property
    def utc_data(self) -> dt.datetime | None:
        if not isinstance(self.data, dt.datetime):
            return None
        value = self.data if self.data.tzinfo is not None else self.data.replace(tzinfo=OSLO)
        return value.astimezone(dt.UTC)

    def populate_obj(self, obj: Any, name: str) -> None:
        setattr(obj, name, self.utc_data)


def password_validator(
    user: Callable[[Any], PortalUser | None] | None = None,
) -> Callable[[Any, Any], None]:
    """A WTForms validator: the password policy (app/domain/passwords.py) next to the field.

    `user(form)` says whose password it is (its username, name and e-mail may not make it).
    """

    def validate(form: Any, field: Any) -> None:
        who = user(form) if user is not None else None
        problem = accounts.new_password_problem(field.data if isinstance(field.data, str) else "", who)
        if problem:
            raise ValidationError(problem)

    return validate


def current_actor() -> Actor:
    return Actor.from_user(g.user)


DATABASE_REFUSED = _l("Kunne ikke lagre. Prøv igjen, eller kontakt kundeservice.")


@dataclass
class Outcome:
    """What `domain_action` did: `ok` after a commit; else the refusal's field errors (if any)."""

    ok: bool = False
    errors: dict[str, Any] = dataclass_field(default_factory=dict)


@contextmanager
def domain_action(
    form: Any = None, *, field_names: Mapping[str, str] | None = None, errors_on_page: bool = False
) -> Iterator[Outcome]:
    """One unit of work on a page, and the one place a page commits.

    The body calls the domain; afterwards the session is committed. On a refusal it is rolled back
    (nothing half-written) and the user is told why: a ValidationFailed next to the fields of `form`
    it names (`field_names` maps domain names to form names; the rest above the form), or, with
    `errors_on_page`, left in `outcome.errors` for a page that shows them itself (else flashed);
    NotFound is a 404; any other DomainError, a guard or a database refusal a message above the page.
    """
    outcome = Outcome()
    session = db.session
    try:
        yield outcome
        session.commit()
        outcome.ok = True
    except NotFound:
        session.rollback()
        abort(404)
    except ValidationFailed as exc:
        session.rollback()
        outcome.errors = dict(exc.errors)
        if form is not None:
            for name, message in exc.errors.items():
                _field_error(form, (field_names or {}).get(name, name), message)
        elif not errors_on_page:
            for message in exc.errors.values():
                flash(str(message), "danger")
    except DomainError as exc:
        session.rollback()
        flash(str(exc.message), "danger")
    except TenantViolation as exc:
        session.rollback()
        if form is not None:
            _field_error(form, (field_names or {}).get(exc.field or "", exc.field or ""), exc.message)
        else:
            flash(str(exc.message), "danger")
    except SQLAlchemyError:
        session.rollback()
        flash(str(DATABASE_REFUSED), "danger")


def _field_error(form: Any, name: str, message: Any) -> None:
    """Show a message next to the form field it names, else above the form."""
    if name and name in form:
        field_ = form[name]
        field_.errors = [*field_.errors, message]
    else:
        flash(str(message), "danger")


def _int(value: str | None, maximum: int = MAX_ID) -> tuple[int | None, bool]:
    """(number, ok): blank is (None, True); not a whole number, or out of range, is (None, False)."""
    value = (value or "").strip()
    if not value:
        return None, True
    try:
        number = int(value)
    except ValueError:
        return None, False
    if abs(number) > maximum:
        return None, False
    return number, True


def form_id(form: Any, name: str) -> int | None:
    """A row id from a form field, or None (blank, garbage or out of range: "not chosen")."""
    number, _ok = _int(form.get(name))
    return number if number is not None and number > 0 else None


def parse_lines(form: Any, max_lines: int = MAX_LINES, prices: bool = False) -> tuple[list[LineInput], dict[str, str]]:
    """Lines posted as lines-<i>-product_id, -quantity, -width, -depth, -fabric, -colour (and
    -unit_price with `prices`: a seller's special price on a quote; blank is the list price).

    Returns LineInputs for the rows that have a product, and field errors for values that are not
    whole numbers (the domain checks everything else). Rows the user left empty are dropped, so
    errors are keyed by the line's position among the filled rows (the page re-renders them so).
    """
    lines: list[LineInput] = []
    errors: dict[str, str] = {}
    messages = {
        "quantity": _("Antall må være et helt tall."),
        "width": _("Bredde må være et helt tall."),
        "depth": _("Dybde må være et helt tall."),
    }
    for i in range(max_lines):
        prefix = f"lines-{i}-"
        if prefix + "product_id" not in form:
            continue
        product_id = form_id(form, prefix + "product_id")
        if product_id is None and not (form.get(prefix + "quantity") or "").strip():
            continue  # an empty row the user added but did not fill
        n = len(lines)
        values: dict[str, Any] = {"product_id": product_id}
        for field in ("quantity", "width", "depth"):
            value, ok = _int(form.get(prefix + field))
            if not ok:
                errors[f"lines[{n}].{field}"] = messages[field]
            elif field == "quantity" and value is not None and value > MAX_QUANTITY:
                errors[f"lines[{n}].{field}"] = _("Antall kan være høyst %(max)s.", max=MAX_QUANTITY)
            values[field] = value
        values["fabric"] = (form.get(prefix + "fabric") or "").strip()[:100] or None
        values["colour"] = (form.get(prefix + "colour") or "").strip()[:100] or None
        raw_price = (form.get(prefix + "unit_price") or "").strip()  # spaces and comma: validate_amount reads them
        if prices and raw_price:
            try:
                values["unit_price"] = validate_amount(raw_price)
            except InvalidValue as exc:
                errors[f"lines[{n}].unit_price"] = str(exc.message)
        lines.append(LineInput(**values))
    return lines, errors
