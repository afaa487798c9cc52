"""The explanation of a decision: the wording (`routing.explanations`, the only place the
engine's sentences are written) and the ticket page's "Why was this assigned to …?"."""

import ast
from datetime import UTC, datetime
from pathlib import Path

import pytest
import time_machine
from django.template import Context, Template

import routing
from channels_cfg.models import AssignMode
from helpdesk import services
from routing import explanations
from routing.eligibility import LOAD_WINDOW
from routing.engine import route_ticket
from routing.strategies import Candidate
from tests.factories import AgentFactory, ChannelAutomationFactory, TicketFactory

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
    assert "Ari Away: away, set by hand" in html  # the person's own detail (R11)
    assert "Eligible (1)" in html and "Left out (1)" in html
    assert '<tr class="table-success"><td>Alma Able</td><td class="text-end">0</td></tr>' in html
    untouched = TicketFactory()
    empty = Template("{% load routing_tags %}{% routing_explanation ticket %}").render(
        Context({"ticket": untouched})
    )
    assert empty.strip() == ""


@pytest.mark.django_db
def test_ticket_page_shows_why_it_was_assigned(client):
    agent = AgentFactory(first_name="Alma", last_name="Able")
    channel = ChannelAutomationFactory(assign_mode=AssignMode.SPECIFIC, users=[agent]).channel
    ticket, _ = services.create_ticket(subject="Hi", body="Hello", channel=channel)
    route_ticket(ticket_id=ticket.pk)
    client.force_login(agent)
    html = client.get(f"/tickets/{ticket.pk}/").content.decode()
    assert "Why was this assigned to Alma Able?" in html
