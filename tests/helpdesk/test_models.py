"""Constraints and derived values of the core models, checked against the database."""

import datetime as dt
from contextlib import contextmanager

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from helpdesk.models import Channel, Message, Ticket, TicketType, User
from helpdesk.models.users import validate_time_zone
from tests.factories import (
    AgentFactory,
    ChannelFactory,
    MessageFactory,
    OutOfOfficeFactory,
    TeamFactory,
    TeamMembershipFactory,
    TicketFactory,
    UserFactory,
    WorkingHoursFactory,
)

pytestmark = pytest.mark.django_db

MAIN = "main"
ADDITIONAL = "additional"


@contextmanager
def integrity_error():
    """Expect the database to refuse the write; the savepoint keeps the test usable
    afterwards (PostgreSQL aborts the whole transaction otherwise)."""
    with pytest.raises(IntegrityError), transaction.atomic():
        yield


# --- Teams (R9) ---------------------------------------------------------------------------


def test_r9_user_can_be_main_member_of_only_one_team():
    user = AgentFactory()
    TeamMembershipFactory(user=user, role=MAIN)
    with integrity_error():
        TeamMembershipFactory(user=user, role=MAIN)
    assert user.memberships.count() == 1


def test_r9_second_main_team_is_reported_by_model_validation():
    user = AgentFactory()
    TeamMembershipFactory(user=user, role=MAIN)
    second = TeamMembershipFactory.build(user=user, team=TeamFactory(), role=MAIN)
    with pytest.raises(ValidationError, match="already the main member of another team"):
        second.full_clean()


def test_r9_additional_memberships_are_unlimited_beside_one_main_team():
    user = AgentFactory()
    TeamMembershipFactory(user=user, role=MAIN)
    TeamMembershipFactory(user=user, role=ADDITIONAL)
    TeamMembershipFactory(user=user, role=ADDITIONAL)
    roles = sorted(user.memberships.values_list("role", flat=True))
    assert roles == [ADDITIONAL, ADDITIONAL, MAIN]


def test_r9_user_without_main_team_can_have_only_additional_memberships():
    user = AgentFactory()
    TeamMembershipFactory(user=user, role=ADDITIONAL)
    TeamMembershipFactory(user=user, role=ADDITIONAL)
    assert user.memberships.filter(role=MAIN).count() == 0
    assert user.teams.count() == 2


def test_membership_is_unique_per_team_and_user():
    membership = TeamMembershipFactory(role=ADDITIONAL)
    with integrity_error():
        TeamMembershipFactory(team=membership.team, user=membership.user, role=MAIN)
    assert membership.team.memberships.count() == 1


# --- Ticket type (R12) --------------------------------------------------------------------

# Written out here, not read from the model, so a wrong mapping fails the test.
EXPECTED_TYPE = {
    Channel.Kind.TEAM_EMAIL: "email",
    Channel.Kind.FORM: "email",
    Channel.Kind.CHATFLOW: "messages",
    Channel.Kind.CUSTOM_CHAT: "messages",
    Channel.Kind.WHATSAPP: "messages",
    Channel.Kind.CALLING: "calls",
}


def test_r12_every_channel_kind_has_an_expected_type():
    assert set(EXPECTED_TYPE) == set(Channel.Kind)


@pytest.mark.parametrize("kind", list(Channel.Kind))
def test_r12_ticket_type_follows_channel_kind(kind):
    channel = ChannelFactory(kind=kind)
    assert channel.ticket_type == EXPECTED_TYPE[kind]
    assert Channel.ticket_type_for(channel) == EXPECTED_TYPE[kind]


def test_r12_ticket_without_channel_is_email_other():
    assert Channel.ticket_type_for(None) == TicketType.EMAIL == "email"
    assert TicketType.EMAIL.label == "Email/other"


# --- Ticket ---------------------------------------------------------------------------------


def test_ticket_with_owner_needs_assigned_at():
    owner = AgentFactory()
    with integrity_error():
        Ticket.objects.create(subject="Broken", owner=owner, assigned_at=None)
    assert not Ticket.objects.filter(subject="Broken").exists()


