"""A channel's routing settings as plain data (`routing.config.RoutingConfig`): one builder
for the settings as saved and as entered (so the preview cannot drift from the engine), which
reads only what the mode and kind use; the opening hours of calling channels; the copy kept
with each decision."""

import json
from datetime import UTC, datetime, time

import pytest

from channels_cfg.forms import AutomationForm
from channels_cfg.models import AssignMode, ChannelAutomation, Distribution, SkillRule
from helpdesk.models import Channel
from routing.config import HoursRange, RoutingConfig
from tests.channels_cfg.test_forms import browser_post
from tests.factories import (
    ChannelAutomationFactory,
    ChannelFactory,
    OpeningHoursFactory,
    SkillFactory,
    SkillRuleFactory,
    TeamFactory,
    TeamMembershipFactory,
)

Kind = Channel.Kind


def shown(channel) -> AutomationForm:
    automation = getattr(channel, "automation", None) or ChannelAutomation(channel=channel)
    return AutomationForm(channel=channel, automation=automation)


def _saved_examples(agent, other_agent):
    """One saved automation per kind, each using what its kind offers."""
    team = TeamFactory()
    TeamMembershipFactory(team=team, user=agent)
    skill = SkillFactory()
    email = ChannelAutomationFactory(
        assign_mode=AssignMode.SPECIFIC,
        users=[other_agent],
        teams=[team],
        distribution=Distribution.RANDOM,
        skill_routing=True,
        reroute_when_available=True,
    )
    SkillRuleFactory(automation=email, skill=skill)
    SkillRuleFactory(
        automation=email, skill=skill, condition=SkillRule.Condition.PRIORITY_IS, value="High"
    )
    yield email
    yield ChannelAutomationFactory(
        channel=ChannelFactory(kind=Kind.FORM), assign_mode=AssignMode.TEAM_ONLY, teams=[team]
    )
    yield ChannelAutomationFactory(
        channel=ChannelFactory(kind=Kind.WHATSAPP),
        assign_mode=AssignMode.CUSTOMER_AGENT,
        ai_fallback="specific",
        fallback_users=[agent],
        available_only=False,
    )
    yield ChannelAutomationFactory(
        channel=ChannelFactory(kind=Kind.CHATFLOW),
        assign_mode=AssignMode.SPECIFIC,
        chat_assignment_enabled=True,
        users=[agent, other_agent],
    )
    calling = ChannelAutomationFactory(
        channel=ChannelFactory(kind=Kind.CALLING),
        assign_mode=AssignMode.SPECIFIC,
        teams=[team],
        opening_hours_time_zone="Europe/Oslo",
    )
    OpeningHoursFactory(automation=calling, weekday=2)
    OpeningHoursFactory(automation=calling, weekday=0)
    yield calling


@pytest.mark.django_db
def test_r20_the_preview_config_equals_the_engines_config_after_save(agent, other_agent):
    for saved in _saved_examples(agent, other_agent):
        channel = saved.channel
        form = AutomationForm(browser_post(shown(channel)), channel=channel, automation=saved)
        assert form.is_valid(), (channel.kind, form.errors)
        entered = RoutingConfig.from_settings(kind=channel.kind, settings=form.automation_data())
        assert entered == RoutingConfig.from_automation(saved), channel.kind


@pytest.mark.django_db
def test_the_saved_config_reads_only_what_its_mode_and_kind_use(
    agent, other_agent, django_assert_num_queries
):
    """One builder for both: from a saved automation it reads each setting lazily, so a
    decision queries only the rows its mode uses (none for None, users and teams for
    Specific, and the opening hours of a calling channel)."""
    for mode, kind, queries in [
        (AssignMode.NONE, Kind.TEAM_EMAIL, 0),
        (AssignMode.SPECIFIC, Kind.TEAM_EMAIL, 2),
        (AssignMode.SPECIFIC, Kind.CALLING, 3),
    ]:
        saved = ChannelAutomationFactory(
            channel=ChannelFactory(kind=kind), assign_mode=mode, users=[agent, other_agent]
        )
        saved = ChannelAutomation.objects.select_related("channel").get(pk=saved.pk)
        with django_assert_num_queries(queries):
            config = RoutingConfig.from_automation(saved)
        assert config.user_ids == (
            tuple(sorted([agent.pk, other_agent.pk])) if mode == AssignMode.SPECIFIC else ()
        )


@pytest.mark.django_db
def test_an_unsaved_automation_gives_the_kinds_defaults(django_assert_num_queries):
    channel = ChannelFactory(kind=Kind.CHATFLOW)
    with django_assert_num_queries(0):
        config = RoutingConfig.unconfigured(channel)
    assert config == RoutingConfig(channel_kind=Kind.CHATFLOW)


# ---------------------------------------------------------------------------------------
# Plain data: no database
# ---------------------------------------------------------------------------------------

MONDAY = datetime(2026, 3, 2, tzinfo=UTC)  # Oslo is UTC+1 in March


def calling(**kwargs) -> RoutingConfig:
    return RoutingConfig(
        channel_kind=Kind.CALLING,
        mode=AssignMode.SPECIFIC,
        opening_hours=(HoursRange(0, time(8), time(16)),),
        opening_hours_time_zone="Europe/Oslo",
        **kwargs,
    )


@pytest.mark.parametrize(
    ("utc", "is_open"),
    [(time(6, 59), False), (time(7), True), (time(14, 59), True), (time(15), False)],
)
def test_r19_opening_hours_are_read_in_the_channels_time_zone(utc, is_open):
    at = datetime.combine(MONDAY.date(), utc, tzinfo=UTC)
    assert calling().is_open_at(at) is is_open
    tuesday = at.replace(day=3)
    assert calling().is_open_at(tuesday) is False  # no hours that day


def test_r19_no_opening_hours_means_always_open():
    config = RoutingConfig(channel_kind=Kind.CALLING, mode=AssignMode.SPECIFIC)
    assert config.is_open_at(MONDAY.replace(hour=3)) is True


def test_the_copy_kept_with_each_decision_is_plain_json():
    config = calling(user_ids=(3, 1), distribution=Distribution.ROUND_ROBIN)
    stored = json.loads(json.dumps(config.snapshot()))  # as the JSONField keeps it
    assert stored["opening_hours"] == [{"weekday": 0, "start": "08:00:00", "end": "16:00:00"}]
    assert (stored["mode"], stored["user_ids"], stored["distribution"]) == (
        "specific",
        [3, 1],
        "round_robin",
    )
