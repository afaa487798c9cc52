"""The durable intent of background work: one row per piece of work, written in the
transaction that caused it. The broker only rings the bell; the row is the copy that
survives a killed worker or a Redis restart (see `helpdesk.jobs`)."""

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy


class Job(models.Model):
    class State(models.TextChoices):
        PENDING = "pending", gettext_lazy("Pending")
        DONE = "done", gettext_lazy("Done")
        FAILED = "failed", gettext_lazy("Failed")

    key = models.CharField(
        max_length=200,
        unique=True,
        help_text=gettext_lazy("The occurrence, e.g. announce_assignment:123; recorded once."),
    )
    task = models.CharField(
        max_length=200, help_text=gettext_lazy("The Celery task that does the work.")
    )
    kwargs = models.JSONField(default=dict)
    state = models.CharField(max_length=8, choices=State, default=State.PENDING)
    attempts = models.PositiveSmallIntegerField(
        default=0, help_text=gettext_lazy("How often the work was handed to the broker.")
    )
    created_at = models.DateTimeField(default=timezone.now)
    due_at = models.DateTimeField(
        default=timezone.now, help_text=gettext_lazy("When the sweep hands it to the broker again.")
    )
    done_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The sweep: the few pending rows, oldest due first.
            models.Index(
                fields=["due_at"], condition=Q(state="pending"), name="job_pending_due_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.key} ({self.get_state_display()})"
