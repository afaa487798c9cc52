"""`manage.py seed_demo` (the demo app): the demo data `make run` starts with."""

import io

import pytest
from django.conf import settings
from django.contrib.auth.models import Group
from django.core.management import call_command

from channels_cfg.models import AssignMode, ChannelAutomation, ChannelSettingsChange
from helpdesk.models import (
    AccountSettings,
    ApiToken,
    AssignmentEvent,
    Channel,
    Contact,
    Message,
    Seat,
    Team,
    TeamMembership,
    Ticket,
    User,
)
from helpdesk.services import user_for_token
from helpdesk.services.groups import ACCOUNT_ADMINS, AGENTS

MODELS = [
    User,
    Group,
    Seat,
    Team,
    TeamMembership,
    Channel,
    ChannelAutomation,
    Contact,
    Ticket,
    Message,
    AssignmentEvent,
    ApiToken,
]


def seed(**options) -> str:
    out = io.StringIO()
    call_command("seed_demo", stdout=out, **options)
    return out.getvalue()


def counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in MODELS}


@pytest.fixture
def seeded(db):
    return seed(tickets=60)


def test_second_run_creates_nothing(seeded):
    before = counts()
    seed(tickets=60)
    assert counts() == before
    assert before["Ticket"] == 60
    assert Ticket.objects.filter(contact__email__endswith="@demo.example").count() == 60


def test_once_on_a_seeded_database_creates_nothing_and_prints_logins(seeded):
    before = counts()
    out = seed(once=True, tickets=500)
    assert counts() == before
    assert "http://127.0.0.1:8000/" in out
    assert "superadmin" in out and settings.DEMO_API_TOKEN in out


def test_output_shows_progress_and_logins(seeded):
    assert "100%" in seeded
    assert f"admin       / {settings.DEMO_PASSWORD} / account admin" in seeded
    assert f"Bearer {settings.DEMO_API_TOKEN}" in seeded


def test_users_groups_and_seats(seeded):
    superadmin = User.objects.get(username="superadmin")
    assert superadmin.is_superuser and superadmin.is_staff
    admin = User.objects.get(username="admin")
    assert admin.is_staff and not admin.is_superuser
    assert admin.groups.filter(name=ACCOUNT_ADMINS).exists()
    assert admin.has_perm("helpdesk.manage_helpdesk")
    for name in ["agent", "alice", "bob", "carla", "dmitri", "emma", "farid"]:
        user = User.objects.get(username=name)
        assert user.groups.filter(name=AGENTS).exists(), name
        assert user.has_ticket_access, name
        assert user.first_name and user.last_name
    assert User.objects.get(username="agent").check_password(settings.DEMO_PASSWORD)
    assert superadmin.check_password(settings.DEMO_PASSWORD)
    seated = set(Seat.objects.values_list("user__username", flat=True))
    assert seated == {"admin", "agent", "alice", "bob", "carla", "dmitri", "emma"}
    assert Seat.objects.count() <= AccountSettings.load().purchased_seats


def test_r7_farid_has_ticket_access_but_no_seat(seeded):
    farid = User.objects.get(username="farid")
    assert farid.has_ticket_access
    assert not Seat.objects.filter(user=farid).exists()


def test_r9_teams_have_one_main_team_per_user(seeded):
    def members(team, role):
        return set(
            TeamMembership.objects.filter(team__name=team, role=role).values_list(
                "user__username", flat=True
            )
        )

    assert members("Support", "main") == {"agent", "alice", "bob"}
    assert members("Support", "additional") == {"carla"}
    assert members("Billing", "main") == {"carla", "dmitri"}
    assert members("Billing", "additional") == {"agent"}
    assert members("Sales", "main") == {"emma", "farid"}


def test_r11_availability_is_varied(seeded):
    assert User.objects.filter(availability_mode="working_hours").exists()
    assert User.objects.filter(status="away").exists()
    assert User.objects.filter(out_of_office__isnull=False).exists()
    assert User.objects.filter(working_hours__isnull=False).exists()
    assert len(set(User.objects.values_list("time_zone", flat=True))) >= 4


