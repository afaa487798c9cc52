from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy


class PeopleChange(models.Model):
    """The audit log of the People settings pages (users, teams, seats, skills): one row per
    change — who, when, what it was about, and every change as before → after in plain words,
    like `channels_cfg.ChannelSettingsChange`."""

    class Subject(models.TextChoices):
        USER = "user", gettext_lazy("User")
        TEAM = "team", gettext_lazy("Team")
        SEAT = "seat", gettext_lazy("Seat")
        SKILL = "skill", gettext_lazy("Skill")

    subject_kind = models.CharField(max_length=8, choices=Subject)
    subject_id = models.PositiveBigIntegerField()
    subject_label = models.CharField(
        max_length=200, help_text=gettext_lazy("Kept when the subject is gone.")
    )
    summary = models.CharField(max_length=200, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    actor_name = models.CharField(
        max_length=150, blank=True, help_text=gettext_lazy("Kept when the account is deleted.")
    )
    # [{"field": label, "before": text, "after": text, "added": [...], "removed": [...]}]
    changes = models.JSONField(default=list)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = gettext_lazy("people change")
        indexes = [
            models.Index(
                fields=["subject_kind", "subject_id", "-created_at"],
                name="people_change_subject_idx",
            ),
            models.Index(fields=["-created_at"], name="people_change_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_subject_kind_display()} {self.subject_label} by {self.actor_name}"
