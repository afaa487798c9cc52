"""Status and priority in one step (issue 13, triage polish): the ticket page's Properties
form saves both with one version check and one new version; a stale page changes nothing."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from helpdesk.models import Ticket
from helpdesk.services import TicketChanged, set_properties
from tests.factories import TicketFactory

pytestmark = pytest.mark.django_db


def test_both_change_in_one_version(agent):
    ticket = TicketFactory()
    changed = set_properties(
        ticket=ticket,
        status=Ticket.Status.WAITING_ON_CONTACT,
        priority=Ticket.Priority.URGENT,
        actor=agent,
        expected_version=1,
    )
    fresh = Ticket.objects.get(pk=ticket.pk)
    assert sorted(changed) == ["priority", "status"]
    assert (fresh.status, fresh.priority, fresh.version) == (
        Ticket.Status.WAITING_ON_CONTACT,
        Ticket.Priority.URGENT,
        2,
    )


def test_closing_sets_closed_at_and_nothing_new_is_no_new_version(agent):
    ticket = TicketFactory()
    set_properties(
        ticket=ticket, status="closed", priority=ticket.priority, actor=agent, expected_version=1
    )
    fresh = Ticket.objects.get(pk=ticket.pk)
    assert fresh.closed_at is not None
    assert (
        set_properties(
            ticket=fresh, status="closed", priority=fresh.priority, actor=agent, expected_version=2
        )
        == []
    )
    assert Ticket.objects.get(pk=ticket.pk).version == 2


def test_a_stale_version_changes_nothing(agent):
    ticket = TicketFactory()
    with pytest.raises(TicketChanged):
        set_properties(ticket=ticket, status="closed", priority=4, actor=agent, expected_version=7)
    fresh = Ticket.objects.get(pk=ticket.pk)
    assert (fresh.status, fresh.priority, fresh.version) == (Ticket.Status.NEW, 2, 1)


def test_unknown_values_are_refused_before_anything_is_written(agent):
    ticket = TicketFactory()
    with pytest.raises(ValidationError) as refused:
        set_properties(ticket=ticket, status="deleted", priority=99, actor=agent)
    assert set(refused.value.message_dict) == {"status", "priority"}
    assert Ticket.objects.get(pk=ticket.pk).version == 1


def test_the_page_saves_both_in_one_post(client, agent):
    client.force_login(agent)
    ticket = TicketFactory()
    page = client.get(reverse("ticket", args=[ticket.pk]))
    assert reverse("ticket-properties", args=[ticket.pk]) in page.content.decode()
    answer = client.post(
        reverse("ticket-properties", args=[ticket.pk]),
        {"status": "waiting_on_us", "priority": 3, "version": 1},
        follow=True,
    )
    assert answer.status_code == 200
    assert "Saved: Waiting on us, High priority." in answer.content.decode()
    fresh = Ticket.objects.get(pk=ticket.pk)
    assert (fresh.status, fresh.priority, fresh.version) == ("waiting_on_us", 3, 2)


def test_the_page_answers_a_stale_form_with_409(client, agent):
    client.force_login(agent)
    ticket = TicketFactory()
    set_properties(ticket=ticket, status="new", priority=4, actor=agent)
    answer = client.post(
        reverse("ticket-properties", args=[ticket.pk]),
        {"status": "closed", "priority": 1, "version": 1},
    )
    assert answer.status_code == 409
    fresh = Ticket.objects.get(pk=ticket.pk)
    assert (fresh.status, fresh.priority) == ("new", 4)


def test_garbage_is_a_message_not_a_500(client, agent):
    client.force_login(agent)
    ticket = TicketFactory()
    answer = client.post(
        reverse("ticket-properties", args=[ticket.pk]), {"status": "x", "priority": "y"}
    )
    assert answer.status_code == 302
    assert Ticket.objects.get(pk=ticket.pk).version == 1
