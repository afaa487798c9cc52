"""The settings page's dry run: the engine's own decision, played forward, writing nothing."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from channels_cfg.models import AssignMode, Distribution
from helpdesk import services
from helpdesk.models import Channel, User
from routing.config import RoutingConfig
from routing.engine import route_ticket
from routing.models import RoutingDecision
from routing.preview import preview_next
from tests.factories import (
    AgentFactory,
    ChannelAutomationFactory,
    ChannelFactory,
    TeamFactory,
    TeamMembershipFactory,
    TicketFactory,
)

pytestmark = pytest.mark.django_db


def config(**kwargs):
    kwargs.setdefault("channel_kind", Channel.Kind.TEAM_EMAIL)
    kwargs.setdefault("mode", AssignMode.SPECIFIC)
    return RoutingConfig(**kwargs)


def test_preview_round_robin_lists_the_next_five_in_turn_and_who_is_left_out():
    a = AgentFactory(first_name="A", last_name="One")
    b = AgentFactory(first_name="B", last_name="Two")
    away = AgentFactory(first_name="C", last_name="Away", status=User.Status.AWAY)
    unseated = AgentFactory(first_name="D", last_name="Free", seat=False)
    team = TeamFactory()
    TeamMembershipFactory(
        team=team, user=AgentFactory(first_name="E", last_name="Extra"), role="additional"
    )
    result = preview_next(
        config=config(
            user_ids=(a.pk, b.pk, away.pk, unseated.pk),
            team_ids=(team.pk,),
            distribution=Distribution.ROUND_ROBIN,
        ),
        channel=ChannelFactory(),
    )
    assert result.recipients == ["A One", "B Two", "A One", "B Two", "A One"]
    assert {e.name: e.code for e in result.excluded} == {
        "C Away": "unavailable",
        "D Free": "no_seat",
        "E Extra": "not_main_member",
    }
    assert not RoutingDecision.objects.exists()  # a dry run writes nothing


def test_preview_load_balanced_fills_the_least_loaded_first():
    a, b = AgentFactory(first_name="A", last_name="A"), AgentFactory(first_name="B", last_name="B")
    for _ in range(2):
        TicketFactory(owner=a)
    result = preview_next(config=config(user_ids=(a.pk, b.pk)), channel=None)
    assert result.recipients == ["B B", "B B", "A A", "B B", "A A"]


def test_preview_of_none_and_team_only_says_so():
    assert preview_next(config=config(mode=AssignMode.NONE), channel=None).recipients == []
    team = TeamFactory(name="Billing")
    TeamMembershipFactory(team=team)
    result = preview_next(
        config=config(mode=AssignMode.TEAM_ONLY, team_ids=(team.pk,)), channel=None
    )
    assert result.recipients == [] and "Billing" in result.team


def test_the_preview_reads_without_locks_and_says_what_a_decision_then_does(agent, other_agent):
    """The dry run and a real decision run the same `decide()`: the preview's first line is
    the explanation the routed ticket gets."""
    TicketFactory(owner=agent)  # Otto has the fewer open tickets
    automation = ChannelAutomationFactory(
        assign_mode=AssignMode.SPECIFIC, users=[agent, other_agent]
    )
    saved = RoutingConfig.from_automation(automation)
    with CaptureQueriesContext(connection) as ctx:
        result = preview_next(config=saved, channel=automation.channel)
    assert not [q["sql"] for q in ctx.captured_queries if " FOR " in q["sql"]]
    assert result.recipients[0] == "Otto Other"
    ticket, _ = services.create_ticket(subject="Hi", body="Hello", channel=automation.channel)
    decision = route_ticket(ticket_id=ticket.pk)
    assert decision.summary == result.summary
    assert decision.owner == other_agent
