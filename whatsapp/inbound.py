"""The WhatsApp handler: one stored event (a message or a status) → part of a ticket, a
delivery state on our outbound message, or a recorded reason why not. `process(event_id)`
(the task's entry) fetches a message's media first, with no transaction open and no row
locked (`prefetch_media`: up to two Graph calls of WHATSAPP_HTTP_TIMEOUT_SECONDS each), then
`process_inbound` runs `handle_event` inside the event's transaction, so a message is
written whole or not at all. (`handle_event` called without what was prefetched fetches
the media itself, inside the transaction.)

A message:
1. the same wamid already on a message of the channel → nothing new (a redelivery);
2. its text, or a readable line for what has none (location, reaction, contact card,
   unsupported), and its media (`whatsapp.media`) — fetched before the event was claimed;
   Meta not answering fails the event (`MediaUnavailable`), tried again by the task;
3. the contact by WhatsApp id (`Contact.whatsapp_id`, the `wa_id`), created on first sight
   with the profile name; a transaction-scoped advisory lock on the WhatsApp id
   (PostgreSQL) makes two workers with messages of one new customer take turns, so there
   is one contact and one ticket;
4. the contact's newest ticket on this channel that is not closed gets the message
   (`add_inbound_message`: it comes back to the agents); no such ticket — none yet, or only
   closed ones — a new Messages ticket (`create_ticket`; routing follows by itself). A
   reaction never opens a ticket, and changes no ticket's status;
5. the message's `created_at` is when the customer sent it — Meta's `timestamp`
   (`sent_at`: never later than now; absent, garbled or older than `OLDEST_SENT_AT`, our
   own time is kept) — not when a worker got to it: the 24-hour customer-service window
   (`whatsapp.outbound.window_closes_at`) is measured from it, as Meta measures it, so a
   backlog or a late redelivery cannot make the page offer free text Meta would refuse.

A status (sent, delivered, read, failed) is recorded on the outbound message we sent with
that wamid (`whatsapp.outbound.record_status`); one we do not know yet — its send may not
have committed — fails and is tried again by the task, then ignored.
"""

import re
from datetime import UTC, datetime, timedelta
from functools import partial

from django.conf import settings
from django.db import connection
from django.utils import timezone, translation
from django.utils.translation import gettext

from helpdesk.models import Channel, Contact, InboundEvent, Message, Ticket
from helpdesk.models.tickets import OPEN_SQL
from helpdesk.services import add_inbound_message, create_ticket
from helpdesk.services.intake import CLAIMABLE, Outcome, Quarantine, process_inbound
from whatsapp import media
from whatsapp.models import WhatsAppOutbound, WhatsAppSettings
from whatsapp.outbound import STATES, record_status
from whatsapp.payload import MESSAGE, OTHER, STATUS
from whatsapp.webhook import KIND, REJECTED_PREFIX

Status = InboundEvent.Status
WA_ID = re.compile(r"^\+?[0-9]{4,32}$")
SUBJECT_LENGTH = 80
# A status arriving before the send that it reports committed: tries before it is ignored.
RETRYABLE = ("MediaUnavailable", "UnknownWamid")
# Meta redelivers for up to 7 days: a message "sent" longer ago than this is a garbled time.
OLDEST_SENT_AT = timedelta(days=30)


class NotConfigured(Exception):
    """The event's channel has no WhatsApp settings (any more): fails, retry once fixed."""


class UnknownWamid(Exception):
    """No outbound message of ours has this wamid yet."""


def worth_retrying(event: InboundEvent) -> bool:
    """A failure the task tries again after a backoff (Meta down, a status too early)."""
    return event.status == Status.FAILED and event.error.split(":", 1)[0] in RETRYABLE


def _text(value, limit: int = 100_000) -> str:
    return value.strip()[:limit] if isinstance(value, str) else ""


def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}


