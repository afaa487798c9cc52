"""Who hears about what (R24): recipients come from ticket access, team membership and
ownership; the actor never hears of their own action."""

import logging

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from channels_cfg.models import AssignMode
from helpdesk import services
from helpdesk.models import Message, Ticket
from notifications.announce import announce_assignment, announce_unassigned
from notifications.catalog import Event, Medium
from notifications.models import Delivery
from tests.factories import (
    AgentFactory,
    TeamFactory,
    TeamMembershipFactory,
    UserFactory,
)
from tests.notifications.conftest import (
    Cause,
    assign,
    committed,
    deliveries,
    open_ticket,
    recipients_of,
)
from tests.notifications.conftest import routed_channel as channel_with

pytestmark = pytest.mark.django_db

UNASSIGNED, ASSIGNED, TEAM = Event.TICKET_UNASSIGNED, Event.ASSIGNED_TO_ME, Event.TEAM_UNASSIGNED
REPLY, AWAY = Event.CUSTOMER_REPLY, Event.REASSIGNED_AWAY
EVERYONE_WITH_ACCESS = {"agent", "other_agent", "admin", "superadmin"}


@pytest.fixture
def people(agent, other_agent, admin_user, superadmin, outsider):
    """Four users with ticket access and one (outsider) without."""


# ---------------------------------------------------------------------------------------
# New unassigned ticket
# ---------------------------------------------------------------------------------------


def test_r24_ticket_left_unassigned_by_routing_goes_to_everyone_with_ticket_access(people):
    channel = channel_with(assign_mode=AssignMode.NONE)
    with committed():
        ticket, _ = services.create_ticket(subject="Printer", body="On fire", channel=channel)
    ticket.refresh_from_db()
    assert ticket.routing_state == Ticket.RoutingState.DONE and ticket.is_unassigned
    assert recipients_of(UNASSIGNED) == EVERYONE_WITH_ACCESS  # not the outsider
    assert recipients_of(UNASSIGNED, Medium.EMAIL) == set()  # built-in: in-app only
    delivery = Delivery.objects.filter(event=UNASSIGNED).first()
    assert delivery.text == f"New unassigned ticket #{ticket.pk} “Printer” from {channel.name}"
    assert delivery.detail.startswith("Left unassigned")  # routing's own explanation


def test_r24_nothing_is_announced_before_routing_has_decided(people, captured_events):
    channel = channel_with(assign_mode=AssignMode.NONE)
    services.create_ticket(subject="Waiting", body="Hi", channel=channel)  # not committed
    assert captured_events.names == ["ticket_created"]
    assert not Delivery.objects.exists()


def test_r24_ticket_without_channel_is_announced_at_once_but_not_to_its_creator(people, agent):
    with committed():
        ticket, _ = services.create_ticket(subject="By phone", body="Noted", actor=agent)
    assert ticket.routing_state == Ticket.RoutingState.SKIPPED
    assert recipients_of(UNASSIGNED) == EVERYONE_WITH_ACCESS - {"agent"}


def test_r24_a_routed_ticket_is_not_announced_as_unassigned(people, agent):
    channel = channel_with(assign_mode=AssignMode.SPECIFIC, users=[agent])
    with committed():
        ticket, _ = services.create_ticket(subject="Routed", body="Hi", channel=channel)
    ticket.refresh_from_db()
    assert ticket.owner == agent
    assert deliveries() == {(ASSIGNED, "agent", "in_app"), (ASSIGNED, "agent", "email")}
    detail = Delivery.objects.filter(event=ASSIGNED).values_list("detail", flat=True)
    assert all(d.startswith("Why: Assigned to Ada Agent by load balancing") for d in detail)


def test_r24_unassigned_is_announced_once_even_if_routing_looks_again(people):
    ticket = open_ticket()
    with committed():
        announce_unassigned(ticket_id=ticket.pk, detail="Nobody available")
        announce_unassigned(ticket_id=ticket.pk, detail="Nobody available")
    with committed():
        announce_unassigned(ticket_id=ticket.pk, detail="Still nobody")
    assert Delivery.objects.filter(event=UNASSIGNED).count() == len(EVERYONE_WITH_ACCESS)


def test_r24_a_ticket_taken_before_the_announcement_is_not_announced(people, agent):
    ticket = open_ticket()
    services.assign(ticket=ticket, owner=agent, actor=agent, cause=Cause.MANUAL)
    announce_unassigned(ticket_id=ticket.pk)
    assert not Delivery.objects.exists()


# ---------------------------------------------------------------------------------------
# Assignments
# ---------------------------------------------------------------------------------------


def test_r24_ticket_assigned_to_me_notifies_me_not_the_actor(agent, other_agent):
    ticket = open_ticket()
    assign(ticket, owner=agent, actor=other_agent)
    assert deliveries() == {(ASSIGNED, "agent", "in_app"), (ASSIGNED, "agent", "email")}
    assert (
        Delivery.objects.first().text
        == f"Otto Other assigned #{ticket.pk} “{ticket.subject}” to you"
    )


