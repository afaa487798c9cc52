"""The email handler: one stored `InboundEvent` of kind "email" → a ticket, a reply, or a
recorded reason why not. Every way in (pipe, Maildir, HTTP, IMAP) stores the raw mail with
`store_email` and processes it with `handle_email` through `helpdesk.services.intake`, so
all of it runs in one transaction per mail: nothing half-written.

Order of decisions:
1. Parse (`parse_message`); an unreadable mail is QUARANTINED with its raw bytes.
2. Classify (`classify`, our addresses = every MailSettings address and from address and
   DEFAULT_FROM_EMAIL, as `current_directory()` keeps them): automatic mail may thread in
   (kept with is_automatic, changing no status) but never creates a ticket (IGNORED, with
   the reason).
3. The mail's own Message-ID is one we sent (`OutboundMessage.provider_id`: a copy of our
   reply landing in a polled mailbox, say): IGNORED, "our own mail" — never a message.
   Thread, first match wins: the mail's own Message-ID already received (a redelivery);
   In-Reply-To, then References newest first, against the Message-IDs we received
   (`Message.external_id` on team-email channels) or sent (`OutboundMessage.provider_id`);
   then a reply token (`reply+<token>@…` among the recipients, `ReplyToken`); then a
   subject tag `[#1234]` — only when the sender is that ticket's contact, since anyone can
   type a number into a subject.
4. No match: a new ticket on the channel whose MailSettings answer for a recipient (To, Cc,
   Delivered-To, X-Original-To, in that order), else the channel the mail came in on; its
   contact found by address (case-insensitive) or created with the From display name —
   never for an address without a domain (MAILER-DAEMON).
"""

import re
import time
from email.utils import parseaddr
from functools import cache

from django.conf import settings
from django.core.signals import setting_changed
from django.db import connection, transaction
from django.db.models.signals import post_delete, post_save
from django.utils import translation
from django.utils.translation import gettext, gettext_noop, ngettext

from helpdesk.models import Channel, InboundEvent, Message, OutboundMessage, Ticket
from helpdesk.services import add_inbound_message, contact_for_email, create_ticket
from helpdesk.services.intake import Outcome, Quarantine, source_key, store_inbound
from mailroom.acknowledge import acknowledge_new_ticket
from mailroom.loops import classify
from mailroom.models import MailSettings, ReplyToken
from mailroom.parsing import _MESSAGE_ID, ParsedMail, UnreadableMessage, _synthetic_id
from mailroom.parsing import parse_message as _parse
from mailroom.threading import Source, thread_candidates

KIND = "email"
NO_SUBJECT = gettext_noop("(no subject)")
OUR_OWN_MAIL = "our own mail"
_HEADER_END = re.compile(rb"\r?\n\r?\n")
_MESSAGE_ID_FIELD = re.compile(rb"^message-id[ \t]*:(.*(?:\r?\n[ \t].*)*)", re.I | re.M)
MAX_CONTACT_ADDRESS = 254


def email_source_id(raw: bytes) -> str:
    """The mail's own id for recognising redeliveries, read cheaply from the header block:
    its Message-ID, or (none) the same synthetic SHA-256 id `parse_message` gives it."""
    data = bytes(raw).lstrip(b"\r\n")
    end = _HEADER_END.search(data)
    head = data[: end.start()] if end else data[: 64 * 1024]
    found = _MESSAGE_ID_FIELD.search(head)
    if found:
        # NULs dropped as `parse_message` drops them (and no database text may hold one).
        value = found.group(1).decode("ascii", "replace").replace("\x00", "")
        ids = _MESSAGE_ID.findall(value)
        token = re.sub(r"\s+", "", ids[0]) if ids else ""
        if token and "\ufffd" not in token:
            return f"<{token}>"
    return _synthetic_id(bytes(raw))