def test_r14_every_channel_kind_has_a_valid_automation(seeded):
    kinds = set(Channel.objects.values_list("kind", flat=True))
    assert kinds == set(Channel.Kind.values)
    for channel in Channel.objects.all():
        automation = ChannelAutomation.objects.get(channel=channel)
        automation.clean()  # passes the same validation an admin's form would
    email = ChannelAutomation.objects.get(channel__kind=Channel.Kind.TEAM_EMAIL)
    assert email.skill_routing and email.skill_rules.filter(value="no").exists()
    form = ChannelAutomation.objects.get(channel__kind=Channel.Kind.FORM)
    assert form.assign_mode == AssignMode.TEAM_ONLY
    calling = ChannelAutomation.objects.get(channel__kind=Channel.Kind.CALLING)
    assert calling.opening_hours.count() == 5 and calling.after_hours_message


def test_r6_channels_are_set_up_through_the_services_with_their_audit_entries(seeded):
    """Connected and configured by the account admin as on the settings pages: each channel
    has its "created" entry, and each automation that differs from the defaults its
    "automation" entry with the version it saved."""
    Section = ChannelSettingsChange.Section
    admin = User.objects.get(username="admin")
    for channel in Channel.objects.all():
        changes = channel.settings_changes.all()
        assert changes.filter(section=Section.CREATED, actor=admin).count() == 1, channel
        automation = ChannelAutomation.objects.get(channel=channel)
        saved = changes.filter(section=Section.AUTOMATION, actor=admin)
        if channel.kind == Channel.Kind.CUSTOM_CHAT:  # None: the defaults, nothing to save
            assert not saved.exists() and automation.version == 1
        else:
            assert list(saved.values_list("version", flat=True)) == [automation.version] == [2]
            assert automation.updated_by == admin


def test_r12_ticket_types_follow_channel_kinds(seeded):
    for ticket in Ticket.objects.select_related("channel"):
        assert ticket.ticket_type == Channel.ticket_type_for(ticket.channel), ticket.pk
    assert set(Ticket.objects.values_list("channel__kind", flat=True)) >= set(Channel.Kind.values)


def test_tickets_cover_every_queue_and_status(seeded):
    open_tickets = Ticket.objects.filter(Ticket.OPEN)
    assert open_tickets.filter(owner__isnull=True, team__isnull=True).exists()  # R21
    assert open_tickets.filter(owner__isnull=True, team__isnull=False).exists()  # R22
    assert open_tickets.filter(owner__isnull=False).exists()
    assert set(Ticket.objects.values_list("status", flat=True)) == set(Ticket.Status.values)
    assert AssignmentEvent.objects.filter(cause=AssignmentEvent.Cause.REPLY).exists()  # R4
    assert Message.objects.filter(direction=Message.Direction.NOTE).exists()


def test_contacts_are_demo_contacts_and_some_have_owners(seeded):
    assert Contact.objects.filter(email__endswith="@demo.example").count() >= 40
    assert Contact.objects.filter(owner__isnull=False).count() >= 10


def test_demo_token_authenticates_the_agent(seeded):
    user = user_for_token(settings.DEMO_API_TOKEN)
    assert user is not None and user.username == "agent"


@pytest.mark.django_db
def test_bulk_rows_are_consistent():
    seed(tickets=3000)
    tickets = Ticket.objects.all()
    assert tickets.count() == 3000
    assert Message.objects.filter(direction=Message.Direction.INBOUND).count() >= 3000
    assert not tickets.filter(owner__isnull=False, assigned_at__isnull=True).exists()
    assert not tickets.filter(status=Ticket.Status.CLOSED, closed_at__isnull=True).exists()
    assert not tickets.exclude(status=Ticket.Status.CLOSED).filter(closed_at__isnull=False).exists()
    for ticket in tickets.select_related("channel").iterator():
        assert ticket.last_activity_at >= ticket.created_at, ticket.pk
        assert ticket.ticket_type == Channel.ticket_type_for(ticket.channel), ticket.pk
    bulk = tickets.filter(routing_state=Ticket.RoutingState.DONE)
    assert bulk.count() >= 3000 - 50
    assert not Ticket.objects.filter(messages__isnull=True).exists()
