"""Routing through Celery: the trigger on commit, nothing lost when the broker is down (the
sweep), and the real thing — a Celery worker process on Redis routing tickets created
through the API."""

import json
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from channels_cfg.models import AssignMode
from helpdesk import services
from helpdesk.models import Ticket
from routing import engine, tasks
from routing.models import RoutingDecision
from tests.factories import AgentFactory, ApiTokenFactory, ChannelAutomationFactory
from tests.support.services import broker_at, free_port, wait_until


def routed_channel(*agents):
    return ChannelAutomationFactory(assign_mode=AssignMode.SPECIFIC, users=list(agents)).channel


@pytest.mark.django_db(transaction=True)
def test_ticket_created_enqueues_routing_on_commit(published_tasks):
    agent = AgentFactory()
    channel = routed_channel(agent)
    ticket, _ = services.create_ticket(subject="Hello", body="Hi", channel=channel)
    ticket.refresh_from_db()
    assert ticket.routing_state == Ticket.RoutingState.PENDING and ticket.owner is None
    assert published_tasks.names == [tasks.route_ticket_task.name]  # published on commit
    assert published_tasks.run()[0] == tasks.route_ticket_task.name  # a worker runs it
    ticket.refresh_from_db()
    assert ticket.owner == agent
    assert ticket.routing_state == Ticket.RoutingState.DONE


@pytest.mark.django_db(transaction=True)
def test_ticket_created_while_broker_is_down_is_routed_by_the_sweep(published_tasks):
    agent = AgentFactory()
    channel = routed_channel(agent)
    with broker_at(f"redis://127.0.0.1:{free_port()}/0"):  # a port where nothing listens
        ticket, created = services.create_ticket(subject="Broker down", body="Hi", channel=channel)
    assert created  # the ticket is kept even though routing could not be enqueued
    ticket.refresh_from_db()
    assert ticket.routing_state == Ticket.RoutingState.PENDING and ticket.owner is None

    # The broker is back.
    assert tasks.sweep_pending_task.apply().get() == 0  # too young: still within the grace period
    assert published_tasks.names == []
    with time_machine.travel(timezone.now() + timedelta(minutes=5)):
        assert tasks.sweep_pending_task.apply().get() == 1
        assert published_tasks.run()[0] == tasks.route_ticket_task.name
    ticket.refresh_from_db()
    assert ticket.owner == agent
    assert RoutingDecision.objects.filter(ticket=ticket).count() == 1


@pytest.mark.django_db
def test_route_ticket_task_is_idempotent():
    agent = AgentFactory()
    ticket, _ = services.create_ticket(subject="Twice", body="Hi", channel=routed_channel(agent))
    tasks.route_ticket_task.apply(args=(ticket.pk,))
    tasks.route_ticket_task.apply(args=(ticket.pk,))  # a redelivered message
    assert RoutingDecision.objects.filter(ticket=ticket).count() == 1
    ticket.refresh_from_db()
    assert ticket.owner == agent


@pytest.mark.celery_worker
def test_tickets_created_through_the_api_are_routed_by_a_real_worker(celery_worker, client):
    agents = [AgentFactory(), AgentFactory()]
    channel = routed_channel(*agents)
    token = ApiTokenFactory(user=agents[0])
    ids = []
    for i in range(4):
        response = client.post(
            "/api/v1/tickets/",
            data=json.dumps(
                {
                    "subject": f"API {i}",
                    "body": "Hello",
                    "contact_email": f"c{i}@example.com",
                    "channel_id": channel.pk,
                }
            ),
            content_type="application/json",
            headers={"authorization": f"Bearer {token.raw_key}"},
        )
        assert response.status_code == 201, response.content
        ids.append(response.json()["id"])

    def all_routed():
        tickets = Ticket.objects.filter(pk__in=ids)
        return all(t.routing_state == "done" for t in tickets) and tickets

    tickets = wait_until(all_routed, timeout=60)
    owners = sorted(t.owner_id for t in tickets)
    assert owners == sorted([agents[0].pk, agents[0].pk, agents[1].pk, agents[1].pk])
    assert RoutingDecision.objects.filter(ticket_id__in=ids).count() == 4


@pytest.mark.django_db
def test_a_job_enqueued_by_name_records_that_name_and_an_unknown_name_records_nothing():
    from celery.exceptions import NotRegistered

    from helpdesk import jobs
    from helpdesk.models import Job

    jobs.enqueue(engine.EMAIL_OWNER_TASK, key="by-name", decision_id=1)
    assert Job.objects.get(key="by-name").task == engine.EMAIL_OWNER_TASK
    with pytest.raises(NotRegistered):
        jobs.enqueue("routing.tasks.no_such_task", key="misspelt", decision_id=1)
    assert not Job.objects.filter(key="misspelt").exists()
