"""A chat message in: stored raw first, then made part of its conversation's ticket.

`store_chat_message(...)` keeps one checked message (the widget's or the custom chat API's)
as an `InboundEvent` of kind "chat" whose source id is `<conversation key>:<message id>`,
the id the client chose — so a retried POST (the network failed after we stored it) is a
redelivery that stores nothing new — and publishes `process_chat_task` after commit
(settings.INTAKE_TASKS["chat"]). `handle_chat(event)` is the handler `process_inbound`
runs, inside its transaction:

1. The key's first conversation row (`Conversation`: channel, key, number 1) is found or
   created, then locked, so two workers with two messages of one key take turns: one
   ticket. The key's current conversation is its highest number; when its ticket has been
   closed for more than LIVECHAT_NEW_CONVERSATION_AFTER_HOURS, the message starts the next
   conversation (number + 1, the same contact) instead.
2. No ticket yet: the contact — the widget visitor's by `visitor_token` (a name or address
   they typed fills a new contact; an address that is another contact's is kept on the
   message only, since nobody verified it); the custom chat's by its address (the API is
   authenticated: its backend vouches for the address), else a new contact with the name —
   and a Messages ticket on the channel (`create_ticket`), routed by the chatflow's toggle
   (R18) once `ticket_created` is sent.
3. A ticket: the message is appended (`add_inbound_message`; a ticket closed more recently
   reopens).
4. The conversation's readers are woken at commit (`livechat.realtime.notify`).
"""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from helpdesk.models import Channel, Contact, InboundEvent, Message, Ticket
from helpdesk.services import add_inbound_message, contact_for_email, create_ticket
from helpdesk.services.intake import (
    Outcome,
    Quarantine,
    insert_once,
    publish_on_commit,
    source_key,
    store_inbound,
)
from livechat import realtime
from livechat.models import WEBHOOK, Conversation
from livechat.payloads import ChatInput

KIND = "chat"
SUBJECT_CHARS = 80
VISITOR_NAME = "Website visitor"


def source_id_of(conversation_key: str, message_id: str) -> str:
    """The event's (and the message's) id: unique per channel, chosen by the client."""
    return source_key(f"{conversation_key}:{message_id}")


def store_chat_message(
    *, channel: Channel, conversation_key: str, message: ChatInput, raw: bytes, headers: dict
) -> tuple[InboundEvent, bool]:
    """Keep one checked chat message and ask a worker to process it after commit. Returns
    (event, created); `created` is False for a retried POST of the same message."""
    payload = {**message.payload(), "conversation": conversation_key}
    with transaction.atomic():
        event, created = store_inbound(
            channel=channel,
            kind=KIND,
            source_id=source_id_of(conversation_key, message.message_id),
            raw=raw,
            payload=payload,
            headers=headers,
        )
        if created:
            publish_on_commit(event)
    return event, created


def _conversation(channel: Channel, key: str) -> Conversation:
    """The key's current conversation (its highest number), the key's first row locked
    until the event's transaction ends; a new one when the current one's ticket has been
    closed for LIVECHAT_NEW_CONVERSATION_AFTER_HOURS."""
    insert_once(Conversation(channel=channel, key=key, number=1))
    Conversation.objects.select_for_update().get(channel=channel, key=key, number=1)
    # Read after the lock (a new statement sees what the previous holder committed).
    current = (
        Conversation.objects.filter(channel=channel, key=key)
        .select_related("ticket")
        .order_by("-number")
        .first()
    )
    if not _ended(current.ticket):
        return current
    return Conversation.objects.create(
        channel=channel, key=key, number=current.number + 1, contact=current.contact
    )


def _ended(ticket: Ticket | None) -> bool:
    """Closed for longer than LIVECHAT_NEW_CONVERSATION_AFTER_HOURS: the visitor's next
    message is a new conversation, not a reopening."""
    if ticket is None or ticket.status != Ticket.Status.CLOSED or ticket.closed_at is None:
        return False
    hours = settings.LIVECHAT_NEW_CONVERSATION_AFTER_HOURS
    return ticket.closed_at <= timezone.now() - timedelta(hours=hours)


def _visitor_contact(key: str, name: str, email: str) -> Contact:
    known = Contact.objects.filter(visitor_token=key)
    contact = known.first()
    if contact is not None:
        return contact
    address_free = bool(email) and not Contact.objects.filter(email__iexact=email).exists()
    new = Contact(visitor_token=key, name=name or VISITOR_NAME, email=email if address_free else "")
    if insert_once(new):
        return new
    contact = known.first()
    if contact is None:  # the address was taken meanwhile: the visitor without it
        contact = Contact(visitor_token=key, name=new.name)
        insert_once(contact)
        contact = known.get()
    return contact


def _api_contact(message: ChatInput) -> Contact:
    if message.email:
        return contact_for_email(email=message.email, name=message.name)
    contact = Contact(name=message.name or f"Chat {message.conversation_id[:40]}")
    contact.save()
    return contact


def _subject(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= SUBJECT_CHARS else line[: SUBJECT_CHARS - 1].rstrip() + "…"


def handle_chat(event: InboundEvent) -> Outcome:
    """The handler `process_inbound` runs for a chat event (inside its transaction)."""
    channel = event.channel
    payload = event.payload if isinstance(event.payload, dict) else {}
    key = str(payload.get("conversation") or "")
    text = str(payload.get("text") or "").strip()
    if channel is None or not key or not text:
        raise Quarantine("a chat event without channel, conversation or text")
    message = ChatInput(
        message_id=str(payload.get("message_id") or ""),
        text=text,
        name=str(payload.get("name") or ""),
        email=str(payload.get("email") or ""),
        conversation_id=str(payload.get("conversation_id") or ""),
    )
    conversation = _conversation(channel, key)
    details = {"sender_name": message.name, "sender_address": message.email}
    if conversation.ticket_id is None:
        if conversation.contact_id is not None:  # the key's earlier conversation's
            contact = conversation.contact
        elif channel.policy.outbound == WEBHOOK:
            contact = _api_contact(message)
        else:
            contact = _visitor_contact(key, message.name, message.email)
        ticket, created = create_ticket(
            subject=_subject(text),
            body=text,
            channel=channel,
            contact=contact,
            external_id=event.source_id,
            **details,
        )
        conversation.contact, conversation.ticket = contact, ticket
        conversation.save(update_fields=["contact", "ticket"])
        realtime.notify(channel.pk, key)
        first = ticket.first_message if created else _message(channel, event.source_id)
        return Outcome(ticket=ticket, message=first, reason="new chat")
    posted, created = add_inbound_message(
        ticket=Ticket(pk=conversation.ticket_id),
        body=text,
        external_id=event.source_id,
        **details,
    )
    reason = "added to the chat" if created else "already received: nothing new"
    return Outcome(ticket=posted.ticket, message=posted, reason=reason)


def _message(channel: Channel, external_id: str) -> Message | None:
    return Message.objects.filter(channel=channel, external_id=external_id).first()
