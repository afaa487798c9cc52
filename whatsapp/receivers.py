"""The core's events → WhatsApp. An agent's reply on a ticket of a WhatsApp channel becomes an
outbox row in the reply's own transaction (`whatsapp.outbound.queue_reply`), sent after
commit; outside the customer-service window the reply is refused there, inside that
transaction, so nothing of it is stored."""

from helpdesk.models import Message, Ticket
from whatsapp import (
    outbound,
    tasks,  # noqa: F401  (registers the task `outbound` publishes by name)
)


def on_message_added(sender, ticket: Ticket, message: Message, **kwargs) -> None:
    if message.direction == Message.Direction.OUTBOUND:
        outbound.queue_reply(message=message, ticket=ticket)
