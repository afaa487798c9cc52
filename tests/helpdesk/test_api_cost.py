"""What POST /api/v1/tickets/ costs: a fixed number of queries whatever the account holds, the
token's user read with its permissions in two statements, the token's use written at most
once a minute — and the answer still the ticket as a GET right after it shows it."""

import json
from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from helpdesk.access import TICKET_ACCESS
from helpdesk.channel_kinds import AssignMode
from helpdesk.models import ApiToken, User
from helpdesk.services import user_for_token
from tests.factories import (
    AgentFactory,
    ApiTokenFactory,
    ChannelAutomationFactory,
    ChannelFactory,
    TeamFactory,
    TicketFactory,
)

TICKETS_URL = "/api/v1/tickets/"
# The token and its user (1), the user's permissions (1), the channel (1), the contact (1)
# and, when new, its insert (1), the ticket (1) and its first message (1), the ticket as it
# is now (1); around the writes a savepoint and its release (the test's transaction).
POST_QUERIES = 10


def post(client, token, number: int, **fields):
    payload = {
        "subject": f"Printer on fire {number}",
        "body": "It is on fire.",
        "contact_email": f"customer{number}@example.com",
        "contact_name": "Casey",
        **fields,
    }
    return client.post(
        TICKETS_URL,
        data=json.dumps(payload),
        content_type="application/json",
        headers={"Authorization": f"Bearer {token.raw_key}"},
    )


def queries_of(client, token, number: int, **fields) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = post(client, token, number, **fields)
    assert response.status_code == 201, response.content
    return len(ctx.captured_queries)


@pytest.mark.django_db
def test_create_costs_a_fixed_number_of_queries_whatever_the_account_holds(
    client, agent, django_assert_max_num_queries
):
    token = ApiTokenFactory(user=agent)
    channel = ChannelFactory()
    post(client, token, 0, channel_id=channel.pk)  # the token's first use is written

    with django_assert_max_num_queries(POST_QUERIES):
        post(client, token, 1, channel_id=channel.pk)
    small = queries_of(client, token, 2, channel_id=channel.pk)

    # Many agents, teams, channels, tickets; the token's user in more groups, with
    # permissions of their own.
    AgentFactory.create_batch(15)
    TeamFactory.create_batch(5)
    ChannelFactory.create_batch(10)
    TicketFactory.create_batch(10)
    for name in ("Night shift", "Escalations"):
        group = Group.objects.create(name=name)
        group.permissions.add(*Permission.objects.order_by("pk")[:5])
        agent.groups.add(group)
    agent.user_permissions.add(*Permission.objects.order_by("-pk")[:3])

    assert queries_of(client, token, 3, channel_id=channel.pk) == small
    assert queries_of(client, token, 3, channel_id=channel.pk) == small - 1  # contact known
    # Without a channel: no channel to read, but the ticket's announcement is a job (1).
    assert queries_of(client, token, 4) == small


@pytest.mark.django_db
def test_the_token_user_has_the_permissions_django_would_read(agent, django_assert_num_queries):
    group = Group.objects.create(name="Escalations")
    group.permissions.add(Permission.objects.get(codename="add_team"))
    agent.groups.add(group)
    agent.user_permissions.add(Permission.objects.get(codename="view_channel"))
    raw = ApiTokenFactory(user=agent).raw_key

    user = user_for_token(raw)

    fresh = User.objects.get(pk=agent.pk)  # permissions read by Django's ModelBackend
    assert user.get_all_permissions() == fresh.get_all_permissions()
    assert {
        "helpdesk.add_team",
        "helpdesk.view_channel",
        TICKET_ACCESS,
    } <= fresh.get_all_permissions()
    with django_assert_num_queries(0):
        assert user.has_perm(TICKET_ACCESS) and user.has_ticket_access
        assert not user.has_perm("helpdesk.delete_ticket")


@pytest.mark.django_db
def test_a_token_without_user_permissions_still_has_its_groups(agent):
    raw = ApiTokenFactory(user=agent).raw_key
    user = user_for_token(raw)
    assert user.has_ticket_access
    assert user.get_all_permissions() == User.objects.get(pk=agent.pk).get_all_permissions()


@pytest.mark.django_db
def test_the_token_use_is_written_at_most_once_a_minute(agent):
    token = ApiTokenFactory(user=agent)
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        assert user_for_token(token.raw_key) == agent
    token.refresh_from_db()
    assert token.last_used_at == start

    with time_machine.travel(start + timedelta(seconds=59), tick=False):
        assert user_for_token(token.raw_key) == agent
    assert ApiToken.objects.get(pk=token.pk).last_used_at == start

    with time_machine.travel(start + timedelta(seconds=61), tick=False):
        assert user_for_token(token.raw_key) == agent
    assert ApiToken.objects.get(pk=token.pk).last_used_at == start + timedelta(seconds=61)


@pytest.mark.django_db
def test_an_unknown_or_inactive_token_finds_nobody(agent):
    token = ApiTokenFactory(user=agent)
    assert user_for_token(token.raw_key + "x") is None
    User.objects.filter(pk=agent.pk).update(is_active=False)
    assert user_for_token(token.raw_key) is None
    assert ApiToken.objects.get(pk=token.pk).last_used_at is None  # an inactive user's use


def get_json(client, token, ticket_id: int) -> dict:
    response = client.get(
        f"{TICKETS_URL}{ticket_id}/", headers={"Authorization": f"Bearer {token.raw_key}"}
    )
    assert response.status_code == 200
    return response.json()


@pytest.mark.django_db
def test_the_answer_is_the_ticket_as_get_shows_it_while_routing_waits(client, agent):
    token = ApiTokenFactory(user=agent)
    channel = ChannelAutomationFactory(assign_mode=AssignMode.SPECIFIC, users=[agent]).channel

    response = post(client, token, 1, channel_id=channel.pk)

    data = response.json()
    assert (data["routing_state"], data["owner"], data["assignment_history"]) == (
        "pending",
        None,
        [],
    )
    assert data == get_json(client, token, data["id"])


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("eager_celery")
def test_the_answer_shows_an_assignment_made_before_it(client, agent):
    """With eager Celery the commit routes the ticket: the answer is read again in full."""
    token = ApiTokenFactory(user=agent)
    channel = ChannelAutomationFactory(assign_mode=AssignMode.SPECIFIC, users=[agent]).channel

    response = post(client, token, 1, channel_id=channel.pk)

    data = response.json()
    assert data["routing_state"] == "done"
    assert data["owner"]["id"] == agent.pk
    assert [e["cause"] for e in data["assignment_history"]] == ["routing"]
    assert data == get_json(client, token, data["id"])


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("eager_celery")
def test_the_answer_shows_a_routing_that_assigned_nobody(client, agent):
    """Routing that leaves the ticket unassigned changes its routing state alone (no new
    version): the narrow read carries it into the answer."""
    token = ApiTokenFactory(user=agent)
    away = AgentFactory(status=User.Status.AWAY)
    channel = ChannelAutomationFactory(
        assign_mode=AssignMode.SPECIFIC, users=[away], available_only=True
    ).channel

    response = post(client, token, 1, channel_id=channel.pk)

    data = response.json()
    assert data["routing_state"] != "pending"
    assert (data["owner"], data["team"], data["assignment_history"]) == (None, None, [])
    assert data == get_json(client, token, data["id"])
