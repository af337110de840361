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


@portal_cli.command("demo")
@click.option("--if-empty", is_flag=True, help="Bare hvis databasen ikke har noen bedrifter ennå.")
def demo_command(if_empty: bool) -> None:
    """Load the Norwegian demo data (idempotent: a second run adds nothing)."""
    from flask import current_app

    from .domain.demo import DEMO_PASSWORD, DEMO_USERS, has_companies, load_demo
    from .domain.setup import init_roles
    from .extensions import db

    if if_empty and has_companies(db.session):
        click.echo("Databasen har allerede bedrifter: demodata lastes ikke.")
    else:
        sm = current_app.appbuilder.sm
        if any(sm.find_role(role) is None for _, role, *_ in DEMO_USERS):
            init_roles()
        created = load_demo(db.session, sm)
        summary = ", ".join(f"{kind}: {n}" for kind, n in sorted(created.items())) or "ingenting nytt"
        click.echo(f"Demodata lastet ({summary}).")
    click.echo(f"Demo-innlogginger (passord {DEMO_PASSWORD}):")
    for username, role, first, last, number in DEMO_USERS:
        click.echo(f"  {username:<14} {role:<16} {first} {last}" + (f" – kunde {number}" if number else ""))
