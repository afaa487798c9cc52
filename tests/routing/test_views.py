"""The routing preview's view beside the Automation form (R7–R11, R14–R17, R20): for the
settings as entered (before Save), who would receive the next 5 tickets now and who is
excluded and why — computed by the engine's dry run (`routing.preview.preview_next`),
nothing saved. Partial for htmx, the whole Automation page without JavaScript."""

import re
from itertools import pairwise

import pytest
from django.urls import reverse

import routing.views
from channels_cfg.forms import AutomationForm
from channels_cfg.models import AssignMode, ChannelAutomation, Distribution
from helpdesk.models import Channel, OutOfOffice, TeamMembership, User
from tests.channels_cfg.test_forms import browser_post, rows
from tests.factories import (
    AgentFactory,
    AgentSkillFactory,
    ChannelAutomationFactory,
    ChannelFactory,
    OutOfOfficeFactory,
    SkillFactory,
    TeamFactory,
    TeamMembershipFactory,
)

pytestmark = pytest.mark.django_db
Kind = Channel.Kind
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def support(agent):
    """Ada (available, Norwegian) and one main member per reason to be left out."""
    team = TeamFactory(name="Support")
    norwegian = SkillFactory(name="Norwegian")
    AgentSkillFactory(user=agent, skill=norwegian)

    def member(first, role=TeamMembership.Role.MAIN, **fields):
        user = AgentFactory(first_name=first, last_name="Test", **fields)
        TeamMembershipFactory(team=team, user=user, role=role)
        AgentSkillFactory(user=user, skill=norwegian)
        return user

    TeamMembershipFactory(team=team, user=agent)
    member("Nils", seat=False)
    member("Astrid", status=User.Status.AWAY)
    OutOfOfficeFactory(user=member("Olav"))
    member("Ana", role=TeamMembership.Role.ADDITIONAL)
    sven = AgentFactory(first_name="Sven", last_name="Test")  # a main member, no skill
    TeamMembershipFactory(team=team, user=sven)
    team.norwegian = norwegian
    return team


def preview_url(channel) -> str:
    return reverse("routing:preview", args=[channel.pk])


def shown(channel) -> AutomationForm:
    automation = getattr(channel, "automation", None) or ChannelAutomation(channel=channel)
    return AutomationForm(channel=channel, automation=automation)


def excluded(response) -> dict[str, tuple[str, str]]:
    """Name → (code, reason) of everyone the preview leaves out."""
    html = response.content.decode()
    found = re.findall(
        r'<li data-code="([^"]+)"><span class="cs-excluded-name">([^<]+)</span> '
        r'<span class="cs-reason">([^<]+)</span>',
        html,
    )
    return {name: (code, reason) for code, name, reason in found}


def recipients(response) -> list[str]:
    html = response.content.decode()
    block = re.search(r'<ol class="cs-next" data-recipients>(.*?)</ol>', html, re.S)
    return re.findall(r"<li>([^<]+)</li>", block.group(1)) if block else []


def test_r7_r9_r11_r17_preview_names_recipients_and_every_exclusion_reason(
    admin_client, support, agent
):
    channel = ChannelAutomationFactory().channel
    data = browser_post(
        shown(channel),
        assign_mode="specific",
        teams=[support],
        skill_routing=True,
        **rows("rules", {"condition": "language_is", "value": "no", "skill": support.norwegian}),
    )
    data["sample-language"] = "no"
    response = admin_client.post(preview_url(channel), data, **HTMX)
    assert response.status_code == 200
    assert "<html" not in response.content.decode()  # the partial only
    assert recipients(response) == ["Ada Agent"] * 5
    on_leave_until = OutOfOffice.objects.get(user__first_name="Olav").end
    assert excluded(response) == {
        "Nils Test": ("no_seat", "no helpdesk seat"),
        "Astrid Test": ("unavailable", "away, set by hand"),
        "Olav Test": ("unavailable", f"out of office until {on_leave_until:%Y-%m-%d %H:%M} UTC"),
        "Ana Test": (
            "not_main_member",
            "only an additional member of Support; team rules route to main members",
        ),
        "Sven Test": ("missing_skill", "missing skill Norwegian"),
    }


def test_r8_preview_excludes_users_without_ticket_access(admin_client, agent):
    team = TeamFactory(name="Ops")
    TeamMembershipFactory(team=team, user=agent)
    gone = AgentFactory(first_name="Gone", last_name="Away", is_active=False)
    TeamMembershipFactory(team=team, user=gone)
    channel = ChannelFactory()
    data = browser_post(shown(channel), assign_mode="specific", teams=[team])
    response = admin_client.post(preview_url(channel), data, **HTMX)
    assert excluded(response)["Gone Away"][0] == "no_access"


