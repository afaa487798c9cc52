"""The Automation form of every channel kind, option by option (R7–R9, R14–R19): what each
kind offers, what is refused with a clear field error, and that fields which do not apply to
what is chosen are ignored — not validated, and kept as saved.

`browser_post()` builds the data a browser would send for a form as shown (the other test
modules of this package use it too).
"""

import datetime as dt
import io

import pytest
from django import forms
from django.core.files.uploadedfile import SimpleUploadedFile

from channels_cfg import models as cfg_models
from channels_cfg.forms import (
    AutomationForm,
    ChannelCreateForm,
    groups_in_effect,
    looks_like_audio,
)
from channels_cfg.models import (
    AiFallback,
    AssignMode,
    ChannelAutomation,
    Distribution,
    SkillFallback,
    SkillRule,
)
from helpdesk.channel_kinds import policy_for
from helpdesk.models import Channel, TeamMembership
from tests.factories import (
    AgentFactory,
    ChannelAutomationFactory,
    ChannelFactory,
    OpeningHoursFactory,
    SeatFactory,
    SkillFactory,
    SkillRuleFactory,
    TeamFactory,
    TeamMembershipFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

Kind = Channel.Kind
ASSIGN_KINDS = [Kind.TEAM_EMAIL, Kind.WHATSAPP, Kind.FORM]
CHAT_KINDS = [Kind.CHATFLOW, Kind.CUSTOM_CHAT]

# Tiny but real file headers: what the upload check sniffs.
WAV = b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x00" * 32
MP3 = b"ID3\x03\x00\x00\x00\x00\x00\x00" + b"\x00" * 32


# ---------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------


def _text(value) -> str:
    if isinstance(value, dt.time):
        return value.strftime("%H:%M")
    return str(value)


def browser_post(form: AutomationForm, **changes) -> dict:
    """What a browser posts for `form` as shown, then `changes` (None removes a key; a
    boolean field takes True/False)."""
    data: dict = {}
    for name, field in form.fields.items():
        value = form[name].value()
        if isinstance(field, forms.FileField):
            continue
        if isinstance(field, forms.BooleanField):
            if value:
                data[name] = "on"
        elif isinstance(value, list | tuple):
            data[name] = [str(v) for v in value]
        elif value not in (None, ""):
            data[name] = _text(value)
    for formset in (form.hours, form.rules):
        if formset is None:
            continue
        for key, value in formset.management_form.initial.items():
            data[f"{formset.prefix}-{key}"] = str(value)
        for row in formset.forms:
            for name in row.fields:
                value = row[name].value()
                if name != "DELETE" and value not in (None, ""):
                    data[row[name].html_name] = _text(value)
    for name, value in changes.items():
        if value is None or value is False:
            data.pop(name, None)
        elif value is True:
            data[name] = "on"
        elif isinstance(value, list | tuple):
            data[name] = [str(getattr(v, "pk", v)) for v in value]
        else:
            data[name] = str(getattr(value, "pk", value))
    return data


def rows(prefix: str, *items: dict, initial: int = 0) -> dict:
    """Formset data for `items` (dicts of field → value)."""
    data = {
        f"{prefix}-TOTAL_FORMS": str(len(items)),
        f"{prefix}-INITIAL_FORMS": str(initial),
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }
    for i, item in enumerate(items):
        for key, value in item.items():
            data[f"{prefix}-{i}-{key}"] = _text(getattr(value, "pk", value))
    return data


def automation_for(kind=Kind.TEAM_EMAIL, **fields) -> ChannelAutomation:
    return ChannelAutomationFactory(channel=ChannelFactory(kind=kind), **fields)


def bound(automation: ChannelAutomation, files=None, **changes) -> AutomationForm:
    channel = automation.channel
    shown = AutomationForm(channel=channel, automation=automation)
    return AutomationForm(
        browser_post(shown, **changes), files, channel=channel, automation=automation
    )


def seated_team(name="Support", **kwargs):
    team = TeamFactory(name=name)
    TeamMembershipFactory(team=team, **kwargs)
    return team


# ---------------------------------------------------------------------------------------
# What each kind offers
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ASSIGN_KINDS)
def test_r14_assign_to_offers_exactly_the_modes_of_the_kind(kind):
    form = AutomationForm(channel=ChannelFactory(kind=kind), automation=automation_for(kind))
    offered = [value for value, _ in form.fields["assign_mode"].choices]
    assert offered == list(policy_for(kind).modes)
    assert ("ai_fallback" in form.fields) == (kind != Kind.FORM)
    assert "chat_assignment_enabled" not in form.fields
    assert form.hours is None
    assert form.rules is not None


