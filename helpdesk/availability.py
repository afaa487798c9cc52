"""Who is available right now (R11): out-of-office wins, then the user's mode decides —
the manual status, or the working hours read in the user's own time zone (so a DST change
moves the UTC instant with the wall clock, as people expect).

`availability_of(users, at)` answers for many users in two queries, whatever their number;
`is_available(user, at)` is the one-user form.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from helpdesk.models import OutOfOffice, User, WorkingHours


@dataclass(frozen=True)
class Availability:
    available: bool
    reason: str  # why not, in plain words; "" when available

    def __bool__(self) -> bool:
        return self.available


AVAILABLE = Availability(True, "")
OUT_OF_OFFICE = Availability(False, "out of office")
AWAY = Availability(False, "set to away")
OFF_HOURS = Availability(False, "outside working hours")


def availability_of(users: Iterable[User], at: datetime) -> dict[int, Availability]:
    users = list(users)
    ids = [u.pk for u in users]
    on_leave = set(
        OutOfOffice.objects.filter(user_id__in=ids, start__lte=at, end__gt=at).values_list(
            "user_id", flat=True
        )
    )
    hours_users = [
        u.pk for u in users if u.availability_mode == User.AvailabilityMode.WORKING_HOURS
    ]
    hours = defaultdict(list)
    if hours_users:
        for wh in WorkingHours.objects.filter(user_id__in=hours_users):
            hours[wh.user_id].append(wh)
    return {u.pk: _decide(u, at, u.pk in on_leave, hours[u.pk]) for u in users}


def is_available(user: User, at: datetime) -> bool:
    return availability_of([user], at)[user.pk].available


def _decide(user: User, at: datetime, on_leave: bool, hours: list[WorkingHours]) -> Availability:
    if on_leave:
        return OUT_OF_OFFICE
    if user.availability_mode == User.AvailabilityMode.MANUAL:
        return AVAILABLE if user.status == User.Status.AVAILABLE else AWAY
    local = at.astimezone(user.tz)
    now = local.time()
    for wh in hours:
        if wh.weekday == local.weekday() and wh.start <= now < wh.end:
            return AVAILABLE
    return OFF_HOURS
