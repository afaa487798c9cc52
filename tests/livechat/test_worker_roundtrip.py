"""The happy path on the production shape: the widget's POST is stored raw, a real Celery
worker (Redis) makes it a Messages ticket that routing gives to the chatflow's agent (R18),
the visitor's long poll sees it; the agent's reply reaches the visitor and, on a custom
chat, the channel's webhook (a local recording server), signed."""

import json

import pytest
from django.test import Client
from django.urls import reverse

from helpdesk.models import InboundEvent, OutboundMessage, Ticket
from livechat import webhooks
from tests.factories import AgentFactory
from tests.livechat.conftest import Widget, chatflow, custom_chat
from tests.support.services import wait_until

pytestmark = pytest.mark.celery_worker


def test_r18_a_widget_message_becomes_a_routed_ticket_through_a_real_worker(celery_worker):
    agent = AgentFactory(first_name="Ada")
    widget = Widget(chatflow(users=[agent], on=True))
    assert widget.start().status_code == 200
    response = widget.post("My beans arrived wet", message_id="wet-1")
    assert response.status_code == 202
    retried = widget.post("My beans arrived wet", message_id="wet-1")  # the network hiccuped
    assert retried.json()["duplicate"] is True

    ticket = wait_until(
        lambda: Ticket.objects.filter(owner=agent, routing_state="done").first(), timeout=60
    )
    celery_worker.wait_idle()
    assert Ticket.objects.count() == 1 and ticket.ticket_type == "messages"
    assert ticket.messages.count() == 1
    event = InboundEvent.objects.get()
    assert event.status == InboundEvent.Status.PROCESSED and event.ticket_id == ticket.pk
    assert ticket.assignments.get().cause == "routing"

    seen = widget.fetch(wait=True).json()["messages"]
    assert [(m["from"], m["client_id"]) for m in seen] == [("visitor", "wet-1")]
    agent_client = Client()
    agent_client.force_login(agent)
    reply = agent_client.post(
        reverse("ticket-reply", args=[ticket.pk]),
        {"body": "Sorry! A new bag is on its way.", "action": "send", "version": ticket.version},
    )
    assert reply.status_code == 302
    answer = widget.fetch(after=seen[-1]["id"], wait=True).json()
    assert [(m["from"], m["text"]) for m in answer["messages"]] == [
        ("agent", "Sorry! A new bag is on its way.")
    ]


def test_a_custom_chat_reply_reaches_the_webhook_through_a_real_worker(
    celery_worker, webhook_server
):
    agent = AgentFactory(first_name="Ada")
    chat = custom_chat(webhook_url=webhook_server.url, users=[agent])
    api = Client()
    response = api.post(
        reverse("livechat:api-messages", args=[chat.channel_id]),
        json.dumps({"conversation_id": "c-77", "message_id": "1", "text": "Refund please"}),
        content_type="application/json",
        headers={"Authorization": f"Bearer {chat.raw_token}"},
    )
    assert response.status_code == 202
    ticket = wait_until(lambda: Ticket.objects.filter(owner=agent).first(), timeout=60)
    agent_client = Client()
    agent_client.force_login(agent)
    agent_client.post(
        reverse("ticket-reply", args=[ticket.pk]),
        {"body": "Refunded.", "action": "send", "version": ticket.version},
    )
    (request,) = webhook_server.wait_for(1, timeout=60)
    assert webhooks.signature_matches(
        chat.webhook_secret, request.body, request.headers["X-Helpdesk-Signature"]
    )
    assert json.loads(request.body)["conversation_id"] == "c-77"
    wait_until(lambda: OutboundMessage.objects.filter(status="sent").exists(), timeout=30)
    celery_worker.wait_idle()
    assert len(webhook_server.received) == 1