def test_r14_form_channel_has_no_customer_agent():
    form = AutomationForm(channel=ChannelFactory(kind=Kind.FORM), automation=automation_for())
    assert AssignMode.CUSTOMER_AGENT not in dict(form.fields["assign_mode"].choices)
    assert not {"ai_fallback", "fallback_users", "fallback_teams"} & set(form.fields)


@pytest.mark.parametrize("kind", CHAT_KINDS)
def test_r18_chat_has_the_assignment_toggle_and_the_picker(kind):
    automation = automation_for(kind)
    form = AutomationForm(channel=automation.channel, automation=automation)
    assert {"chat_assignment_enabled", "users", "teams"} <= set(form.fields)
    assert not {"assign_mode", "team", "ai_fallback", "call_routing"} & set(form.fields)
    assert form.hours is None


def test_r19_calling_has_hours_business_hours_routing_audio_and_voicemail():
    automation = automation_for(Kind.CALLING)
    form = AutomationForm(channel=automation.channel, automation=automation)
    assert {
        "opening_hours_time_zone",
        "call_routing",
        "users",
        "teams",
        "unanswered_call_audio",
        "after_hours_message",
        "voicemail_greeting",
    } <= set(form.fields)
    assert form.hours is not None
    assert form.rules is None  # no skill rules for calls
    assert "assign_mode" not in form.fields


def test_every_option_has_its_help_text_under_it():
    automation = automation_for(Kind.FORM)
    form = AutomationForm(channel=automation.channel, automation=automation)
    descriptions = form.fields["assign_mode"].widget.descriptions
    assert set(descriptions) >= set(policy_for(Kind.FORM).modes)
    assert "by email" in descriptions[AssignMode.CONTACT_OWNER]  # forms: offline owner
    assert "Unassigned" in descriptions[AssignMode.NONE]
    assert "My team's unassigned" in descriptions[AssignMode.TEAM_ONLY]
    distribution = form.fields["distribution"].widget.descriptions
    assert "fewest open tickets" in distribution[Distribution.LOAD_BALANCED]
    assert "ticket stays unassigned" in form.fields["available_only"].help_text


# ---------------------------------------------------------------------------------------
# Specific users and teams (R7–R9, R14, R15)
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ASSIGN_KINDS)
def test_r14_specific_users_and_teams_is_valid(kind, agent):
    team = seated_team()
    form = bound(automation_for(kind), assign_mode="specific", users=[agent], teams=[team])
    assert form.is_valid(), form.errors
    data = form.automation_data()
    assert data["assign_mode"] == AssignMode.SPECIFIC
    assert data["users"] == [agent]
    assert data["teams"] == [team]


def test_r14_specific_needs_someone():
    form = bound(automation_for(), assign_mode="specific")
    assert not form.is_valid()
    assert form.errors["users"] == ["Choose at least one user or team."]


def test_r7_a_user_without_a_seat_is_refused_with_a_field_error(agent):
    unseated = AgentFactory(seat=False, first_name="Nora", last_name="Noseat")
    form = bound(automation_for(), assign_mode="specific", users=[agent, unseated])
    assert not form.is_valid()
    [message] = form.errors["users"]
    assert "Nora Noseat has no helpdesk seat" in message


