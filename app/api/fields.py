"""Fields and schemas of the REST API: money, scoped foreign ids, computed values, Norwegian messages.

FAB builds marshmallow schemas from the model (Model2SchemaConverter); `PortalSchemaConverter`
adjusts what it builds, so every resource gets the same rules without writing schemas by hand.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from flask_appbuilder.api.convert import Model2SchemaConverter
from flask_babel import lazy_gettext as _
from marshmallow import Schema, ValidationError, fields, missing, validate
from marshmallow.fields import Field
from sqlalchemy import Numeric, select

from app.domain import labels
from app.domain.catalogue import MAX_QUANTITY, LineInput
from app.domain.validation import MAX_AMOUNT, MAX_ID, MSG_AMOUNT_TOO_LARGE, InvalidValue, validate_choice
from app.extensions import db

MSG_REQUIRED = _("Feltet må fylles ut.")
MSG_NULL = _("Feltet kan ikke være tomt.")
MSG_INVALID = _("Ugyldig verdi.")
MSG_UNKNOWN_FIELD = _("Ukjent felt.")
MSG_NOT_FOUND_REF = _("Finnes ikke, eller du har ikke tilgang til den.")
MSG_COMPANY_FROM_USER = _("Kundekontoen settes fra innlogget bruker og kan ikke velges.")
MSG_NO_MOVE = _("Data kan ikke flyttes til en annen kundekonto.")
MSG_NOT_JSON = _("Forespørselen må være JSON (Content-Type: application/json).")
MSG_BODY_OBJECT = _("Forespørselen må være et JSON-objekt.")
MSG_SAVE_REFUSED = _("Kunne ikke lagre: en verdi er allerede i bruk, eller en kobling er ugyldig.")
MSG_DELETE_REFUSED = _("Kan ikke slettes fordi andre data viser til den.")
MSG_NOT_FOUND = _("Finnes ikke.")
MSG_FORBIDDEN = _("Du har ikke tilgang til dette.")
MSG_UNAUTHORIZED = _("Du må logge inn.")
MSG_SERVER_ERROR = _("Noe gikk galt hos oss. Prøv igjen, eller kontakt kundeservice.")
MSG_BAD_FILTER = _("Ugyldig filter.")
MSG_LIST = _("Skriv en liste.")
MSG_LINE_OBJECT = _("Hver linje må være et JSON-objekt.")
MSG_INTEGER_RANGE = _("Skriv et heltall fra %(min)s til %(max)s.", min=-MAX_ID, max=MAX_ID)
MSG_QUANTITY_MAX = _("Antall kan være høyst %(max)s.", max=MAX_QUANTITY)


_TYPE_MESSAGES: tuple[tuple[type[Field], Any], ...] = (
    (fields.Boolean, _("Skriv true eller false.")),
    (fields.Integer, _("Skriv et heltall.")),
    (fields.Decimal, _("Skriv et tall, for eksempel 1500.00.")),
    (fields.Date, _("Skriv en dato (ÅÅÅÅ-MM-DD).")),  # before DateTime: Date is a DateTime
    (fields.DateTime, _("Skriv et tidspunkt (ISO 8601, for eksempel 2025-03-01T09:30:00+01:00).")),
    (fields.String, _("Skriv tekst.")),
)


class LazyMessages(dict):
    """Error messages kept lazy and turned into text (in the request's language) when used.

    marshmallow only formats messages that are `str`; a lazy string would reach the client
    as something else."""

    def __getitem__(self, key: Any) -> Any:
        value = super().__getitem__(key)
        return value if isinstance(value, (str, dict, list)) else str(value)


# --- marshmallow fields ---------------------------------------------------------------------


def domain_validator(rule: Callable[[Any], Any]) -> Callable[[Any], None]:
    """Wrap an app/domain/validation rule as a marshmallow validator (same message)."""

    def _validate(value: Any) -> None:
        if value is None:
            return
        try:
            rule(value)
        except InvalidValue as exc:
            raise ValidationError(str(exc.message)) from exc

    _validate.__name__ = getattr(rule, "__name__", "domain_validator")
    return _validate


class RelatedId(fields.Integer):
    """A foreign key in a body: must name a row the current user can see.

    The lookup goes through the ORM session, so the tenancy guard scopes it: for a customer,
    another company's row does not exist. Unlike marshmallow-sqlalchemy's `Related` it never
    invents a new row for an unknown id.
    """

    def __init__(self, model: type[Any], **kwargs: Any) -> None:
        super().__init__(strict=True, **kwargs)
        self.model = model
        # Ids are 1..MAX_ID (also what the OpenAPI document says); others name no row.
        self.validators.insert(0, validate.Range(min=1, max=MAX_ID, error=MSG_NOT_FOUND_REF))

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int | None:
        pk = super()._deserialize(value, attr, data, **kwargs)
        if pk is None:
            return None
        if not 0 < pk <= MAX_ID:
            raise ValidationError(str(MSG_NOT_FOUND_REF))
        found = db.session.execute(select(self.model).where(self.model.id == pk)).scalar_one_or_none()
        if found is None:
            raise ValidationError(str(MSG_NOT_FOUND_REF))
        return pk


def one_of(allowed: Any) -> Callable[[Any], None]:
    """Validator: a code value from `allowed` (an enum of app/models.py), Norwegian message.
    Its `choices` are what apispec writes as the field's `enum` in the OpenAPI document."""
    validator = domain_validator(lambda value: validate_choice(value, allowed))
    validator.choices = [getattr(member, "value", member) for member in allowed]  # type: ignore[attr-defined]
    return validator


def codes_of(allowed: Any, nullable: bool = False) -> dict[str, Any]:
    """OpenAPI metadata of a hand-written code field: its `enum` (the codes of an app/models.py enum)."""
    codes: list[Any] = [getattr(member, "value", member) for member in allowed]
    return {"enum": codes + [None] if nullable else codes}


def computed(
    getter: Callable[[Any], Any], field_cls: type[Field] = fields.String, *args: Any, **kwargs: Any
) -> Callable[[], Field]:
    """A read-only field whose value comes from `getter(obj)` (typed, so OpenAPI shows it)."""

    class _Computed(field_cls):  # type: ignore[valid-type, misc]  # a base class chosen at run time
        def get_value(self, obj: Any, attr: str, accessor: Any = None, default: Any = missing) -> Any:
            return getter(obj)

    _Computed.__name__ = f"Computed{field_cls.__name__}"

    def factory() -> Field:
        return _Computed(*args, dump_only=True, **kwargs)

    return factory


def label_of(mapping: Mapping[Any, Any], column: str) -> Callable[[], Field]:
    """`<column>_label`: the Norwegian name of a code value (app/domain/labels.py)."""
    return computed(lambda obj: code_label(mapping, getattr(obj, column)), fields.String)


def code_label(mapping: Mapping[Any, Any], code: Any) -> str | None:
    """Label of a code in the request's language; null stays null (labels.label gives "")."""
    return None if code is None else labels.label(mapping, code)


class Money(fields.Decimal):
    """Answered as a string with `places` decimals ("1250.00"); read as sent (a number or a
    string), not rounded, so a validator can refuse a third decimal instead of hiding it.

    Read values are finite and within what the column holds (`maximum`, by default MAX_AMOUNT, the
    money columns' Numeric(12, 2)): 1e400, NaN or 10^10 is a 400 naming the field, never a database
    error or (SQLite) a value stored wrongly."""

    def __init__(self, places: int = 2, maximum: Decimal = MAX_AMOUNT, **kwargs: Any) -> None:
        # OpenAPI: apispec would call a Decimal a number; we answer strings.
        digits = len(str(int(maximum)))
        kwargs.setdefault(
            "metadata",
            {
                "type": "string",
                "format": "decimal",
                "example": "1250.00",
                # What the field reads and the column holds: at most `digits` digits before the point.
                "pattern": rf"^-?[0-9]{{1,{digits}}}(\.[0-9]+)?$",
                "x-maximum": str(maximum),
            },
        )
        super().__init__(places=None, as_string=True, **kwargs)
        self.dump_places = Decimal(1).scaleb(-places)
        self.maximum = maximum

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Decimal | None:
        if isinstance(value, bool):
            raise self.make_error("invalid")
        number = super()._deserialize(value, attr, data, **kwargs)
        if number is not None and abs(number) > self.maximum:
            if self.maximum == MAX_AMOUNT:
                raise ValidationError(str(MSG_AMOUNT_TOO_LARGE))  # the words of validate_amount
            raise ValidationError(str(_("Tallet kan være høyst %(max)s.", max=self.maximum)))
        return number

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        if value is None:
            return None
        return str(Decimal(value).quantize(self.dump_places, rounding=ROUND_HALF_UP))


def money(getter: Callable[[Any], Any]) -> Callable[[], Field]:
    return computed(getter, Money)


def money_field(**kwargs: Any) -> Money:
    return Money(**kwargs)


def _norwegian(field: Field) -> Field:
    """Norwegian messages for the errors a field can raise while loading."""
    field.error_messages = LazyMessages(field.error_messages)
    field.error_messages.update({"required": MSG_REQUIRED, "null": MSG_NULL, "validator_failed": MSG_INVALID})
    for field_cls, message in _TYPE_MESSAGES:
        if isinstance(field, field_cls):
            for key in ("invalid", "special", "too_large", "format"):
                if key in field.error_messages:
                    field.error_messages[key] = message
            break
    validators = [
        _norwegian_length(v) if isinstance(v, validate.Length) and v.error is None else v for v in field.validators
    ]
    if isinstance(field, fields.Integer) and not _bounded(validators):
        # Every whole number fits SQL's integer (SQLite: 64 bits, else OverflowError; PostgreSQL:
        # "integer out of range"): one bound for all of them, shown in the OpenAPI document.
        validators.append(validate.Range(min=-MAX_ID, max=MAX_ID, error=MSG_INTEGER_RANGE))
    field.validators = validators
    field.validate = validators  # what FAB's _info shows
    return field


def _bounded(validators: list[Any]) -> bool:
    """Does a Range among the validators keep a number inside SQL's integer range on both sides?"""
    return any(
        isinstance(v, validate.Range)
        and v.min is not None
        and v.max is not None
        and v.min >= -MAX_ID
        and v.max <= MAX_ID
        for v in validators
    )


def _norwegian_length(validator: validate.Length) -> validate.Length:
    if validator.min and validator.max:
        error = _("Mellom %(min)s og %(max)s tegn.", min=validator.min, max=validator.max)
    elif validator.max:
        error = _("Høyst %(max)s tegn.", max=validator.max)
    elif validator.min == 1:
        error = MSG_REQUIRED
    else:
        error = _("Minst %(min)s tegn.", min=validator.min)
    return validate.Length(min=validator.min, max=validator.max, equal=validator.equal, error=error)


def flat_errors(messages: Any, prefix: str = "") -> dict[str, Any]:
    """marshmallow's nested errors as the domain names fields: {"lines": {0: {"width": [..]}}}
    -> {"lines[0].width": [..]}; a schema-level error of a line is named by the line itself."""
    if not isinstance(messages, dict):
        return {prefix or "_schema": messages}
    out: dict[str, Any] = {}
    for key, value in messages.items():
        if isinstance(key, int):
            name = f"{prefix}[{key}]"
        elif key == "_schema" and prefix:
            name = prefix
        else:
            name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict):
            out.update(flat_errors(value, name))
        else:
            out[name] = value
    return out