def test_ticket_owner_check_also_guards_updates():
    owner = AgentFactory()
    ticket = TicketFactory(owner=owner)
    assigned_at = ticket.assigned_at
    assert assigned_at is not None
    with integrity_error():
        Ticket.objects.filter(pk=ticket.pk).update(assigned_at=None)
    ticket.refresh_from_db()
    assert (ticket.owner, ticket.assigned_at) == (owner, assigned_at)


def test_ticket_without_owner_may_keep_no_assigned_at():
    ticket = Ticket.objects.create(subject="Fine", owner=None, assigned_at=None)
    assert ticket.is_unassigned
    assert ticket.is_open


def test_ticket_with_team_only_is_not_unassigned():
    ticket = TicketFactory(team=TeamFactory())
    assert ticket.owner is None
    assert not ticket.is_unassigned


def test_closed_ticket_is_not_open():
    ticket = TicketFactory(status=Ticket.Status.CLOSED)
    assert not ticket.is_open
    assert ticket in Ticket.objects.exclude(Ticket.OPEN)


# --- Message --------------------------------------------------------------------------------


def test_message_external_id_is_unique_per_channel():
    first = MessageFactory(external_id="<abc@mail.example>")
    with integrity_error():
        MessageFactory(ticket=first.ticket, channel=first.channel, external_id="<abc@mail.example>")
    assert Message.objects.filter(external_id="<abc@mail.example>").count() == 1


def test_message_same_external_id_on_another_channel_is_fine():
    first = MessageFactory(external_id="wamid.1")
    other = MessageFactory(external_id="wamid.1")
    assert first.channel_id != other.channel_id
    assert Message.objects.filter(external_id="wamid.1").count() == 2


def test_message_blank_external_ids_are_not_unique():
    first = MessageFactory(external_id="")
    MessageFactory(ticket=first.ticket, channel=first.channel, external_id="")
    MessageFactory(ticket=first.ticket, channel=first.channel, external_id="")
    assert Message.objects.filter(channel=first.channel, external_id="").count() == 3


# --- Availability rows (R11) ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end"), [(dt.time(9), dt.time(9)), (dt.time(17), dt.time(9))], ids=["equal", "back"]
)
def test_r11_working_hours_must_end_after_they_start(start, end):
    user = AgentFactory()
    with integrity_error():
        WorkingHoursFactory(user=user, start=start, end=end)
    assert not user.working_hours.exists()


def test_r11_out_of_office_must_end_after_it_starts():
    user = AgentFactory()
    start = timezone.now()
    with integrity_error():
        OutOfOfficeFactory(user=user, start=start, end=start - dt.timedelta(minutes=1))
    with integrity_error():
        OutOfOfficeFactory(user=user, start=start, end=start)
    OutOfOfficeFactory(user=user, start=start, end=start + dt.timedelta(minutes=1))
    assert user.out_of_office.count() == 1


# --- User -----------------------------------------------------------------------------------


def test_user_time_zone_validator_rejects_unknown_zone():
    with pytest.raises(ValidationError, match="Mars/Olympus"):
        validate_time_zone("Mars/Olympus")
    validate_time_zone("Europe/Oslo")  # real zones pass
    validate_time_zone("UTC")  # the default


def test_user_full_clean_rejects_unknown_time_zone():
    user = UserFactory(time_zone="Mars/Olympus")
    with pytest.raises(ValidationError) as exc:
        user.full_clean()
    assert "time_zone" in exc.value.message_dict
    user.time_zone = "America/New_York"
    user.full_clean()


def test_user_ticket_access_comes_from_the_agents_group():
    assert AgentFactory().has_ticket_access
    assert not UserFactory().has_ticket_access
    assert not AgentFactory(is_active=False).has_ticket_access
    assert UserFactory(is_superuser=True).has_ticket_access


def test_user_str_prefers_full_name():
    assert str(UserFactory(username="u1", first_name="Kari", last_name="Nordmann")) == (
        "Kari Nordmann"
    )
    assert str(User(username="u2")) == "u2"
