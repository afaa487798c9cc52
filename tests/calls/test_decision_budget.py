"""The incoming-call webhook answers within Twilio's time budget even when the routing
decision cannot get a lock: on PostgreSQL the decision waits at most
CALLS_DECISION_LOCK_TIMEOUT_MS, then the caller gets voicemail and the ticket — created,
still pending — is routed afterwards by `route_ticket_task` (published after commit).

Real locks: another connection, in a thread, holds the lock the decision must take — the
routing lock of the calls ticket type (`routing.reads.lock_decisions`)."""

import threading

import pytest
import time_machine
from django.db import connection, transaction

from calls.models import Call
from helpdesk.models import InboundEvent, Ticket, TicketType
from routing.reads import lock_decisions
from tests.calls.conftest import ADA_PHONE, OPEN, call_sid

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

HOLD = 20.0  # seconds the other connection holds the lock at most (without the budget)


class LockHolder:
    """Holds the routing lock of a ticket type from its own connection until released: a
    decision of that type in progress elsewhere."""

    def __init__(self, ticket_type: str) -> None:
        self.ticket_type = ticket_type
        self.holding, self.release = threading.Event(), threading.Event()
        self.released_by_itself = False
        self.thread = threading.Thread(target=self._hold)

    def _hold(self) -> None:
        try:
            with transaction.atomic():
                lock_decisions(self.ticket_type)
                self.holding.set()
                self.released_by_itself = not self.release.wait(timeout=HOLD)
        finally:
            connection.close()

    def __enter__(self):
        self.thread.start()
        assert self.holding.wait(timeout=10), "the lock was not taken"
        return self

    def __exit__(self, *exc):
        self.release.set()
        self.thread.join(timeout=HOLD + 10)


@time_machine.travel(OPEN, tick=True)
def test_a_decision_waiting_for_a_lock_answers_voicemail_and_routing_follows(
    twilio, ada, settings, published_tasks
):
    settings.CALLS_DECISION_LOCK_TIMEOUT_MS = 300
    sid = call_sid()

    with LockHolder(TicketType.CALLS) as holder:
        answer = twilio.incoming(sid)
        answered_while_held = holder.holding.is_set() and not holder.release.is_set()

    assert answered_while_held and not holder.released_by_itself
    xml = answer.xml
    assert xml.find("Dial") is None and xml.find("Record") is not None  # voicemail
    call = Call.objects.get(call_sid=sid)
    assert call.answer == Call.Answer.BUSY
    ticket = Ticket.objects.get()
    assert (ticket.owner, ticket.routing_state) == (None, Ticket.RoutingState.PENDING)
    assert InboundEvent.objects.get().status == "processed"
    assert "routing.tasks.route_ticket_task" in published_tasks.names

    published_tasks.run()

    ticket.refresh_from_db()
    assert ticket.owner == ada  # routed afterwards: nothing lost


@time_machine.travel(OPEN, tick=True)
def test_without_contention_the_decision_rings_the_agent_as_before(twilio, ada, settings):
    settings.CALLS_DECISION_LOCK_TIMEOUT_MS = 300

    xml = twilio.incoming(call_sid()).xml

    assert [n.text for n in xml.find("Dial").findall("Number")] == [ADA_PHONE]
    assert Ticket.objects.get().owner == ada
    assert Call.objects.get().answer == Call.Answer.DIAL
