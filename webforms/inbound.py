"""A stored form submission → a ticket: the handler `process_inbound` runs for an
`InboundEvent` of kind "form" (inside its transaction: all or nothing).

The event holds what the page received, validated by the page before it was stored:
`payload` — name, email, subject, message, the visitor token the cookie proved (or ""),
whether the hidden spam-trap field was filled, the attachment's name and type; `raw` — the
attachment's bytes; `headers` — the client address, user agent and origin, for abuse
review. Its `source_id` is the page's submission id, which is also the first message's
`external_id`: processing an event twice (a retry) finds the ticket it made.

1. A filled spam trap is IGNORED: no contact, no ticket (the visitor saw a thank-you page).
2. The contact by `identity.identify` (the cookie decides).
3. `create_ticket` on the form's channel (type by the kind's policy, routing after commit).
"""

from dataclasses import dataclass

from helpdesk.models import InboundEvent, Message
from helpdesk.services import create_ticket
from helpdesk.services.intake import Outcome, Quarantine
from webforms.identity import identify

TEXT_FIELDS = ("name", "email", "subject", "message")


@dataclass(frozen=True)
class FormFile:
    """The attachment, as `create_ticket` takes files."""

    filename: str
    content_type: str
    content: bytes
    content_id: str | None = None
    inline: bool = False


def _read(event: InboundEvent) -> dict:
    payload = event.payload if isinstance(event.payload, dict) else {}
    missing = [f for f in TEXT_FIELDS if not isinstance(payload.get(f), str)]
    if missing or not payload.get("subject", "").strip():
        raise Quarantine(f"not a form submission: {', '.join(missing) or 'subject'} missing")
    return payload


def _attachments(event: InboundEvent, payload: dict) -> list[FormFile]:
    meta = payload.get("attachment")
    if not isinstance(meta, dict):
        return []
    content = bytes(event.raw or b"")
    if len(content) != meta.get("size"):
        raise Quarantine("the stored attachment does not have the size the page received")
    return [
        FormFile(
            filename=str(meta["filename"]), content_type=str(meta["content_type"]), content=content
        )
    ]


def handle_form(event: InboundEvent) -> Outcome:
    payload = _read(event)
    if payload.get("honeypot"):
        return Outcome(
            status=InboundEvent.Status.IGNORED,
            reason="the hidden spam-trap field was filled: not a ticket",
        )
    who = identify(
        visitor_token=payload.get("visitor") or None,
        name=payload["name"],
        email=payload["email"],
    )
    body = payload["message"].strip()
    if who.note:
        body = f"{body}\n\n{who.note}"
    ticket, created = create_ticket(
        subject=payload["subject"],
        body=body,
        channel=event.channel,
        contact=who.contact,
        external_id=event.source_id,
        sender_address=payload["email"],
        sender_name=payload["name"],
        attachments=_attachments(event, payload),
    )
    message = getattr(ticket, "first_message", None) if created else None
    if message is None:
        message = Message.objects.filter(ticket=ticket).order_by("id").first()
    reason = f"new ticket; contact: {who.how}" if created else "already a ticket: nothing new"
    return Outcome(ticket=ticket, message=message, reason=reason)
