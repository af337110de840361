"""Text search terms: what people type, matched literally ("%" and "_" are not wildcards)."""

from __future__ import annotations

LIKE_ESCAPE = "\\"


def like_literal(term: str) -> str:
    """`term` escaped for LIKE/ILIKE with `escape=LIKE_ESCAPE`."""
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