# What `prefetch_media` hands the handler: the media, Meta's silence, or nothing to fetch.
Prefetched = media.Fetched | media.MediaUnavailable | None


def process(event_id: int) -> InboundEvent | None:
    """Process one stored event as the task does: media first, then the claim."""
    prefetched = prefetch_media(event_id)
    return process_inbound(event_id, partial(handle_event, prefetched=prefetched))


def prefetch_media(event_id: int) -> Prefetched:
    """The media of a stored, still claimable message event, downloaded before the event is
    claimed (so no row is locked during the HTTP calls). None when there is nothing to
    fetch: not a media message, already received, not this channel's number."""
    found = (
        InboundEvent.objects.filter(pk=event_id, kind=KIND, status__in=CLAIMABLE)
        .values_list("payload", "channel_id", "source_id")
        .first()
    )
    if found is None:
        return None
    payload, channel_id, wamid = _dict(found[0]), found[1], found[2]
    message = _dict(payload.get("message"))
    if payload.get("item") != MESSAGE or channel_id is None:
        return None
    kind = readable(message)[1]
    if kind is None or Message.objects.filter(channel_id=channel_id, external_id=wamid).exists():
        return None
    wa = WhatsAppSettings.objects.filter(channel_id=channel_id).first()
    phone = _text(_dict(payload.get("metadata")).get("phone_number_id"))
    if wa is None or (phone and phone != wa.phone_number_id):
        return None
    try:
        return media.fetch(wa, kind, _dict(message.get(kind)))
    except media.MediaUnavailable as exc:
        return exc  # raised by the handler, so the event records it and is tried again


def handle_event(event: InboundEvent, prefetched: Prefetched = None) -> Outcome:
    """The handler `process_inbound` runs for a WhatsApp event (inside its transaction). What
    it writes for people (the thread's text for media, locations, reactions …, a subject) is
    in the deployment's language."""
    with translation.override(settings.LANGUAGE_CODE):
        return _handle_event(event, prefetched)


def _handle_event(event: InboundEvent, prefetched: Prefetched = None) -> Outcome:
    payload = _dict(event.payload)
    item = payload.get("item")
    if event.source_id.startswith(REJECTED_PREFIX) or item == "rejected":
        return Outcome(Status.IGNORED, reason=event.error or "A rejected delivery.")
    try:
        wa = event.channel.whatsapp_settings if event.channel else None
    except WhatsAppSettings.DoesNotExist:
        wa = None
    if wa is None:
        raise NotConfigured("the event's channel has no WhatsApp settings")
    if item == OTHER:
        return Outcome(Status.IGNORED, reason="The delivery holds no message and no status.")
    if event.source_id.startswith("unreadable:"):
        raise Quarantine(f"the {item or 'item'} has no id (or no state) to recognise it by")
    phone = _text(_dict(payload.get("metadata")).get("phone_number_id"))
    if phone and phone != wa.phone_number_id:
        return Outcome(
            Status.IGNORED,
            reason=(
                f"Addressed to phone number id {phone}, not this channel's "
                f"({wa.phone_number_id}): point that number's webhook at its own channel."
            ),
        )
    if item == STATUS:
        return handle_status(event, _dict(payload.get("status")))
    if item == MESSAGE:
        return handle_message(event, wa, payload, prefetched)
    raise Quarantine(f"not a WhatsApp message or status: {str(item)[:40]!r}")


# --- messages ----------------------------------------------------------------------------


