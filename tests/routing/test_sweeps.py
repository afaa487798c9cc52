"""Nothing stuck (`routing.sweeps`): tickets whose routing stayed pending are found again
after the grace period, and tickets waiting for an agent are released once the engine's dry
run says someone can take them. (Through Celery and a broker that is down: test_tasks.py.)"""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from channels_cfg.models import AssignMode
from helpdesk import services
from helpdesk.models import Ticket, User
from routing.engine import route_ticket
from routing.models import WaitingTicket
from routing.sweeps import release_waiting_tickets, stale_pending_ticket_ids
from tests.factories import AgentFactory, ChannelAutomationFactory, ChannelFactory, TicketFactory

pytestmark = pytest.mark.django_db


def pending(created_ago: timedelta, state=Ticket.RoutingState.PENDING) -> Ticket:
    return TicketFactory(routing_state=state, created_at=timezone.now() - created_ago)


def test_pending_tickets_are_found_again_after_the_grace_period_oldest_first(settings):
    settings.ROUTING_PENDING_GRACE_SECONDS = 120
    young = pending(timedelta(seconds=60))
    old = pending(timedelta(minutes=10))
    older = pending(timedelta(hours=1))
    pending(timedelta(hours=2), state=Ticket.RoutingState.DONE)
    assert stale_pending_ticket_ids() == [older.pk, old.pk]
    later = timezone.now() + timedelta(minutes=5)
    assert young.pk in stale_pending_ticket_ids(now=later)


def waiting_ticket(agent, **automation):
    """A ticket routed while its only agent was away, on a channel that routes again."""
    automation.setdefault("reroute_when_available", True)
    channel = ChannelAutomationFactory(
        channel=ChannelFactory(), assign_mode=AssignMode.SPECIFIC, users=[agent], **automation
    ).channel
    ticket, _ = services.create_ticket(subject="Help", body="Please", channel=channel)
    decision = route_ticket(ticket_id=ticket.pk)
    assert WaitingTicket.objects.filter(ticket=ticket).exists(), decision.summary
    assert decision.summary.endswith("It will be routed again when an agent becomes available.")
    return ticket


def test_a_waiting_ticket_is_released_once_an_agent_is_available():
    agent = AgentFactory(status=User.Status.AWAY)
    ticket = waiting_ticket(agent)
    assert release_waiting_tickets() == []  # still nobody: it keeps waiting
    assert WaitingTicket.objects.filter(ticket=ticket).exists()
    services.set_status(user=agent, status=User.Status.AVAILABLE)
    assert release_waiting_tickets() == [ticket.pk]
    ticket.refresh_from_db()
    assert ticket.routing_state == Ticket.RoutingState.PENDING and ticket.owner is None
    assert not WaitingTicket.objects.filter(ticket=ticket).exists()
    route_ticket(ticket_id=ticket.pk)
    ticket.refresh_from_db()
    assert ticket.owner == agent


def test_the_release_is_a_dry_run_that_locks_nothing():
    agent = AgentFactory(status=User.Status.AWAY)
    waiting_ticket(agent)
    services.set_status(user=agent, status=User.Status.AVAILABLE)
    with CaptureQueriesContext(connection) as ctx:
        assert len(release_waiting_tickets()) == 1
    assert not [q["sql"] for q in ctx.captured_queries if " FOR " in q["sql"]]


def test_a_ticket_assigned_meanwhile_stops_waiting(other_agent):
    agent = AgentFactory(status=User.Status.AWAY)
    ticket = waiting_ticket(agent)
    services.assign(ticket=ticket, owner=other_agent, actor=other_agent, cause="manual")
    services.set_status(user=agent, status=User.Status.AVAILABLE)
    assert release_waiting_tickets() == []
    assert not WaitingTicket.objects.filter(ticket=ticket).exists()
    ticket.refresh_from_db()
    assert ticket.owner == other_agent


def test_a_channel_that_no_longer_routes_again_lets_its_tickets_stop_waiting():
    agent = AgentFactory(status=User.Status.AWAY)
    ticket = waiting_ticket(agent)
    ticket.channel.automation.reroute_when_available = False
    ticket.channel.automation.save()
    services.set_status(user=agent, status=User.Status.AVAILABLE)
    assert release_waiting_tickets() == []
    assert not WaitingTicket.objects.filter(ticket=ticket).exists()
    ticket.refresh_from_db()
    assert ticket.routing_state == Ticket.RoutingState.DONE  # left for triage
