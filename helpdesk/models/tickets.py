from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy

from helpdesk.models.channels import Channel, TicketType
from helpdesk.models.contacts import Contact
from helpdesk.models.permissions import TICKET_ACCESS, codename
from helpdesk.models.teams import Team

# "Open" means not closed; the partial indexes below use this very predicate.
OPEN_SQL = ~Q(status="closed")


class Ticket(models.Model):
    """One customer request. Change it only through `helpdesk.services`."""

    class Status(models.TextChoices):
        NEW = "new", gettext_lazy("New")
        WAITING_ON_CONTACT = "waiting_on_contact", gettext_lazy("Waiting on contact")
        WAITING_ON_US = "waiting_on_us", gettext_lazy("Waiting on us")
        CLOSED = "closed", gettext_lazy("Closed")

    class Priority(models.IntegerChoices):
        LOW = 1, gettext_lazy("Low")
        NORMAL = 2, gettext_lazy("Normal")
        HIGH = 3, gettext_lazy("High")
        URGENT = 4, gettext_lazy("Urgent")

    class RoutingState(models.TextChoices):
        PENDING = "pending", gettext_lazy("Pending")
        DONE = "done", gettext_lazy("Done")
        SKIPPED = "skipped", gettext_lazy("Skipped")

    class Source(models.TextChoices):
        CHANNEL = "channel", gettext_lazy("Channel")
        MANUAL = "manual", gettext_lazy("Created manually")
        API = "api", gettext_lazy("API")

    OPEN = OPEN_SQL

    subject = models.CharField(max_length=255)
    status = models.CharField(max_length=24, choices=Status, default=Status.NEW)
    priority = models.PositiveSmallIntegerField(choices=Priority, default=Priority.NORMAL)
    source = models.CharField(max_length=16, choices=Source, default=Source.CHANNEL)
    channel = models.ForeignKey(
        Channel, null=True, blank=True, on_delete=models.PROTECT, related_name="tickets"
    )
    ticket_type = models.CharField(max_length=16, choices=TicketType, default=TicketType.EMAIL)
    language = models.CharField(
        max_length=16,
        blank=True,
        help_text=gettext_lazy("ISO code of the customer's language, e.g. 'no'."),
    )
    contact = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="tickets"
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_tickets",
    )
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="tickets"
    )
    assigned_at = models.DateTimeField(null=True, blank=True)
    routing_state = models.CharField(
        max_length=8, choices=RoutingState, default=RoutingState.PENDING
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    last_activity_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)
    version = models.PositiveIntegerField(
        default=1,
        help_text=gettext_lazy("Raised by every change; lets a form detect a concurrent edit."),
    )

    class Meta:
        ordering = ["-created_at"]
        permissions = [(codename(TICKET_ACCESS), "Can see and work tickets in the helpdesk")]
        # Each queue of `helpdesk.queues` filters on one of these partial predicates and sorts
        # by the indexed columns (newest first, the id breaking ties), so PostgreSQL reads a
        # page straight from the index and counts a queue with an index-only scan.
        indexes = [
            # R21 Unassigned: open, no owner, no team.
            models.Index(
                fields=["-created_at", "-id"],
                condition=OPEN_SQL & Q(owner__isnull=True, team__isnull=True),
                name="ticket_unassigned_idx",
            ),
            # R22 My team's unassigned: open tickets of a team without owner.
            models.Index(
                fields=["team", "-created_at", "-id"],
                condition=OPEN_SQL & Q(owner__isnull=True, team__isnull=False),
                name="ticket_team_unassigned_idx",
            ),
            # R23 My team's open: open tickets of a team, whoever owns them.
            models.Index(
                fields=["team", "-created_at", "-id"],
                condition=OPEN_SQL,
                name="ticket_team_open_idx",
            ),
            # Assigned to me.
            models.Index(
                fields=["owner", "-created_at", "-id"],
                condition=OPEN_SQL,
                name="ticket_owner_open_idx",
            ),
            # R10/R13 load count: open tickets per owner and type assigned within a window.
            models.Index(
                fields=["owner", "ticket_type", "assigned_at"],
                condition=OPEN_SQL,
                name="ticket_load_idx",
            ),
            # All open.
            models.Index(fields=["-created_at", "-id"], condition=OPEN_SQL, name="ticket_open_idx"),
            # Closed, most recently closed first.
            models.Index(
                fields=["-closed_at", "-id"], condition=Q(status="closed"), name="ticket_closed_idx"
            ),
            models.Index(
                fields=["created_at"],
                condition=Q(routing_state="pending"),
                name="ticket_pending_idx",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(owner__isnull=True) | Q(assigned_at__isnull=False),
                name="ticket_owner_has_assigned_at",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.subject}"

    @property
    def is_open(self) -> bool:
        return self.status != self.Status.CLOSED

    @property
    def is_unassigned(self) -> bool:
        return self.owner_id is None and self.team_id is None


class Message(models.Model):
    """One entry of a ticket's thread. `external_id` is the channel's own id (Message-ID,
    WhatsApp message id, call id): unique per channel, so a redelivery is recognised."""

    class Direction(models.TextChoices):
        INBOUND = "inbound", gettext_lazy("Inbound")
        OUTBOUND = "outbound", gettext_lazy("Outbound")
        NOTE = "note", gettext_lazy("Internal note")

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="messages")
    channel = models.ForeignKey(
        Channel, null=True, blank=True, on_delete=models.PROTECT, related_name="messages"
    )
    direction = models.CharField(max_length=8, choices=Direction)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="messages",
    )
    body = models.TextField(
        help_text=gettext_lazy("The text; for mail, the new text without quoted history.")
    )
    quoted = models.TextField(
        blank=True, help_text=gettext_lazy("Quoted history, folded away in the thread.")
    )
    html = models.TextField(
        blank=True, help_text=gettext_lazy("Sanitised HTML, when the channel sent some.")
    )
    sender_address = models.CharField(max_length=320, blank=True)
    sender_name = models.CharField(max_length=200, blank=True)
    is_automatic = models.BooleanField(
        default=False,
        help_text=gettext_lazy("An auto-reply or bounce: never answered automatically."),
    )
    external_id = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["ticket", "created_at"], name="message_ticket_idx")]
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "external_id"],
                condition=~Q(external_id=""),
                name="message_unique_external_id",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_direction_display()} on #{self.ticket_id}"


class AssignmentEvent(models.Model):
    """Every change of a ticket's owner or team, with who did it and why."""

    class Cause(models.TextChoices):
        MANUAL = "manual", gettext_lazy("Assigned manually")
        REPLY = "reply", gettext_lazy("Replied to an unassigned ticket")
        ROUTING = "routing", gettext_lazy("Automatic routing")
        API = "api", gettext_lazy("API")
        SYSTEM = "system", gettext_lazy("System")

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="assignments")
    from_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    to_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    from_team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    to_team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    cause = models.CharField(max_length=8, choices=Cause)
    # Why, in plain words, where the cause alone does not say: the routing engine's summary
    # of its decision ("Assigned to Ada by load balancing …"); empty for a person's choice.
    reason = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["ticket", "created_at"], name="assignment_ticket_idx")]

    def __str__(self) -> str:
        return f"#{self.ticket_id}: {self.from_owner} → {self.to_owner} ({self.cause})"
