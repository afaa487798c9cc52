"""Reads of live chat: the messages a visitor (or an agent's page) has not seen yet, each in
one query whatever the length of the conversation."""

from datetime import UTC, datetime

from django.db.models import QuerySet

from helpdesk.models import AssignmentEvent, Message, Ticket, User
from livechat.models import ChatSettings, is_public_id, widget_kinds

MAX_BATCH = 200  # messages in one answer; the rest come with the next


def widget_settings(public_id: str) -> ChatSettings | None:
    """The settings of the active chatflow channel with this public id, or None (without a
    query when the id is not of the shape public ids have)."""
    if not is_public_id(public_id):
        return None
    return (
        ChatSettings.objects.select_related("channel")
        .filter(
            public_id=public_id,
            channel__is_active=True,
            channel__kind__in=widget_kinds(),
        )
        .first()
    )


def demo_chat() -> ChatSettings | None:
    """What the demo page embeds: the settings of the first active chatflow that has them
    (made by its Details tab or `seed_demo`; the page itself writes nothing)."""
    return (
        ChatSettings.objects.select_related("channel")
        .filter(channel__is_active=True, channel__kind__in=widget_kinds())
        .order_by("channel_id")
        .first()
    )


def visitor_messages(*, channel_id: int, key: str, after: int) -> list[Message]:
    """The conversation's messages the visitor may see (theirs and the agents' replies, never
    a note) with an id above `after`, oldest first."""
    return list(
        Message.objects.filter(
            ticket__conversation__channel_id=channel_id,
            ticket__conversation__key=key,
            pk__gt=after,
            direction__in=[Message.Direction.INBOUND, Message.Direction.OUTBOUND],
        )
        .select_related("author")
        .order_by("pk")[:MAX_BATCH]
    )


def client_id_of(message: Message, key: str) -> str | None:
    """The widget's own id of a visitor's message (`<key>:<id>` as stored), else None."""
    prefix = f"{key}:"
    if message.direction == Message.Direction.INBOUND and message.external_id.startswith(prefix):
        return message.external_id[len(prefix) :]
    return None


def as_json(message: Message, key: str) -> dict:
    author = message.author
    return {
        "id": message.pk,
        "from": "visitor" if message.direction == Message.Direction.INBOUND else "agent",
        "name": (author.first_name or author.get_username()) if author else "",
        "text": message.body,
        "at": message.created_at.isoformat(),
        "client_id": client_id_of(message, key),
    }


def ticket_messages_after(ticket: Ticket, after: int) -> QuerySet[Message]:
    """The agent's page: every message of the ticket above `after`, as the thread shows it."""
    return (
        Message.objects.filter(ticket=ticket, pk__gt=after)
        .select_related("author")
        .order_by("pk")[:MAX_BATCH]
    )


def reassigned_by_others(ticket: Ticket, *, since_ms: int, user: User) -> bool:
    """Did anyone but `user` (another agent, the router) change the ticket's owner or team
    after `since_ms` (milliseconds since the epoch)?"""
    since = datetime.fromtimestamp(since_ms / 1000, tz=UTC)
    return (
        AssignmentEvent.objects.filter(ticket_id=ticket.pk, created_at__gt=since)
        .exclude(actor_id=user.pk)
        .exists()
    )
