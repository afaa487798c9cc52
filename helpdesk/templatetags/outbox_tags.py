"""The thread's outbox pieces, for every way out (email, WhatsApp, a chat's webhook):

- `{% prefetch_thread thread %}` once above messages read without them: one query
  (messages LEFT JOIN outbox LEFT JOIN attachments) sets `message.delivery` (its
  `OutboundMessage` or None) and `message.mail_files` (its attachments, in order) on every
  message, so the query count does not grow with the thread (the ticket page's thread comes
  with both from `helpdesk.selectors.ticket_thread`, in its one query);
- `{% delivery_state message %}` in a message's header: "Queued", "Sending…", "Sent 14:02",
  "Not sent yet: <error> — will retry at 14:05", "Failed: <error>" with a Retry button
  (`helpdesk.views.outbox`). Nothing for a message that has no outbox row.
"""

from django import template
from django.utils import timezone

from helpdesk.models import Attachment, Message, OutboundMessage

register = template.Library()

OUTBOUND_FIELDS = ("id", "status", "attempts", "due_at", "sent_at", "last_error", "provider_id")
ATTACHMENT_FIELDS = ("id", "filename", "content_type", "size", "inline")
MISSING = object()


@register.simple_tag
def prefetch_thread(thread) -> str:
    """Load every message's outbox row and attachments in one query. Renders nothing."""
    messages = list(thread or ())
    if not messages:
        return ""
    columns = [f"outbound__{f}" for f in OUTBOUND_FIELDS]
    columns += [f"attachments__{f}" for f in ATTACHMENT_FIELDS]
    rows = (
        Message.objects.filter(pk__in=[m.pk for m in messages])
        .order_by("pk", "attachments__id")
        .values_list("pk", *columns)
    )
    deliveries: dict[int, OutboundMessage] = {}
    files: dict[int, list[Attachment]] = {}
    split = 1 + len(OUTBOUND_FIELDS)
    for row in rows:
        message_id, outbound, attachment = row[0], row[1:split], row[split:]
        if outbound[0] is not None and message_id not in deliveries:
            deliveries[message_id] = OutboundMessage(
                message_id=message_id, **dict(zip(OUTBOUND_FIELDS, outbound, strict=True))
            )
        if attachment[0] is not None:
            files.setdefault(message_id, []).append(
                Attachment(
                    message_id=message_id, **dict(zip(ATTACHMENT_FIELDS, attachment, strict=True))
                )
            )
    for message in messages:
        message.delivery = deliveries.get(message.pk)
        message.mail_files = files.get(message.pk, [])
    return ""


def outbound_of(message) -> OutboundMessage | None:
    """The message's outbox row: from `prefetch_thread`, else one query."""
    found = getattr(message, "delivery", MISSING)
    if found is not MISSING:
        return found
    if message.direction != Message.Direction.OUTBOUND:
        return None
    try:
        return message.outbound
    except OutboundMessage.DoesNotExist:
        return None


@register.inclusion_tag("helpdesk/_delivery_state.html", takes_context=True)
def delivery_state(context, message) -> dict:
    outbound = outbound_of(message)
    retry_at = None
    if (
        outbound is not None
        and outbound.status == OutboundMessage.Status.QUEUED
        and outbound.last_error
        and outbound.due_at
        and outbound.due_at > timezone.now()
    ):
        retry_at = outbound.due_at
    return {
        "outbound": outbound,
        "retry_at": retry_at,
        "ticket_id": message.ticket_id,
        "csrf_token": context.get("csrf_token"),
    }
