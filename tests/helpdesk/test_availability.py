"""R11: availability is decided by out-of-office, then by the manual status or by the working
hours read in the user's own time zone."""

import datetime as dt

import pytest
import time_machine
from django.utils import timezone

from helpdesk.availability import availability_of, is_available
from helpdesk.models import User
from helpdesk.models.availability import Weekday
from tests.factories import AgentFactory, OutOfOfficeFactory, WorkingHoursFactory

pytestmark = pytest.mark.django_db

UTC = dt.UTC
MANUAL = User.AvailabilityMode.MANUAL
WORKING_HOURS = User.AvailabilityMode.WORKING_HOURS

# Mondays, chosen around the daylight-saving changes.
WINTER_MONDAY = dt.date(2025, 1, 13)  # New York UTC−5, Oslo UTC+1, Auckland UTC+13
SUMMER_MONDAY = dt.date(2025, 7, 14)  # New York UTC−4
OSLO_BEFORE_DST = dt.date(2025, 3, 24)  # Oslo UTC+1 (the change is Sunday 30 March)
OSLO_AFTER_DST = dt.date(2025, 3, 31)  # Oslo UTC+2


def utc(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=UTC)


def office_worker(time_zone: str, weekday=Weekday.MONDAY, start=9, end=17, **fields) -> User:
    fields.setdefault("availability_mode", WORKING_HOURS)
    user = AgentFactory(time_zone=time_zone, **fields)
    WorkingHoursFactory(user=user, weekday=weekday, start=dt.time(start), end=dt.time(end))
    return user


def test_the_chosen_dates_are_mondays():
    for day in (WINTER_MONDAY, SUMMER_MONDAY, OSLO_BEFORE_DST, OSLO_AFTER_DST):
        assert day.weekday() == 0, day


# --- Manual mode --------------------------------------------------------------------------


def test_r11_manual_mode_available():
    user = AgentFactory(availability_mode=MANUAL, status=User.Status.AVAILABLE)
    result = availability_of([user], utc(WINTER_MONDAY, 3))[user.pk]
    assert result.available
    assert result.reason == ""
    assert is_available(user, utc(WINTER_MONDAY, 3))


def test_r11_manual_mode_away():
    user = AgentFactory(availability_mode=MANUAL, status=User.Status.AWAY)
    result = availability_of([user], utc(WINTER_MONDAY, 12))[user.pk]
    assert not result.available
    assert not result  # an Availability is falsy when unavailable
    assert result.reason == "set to away"
    assert not is_available(user, utc(WINTER_MONDAY, 12))


def test_r11_manual_mode_ignores_working_hours():
    user = AgentFactory(availability_mode=MANUAL, status=User.Status.AVAILABLE)
    WorkingHoursFactory(user=user, weekday=Weekday.TUESDAY)
    assert is_available(user, utc(WINTER_MONDAY, 3))  # Monday night, no hours: still manual


def test_r11_working_hours_mode_ignores_the_manual_status():
    user = office_worker("UTC", status=User.Status.AWAY)
    assert is_available(user, utc(WINTER_MONDAY, 10))
    user2 = office_worker("UTC", status=User.Status.AVAILABLE)
    assert not is_available(user2, utc(WINTER_MONDAY, 18))


# --- Out of office wins ---------------------------------------------------------------------


@pytest.mark.parametrize("mode", [MANUAL, WORKING_HOURS])
def test_r11_out_of_office_wins_over_either_mode(mode):
    user = office_worker("UTC", availability_mode=mode, status=User.Status.AVAILABLE)
    at = utc(WINTER_MONDAY, 10)  # inside working hours and manually available
    OutOfOfficeFactory(user=user, start=at - dt.timedelta(hours=1), end=at + dt.timedelta(days=2))
    result = availability_of([user], at)[user.pk]
    assert not result.available
    assert result.reason == "out of office"


def test_r11_out_of_office_period_is_start_inclusive_end_exclusive():
    user = AgentFactory(availability_mode=MANUAL, status=User.Status.AVAILABLE)
    start, end = utc(WINTER_MONDAY, 8), utc(WINTER_MONDAY, 12)
    OutOfOfficeFactory(user=user, start=start, end=end)
    assert is_available(user, start - dt.timedelta(seconds=1))
    assert not is_available(user, start)
    assert not is_available(user, end - dt.timedelta(seconds=1))
    assert is_available(user, end)


def test_r11_another_users_out_of_office_does_not_count():
    user = AgentFactory(availability_mode=MANUAL)
    OutOfOfficeFactory(start=utc(WINTER_MONDAY, 0), end=utc(WINTER_MONDAY, 23))
    assert is_available(user, utc(WINTER_MONDAY, 12))


# --- Working hours in the user's time zone --------------------------------------------------


def test_r11_working_hours_in_new_york_winter():
    user = office_worker("America/New_York")
    # 13:30 UTC is 08:30 EST: before the day starts.
    result = availability_of([user], utc(WINTER_MONDAY, 13, 30))[user.pk]
    assert not result.available
    assert result.reason == "outside working hours"
    assert is_available(user, utc(WINTER_MONDAY, 14, 0))  # 09:00 EST, start is inclusive
    assert is_available(user, utc(WINTER_MONDAY, 21, 59))  # 16:59 EST
    assert not is_available(user, utc(WINTER_MONDAY, 22, 0))  # 17:00 EST, end is exclusive


