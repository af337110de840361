"""`flask --app run portal ...` commands."""
from __future__ import annotations

import click
from flask.cli import AppGroup

portal_cli = AppGroup("portal", help="Kundeportal: oppsett, demodata og jobber.")


@portal_cli.command("init")
def init_command() -> None:
    """Create roles, permissions and menus (idempotent)."""
    from .domain.setup import init_roles

    counts = init_roles()
    click.echo(f"Roller og rettigheter oppdatert: {counts}")