def test_r16_unticking_available_only_includes_away_users(admin_client, support, agent):
    channel = ChannelFactory()
    data = browser_post(
        shown(channel), assign_mode="specific", teams=[support], available_only=False
    )
    response = admin_client.post(preview_url(channel), data, **HTMX)
    left_out = excluded(response)
    assert "Astrid Test" not in left_out
    assert "Olav Test" not in left_out
    assert set(recipients(response)) >= {"Ada Agent"}


def test_r15_round_robin_preview_takes_turns(admin_client, agent, other_agent):
    channel = ChannelFactory()
    data = browser_post(
        shown(channel),
        assign_mode="specific",
        users=[agent, other_agent],
        distribution=Distribution.ROUND_ROBIN,
    )
    names = recipients(admin_client.post(preview_url(channel), data, **HTMX))
    assert len(names) == 5
    assert all(a != b for a, b in pairwise(names))
    assert set(names) == {"Ada Agent", "Otto Other"}


def test_r14_team_only_preview(admin_client, agent):
    team = TeamFactory(name="Billing")
    TeamMembershipFactory(team=team, user=agent)
    channel = ChannelFactory(kind=Kind.FORM)
    data = browser_post(shown(channel), assign_mode="team_only", team=team)
    response = admin_client.post(preview_url(channel), data, **HTMX)
    page = response.content.decode()
    assert "Assigned to the team Billing without an owner" in page
    assert "data-recipients-team" in page


def test_r14_none_preview_says_nobody(admin_client):
    channel = ChannelFactory()
    response = admin_client.post(
        preview_url(channel), browser_post(shown(channel), assign_mode="none"), **HTMX
    )
    page = response.content.decode()
    assert "Left unassigned: this channel assigns nobody" in page
    assert "data-recipients-none" in page


def test_preview_lists_what_to_fix_when_the_settings_are_incomplete(admin_client):
    channel = ChannelFactory()
    response = admin_client.post(
        preview_url(channel), browser_post(shown(channel), assign_mode="specific"), **HTMX
    )
    page = response.content.decode()
    assert "data-preview-errors" in page
    assert "Users: Choose at least one user or team." in page


def test_r20_preview_saves_nothing(admin_client, agent):
    automation = ChannelAutomationFactory()
    data = browser_post(shown(automation.channel), assign_mode="specific", users=[agent])
    admin_client.post(preview_url(automation.channel), data, **HTMX)
    automation.refresh_from_db()
    assert (automation.assign_mode, automation.version) == (AssignMode.NONE, 1)
    assert not automation.channel.settings_changes.exists()


def test_preview_without_javascript_renders_the_page_with_the_values_as_entered(
    admin_client, agent
):
    channel = ChannelAutomationFactory().channel
    data = browser_post(
        shown(channel), assign_mode="specific", users=[agent], distribution="random"
    )
    data["preview"] = "1"
    response = admin_client.post(preview_url(channel), data)
    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="automation-form"' in page
    assert recipients(response) == ["Ada Agent"] * 5
    form = response.context["form"]
    assert form["distribution"].value() == "random"  # as entered, not as saved
    assert form["assign_mode"].value() == "specific"


def test_an_inactive_channel_preview_says_no_tickets_arrive(admin_client, agent):
    channel = ChannelFactory(is_active=False)
    data = browser_post(shown(channel), assign_mode="specific", users=[agent])
    page = admin_client.post(preview_url(channel), data, **HTMX).content.decode()
    assert "This channel is inactive" in page


def test_the_preview_is_computed_by_the_engine_preview_only(admin_client, agent, monkeypatch):
    """Never a second implementation: the view hands the entered settings to preview_next."""
    calls = []
    real = routing.views.preview_next

    def spy(**kwargs):
        calls.append(kwargs)
        return real(**kwargs)

    monkeypatch.setattr(routing.views, "preview_next", spy)
    channel = ChannelFactory()
    data = browser_post(shown(channel), assign_mode="specific", users=[agent])
    admin_client.post(preview_url(channel), data, **HTMX)
    [call] = calls
    assert call["count"] == 5
    assert call["channel"] == channel
    assert call["config"].mode == AssignMode.SPECIFIC
    assert call["config"].user_ids == (agent.pk,)