def test_r11_working_hours_in_new_york_summer():
    user = office_worker("America/New_York")
    assert is_available(user, utc(SUMMER_MONDAY, 13, 30))  # 09:30 EDT
    assert not is_available(user, utc(SUMMER_MONDAY, 21, 30))  # 17:30 EDT


def test_r11_dst_change_moves_working_hours_with_the_wall_clock():
    user = office_worker("Europe/Oslo")
    # Before the change Oslo is UTC+1: 07:30 UTC is 08:30 local.
    assert not is_available(user, utc(OSLO_BEFORE_DST, 7, 30))
    assert is_available(user, utc(OSLO_BEFORE_DST, 8, 30))
    # After the change Oslo is UTC+2: 07:30 UTC is 09:30 local.
    assert is_available(user, utc(OSLO_AFTER_DST, 7, 30))
    assert not is_available(user, utc(OSLO_AFTER_DST, 15, 30))  # 17:30 local


def test_r11_is_available_now_follows_the_clock():
    user = office_worker("Europe/Oslo")
    with time_machine.travel(utc(OSLO_AFTER_DST, 7, 30), tick=False):
        assert is_available(user, timezone.now())  # 09:30 in Oslo
    with time_machine.travel(utc(OSLO_BEFORE_DST, 7, 30), tick=False):
        assert not is_available(user, timezone.now())  # 08:30 in Oslo


def test_r11_weekday_is_the_users_local_weekday():
    user = office_worker("Pacific/Auckland")  # Monday 09:00–17:00 in Auckland (UTC+13)
    sunday_evening_utc = utc(WINTER_MONDAY - dt.timedelta(days=1), 21)  # Mon 10:00 local
    assert is_available(user, sunday_evening_utc)
    monday_evening_utc = utc(WINTER_MONDAY, 21)  # Tue 10:00 local
    assert not is_available(user, monday_evening_utc)


def test_r11_instant_in_another_time_zone_is_read_correctly():
    user = office_worker("Europe/Oslo")
    new_york = dt.datetime(2025, 1, 13, 4, 0, tzinfo=dt.timezone(dt.timedelta(hours=-5)))
    assert is_available(user, new_york)  # 09:00 UTC = 10:00 in Oslo


def test_r11_several_ranges_on_one_day():
    user = office_worker("UTC", start=8, end=12)
    WorkingHoursFactory(user=user, weekday=Weekday.MONDAY, start=dt.time(13), end=dt.time(17))
    assert is_available(user, utc(WINTER_MONDAY, 11))
    assert not is_available(user, utc(WINTER_MONDAY, 12, 30))  # lunch
    assert is_available(user, utc(WINTER_MONDAY, 13))


def test_r11_working_hours_mode_without_hours_is_never_available():
    user = AgentFactory(availability_mode=WORKING_HOURS, time_zone="UTC")
    result = availability_of([user], utc(WINTER_MONDAY, 12))[user.pk]
    assert (result.available, result.reason) == (False, "outside working hours")


def test_r11_other_users_hours_do_not_leak():
    worker = office_worker("UTC")
    idle = AgentFactory(availability_mode=WORKING_HOURS, time_zone="UTC")
    result = availability_of([worker, idle], utc(WINTER_MONDAY, 10))
    assert result[worker.pk].available
    assert not result[idle.pk].available


# --- Many users, fixed cost -----------------------------------------------------------------


def _mixed_users(count: int) -> list[User]:
    users = []
    for i in range(count):
        if i % 2:
            users.append(office_worker("Europe/Oslo"))
        else:
            users.append(AgentFactory(availability_mode=MANUAL))
        if i % 3 == 0:
            OutOfOfficeFactory(
                user=users[-1], start=utc(WINTER_MONDAY, 0), end=utc(WINTER_MONDAY, 23)
            )
    return users


@pytest.mark.parametrize("count", [1, 20])
def test_r11_availability_of_costs_a_fixed_number_of_queries(count, django_assert_max_num_queries):
    users = _mixed_users(count)
    with django_assert_max_num_queries(2):
        result = availability_of(users, utc(WINTER_MONDAY, 10))
    assert set(result) == {u.pk for u in users}


def test_r11_availability_of_answers_each_user_with_a_reason():
    at = utc(WINTER_MONDAY, 10)  # 11:00 in Oslo
    on_leave = AgentFactory(availability_mode=MANUAL)
    OutOfOfficeFactory(
        user=on_leave, start=at - dt.timedelta(hours=1), end=at + dt.timedelta(hours=1)
    )
    away = AgentFactory(availability_mode=MANUAL, status=User.Status.AWAY)
    at_desk = office_worker("Europe/Oslo")
    off_hours = office_worker("America/New_York")  # 05:00 in New York
    present = AgentFactory(availability_mode=MANUAL, status=User.Status.AVAILABLE)

    result = availability_of([on_leave, away, at_desk, off_hours, present], at)

    reasons = {pk: (a.available, a.reason) for pk, a in result.items()}
    assert reasons == {
        on_leave.pk: (False, "out of office"),
        away.pk: (False, "set to away"),
        at_desk.pk: (True, ""),
        off_hours.pk: (False, "outside working hours"),
        present.pk: (True, ""),
    }


def test_r11_availability_of_no_users_is_empty(django_assert_max_num_queries):
    with django_assert_max_num_queries(1):
        assert availability_of([], utc(WINTER_MONDAY, 10)) == {}
