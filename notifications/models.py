"""What notifications keep: in-app notifications, each user's own choices, the superadmin
defaults (for everyone, a team or a user), and one `Delivery` per (event, recipient,
medium) — the unit sent exactly once."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy

from helpdesk.models import Team, Ticket
from notifications.catalog import Event, Medium


class Notification(models.Model):
    """An in-app notification: shown in the list page and counted by the bell until read."""

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    event = models.CharField(max_length=24, choices=Event)
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="+")
    text = models.CharField(max_length=300)
    detail = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The list page: a user's notifications, newest first.
            models.Index(fields=["recipient", "-created_at", "-id"], name="notif_recipient_idx"),
            # The bell: count a user's unread notifications from a small partial index.
            models.Index(
                fields=["recipient"],
                condition=Q(read_at__isnull=True),
                name="notif_unread_idx",
            ),
        ]

    def __str__(self) -> str:
        return gettext("To %(recipient)s: %(text)s") % {
            "recipient": self.recipient,
            "text": self.text[:80],
        }

    @property
    def is_read(self) -> bool:
        return self.read_at is not None


class Preference(models.Model):
    """A user's own choice for one event and medium (R25); it wins over any default (R27)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preferences"
    )
    event = models.CharField(max_length=24, choices=Event)
    medium = models.CharField(max_length=8, choices=Medium)
    enabled = models.BooleanField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["user", "event", "medium"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "event", "medium"], name="notif_preference_once"
            ),
        ]

    def __str__(self) -> str:
        words = {
            "user": self.user,
            "event": self.get_event_display(),
            "medium": self.get_medium_display(),
        }
        if self.enabled:
            return gettext("%(user)s: %(event)s by %(medium)s on") % words
        return gettext("%(user)s: %(event)s by %(medium)s off") % words


class DefaultPreference(models.Model):
    """A superadmin's default for one event and medium (R26), aimed at one audience: everyone
    (no team, no user: the account default), a team (applies to its main members), or one
    user. Where no row applies the built-in default of `notifications.catalog` does.
    Precedence (R27): own choice > default for the user > default for their main team >
    account default > built-in."""

    event = models.CharField(max_length=24, choices=Event)
    medium = models.CharField(max_length=8, choices=Medium)
    enabled = models.BooleanField()
    team = models.ForeignKey(
        Team,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        help_text=gettext_lazy("For the main members of this team (else everyone, or one user)."),
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        help_text=gettext_lazy("For this user alone (else everyone, or a team)."),
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["event", "medium"]
        verbose_name = gettext_lazy("default notification preference")
        constraints = [
            models.CheckConstraint(
                condition=Q(team__isnull=True) | Q(user__isnull=True),
                name="notif_default_one_audience",
                violation_error_message=gettext_lazy(
                    "A default is for everyone, a team or a user."
                ),
            ),
            models.UniqueConstraint(
                fields=["event", "medium"],
                condition=Q(team__isnull=True, user__isnull=True),
                name="notif_default_account_once",
            ),
            models.UniqueConstraint(
                fields=["team", "event", "medium"],
                condition=Q(team__isnull=False),
                name="notif_default_team_once",
            ),
            models.UniqueConstraint(
                fields=["user", "event", "medium"],
                condition=Q(user__isnull=False),
                name="notif_default_user_once",
            ),
        ]

    def __str__(self) -> str:
        if self.team_id:
            audience = gettext("team %(name)s") % {"name": self.team}
        elif self.user_id:
            audience = str(self.user)
        else:
            audience = gettext("everyone")
        words = {
            "audience": audience,
            "event": self.get_event_display(),
            "medium": self.get_medium_display(),
        }
        if self.enabled:
            return gettext("Default for %(audience)s: %(event)s by %(medium)s on") % words
        return gettext("Default for %(audience)s: %(event)s by %(medium)s off") % words


class Delivery(models.Model):
    """One notification of one event to one recipient by one medium.

    The unique (event key, recipient, medium) means a receiver that runs twice creates
    nothing new, and the task claims the row (PENDING → SENDING) with a conditional update
    before it sends, so a redelivered task never sends twice.
    """

    class Status(models.TextChoices):
        PENDING = "pending", gettext_lazy("Pending")
        SENDING = "sending", gettext_lazy("Sending")
        SENT = "sent", gettext_lazy("Sent")
        FAILED = "failed", gettext_lazy("Failed")
        HELD = "held", gettext_lazy("Held for quiet hours")

    event_key = models.CharField(
        max_length=64,
        help_text=gettext_lazy("The occurrence, e.g. assigned_to_me:123 (assignment id)."),
    )
    event = models.CharField(max_length=24, choices=Event)
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_deliveries"
    )
    medium = models.CharField(max_length=8, choices=Medium)
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="+")
    text = models.CharField(max_length=300)
    detail = models.TextField(blank=True)
    status = models.CharField(max_length=8, choices=Status, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    due_at = models.DateTimeField(
        default=timezone.now,
        help_text=gettext_lazy(
            "When it should go out: now, or the next try after a temporary failure."
        ),
    )
    sent_at = models.DateTimeField(null=True, blank=True)
    notification = models.OneToOneField(
        Notification, null=True, blank=True, on_delete=models.SET_NULL, related_name="delivery"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = gettext_lazy("deliveries")
        constraints = [
            models.UniqueConstraint(
                fields=["event_key", "recipient", "medium"], name="delivery_once"
            ),
        ]
        indexes = [
            # The sweeps and the admin's status filter: the few rows not yet sent.
            models.Index(
                fields=["status", "due_at"],
                condition=~Q(status="sent"),
                name="delivery_unsent_idx",
            ),
        ]

    def __str__(self) -> str:
        return gettext("%(medium)s to %(recipient)s: %(text)s") % {
            "medium": self.get_medium_display(),
            "recipient": self.recipient,
            "text": self.text[:60],
        }


class QuietHours(models.Model):
    """A user's optional quiet hours: while they are unavailable (outside their working
    hours, set to away, or out of office — the availability model, R11) their notification
    emails are held, and one digest goes out when they become available again."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="quiet_hours"
    )
    enabled = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = gettext_lazy("quiet hours")

    def __str__(self) -> str:
        if self.enabled:
            return gettext("Quiet hours of %(user)s: on") % {"user": self.user}
        return gettext("Quiet hours of %(user)s: off") % {"user": self.user}
