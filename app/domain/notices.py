"""Notices in the portal (the navbar's bell, /varsler/) and the mail that goes with them.

One event, one entry point: `announce` writes a notice for each recipient and queues the kind's
mail to those who have not turned that mail off, both in the caller's transaction (a rolled-back
change leaves neither). The kinds are one table, `KINDS`: label, the notice's text, whether the
user may turn the mail off, the mail's default, the mail template, the link target and who may
receive it (what Min profil offers).

Notices belong to one user (`Notice.user_id`), not to a company: every read and write here is
filtered on the caller's own user id, so nobody reaches another user's notice (its id answers 404).

The bell is one statement per page: the latest notices with the unread count as a scalar subquery
bounded by `UNREAD_BOUND` (the count reads the partial index of unread rows, never more than the
bound). A user without notices has no unread ones, so an empty result means 0.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, literal, select, tuple_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.domain.errors import NotFound, ValidationFailed
from app.domain.guarded import rows_changed
from app.domain.links import portal_link
from app.domain.mail import queue_template_mail
from app.models import MailChoice, Notice, Order, OrderStatus, PortalUser, utcnow
from app.roles import CUSTOMER_ADMIN, CUSTOMER_ROLES, SUPPLIER_ROLES

ORDER_LINK = "/orderview/show/{ref}"
CUSTOMERS = frozenset(CUSTOMER_ROLES)
ALL = frozenset((*CUSTOMER_ROLES, *SUPPLIER_ROLES))


@dataclass(frozen=True)
class Kind:
    code: str
    label: Any  # what Min profil calls it
    text: Any  # the notice, with %(subject)s; None: a mail without a notice
    optional: bool  # may the user turn the mail off? (False: security or the seeds require it)
    template: str | None  # app/templates/mail/<template>.txt; None: a notice without a mail of its own
    target: str  # the notice's link, "{ref}" the row's id
    roles: frozenset[str]  # who may get it (Min profil lists a kind for these roles)
    mail_default: bool = True  # the mail when the user has made no choice


KINDS: dict[str, Kind] = {
    k.code: k
    for k in (
        Kind(
            "order_approved",
            _l("Ordre godkjent"),
            _l("Ordre %(subject)s er godkjent"),
            True,
            "order_approved",
            ORDER_LINK,
            CUSTOMERS,
        ),
        Kind(
            "order_rejected",
            _l("Ordre avvist"),
            _l("Ordre %(subject)s er avvist"),
            True,
            "order_rejected",
            ORDER_LINK,
            CUSTOMERS,
        ),
        Kind(
            "order_shipped",
            _l("Ordre sendt"),
            _l("Ordre %(subject)s er sendt"),
            True,
            "order_shipped",
            ORDER_LINK + "#sporing",
            CUSTOMERS,
        ),
        Kind(
            "order_invoiced",
            _l("Ordre fakturert"),
            _l("Ordre %(subject)s er fakturert"),
            True,
            "order_invoiced",
            ORDER_LINK,
            CUSTOMERS,
        ),
        Kind(
            "budget_exceeded",
            _l("Bruksgrense overskredet"),
            _l("Bruksgrensen for %(subject)s er overskredet"),
            False,  # the seeds: the company's customer admins are mailed when a budget is exceeded
            "budget_exceeded",
            "/bruksgrense/oversikt/",
            frozenset({CUSTOMER_ADMIN}),
        ),
        Kind(
            "inquiry_answered",
            _l("Henvendelse besvart"),
            _l("Svar på henvendelsen «%(subject)s»"),
            True,
            "inquiry_answered",
            "/inquiryview/show/{ref}",
            CUSTOMERS,
        ),
        # A dealer order "Til godkjenning", to the sellers. The bell is enough by default: a seller
        # who wants a mail for each order turns it on.
        Kind(
            "order_waiting_approval",
            _l("Ordre til godkjenning"),
            _l("Ordre %(subject)s venter på godkjenning"),
            True,
            "order_waiting_approval",
            ORDER_LINK,
            frozenset({"Seller"}),
            mail_default=False,
        ),
        # An order waiting for the customer's own approval ("Venter på godkjenning hos dere").
        Kind(
            "internal_approval_waiting",
            _l("Ordre venter på din godkjenning"),
            _l("Ordre %(subject)s venter på din godkjenning"),
            True,
            "internal_approval_waiting",
            ORDER_LINK,
            frozenset({CUSTOMER_ADMIN}),
        ),
        # The order of a standing order: its mail is the order confirmation, sent anyway.
        Kind(
            "standing_order_made",
            _l("Ordre fra fast ordre"),
            _l("Fast ordre «%(subject)s»: ny ordre er laget"),
            True,
            None,
            "/standingorderview/show/{ref}",
            frozenset({CUSTOMER_ADMIN}),
        ),
        Kind(
            "standing_order_skipped",
            _l("Fast ordre ikke laget"),
            _l("Fast ordre «%(subject)s»: ingen ordre ble laget"),
            True,
            "standing_order_skipped",
            "/standingorderview/show/{ref}",
            frozenset({CUSTOMER_ADMIN}),
        ),
        # Mail only, never turned off: the login depends on them (app/domain/accounts.py).
        Kind("user_welcome", _l("Velkomst med lenke for å velge passord"), None, False, None, "", ALL),
        Kind("password_link", _l("Lenke for å velge nytt passord"), None, False, None, "", ALL),
    )
}

BELL_LATEST = 5  # notices in the bell's dropdown
UNREAD_BOUND = 100  # the bell counts at most this many unread ("99+")
PAGE_SIZE = 25  # /varsler/ and the API's default page
MAX_PAGE_SIZE = 100

UNKNOWN_KIND = _l("Ukjent type varsel.")
NOT_FOUND = _l("Fant ikke varselet.")
FIXED = _l("Denne e-posten kan ikke slås av.")


def kind_of(code: str) -> Kind:
    kind = KINDS.get(code)
    if kind is None:
        raise ValidationFailed({"kind": str(UNKNOWN_KIND)})
    return kind


def notice_text(kind: str, subject: str) -> str:
    """The notice as shown, in the page's language (the subject is the row's number or name)."""
    entry = KINDS.get(kind)
    template = str(entry.text) if entry is not None and entry.text is not None else "%(subject)s"
    return template % {"subject": subject}


# --- writing: one event, a notice and a mail per recipient ------------------------------------


@dataclass(frozen=True)
class Recipient:
    user_id: int
    email: str | None
    mail: bool  # the kind's mail goes to this user


def mail_wanted(session: Session, kind: str, user_ids: Iterable[int]) -> set[int]:
    """The users (of `user_ids`) who get `kind`'s mail: the fixed kinds always, else by choice
    or the kind's default (one query, none for a fixed kind)."""
    entry = kind_of(kind)
    ids = set(user_ids)
    if not entry.optional or not ids:
        return ids
    rows = session.execute(
        select(MailChoice.user_id, MailChoice.enabled).where(MailChoice.kind == kind, MailChoice.user_id.in_(ids))
    )
    chosen = {uid: enabled for uid, enabled in rows}
    return {uid for uid in ids if chosen.get(uid, entry.mail_default)}


