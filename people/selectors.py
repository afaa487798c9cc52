"""What a person's availability looks like right now, in their own words and time zone."""

from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext

from helpdesk.availability import availability_of
from helpdesk.models import User


@dataclass(frozen=True)
class Summary:
    available: bool
    label: str  # the top bar's word: Available, Away, Out of office, Off hours
    tone: str  # the dot's colour: ok, away, ooo, off
    sentence: str  # the page's line: "Away since 14:02 (set by hand)."
    follows_hours: bool


def _local(moment: datetime, user: User, now: datetime) -> str:
    local = timezone.localtime(moment, user.tz)
    if local.date() == timezone.localtime(now, user.tz).date():
        return f"{local:%H:%M}"
    return date_format(local, "D j M H:i")


def availability_summary(user: User, now: datetime) -> Summary:
    """One or two queries (the current out-of-office period; the working hours when they
    decide), whatever page shows it."""
    state = availability_of([user], now)[user.pk]
    follows = user.availability_mode == User.AvailabilityMode.WORKING_HOURS
    if state.available:
        sentence = (
            gettext("Available (following working hours).")
            if follows
            else gettext("Available (set by hand).")
        )
        return Summary(True, gettext("Available"), "ok", sentence, follows)
    if state.reason == "out of office":
        sentence = (
            gettext("Out of office until %(local)s.") % {"local": _local(state.until, user, now)}
            if state.until
            else gettext("Out of office.")
        )
        return Summary(False, gettext("Out of office"), "ooo", sentence, follows)
    if follows:
        return Summary(
            False, gettext("Off hours"), "off", gettext("Outside your working hours."), follows
        )
    since = user.status_changed_at
    sentence = (
        gettext("Away since %(local)s (set by hand).") % {"local": _local(since, user, now)}
        if since
        else gettext("Away (set by hand).")
    )
    return Summary(False, gettext("Away"), "away", sentence, follows)
