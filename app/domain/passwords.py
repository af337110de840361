"""The password policy: one rule for every place a person sets a password.

Min profil, the set-password link, the admin's "reset password" form and the `portal` commands
all call `password_problem` / `check_password`. Passwords written by the system itself (the
demo logins, the unknown random password of a new user) are hashes and are not checked here.

The rule (OWASP ASVS 5.0, V6.2):

* 10 to 128 characters; not only digits;
* not the username, and not containing it;
* not guessable: zxcvbn (Dropbox's estimator, with its frequency lists of the most used
  passwords, names and words) must give a score of at least 3 of 4, counting the user's own
  name, username and e-mail address as known words. "password123" is in its lists. It scores the
  first 64 characters: its time grows faster than the length (about 0.2 s at 64 characters, over
  a second at 128), and 64 characters that are guessable make a guessable password.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from zxcvbn import zxcvbn  # type: ignore[import-untyped]  # ships no type information

from app.domain.errors import ValidationFailed

PASSWORD_MIN_LENGTH = 10
PASSWORD_MAX_LENGTH = 128
# zxcvbn's scale: 0-2 fall to an online or a fast offline guessing attack, 3 "safely unguessable"
# for an online attack with throttling, 4 very strong.
MIN_SCORE = 3
SCORED_LENGTH = 64

PASSWORD_HINT = _l(
    "10–128 tegn. Ikke et vanlig passord og ikke brukernavnet. Tips: flere ord som bare du vet at hører sammen."
)

# zxcvbn keeps the user's words in a module-level dictionary while it scores: one at a time.
_ZXCVBN_LOCK = threading.Lock()
_WORD_SPLIT = re.compile(r"[\s._@+-]+")


def _personal_words(username: str | None, personal: Iterable[Any]) -> list[str]:
    """The username and the user's own details, whole and split into parts (hansen.bruker -> hansen, bruker)."""
    words: list[str] = []
    for value in (username, *personal):
        if not isinstance(value, str) or not value.strip():
            continue
        text = value.strip().casefold()
        words.append(text)
        words.extend(part for part in _WORD_SPLIT.split(text) if len(part) >= 3)
    return words


def _strength(password: str, words: list[str]) -> dict[str, Any]:
    with _ZXCVBN_LOCK:
        result: dict[str, Any] = zxcvbn(password[:SCORED_LENGTH], user_inputs=words, max_length=SCORED_LENGTH)
    return result


def _is_common_password(result: dict[str, Any]) -> bool:
    """The whole password is one entry of a list of common passwords (also reversed or l33t)."""
    sequence = result.get("sequence") or []
    return len(sequence) == 1 and sequence[0].get("dictionary_name") == "passwords"


def password_problem(password: str, username: str | None = None, *, personal: Iterable[Any] = ()) -> str | None:
    """The Norwegian reason a new password is refused, or None if it meets the policy.

    `personal`: the user's own details (first and last name, e-mail), which make a weak password.
    """
    if len(password) < PASSWORD_MIN_LENGTH:
        return _("Passordet må ha minst %(n)s tegn.", n=PASSWORD_MIN_LENGTH)
    if len(password) > PASSWORD_MAX_LENGTH:
        return _("Passordet kan ha høyst %(n)s tegn.", n=PASSWORD_MAX_LENGTH)
    if password.isdigit():
        return _("Passordet kan ikke bare bestå av tall.")
    login = (username or "").strip().casefold()
    if login:
        if password.strip().casefold() == login:
            return _("Passordet kan ikke være det samme som brukernavnet.")
        if login in password.casefold():
            return _("Passordet kan ikke inneholde brukernavnet.")
    result = _strength(password, _personal_words(username, personal))
    if _is_common_password(result):
        return _("Dette er et av de mest brukte passordene. Velg et annet.")
    if int(result.get("score", 0)) < MIN_SCORE:
        return _(
            "Passordet er for lett å gjette. Bruk flere ord, og unngå vanlige ord og passord, navn, "
            "årstall og tastaturmønstre."
        )
    return None


def check_password(
    password: Any, username: str | None = None, *, personal: Iterable[Any] = (), field: str = "password"
) -> str:
    """The password if it meets the policy; else ValidationFailed naming `field` (API: 400)."""
    if not isinstance(password, str) or not password:
        raise ValidationFailed({field: _("Skriv et nytt passord.")})
    problem = password_problem(password, username, personal=personal)
    if problem:
        raise ValidationFailed({field: problem})
    return password