def test_r8_a_user_without_ticket_access_is_refused_with_a_field_error():
    seated_outsider = UserFactory(first_name="Sid", last_name="Seated")
    SeatFactory(user=seated_outsider)
    form = bound(automation_for(), assign_mode="specific", users=[seated_outsider])
    assert not form.is_valid()
    assert "Sid Seated has no ticket access" in form.errors["users"][0]


def test_r7_r8_the_picker_lists_refused_users_with_the_reason(agent):
    unseated = AgentFactory(seat=False)
    no_access = UserFactory()
    SeatFactory(user=no_access)
    form = AutomationForm(channel=ChannelFactory(), automation=automation_for())
    reasons = form.fields["users"].widget.reasons
    assert reasons == {str(unseated.pk): "no helpdesk seat", str(no_access.pk): "no ticket access"}
    options = {o.data["value"]: o.data for o in form["users"].subwidgets}
    assert options[str(unseated.pk)]["attrs"]["disabled"] is True
    assert "disabled" not in options[str(agent.pk)]["attrs"]


def test_r9_teams_show_their_main_member_count(agent, other_agent):
    team = TeamFactory(name="Support")
    TeamMembershipFactory(team=team, user=agent)
    TeamMembershipFactory(team=team, user=other_agent, role=TeamMembership.Role.ADDITIONAL)
    form = AutomationForm(channel=ChannelFactory(), automation=automation_for())
    assert form.fields["teams"].widget.details[str(team.pk)] == "1 main member"


def test_an_unknown_user_id_is_refused():
    form = bound(automation_for(), assign_mode="specific", users=["999999"])
    assert not form.is_valid()
    assert "users" in form.errors


@pytest.mark.parametrize("distribution", list(Distribution.values))
def test_r15_each_distribution_is_accepted(distribution, agent):
    form = bound(automation_for(), assign_mode="specific", users=[agent], distribution=distribution)
    assert form.is_valid(), form.errors
    assert form.automation_data()["distribution"] == distribution


def test_r15_an_unknown_distribution_is_refused(agent):
    form = bound(automation_for(), assign_mode="specific", users=[agent], distribution="lottery")
    assert not form.is_valid()
    assert "distribution" in form.errors


def test_r16_assign_only_to_available_users_is_ticked_by_default():
    form = AutomationForm(channel=ChannelFactory(), automation=ChannelAutomation())
    assert form["available_only"].value() is True


def test_r16_unticking_available_only_is_saved(agent):
    form = bound(automation_for(), assign_mode="specific", users=[agent], available_only=False)
    assert form.is_valid(), form.errors
    assert form.automation_data()["available_only"] is False


def test_route_again_when_an_agent_becomes_available_is_saved(agent):
    form = bound(
        automation_for(), assign_mode="specific", users=[agent], reroute_when_available=True
    )
    assert form.is_valid(), form.errors
    assert form.automation_data()["reroute_when_available"] is True


# ---------------------------------------------------------------------------------------
# Team only, contact owner, none (R14)
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ASSIGN_KINDS)
def test_r14_team_only_sets_one_team(kind, agent):
    team = seated_team(user=agent)
    form = bound(automation_for(kind), assign_mode="team_only", team=team)
    assert form.is_valid(), form.errors
    data = form.automation_data()
    assert data["assign_mode"] == AssignMode.TEAM_ONLY
    assert data["teams"] == [team]


def test_r14_team_only_needs_a_team():
    form = bound(automation_for(), assign_mode="team_only")
    assert not form.is_valid()
    assert form.errors["team"] == ["Choose exactly one team."]


def test_r14_team_only_refuses_a_team_without_a_seated_member():
    team = TeamFactory(name="Night shift")
    TeamMembershipFactory(team=team, user=AgentFactory(seat=False))
    form = bound(automation_for(), assign_mode="team_only", team=team)
    assert not form.is_valid()
    assert "Night shift has no member with a seat" in form.errors["team"][0]


