"""Capacity as the owner control shows it, and the ticket page's explanation of a decision."""

import pytest
from django.template import Context, Template

from channels_cfg.models import AssignMode
from helpdesk import services
from routing.capacity import users_at_capacity
from routing.engine import route_ticket
from routing.models import CapacityLimit
from tests.factories import AgentFactory, ChannelAutomationFactory, ChannelFactory, TicketFactory

pytestmark = pytest.mark.django_db


def test_users_at_capacity_use_own_limit_else_account_default(django_assert_max_num_queries):
    own, by_default, free = AgentFactory(), AgentFactory(), AgentFactory()
    channel = ChannelFactory()
    for user, n in ((own, 2), (by_default, 3), (free, 1)):
        for _ in range(n):
            TicketFactory(channel=channel, owner=user)
    CapacityLimit.objects.create(user=own, ticket_type="email", max_open=2)
    CapacityLimit.objects.create(user=None, ticket_type="email", max_open=3)
    with django_assert_max_num_queries(3):
        full = users_at_capacity(ticket_type="email")
    assert [(row.user, row.open_count, row.limit) for row in full] == [
        (own, 2, 2),
        (by_default, 3, 3),
    ]
    assert users_at_capacity(ticket_type="calls") == []


def test_capacity_warning_tag_names_who_is_full_but_manual_assignment_still_works():
    full = AgentFactory(first_name="Fay", last_name="Full")
    ticket = TicketFactory(owner=full)
    CapacityLimit.objects.create(user=full, ticket_type="email", max_open=1)
    html = Template("{% load routing_tags %}{% capacity_warning ticket %}").render(
        Context({"ticket": ticket})
    )
    assert "Fay Full (1/1)" in html and "assign by hand" in html
    other = TicketFactory()
    services.assign(ticket=other, owner=full, actor=full, cause="manual")  # may exceed
    other.refresh_from_db()
    assert other.owner == full


def test_explanation_tag_says_why_in_plain_words():
    agent = AgentFactory(first_name="Alma", last_name="Able")
    away = AgentFactory(first_name="Ari", last_name="Away", status="away")
    channel = ChannelAutomationFactory(assign_mode=AssignMode.SPECIFIC, users=[agent, away]).channel
    ticket, _ = services.create_ticket(subject="Hi", body="Hello", channel=channel)
    route_ticket(ticket_id=ticket.pk)
    html = Template("{% load routing_tags %}{% routing_explanation ticket %}").render(
        Context({"ticket": ticket})
    )
    assert "Why was this assigned to Alma Able?" in html
    assert "Assigned to Alma Able by load balancing" in html
    assert "Ari Away: set to away" in html
    untouched = TicketFactory()
    empty = Template("{% load routing_tags %}{% routing_explanation ticket %}").render(
        Context({"ticket": untouched})
    )
    assert empty.strip() == ""


def test_ticket_page_shows_why_it_was_assigned(client):
    agent = AgentFactory(first_name="Alma", last_name="Able")
    channel = ChannelAutomationFactory(assign_mode=AssignMode.SPECIFIC, users=[agent]).channel
    ticket, _ = services.create_ticket(subject="Hi", body="Hello", channel=channel)
    route_ticket(ticket_id=ticket.pk)
    client.force_login(agent)
    html = client.get(f"/tickets/{ticket.pk}/").content.decode()
    assert "Why was this assigned to Alma Able?" in html
