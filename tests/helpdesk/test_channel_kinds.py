"""One declared policy per channel kind (R12, R14, R18, R19): every kind has one, it says what
the spec says, the Automation form and the model offer exactly its modes, and no other module
spells out what a kind means."""

import re
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError

from channels_cfg.forms import AutomationForm
from channels_cfg.models import AUTOMATION_SETTINGS, ChannelAutomation
from helpdesk.channel_kinds import (
    POLICIES,
    AssignMode,
    ChannelKind,
    KindPolicy,
    TicketType,
    policy_for,
    ticket_type_for,
)
from helpdesk.models import Channel
from tests.factories import ChannelAutomationFactory, ChannelFactory

K = ChannelKind
ROOT = Path(__file__).resolve().parents[2]

# Written out here, not read from the policy, so a wrong declaration fails.
EXPECTED_TYPE = {  # R12
    K.TEAM_EMAIL: "email",
    K.FORM: "email",
    K.CHATFLOW: "messages",
    K.CUSTOM_CHAT: "messages",
    K.WHATSAPP: "messages",
    K.CALLING: "calls",
}
ALL_FIVE = ["customer_agent", "specific", "team_only", "contact_owner", "none"]
EXPECTED_MODES = {  # R14 (in the order shown), R18 and R19 (on = specific, off = none)
    K.TEAM_EMAIL: ALL_FIVE,
    K.WHATSAPP: ALL_FIVE,
    K.FORM: ["specific", "team_only", "contact_owner", "none"],
    K.CHATFLOW: ["specific", "none"],
    K.CUSTOM_CHAT: ["specific", "none"],
    K.CALLING: ["specific", "none"],
}


# --- declared --------------------------------------------------------------------------


def test_every_kind_has_exactly_one_policy():
    assert set(POLICIES) == set(ChannelKind) == set(Channel.Kind)
    assert all(policy_for(kind).kind == kind for kind in ChannelKind)


def test_a_policy_is_frozen():
    with pytest.raises(AttributeError):
        policy_for(K.FORM).modes = ()


@pytest.mark.parametrize("kind", list(ChannelKind))
def test_r12_ticket_type_follows_the_kind(kind):
    assert policy_for(kind).ticket_type == EXPECTED_TYPE[kind]
    assert ticket_type_for(kind) == EXPECTED_TYPE[kind]
    assert Channel(kind=kind).ticket_type == EXPECTED_TYPE[kind]


def test_r12_no_channel_is_email_other():
    assert ticket_type_for(None) == TicketType.EMAIL
    assert Channel.ticket_type_for(None) == TicketType.EMAIL


@pytest.mark.parametrize("kind", list(ChannelKind))
def test_r14_r18_r19_modes_offered_and_the_default(kind):
    policy = policy_for(kind)
    assert list(policy.modes) == EXPECTED_MODES[kind]
    assert policy.default_mode == AssignMode.NONE  # new channels leave tickets in Unassigned


def test_r14_customer_agent_on_email_and_whatsapp_only():
    assert {k for k in ChannelKind if policy_for(k).customer_agent} == {K.TEAM_EMAIL, K.WHATSAPP}


def test_r14_assign_to_rule_on_email_form_and_whatsapp():
    assert {k for k in ChannelKind if policy_for(k).assign_rule} == {
        K.TEAM_EMAIL,
        K.FORM,
        K.WHATSAPP,
    }


def test_r14_only_forms_email_the_submission_to_an_offline_contact_owner():
    assert {k for k in ChannelKind if policy_for(k).emails_offline_contact_owner} == {K.FORM}


def test_r18_chat_kinds_decide_with_the_assignment_toggle():
    assert {k for k in ChannelKind if policy_for(k).chat_toggle} == {K.CHATFLOW, K.CUSTOM_CHAT}


def test_r19_calling_routes_by_business_hours_with_opening_hours_and_voicemail():
    assert {k for k in ChannelKind if policy_for(k).calling_hours} == {K.CALLING}
    assert {k for k in ChannelKind if policy_for(k).opening_hours} == {K.CALLING}
    assert {k for k in ChannelKind if policy_for(k).voicemail} == {K.CALLING}


def test_r17_skill_routing_everywhere_but_calls():
    assert {k for k in ChannelKind if not policy_for(k).skill_routing} == {K.CALLING}


