"""The Django admin writes only through the services: tickets change by actions (with the
version bump, the assignment event and the domain events of the helpdesk pages), tokens and
seats through their services, channels through channels_cfg's (with the audit entry); what
only the services or the router write is read-only here."""

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from channels_cfg.models import ChannelAutomation, ChannelSettingsChange
from helpdesk.models import (
    AccountSettings,
    ApiToken,
    AssignmentEvent,
    Channel,
    Seat,
    Ticket,
    User,
)
from helpdesk.services import user_for_token
from routing.models import RoundRobinTurn, WaitingTicket
from tests.factories import (
    ChannelAutomationFactory,
    ChannelFactory,
    TeamFactory,
    TeamMembershipFactory,
    TicketFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def site(superadmin) -> Client:
    client = Client()
    client.force_login(superadmin)
    return client


def changelist(model) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


def change_url(obj) -> str:
    meta = obj._meta
    return reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[obj.pk])


def add_url(model) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_add")


def run_action(client: Client, model, action: str, objects) -> list[str]:
    response = client.post(
        changelist(model),
        {"action": action, "_selected_action": [obj.pk for obj in objects]},
        follow=True,
    )
    assert response.status_code == 200
    return [str(message) for message in response.context["messages"]]


# ---------------------------------------------------------------------------------------
# Tickets: read-only page, actions through the services
# ---------------------------------------------------------------------------------------


def test_ticket_page_is_read_only_and_a_post_saves_nothing(site):
    ticket = TicketFactory(subject="Printer on fire")
    page = site.get(change_url(ticket))
    assert page.status_code == 200
    assert (
        'name="subject"' not in page.content.decode() and "Printer on fire" in page.content.decode()
    )
    response = site.post(change_url(ticket), {"subject": "Changed", "priority": 4})
    assert response.status_code == 403
    ticket.refresh_from_db()
    assert (ticket.subject, ticket.priority, ticket.version) == ("Printer on fire", 2, 1)


def test_assign_to_me_goes_through_the_service(site, superadmin, captured_events):
    support = TeamFactory(name="Support")
    TeamMembershipFactory(team=support, user=superadmin)
    mine, other = TicketFactory(team=support), TicketFactory(team=TeamFactory())

    messages = run_action(site, Ticket, "assign_to_me", [mine, other])

    assert messages == ["Assigned to you: 2 ticket(s)."]
    mine.refresh_from_db()
    other.refresh_from_db()
    assert (mine.owner, mine.team, mine.version) == (superadmin, support, 2)
    assert (other.owner, other.team, other.version) == (superadmin, None, 2)  # not my team
    event = AssignmentEvent.objects.get(ticket=mine)
    assert (event.actor, event.cause) == (superadmin, AssignmentEvent.Cause.MANUAL)
    assert len(captured_events.of("ticket_assigned")) == 2


def test_assign_to_me_is_refused_to_staff_without_ticket_access(superadmin):
    staff = UserFactory(is_staff=True)
    staff.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_ticket", "change_ticket"])
    )
    client = Client()
    client.force_login(staff)
    ticket = TicketFactory()

    messages = run_action(client, Ticket, "assign_to_me", [ticket])

    assert messages == [f"{staff} has no ticket access and cannot own tickets."]
    ticket.refresh_from_db()
    assert ticket.owner is None and ticket.version == 1
    assert not AssignmentEvent.objects.exists()


def test_close_and_reopen_go_through_the_services(site):
    open_ticket, closed = TicketFactory(), TicketFactory(status=Ticket.Status.CLOSED)

    assert run_action(site, Ticket, "close_tickets", [open_ticket, closed]) == [
        "Closed: 1 ticket(s)."
    ]
    open_ticket.refresh_from_db()
    assert open_ticket.status == Ticket.Status.CLOSED and open_ticket.closed_at
    assert open_ticket.version == 2  # the service's version bump: a raw save has none

    assert run_action(site, Ticket, "reopen_tickets", [open_ticket]) == ["Reopened: 1 ticket(s)."]
    open_ticket.refresh_from_db()
    assert open_ticket.status == Ticket.Status.WAITING_ON_US and open_ticket.closed_at is None
    assert open_ticket.version == 3


def test_reopen_leaves_open_tickets_alone(site):
    ticket = TicketFactory(status=Ticket.Status.NEW)
    assert run_action(site, Ticket, "reopen_tickets", [ticket]) == ["Reopened: 0 ticket(s)."]
    ticket.refresh_from_db()
    assert (ticket.status, ticket.version) == (Ticket.Status.NEW, 1)


