from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy


class Weekday(models.IntegerChoices):
    MONDAY = 0, gettext_lazy("Monday")
    TUESDAY = 1, gettext_lazy("Tuesday")
    WEDNESDAY = 2, gettext_lazy("Wednesday")
    THURSDAY = 3, gettext_lazy("Thursday")
    FRIDAY = 4, gettext_lazy("Friday")
    SATURDAY = 5, gettext_lazy("Saturday")
    SUNDAY = 6, gettext_lazy("Sunday")


class WorkingHours(models.Model):
    """One range of working time on a weekday, in the user's own time zone. A shift that
    crosses midnight is two ranges (e.g. Mon 22:00–24:00 as 22:00–23:59:59 and Tue 00:00–06:00)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="working_hours"
    )
    weekday = models.PositiveSmallIntegerField(choices=Weekday)
    start = models.TimeField()
    end = models.TimeField()

    class Meta:
        ordering = ["user", "weekday", "start"]
        verbose_name_plural = gettext_lazy("working hours")
        constraints = [
            models.CheckConstraint(
                condition=Q(end__gt=F("start")), name="working_hours_end_after_start"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.start:%H:%M}–{self.end:%H:%M}"


class OutOfOffice(models.Model):
    """A period in which the user receives no routed tickets, whatever else says (R11)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="out_of_office"
    )
    start = models.DateTimeField()
    end = models.DateTimeField()
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["user", "start"]
        verbose_name = gettext_lazy("out-of-office period")
        indexes = [models.Index(fields=["user", "end"], name="ooo_user_end_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(end__gt=F("start")), name="out_of_office_end_after_start"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} away {self.start:%Y-%m-%d %H:%M} – {self.end:%Y-%m-%d %H:%M}"