def recipients(session: Session, kind: str, users: Iterable[Any]) -> list[Recipient]:
    """The users (anything with `id` and `email`) as recipients of `kind`, each with whether the
    mail goes to them (one query)."""
    users = [u for u in users if u is not None and u.id is not None]
    wanted = mail_wanted(session, kind, (u.id for u in users)) if kind_of(kind).template else set()
    return [Recipient(u.id, u.email, u.id in wanted) for u in users]


def announce(
    session: Session,
    kind: str,
    to: Sequence[PortalUser] | Sequence[Recipient],
    *,
    ref: int,
    subject: str,
    link: str | None = None,
    dedupe_key: str | None = None,
    template: str | None = None,
    **mail_context: Any,
) -> list[Notice]:
    """The notice of an event to each recipient, and the kind's mail to those who want it, in the
    caller's transaction. `to`: users, or `recipients(...)` prepared once for many events (the
    standing-order job). `link` overrides the kind's target (a path); the mail links to it too.
    `dedupe_key` goes on the mail (one recipient only: e.g. once per budget, period and admin).
    `template` words the mail for a case of the kind (an order rejected by the customer's own admin)."""
    entry = kind_of(kind)
    prepared = [r for r in to if isinstance(r, Recipient)]
    users = [u for u in to if isinstance(u, PortalUser)]
    if users:
        prepared += recipients(session, kind, users)
    path = link if link is not None else entry.target.format(ref=ref)
    now = utcnow()
    notices: list[Notice] = []
    for r in prepared:
        if entry.text is not None:
            notice = Notice(**notice_row(r.user_id, kind, subject, path, now))
            session.add(notice)
            notices.append(notice)
        if entry.template and r.mail and r.email:
            queue_template_mail(
                session,
                kind=kind,
                to=r.email,
                template=template or entry.template,
                link=portal_link(path),
                dedupe_key=dedupe_key,
                **mail_context,
            )
    return notices


def notice_row(user_id: int, kind: str, subject: str, path: str, now: dt.datetime) -> dict[str, Any]:
    """The notices row of one recipient (announce's, and the standing-order job's bulk INSERT)."""
    return {"user_id": user_id, "kind": kind, "subject": subject[:200], "link": path, "created_at": now}


