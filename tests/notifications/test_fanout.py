"""Fan-out (R24, R27; issue 14): an announcement costs a fixed number of queries whatever the
number of its recipients — their preferences and defaults read for all of them at once, every
delivery inserted in one statement — and its deliveries are published in one go after commit."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from kombu.exceptions import OperationalError

from helpdesk import services
from helpdesk.celery import app as celery_app
from helpdesk.models import User
from notifications import services as notif
from notifications.announce import announce_assignment, announce_unassigned
from notifications.catalog import Event, Medium
from notifications.models import Delivery
from tests.factories import AgentFactory, TeamFactory, TeamMembershipFactory
from tests.notifications.conftest import PREFERENCE_QUERIES, Cause, open_ticket

pytestmark = pytest.mark.django_db

UNASSIGNED, ASSIGNED, TEAM = Event.TICKET_UNASSIGNED, Event.ASSIGNED_TO_ME, Event.TEAM_UNASSIGNED
AWAY = Event.REASSIGNED_AWAY
INSERT_INTO = re.compile(r'INSERT (?:OR IGNORE )?INTO "(\w+)"')
# The occurrence, the recipients (ticket access), their main teams, the defaults, their own
# choices, one insert, the pending ids, then the in-app ones delivered at once (claimed, their
# notifications inserted, marked sent) — and the savepoint around the writes. On PostgreSQL
# (`notifications.sql`) the preferences are one statement, the insert returns the pending ids,
# and the in-app deliveries are one statement.
ANNOUNCEMENT_QUERIES = 7 if connection.vendor == "postgresql" else 12


def queries(func) -> int:
    with CaptureQueriesContext(connection) as ctx:
        func()
    return len(ctx.captured_queries)


def with_preferences(users, superadmin):
    """Some own choices and a default for a team, so every layer of R27 is read."""
    team = TeamFactory()
    for user in users[::3]:
        TeamMembershipFactory(team=team, user=user)
    notif.update_default_preferences(
        actor=superadmin, changes={(UNASSIGNED, Medium.EMAIL): True}, team=team
    )
    for user in users[1::3]:
        notif.update_preferences(user=user, changes={(UNASSIGNED, Medium.IN_APP): False})


@pytest.mark.parametrize("recipients", [1, 30])
def test_r24_r27_unassigned_ticket_costs_fixed_queries_for_1_or_30_recipients(
    recipients, superadmin, django_assert_max_num_queries
):
    users = [AgentFactory() for _ in range(recipients - 1)] + [superadmin]
    with_preferences(users, superadmin)
    ticket = open_ticket()
    with django_assert_max_num_queries(ANNOUNCEMENT_QUERIES):
        announce_unassigned(ticket_id=ticket.pk)
    told = Delivery.objects.filter(ticket=ticket)
    expected = {
        (u.pk, medium)
        for u in users
        for medium in Medium.values
        if notif.effective_preferences(u)[(UNASSIGNED, medium)].enabled
    }
    assert set(told.values_list("recipient_id", "medium")) == expected
    assert told.count() >= recipients  # every one of them hears of it one way or another


def test_r24_unassigned_ticket_costs_the_same_queries_for_1_or_30_recipients(superadmin):
    def announce() -> int:
        ticket = open_ticket()
        count = queries(lambda: announce_unassigned(ticket_id=ticket.pk))
        assert Delivery.objects.filter(ticket=ticket).count() == User.objects.count()
        return count

    alone = announce()  # the superadmin only
    for _ in range(29):
        AgentFactory()
    assert announce() == alone == ANNOUNCEMENT_QUERIES


@pytest.mark.parametrize("members", [1, 30])
def test_r24_assignment_with_three_audiences_costs_fixed_queries(
    members, agent, other_agent, django_assert_max_num_queries
):
    """The team's members and the previous owner are told in one batch: one read of the
    recipients, one of each preference layer, one insert."""
    team = TeamFactory(name="Support")
    for user in AgentFactory.create_batch(members):
        TeamMembershipFactory(team=team, user=user, role="additional")
    ticket = open_ticket(owner=agent)
    event = services.assign(ticket=ticket, team=team, actor=other_agent, cause=Cause.MANUAL)
    with django_assert_max_num_queries(ANNOUNCEMENT_QUERIES):
        announce_assignment(assignment_id=event.pk)
    assert Delivery.objects.filter(event=TEAM).count() == members  # in-app only (built-in)
    assert set(
        Delivery.objects.filter(event=AWAY).values_list("recipient__username", "medium")
    ) == {("agent", Medium.IN_APP)}


def test_r24_a_reassignment_tells_both_owners_in_one_insert(agent, other_agent):
    third = AgentFactory(username="third")
    ticket = open_ticket(owner=agent)
    event = services.assign(ticket=ticket, owner=third, actor=other_agent, cause=Cause.MANUAL)
    with CaptureQueriesContext(connection) as ctx:
        announce_assignment(assignment_id=event.pk)
    inserts = [
        table for q in ctx.captured_queries for table in INSERT_INTO.findall(q["sql"])
    ]  # a statement of `notifications.sql` inserts inside a WITH
    # one insert of the deliveries, one of the in-app notifications made with them
    assert inserts == ["notifications_delivery", "notifications_notification"]
    assert set(Delivery.objects.values_list("event", "recipient__username", "medium")) == {
        (ASSIGNED, "third", Medium.IN_APP),
        (ASSIGNED, "third", Medium.EMAIL),
        (AWAY, "agent", Medium.IN_APP),
    }


def test_r27_recipients_for_a_batch_of_events_costs_fixed_queries_and_agrees(
    superadmin, django_assert_num_queries
):
    users = [AgentFactory() for _ in range(9)]
    with_preferences(users, superadmin)
    notif.update_preferences(user=users[2], changes={(ASSIGNED, Medium.EMAIL): False})
    batch = [(UNASSIGNED, users), (ASSIGNED, users[:4]), (TEAM, users[4:]), (AWAY, [])]
    # Users already loaded: their main teams, the defaults, their own choices.
    with django_assert_num_queries(PREFERENCE_QUERIES):
        answers = notif.recipients_for(batch)
    for (event, group), wanted in zip(batch, answers, strict=True):
        for medium in Medium.values:
            expected = [u for u in group if notif.effective_preferences(u)[(event, medium)].enabled]
            assert wanted[medium] == expected, (event, medium)
    # A queryset of users costs one query more, each.
    querysets = [
        (event, User.objects.filter(pk__in=[u.pk for u in users]))
        for event in (UNASSIGNED, ASSIGNED)
    ]
    with django_assert_num_queries(2 + PREFERENCE_QUERIES):
        notif.recipients_for(querysets)


def test_deliveries_are_published_after_commit_and_not_again_once_the_broker_refused(
    monkeypatch, django_capture_on_commit_callbacks
):
    """One callback publishes an announcement's deliveries; a broker that is down is tried
    once, not once per delivery (each try waits for its connect timeout): the sweep
    publishes the rest."""
    tried = []

    def broker_down(*args, **kwargs):
        tried.append(kwargs["kwargs"]["delivery_id"])
        raise OperationalError("Error 111 connecting to redis")

    for user in AgentFactory.create_batch(5):
        notif.update_preferences(user=user, changes={(UNASSIGNED, Medium.EMAIL): True})
    ticket = open_ticket()
    monkeypatch.setattr(celery_app, "send_task", broker_down)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        ids = notif.notify(
            event=UNASSIGNED,
            key=f"test:{ticket.pk}",
            ticket=ticket,
            recipients=User.objects.all(),
            text="Hello",
        )
    emails = list(
        Delivery.objects.filter(pk__in=ids, medium=Medium.EMAIL).values_list("pk", flat=True)
    )
    assert len(ids) == 10 and len(emails) == 5 and len(callbacks) == 1
    assert tried == [i for i in ids if i in emails][:1]
    # the in-app ones were made with the announcement; the emails wait for the sweep
    assert set(
        Delivery.objects.filter(pk__in=ids, status=Delivery.Status.PENDING).values_list(
            "pk", flat=True
        )
    ) == set(emails)