def test_r14_teams_without_a_seated_member_are_disabled_for_team_only_only():
    empty = TeamFactory(name="Empty")
    form = AutomationForm(channel=ChannelFactory(), automation=automation_for())
    assert form.fields["team"].widget.reasons == {str(empty.pk): "no member with a seat"}
    assert form.fields["teams"].widget.reasons == {}


@pytest.mark.parametrize("kind", ASSIGN_KINDS)
def test_r14_contact_owner_needs_no_selection(kind):
    form = bound(automation_for(kind), assign_mode="contact_owner")
    assert form.is_valid(), form.errors
    assert form.automation_data()["assign_mode"] == AssignMode.CONTACT_OWNER


@pytest.mark.parametrize("kind", ASSIGN_KINDS)
def test_r14_none_is_valid(kind):
    form = bound(automation_for(kind, assign_mode=AssignMode.SPECIFIC), assign_mode="none")
    assert form.is_valid(), form.errors
    assert form.automation_data()["assign_mode"] == AssignMode.NONE


def test_r14_fields_that_do_not_apply_are_ignored_and_kept_as_saved(agent):
    """None is chosen: the users picker, team and distribution are not validated (even with
    refused or bogus values, as a page without JavaScript may send) and stay as saved."""
    saved = automation_for(
        assign_mode=AssignMode.SPECIFIC, users=[agent], distribution=Distribution.RANDOM
    )
    unseated = AgentFactory(seat=False)
    form = bound(
        saved,
        assign_mode="none",
        users=[unseated],
        distribution="bogus",
        team="424242",
        available_only=False,
    )
    assert form.is_valid(), form.errors
    data = form.automation_data()
    assert data["users"] == [agent]
    assert data["distribution"] == Distribution.RANDOM
    assert data["available_only"] is True  # not offered for None: kept


def test_r14_contact_owner_keeps_the_users_but_uses_available_only(agent):
    saved = automation_for(assign_mode=AssignMode.SPECIFIC, users=[agent])
    form = bound(saved, assign_mode="contact_owner", users=[], available_only=False)
    assert form.is_valid(), form.errors
    data = form.automation_data()
    assert data["users"] == [agent]
    assert data["available_only"] is False


def test_r14_an_unknown_mode_is_refused():
    form = bound(automation_for(), assign_mode="telepathy")
    assert not form.is_valid()
    assert "assign_mode" in form.errors


def test_r14_customer_agent_is_refused_on_a_form_channel():
    form = bound(automation_for(Kind.FORM), assign_mode="customer_agent")
    assert not form.is_valid()
    assert "assign_mode" in form.errors


# ---------------------------------------------------------------------------------------
# Customer agent (R14: email and WhatsApp)
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", [Kind.TEAM_EMAIL, Kind.WHATSAPP])
def test_r14_customer_agent_with_fallback_none(kind):
    form = bound(automation_for(kind), assign_mode="customer_agent", ai_fallback="none")
    assert form.is_valid(), form.errors
    data = form.automation_data()
    assert (data["assign_mode"], data["ai_fallback"]) == ("customer_agent", "none")


@pytest.mark.parametrize("kind", [Kind.TEAM_EMAIL, Kind.WHATSAPP])
def test_r14_customer_agent_fallback_to_specific_users_and_teams(kind, agent):
    team = seated_team()
    form = bound(
        automation_for(kind),
        assign_mode="customer_agent",
        ai_fallback="specific",
        fallback_users=[agent],
        fallback_teams=[team],
    )
    assert form.is_valid(), form.errors
    data = form.automation_data()
    assert data["ai_fallback"] == AiFallback.SPECIFIC
    assert (data["fallback_users"], data["fallback_teams"]) == ([agent], [team])


def test_r14_customer_agent_fallback_needs_someone():
    form = bound(automation_for(), assign_mode="customer_agent", ai_fallback="specific")
    assert not form.is_valid()
    assert form.errors["fallback_users"] == ["Choose at least one user or team."]