def test_a_policy_that_contradicts_itself_is_refused():
    with pytest.raises(ValueError, match="default mode"):
        KindPolicy(
            kind=K.FORM,
            ticket_type=TicketType.EMAIL,
            assignment="assign_rule",
            modes=(AssignMode.SPECIFIC,),
        )
    with pytest.raises(ValueError, match="on/off"):
        KindPolicy(
            kind=K.CHATFLOW,
            ticket_type=TicketType.MESSAGES,
            assignment="chat_toggle",
            modes=(AssignMode.TEAM_ONLY, AssignMode.NONE),
        )
    with pytest.raises(ValueError, match="hours and voicemail"):
        KindPolicy(
            kind=K.CALLING,
            ticket_type=TicketType.CALLS,
            assignment="calling_hours",
            modes=(AssignMode.SPECIFIC, AssignMode.NONE),
        )


def test_every_setting_needs_a_flag_the_policy_has():
    flags = {s.needs for s in AUTOMATION_SETTINGS if s.needs}
    policy = policy_for(K.TEAM_EMAIL)
    assert all(isinstance(getattr(policy, flag), bool) for flag in flags)


# --- what the forms and the model offer ----------------------------------------------


def _modes_the_form_offers(kind) -> list[str]:
    automation = ChannelAutomationFactory(channel=ChannelFactory(kind=kind))
    form = AutomationForm(channel=automation.channel, automation=automation)
    if "assign_mode" in form.fields:
        return [value for value, _ in form.fields["assign_mode"].choices]
    toggle = (
        "chat_assignment_enabled" if "chat_assignment_enabled" in form.fields else "call_routing"
    )
    return [form.mode({toggle: True}), form.mode({toggle: False})]


@pytest.mark.django_db
@pytest.mark.parametrize("kind", list(ChannelKind))
def test_the_form_offers_exactly_the_policys_modes(kind):
    assert _modes_the_form_offers(kind) == list(policy_for(kind).modes)


@pytest.mark.django_db
@pytest.mark.parametrize("kind", list(ChannelKind))
def test_the_form_shows_what_the_policy_has(kind):
    policy = policy_for(kind)
    automation = ChannelAutomationFactory(channel=ChannelFactory(kind=kind))
    form = AutomationForm(channel=automation.channel, automation=automation)
    assert ("assign_mode" in form.fields) == policy.assign_rule
    assert ("ai_fallback" in form.fields) == policy.customer_agent
    assert ("chat_assignment_enabled" in form.fields) == policy.chat_toggle
    assert ("call_routing" in form.fields) == policy.calling_hours
    assert (form.hours is not None) == policy.opening_hours
    assert ("after_hours_message" in form.fields) == policy.voicemail
    assert (form.rules is not None) == ("skill_routing" in form.fields) == policy.skill_routing


@pytest.mark.django_db
@pytest.mark.parametrize("kind", list(ChannelKind))
def test_the_model_accepts_exactly_the_policys_modes(kind):
    channel = ChannelFactory(kind=kind)
    for mode in AssignMode:
        automation = ChannelAutomation(channel=channel, assign_mode=mode)
        if policy_for(kind).offers(mode):
            automation.clean()
        else:
            with pytest.raises(ValidationError):
                automation.clean()


@pytest.mark.django_db
@pytest.mark.parametrize("kind", list(ChannelKind))
def test_a_new_channel_starts_with_its_kinds_default(kind):
    channel = ChannelFactory(kind=kind)
    assert ChannelAutomation.default_for(channel).assign_mode == policy_for(kind).default_mode


# --- declared in one module only -----------------------------------------------------

APPS = ("helpdesk", "channels_cfg", "routing", "notifications")
# A named kind, a kind's value written out, or a list of kinds.
KIND_MEANING = re.compile(
    r"\bKind\.(TEAM_EMAIL|FORM|CHATFLOW|WHATSAPP|CALLING|CUSTOM_CHAT)\b"
    r"|[\"'](team_email|chatflow|whatsapp|calling|custom_chat)[\"']"
    r"|\b[A-Z]+_KINDS\b|\bMODES_BY_KIND\b"
)


def _app_modules():
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            parts = set(path.relative_to(ROOT).parts)
            if parts & {"migrations", "management"}:  # history, and benchmark/demo data
                continue
            yield path


def test_no_module_but_the_policy_spells_out_what_a_kind_means():
    policy_module = ROOT / "helpdesk" / "channel_kinds.py"
    found = [
        f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
        for path in _app_modules()
        if path != policy_module
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if KIND_MEANING.search(line)
    ]
    assert found == []
