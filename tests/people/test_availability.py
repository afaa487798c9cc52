"""Issue 13: an agent sets their own availability (R11) — the services, the page, the top
bar's control — and routing's explanation says since when and why."""

from datetime import UTC, datetime, time, timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from channels_cfg.models import AssignMode
from helpdesk import services
from helpdesk.availability import availability_of
from helpdesk.models import Channel, OutOfOffice, User, WorkingHours
from routing.engine import route_ticket
from tests.factories import (
    AgentFactory,
    ChannelAutomationFactory,
    ChannelFactory,
    OutOfOfficeFactory,
    WorkingHoursFactory,
)

pytestmark = pytest.mark.django_db

TUESDAY_1402 = datetime(2026, 3, 3, 14, 2, tzinfo=UTC)


# --- services ----------------------------------------------------------------------------


def test_r11_setting_away_stamps_the_time_and_routing_explains_since_when(agent):
    services.set_availability(user=agent, status=User.Status.AWAY, now=TUESDAY_1402)
    agent.refresh_from_db()
    assert (agent.status, agent.status_changed_at) == (User.Status.AWAY, TUESDAY_1402)

    auto = ChannelAutomationFactory(
        channel=ChannelFactory(kind=Channel.Kind.TEAM_EMAIL),
        assign_mode=AssignMode.SPECIFIC,
        users=[agent],
    )
    ticket, _ = services.create_ticket(subject="Help", body="Please", channel=auto.channel)
    decision = route_ticket(ticket_id=ticket.pk)
    [excluded] = decision.excluded_rows
    assert excluded["reason"] == "set to away"  # what the summary counts
    assert excluded["detail"] == "away since 2026-03-03 14:02 UTC, set by hand"
    assert "1 set to away" in decision.summary


def test_r11_the_same_status_again_keeps_the_first_stamp(agent):
    services.set_availability(user=agent, status=User.Status.AWAY, now=TUESDAY_1402)
    services.set_availability(
        user=agent, status=User.Status.AWAY, now=TUESDAY_1402 + timedelta(hours=1)
    )
    agent.refresh_from_db()
    assert agent.status_changed_at == TUESDAY_1402


def test_r11_unknown_status_or_mode_is_refused(agent):
    with pytest.raises(ValidationError):
        services.set_availability(user=agent, status="asleep")
    with pytest.raises(ValidationError):
        services.set_availability(user=agent, mode="sometimes")
    agent.refresh_from_db()
    assert agent.status == User.Status.AVAILABLE and agent.status_changed_at is None


def test_r11_working_hours_are_replaced_whole_with_several_ranges_a_day(agent):
    WorkingHoursFactory(user=agent, weekday=4, start=time(8), end=time(9))
    count = services.replace_working_hours(
        user=agent,
        ranges=[(0, time(9), time(12)), (0, time(13), time(17)), (6, time(22), time(0))],
    )
    assert count == 3
    rows = list(WorkingHours.objects.filter(user=agent).values_list("weekday", "start", "end"))
    assert rows == [(0, time(9), time(12)), (0, time(13), time(17)), (6, time(22), time.max)]


def test_r11_overlapping_ranges_are_refused_and_nothing_changes(agent):
    WorkingHoursFactory(user=agent, weekday=4, start=time(8), end=time(9))
    with pytest.raises(ValidationError, match="Monday: 11:00 – 14:00 overlaps"):
        services.replace_working_hours(
            user=agent, ranges=[(0, time(9), time(12)), (0, time(11), time(14))]
        )
    assert list(WorkingHours.objects.filter(user=agent).values_list("weekday", flat=True)) == [4]


def test_r11_out_of_office_added_wins_and_ending_it_now_gives_the_user_back():
    agent = AgentFactory()
    now = timezone.now()
    period = services.add_out_of_office(
        user=agent, start=now - timedelta(hours=1), end=now + timedelta(days=2), note="Holiday"
    )
    state = availability_of([agent], now)[agent.pk]
    assert not state and state.reason == "out of office" and "(Holiday)" in state.detail
    assert services.end_out_of_office(user=agent, period_id=period.pk, now=now) is True
    assert availability_of([agent], now)[agent.pk].available


def test_r11_a_past_period_or_someone_elses_period_is_refused(agent, other_agent):
    now = timezone.now()
    with pytest.raises(ValidationError, match="already over"):
        services.add_out_of_office(user=agent, start=now - timedelta(days=2), end=now)
    theirs = OutOfOfficeFactory(user=other_agent)
    assert services.end_out_of_office(user=agent, period_id=theirs.pk) is False
    assert OutOfOffice.objects.filter(pk=theirs.pk).exists()


