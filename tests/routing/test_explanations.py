"""The explanation of a decision: the wording (`routing.explanations`, the only place the
engine's sentences are written) and the ticket page's "Why was this assigned to …?"."""

import ast
from datetime import UTC, datetime
from pathlib import Path

import pytest
import time_machine
from django.template import Context, Template
from django.urls import reverse

import routing
from channels_cfg.models import AssignMode
from helpdesk import services
from routing import explanations
from routing.eligibility import LOAD_WINDOW
from routing.engine import route_ticket
from routing.strategies import Candidate
from tests.factories import AgentFactory, ChannelAutomationFactory, TicketFactory, UserFactory

APP = Path(routing.__file__).parent
# The modules that decide and record; the openings of the sentences they keep.
DECIDING = ("engine", "decision", "eligibility", "capacity", "strategies", "preview", "sweeps")
OPENINGS = ("Assigned to", "Left unassigned", "Nothing to do", "Not routed", "Customer agent")


def test_no_sentence_of_the_engine_is_written_outside_explanations():
    for name in DECIDING:
        path = APP / f"{name}.py"
        tree = ast.parse(path.read_text())
        docstrings = {
            id(node.body[0].value)
            for node in ast.walk(tree)
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef)
            and node.body
            and isinstance(node.body[0], ast.Expr)
        }
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and id(node) not in docstrings
            ):
                assert not node.value.lstrip().startswith(OPENINGS), (path.name, node.value)


def test_a_pool_decision_says_who_by_what_among_how_many_and_which_skills():
    ada = Candidate(1, "Ada", load=2)
    summary = explanations.from_pool(
        distribution="load_balanced",
        ticket_type="calls",
        load_window=LOAD_WINDOW,
        chosen=ada,
        candidates=[ada, Candidate(2, "Bo", load=2), Candidate(3, "Cy", load=4)],
        pool_size=4,
        exclusion_reasons=["set to away"],
        required_skills=["French"],
        skill_fallback_used=False,
    )
    assert summary == (
        "Assigned to Ada by load balancing among 3 eligible users: Ada had the fewest open "
        "Calls tickets assigned in the last 30 days (2), tied with 1 other(s); ties go to "
        "whoever has waited longest since their last one. The ticket needs the skill(s) French."
    )


def test_left_unassigned_counts_the_reasons():
    summary = explanations.from_pool(
        distribution="random",
        ticket_type="email",
        load_window=LOAD_WINDOW,
        chosen=None,
        candidates=[],
        pool_size=3,
        exclusion_reasons=["set to away", "no helpdesk seat", "set to away"],
        required_skills=[],
        skill_fallback_used=False,
    )
    assert summary == (
        "Left unassigned: none of the 3 users of this rule could take it "
        "(2 set to away; 1 no helpdesk seat)."
    )


@time_machine.travel("2026-03-02 09:00:00+00:00", tick=False)
def test_nothing_to_do_names_who_was_faster_and_how(settings):
    settings.TIME_ZONE = "Europe/Oslo"
    at = datetime(2026, 3, 2, 8, 15, tzinfo=UTC)
    assert explanations.already_assigned(
        to_owner=None, to_team="Billing", holder="x", by=None, by_hand=False, cause="API", at=at
    ) == ("Nothing to do: already assigned to the team Billing (api) at 2026-03-02 09:15 CET.")
    assert explanations.already_assigned(
        to_owner="Otto", to_team=None, holder="x", by="Ada", by_hand=True, cause="Manual", at=at
    ) == ("Nothing to do: already assigned to Otto by Ada by hand at 2026-03-02 09:15 CET.")
    assert explanations.already_in_status("Closed") == (
        "Nothing to do: the ticket was already closed."
    )


