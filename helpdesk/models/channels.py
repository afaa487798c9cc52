from django.db import models
from django.utils.translation import gettext_lazy

from helpdesk.channel_kinds import ChannelKind, KindPolicy, TicketType, policy_for, ticket_type_for

__all__ = ["Channel", "TicketType"]


class Channel(models.Model):
    """A source of tickets connected to the helpdesk. What its kind means (ticket type,
    routing options) is `helpdesk.channel_kinds`."""

    Kind = ChannelKind

    kind = models.CharField(max_length=16, choices=Kind)
    name = models.CharField(max_length=120)
    address = models.CharField(
        max_length=255,
        blank=True,
        help_text=gettext_lazy("Inbox address, phone number, form or chat id."),
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"

    @property
    def policy(self) -> KindPolicy:
        return policy_for(self.kind)

    @property
    def ticket_type(self) -> str:
        return self.policy.ticket_type

    @staticmethod
    def ticket_type_for(channel: "Channel | None") -> str:
        """Tickets created manually or through the API (no channel) are Email/other (R12)."""
        return ticket_type_for(channel.kind if channel is not None else None)