def store_email(*, channel: Channel, raw: bytes, headers: dict | None = None):
    """Keep one raw mail as an InboundEvent before anything reads it (see
    `helpdesk.services.store_inbound`). Returns (event, created)."""
    return store_inbound(
        channel=channel, kind=KIND, source_id=email_source_id(raw), raw=raw, headers=headers
    )


# How long a process keeps the addresses it read (`current_directory`). A change saved in
# this process is seen at once; one saved by another process (the admin's web server, say)
# within this many seconds.
DIRECTORY_SECONDS = 30.0


class Directory:
    """Every active channel's addresses: which channel answers for an address, and which
    addresses are ours. One query; `current_directory()` keeps it for the process."""

    def __init__(self) -> None:
        self.channel_by_address: dict[str, int] = {}
        # DEFAULT_FROM_EMAIL may carry a display name ("Helpdesk <help@…>").
        self.ours: set[str] = {parseaddr(settings.DEFAULT_FROM_EMAIL)[1].strip().lower()}
        # Channels that acknowledge new tickets (`mailroom.acknowledge` reads their templates).
        self.acknowledging: set[int] = set()
        rows = MailSettings.objects.filter(channel__is_active=True).values_list(
            "channel_id", "addresses", "from_address", "acknowledge"
        )
        for channel_id, addresses, from_address, acknowledge in rows:
            if acknowledge:
                self.acknowledging.add(channel_id)
            for address in addresses or []:
                address = str(address).strip().lower()
                self.channel_by_address.setdefault(address, channel_id)
                self.ours.add(address)
            if from_address:
                self.ours.add(from_address.strip().lower())

    def channel_id_for(self, recipients) -> int | None:
        for address in recipients:
            if address in self.channel_by_address:
                return self.channel_by_address[address]
        return None


_kept: tuple[float, Directory] | None = None
_clock = time.monotonic


def current_directory() -> Directory:
    """The addresses as this process last read them, read again when DIRECTORY_SECONDS
    have passed or this process changed a channel or its mail settings (`forget_directory`)."""
    global _kept
    kept = _kept
    now = _clock()
    if kept is None or now - kept[0] >= DIRECTORY_SECONDS:
        kept = _kept = (now, Directory())
    return kept[1]


def forget_directory(**kwargs) -> None:
    """Read the addresses again for the next mail — and once more after the transaction
    that changed them commits, so a mail handled meanwhile cannot keep the old ones."""
    global _kept
    _kept = None
    if kwargs.get("sender") in (MailSettings, Channel):
        transaction.on_commit(forget_directory, using=kwargs.get("using"))


def _forget_on_setting(*, setting: str, **kwargs) -> None:
    if setting == "DEFAULT_FROM_EMAIL":
        forget_directory()


# Connected here rather than in the app's `ready()`: only a process that imported this
# module can have kept addresses to forget.
post_save.connect(forget_directory, sender=MailSettings, dispatch_uid="mailroom.directory")
post_delete.connect(forget_directory, sender=MailSettings, dispatch_uid="mailroom.directory")
post_save.connect(forget_directory, sender=Channel, dispatch_uid="mailroom.directory")
post_delete.connect(forget_directory, sender=Channel, dispatch_uid="mailroom.directory")
setting_changed.connect(_forget_on_setting, dispatch_uid="mailroom.directory")


def parse(raw: bytes) -> ParsedMail:
    return _parse(
        raw,
        max_attachment_bytes=settings.MAIL_MAX_ATTACHMENT_BYTES,
        max_message_attachment_bytes=settings.MAIL_MAX_MESSAGE_BYTES,
    )


def handle_email(event: InboundEvent) -> Outcome:
    """The handler `process_inbound` runs for an email event (inside its transaction). What
    it writes for people (a subject for a mail without one, notes on attachments not kept,
    the acknowledgement) is in the deployment's language."""
    with translation.override(settings.LANGUAGE_CODE):
        return _handle_email(event)


