"""Services lock what they change, so concurrent callers never both win (PostgreSQL only:
SQLite serialises writers and cannot show the race)."""

import pytest
from django.core.exceptions import ValidationError

from helpdesk.models import AssignmentEvent, Seat, Ticket
from helpdesk.services import TicketChanged, assign, give_seat, reply
from tests.factories import AccountSettingsFactory, TicketFactory, UserFactory
from tests.support.concurrency import oks_and_errors
from tests.support.concurrency import run_together as concurrently

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def run_together(*calls):
    """Run the calls in threads released at the same instant; return (ok, errors)."""
    return oks_and_errors(concurrently(*calls))


@pytest.mark.parametrize("attempt", range(3))
def test_r7_two_admins_cannot_both_take_the_last_seat(attempt):
    AccountSettingsFactory(purchased_seats=Seat.objects.count() + 1)
    first, second = UserFactory(), UserFactory()

    ok, errors = run_together(lambda: give_seat(user=first), lambda: give_seat(user=second))

    assert len(ok) == 1
    [error] = errors
    assert isinstance(error, ValidationError)
    assert error.code == "seat_limit"
    assert Seat.objects.filter(user__in=[first, second]).count() == 1


@pytest.mark.parametrize("attempt", range(3))
def test_r4_two_agents_replying_at_once_make_one_owner(attempt, agent, other_agent):
    ticket = TicketFactory()

    ok, errors = run_together(
        lambda: reply(ticket=Ticket.objects.get(pk=ticket.pk), author=agent, body="Mine"),
        lambda: reply(ticket=Ticket.objects.get(pk=ticket.pk), author=other_agent, body="No, mine"),
    )

    assert errors == []
    assert len(ok) == 2
    stored = Ticket.objects.get(pk=ticket.pk)
    [event] = AssignmentEvent.objects.filter(ticket=ticket)
    assert event.cause == "reply"
    assert stored.owner == event.to_owner
    assert stored.owner in (agent, other_agent)
    assert stored.messages.filter(direction="outbound").count() == 2


def test_r5_two_agents_assigning_the_same_version_one_is_told(agent, other_agent):
    ticket = TicketFactory()
    seen = ticket.version

    def take(user):
        return lambda: assign(
            ticket=Ticket.objects.get(pk=ticket.pk),
            owner=user,
            actor=user,
            cause="manual",
            expected_version=seen,
        )

    ok, errors = run_together(take(agent), take(other_agent))

    assert len(ok) == 1
    [error] = errors
    assert isinstance(error, TicketChanged)
    assert AssignmentEvent.objects.filter(ticket=ticket).count() == 1
    assert Ticket.objects.get(pk=ticket.pk).owner == ok[0].to_owner
