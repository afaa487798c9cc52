"""Which ticket a mail belongs to — the pure half: the candidates, in the order to try them.

1. In-Reply-To, then References newest first: Message-IDs to match against the messages
   we sent or received.
2. A reply token from a recipient address `reply+<token>@…` (the Reply-To we set).
3. A ticket tag in the subject, `[#1234]`.

The lookup against the database is a later round's; the first candidate that matches wins.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from mailroom.parsing import ParsedMail

# Tokens we issue are lower-case letters and digits (addresses are compared lower-cased).
TOKEN = re.compile(r"[a-z0-9_-]{8,128}")
TICKET_TAG = re.compile(r"\[\s*(?:ticket\s*)?#\s*(\d{1,12})\s*\]", re.I)


class Source(StrEnum):
    IN_REPLY_TO = "in-reply-to"
    REFERENCES = "references"
    REPLY_TOKEN = "reply-token"
    TICKET_TAG = "ticket-tag"


@dataclass(frozen=True)
class Candidate:
    source: Source
    value: str  # a Message-ID "<…>", a token, or a ticket number as digits


def thread_candidates(parsed: ParsedMail, *, local_prefix: str = "reply") -> tuple[Candidate, ...]:
    """Every way `parsed` may point at an existing ticket, most reliable first, no repeats."""
    found: list[Candidate] = []
    seen: set[str] = set()
    ids = [(Source.IN_REPLY_TO, parsed.in_reply_to)] if parsed.in_reply_to else []
    ids += [(Source.REFERENCES, reference) for reference in reversed(parsed.references)]
    for source, message_id in ids:
        if message_id not in seen and message_id != parsed.message_id:
            seen.add(message_id)
            found.append(Candidate(source, message_id))
    token = reply_token(parsed.recipients, local_prefix=local_prefix)
    if token is not None:
        found.append(Candidate(Source.REPLY_TOKEN, token))
    number = ticket_tag(parsed.subject)
    if number is not None:
        found.append(Candidate(Source.TICKET_TAG, str(number)))
    return tuple(found)


def reply_token(addresses: Iterable[str], local_prefix: str = "reply") -> str | None:
    """The token of the first address `<local_prefix>+<token>@…`, lower-cased, or None."""
    prefix = f"{local_prefix.lower()}+"
    for address in addresses:
        local, at, _domain = str(address).strip().lower().rpartition("@")
        if at and local.startswith(prefix):
            token = local[len(prefix) :]
            if TOKEN.fullmatch(token):
                return token
    return None


def ticket_tag(subject: str) -> int | None:
    """The ticket number of the first tag like `[#1234]` (or `[Ticket #1234]`) in `subject`."""
    match = TICKET_TAG.search(subject or "")
    return int(match.group(1)) if match else None
