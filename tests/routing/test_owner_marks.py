"""The owner picker marks who is at capacity (routing.receivers.mark_at_capacity, connected to
helpdesk.owner_search.owner_marks): manual assignment may exceed a limit, so the picker says so."""

from django.test import Client
from django.urls import reverse

from helpdesk.models import TicketType
from routing.models import CapacityLimit
from tests.factories import AgentFactory, TicketFactory


def test_the_owner_picker_marks_users_at_capacity_for_the_tickets_type(
    agent, other_agent, django_assert_max_num_queries
):
    agent_client = Client()
    agent_client.force_login(agent)
    CapacityLimit.objects.create(user=other_agent, ticket_type=TicketType.EMAIL, max_open=1)
    TicketFactory(owner=other_agent, ticket_type=TicketType.EMAIL)
    AgentFactory(first_name="Otto", last_name="Free")
    ticket = TicketFactory(ticket_type=TicketType.EMAIL)
    with django_assert_max_num_queries(12):
        html = agent_client.get(
            reverse("ticket-owner-search", args=[ticket.pk]), {"q": "otto"}
        ).content.decode()
    assert html.count("at capacity (1/1)") == 1
    other_type = TicketFactory(ticket_type=TicketType.MESSAGES)
    html = agent_client.get(
        reverse("ticket-owner-search", args=[other_type.pk]), {"q": "otto"}
    ).content.decode()
    assert "at capacity" not in html
