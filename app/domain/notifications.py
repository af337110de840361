"""Mail goes to the outbox in the caller's transaction; `portal send-mail` delivers it."""
from __future__ import annotations

from html import escape
from typing import Optional

from sqlalchemy.orm import Session

from ..models import MailOutbox


def queue_mail(session: Session, *, kind: str, to: str, subject: str, text: str,
               link: Optional[str] = None, dedupe_key: Optional[str] = None) -> MailOutbox:
    """Add one mail to the outbox (plain text and a simple HTML version with the link)."""
    body_text = text if not link else f"{text}\n\n{link}"
    paragraphs = "".join(f"<p>{escape(p)}</p>" for p in text.split("\n\n"))
    body_html = paragraphs + (f'<p><a href="{escape(link)}">{escape(link)}</a></p>' if link else "")
    mail = MailOutbox(kind=kind, to_address=to, subject=subject, body_text=body_text,
                      body_html=body_html, dedupe_key=dedupe_key)
    session.add(mail)
    return mail
