"""The core's events → outbound mail.

Receivers run inside the transaction of the service that sent the event and only record
their work: an agent's reply on an email channel becomes an `OutboundMessage` row in that
same transaction (the durable intent) and the sending task is published after commit, so a
rolled-back reply sends nothing and a committed one leaves even if the broker is down (the
outbound sweep publishes it again).
"""

from helpdesk.models import Message, Ticket
from mailroom import (
    outbound,
    tasks,  # noqa: F401  (registers the tasks `outbound` publishes by name)
)


def on_message_added(sender, ticket: Ticket, message: Message, **kwargs) -> None:
    """An agent's reply (never a note, never an inbound mail) is queued for its contact."""
    if message.direction == Message.Direction.OUTBOUND:
        outbound.queue_reply(message=message, ticket=ticket)
