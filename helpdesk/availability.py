"""Who is available right now (R11): out-of-office wins, then the user's mode decides —
the manual status, or the working hours read in the user's own time zone (so a DST change
moves the UTC instant with the wall clock, as people expect).

`availability_of(users, at)` answers for many users in two queries, whatever their number;
`is_available(user, at)` is the one-user form.
"""

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time
from typing import NamedTuple
from zoneinfo import ZoneInfo

from django.utils.formats import date_format
from django.utils.translation import gettext, gettext_noop

from helpdesk.models import OutOfOffice, User, WorkingHours


@dataclass(frozen=True)
class Availability:
    available: bool
    reason: str  # why not, in plain words; "" when available (summaries count these)
    detail: str = ""  # the same for one person, with since / until (the explanation's list)
    until: datetime | None = None  # the end of the current out-of-office period

    def __bool__(self) -> bool:
        return self.available

    @property
    def described(self) -> str:
        return self.detail or self.reason


AVAILABLE = Availability(True, "")
# The reasons are plain English (code compares them); shown through gettext where words are
# written (routing's exclusions, the people pages, owner pickers).
OUT_OF_OFFICE = Availability(False, gettext_noop("out of office"))
AWAY = Availability(False, gettext_noop("set to away"))
OFF_HOURS = Availability(False, gettext_noop("outside working hours"))


def _utc(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


class Presence(NamedTuple):
    """What availability looks at in a user, as plain data (a `User` has the same fields)."""

    pk: int
    availability_mode: str
    status: str
    status_changed_at: datetime | None
    time_zone: str


class Hours(NamedTuple):
    """One working-hours range (a `WorkingHours` row has the same fields)."""

    weekday: int
    start: time
    end: time


def availability_from(
    presences: Iterable[Presence],
    at: datetime,
    *,
    on_leave: Mapping[int, tuple[datetime, str]],
    hours: Mapping[int, Sequence[Hours]],
) -> dict[int, Availability]:
    """The same rules over rows already read (routing reads a whole pool in one statement):
    `on_leave` — user id → (end, note) of the current out-of-office period; `hours` — the
    working hours of those who follow them."""
    return {p.pk: _decide(p, at, on_leave.get(p.pk), hours.get(p.pk, ())) for p in presences}


def availability_of(users: Iterable[User], at: datetime) -> dict[int, Availability]:
    users = list(users)
    ids = [u.pk for u in users]
    on_leave = {
        user_id: (end, note)
        for user_id, end, note in OutOfOffice.objects.filter(
            user_id__in=ids, start__lte=at, end__gt=at
        )
        .order_by("-end")
        .values_list("user_id", "end", "note")
    }
    hours_users = [
        u.pk for u in users if u.availability_mode == User.AvailabilityMode.WORKING_HOURS
    ]
    hours = defaultdict(list)
    if hours_users:
        for wh in WorkingHours.objects.filter(user_id__in=hours_users):
            hours[wh.user_id].append(wh)
    return availability_from(users, at, on_leave=on_leave, hours=hours)


def is_available(user: User, at: datetime) -> bool:
    return availability_of([user], at)[user.pk].available


def _decide(
    user: Presence | User,
    at: datetime,
    on_leave: tuple[datetime, str] | None,
    hours: Sequence[Hours | WorkingHours],
) -> Availability:
    if on_leave is not None:
        end, note = on_leave
        detail = gettext("out of office until %(utc)s") % {"utc": _utc(end)} + (
            f" ({note})" if note else ""
        )
        return Availability(False, OUT_OF_OFFICE.reason, detail, until=end)
    if user.availability_mode == User.AvailabilityMode.MANUAL:
        if user.status == User.Status.AVAILABLE:
            return AVAILABLE
        since = user.status_changed_at
        detail = (
            gettext("away since %(utc)s, set by hand") % {"utc": _utc(since)}
            if since
            else gettext("away, set by hand")
        )
        return Availability(False, AWAY.reason, detail)
    local = at.astimezone(ZoneInfo(user.time_zone))
    now = local.time()
    for wh in hours:
        if wh.weekday == local.weekday() and wh.start <= now < wh.end:
            return AVAILABLE
    return Availability(
        False,
        OFF_HOURS.reason,
        gettext("outside working hours (%(weekday)s %(time)s in %(time_zone)s)")
        % {
            "weekday": date_format(local, "D"),
            "time": f"{local:%H:%M}",
            "time_zone": user.time_zone,
        },
    )
