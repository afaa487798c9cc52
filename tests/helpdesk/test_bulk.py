"""Issue 13, bulk actions on a queue page: select rows (or all on the page), then assign,
set status or priority, or close — each ticket through its service with the version the
agent saw, with a summary of what changed and what was refused and why. And the search
box opens a ticket by its number."""

import re

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from helpdesk import services
from helpdesk.models import AssignmentEvent, Ticket
from tests.factories import AgentFactory, OutOfOfficeFactory, TeamFactory, TicketFactory

pytestmark = pytest.mark.django_db


def bulk_url(slug="open") -> str:
    return reverse("queue-bulk", args=[slug])


def picks(*tickets) -> list[str]:
    return [f"{t.pk}:{t.version}" for t in tickets]


def said(response) -> list[str]:
    return [m.message for m in get_messages(response.wsgi_request)]


def test_bulk_assign_gives_every_picked_ticket_to_the_user(agent_client, agent, other_agent):
    tickets = [TicketFactory(channel=None) for _ in range(20)]
    response = agent_client.post(
        bulk_url(),
        {"tickets": picks(*tickets), "action": "assign", "assignee": f"user:{other_agent.pk}"},
    )
    assert response.status_code == 302 and response["Location"] == reverse("queue", args=["open"])
    assert Ticket.objects.filter(owner=other_agent).count() == 20
    assert (
        AssignmentEvent.objects.filter(
            actor=agent, to_owner=other_agent, cause=AssignmentEvent.Cause.MANUAL
        ).count()
        == 20
    )
    assert said(response) == [f"20 tickets assigned to {other_agent}."]


def test_a_ticket_changed_meanwhile_is_refused_and_named_the_rest_change(
    agent_client, agent, other_agent
):
    first, second, third = (TicketFactory(channel=None) for _ in range(3))
    seen = picks(first, second, third)
    services.set_priority(ticket=second, priority=Ticket.Priority.URGENT, actor=other_agent)
    response = agent_client.post(
        bulk_url(), {"tickets": seen, "action": "status", "status": "waiting_on_contact"}
    )
    statuses = dict(Ticket.objects.values_list("pk", "status"))
    assert statuses[first.pk] == statuses[third.pk] == "waiting_on_contact"
    assert statuses[second.pk] == "new"  # not overwritten
    assert said(response) == [
        "2 tickets set to Waiting on contact.",
        f"1 ticket not changed — #{second.pk}: changed by someone else after you loaded the page.",
    ]


def test_all_on_this_page_takes_every_row_of_the_page(agent_client):
    tickets = [TicketFactory(channel=None) for _ in range(4)]
    agent_client.post(
        bulk_url(),
        {
            "page_tickets": picks(*tickets),
            "tickets": picks(tickets[0]),
            "all_on_page": "on",
            "action": "priority",
            "priority": str(Ticket.Priority.HIGH),
        },
    )
    assert set(Ticket.objects.values_list("priority", flat=True)) == {Ticket.Priority.HIGH}


def test_close_and_already_so(agent_client):
    open_one = TicketFactory(channel=None)
    closed = TicketFactory(channel=None, status=Ticket.Status.CLOSED)
    response = agent_client.post(
        bulk_url(), {"tickets": picks(open_one, closed), "action": "close"}
    )
    open_one.refresh_from_db()
    assert open_one.status == Ticket.Status.CLOSED and open_one.closed_at is not None
    assert said(response) == ["1 ticket closed. 1 ticket already so."]


def test_nothing_picked_or_no_target_says_what_to_do_and_changes_nothing(agent_client):
    ticket = TicketFactory(channel=None)
    response = agent_client.post(bulk_url(), {"action": "close"})
    assert said(response) == ["Select one or more tickets first."]
    response = agent_client.post(bulk_url(), {"tickets": picks(ticket), "action": "assign"})
    assert said(response)[-1] == (
        "Type a name, a username or #team and pick from the list, or use Unassign."
    )
    ticket.refresh_from_db()
    assert (ticket.status, ticket.owner_id, ticket.version) == ("new", None, 1)


@pytest.mark.parametrize(
    "value", ["1", "x:1", "1:x", "1;1", "1:1:1", "99999999999999999999:1", "1\x00:1"]
)
def test_malformed_picks_are_a_message_not_an_error(agent_client, value):
    ticket = TicketFactory(channel=None)
    response = agent_client.post(bulk_url(), {"tickets": [value], "action": "close"})
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert ticket.status == "new"


def test_unknown_queue_is_404(agent_client):
    assert agent_client.post(bulk_url("nope"), {"action": "close"}).status_code == 404


def test_bulk_needs_ticket_access(client, outsider):
    ticket = TicketFactory(channel=None)
    client.force_login(outsider)
    response = client.post(bulk_url(), {"tickets": picks(ticket), "action": "close"})
    assert response.status_code == 403
    ticket.refresh_from_db()
    assert ticket.status == "new"


def test_the_queue_page_has_the_bulk_bar_and_a_box_per_row(agent_client):
    tickets = [TicketFactory(channel=None) for _ in range(3)]
    page = agent_client.get(reverse("queue", args=["open"])).content.decode()
    assert 'id="bulk-form"' in page and "data-bulk-all" in page
    for t in tickets:
        assert f'name="tickets" value="{t.pk}:{t.version}" form="bulk-form"' in page


