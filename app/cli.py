"""`flask --app run portal ...` commands."""

from __future__ import annotations

import datetime as dt

import click
from flask.cli import AppGroup

portal_cli = AppGroup("portal", help="Kundeportal: oppsett, demodata og jobber.")


@portal_cli.command("init")
def init_command() -> None:
    """Create roles, permissions and menus (idempotent)."""
    from app.domain.setup import init_roles

    counts = init_roles()
    click.echo(f"Roller og rettigheter oppdatert: {counts}")


@portal_cli.command("demo")
@click.option("--if-empty", is_flag=True, help="Bare hvis databasen ikke har noen bedrifter ennå.")
def demo_command(if_empty: bool) -> None:
    """Load the Norwegian demo data (idempotent: a second run adds nothing)."""
    from flask import current_app

    from app.demo import DEMO_PASSWORD, DEMO_USERS, has_companies, load_demo
    from app.domain.setup import init_roles
    from app.extensions import db

    if if_empty and has_companies(db.session):
        click.echo("Databasen har allerede bedrifter: demodata lastes ikke.")
    else:
        sm = current_app.extensions["appbuilder"].sm
        if any(sm.find_role(role) is None for _, role, *_ in DEMO_USERS):
            init_roles()
        created = load_demo(db.session, sm)
        summary = ", ".join(f"{kind}: {n}" for kind, n in sorted(created.items())) or "ingenting nytt"
        click.echo(f"Demodata lastet ({summary}).")
    click.echo(f"Demo-innlogginger (passord {DEMO_PASSWORD}):")
    for username, role, first, last, number in DEMO_USERS:
        click.echo(f"  {username:<14} {role:<16} {first} {last}" + (f" – kunde {number}" if number else ""))


@portal_cli.command("set-password")
@click.argument("username")
@click.password_option("--password", prompt="Nytt passord", confirmation_prompt="Gjenta passordet")
def set_password_command(username: str, password: str) -> None:
    """Set a user's password (the password policy holds; the user's sessions and API tokens end)."""
    from app.domain.accounts import set_password_by_username
    from app.domain.errors import DomainError
    from app.extensions import db

    try:
        user = set_password_by_username(db.session, username, password)
    except DomainError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc.message)) from exc
    db.session.commit()
    click.echo(f"Passordet til {user.username} er endret. Brukeren er logget ut overalt.")


@portal_cli.command("purge-security")
def purge_security_command() -> None:
    """Delete ended or outlived sessions, blocklist rows of expired tokens and old throttle counts."""
    from flask import current_app

    from app.domain import sessions, throttle
    from app.extensions import db

    max_age = dt.timedelta(hours=current_app.config.get("SESSION_MAX_HOURS", 12))
    ended, tokens = sessions.purge(db.session, max_age=max_age)
    hits = throttle.purge(db.session)
    db.session.commit()
    click.echo(f"Slettet: {ended} økter, {tokens} utløpte tokens, {hits} gamle tellinger.")


@portal_cli.command("mfa-reset")
@click.argument("username")
def mfa_reset_command(username: str) -> None:
    """Turn off a user's two-factor login (lost phone); the user's sessions and API tokens end."""
    from app.domain import mfa
    from app.domain.errors import DomainError
    from app.extensions import db

    try:
        user = mfa.reset_by_username(db.session, username)
    except DomainError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc.message)) from exc
    db.session.commit()
    click.echo(
        f"Tofaktorinnloggingen til {user.username} er tilbakestilt. Brukeren er logget ut overalt og logger inn "
        "med passord; krever rollen tofaktorinnlogging, må den settes opp på nytt ved neste innlogging."
    )


PROGRESS_SECONDS = 5.0  # a progress line at least this often on a long run
DETAIL_LIMIT = 100  # up to this many plans due: a line for each plan


def thousands(n: int) -> str:
    """12345 → "12 345" (the Norwegian thousands separator)."""
    return f"{n:,}".replace(",", " ")


@portal_cli.command("standing-orders")
@click.option(
    "--date",
    "day",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Leveringsdato (ÅÅÅÅ-MM-DD). Standard: i dag (Europe/Oslo).",
)
def standing_orders_command(day: dt.datetime | None) -> None:
    """Make the orders of the standing orders (faste ordre) due on a date.

    Idempotent and safe to run on several hosts at once: one order per standing order and
    delivery date. Lists every plan when at most 100 are due, otherwise the plans that were
    refused or failed and a progress line every few seconds. Exits with status 1 when an order
    could not be made (the others are made).
    """
    import time

    from app.domain.formatting import format_date, oslo_today
    from app.domain.labels import ORDER_STATUS, label
    from app.domain.standing_orders import (
        CREATED,
        EXISTS,
        FAILED,
        REFUSED,
        Outcome,
        generate_due,
    )
    from app.extensions import db

    delivery = day.date() if day is not None else oslo_today()
    words = {CREATED: "opprettet", EXISTS: "fantes fra før", REFUSED: "avvist", FAILED: "feilet"}
    counts = dict.fromkeys(words, 0)
    click.echo(f"Faste ordre for levering {format_date(delivery)}:")
    last_line = time.monotonic()

    def progress(i: int, total: int, outcome: Outcome) -> None:
        nonlocal last_line
        counts[outcome.result] += 1
        if total <= DETAIL_LIMIT or outcome.result in (REFUSED, FAILED):
            line = f"  [{i}/{total}] «{outcome.name}» ({outcome.company}): {words[outcome.result]}"
            if outcome.order_number:
                line += f" – ordre {outcome.order_number} ({label(ORDER_STATUS, outcome.status)})"
            if outcome.message:
                line += f" – {outcome.message}"
            click.echo(line)
        now = time.monotonic()
        if total > DETAIL_LIMIT and (now - last_line >= PROGRESS_SECONDS or i == total):
            last_line = now
            click.echo(
                f"  {thousands(i)} av {thousands(total)} faste ordre ({thousands(counts[CREATED])} laget, "
                f"{thousands(counts[EXISTS])} fantes fra før, {thousands(counts[REFUSED])} avvist, "
                f"{thousands(counts[FAILED])} feilet)"
            )

    summary = generate_due(db.session, delivery, progress=progress)
    if not summary.outcomes:
        click.echo("  Ingen faste ordre skal leveres denne dagen.")
    click.echo(
        f"Ferdig: {summary.count(CREATED)} opprettet, {summary.count(EXISTS)} fantes fra før, "
        f"{summary.count(REFUSED)} avvist, {summary.count(FAILED)} feilet."
    )
    if summary.count(FAILED):
        raise SystemExit(1)


