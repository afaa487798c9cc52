"""The Ticket owner control without a list of every agent (R3, R5, R7, R8, R11): the search
the picker calls as the agent types (results, marks, limits, access, bad input, a fixed
query count), the ticket page whose size and cost do not grow with the number of agents,
and the plain form that resolves a typed name."""

import datetime as dt
import re

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from helpdesk.models import OutOfOffice, Seat, Ticket, User, WorkingHours
from helpdesk.owner_search import MAX_RESULTS, owner_marks, search_owners
from helpdesk.services.groups import AGENTS, ensure_default_groups
from tests.factories import AgentFactory, TeamFactory, TicketFactory, UserFactory

HTMX = {"HTTP_HX_REQUEST": "true"}


def search_url(ticket: Ticket) -> str:
    return reverse("ticket-owner-search", args=[ticket.pk])


def owner_url(ticket: Ticket) -> str:
    return reverse("ticket-owner", args=[ticket.pk])


def options(html: str) -> list[tuple[str, str]]:
    """(key, name) of each option of the picker's answer, in order."""
    return re.findall(
        r'role="option" aria-selected="false" data-value="([^"]+)" data-name="([^"]+)"', html
    )


def many_agents(n: int, prefix: str = "bulk") -> list[User]:
    """`n` seated agents, in a few queries (the factory costs a handful each)."""
    ensure_default_groups()
    users = User.objects.bulk_create(
        User(
            username=f"{prefix}{i:03d}",
            first_name=f"Bulk{i:03d}",
            last_name="Person",
            email=f"{prefix}{i:03d}@example.com",
        )
        for i in range(n)
    )
    Group.objects.get(name=AGENTS).user_set.add(*users)
    Seat.objects.bulk_create(Seat(user=user) for user in users)
    return users


@pytest.fixture
def ticket(db):
    return TicketFactory(subject="Printer on fire")


# --- the search -----------------------------------------------------------------------------


def test_r3_search_finds_teams_and_users_with_ticket_access_by_name_username_and_email(
    agent_client, agent, other_agent, support, outsider, ticket
):
    TeamFactory(name="Billing")
    UserFactory(first_name="Otto", last_name="Plain")  # no ticket access
    AgentFactory(username="ottoinactive", first_name="Otto", last_name="Gone", is_active=False)
    response = agent_client.get(search_url(ticket), {"q": "ot"})
    assert response.status_code == 200
    assert options(response.content.decode()) == [(f"user:{other_agent.pk}", "Otto Other")]
    by_username = agent_client.get(search_url(ticket), {"q": "other_ag"}).content.decode()
    assert options(by_username) == [(f"user:{other_agent.pk}", "Otto Other")]
    by_email = agent_client.get(search_url(ticket), {"q": "other_agent@example"}).content.decode()
    assert options(by_email) == [(f"user:{other_agent.pk}", "Otto Other")]
    teams = agent_client.get(search_url(ticket), {"q": "sup"}).content.decode()
    assert options(teams) == [(f"team:{support.pk}", "#Support")]
    outsiders = agent_client.get(search_url(ticket), {"q": "olga"}).content.decode()
    assert options(outsiders) == []


def test_r3_words_narrow_and_names_that_start_with_the_text_come_first(agent_client, ticket):
    late = AgentFactory(username="zz1", first_name="Bob", last_name="Adams")
    early = AgentFactory(username="zz2", first_name="Adam", last_name="Zeta")
    html = agent_client.get(search_url(ticket), {"q": "adam"}).content.decode()
    assert [key for key, _ in options(html)] == [f"user:{early.pk}", f"user:{late.pk}"]
    html = agent_client.get(search_url(ticket), {"q": "bob ada"}).content.decode()
    assert [key for key, _ in options(html)] == [f"user:{late.pk}"]


def test_r3_hash_looks_for_teams_only(agent_client, support, ticket):
    AgentFactory(first_name="Supriya", last_name="Rao")
    html = agent_client.get(search_url(ticket), {"q": "#su"}).content.decode()
    assert options(html) == [(f"team:{support.pk}", "#Support")]