def test_r7_customer_agent_fallback_refuses_a_user_without_a_seat():
    unseated = AgentFactory(seat=False, first_name="Fay")
    form = bound(
        automation_for(),
        assign_mode="customer_agent",
        ai_fallback="specific",
        fallback_users=[unseated],
    )
    assert not form.is_valid()
    assert "Fay" in form.errors["fallback_users"][0]


def test_r14_fallback_pickers_are_ignored_while_the_fallback_is_none():
    unseated = AgentFactory(seat=False)
    form = bound(
        automation_for(),
        assign_mode="customer_agent",
        ai_fallback="none",
        fallback_users=[unseated],
    )
    assert form.is_valid(), form.errors
    assert form.automation_data()["fallback_users"] == []


# ---------------------------------------------------------------------------------------
# Skill-based routing (R17)
# ---------------------------------------------------------------------------------------


def test_r17_skill_routing_with_rules(agent):
    norwegian = SkillFactory(name="Norwegian")
    form = bound(
        automation_for(),
        assign_mode="specific",
        users=[agent],
        skill_routing=True,
        skill_fallback=SkillFallback.UNSKILLED,
        **rows(
            "rules",
            {"condition": "language_is", "value": "no", "skill": norwegian},
            {"condition": "priority_is", "value": "Urgent", "skill": norwegian},
        ),
    )
    assert form.is_valid(), form.errors
    data = form.automation_data()
    assert data["skill_routing"] is True
    assert data["skill_fallback"] == SkillFallback.UNSKILLED
    assert data["skill_rules"] == [
        {"condition": "language_is", "value": "no", "skill": norwegian},
        {"condition": "priority_is", "value": "Urgent", "skill": norwegian},
    ]


def test_r17_skill_routing_needs_a_rule(agent):
    SkillFactory()
    form = bound(automation_for(), assign_mode="specific", users=[agent], skill_routing=True)
    assert not form.is_valid()
    assert form.errors["skill_routing"] == ["Add at least one rule, or turn skill routing off."]


@pytest.mark.parametrize(
    ("condition", "value", "message"),
    [
        ("priority_is", "whenever", "A priority is Low, Normal, High or Urgent."),
        ("language_is", "no way!", "A language is a code such as no, es or pt-BR."),
    ],
)
def test_r17_a_rule_value_must_fit_its_condition(agent, condition, value, message):
    skill = SkillFactory()
    form = bound(
        automation_for(),
        assign_mode="specific",
        users=[agent],
        skill_routing=True,
        **rows("rules", {"condition": condition, "value": value, "skill": skill}),
    )
    assert not form.is_valid()
    assert form.rules.forms[0].errors["value"] == [message]
    assert form.errors["skill_rules"] == ["Check the highlighted rows below."]


def test_r17_a_rule_listed_twice_is_refused(agent):
    skill = SkillFactory(name="Spanish")
    rule = {"condition": "text_contains", "value": "hola", "skill": skill}
    form = bound(
        automation_for(),
        assign_mode="specific",
        users=[agent],
        skill_routing=True,
        **rows("rules", rule, rule),
    )
    assert not form.is_valid()
    assert "listed twice" in form.errors["skill_rules"][0]


def test_r17_a_blank_extra_rule_row_is_skipped(agent):
    skill = SkillFactory()
    form = bound(
        automation_for(),
        assign_mode="specific",
        users=[agent],
        skill_routing=True,
        **rows(
            "rules",
            {"condition": "language_is", "value": "es", "skill": skill},
            {"condition": "", "value": "", "skill": ""},
        ),
    )
    assert form.is_valid(), form.errors
    assert len(form.automation_data()["skill_rules"]) == 1