@pytest.mark.parametrize("typed", ["{pk}", "#{pk}", " # {pk} "])
def test_search_by_ticket_number_opens_the_ticket(agent_client, typed):
    ticket = TicketFactory(channel=None)
    response = agent_client.get(reverse("queue", args=["open"]), {"q": typed.format(pk=ticket.pk)})
    assert response.status_code == 302
    assert response["Location"] == reverse("ticket", args=[ticket.pk])


def test_a_number_that_is_no_ticket_searches_as_text(agent_client):
    TicketFactory(channel=None, subject="Order 424242 missing")
    response = agent_client.get(reverse("queue", args=["open"]), {"q": "424242"})
    assert response.status_code == 200
    assert [t.subject for t in response.context["tickets"]] == ["Order 424242 missing"]


@pytest.mark.parametrize("search", ["ticket-owner-search", "owner-search"])
def test_r11_owner_pickers_say_who_is_away_or_out_of_office(agent_client, other_agent, search):
    """Both pickers — the Ticket owner control's and the bulk bar's — ask as the agent types
    (tests/helpdesk/test_owner_search.py) and mark who is away or out of office."""
    services.set_status(user=other_agent, status="away")
    on_leave = AgentFactory(first_name="Olav", last_name="Leave")
    OutOfOfficeFactory(user=on_leave)
    ticket = TicketFactory(channel=None)
    url = reverse(search, args=[ticket.pk] if search == "ticket-owner-search" else [])
    found = agent_client.get(url, {"q": "o"}).content.decode()
    within = r"(?:(?!</li>).)*?"  # inside that user's option
    assert re.search(rf'data-name="{other_agent}">{within}"hd-owner-mark">away<', found, re.S)
    assert re.search(rf'data-name="Olav Leave">{within}mark">out of office<', found, re.S)


def test_the_bulk_bar_lists_nobody_whatever_the_number_of_agents(agent_client):
    """The bulk bar's owner field is a picker that searches (`/owners/search/`): the page's
    HTML and queries do not grow with the agents (issue 14)."""
    TicketFactory(channel=None)
    sizes = []
    for _ in range(2):
        AgentFactory.create_batch(30)
        page = agent_client.get(reverse("queue", args=["open"])).content.decode()
        sizes.append(len(page))
    assert 'data-search-url="/owners/search/"' in page and 'id="bulk-owner"' in page
    assert '<option value="user:' not in page
    assert abs(sizes[0] - sizes[1]) < 200  # the menu's counts may differ by a digit


def test_bulk_assign_by_a_typed_name_or_team_and_unassign(agent_client, other_agent):
    team = TeamFactory(name="Billing")
    tickets = [TicketFactory(channel=None) for _ in range(2)]
    response = agent_client.post(
        bulk_url(), {"tickets": picks(*tickets), "action": "assign", "owner": other_agent.username}
    )
    assert said(response) == [f"2 tickets assigned to {other_agent}."]
    tickets = [Ticket.objects.get(pk=t.pk) for t in tickets]
    response = agent_client.post(
        bulk_url(), {"tickets": picks(*tickets), "action": "assign", "owner": "#billing"}
    )
    assert said(response)[-1] == "2 tickets assigned to Billing."
    assert set(Ticket.objects.values_list("owner", "team")) == {(None, team.pk)}
    tickets = [Ticket.objects.get(pk=t.pk) for t in tickets]
    response = agent_client.post(bulk_url(), {"tickets": picks(*tickets), "action": "unassign"})
    assert said(response)[-1] == "2 tickets unassigned."
    assert set(Ticket.objects.values_list("owner", "team")) == {(None, None)}


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"owner": "nobody-like-this"}, "No one matches “nobody-like-this”."),
        ({"assignee": "user:999999"}, "Choose a team or a user from the list."),
        ({"assignee": "user:1 OR 1=1"}, ""),
        ({"owner": "x" * 101}, ""),
    ],
)
def test_a_name_that_names_nobody_changes_nothing_and_says_so(agent_client, fields, error):
    ticket = TicketFactory(channel=None)
    response = agent_client.post(
        bulk_url(), {"tickets": picks(ticket), "action": "assign", **fields}
    )
    assert response.status_code == 302
    assert error in said(response)[-1] and said(response)[-1]
    ticket.refresh_from_db()
    assert (ticket.owner_id, ticket.team_id, ticket.version) == (None, None, 1)


@pytest.mark.parametrize(
    ("query", "back"),
    [
        ("q=printer&priority=2", "?q=printer&priority=2"),
        (
            "q=a\r\nLocation: https://evil.example/",
            "?q=a%0D%0ALocation%3A+https%3A%2F%2Fevil.example%2F",
        ),
        ("", ""),
    ],
)
def test_the_bulk_bar_goes_back_to_the_same_filtered_page_and_nowhere_else(
    agent_client, query, back
):
    ticket = TicketFactory(channel=None)
    response = agent_client.post(
        bulk_url(), {"tickets": picks(ticket), "action": "close", "query": query}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("queue", args=["open"]) + back
