"""Mail loops and automatic mail (RFC 3834 and common practice): is a person writing?

`classify` looks at a parsed mail and says whether it was sent automatically — an
out-of-office reply, a bounce, a mailing list or bulk sender, a system notification, or a
copy of our own mail — and why, in plain words. Automatic mail never creates a ticket and
is never answered (no acknowledgement, no auto-reply: that is how two robots end up writing
to each other forever). Whether it may still be added to a ticket it threads into is the
caller's rule; `classify` only states the facts.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from mailroom.parsing import ParsedMail


class Kind(StrEnum):
    PERSONAL = "personal"
    OWN_ADDRESS = "own_address"
    BOUNCE = "bounce"
    AUTO_REPLY = "auto_reply"
    AUTOMATED = "automated"
    BULK = "bulk"


# When several rules match, the kind is that of the first in this order.
PRIORITY = (Kind.OWN_ADDRESS, Kind.BOUNCE, Kind.AUTO_REPLY, Kind.AUTOMATED, Kind.BULK)
MAIL_SERVERS = {"mailer-daemon", "postmaster"}
BULK_PRECEDENCE = {"bulk", "list", "junk"}


@dataclass(frozen=True)
class Classification:
    kind: Kind
    reasons: tuple[str, ...]  # every rule that matched, in plain words; () for personal mail

    @property
    def is_automatic(self) -> bool:
        return self.kind is not Kind.PERSONAL

    @property
    def may_create_ticket(self) -> bool:
        return not self.is_automatic

    @property
    def may_answer(self) -> bool:
        """May we send anything automatic back (an acknowledgement, an auto-reply)?"""
        return not self.is_automatic

    @property
    def reason(self) -> str:
        return "; ".join(self.reasons) if self.reasons else "written by a person"


def classify(parsed: ParsedMail, our_addresses: Iterable[str] = ()) -> Classification:
    found = list(_rules(parsed, our_addresses))
    if not found:
        return Classification(Kind.PERSONAL, ())
    kinds = {kind for kind, _ in found}
    kind = next(kind for kind in PRIORITY if kind in kinds)
    return Classification(kind, tuple(reason for _, reason in found))


def _token(value: str | None) -> str:
    """The value's first token, lower-case: `Auto-Submitted: auto-replied; …` → `auto-replied`."""
    return re.split(r"[;\s]", (value or "").strip(), maxsplit=1)[0].lower()


def _rules(parsed: ParsedMail, our_addresses: Iterable[str]):
    headers = parsed.headers
    sender = parsed.from_address
    local, _, domain = sender.rpartition("@")
    ours = {address.strip().lower() for address in our_addresses}
    plain_local = local.split("+", 1)[0]
    if sender in ours or (domain and f"{plain_local}@{domain}" in ours):
        yield Kind.OWN_ADDRESS, f"sent from our own address {sender}"

    content_type = headers.get("content-type", "")
    if parsed.content_type == "multipart/report":
        match = re.search(r"report-type\s*=\s*\"?([\w.-]+)", content_type, re.I)
        report = match.group(1).lower() if match else ""
        if report == "delivery-status":
            yield Kind.BOUNCE, "a delivery status notification (multipart/report)"
        elif report == "disposition-notification":
            yield Kind.AUTO_REPLY, "a read receipt (multipart/report)"
        else:
            yield Kind.AUTOMATED, f"an automatic report (multipart/report; {report or 'no type'})"
    if "x-failed-recipients" in headers:
        yield Kind.BOUNCE, "a bounce: it names failed recipients (X-Failed-Recipients)"
    if (local or sender) in MAIL_SERVERS:
        yield Kind.BOUNCE, f"sent by a mail server ({sender})"
    if headers.get("return-path", "").replace(" ", "") == "<>":
        yield Kind.AUTO_REPLY, "null return path (Return-Path: <>), used by automatic mail"

    auto_submitted = _token(headers.get("auto-submitted"))
    if auto_submitted == "auto-replied":
        yield Kind.AUTO_REPLY, "an automatic reply (Auto-Submitted: auto-replied)"
    elif auto_submitted and auto_submitted != "no":
        yield Kind.AUTOMATED, f"sent automatically (Auto-Submitted: {auto_submitted})"
    suppress = headers.get("x-auto-response-suppress", "").strip()
    if suppress and suppress.lower() != "none":
        yield Kind.AUTOMATED, f"asks not to be answered (X-Auto-Response-Suppress: {suppress})"
    for name in ("x-autoreply", "x-autorespond"):
        if name in headers:
            yield Kind.AUTO_REPLY, f"an automatic reply ({name.title()} header)"

    precedence = _token(headers.get("precedence"))
    if precedence == "auto_reply":
        yield Kind.AUTO_REPLY, "an automatic reply (Precedence: auto_reply)"
    elif precedence in BULK_PRECEDENCE:
        yield Kind.BULK, f"bulk mail (Precedence: {precedence})"
    if "list-id" in headers:
        yield Kind.BULK, f"sent through a mailing list (List-Id: {headers['list-id']})"
