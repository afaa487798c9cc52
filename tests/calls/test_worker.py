"""Issue 12 with a real Celery worker on Redis and PostgreSQL: a call webhook routes its
ticket in the request, and the `route_ticket_task` that `ticket_created` publishes finds
nothing left to do; an event the request left RECEIVED (its web process died) is processed
by the worker after the intake sweep publishes it."""

from datetime import timedelta

import pytest
from django.utils import timezone

from calls.models import Call
from helpdesk.models import InboundEvent, Ticket
from helpdesk.services.intake import store_inbound, sweep_received
from routing.models import RoutingDecision
from tests.calls.conftest import ADA_PHONE, CALLER, call_sid
from tests.support.services import wait_until

pytestmark = pytest.mark.celery_worker


@pytest.fixture
def always_open(calling_channel):
    calling_channel.automation.opening_hours.all().delete()  # the worker runs at real time


def test_the_webhook_routes_once_and_the_workers_routing_task_changes_nothing(
    celery_worker, twilio, ada, always_open
):
    xml = twilio.incoming(call_sid()).xml

    assert [n.text for n in xml.find("Dial").findall("Number")] == [ADA_PHONE]
    celery_worker.wait_idle()
    ticket = Ticket.objects.get()
    assert ticket.owner == ada
    assert RoutingDecision.objects.filter(ticket=ticket).count() == 1


def test_an_event_left_received_is_processed_by_the_worker_after_the_sweep(
    celery_worker, call_settings, calling_channel, ada, always_open
):
    sid = call_sid()
    event, created = store_inbound(
        channel=calling_channel,
        kind="call",
        source_id=sid,
        raw=b"",
        payload={"callback": "incoming", "form": {"CallSid": [sid], "From": [CALLER]}},
    )
    assert created
    InboundEvent.objects.filter(pk=event.pk).update(received_at=timezone.now() - timedelta(hours=1))

    assert sweep_received() == 1

    call = wait_until(lambda: Call.objects.filter(call_sid=sid).first(), timeout=60)
    assert call.answer == Call.Answer.DIAL
    assert call.dialled_number == ADA_PHONE
    assert Ticket.objects.get().owner == ada
    assert InboundEvent.objects.get(pk=event.pk).status == "processed"