def test_r17_removing_a_rule(agent):
    saved = automation_for(assign_mode=AssignMode.SPECIFIC, users=[agent], skill_routing=True)
    SkillRuleFactory(automation=saved, value="no")
    kept = SkillRuleFactory(automation=saved, value="es")
    form = bound(saved, **{"rules-0-DELETE": "on"})
    assert form.is_valid(), form.errors
    assert [r["value"] for r in form.automation_data()["skill_rules"]] == [kept.value]


def test_r17_rules_are_ignored_while_skill_routing_is_off(agent):
    saved = automation_for(assign_mode=AssignMode.SPECIFIC, users=[agent])
    rule = SkillRuleFactory(automation=saved)
    form = bound(
        saved,
        skill_routing=False,
        **rows("rules", {"condition": "priority_is", "value": "nonsense", "skill": ""}),
    )
    assert form.is_valid(), form.errors
    [kept] = form.automation_data()["skill_rules"]
    assert kept["skill"] == rule.skill


def test_r17_skills_do_not_apply_to_team_only(agent):
    team = seated_team(user=agent)
    form = bound(automation_for(), assign_mode="team_only", team=team, skill_routing=True)
    assert form.is_valid(), form.errors  # no rule needed: skills are not in effect
    assert form.automation_data()["skill_routing"] is False


# ---------------------------------------------------------------------------------------
# Chatflow and custom chat (R18)
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", CHAT_KINDS)
def test_r18_chat_assignment_on_routes_to_the_picked_users(kind, agent):
    team = seated_team()
    form = bound(
        automation_for(kind),
        chat_assignment_enabled=True,
        users=[agent],
        teams=[team],
        distribution="round_robin",
    )
    assert form.is_valid(), form.errors
    data = form.automation_data()
    assert data["chat_assignment_enabled"] is True
    assert data["assign_mode"] == AssignMode.SPECIFIC
    assert (data["users"], data["teams"]) == ([agent], [team])
    assert data["distribution"] == Distribution.ROUND_ROBIN


@pytest.mark.parametrize("kind", CHAT_KINDS)
def test_r18_chat_assignment_on_needs_someone(kind):
    form = bound(automation_for(kind), chat_assignment_enabled=True)
    assert not form.is_valid()
    assert form.errors["users"] == ["Choose at least one user or team."]


@pytest.mark.parametrize("kind", CHAT_KINDS)
def test_r18_chat_assignment_off_ignores_the_picker(kind, agent):
    saved = automation_for(
        kind, assign_mode=AssignMode.SPECIFIC, chat_assignment_enabled=True, users=[agent]
    )
    form = bound(saved, chat_assignment_enabled=False, users=[AgentFactory(seat=False)])
    assert form.is_valid(), form.errors
    data = form.automation_data()
    assert data["chat_assignment_enabled"] is False
    assert data["assign_mode"] == AssignMode.NONE
    assert data["users"] == [agent]


# ---------------------------------------------------------------------------------------
# Calling (R19)
# ---------------------------------------------------------------------------------------


def calling(**fields) -> ChannelAutomation:
    return automation_for(Kind.CALLING, **fields)


def test_r19_opening_hours_with_several_ranges_per_day_and_a_time_zone(agent):
    form = bound(
        calling(),
        call_routing=True,
        users=[agent],
        opening_hours_time_zone="Europe/Oslo",
        **rows(
            "hours",
            {"weekday": 0, "start": "09:00", "end": "12:00"},
            {"weekday": 0, "start": "13:00", "end": "17:00"},
            {"weekday": 4, "start": "10:00", "end": "14:00"},
        ),
    )
    assert form.is_valid(), form.errors
    data = form.automation_data()
    assert data["assign_mode"] == AssignMode.SPECIFIC
    assert data["opening_hours_time_zone"] == "Europe/Oslo"
    assert [(h["weekday"], h["start"], h["end"]) for h in data["opening_hours"]] == [
        (0, dt.time(9), dt.time(12)),
        (0, dt.time(13), dt.time(17)),
        (4, dt.time(10), dt.time(14)),
    ]