def _handle_email(event: InboundEvent) -> Outcome:
    try:
        parsed = parse(bytes(event.raw))
    except UnreadableMessage as exc:
        raise Quarantine(f"unreadable mail: {exc.reason}") from exc
    directory = current_directory()
    verdict = classify(parsed, directory.ours)
    external_id = source_key(parsed.message_id)
    body = _body(parsed)
    details = {
        "html": parsed.html,
        "quoted": parsed.quoted_text,
        "sender_address": parsed.from_address,
        "sender_name": parsed.from_name,
        "attachments": parsed.attachments,
    }
    ticket_id, how = find_ticket(parsed, external_id=external_id)
    if how == OUR_OWN_MAIL:
        return Outcome(
            status=InboundEvent.Status.IGNORED,
            reason=f"{OUR_OWN_MAIL}: {parsed.message_id} is the Message-ID of a mail we sent "
            f"(ticket #{ticket_id})",
        )
    if ticket_id is not None:
        message, created = add_inbound_message(
            ticket=Ticket(pk=ticket_id),
            body=body,
            external_id=external_id,
            is_automatic=verdict.is_automatic,
            **details,
        )
        reason = f"threaded by {how}" if created else f"already received ({how}): nothing new"
        if verdict.is_automatic:
            reason += f"; automatic ({verdict.reason}): kept, no status change"
        return Outcome(ticket=message.ticket, message=message, reason=reason)
    if verdict.is_automatic:
        return Outcome(
            status=InboundEvent.Status.IGNORED,
            reason=f"automatic mail never creates a ticket: {verdict.reason}",
        )
    channel = _channel(directory.channel_id_for(parsed.recipients), event.channel)
    sender = parsed.from_address
    has_domain = "@" in sender and sender.rsplit("@", 1)[1] != ""
    contact = (
        contact_for_email(email=sender, name=parsed.from_name)
        if has_domain and len(sender) <= MAX_CONTACT_ADDRESS
        else None
    )
    ticket, created = create_ticket(
        subject=parsed.subject.strip() or gettext(NO_SUBJECT),
        body=body,
        channel=channel,
        contact=contact,
        external_id=external_id,
        **details,
    )
    if created:
        message = ticket.first_message
    else:  # the same mail, ticketed by another worker a moment ago
        first = (
            Message.objects.filter(ticket=ticket).order_by("id").values_list("pk", flat=True)[:1]
        )
        message = Message(pk=first[0], ticket=ticket) if first else None
    reason = "new ticket" if created else "already received: nothing new"
    if created and verdict.may_answer and ticket.channel_id in directory.acknowledging:
        answered = acknowledge_new_ticket(ticket=ticket, contact=contact, ours=directory.ours)
        reason = f"{reason}; {answered.reason}" if answered.reason else reason
    return Outcome(ticket=ticket, message=message, reason=reason)


def _channel(routed_id: int | None, arrived_on: Channel | None) -> Channel | None:
    if routed_id is None or (arrived_on is not None and arrived_on.pk == routed_id):
        return arrived_on
    # Deleted or deactivated by another process since this one read the addresses: as if
    # no channel answered for them.
    routed = Channel.objects.filter(pk=routed_id, is_active=True).first()
    return routed if routed is not None else arrived_on


def _body(parsed: ParsedMail) -> str:
    body = parsed.new_text if parsed.new_text.strip() else parsed.text
    notes = [
        # The English says "bytes" for one too (kept as it was).
        ngettext(
            "[Attachment not kept: %(name)s (%(size)s bytes): %(reason)s]",
            "[Attachment not kept: %(name)s (%(size)s bytes): %(reason)s]",
            item.size,
        )
        % {"name": item.filename or gettext("unnamed"), "size": item.size, "reason": item.reason}
        for item in parsed.skipped_attachments
    ]
    return "\n\n".join([body.strip(), *notes]).strip() if notes else body