@pytest.mark.django_db
def test_r11_the_ticket_page_says_why_and_loads_the_details_when_opened(client):
    """The question and its answer on the ticket page; the details — every candidate and
    everyone left out, with the person's own reason — behind "Details of the decision",
    loaded when opened (and a link to them without JavaScript)."""
    agent = AgentFactory(first_name="Alma", last_name="Able")
    away = AgentFactory(first_name="Ari", last_name="Away", status="away")
    channel = ChannelAutomationFactory(assign_mode=AssignMode.SPECIFIC, users=[agent, away]).channel
    ticket, _ = services.create_ticket(subject="Hi", body="Hello", channel=channel)
    decision = route_ticket(ticket_id=ticket.pk)
    html = Template("{% load routing_tags %}{% routing_explanation ticket %}").render(
        Context({"ticket": ticket})
    )
    assert "Why was this assigned to Alma Able?" in html
    assert "Assigned to Alma Able by load balancing" in html
    url = reverse("routing:decision", args=[decision.pk])
    assert f'hx-get="{url}"' in html and f'href="{url}"' in html
    assert "Ari Away" not in html and "Eligible (" not in html  # not on the page itself

    client.force_login(agent)
    details = client.get(url, HTTP_HX_REQUEST="true")
    assert details.status_code == 200
    part = details.content.decode()
    assert "<html" not in part  # the part the page swaps in
    assert "Ari Away: away, set by hand" in part  # the person's own detail (R11)
    assert "Eligible (1)" in part and "Left out (1)" in part
    assert '<tr class="table-success"><td>Alma Able</td><td class="text-end">0</td></tr>' in part
    assert "HX-Request" in details["Vary"]
    page = client.get(url).content.decode()  # without JavaScript: a page of its own
    assert "<html" in page and "Ari Away: away, set by hand" in page
    assert "Assigned to Alma Able by load balancing" in page
    untouched = TicketFactory()
    empty = Template("{% load routing_tags %}{% routing_explanation ticket %}").render(
        Context({"ticket": untouched})
    )
    assert empty.strip() == ""


@pytest.mark.django_db
def test_a_decisions_details_need_ticket_access(client):
    """Only someone who may see the ticket sees its decision (404 for a missing decision,
    403 without ticket access), and only by GET."""
    agent = AgentFactory()
    channel = ChannelAutomationFactory(assign_mode=AssignMode.SPECIFIC, users=[agent]).channel
    ticket, _ = services.create_ticket(subject="Hi", body="Hello", channel=channel)
    decision = route_ticket(ticket_id=ticket.pk)
    url = reverse("routing:decision", args=[decision.pk])
    assert client.get(url).status_code == 302  # to the sign-in page
    client.force_login(UserFactory())  # signed in, without ticket access
    assert client.get(url).status_code == 403
    client.force_login(agent)
    assert client.get(reverse("routing:decision", args=[decision.pk + 1])).status_code == 404
    assert client.post(url).status_code == 405


@pytest.mark.django_db
def test_a_decisions_details_cost_the_same_queries_for_any_pool(
    client, django_assert_max_num_queries
):
    """Every candidate is listed, read from the decision's own row: 2 or 40 candidates, the
    same queries (session, user, permissions, the decision, its ticket)."""
    for n in (2, 40):
        agents = AgentFactory.create_batch(n)
        channel = ChannelAutomationFactory(assign_mode=AssignMode.SPECIFIC, users=agents).channel
        ticket, _ = services.create_ticket(subject="Hi", body="Hello", channel=channel)
        decision = route_ticket(ticket_id=ticket.pk)
        client.force_login(agents[0])
        url = reverse("routing:decision", args=[decision.pk])
        with django_assert_max_num_queries(5):
            part = client.get(url, HTTP_HX_REQUEST="true").content.decode()
        assert f"Eligible ({n})" in part and part.count("<tr") == n + 1  # the header row


@pytest.mark.django_db
def test_the_ticket_page_does_not_grow_with_the_pool(client):
    """Issue 14: a decision over many agents adds nothing to the ticket page but its
    question and answer — the candidates are in its details only."""
    pages = []
    for n in (2, 40):
        agents = AgentFactory.create_batch(n)
        channel = ChannelAutomationFactory(assign_mode=AssignMode.SPECIFIC, users=agents).channel
        ticket, _ = services.create_ticket(subject="Same", body="Hello", channel=channel)
        decision = route_ticket(ticket_id=ticket.pk)
        assert len(decision.candidate_rows) == n
        client.force_login(agents[0])
        html = client.get(f"/tickets/{ticket.pk}/").content.decode()
        named = {decision.owner, agents[0]}  # the answer's name; the one signed in
        assert all(str(a) not in html for a in agents if a not in named)
        for person in named:
            html = html.replace(str(person), "")
        pages.append(len(html))
    assert abs(pages[0] - pages[1]) < 100  # ids and the chosen name's length aside


@pytest.mark.django_db
def test_ticket_page_shows_why_it_was_assigned(client):
    agent = AgentFactory(first_name="Alma", last_name="Able")
    channel = ChannelAutomationFactory(assign_mode=AssignMode.SPECIFIC, users=[agent]).channel
    ticket, _ = services.create_ticket(subject="Hi", body="Hello", channel=channel)
    route_ticket(ticket_id=ticket.pk)
    client.force_login(agent)
    html = client.get(f"/tickets/{ticket.pk}/").content.decode()
    assert "Why was this assigned to Alma Able?" in html