def test_r7_r11_users_are_marked_no_seat_away_out_of_office_and_off_hours(
    agent_client, agent, ticket
):
    now = timezone.now()
    AgentFactory(first_name="Mark", last_name="Noseat", seat=False)
    AgentFactory(first_name="Mark", last_name="Away", status=User.Status.AWAY)
    on_leave = AgentFactory(first_name="Mark", last_name="Leave")
    OutOfOffice.objects.create(
        user=on_leave, start=now - dt.timedelta(hours=1), end=now + dt.timedelta(days=1)
    )
    AgentFactory(  # follows working hours and has none: always off hours
        first_name="Mark", last_name="Hours", availability_mode=User.AvailabilityMode.WORKING_HOURS
    )
    AgentFactory(first_name="Mark", last_name="Here")
    html = agent_client.get(search_url(ticket), {"q": "mark"}).content.decode()
    rows = re.findall(r'<li [^>]*data-name="([^"]+)">(.*?)</li>', html, re.S)
    words = {name: re.findall(r'class="hd-owner-mark">([^<]+)<', row) for name, row in rows}
    assert words == {
        "Mark Away": ["away"],
        "Mark Here": [],
        "Mark Hours": ["off hours"],
        "Mark Leave": ["out of office"],
        "Mark Noseat": ["no seat"],
    }


def test_r3_the_current_owner_is_marked(agent_client, other_agent):
    ticket = TicketFactory(owner=other_agent)
    html = agent_client.get(search_url(ticket), {"q": "otto"}).content.decode()
    assert 'hd-owner-mark-now">owner now<' in html


def test_r3_at_most_twenty_results_and_a_hint_to_keep_typing(agent_client, ticket):
    many_agents(30)
    for n in range(8):
        TeamFactory(name=f"Bulk team {n}")
    html = agent_client.get(search_url(ticket), {"q": "bulk"}).content.decode()
    found = options(html)
    assert len(found) == MAX_RESULTS
    assert [key for key, _ in found[:5]] == [key for key, _ in found if key.startswith("team:")]
    assert "More match: keep typing." in html
    assert f'data-summary="{MAX_RESULTS} matches · More match: keep typing."' in html


def test_r3_few_teams_leave_room_for_users_and_an_empty_text_lists_the_first_by_name(
    agent_client, agent, other_agent, support
):
    results = search_owners(text="")
    assert [o.key for o in results.options] == [
        f"team:{support.pk}",
        f"user:{agent.pk}",
        f"user:{other_agent.pk}",
    ]
    assert not results.more


def test_r3_no_match_says_so_and_what_to_try(agent_client, ticket):
    html = agent_client.get(search_url(ticket), {"q": "<zzz>"}).content.decode()
    assert options(html) == []
    assert "No one matches “&lt;zzz&gt;”." in html
    assert "Try part of a name, a username or an email; #name for teams." in html
    assert "<zzz>" not in html


def test_owner_marks_receivers_add_their_words(agent_client, other_agent, ticket):
    """Other apps (routing: at capacity) mark users without the core importing them."""

    def at_capacity(sender, ticket, users, **kwargs):
        return {user.pk: "at capacity" for user in users if user.username == "other_agent"}

    owner_marks.connect(at_capacity)
    try:
        html = agent_client.get(search_url(ticket), {"q": "otto"}).content.decode()
    finally:
        owner_marks.disconnect(at_capacity)
    assert '<span class="hd-owner-mark">at capacity</span>' in html


# --- access and bad input -----------------------------------------------------------------


def test_r8_search_needs_ticket_access_and_a_ticket_the_agent_can_see(
    client, outsider, agent_client, ticket
):
    response = client.get(search_url(ticket), {"q": "a"})
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))
    outsider_client = Client()
    outsider_client.force_login(outsider)
    forbidden = outsider_client.get(search_url(ticket), {"q": "a"})
    assert forbidden.status_code == 403
    assert "Ada" not in forbidden.content.decode()
    assert agent_client.get("/tickets/987654/owner/search/", {"q": "a"}).status_code == 404


