"""The real thing: a form posted to the page is stored, published to Redis, processed by a
real Celery worker and routed — once, though the browser sent it twice."""

import pytest

from channels_cfg.models import AssignMode, ChannelAutomation
from helpdesk.models import InboundEvent, Ticket
from tests.support.services import wait_until


@pytest.mark.celery_worker
def test_a_posted_form_becomes_a_routed_ticket_through_a_real_worker(
    celery_worker, visitor, form_channel, agent
):
    automation = ChannelAutomation.objects.get(channel=form_channel)
    automation.assign_mode = AssignMode.SPECIFIC
    automation.save()
    automation.users.set([agent])

    visitor.open()
    assert visitor.send(token=visitor.token).status_code == 303
    assert visitor.send(token=visitor.token).status_code == 303  # a double-click

    ticket = wait_until(
        lambda: Ticket.objects.filter(routing_state=Ticket.RoutingState.DONE).first(),
        timeout=60,
    )
    celery_worker.wait_idle()  # anything done twice would have been done by now
    assert Ticket.objects.count() == 1
    assert ticket.owner == agent
    assert ticket.contact.email == "kim@customer.example"
    event = InboundEvent.objects.get()
    assert (event.status, event.ticket_id, event.attempts) == ("processed", ticket.pk, 1)
