"""REST APIs under /api/v1/; `register_apis` adds them all."""
from __future__ import annotations

from flask_appbuilder import AppBuilder


def register_apis(appbuilder: AppBuilder) -> None:
    pass
