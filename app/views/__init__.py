"""One module per area; `register_views` is the one place that adds them to AppBuilder."""
from __future__ import annotations

from flask_appbuilder import AppBuilder


def register_views(appbuilder: AppBuilder) -> None:
    pass