def line_list(schema: type[Schema], **kwargs: Any) -> fields.List:
    """A body's `lines`: a list of objects; missing means empty (the domain names what is missing)."""
    kwargs.setdefault("load_default", list)
    return fields.List(
        fields.Nested(schema, error_messages={"type": MSG_LINE_OBJECT}), error_messages={"invalid": MSG_LIST}, **kwargs
    )


def id_field(**kwargs: Any) -> fields.Integer:
    """An id the domain looks up itself (a product, an order line): only kept inside SQL's range."""
    return fields.Integer(strict=True, validate=validate.Range(min=1, max=MAX_ID, error=MSG_NOT_FOUND_REF), **kwargs)


def quantity_field(**kwargs: Any) -> fields.Integer:
    # 1..MAX_QUANTITY, as the domain says (catalogue.line_errors). The upper bound is checked here, the
    # lower one by the domain together with the line's other problems (every problem named at once);
    # the OpenAPI document shows both.
    kwargs.setdefault("metadata", {"minimum": 1})
    return fields.Integer(
        strict=True, validate=validate.Range(min=-MAX_ID, max=MAX_QUANTITY, error=MSG_QUANTITY_MAX), **kwargs
    )


class OutputSchema(Schema):
    """A hand-written answer schema (lines, events, shipments ...): any value may be null, as the
    nullable columns behind them are, and the OpenAPI document says so (`nullable: true`)."""

    def on_bind_field(self, field_name: str, field_obj: Field) -> None:
        field_obj.allow_none = True