def test_set_priority_goes_through_the_service(site):
    ticket = TicketFactory(priority=Ticket.Priority.NORMAL)
    assert run_action(site, Ticket, "set_priority_urgent", [ticket]) == [
        "Priority urgent: 1 ticket(s) changed."
    ]
    ticket.refresh_from_db()
    assert (ticket.priority, ticket.version) == (Ticket.Priority.URGENT, 2)


# ---------------------------------------------------------------------------------------
# Tokens and seats: their services
# ---------------------------------------------------------------------------------------


def test_a_new_token_is_made_by_the_service_and_shown_once(site, agent):
    response = site.post(add_url(ApiToken), {"user": agent.pk, "name": "CI"}, follow=True)

    [token] = ApiToken.objects.all()
    shown = [str(m) for m in response.context["messages"] if "not be shown again" in str(m)]
    [message] = shown
    raw = message.rsplit(" ", 1)[1]
    assert (token.user, token.name, token.prefix) == (agent, "CI", raw[:8])
    assert user_for_token(raw) == agent
    assert raw not in site.get(changelist(ApiToken)).content.decode()
    assert site.post(change_url(token), {"user": agent.pk, "name": "x"}).status_code == 403


def test_a_seat_is_given_and_removed_by_the_services(site, superadmin):
    AccountSettings.objects.update_or_create(pk=1, defaults={"purchased_seats": 1})
    user, second = UserFactory(), UserFactory()

    site.post(add_url(Seat), {"user": user.pk})
    seat = Seat.objects.get(user=user)
    assert seat.given_by == superadmin
    refused = site.post(add_url(Seat), {"user": second.pk})
    assert "All 1 purchased seats are in use" in refused.content.decode()
    assert site.post(change_url(seat), {"user": second.pk}).status_code == 403

    site.post(reverse("admin:helpdesk_seat_delete", args=[seat.pk]), {"post": "yes"})
    assert not Seat.objects.exists()


def test_a_users_status_changes_by_the_actions_only(site, agent):
    page = site.get(change_url(agent)).content.decode()
    assert 'name="status"' not in page and 'name="time_zone"' in page
    run_action(site, User, "set_away", [agent])
    agent.refresh_from_db()
    assert agent.status == User.Status.AWAY


# ---------------------------------------------------------------------------------------
# Channels: channels_cfg's services, with the audit entry
# ---------------------------------------------------------------------------------------


def test_a_channel_is_connected_and_changed_through_the_channels_cfg_services(site, superadmin):
    data = {
        "kind": Channel.Kind.WHATSAPP,
        "name": "WhatsApp",
        "address": "+47 1",
        "is_active": "on",
    }
    assert site.post(add_url(Channel), data).status_code == 302
    channel = Channel.objects.get()
    assert ChannelAutomation.objects.filter(channel=channel).exists()
    assert site.post(change_url(channel), {**data, "kind": "form", "name": "WA"}).status_code == 302

    channel.refresh_from_db()
    assert (channel.kind, channel.name) == (Channel.Kind.WHATSAPP, "WA")  # the kind is fixed
    sections = channel.settings_changes.order_by("id").values_list("section", "actor")
    Section = ChannelSettingsChange.Section
    assert list(sections) == [(Section.CREATED, superadmin.pk), (Section.DETAILS, superadmin.pk)]


# ---------------------------------------------------------------------------------------
# What only a service or the router writes is read-only
# ---------------------------------------------------------------------------------------


def automation():
    return ChannelAutomationFactory(channel=ChannelFactory())


def round_robin_turn():
    return RoundRobinTurn.objects.create(
        channel=ChannelFactory(), user=UserFactory(), last_assigned_at=timezone.now()
    )


def waiting_ticket():
    return WaitingTicket.objects.create(ticket=TicketFactory())


@pytest.mark.parametrize("make", [automation, round_robin_turn, waiting_ticket])
def test_rows_written_by_services_or_the_router_are_read_only(site, make):
    obj = make()
    model = type(obj)
    assert site.get(change_url(obj)).status_code == 200  # viewable
    assert site.post(change_url(obj), {}).status_code == 403
    assert site.get(add_url(model)).status_code == 403
    assert model.objects.count() == 1
