"""The bench's helpdesk of a given size (`bench_queues --seated-agents`)."""

import pytest

from helpdesk.management.commands._bench_tickets import bench_teams, seated_agents
from helpdesk.models import AccountSettings, Seat, TeamMembership, User
from helpdesk.selectors import users_with_ticket_access

pytestmark = pytest.mark.django_db


def test_seated_agents_are_made_once_with_a_seat_ticket_access_and_a_team():
    assert seated_agents(7) == 7
    assert seated_agents(7) == 0  # kept for the next run
    assert seated_agents(9) == 2
    made = User.objects.filter(username__startswith="seated_agent_")
    assert made.count() == 9
    assert Seat.objects.filter(user__in=made).count() == 9
    assert users_with_ticket_access().filter(pk__in=made).count() == 9
    teams = set(
        TeamMembership.objects.filter(user__in=made, role="main").values_list("team", flat=True)
    )
    assert teams and teams <= {t.pk for t in bench_teams()}
    assert AccountSettings.load().purchased_seats >= Seat.objects.count()