def test_r19_a_range_must_end_after_it_starts():
    form = bound(calling(), **rows("hours", {"weekday": 1, "start": "17:00", "end": "09:00"}))
    assert not form.is_valid()
    assert "must be after the start" in form.hours.forms[0].errors["end"][0]
    assert "hours" in form.errors


def test_r19_overlapping_ranges_are_refused():
    form = bound(
        calling(),
        **rows(
            "hours",
            {"weekday": 2, "start": "09:00", "end": "12:00"},
            {"weekday": 2, "start": "11:00", "end": "14:00"},
        ),
    )
    assert not form.is_valid()
    assert form.errors["hours"] == [
        "Wednesday: 09:00–12:00 overlaps 11:00–14:00. Merge them or change one."
    ]


def test_r19_removing_opening_hours():
    saved = calling()
    OpeningHoursFactory(automation=saved)
    form = bound(saved, **{"hours-0-DELETE": "on"})
    assert form.is_valid(), form.errors
    assert form.automation_data()["opening_hours"] == []


def test_r19_an_unknown_time_zone_is_refused():
    form = bound(calling(), opening_hours_time_zone="Mars/Olympus")
    assert not form.is_valid()
    assert "opening_hours_time_zone" in form.errors


def test_r19_business_hours_routing_needs_someone_when_on():
    form = bound(calling(), call_routing=True)
    assert not form.is_valid()
    assert form.errors["users"] == ["Choose at least one user or team."]


def test_r19_business_hours_routing_off_is_none(agent):
    form = bound(calling(assign_mode=AssignMode.SPECIFIC, users=[agent]), call_routing=False)
    assert form.is_valid(), form.errors
    assert form.automation_data()["assign_mode"] == AssignMode.NONE


def test_r19_voicemail_message_and_audio_upload(agent):
    files = {
        "unanswered_call_audio": SimpleUploadedFile("sorry.wav", WAV, "audio/wav"),
        "voicemail_greeting": SimpleUploadedFile("closed.mp3", MP3, "audio/mpeg"),
    }
    form = bound(calling(), files, after_hours_message="We are closed.")
    assert form.is_valid(), form.errors
    data = form.automation_data()
    assert data["after_hours_message"] == "We are closed."
    assert data["unanswered_call_audio"].name == "sorry.wav"
    assert data["voicemail_greeting"].name == "closed.mp3"


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (SimpleUploadedFile("notes.txt", WAV, "text/plain"), "extension “txt” is not allowed"),
        (SimpleUploadedFile("fake.mp3", b"MZ\x90\x00 a program", "audio/mpeg"), "not audio"),
        (SimpleUploadedFile("song.wav", WAV, "application/pdf"), "not audio"),
    ],
)
def test_r19_an_upload_that_is_not_audio_is_refused(upload, message):
    form = bound(calling(), {"unanswered_call_audio": upload})
    assert not form.is_valid()
    assert message in " ".join(form.errors["unanswered_call_audio"])


def test_r19_an_audio_file_over_the_size_limit_is_refused(monkeypatch):
    monkeypatch.setattr(cfg_models, "AUDIO_MAX_BYTES", 16)
    upload = SimpleUploadedFile("long.wav", WAV, "audio/wav")
    form = bound(calling(), {"voicemail_greeting": upload})
    assert not form.is_valid()
    assert "the limit is" in form.errors["voicemail_greeting"][0]


def test_r19_clearing_the_audio_file():
    saved = calling()
    saved.unanswered_call_audio.name = "calling/unanswered/old.wav"
    saved.save()
    form = bound(saved, **{"unanswered_call_audio-clear": "on"})
    assert form.is_valid(), form.errors
    assert form.automation_data()["unanswered_call_audio"] is False


def test_r19_no_upload_keeps_the_file():
    form = bound(calling())
    assert form.is_valid(), form.errors
    assert form.automation_data()["unanswered_call_audio"] is None


