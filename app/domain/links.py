"""Absolute links into the portal for mails (the base URL comes from PORTAL_BASE_URL)."""

from __future__ import annotations

import os

from flask import current_app, has_app_context


def portal_link(path: str) -> str:
    base = current_app.config.get("PORTAL_BASE_URL") if has_app_context() else None
    base = base or os.environ.get("PORTAL_BASE_URL", "http://127.0.0.1:8080")
    return base.rstrip("/") + path
