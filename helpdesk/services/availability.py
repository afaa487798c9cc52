"""An agent's own availability (R11): the manual status and the mode, the time zone, the
working hours and the out-of-office periods. What routing reads the next time it decides —
there is nothing to refresh (`helpdesk.availability` reads these rows for every decision)."""

from collections.abc import Iterable
from datetime import datetime, time
from itertools import pairwise

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from helpdesk.models import OutOfOffice, User, WorkingHours
from helpdesk.models.availability import Weekday
from helpdesk.models.users import validate_time_zone

MAX_RANGES_PER_DAY = 6
MAX_NOTE = 200


def set_availability(
    *, user: User, status: str | None = None, mode: str | None = None, now: datetime | None = None
) -> User:
    """Set the manual status (available / away) and/or the mode (by hand / working hours).
    A change is stamped (`status_changed_at`), so the explanation can say "away since …"."""
    if status is not None and status not in User.Status.values:
        raise ValidationError(gettext("Unknown status %(status)r.") % {"status": status})
    if mode is not None and mode not in User.AvailabilityMode.values:
        raise ValidationError(gettext("Unknown availability mode %(mode)r.") % {"mode": mode})
    changes = {}
    if status is not None and status != user.status:
        changes["status"] = status
    if mode is not None and mode != user.availability_mode:
        changes["availability_mode"] = mode
    if not changes:
        return user
    changes["status_changed_at"] = now or timezone.now()
    User.objects.filter(pk=user.pk).update(**changes)
    for field, value in changes.items():
        setattr(user, field, value)
    return user


def set_status(*, user: User, status: str) -> User:
    """The manual status alone (available or away)."""
    return set_availability(user=user, status=status)


def set_time_zone(*, user: User, time_zone: str) -> User:
    """The zone the user's working hours are read in (and their times are shown in)."""
    validate_time_zone(time_zone)
    User.objects.filter(pk=user.pk).update(time_zone=time_zone)
    user.time_zone = time_zone
    return user


def replace_working_hours(*, user: User, ranges: Iterable[tuple[int, time, time]]) -> int:
    """The user's working week, as (weekday, start, end) ranges in their own time zone:
    several a day, none overlapping; replaces what was there, in one transaction. An end of
    00:00 means midnight (stored as 23:59:59.999999). Returns the number of ranges."""
    rows, by_day = [], {}
    for weekday, start, end in ranges:
        if weekday not in Weekday.values:
            raise ValidationError(gettext("Unknown weekday %(weekday)r.") % {"weekday": weekday})
        if end == time(0):
            end = time.max
        day = Weekday(weekday).label
        if end <= start:
            raise ValidationError(
                gettext("%(day)s: %(start)s – %(end)s ends before it starts.")
                % {"day": day, "start": f"{start:%H:%M}", "end": f"{end:%H:%M}"}
            )
        by_day.setdefault(weekday, []).append((start, end))
        rows.append(WorkingHours(user=user, weekday=weekday, start=start, end=end))
    for weekday, spans in by_day.items():
        day = Weekday(weekday).label
        if len(spans) > MAX_RANGES_PER_DAY:
            raise ValidationError(
                gettext("%(day)s: at most %(MAX_RANGES_PER_DAY)s ranges a day.")
                % {"day": day, "MAX_RANGES_PER_DAY": MAX_RANGES_PER_DAY}
            )
        spans.sort()
        for (_, first_end), (second_start, second_end) in pairwise(spans):
            if second_start < first_end:
                raise ValidationError(
                    gettext(
                        "%(day)s: %(start)s – %(end)s overlaps the range before it "
                        "(until %(until)s)."
                    )
                    % {
                        "day": day,
                        "start": f"{second_start:%H:%M}",
                        "end": f"{second_end:%H:%M}",
                        "until": f"{first_end:%H:%M}",
                    }
                )
    with transaction.atomic():
        User.objects.select_for_update().filter(pk=user.pk).first()  # one writer at a time
        WorkingHours.objects.filter(user=user).delete()
        WorkingHours.objects.bulk_create(rows)
    return len(rows)


def add_out_of_office(
    *, user: User, start: datetime, end: datetime, note: str = "", now: datetime | None = None
) -> OutOfOffice:
    """A period without routed tickets; it wins over the status and the working hours."""
    now = now or timezone.now()
    if end <= start:
        raise ValidationError(
            gettext("The end of an out-of-office period must come after its start.")
        )
    if end <= now:
        raise ValidationError(gettext("That period is already over: choose an end in the future."))
    return OutOfOffice.objects.create(
        user=user, start=start, end=end, note=(note or "").strip()[:MAX_NOTE]
    )


def end_out_of_office(*, user: User, period_id: int, now: datetime | None = None) -> bool:
    """Delete a future period, or end a current one now; False when it is not the user's."""
    now = now or timezone.now()
    period = OutOfOffice.objects.filter(pk=period_id, user=user).first()
    if period is None:
        return False
    if period.start >= now:
        period.delete()
    else:
        OutOfOffice.objects.filter(pk=period.pk).update(end=now)
    return True
