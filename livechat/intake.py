"""A chat message in: stored raw first, then made part of its conversation's ticket.

`store_chat_message(...)` keeps one checked message (the widget's or the custom chat API's)
as an `InboundEvent` of kind "chat" whose source id is `<conversation key>:<message id>`,
the id the client chose — so a retried POST (the network failed after we stored it) is a
redelivery that stores nothing new — and publishes `process_chat_task` after commit
(settings.INTAKE_TASKS["chat"]). `handle_chat(event)` is the handler `process_inbound`
runs, inside its transaction:

1. The conversation (`Conversation`: channel and key) is found or created, then locked, so
   two workers with two first messages of one conversation take turns: one ticket.
2. No ticket yet: the contact — the widget visitor's by `visitor_token` (a name or address
   they typed fills a new contact; an address that is another contact's is kept on the
   message only, since nobody verified it); the custom chat's by its address (the API is
   authenticated: its backend vouches for the address), else a new contact with the name —
   and a Messages ticket on the channel (`create_ticket`), routed by the chatflow's toggle
   (R18) once `ticket_created` is sent.
3. A ticket: the message is appended (`add_inbound_message`; a closed ticket reopens).
4. The conversation's readers are woken at commit (`livechat.realtime.notify`).
"""

from django.db import transaction

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
    """The conversation row, locked until the event's transaction ends."""
    insert_once(Conversation(channel=channel, key=key))
    return Conversation.objects.select_for_update().get(channel=channel, key=key)


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
        if channel.policy.outbound == WEBHOOK:
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