@portal_cli.command("send-mail")
@click.option(
    "--all",
    "include_waiting",
    is_flag=True,
    help="Prøv også e-post som venter etter en feil (bruk når en SMTP-feil er rettet).",
)
def send_mail_command(include_waiting: bool) -> None:
    """Deliver the mail outbox through the SMTP server (MAIL_SERVER, MAIL_PORT ...).

    At least once: a mail is marked sent only when the server has accepted it; failures wait
    with a growing pause (backoff) and are tried again. A mail the server refuses or that cannot
    be written is marked failed and the run goes on. Batches of mail go over one connection each;
    on PostgreSQL several batches at once, and safe on several hosts at once (SKIP LOCKED).
    Exits with status 1 on an SMTP outage.
    """
    from app.domain.mail import (
        DeliveryReport,
        SuppressedSending,
        deliver,
        pending_count,
    )
    from app.extensions import db

    def progress(report: DeliveryReport) -> None:
        click.echo(f"  sendt så langt: {report.sent}, feilet: {report.failed}")

    try:
        report = deliver(db.session, include_waiting=include_waiting, progress=progress)
    except SuppressedSending as exc:
        click.echo(str(exc), err=True)
        raise SystemExit(1) from exc
    for mail_id, error in report.errors:
        click.echo(f"  e-post {mail_id}: {error}", err=True)
    left = pending_count(db.session)
    db.session.rollback()
    click.echo(f"Ferdig: {report.sent} sendt, {report.failed} feilet, {left} igjen i utboksen.")
    if report.outage:
        click.echo(f"Stoppet: {report.outage}. Alt som ikke ble sendt, ligger fortsatt i utboksen.", err=True)
        raise SystemExit(1)


@portal_cli.command("bench-data")
@click.option("--orders", type=click.IntRange(min=1), required=True, help="Antall ordre (f.eks. 1000000).")
@click.option(
    "--companies",
    type=click.IntRange(min=1),
    default=None,
    help="Antall kundebedrifter. Standard: én per 1000 ordre (minst 4).",
)
@click.option("--if-empty", is_flag=True, help="Gjør ingenting (status 0) når databasen allerede har ordre.")
@click.option("--force", is_flag=True, help="Legg til en ny benkverden også når databasen har ordre.")
def bench_data_command(orders: int, companies: int | None, if_empty: bool, force: bool) -> None:
    """Fill the database with a large, realistic world for `make bench` (scripts/bench.py).

    Companies, users (the demo logins admin, selger, kundeservice, leder, hansen.admin,
    hansen.bruker, berg.admin, berg.bruker with password demo1234, and more), addresses, budgets,
    standing orders, inquiries, the demo catalogue, ORDERS orders over two years with lines,
    events, shipments and invoices, and quotes. PostgreSQL builds it with set-based SQL (1 000 000
    orders in minutes), SQLite in batches (fine for small numbers).

    A database that already has orders is refused (status 1) unless --force (adds a second world
    beside it, ids and numbers after the existing ones) or --if-empty (does nothing, status 0).
    """
    import time

    from app.bench_data import load_bench, order_count, vacuum_analyze
    from app.domain.setup import init_roles
    from app.extensions import db

    with db.engine.connect() as conn:
        existing = order_count(conn)
        has_roles = bool(conn.exec_driver_sql("SELECT count(*) FROM ab_role").scalar())
    if existing and not force:
        if if_empty:
            click.echo(f"Databasen har allerede {existing} ordre: benkdata lastes ikke.")
            return
        click.echo(f"Databasen har allerede {existing} ordre. Bruk --force for å legge til likevel.", err=True)
        raise SystemExit(1)
    if not has_roles:
        init_roles()
    db.session.remove()
    with db.engine.begin() as conn:
        load_bench(conn, orders, companies, echo=click.echo)
    started = time.monotonic()
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        vacuum_analyze(conn)
    click.echo(f"VACUUM ANALYZE ({time.monotonic() - started:.0f} s)")
    click.echo("Innlogginger (passord demo1234): selger, kundeservice, leder, admin, hansen.bruker, berg.bruker")


@portal_cli.command("purge-idempotency-keys")
def purge_idempotency_keys_command() -> None:
    """Delete order keys (form tokens, API Idempotency-Keys) older than 24 hours: they hold nothing back any more."""
    from app.domain import idempotency
    from app.extensions import db

    removed = idempotency.purge(db.session)
    db.session.commit()
    click.echo(f"Slettet {removed} utløpte engangsnøkler for bestillinger.")