def find_ticket(parsed: ParsedMail, *, external_id: str) -> tuple[int | None, str]:
    """(ticket id, how it was found) or (None, "") — in the order of the module docstring;
    how is OUR_OWN_MAIL when the mail's own Message-ID is one we sent (with its ticket)."""
    candidates = thread_candidates(parsed)
    referenced = [
        source_key(c.value)
        for c in candidates
        if c.source in (Source.IN_REPLY_TO, Source.REFERENCES)
    ]
    received, sent = _known_ids(external_id, referenced)
    if external_id in sent:
        return sent[external_id], OUR_OWN_MAIL
    if external_id in received:
        return received[external_id], "its own Message-ID (a redelivery)"
    for candidate in candidates:
        if candidate.source in (Source.IN_REPLY_TO, Source.REFERENCES):
            key = source_key(candidate.value)
            found = sent.get(key) or received.get(key)
            if found:
                return found, f"{candidate.source} {candidate.value}"
        elif candidate.source == Source.REPLY_TOKEN:
            found = (
                ReplyToken.objects.filter(token=candidate.value)
                .values_list("ticket_id", flat=True)
                .first()
            )
            if found:
                return found, "reply token"
        elif candidate.source == Source.TICKET_TAG:
            found = (
                Ticket.objects.filter(
                    pk=int(candidate.value), contact__email__iexact=parsed.from_address
                )
                .values_list("pk", flat=True)
                .first()
            )
            if found:
                return found, f"subject tag [#{candidate.value}] from the ticket's contact"
    return None, ""


def _known_ids(external_id: str, referenced: list[str]) -> tuple[dict[str, int], dict[str, int]]:
    """({Message-ID: ticket id} of the mails received, of the mails sent) among the mail's
    own id and the ids it refers to, in one query. A Message-ID received on two team-email
    channels gives the ticket of the later message.

    Written as SQL: the ORM took ten times as long to build this fixed query as the
    database took to answer it."""
    received_sql, sent_sql = _known_ids_sql()
    ids = [external_id, *referenced]
    placeholders = ", ".join(["%s"] * len(ids))
    sql = f"{received_sql % placeholders} UNION ALL {sent_sql % placeholders}"
    params = [Channel.Kind.TEAM_EMAIL.value, Message.Direction.INBOUND.value, *ids, *ids]
    received: dict[str, int] = {}
    sent: dict[str, int] = {}
    with connection.cursor() as cursor:
        cursor.execute(sql + " ORDER BY 4, 5", params)
        for key, ticket_id, ours, _created_at, _pk in cursor.fetchall():
            (sent if ours else received)[key] = ticket_id
    return received, sent


@cache
def _known_ids_sql() -> tuple[str, str]:
    """The two halves of `_known_ids`' query, each with `%s` for its list of ids."""
    q = connection.ops.quote_name

    def column(model, name: str) -> str:
        return f"{q(model._meta.db_table)}.{q(model._meta.get_field(name).column)}"

    message, channel, outbound = (q(m._meta.db_table) for m in (Message, Channel, OutboundMessage))
    received = (
        f"SELECT {column(Message, 'external_id')}, {column(Message, 'ticket')}, 0, "
        f"{column(Message, 'created_at')}, {column(Message, 'id')} "
        f"FROM {message} INNER JOIN {channel} "
        f"ON {column(Message, 'channel')} = {column(Channel, 'id')} "
        f"WHERE {column(Channel, 'kind')} = %%s AND {column(Message, 'direction')} = %%s "
        f"AND {column(Message, 'external_id')} IN (%s)"
    )
    sent = (
        f"SELECT {column(OutboundMessage, 'provider_id')}, {column(Message, 'ticket')}, 1, "
        f"{column(Message, 'created_at')}, {column(Message, 'id')} "
        f"FROM {outbound} INNER JOIN {message} "
        f"ON {column(OutboundMessage, 'message')} = {column(Message, 'id')} "
        f"WHERE {column(OutboundMessage, 'provider_id')} IN (%s)"
    )
    return received, sent