def announce_rows(
    kind: str,
    to: Sequence[Recipient],
    *,
    ref: int,
    subject: str,
    now: dt.datetime,
    mail: Callable[[str, str], dict[str, Any]] | None = None,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """What `announce` writes, as rows for a bulk INSERT (the standing-order job): the notice of
    each recipient, and the kind's mail (`mail(address, link)`, an outbox row) to those who want it."""
    entry = kind_of(kind)
    path = entry.target.format(ref=ref)
    rows = [notice_row(r.user_id, kind, subject, path, now) for r in to] if entry.text is not None else []
    mails: list[dict[str, Any]] = []
    wanted = [r.email for r in to if r.mail and r.email] if entry.template else []
    if wanted:
        if mail is None:
            raise ValueError(f"{kind}: the mail's rows are needed")
        link = portal_link(path)
        mails = [mail(address, link) for address in wanted]
    return rows, mails


def approvers(session: Session) -> list[Any]:
    """The sellers who work the queue "Til godkjenning" (active, supplier side): id and e-mail only.
    A customer's request places the dealer order, and the tenancy guard hides supplier staff from
    it; the sellers are read past the guard for this alone, as plain values (no user object enters
    the customer's session, nothing of them is shown to the customer)."""
    stmt = (
        select(PortalUser.id, PortalUser.email)
        .where(
            PortalUser.active.is_(True),
            PortalUser.company_id.is_(None),
            PortalUser.roles.any(name="Seller"),
        )
        .order_by(PortalUser.id)
        .execution_options(skip_tenant_scope=True)
    )
    return list(session.execute(stmt))


def order_waiting(session: Session, order: Order, to: Sequence[Recipient] | None = None) -> None:
    """A dealer order waits "Til godkjenning": tell the sellers (`to` prepared once for a batch)."""
    if order.status != OrderStatus.pending_approval.value:
        return
    audience = to if to is not None else recipients(session, "order_waiting_approval", approvers(session))
    announce(session, "order_waiting_approval", audience, ref=order.id, subject=order.number, order=order)


# --- reading: the bell, the list --------------------------------------------------------------


@dataclass(frozen=True)
class NoticeRow:
    id: int
    kind: str
    subject: str
    link: str
    created_at: dt.datetime
    read_at: dt.datetime | None

    @property
    def text(self) -> str:
        return notice_text(self.kind, self.subject)

    @property
    def kind_label(self) -> str:
        entry = KINDS.get(self.kind)
        return str(entry.label) if entry is not None else self.kind


@dataclass(frozen=True)
class Bell:
    unread: int  # at most UNREAD_BOUND
    latest: list[NoticeRow]

    @property
    def unread_text(self) -> str:
        return f"{UNREAD_BOUND - 1}+" if self.unread >= UNREAD_BOUND else str(self.unread)


# Newest first, in the order of ix_notices_user_id (user_id, id). PostgreSQL's planner can also
# answer "user_id = :u ORDER BY id DESC" by walking the primary key backwards and skipping other
# users' rows, and picks it, not knowing that a user's rows may all be old: 21 ms past 150 000
# newer rows of others for a user with 100 000 notices. Written there as a range of one user,
# ordered by (user_id, id) and paged by the row value (user_id, id) < (:u, :before), only the
# user's own indexes give that order and bound (0.4 ms). SQLite picks the index for the plain
# equality, and would scan with the range: each gets its own form of the same condition.
NEWEST = (Notice.user_id.desc(), Notice.id.desc())


def _postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _own(user_id: int, postgres: bool) -> Any:
    return Notice.user_id.between(user_id, user_id) if postgres else Notice.user_id == user_id


def _older(user_id: int, before: int, postgres: bool) -> Any:
    return (
        tuple_(Notice.user_id, Notice.id) < tuple_(literal(user_id), literal(before))
        if postgres
        else Notice.id < before
    )


_COLUMNS = (Notice.id, Notice.kind, Notice.subject, Notice.link, Notice.created_at, Notice.read_at)


def _row(row: Any) -> NoticeRow:
    return NoticeRow(row.id, row.kind, row.subject, row.link, row.created_at, row.read_at)


def bell_statement(user_id: int, latest: int = BELL_LATEST, postgres: bool = False) -> Any:
    """The bell in one statement: the latest notices, each row carrying the bounded unread count."""
    unread = (
        select(func.count())
        .select_from(
            select(Notice.id)
            .where(_own(user_id, postgres), Notice.read_at.is_(None))
            .order_by(Notice.user_id, Notice.id)  # the partial index's order: no scan of the table
            .limit(UNREAD_BOUND)
            .subquery()
        )
        .scalar_subquery()
    )
    return select(*_COLUMNS, unread.label("unread")).where(_own(user_id, postgres)).order_by(*NEWEST).limit(latest)


def bell(session: Session, user_id: int) -> Bell:
    rows = session.execute(bell_statement(user_id, postgres=_postgres(session))).all()
    return Bell(unread=rows[0].unread if rows else 0, latest=[_row(r) for r in rows])


@dataclass(frozen=True)
class NoticePage:
    rows: list[NoticeRow]
    next_before: int | None  # the keyset of the next (older) page, None on the last


def page(session: Session, user_id: int, before: int | None = None, size: int = PAGE_SIZE) -> NoticePage:
    """The user's notices newest first, `size` at a time, older than the id `before` (keyset: one
    statement per page, however deep)."""
    size = max(1, min(size, MAX_PAGE_SIZE))
    postgres = _postgres(session)
    stmt = select(*_COLUMNS).where(_own(user_id, postgres))
    if before is not None:
        stmt = stmt.where(_older(user_id, before, postgres))
    rows = [_row(r) for r in session.execute(stmt.order_by(*NEWEST).limit(size + 1))]
    more = len(rows) > size
    rows = rows[:size]
    return NoticePage(rows, rows[-1].id if more else None)


def open_notice(session: Session, user_id: int, notice_id: int) -> str:
    """The link of the user's own notice, marked read (another user's or a missing one: NotFound)."""
    link = session.scalar(select(Notice.link).where(Notice.id == notice_id, Notice.user_id == user_id))
    if link is None:
        raise NotFound(NOT_FOUND)
    mark_read(session, user_id, notice_id)
    return link


def mark_read(session: Session, user_id: int, notice_id: int) -> bool:
    """Mark one of the user's notices read: a conditional UPDATE (True when this call changed it;
    already read: False, nothing changes). Another user's notice: NotFound."""
    changed = rows_changed(
        session,
        update(Notice)
        .where(Notice.id == notice_id, Notice.user_id == user_id, Notice.read_at.is_(None))
        .values(read_at=utcnow())
        .execution_options(synchronize_session=False),
    )
    if changed:
        return True
    if session.scalar(select(Notice.id).where(Notice.id == notice_id, Notice.user_id == user_id)) is None:
        raise NotFound(NOT_FOUND)
    return False


def mark_all_read(session: Session, user_id: int) -> int:
    """Mark every unread notice of the user read (one UPDATE over the unread index); how many."""
    return rows_changed(
        session,
        update(Notice)
        .where(Notice.user_id == user_id, Notice.read_at.is_(None))
        .values(read_at=utcnow())
        .execution_options(synchronize_session=False),
    )


# --- mail choices (Min profil) -----------------------------------------------------------------


@dataclass(frozen=True)
class Choice:
    kind: str
    label: str
    enabled: bool
    fixed: bool  # cannot be turned off


def kinds_for(roles: Iterable[str]) -> list[Kind]:
    """The kinds with a mail that a user of these roles may receive (Admin: every one)."""
    names = set(roles)
    return [k for k in KINDS.values() if (k.template or not k.text) and ("Admin" in names or k.roles & names)]


def mail_choices(session: Session, user_id: int, roles: Iterable[str]) -> list[Choice]:
    """The mails a user of these roles may get, each on or off (fixed ones always on)."""
    kinds = kinds_for(roles)
    rows = session.execute(select(MailChoice.kind, MailChoice.enabled).where(MailChoice.user_id == user_id))
    chosen = {kind: enabled for kind, enabled in rows}
    return [
        Choice(k.code, str(k.label), True if not k.optional else chosen.get(k.code, k.mail_default), not k.optional)
        for k in kinds
    ]


def set_mail_choice(session: Session, user_id: int, kind: str, enabled: bool) -> None:
    """Mail of `kind` on or off for the user (a fixed kind: ValidationFailed on "kind"). One row per
    user and kind (unique): an UPDATE, else an INSERT, which a parallel first choice may beat."""
    entry = kind_of(kind)
    if not entry.optional or not entry.template:
        if enabled:
            return
        raise ValidationFailed({"kind": str(FIXED)})
    values = {"enabled": bool(enabled), "changed_at": utcnow()}
    stmt = update(MailChoice).where(MailChoice.user_id == user_id, MailChoice.kind == kind).values(**values)
    if rows_changed(session, stmt.execution_options(synchronize_session=False)):
        return
    try:
        with session.begin_nested():
            session.add(MailChoice(user_id=user_id, kind=kind, **values))
    except IntegrityError:
        session.execute(stmt.execution_options(synchronize_session=False))


def set_mail_choices(session: Session, user_id: int, roles: Iterable[str], enabled: Mapping[str, bool]) -> None:
    """Min profil's form: every kind the user may turn off, on when ticked."""
    for k in kinds_for(roles):
        if k.optional and k.template:
            set_mail_choice(session, user_id, k.code, bool(enabled.get(k.code)))
