"""What the channels deliver and what we send through them, kept as rows of their own.

`InboundEvent` — raw first: every input (a mail's raw bytes, a webhook's payload) is stored
before it is processed, so nothing a channel delivered is ever dropped silently; a
redelivery is recognised by the source's own id. `OutboundMessage` — the outbox of an
outbound message: claimed once, retried with backoff, its state shown in the thread.
`Attachment` — a file of a message, served only to users who can see its ticket.
"""

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy

from helpdesk.models.channels import Channel
from helpdesk.models.tickets import Message, Ticket


class InboundEvent(models.Model):
    class Status(models.TextChoices):
        RECEIVED = "received", gettext_lazy("Received")  # stored, not processed yet
        PROCESSED = "processed", gettext_lazy("Processed")  # became (part of) a ticket
        IGNORED = "ignored", gettext_lazy("Ignored")  # e.g. an auto-reply that threads nowhere
        FAILED = "failed", gettext_lazy("Failed")  # processing raised; retry from the admin
        QUARANTINED = (
            "quarantined",
            gettext_lazy("Quarantined"),
        )  # unreadable; kept with its raw bytes

    channel = models.ForeignKey(
        Channel, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(
        max_length=20, help_text=gettext_lazy("Which adapter: email, form, whatsapp …")
    )
    source_id = models.CharField(
        max_length=255,
        help_text=gettext_lazy("The source's own id: Message-ID (or a hash), wamid, CallSid."),
    )
    raw = models.BinaryField(
        blank=True, default=b"", help_text=gettext_lazy("The input as delivered.")
    )
    payload = models.JSONField(default=dict, blank=True)
    headers = models.JSONField(default=dict, blank=True)
    received_at = models.DateTimeField(default=timezone.now)
    processed_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=12, choices=Status, default=Status.RECEIVED)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    ticket = models.ForeignKey(
        Ticket, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    message = models.ForeignKey(
        Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "kind", "source_id"], name="inbound_event_once"
            ),
        ]
        indexes = [
            # The sweep and the admin's list of what still needs attention.
            models.Index(
                fields=["status", "received_at"],
                condition=Q(status__in=["received", "failed", "quarantined"]),
                name="inbound_open_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.source_id[:60]} ({self.get_status_display()})"


class OutboundMessage(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", gettext_lazy("Queued")
        SENDING = "sending", gettext_lazy("Sending")
        SENT = "sent", gettext_lazy("Sent")
        FAILED = "failed", gettext_lazy("Failed")

    message = models.OneToOneField(Message, on_delete=models.CASCADE, related_name="outbound")
    channel = models.ForeignKey(Channel, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=8, choices=Status, default=Status.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    due_at = models.DateTimeField(default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    provider_id = models.CharField(
        max_length=255,
        blank=True,
        db_index=True,
        help_text=gettext_lazy(
            "Our id of what we sent: the email's Message-ID, the WhatsApp wamid …"
        ),
    )

    class Meta:
        indexes = [
            models.Index(
                fields=["status", "due_at"],
                condition=~Q(status="sent"),
                name="outbound_unsent_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"Outbound #{self.message_id} ({self.get_status_display()})"


def attachment_path(instance: "Attachment", filename: str) -> str:
    return f"attachments/{timezone.now():%Y/%m}/{filename}"


class Attachment(models.Model):
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(upload_to=attachment_path, max_length=300)
    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=255)
    size = models.PositiveBigIntegerField()
    content_id = models.CharField(max_length=255, blank=True)
    inline = models.BooleanField(default=False)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.filename
