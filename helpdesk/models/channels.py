from django.db import models


class TicketType(models.TextChoices):
    """R12: the type follows from where the ticket came from."""

    CALLS = "calls", "Calls"
    MESSAGES = "messages", "Messages"
    EMAIL = "email", "Email/other"


class Channel(models.Model):
    """A source of tickets connected to the helpdesk."""

    class Kind(models.TextChoices):
        TEAM_EMAIL = "team_email", "Team email"
        FORM = "form", "Form"
        CHATFLOW = "chatflow", "Chatflow"
        WHATSAPP = "whatsapp", "WhatsApp"
        CALLING = "calling", "Calling"
        CUSTOM_CHAT = "custom_chat", "Custom chat"

    TICKET_TYPE_BY_KIND = {
        Kind.TEAM_EMAIL: TicketType.EMAIL,
        Kind.FORM: TicketType.EMAIL,
        Kind.CHATFLOW: TicketType.MESSAGES,
        Kind.WHATSAPP: TicketType.MESSAGES,
        Kind.CUSTOM_CHAT: TicketType.MESSAGES,
        Kind.CALLING: TicketType.CALLS,
    }

    kind = models.CharField(max_length=16, choices=Kind)
    name = models.CharField(max_length=120)
    address = models.CharField(
        max_length=255, blank=True, help_text="Inbox address, phone number, form or chat id."
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"

    @property
    def ticket_type(self) -> str:
        return self.TICKET_TYPE_BY_KIND[self.kind]

    @staticmethod
    def ticket_type_for(channel: "Channel | None") -> str:
        """Tickets created manually or through the API (no channel) are Email/other (R12)."""
        return channel.ticket_type if channel is not None else TicketType.EMAIL
