"""ChannelAutomation validation (R7, R8, R14, R16, R18, R19): which modes each channel offers
and which users and teams may be chosen."""

import pytest
from django.core.exceptions import ValidationError

from channels_cfg.models import (
    AUTOMATION_SETTINGS,
    ROWS,
    AiFallback,
    AssignMode,
    ChannelAutomation,
    Distribution,
    validate_selection,
)
from helpdesk.channel_kinds import policy_for
from helpdesk.models import Channel, TeamMembership
from tests.factories import (
    AgentFactory,
    ChannelAutomationFactory,
    ChannelFactory,
    SeatFactory,
    TeamFactory,
    TeamMembershipFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def errors_of(exc: pytest.ExceptionInfo) -> dict[str, list[str]]:
    return exc.value.message_dict


def refusals(check, **kwargs) -> dict[str, list[str]]:
    """What `check(**kwargs)` (a `clean` or `validate_selection`) refuses, per field: {} when
    it accepts, so a test of an accepted selection says so and shows the messages if not."""
    try:
        check(**kwargs)
    except ValidationError as exc:
        return exc.message_dict
    return {}


def automation(kind=Channel.Kind.TEAM_EMAIL, **fields) -> ChannelAutomation:
    return ChannelAutomationFactory(channel=ChannelFactory(kind=kind), **fields)


# --- defaults -----------------------------------------------------------------------------


def test_r16_assign_only_to_available_users_is_on_by_default():
    assert ChannelAutomation(channel=ChannelFactory()).available_only is True
    saved = ChannelAutomation.objects.create(channel=ChannelFactory())
    saved.refresh_from_db()
    assert saved.available_only is True


def test_r1_r15_defaults_are_none_and_load_balanced():
    config = ChannelAutomation(channel=ChannelFactory())
    assert config.assign_mode == AssignMode.NONE
    assert config.distribution == Distribution.LOAD_BALANCED


# --- modes per channel kind ---------------------------------------------------------------


def test_r14_customer_agent_is_refused_on_a_form_channel():
    config = automation(Channel.Kind.FORM)
    config.assign_mode = AssignMode.CUSTOMER_AGENT
    with pytest.raises(ValidationError) as exc:
        config.clean()
    assert list(errors_of(exc)) == ["assign_mode"]
    assert "Form" in errors_of(exc)["assign_mode"][0]


@pytest.mark.parametrize("kind", [Channel.Kind.TEAM_EMAIL, Channel.Kind.WHATSAPP])
def test_r14_customer_agent_is_offered_on_email_and_whatsapp(kind):
    assert policy_for(kind).offers(AssignMode.CUSTOMER_AGENT)
    config = automation(kind, assign_mode=AssignMode.CUSTOMER_AGENT)
    assert config.ai_fallback == AiFallback.NONE  # the default "If AI can't answer: None"
    assert refusals(config.clean) == {}


@pytest.mark.parametrize(
    "kind", [Channel.Kind.TEAM_EMAIL, Channel.Kind.FORM, Channel.Kind.WHATSAPP]
)
@pytest.mark.parametrize(
    "mode", [AssignMode.SPECIFIC, AssignMode.TEAM_ONLY, AssignMode.CONTACT_OWNER, AssignMode.NONE]
)
def test_r14_email_form_whatsapp_offer_the_four_common_modes(kind, mode):
    assert policy_for(kind).offers(mode)


@pytest.mark.parametrize(
    "kind", [Channel.Kind.CHATFLOW, Channel.Kind.CUSTOM_CHAT, Channel.Kind.CALLING]
)
@pytest.mark.parametrize(
    "mode", [AssignMode.TEAM_ONLY, AssignMode.CONTACT_OWNER, AssignMode.CUSTOMER_AGENT]
)
def test_r18_r19_chat_and_calling_offer_only_users_and_teams_or_none(kind, mode):
    config = automation(kind)
    config.assign_mode = mode
    with pytest.raises(ValidationError) as exc:
        config.clean()
    assert "assign_mode" in errors_of(exc)


def test_every_channel_kind_has_its_modes():
    assert all(policy_for(kind).modes for kind in Channel.Kind)


# --- specific users and teams (R7, R8) ----------------------------------------------------


def test_r7_specific_users_must_be_seated(agent):
    unseated = AgentFactory(seat=False, first_name="Nora", last_name="Noseat")
    with pytest.raises(ValidationError) as exc:
        validate_selection(mode=AssignMode.SPECIFIC, users=[agent, unseated], teams=[])
    [message] = errors_of(exc)["users"]
    assert "Nora Noseat" in message
    assert "seat" in message


def test_r8_specific_users_must_have_ticket_access():
    seated_outsider = UserFactory(first_name="Sid", last_name="Seated")
    SeatFactory(user=seated_outsider)
    with pytest.raises(ValidationError) as exc:
        validate_selection(mode=AssignMode.SPECIFIC, users=[seated_outsider], teams=[])
    [message] = errors_of(exc)["users"]
    assert "Sid Seated" in message
    assert "ticket access" in message


def test_r8_inactive_seated_agent_is_refused():
    gone = AgentFactory(is_active=False, first_name="Gone")
    with pytest.raises(ValidationError) as exc:
        validate_selection(mode=AssignMode.SPECIFIC, users=[gone], teams=[])
    assert "Gone" in errors_of(exc)["users"][0]


def test_r14_specific_needs_at_least_one_user_or_team():
    with pytest.raises(ValidationError) as exc:
        validate_selection(mode=AssignMode.SPECIFIC, users=[], teams=[])
    assert "users" in errors_of(exc)


def test_r14_specific_with_seated_agents_and_a_team_passes(agent, other_agent):
    specific = {"check": validate_selection, "mode": AssignMode.SPECIFIC}
    assert refusals(**specific, users=[agent, other_agent], teams=[]) == {}
    assert refusals(**specific, users=[], teams=[TeamFactory()]) == {}


def test_r14_clean_checks_the_saved_selection(agent):
    unseated = AgentFactory(seat=False, first_name="Una")
    config = automation(assign_mode=AssignMode.SPECIFIC, users=[agent, unseated])
    with pytest.raises(ValidationError) as exc:
        config.clean()
    assert "Una" in errors_of(exc)["users"][0]

    config.users.remove(unseated)
    assert refusals(config.clean) == {}


def test_r14_clean_checks_the_selection_a_form_is_about_to_save(agent):
    config = automation(assign_mode=AssignMode.SPECIFIC, users=[agent])
    config.pending_selection = {"users": [AgentFactory(seat=False, first_name="Pending")]}
    with pytest.raises(ValidationError) as exc:
        config.clean()
    assert "Pending" in errors_of(exc)["users"][0]


def test_r14_clean_on_a_new_automation_with_pending_selection(agent):
    config = ChannelAutomation(channel=ChannelFactory(), assign_mode=AssignMode.SPECIFIC)
    config.pending_selection = {"users": [], "teams": []}
    with pytest.raises(ValidationError):
        config.clean()
    config.pending_selection = {"users": [agent]}
    assert refusals(config.clean) == {}


# --- team only (R14) ----------------------------------------------------------------------


def test_r14_team_only_needs_exactly_one_team():
    seated_team, other = TeamFactory(), TeamFactory()
    TeamMembershipFactory(team=seated_team)
    TeamMembershipFactory(team=other)
    with pytest.raises(ValidationError) as exc:
        validate_selection(mode=AssignMode.TEAM_ONLY, users=[], teams=[])
    assert errors_of(exc) == {"teams": ["Choose exactly one team."]}
    with pytest.raises(ValidationError) as exc:
        validate_selection(mode=AssignMode.TEAM_ONLY, users=[], teams=[seated_team, other])
    assert "Choose exactly one team." in errors_of(exc)["teams"]
    team_only = {"check": validate_selection, "mode": AssignMode.TEAM_ONLY, "users": []}
    assert refusals(**team_only, teams=[seated_team]) == {}


def test_r14_team_only_refuses_a_team_without_a_seated_member():
    team = TeamFactory(name="Night shift")
    TeamMembershipFactory(team=team, user=AgentFactory(seat=False))
    with pytest.raises(ValidationError) as exc:
        validate_selection(mode=AssignMode.TEAM_ONLY, users=[], teams=[team])
    [message] = errors_of(exc)["teams"]
    assert "Night shift" in message
    assert "seat" in message


def test_r14_team_only_refuses_an_empty_team():
    with pytest.raises(ValidationError):
        validate_selection(mode=AssignMode.TEAM_ONLY, users=[], teams=[TeamFactory()])


def test_r14_team_only_through_clean():
    team = TeamFactory()
    TeamMembershipFactory(team=team, role=TeamMembership.Role.MAIN)
    config = automation(Channel.Kind.FORM, assign_mode=AssignMode.TEAM_ONLY, teams=[team])
    assert refusals(config.clean) == {}


# --- customer agent fallback, other modes -------------------------------------------------


def test_r14_customer_agent_fallback_to_specific_needs_valid_users(agent):
    config = automation(
        Channel.Kind.WHATSAPP,
        assign_mode=AssignMode.CUSTOMER_AGENT,
        ai_fallback=AiFallback.SPECIFIC,
    )
    with pytest.raises(ValidationError) as exc:
        config.clean()
    assert "fallback_users" in errors_of(exc)

    unseated = AgentFactory(seat=False, first_name="Fallback")
    config.fallback_users.set([unseated])
    with pytest.raises(ValidationError) as exc:
        config.clean()
    assert "Fallback" in errors_of(exc)["fallback_users"][0]

    config.fallback_users.set([agent])
    assert refusals(config.clean) == {}


@pytest.mark.parametrize("mode", [AssignMode.NONE, AssignMode.CONTACT_OWNER])
def test_r14_none_and_contact_owner_need_no_selection(mode):
    assert refusals(automation(Channel.Kind.TEAM_EMAIL, assign_mode=mode).clean) == {}
    assert refusals(validate_selection, mode=mode, users=[], teams=[]) == {}


def test_r19_calling_channel_routes_to_specific_users(agent):
    assert policy_for(Channel.Kind.CALLING).offers(AssignMode.SPECIFIC)
    config = automation(Channel.Kind.CALLING, assign_mode=AssignMode.SPECIFIC, users=[agent])
    assert refusals(config.clean) == {}


# --- the settings, declared once ----------------------------------------------------------

NOT_SETTINGS = {"id", "channel", "version", "updated_at", "updated_by"}


def test_every_automation_setting_is_declared_once_in_page_order():
    columns = {
        f.name
        for f in ChannelAutomation._meta.get_fields()
        if f.concrete or f.many_to_many  # own columns and chosen users/teams
    } - NOT_SETTINGS
    rows = {f.name for f in ChannelAutomation._meta.related_objects} & {
        "opening_hours",
        "skill_rules",
    }
    names = [s.name for s in AUTOMATION_SETTINGS]
    assert len(names) == len(set(names))
    assert set(names) == columns | rows
    assert [s.name for s in AUTOMATION_SETTINGS if s.store == ROWS] == [
        "skill_rules",
        "opening_hours",
    ]
    assert set(ChannelAutomation.SELECTION_FIELDS) == {
        "users",
        "teams",
        "fallback_users",
        "fallback_teams",
    }