def readable(message: dict) -> tuple[str, str | None]:
    """(the message's text for the thread, its media kind or None)."""
    kind = _text(message.get("type")) or "unknown"
    part = _dict(message.get(kind))
    if kind == "text":
        return _text(part.get("body")) or gettext("[An empty message]"), None
    if kind in media.MEDIA_TYPES:
        caption = _text(part.get("caption"))
        return caption or media.placeholder(kind), kind
    if kind == "location":
        where = ", ".join(t for t in (_text(part.get("name")), _text(part.get("address"))) if t)
        coordinates = f"{part.get('latitude', '?')}, {part.get('longitude', '?')}"
        if where:
            text = gettext("[Location: %(where)s — %(coordinates)s]") % {
                "where": where,
                "coordinates": coordinates,
            }
        else:
            text = gettext("[Location: %(coordinates)s]") % {"coordinates": coordinates}
        return text[:2000], None
    if kind == "reaction":
        emoji = _text(part.get("emoji"), 40)
        if emoji:
            return gettext("[Reaction %(emoji)s to an earlier message]") % {"emoji": emoji}, None
        return gettext("[Reaction removed]"), None
    if kind == "interactive":
        choice = _dict(part.get("button_reply")) or _dict(part.get("list_reply"))
        return _text(choice.get("title")) or gettext("[An answer to a menu]"), None
    if kind == "button":
        return _text(part.get("text")) or gettext("[A button was pressed]"), None
    if kind == "contacts":
        names = [
            _text(_dict(c.get("name")).get("formatted_name"), 200)
            for c in message.get("contacts") or []
            if isinstance(c, dict)
        ]
        names_text = ", ".join(n for n in names if n) or gettext("no name")
        return gettext("[Contact card: %(names)s]") % {"names": names_text}, None
    if kind == "system":
        return f"[{_text(part.get('body')) or gettext('A WhatsApp system message')}]", None
    errors = [e for e in message.get("errors") or [] if isinstance(e, dict)]
    if errors and errors[0].get("title"):
        return gettext("[A %(kind)s message, which WhatsApp does not pass on: %(why)s]") % {
            "kind": kind[:40],
            "why": _text(errors[0].get("title"), 300),
        }, None
    return gettext("[A %(kind)s message, which WhatsApp does not pass on]") % {
        "kind": kind[:40]
    }, None


def subject_for(text: str, message_type: str, name: str, wa_id: str) -> str:
    """A text's first line; for anything else "WhatsApp message from <name>"."""
    first = text.strip().splitlines()[0].strip() if text.strip() else ""
    if first and message_type == "text":
        return first if len(first) <= SUBJECT_LENGTH else first[: SUBJECT_LENGTH - 1] + "…"
    return gettext("WhatsApp message from %(name)s") % {"name": name or "+" + wa_id.lstrip("+")}


def _lock_sender(wa_id: str) -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"whatsapp:{wa_id}"])


def contact_for_whatsapp(*, wa_id: str, name: str = "") -> Contact:
    """The contact with this WhatsApp id, created on first sight; a name fills a blank one.
    The caller holds the sender's lock (`_lock_sender`)."""
    contact = Contact.objects.filter(whatsapp_id=wa_id).order_by("pk").first()
    if contact is None:
        return Contact.objects.create(whatsapp_id=wa_id, phone=f"+{wa_id}", name=name)
    if name and not contact.name:
        contact.name = name
        contact.save(update_fields=["name"])
    return contact


def open_ticket_of(channel: Channel, contact: Contact) -> Ticket | None:
    """The contact's newest ticket on this channel that is not closed."""
    return (
        Ticket.objects.filter(OPEN_SQL, channel=channel, contact=contact)
        .order_by("-created_at", "-id")
        .first()
    )


def sent_at(value, *, now: datetime) -> datetime | None:
    """When the customer sent the message (Meta's `timestamp`, Unix seconds), never later
    than `now`; None when absent, garbled or older than `OLDEST_SENT_AT`."""
    try:
        seconds = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    if not 0 < seconds < 10**11:
        return None
    at = datetime.fromtimestamp(seconds, tz=UTC)
    if at < now - OLDEST_SENT_AT:
        return None
    return min(at, now)