# --- the page ----------------------------------------------------------------------------


def test_the_page_saves_state_time_zone_and_hours(client, agent):
    client.force_login(agent)
    url = reverse("people:availability")
    data = {"state": "working_hours", "time_zone": "Europe/Oslo"} | {
        f"day_{d}": "" for d in range(7)
    }
    data["day_0"] = "09:00–12:00, 13.00-17:00"
    data["day_5"] = "22:00 - 24:00"
    response = client.post(url, data)
    assert response.status_code == 302
    agent.refresh_from_db()
    assert agent.availability_mode == User.AvailabilityMode.WORKING_HOURS
    assert agent.time_zone == "Europe/Oslo"
    assert list(agent.working_hours.values_list("weekday", "start", "end")) == [
        (0, time(9), time(12)),
        (0, time(13), time(17)),
        (5, time(22), time.max),
    ]
    page = client.get(url).content.decode()
    assert 'value="09:00–12:00, 13:00–17:00"' in page and 'value="22:00–24:00"' in page


def test_a_bad_range_is_shown_on_its_day_and_nothing_is_saved(client, agent):
    client.force_login(agent)
    data = {"state": "away", "time_zone": "UTC"} | {f"day_{d}": "" for d in range(7)}
    data["day_2"] = "9 to 5"
    response = client.post(reverse("people:availability"), data)
    assert response.status_code == 400
    assert "is not a range: write it as 09:00–17:00" in response.content.decode()
    agent.refresh_from_db()
    assert agent.status == User.Status.AVAILABLE and not agent.working_hours.exists()


@time_machine.travel(TUESDAY_1402, tick=False)
def test_out_of_office_is_read_in_the_users_time_zone_and_listed(client, agent):
    services.set_time_zone(user=agent, time_zone="Europe/Oslo")
    client.force_login(agent)
    response = client.post(
        reverse("people:ooo-add"),
        {"start": "2026-03-10T08:00", "end": "2026-03-14T17:00", "note": "Ski trip"},
    )
    assert response.status_code == 302
    period = OutOfOffice.objects.get(user=agent)
    assert period.start == datetime(2026, 3, 10, 7, 0, tzinfo=UTC)  # 08:00 in Oslo (CET)
    assert period.note == "Ski trip"
    page = client.get(reverse("people:availability")).content.decode()
    assert "Tue 10 Mar 2026 08:00" in page and "Ski trip" in page


def test_an_end_before_the_start_is_refused_with_a_message(client, agent):
    client.force_login(agent)
    response = client.post(
        reverse("people:ooo-add"), {"start": "2030-03-10T08:00", "end": "2030-03-09T08:00"}
    )
    assert response.status_code == 400
    assert "Choose an end after the start." in response.content.decode()
    assert not OutOfOffice.objects.exists()


def test_pages_need_ticket_access(client, outsider):
    client.force_login(outsider)
    assert client.get(reverse("people:availability")).status_code == 403
    response = client.post(reverse("people:status"), {"state": "away"})
    assert response.status_code == 403
    outsider.refresh_from_db()
    assert outsider.status == User.Status.AVAILABLE


# --- the top bar -------------------------------------------------------------------------


def test_the_top_bar_shows_where_the_agent_stands_and_one_click_changes_it(client, agent):
    client.force_login(agent)
    queue = reverse("queue", args=["unassigned"])
    page = client.get(queue).content.decode()
    assert 'data-availability="ok"' in page and "Available" in page

    response = client.post(reverse("people:status"), {"state": "away", "next": queue})
    assert response.status_code == 302 and response["Location"] == queue
    agent.refresh_from_db()
    assert agent.status == User.Status.AWAY
    assert agent.availability_mode == User.AvailabilityMode.MANUAL
    assert 'data-availability="away"' in client.get(queue).content.decode()


def test_the_status_control_never_redirects_off_site(client, agent):
    client.force_login(agent)
    response = client.post(
        reverse("people:status"), {"state": "available", "next": "https://evil.example/"}
    )
    assert response["Location"] == reverse("people:availability")


def test_out_of_office_shows_in_the_top_bar_whatever_the_status(client, agent):
    OutOfOfficeFactory(user=agent)
    client.force_login(agent)
    page = client.get(reverse("queue", args=["unassigned"])).content.decode()
    assert 'data-availability="ooo"' in page and "Out of office" in page
