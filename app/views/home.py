"""Start page: each role lands on what it works with."""
from __future__ import annotations

from flask_appbuilder import IndexView


class PortalIndexView(IndexView):
    index_template = "index.html"