class InputSchema(Schema):
    """A hand-written request body schema with the same Norwegian messages as the generated ones."""

    error_messages = {"unknown": MSG_UNKNOWN_FIELD, "type": MSG_BODY_OBJECT}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.error_messages = LazyMessages(self.error_messages)

    def on_bind_field(self, field_name: str, field_obj: Field) -> None:
        _norwegian(field_obj)


class LineInputSchema(InputSchema):
    """One line of a body: a non-object line is named by its index, not as the whole body."""

    error_messages = {"unknown": MSG_UNKNOWN_FIELD, "type": MSG_LINE_OBJECT}


class LineIn(LineInputSchema):
    """One line of an order, a quote or a standing order (never a price: the catalogue's applies)."""

    product_id = id_field(required=True)
    quantity = quantity_field(required=True)
    width = fields.Integer(allow_none=True, strict=True)
    depth = fields.Integer(allow_none=True, strict=True)
    fabric = fields.String(allow_none=True, validate=validate.Length(max=100))
    colour = fields.String(allow_none=True, validate=validate.Length(max=100))


def line_inputs(lines: list[dict[str, Any]]) -> list[LineInput]:
    """Loaded LineIn bodies as the domain's LineInput."""
    return [LineInput(**line) for line in lines]


class PortalSchemaConverter(Model2SchemaConverter):
    """FAB's converter plus: computed fields, money as 2-decimal strings, scoped foreign ids,
    non-blank required text, Norwegian messages."""

    virtual_fields: dict[str, Callable[[], Field]] = {}
    # Code columns (status, channel, ...) -> every code they can hold: the field's `enum` in OpenAPI.
    code_values: dict[str, list[Any]] = {}

    def _meta_schema_factory(
        self, columns: list[str], model: Any, class_mixin: type, parent_schema_name: str | None = None
    ) -> type:
        """FAB's factory with `include_fk`: else marshmallow-sqlalchemy drops our foreign-key
        fields (the mixin is no Schema) and lets an untyped `Inferred` field through."""
        schema_cls = super()._meta_schema_factory(columns, model, class_mixin, parent_schema_name)
        meta = type("Meta", (schema_cls.Meta,), {"include_fk": True})
        return type(schema_cls.__name__, (schema_cls,), {"Meta": meta})

    def _column2field(
        self, datamodel: Any, column: Any, nested: bool = True, parent_schema_name: str | None = None
    ) -> Field:
        if datamodel.obj is self.datamodel.obj and column.name in self.virtual_fields:
            return self.virtual_fields[column.name]()
        field = super()._column2field(datamodel, column, nested=nested, parent_schema_name=parent_schema_name)
        if datamodel.is_relation(column.name) and isinstance(field, fields.Nested) and not field.many:
            # An optional many-to-one (an order's user, a budget's user) is answered as null.
            field.allow_none = _optional_relation(datamodel.obj, column.name)
        sqla_column = datamodel.list_columns.get(column.name)
        if sqla_column is None or datamodel.is_relation(column.name):
            return _norwegian(field)
        naive = not getattr(sqla_column.type, "timezone", True)
        if isinstance(field, fields.DateTime) and not isinstance(field, fields.Date) and naive:
            # FAB's own tables (users: created_on, last_login) keep the server's local time without a
            # zone; ours are UTC with "+00:00". Say which in the OpenAPI document.
            field.metadata = {
                **field.metadata,
                "format": "local-date-time",
                "description": "Server-local time without a zone (ISO 8601)",
            }
        if isinstance(sqla_column.type, Numeric) and isinstance(field, fields.Decimal):
            field = Money(
                places=sqla_column.type.scale or 2,
                maximum=column_maximum(sqla_column.type),
                required=field.required,
                allow_none=field.allow_none,
                validate=field.validators,
                dump_only=field.dump_only,
            )
        if sqla_column.foreign_keys and not field.dump_only:
            target = _fk_target(datamodel.obj, sqla_column)
            if target is not None:
                field = RelatedId(
                    target, required=field.required, allow_none=field.allow_none, validate=field.validators
                )
        if isinstance(field, fields.String) and field.required:
            field.validators.append(validate.Length(min=1, error=MSG_REQUIRED))
        if datamodel.obj is self.datamodel.obj and column.name in self.code_values:
            codes = list(self.code_values[column.name])
            field.metadata = {**field.metadata, "enum": codes + [None] if field.allow_none else codes}
        return _norwegian(field)


def column_maximum(numeric: Numeric) -> Decimal:
    """The largest value a Numeric(precision, scale) column holds: Numeric(12, 2) -> 9999999999.99."""
    precision, scale = numeric.precision or 12, numeric.scale or 0
    return Decimal(10) ** (precision - scale) - Decimal(1).scaleb(-scale)


def _optional_relation(model: type[Any], name: str) -> bool:
    relationship = model.__mapper__.relationships.get(name)
    if relationship is None or relationship.direction.name != "MANYTOONE":
        return False
    return any(column.nullable for column in relationship.local_columns)


def _fk_target(model: type[Any], sqla_column: Any) -> type | None:
    """The mapped class a foreign-key column points at (via its many-to-one relationship)."""
    for rel in model.__mapper__.relationships:
        if rel.direction.name == "MANYTOONE" and sqla_column in rel.local_columns:
            return rel.mapper.class_
    return None