def test_r24_no_self_notification_when_taking_a_ticket(agent):
    assign(open_ticket(), owner=agent, actor=agent)
    assert not Delivery.objects.exists()


def test_r4_r24_replying_to_an_unassigned_ticket_notifies_nobody(agent, other_agent):
    ticket = open_ticket()
    with committed():
        services.reply(ticket=ticket, author=agent, body="On it")
    ticket.refresh_from_db()
    assert ticket.owner == agent
    assert not Delivery.objects.exists()


def test_r24_ticket_assigned_to_my_team_without_owner_notifies_its_members(agent, other_agent):
    team = TeamFactory(name="Support")
    TeamMembershipFactory(team=team, user=agent)
    TeamMembershipFactory(team=team, user=other_agent, role="additional")
    TeamMembershipFactory(team=team, user=UserFactory(username="no_access"), role="additional")
    AgentFactory(username="elsewhere")
    actor = AgentFactory(username="boss", first_name="Bo", last_name="Boss")
    TeamMembershipFactory(team=team, user=actor, role="additional")
    ticket = open_ticket()
    assign(ticket, team=team, actor=actor)
    assert recipients_of(TEAM) == {"agent", "other_agent"}  # main and additional members
    assert {e for e, _, _ in deliveries()} == {TEAM}
    text = Delivery.objects.first().text
    assert text == f"Bo Boss assigned #{ticket.pk} “{ticket.subject}” to your team Support, " + (
        "without an owner"
    )


def test_r24_team_with_owner_notifies_only_the_owner(agent, other_agent):
    team = TeamFactory()
    TeamMembershipFactory(team=team, user=other_agent)
    assign(open_ticket(), owner=agent, team=team, actor=None, cause=Cause.SYSTEM)
    assert {(e, u) for e, u, _ in deliveries()} == {(ASSIGNED, "agent")}


def test_r14_r24_team_only_routing_notifies_the_team(agent, other_agent):
    team = TeamFactory(name="Billing")
    TeamMembershipFactory(team=team, user=agent)
    TeamMembershipFactory(team=team, user=other_agent, role="additional")
    channel = channel_with(assign_mode=AssignMode.TEAM_ONLY, teams=[team])
    with committed():
        services.create_ticket(subject="Invoice", body="Wrong", channel=channel)
    assert recipients_of(TEAM) == {"agent", "other_agent"}
    delivery = Delivery.objects.filter(event=TEAM).first()
    assert delivery.text.startswith("Automatic routing assigned")
    assert delivery.detail.startswith("Why: Assigned to the team Billing")


def test_r5_r24_reassigning_my_ticket_tells_me_and_the_new_owner(agent, other_agent):
    third = AgentFactory(username="third", first_name="Tia", last_name="Third")
    ticket = open_ticket(owner=agent)
    assign(ticket, owner=third, actor=other_agent)
    assert {(e, u) for e, u, _ in deliveries()} == {(AWAY, "agent"), (ASSIGNED, "third")}
    away = Delivery.objects.get(event=AWAY)
    assert (
        away.text == f"Otto Other reassigned #{ticket.pk} “{ticket.subject}” from you to Tia Third"
    )
    assert away.medium == Medium.IN_APP  # built-in: no email for this one


def test_r5_r24_giving_away_my_own_ticket_tells_only_the_new_owner(agent, other_agent):
    assign(open_ticket(owner=agent), owner=other_agent, actor=agent)
    assert {(e, u) for e, u, _ in deliveries()} == {(ASSIGNED, "other_agent")}


def test_r24_unassigning_my_ticket_tells_me(agent, admin_user):
    ticket = open_ticket(owner=agent)
    assign(ticket, owner=None, actor=admin_user)
    away = Delivery.objects.get()
    assert (away.event, away.recipient) == (AWAY, agent)
    assert away.text.endswith("from you to nobody (Unassigned)")


# ---------------------------------------------------------------------------------------
# Customer replies
# ---------------------------------------------------------------------------------------


def test_r24_customer_reply_on_my_ticket_notifies_me(agent, other_agent):
    ticket = open_ticket(owner=agent)
    with committed():
        services.add_inbound_message(ticket=ticket, body="Any news?\n\nKim")
    assert deliveries() == {(REPLY, "agent", "in_app"), (REPLY, "agent", "email")}
    delivery = Delivery.objects.first()
    assert delivery.text == f"{ticket.contact} replied on #{ticket.pk} “{ticket.subject}”"
    assert delivery.detail == "Any news? Kim"


def test_r24_customer_reply_on_an_unowned_ticket_notifies_nobody(agent):
    with committed():
        services.add_inbound_message(ticket=open_ticket(), body="Hello?")
    assert not Delivery.objects.exists()