@pytest.mark.parametrize(
    ("q", "words"),
    [("a" * 101, "Ensure this value has at most 100 characters"), ("ad\x00a", "Null characters")],
)
def test_bad_search_text_is_a_400_with_words(agent_client, ticket, q, words):
    response = agent_client.get(search_url(ticket), {"q": q})
    assert response.status_code == 400
    html = response.content.decode()
    assert words in html
    assert options(html) == []


def test_search_refuses_post(agent_client, ticket):
    assert agent_client.post(search_url(ticket), {"q": "a"}).status_code == 405


def test_search_costs_fixed_queries_with_5_or_50_users(
    agent_client, ticket, django_assert_max_num_queries
):
    # One of them follows working hours in both runs: that adds its one query to both.
    AgentFactory(
        first_name="Bulk", last_name="Hours", availability_mode=User.AvailabilityMode.WORKING_HOURS
    )
    many_agents(4, prefix="few")
    # session, user, permissions (one query), ticket, teams, users, out of office, working
    # hours; up to 3 more for the receivers of `owner_marks` (routing: who is at capacity).
    with django_assert_max_num_queries(11) as few:
        response = agent_client.get(search_url(ticket), {"q": "bulk"})
    assert len(options(response.content.decode())) == 5
    many_agents(45, prefix="more")
    with django_assert_max_num_queries(len(few)) as more:
        response = agent_client.get(search_url(ticket), {"q": "bulk"})
    assert len(options(response.content.decode())) == MAX_RESULTS
    assert len(more) == len(few)


# --- the ticket page no longer grows with the agents ---------------------------------------


def test_ticket_page_size_and_queries_do_not_grow_with_the_agents(
    agent_client, support, django_assert_max_num_queries
):
    ticket = TicketFactory(team=support)
    many_agents(5)
    with django_assert_max_num_queries(12) as few:
        small = agent_client.get(reverse("ticket", args=[ticket.pk]))
    many_agents(195, prefix="crowd")
    WorkingHours.objects.create(
        user=User.objects.get(username="crowd000"),
        weekday=0,
        start=dt.time(8),
        end=dt.time(16),
    )
    with django_assert_max_num_queries(len(few)):
        large = agent_client.get(reverse("ticket", args=[ticket.pk]))
    assert small.status_code == large.status_code == 200
    assert len(large.content) == len(small.content)
    assert "Bulk000" not in large.content.decode()
    assert (
        "<option" not in large.content.decode().split('id="owner-control"')[1].split("</form>")[0]
    )


# --- the plain form: a typed name ----------------------------------------------------------


@pytest.mark.parametrize("typed", ["other_agent", "OTHER_AGENT@example.com", "otto other"])
def test_r3_plain_form_assigns_an_exact_username_email_or_full_name(
    agent_client, other_agent, ticket, typed
):
    response = agent_client.post(owner_url(ticket), {"owner": typed, "version": ticket.version})
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert ticket.owner == other_agent


@pytest.mark.parametrize("typed", ["#support", "Support"])
def test_r3_plain_form_assigns_a_team_by_name(agent_client, support, ticket, typed):
    agent_client.post(owner_url(ticket), {"owner": typed, "version": ticket.version})
    ticket.refresh_from_db()
    assert (ticket.owner, ticket.team) == (None, support)


def test_r3_a_name_several_people_have_is_a_400_offering_each(agent_client, ticket):
    first = AgentFactory(username="kim1", first_name="Kim", last_name="Berg")
    second = AgentFactory(username="kim2", first_name="Kim", last_name="Berg")
    response = agent_client.post(owner_url(ticket), {"owner": "Kim Berg", "version": 1})
    assert response.status_code == 400
    html = response.content.decode()
    assert "Several match “Kim Berg”: pick one." in html
    assert f'name="pick" value="user:{first.pk}"' in html
    assert f'name="pick" value="user:{second.pk}"' in html
    assert 'value="Kim Berg"' in html  # what was typed stays in the field
    assert Ticket.objects.get(pk=ticket.pk).owner is None
    # A button of the offer assigns (the plain form posts its `pick`).
    agent_client.post(
        owner_url(ticket), {"owner": "Kim Berg", "pick": f"user:{second.pk}", "version": 1}
    )
    assert Ticket.objects.get(pk=ticket.pk).owner == second