def handle_message(
    event: InboundEvent, wa: WhatsAppSettings, payload: dict, prefetched: Prefetched = None
) -> Outcome:
    message = _dict(payload.get("message"))
    wa_id = _text(message.get("from")).lstrip("+")
    if not WA_ID.match(wa_id):
        raise Quarantine("the message names no sender (a WhatsApp id)")
    wamid = event.source_id
    channel = event.channel
    known = Message.objects.filter(channel=channel, external_id=wamid).first()
    if known is not None:
        return Outcome(
            ticket=Ticket(pk=known.ticket_id),
            message=known,
            reason="Already received: a message with this wamid is on the ticket.",
        )
    profile = _dict(_dict(payload.get("contact")).get("profile"))
    name = _text(profile.get("name"), 200)
    text, media_kind = readable(message)
    files = []
    if media_kind is not None:
        if isinstance(prefetched, media.MediaUnavailable):
            raise prefetched
        fetched = (
            prefetched
            if isinstance(prefetched, media.Fetched)
            else media.fetch(wa, media_kind, _dict(message.get(media_kind)))
        )
        if fetched.file is not None:
            files.append(fetched.file)
        else:
            text = (
                f"{text}\n{fetched.note}" if text != media.placeholder(media_kind) else fetched.note
            )
    is_reaction = message.get("type") == "reaction"
    details = {
        "body": text,
        "external_id": wamid,
        "sender_address": f"+{wa_id}",
        "sender_name": name,
        "attachments": files,
    }
    sent = sent_at(message.get("timestamp"), now=timezone.now())
    _lock_sender(wa_id)
    contact = contact_for_whatsapp(wa_id=wa_id, name=name)
    ticket = open_ticket_of(channel, contact)
    if ticket is not None:
        added, _ = add_inbound_message(
            ticket=ticket, is_automatic=is_reaction, created_at=sent, **details
        )
        return Outcome(ticket=ticket, message=added, reason=f"Added to open ticket #{ticket.pk}.")
    if is_reaction:
        return Outcome(
            Status.IGNORED, reason="A reaction, and the contact has no open ticket on this channel."
        )
    ticket, _ = create_ticket(
        subject=subject_for(text, _text(message.get("type")), name, wa_id),
        channel=channel,
        contact=contact,
        created_at=sent,
        **details,
    )
    first = Message.objects.filter(channel=channel, external_id=wamid).first()
    return Outcome(ticket=ticket, message=first, reason="A new ticket.")


# --- statuses ----------------------------------------------------------------------------


def _meta_time(value):
    try:
        seconds = int(str(value))
    except (TypeError, ValueError):
        return timezone.now()
    if not 0 < seconds < 10**11:
        return timezone.now()
    return datetime.fromtimestamp(seconds, tz=UTC)


def handle_status(event: InboundEvent, status: dict) -> Outcome:
    wamid, state = _text(status.get("id")), _text(status.get("status"))
    if state not in STATES:
        return Outcome(Status.IGNORED, reason=f"A status we do not record: {state[:40]!r}.")
    row = (
        WhatsAppOutbound.objects.select_for_update(of=("self",))
        .select_related("outbound__message")
        .filter(outbound__provider_id=wamid, outbound__channel_id=event.channel_id)
        .first()
    )
    if row is None:
        if event.attempts + 1 < settings.WHATSAPP_STATUS_MATCH_ATTEMPTS:
            raise UnknownWamid(f"no message we sent has the wamid {wamid[:80]} (yet)")
        return Outcome(
            Status.IGNORED,
            reason=f"No message we sent has the wamid {wamid[:80]} (sent from elsewhere?).",
        )
    errors = [e for e in status.get("errors") or [] if isinstance(e, dict)]
    moved = record_status(row, state=state, at=_meta_time(status.get("timestamp")), errors=errors)
    message = row.outbound.message
    return Outcome(
        ticket=Ticket(pk=message.ticket_id),
        message=message,
        reason=f"{state.capitalize()}."
        if moved
        else f"{state.capitalize()}, arrived late: the message stays {row.get_state_display()}.",
    )