def test_r24_agent_messages_are_not_customer_replies(agent, other_agent):
    ticket = open_ticket(owner=agent)
    with committed():
        services.reply(ticket=ticket, author=other_agent, body="Answer")
        services.add_note(ticket=ticket, author=other_agent, body="Note")
    assert not Delivery.objects.filter(event=REPLY).exists()
    assert Message.objects.filter(ticket=ticket).count() == 2


# ---------------------------------------------------------------------------------------
# Preferences and data
# ---------------------------------------------------------------------------------------


def test_r25_r24_the_recipients_own_choices_decide_the_media(agent, other_agent):
    from notifications import services as notif

    notif.update_preferences(
        user=agent, changes={(ASSIGNED, Medium.IN_APP): False, (ASSIGNED, Medium.EMAIL): True}
    )
    assign(open_ticket(), owner=agent, actor=other_agent)
    assert deliveries() == {(ASSIGNED, "agent", "email")}


def test_r24_no_email_delivery_without_an_address(other_agent):
    nomail = AgentFactory(username="nomail", email="")
    assign(open_ticket(), owner=nomail, actor=other_agent)
    assert deliveries() == {(ASSIGNED, "nomail", "in_app")}


def test_r24_team_announcement_costs_the_same_queries_for_3_or_30_members(other_agent):
    def queries_for_team(size: int) -> int:
        team = TeamFactory()
        for user in AgentFactory.create_batch(size):
            TeamMembershipFactory(team=team, user=user, role="additional")
        ticket = open_ticket()
        event = services.assign(ticket=ticket, team=team, actor=other_agent, cause=Cause.MANUAL)
        with CaptureQueriesContext(connection) as ctx:
            announce_assignment(assignment_id=event.pk)
        assert Delivery.objects.filter(ticket=ticket).count() == size
        return len(ctx.captured_queries)

    assert queries_for_team(3) == queries_for_team(30)


def test_receivers_do_no_database_work_inside_the_services_transaction(agent, other_agent):
    """They only schedule the announcement for after commit: the core's writes (and the
    routing engine's query budget) are untouched."""
    ticket = open_ticket(owner=agent)
    with CaptureQueriesContext(connection) as ctx:
        services.assign(ticket=ticket, owner=other_agent, actor=None, cause=Cause.SYSTEM)
        services.add_inbound_message(ticket=ticket, body="Hello again")
        services.create_ticket(subject="No channel", body="Hi")
    assert not [q for q in ctx.captured_queries if "notifications_" in q["sql"]]
    assert not Delivery.objects.exists()
    assert len(connection.run_on_commit) == 3  # assignment, customer reply, unassigned


def test_a_failing_announcement_never_undoes_the_ticket_change(
    agent, other_agent, monkeypatch, caplog, django_capture_on_commit_callbacks, published_tasks
):
    from helpdesk.models import Job

    def broken(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("notifications.announce.notify_all", broken)
    ticket = open_ticket()
    with django_capture_on_commit_callbacks(execute=True):
        services.assign(ticket=ticket, owner=agent, team=None, actor=other_agent, cause="manual")
    with caplog.at_level(logging.ERROR):
        # As a worker runs it: the error is logged and the job marked failed, not raised.
        assert published_tasks.run(propagate=False) == [
            "notifications.tasks.announce_assignment_task"
        ]
    ticket.refresh_from_db()
    assert ticket.owner == agent
    assert "boom" in caplog.text
    job = Job.objects.get()
    assert (job.state, job.last_error) == (Job.State.FAILED, "RuntimeError: boom")


def test_announcements_wait_as_jobs_when_the_broker_is_down(
    agent, other_agent, monkeypatch, published_tasks
):
    """The broker is a doorbell: the announcement is a job in PostgreSQL, committed with the
    assignment, and the jobs sweep publishes it once the broker is back."""
    from kombu.exceptions import OperationalError

    from helpdesk import jobs
    from helpdesk.celery import app as celery_app
    from helpdesk.models import Job

    def broker_down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to redis")

    ticket = open_ticket()
    with monkeypatch.context() as broker:
        broker.setattr(celery_app, "send_task", broker_down)
        assign(ticket, owner=agent, actor=other_agent)
    ticket.refresh_from_db()
    assert ticket.owner == agent
    job = Job.objects.get()
    assert job.task == "notifications.tasks.announce_assignment_task"
    assert job.state == Job.State.PENDING
    assert not Delivery.objects.exists()

    # The broker is back: the sweep publishes the job, and a worker runs it.
    assert jobs.sweep_overdue(now=job.due_at) == 1
    # the in-app delivery is made by the announcement itself; the email is a task
    assert published_tasks.run() == [job.task, "notifications.tasks.deliver_task"]
    job.refresh_from_db()
    assert job.state == Job.State.DONE and job.attempts == 1
    assert deliveries() == {(ASSIGNED, "agent", "in_app"), (ASSIGNED, "agent", "email")}
    assert jobs.sweep_overdue(now=job.due_at) == 0  # done: never published again