def test_r3_a_name_nobody_has_exactly_is_a_400_suggesting_close_ones(
    agent_client, other_agent, ticket
):
    response = agent_client.post(owner_url(ticket), {"owner": "otto", "version": 1})
    assert response.status_code == 400
    html = response.content.decode()
    assert "No one is called exactly “otto”. Did you mean:" in html
    assert f'name="pick" value="user:{other_agent.pk}"' in html
    nothing = agent_client.post(owner_url(ticket), {"owner": "qqqq", "version": 1})
    assert nothing.status_code == 400
    assert (
        "No one matches “qqqq”. Type a name, username or email of someone with ticket access, "
        "or #team." in nothing.content.decode()
    )
    assert Ticket.objects.get(pk=ticket.pk).owner is None


def test_r3_the_email_of_someone_without_ticket_access_names_nobody(agent_client, outsider, ticket):
    response = agent_client.post(owner_url(ticket), {"owner": outsider.email, "version": 1})
    assert response.status_code == 400
    assert Ticket.objects.get(pk=ticket.pk).owner is None


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ({}, "Type a name, a username or #team and pick from the list, or use Unassign."),
        ({"owner": "x" * 101}, "Ensure this value has at most 100 characters"),
        ({"assignee": "user:abc"}, "Choose a team or a user from the list."),
        ({"pick": "robot:1"}, "Choose a team or a user from the list."),
        ({"assignee": "team:999999"}, "Choose a team or a user from the list."),
    ],
)
def test_bad_owner_input_is_a_400_that_says_what_to_do(agent_client, ticket, data, words):
    response = agent_client.post(owner_url(ticket), {**data, "version": ticket.version})
    assert response.status_code == 400
    assert words in response.content.decode()
    assert Ticket.objects.get(pk=ticket.pk).version == ticket.version


def test_htmx_error_keeps_the_control_in_place_with_the_offer(agent_client, other_agent, ticket):
    response = agent_client.post(owner_url(ticket), {"owner": "ott", "version": 1}, **HTMX)
    assert response.status_code == 200  # htmx swaps 2xx only: the words replace the control
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="owner-control"')
    assert "No one is called exactly “ott”. Did you mean:" in html
    assert f'name="pick" value="user:{other_agent.pk}"' in html


def test_picker_key_wins_over_the_text(agent_client, agent, other_agent, ticket):
    """The picker fills `assignee`; the text is only what the field shows."""
    agent_client.post(
        owner_url(ticket),
        {"owner": "Ada Agent", "assignee": f"user:{other_agent.pk}", "version": 1},
    )
    assert Ticket.objects.get(pk=ticket.pk).owner == other_agent


def test_r5_unassign_and_assign_to_me_still_work(agent_client, agent, support):
    ticket = TicketFactory(team=support)
    agent_client.post(owner_url(ticket), {"take": "1", "version": ticket.version})
    ticket.refresh_from_db()
    assert (ticket.owner, ticket.team) == (agent, support)  # a member keeps the team
    agent_client.post(owner_url(ticket), {"unassign": "1", "version": ticket.version})
    ticket.refresh_from_db()
    assert (ticket.owner, ticket.team) == (None, None)


def test_r3_a_full_name_without_a_last_name_is_found_exactly(agent_client, ticket):
    cher = AgentFactory(username="c123", first_name="Cherilyn", last_name="")
    agent_client.post(owner_url(ticket), {"owner": "cherilyn", "version": ticket.version})
    assert Ticket.objects.get(pk=ticket.pk).owner == cher
