import zoneinfo

from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.utils.translation import gettext, gettext_lazy

from helpdesk.models.permissions import TICKET_ACCESS

# A phone number in E.164 form: "+", the country code, the number; 15 digits at most.
validate_e164 = RegexValidator(
    r"^\+[1-9][0-9]{1,14}$",
    gettext_lazy("Enter the number in E.164 form: + and the country code, e.g. +4712345678."),
)


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(
            gettext("%(value)r is not a known time zone (e.g. Europe/Oslo).") % {"value": value}
        )


class User(AbstractUser):
    """A person who signs in: agent, account admin or superadmin.

    Availability (R11) lives here so routing reads it with the user row: a manual status and
    a mode saying whether that status or the working hours decide.
    """

    class Status(models.TextChoices):
        AVAILABLE = "available", gettext_lazy("Available")
        AWAY = "away", gettext_lazy("Away")

    class AvailabilityMode(models.TextChoices):
        MANUAL = "manual", gettext_lazy("Set manually")
        WORKING_HOURS = "working_hours", gettext_lazy("Follow working hours")

    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])
    status = models.CharField(max_length=16, choices=Status, default=Status.AVAILABLE)
    availability_mode = models.CharField(
        max_length=16, choices=AvailabilityMode, default=AvailabilityMode.MANUAL
    )
    # When the status or the mode last changed (the explanation: "away since 14:02").
    status_changed_at = models.DateTimeField(null=True, blank=True)
    # Calling channels (the `calls` app) ring this number when routing picks the user.
    phone = models.CharField(
        max_length=16,
        blank=True,
        validators=[validate_e164],
        help_text=gettext_lazy("E.164, e.g. +4712345678: calls routed to you ring this number."),
    )

    # The language of the pages and of the emails sent to this user: a code of
    # settings.LANGUAGES, or "" to follow the browser (and LANGUAGE_CODE where there is none).
    language = models.CharField(max_length=16, blank=True, default="")

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"

    def __str__(self) -> str:
        return self.name_of(self.first_name, self.last_name, self.username)

    @staticmethod
    def name_of(first_name: str, last_name: str, username: str) -> str:
        """How a user is named everywhere: the full name, else the username (also for rows
        read without a model instance, e.g. routing's pool)."""
        return f"{first_name} {last_name}".strip() or username

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)

    @property
    def has_ticket_access(self) -> bool:
        return self.is_active and self.has_perm(TICKET_ACCESS)
