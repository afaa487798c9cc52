"""Optional quiet hours: emails held while the user is unavailable (R11's availability:
working hours in their own time zone, away, out of office) and sent as one digest when
they are available again; in-app notifications are never held."""

from datetime import UTC, datetime, time

import pytest
import time_machine
from django.core import mail

from helpdesk.models import User
from notifications import tasks
from notifications.catalog import Medium
from notifications.models import Delivery, Notification
from notifications.quiet_hours import send_digest, set_quiet_hours, users_ready_for_digest
from tests.factories import AgentFactory, WorkingHoursFactory
from tests.notifications.conftest import assign, open_ticket

pytestmark = pytest.mark.django_db

MONDAY_0600_UTC = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)  # 07:00 in Oslo
MONDAY_0830_UTC = datetime(2026, 3, 2, 8, 30, tzinfo=UTC)  # 09:30 in Oslo
Status = Delivery.Status


@pytest.fixture
def night_owl(db):
    """Works Monday 09:00–17:00 Oslo time, with quiet hours on."""
    user = AgentFactory(
        username="owl",
        time_zone="Europe/Oslo",
        availability_mode=User.AvailabilityMode.WORKING_HOURS,
    )
    WorkingHoursFactory(user=user, start=time(9), end=time(17))
    set_quiet_hours(user=user, enabled=True)
    return user


def assign_twice(owner, actor):
    """Two tickets assigned to `owner`, announced and delivered (the tasks run)."""
    for subject in ("First", "Second"):
        assign(open_ticket(subject=subject), owner=owner, actor=actor)


def test_emails_are_held_outside_working_hours_and_in_app_arrives(night_owl, other_agent):
    with time_machine.travel(MONDAY_0600_UTC, tick=False):
        assign_twice(night_owl, other_agent)
    assert not mail.outbox
    assert Notification.objects.filter(recipient=night_owl).count() == 2
    assert set(Delivery.objects.filter(medium=Medium.EMAIL).values_list("status", flat=True)) == {
        Status.HELD
    }


def test_one_digest_when_working_hours_begin_and_only_once(night_owl, other_agent, published_tasks):
    with time_machine.travel(MONDAY_0600_UTC, tick=False):
        assign_twice(night_owl, other_agent)
        assert users_ready_for_digest() == []
        assert tasks.send_digests_task.apply().get() == 0
        assert published_tasks.names == []
    with time_machine.travel(MONDAY_0830_UTC, tick=False):
        assert tasks.send_digests_task.apply().get() == 1
        assert published_tasks.run() == [tasks.send_digest_task.name]  # the owl's digest
        assert send_digest(user_id=night_owl.pk) == 0  # a second run finds nothing held
    assert len(mail.outbox) == 1
    digest = mail.outbox[0]
    assert digest.subject == "[Helpdesk] 2 notifications while you were away"
    assert digest.extra_headers["Auto-Submitted"] == "auto-generated"
    assert "“First”" in digest.body and "“Second”" in digest.body
    assert "Mon 07:00" in digest.body  # in the owl's own time zone
    assert set(Delivery.objects.filter(medium=Medium.EMAIL).values_list("status", flat=True)) == {
        Status.SENT
    }


def test_without_quiet_hours_emails_go_out_at_night(night_owl, other_agent):
    set_quiet_hours(user=night_owl, enabled=False)
    with time_machine.travel(MONDAY_0600_UTC, tick=False):
        assign_twice(night_owl, other_agent)
    assert len(mail.outbox) == 2


def test_quiet_hours_do_not_hold_emails_of_an_available_user(agent, other_agent):
    set_quiet_hours(user=agent, enabled=True)  # manual mode, available
    assign_twice(agent, other_agent)
    assert len(mail.outbox) == 2
