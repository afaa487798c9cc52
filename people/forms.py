"""The personal availability forms: validation only; the services write (R11)."""

import re
import zoneinfo
from datetime import datetime, time

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext, gettext_lazy

from helpdesk.models import User
from helpdesk.models.availability import Weekday

AVAILABLE, AWAY, WORKING_HOURS = "available", "away", "working_hours"
STATES = [
    (AVAILABLE, gettext_lazy("Available")),
    (AWAY, gettext_lazy("Away")),
    (WORKING_HOURS, gettext_lazy("Follow my working hours")),
]
RANGE = re.compile(r"^\s*(\d{1,2})[:.](\d{2})\s*(?:-|–|—|to)\s*(\d{1,2})[:.](\d{2})\s*$")


def state_of(user: User) -> str:
    if user.availability_mode == User.AvailabilityMode.WORKING_HOURS:
        return WORKING_HOURS
    return AWAY if user.status == User.Status.AWAY else AVAILABLE


def status_and_mode(state: str) -> dict:
    """The service's arguments for a chosen state."""
    if state == WORKING_HOURS:
        return {"mode": User.AvailabilityMode.WORKING_HOURS}
    status = User.Status.AWAY if state == AWAY else User.Status.AVAILABLE
    return {"mode": User.AvailabilityMode.MANUAL, "status": status}


def _clock(hours: str, minutes: str, *, end: bool) -> time:
    h, m = int(hours), int(minutes)
    if end and (h, m) == (24, 0):
        return time(0)  # midnight at the end of the day (the service stores it as such)
    if h > 23 or m > 59:
        raise ValidationError(
            gettext("%(hours)s:%(minutes)s is not a time of day.")
            % {"hours": hours, "minutes": minutes}
        )
    return time(h, m)


def parse_ranges(text: str) -> list[tuple[time, time]]:
    """ "09:00–12:00, 13:00–17:00" → [(09:00, 12:00), (13:00, 17:00)]; blank: none."""
    spans = []
    for part in filter(None, (p.strip() for p in re.split(r"[,;]", text or ""))):
        match = RANGE.match(part)
        if match is None:
            raise ValidationError(
                gettext("“%(part)s” is not a range: write it as 09:00–17:00.") % {"part": part}
            )
        start = _clock(match[1], match[2], end=False)
        end = _clock(match[3], match[4], end=True)
        if end != time(0) and end <= start:
            raise ValidationError(gettext("“%(part)s” ends before it starts.") % {"part": part})
        spans.append((start, end))
    return spans


def format_ranges(spans) -> str:
    def clock(value: time) -> str:
        return "24:00" if value >= time(23, 59, 59) else f"{value:%H:%M}"

    return ", ".join(f"{clock(start)}–{clock(end)}" for start, end in spans)


class StatusForm(forms.Form):
    """The top bar's control: one click."""

    state = forms.ChoiceField(choices=STATES)


class AvailabilityForm(forms.Form):
    state = forms.ChoiceField(
        choices=STATES, widget=forms.RadioSelect, label=gettext_lazy("Receive routed tickets")
    )
    time_zone = forms.ChoiceField(label=gettext_lazy("Time zone"))

    def __init__(self, *args, user: User, working_hours, **kwargs):
        by_day: dict[int, list] = {}
        for wh in working_hours:
            by_day.setdefault(wh.weekday, []).append((wh.start, wh.end))
        initial = {"state": state_of(user), "time_zone": user.time_zone}
        initial.update({f"day_{d}": format_ranges(by_day.get(d, [])) for d in Weekday.values})
        super().__init__(*args, initial=initial, **kwargs)
        self.fields["time_zone"].choices = [(z, z) for z in sorted(zoneinfo.available_timezones())]
        for day in Weekday:
            self.fields[f"day_{day.value}"] = forms.CharField(
                label=day.label, required=False, max_length=200
            )

    def day_fields(self):
        return [self[f"day_{d}"] for d in Weekday.values]

    def clean(self):
        data = super().clean()
        ranges = []
        for day in Weekday.values:
            name = f"day_{day}"
            if name not in data:
                continue
            try:
                ranges += [(day, start, end) for start, end in parse_ranges(data[name])]
            except ValidationError as exc:
                self.add_error(name, exc)
        data["ranges"] = ranges
        return data


class OutOfOfficeForm(forms.Form):
    start = forms.DateTimeField(
        label=gettext_lazy("From"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    end = forms.DateTimeField(
        label=gettext_lazy("Until"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    note = forms.CharField(
        label=gettext_lazy("Note (optional)"),
        required=False,
        max_length=200,
        widget=forms.TextInput(attrs={"placeholder": gettext_lazy("e.g. Holiday, back on Monday")}),
    )

    def __init__(self, *args, user: User, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user

    def _in_user_zone(self, value: datetime | None) -> datetime | None:
        """The browser sends wall-clock times: read them in the user's own time zone."""
        if value is None:
            return None
        return value.replace(tzinfo=None).replace(tzinfo=self.user.tz)

    def clean(self):
        data = super().clean()
        data["start"] = self._in_user_zone(data.get("start"))
        data["end"] = self._in_user_zone(data.get("end"))
        if data.get("start") and data.get("end") and data["end"] <= data["start"]:
            self.add_error("end", gettext("Choose an end after the start."))
        return data
