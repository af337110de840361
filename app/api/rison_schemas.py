"""FAB's `@rison(schema)` checks a list's `?q=` against its JSON schema with `jsonschema.validate`,
which first checks the schema itself against the JSON Schema meta-schema: about a third of a REST
list request. The schemas are FAB's constants, so each is checked once and its validator kept; the
instance is validated and reported exactly as `jsonschema.validate` does (the best-matching error).
"""

from __future__ import annotations

from typing import Any

import jsonschema
from jsonschema.exceptions import best_match
from jsonschema.validators import validator_for

ValidationError = jsonschema.ValidationError


class _Checked:
    def __init__(self) -> None:
        self._validators: dict[int, tuple[Any, Any]] = {}

    def validator(self, schema: Any) -> Any:
        found = self._validators.get(id(schema))
        if found is None or found[0] is not schema:  # keyed by identity: the schema object is kept alive
            cls = validator_for(schema)
            cls.check_schema(schema)
            found = self._validators[id(schema)] = (schema, cls(schema))
        return found[1]


_CHECKED = _Checked()


def validate(instance: Any, schema: Any) -> None:
    """`jsonschema.validate` with the schema checked once."""
    error = best_match(_CHECKED.validator(schema).iter_errors(instance))
    if error is not None:
        raise error


def install() -> None:
    """FAB's `rison` decorator looks `jsonschema.validate` up on its module at each request."""
    import sys

    import flask_appbuilder.api as fab_api

    fab_api.jsonschema = sys.modules[__name__]
