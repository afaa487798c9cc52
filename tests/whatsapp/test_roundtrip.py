"""Issue 12, the real thing: PostgreSQL, Redis and a real Celery worker, with the local Graph
stand-in where Meta would be. A signed delivery (sent twice) becomes one routed Messages
ticket; the agent's Send on the ticket page leaves once through the worker, recorded by the
stand-in with the right body and headers; Meta's delivered and read reports, arriving out
of order, leave the message read."""

import pytest
from django.test import Client
from django.urls import reverse

from helpdesk.models import InboundEvent, OutboundMessage, Ticket
from tests.factories import ChannelAutomationFactory
from tests.support.services import wait_until
from tests.whatsapp.conftest import (
    ACCESS_TOKEN,
    PHONE_NUMBER_ID,
    delivery,
    post_delivery,
    status_of,
    text_message,
)
from whatsapp.models import WhatsAppOutbound


@pytest.mark.celery_worker
def test_a_whatsapp_conversation_through_a_real_worker(celery_worker, graph, wa_channel, agent):
    ChannelAutomationFactory(channel=wa_channel, assign_mode="specific", users=[agent])
    first = delivery(messages=[text_message("wamid.IN1", "My parcel never came")])
    assert post_delivery(wa_channel, first).status_code == 200
    assert post_delivery(wa_channel, first).json() == {"stored": 0, "duplicates": 1}

    ticket = wait_until(
        lambda: Ticket.objects.filter(channel=wa_channel, owner__isnull=False).first(), timeout=60
    )
    assert ticket.owner == agent  # routed by the channel's rule
    assert (ticket.subject, ticket.ticket_type) == ("My parcel never came", "messages")
    assert ticket.contact.whatsapp_id == "4790000001"

    client = Client()
    client.force_login(agent)
    response = client.post(
        reverse("ticket-reply", args=[ticket.pk]),
        {"body": "It is on its way again.", "action": "send", "version": ticket.version},
    )
    assert response.status_code == 302
    row = wait_until(
        lambda: OutboundMessage.objects.filter(status=OutboundMessage.Status.SENT).first(),
        timeout=60,
    )
    assert row.provider_id == "wamid.OUT1"

    statuses = [
        status_of("wamid.OUT1", "read", ts=1717490300),
        status_of("wamid.OUT1", "delivered", ts=1717490200),
    ]
    assert post_delivery(wa_channel, delivery(statuses=statuses)).json()["stored"] == 2
    wait_until(
        lambda: not InboundEvent.objects.filter(status__in=["received", "failed"]).exists(),
        timeout=60,
    )
    celery_worker.wait_idle()  # anything sent twice would have been sent by now

    (posted,) = graph.messages_posted()
    assert posted.path == f"/v21.0/{PHONE_NUMBER_ID}/messages"
    assert posted.headers["Authorization"] == f"Bearer {ACCESS_TOKEN}"
    assert posted.json == {
        "messaging_product": "whatsapp",
        "to": "4790000001",
        "type": "text",
        "text": {"body": "It is on its way again."},
    }
    state = WhatsAppOutbound.objects.get()
    assert state.state == "read" and state.delivered_at is not None
    assert Ticket.objects.count() == 1
    assert set(InboundEvent.objects.values_list("status", flat=True)) == {"processed"}
