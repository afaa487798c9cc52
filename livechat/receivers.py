"""The core's events → live chat. A new message on a chat ticket — the visitor's or an
agent's, never an internal note — wakes the conversation's readers when its transaction
commits (`livechat.realtime.notify`); that is how an agent's reply reaches the widget. On a
custom chat, an agent's reply also becomes an outbox row in the reply's own transaction,
POSTed to the channel's webhook after commit (`livechat.webhooks.queue_reply`)."""

from helpdesk.models import Message, Ticket
from livechat import (
    realtime,
    tasks,  # noqa: F401  (registers the task `webhooks` publishes by name)
    webhooks,
)
from livechat.models import INTAKE, Conversation


def on_message_added(sender, ticket: Ticket, message: Message, **kwargs) -> None:
    channel = ticket.channel
    if channel is None or channel.policy.intake != INTAKE:
        return
    if message.direction == Message.Direction.NOTE:
        return
    conversation = (
        Conversation.objects.filter(ticket_id=ticket.pk).values_list("channel_id", "key").first()
    )
    if conversation is None:  # a ticket on a chat channel made by other means
        return
    realtime.notify(*conversation)
    if message.direction == Message.Direction.OUTBOUND:
        webhooks.queue_reply(message=message, ticket=ticket)
