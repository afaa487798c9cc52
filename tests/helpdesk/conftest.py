"""Fixtures for the helpdesk view and queue tests: teams the named agents belong to, and
clients signed in as them."""

import pytest
from django.test import Client

from helpdesk.models import TeamMembership
from tests.factories import TeamFactory, TeamMembershipFactory


@pytest.fixture
def support(agent):
    """The agent's main team."""
    team = TeamFactory(name="Support")
    TeamMembershipFactory(team=team, user=agent, role=TeamMembership.Role.MAIN)
    return team


@pytest.fixture
def billing(agent):
    """A team the agent is only an additional member of."""
    team = TeamFactory(name="Billing")
    TeamMembershipFactory(team=team, user=agent, role=TeamMembership.Role.ADDITIONAL)
    return team


@pytest.fixture
def sales(other_agent):
    """A team the agent is not in (other_agent's main team)."""
    team = TeamFactory(name="Sales")
    TeamMembershipFactory(team=team, user=other_agent, role=TeamMembership.Role.MAIN)
    return team


@pytest.fixture
def agent_client(agent):
    client = Client()
    client.force_login(agent)
    return client


@pytest.fixture
def other_client(other_agent):
    client = Client()
    client.force_login(other_agent)
    return client