def test_audio_sniffing_knows_the_accepted_formats():
    assert looks_like_audio(WAV) and looks_like_audio(MP3)
    assert looks_like_audio(b"OggS\x00\x02" + b"\x00" * 10)
    assert looks_like_audio(b"\x00\x00\x00\x20ftypM4A ")
    assert looks_like_audio(b"\xff\xfb\x90\x64")  # a bare MPEG frame
    assert not looks_like_audio(io.BytesIO(b"%PDF-1.7").read())


# ---------------------------------------------------------------------------------------
# The rules that say which fields apply (shared with the page's script)
# ---------------------------------------------------------------------------------------


def test_group_rules_for_assign_kinds():
    form = AutomationForm(channel=ChannelFactory(), automation=automation_for())
    rules = form.group_rules
    assert groups_in_effect(rules, {"assign_mode": "specific"}) >= {
        "pool",
        "distribution",
        "available",
        "reroute",
        "skills",
    }
    assert groups_in_effect(rules, {"assign_mode": "team_only"}) == {"team"}
    assert groups_in_effect(rules, {"assign_mode": "none"}) == set()
    assert groups_in_effect(rules, {"assign_mode": "customer_agent", "ai_fallback": "none"}) == {
        "ai"
    }
    assert "fallback" in groups_in_effect(
        rules, {"assign_mode": "customer_agent", "ai_fallback": "specific"}
    )
    owner = groups_in_effect(rules, {"assign_mode": "contact_owner"})
    assert owner == {"owner_note", "available", "skills"}
    assert "skill_rules" in groups_in_effect(
        rules, {"assign_mode": "specific", "skill_routing": "on"}
    )


def test_group_rules_for_chat_and_calling():
    chat = AutomationForm(
        channel=ChannelFactory(kind=Kind.CHATFLOW), automation=automation_for(Kind.CHATFLOW)
    ).group_rules
    assert groups_in_effect(chat, {"chat_assignment_enabled": ""}) == set()
    assert "pool" in groups_in_effect(chat, {"chat_assignment_enabled": "on"})
    call = AutomationForm(
        channel=ChannelFactory(kind=Kind.CALLING), automation=automation_for(Kind.CALLING)
    ).group_rules
    assert "skills" not in call
    assert "pool" in groups_in_effect(call, {"call_routing": "on"})


def test_the_form_shows_the_saved_settings(agent):
    team = seated_team()
    saved = automation_for(
        assign_mode=AssignMode.SPECIFIC,
        users=[agent],
        teams=[team],
        distribution=Distribution.ROUND_ROBIN,
        skill_routing=True,
    )
    SkillRuleFactory(automation=saved, condition=SkillRule.Condition.TEXT_CONTAINS, value="vat")
    form = AutomationForm(channel=saved.channel, automation=saved)
    assert form["assign_mode"].value() == AssignMode.SPECIFIC
    assert form["users"].value() == [str(agent.pk)]
    assert form["teams"].value() == [str(team.pk)]
    assert form["distribution"].value() == Distribution.ROUND_ROBIN
    assert form["version"].value() == saved.version
    assert form.rules.forms[0]["value"].value() == "vat"


def test_the_form_shows_team_only_as_its_team(agent):
    team = seated_team(user=agent)
    saved = automation_for(assign_mode=AssignMode.TEAM_ONLY, teams=[team])
    form = AutomationForm(channel=saved.channel, automation=saved)
    assert form["team"].value() == str(team.pk)


# ---------------------------------------------------------------------------------------
# Connecting a channel
# ---------------------------------------------------------------------------------------


def test_connecting_a_channel_needs_a_kind_and_a_name():
    form = ChannelCreateForm({"name": "", "address": "x", "is_active": "on"})
    assert not form.is_valid()
    assert set(form.errors) == {"kind", "name"}
    form = ChannelCreateForm({"kind": "calling", "name": "Phones", "is_active": "on"})
    assert form.is_valid(), form.errors
