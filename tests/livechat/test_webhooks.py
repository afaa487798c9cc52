"""Custom chat replies leave through the channel's webhook: an outbox row written with the
reply, claimed once, signed (HMAC-SHA256 of the raw body, with a signed timestamp),
retried with the shared backoff after a 5xx, 408, 429 or no answer, failed with the
receiver's answer after any other 4xx. The receiver is a local HTTP server that records
what we sent."""

import json
import time
from datetime import timedelta

import pytest
from celery.exceptions import Retry
from django.utils import timezone

from helpdesk import services
from helpdesk.jobs import backoff_seconds
from helpdesk.models import OutboundMessage, Ticket
from livechat import webhooks
from livechat.intake import handle_chat, store_chat_message
from livechat.payloads import ChatInput
from livechat.tasks import send_chat_webhook_task, sweep_chat_webhooks_task
from tests.factories import ChannelFactory, TicketFactory
from tests.livechat.conftest import chatflow, custom_chat

pytestmark = pytest.mark.django_db

Status = OutboundMessage.Status


def chat_ticket(chat, conversation="conv-1"):
    from helpdesk.services.intake import process_inbound

    event, _ = store_chat_message(
        channel=chat.channel,
        conversation_key=conversation,
        message=ChatInput(message_id="in-1", text="Help me", conversation_id=conversation),
        raw=b"{}",
        headers={},
    )
    process_inbound(event.pk, handle_chat)
    return Ticket.objects.get(conversation__key=conversation)


def reply(ticket, agent, body="We are on it."):
    return services.reply(ticket=ticket, author=agent, body=body)


def test_a_reply_on_a_custom_chat_is_signed_and_posted_once(webhook_server, agent, published_tasks):
    chat = custom_chat(webhook_url=webhook_server.url)
    ticket = chat_ticket(chat)
    with published_tasks.after_commit() as ran:
        message = reply(ticket, agent)
    assert "livechat.tasks.send_chat_webhook_task" in ran
    (request,) = webhook_server.received
    assert webhooks.signature_matches(
        chat.webhook_secret, request.body, request.headers["X-Helpdesk-Signature"]
    )
    forged = webhooks.sign("another secret", request.body)
    assert forged != request.headers["X-Helpdesk-Signature"]
    body = json.loads(request.body)
    assert body["id"] == str(message.pk)
    assert body["conversation_id"] == "conv-1"
    assert body["text"] == "We are on it." and body["author"] == {"name": "Ada"}
    assert str(body["timestamp"]) == request.headers["X-Helpdesk-Timestamp"]
    assert abs(body["timestamp"] - time.time()) < 60
    row = OutboundMessage.objects.get()
    assert (row.status, row.attempts, row.last_error) == (Status.SENT, 1, "")
    assert webhooks.send(outbound_id=row.pk) == webhooks.Outcome.SKIPPED  # claimed once
    assert len(webhook_server.received) == 1


def test_a_500_is_retried_after_the_backoff_and_then_sent(webhook_server, agent, settings):
    webhook_server.answers = [(500, '{"error": "database down"}')]
    chat = custom_chat(webhook_url=webhook_server.url)
    ticket = chat_ticket(chat)
    reply(ticket, agent)
    row = OutboundMessage.objects.get()
    before = timezone.now()
    with pytest.raises(webhooks.TemporaryFailure) as failure:
        webhooks.send(outbound_id=row.pk)
    retry_in = backoff_seconds(1, base=settings.LIVECHAT_WEBHOOK_RETRY_BASE_SECONDS)
    assert failure.value.retry_in == retry_in
    row.refresh_from_db()
    assert row.status == Status.QUEUED and row.attempts == 1
    assert "500" in row.last_error and "database down" in row.last_error
    assert row.due_at >= before + timedelta(seconds=retry_in)
    assert webhooks.send(outbound_id=row.pk) == webhooks.Outcome.SENT
    row.refresh_from_db()
    assert (row.status, row.attempts) == (Status.SENT, 2)
    first, second = webhook_server.received
    assert json.loads(first.body)["id"] == json.loads(second.body)["id"]  # one reply, twice


@pytest.mark.parametrize("status", [408, 429, 503, 302])
def test_these_answers_mean_later(webhook_server, agent, status):
    webhook_server.answers = [(status, "{}")]
    chat = custom_chat(webhook_url=webhook_server.url)
    reply(chat_ticket(chat), agent)
    with pytest.raises(webhooks.TemporaryFailure):
        webhooks.send(outbound_id=OutboundMessage.objects.get().pk)
    assert OutboundMessage.objects.get().status == Status.QUEUED


@pytest.mark.parametrize("status", [400, 401, 404, 410, 422])
def test_a_4xx_fails_the_reply_with_the_answer(webhook_server, agent, status):
    webhook_server.answers = [(status, '{"error": "unknown conversation"}')]
    chat = custom_chat(webhook_url=webhook_server.url)
    reply(chat_ticket(chat), agent)
    row = OutboundMessage.objects.get()
    assert webhooks.send(outbound_id=row.pk) == webhooks.Outcome.FAILED
    row.refresh_from_db()
    assert row.status == Status.FAILED
    assert row.last_error.startswith(f"The webhook answered {status}")
    assert "unknown conversation" in row.last_error
    assert webhooks.retry_outbound(ids=[row.pk]) == [row.pk]
    row.refresh_from_db()
    assert (row.status, row.attempts) == (Status.QUEUED, 0)


def test_no_answer_is_retried_and_the_last_attempt_fails(agent, settings):
    chat = custom_chat(webhook_url="http://127.0.0.1:9/nothing-listens-here")
    reply(chat_ticket(chat), agent)
    row = OutboundMessage.objects.get()
    for attempt in range(1, webhooks.MAX_ATTEMPTS):
        with pytest.raises(webhooks.TemporaryFailure):
            webhooks.send(outbound_id=row.pk)
        row.refresh_from_db()
        assert (row.status, row.attempts) == (Status.QUEUED, attempt)
        assert row.last_error.startswith("No answer from the webhook")
    assert webhooks.send(outbound_id=row.pk) == webhooks.Outcome.FAILED
    row.refresh_from_db()
    assert row.status == Status.FAILED
    assert row.last_error.startswith(f"Gave up after {webhooks.MAX_ATTEMPTS} attempts")


def test_the_task_retries_with_the_backoff(webhook_server, agent, settings):
    webhook_server.answers = [(502, "bad gateway")]
    chat = custom_chat(webhook_url=webhook_server.url)
    reply(chat_ticket(chat), agent)
    row = OutboundMessage.objects.get()
    with pytest.raises(Retry) as retried:
        send_chat_webhook_task.apply(kwargs={"outbound_id": row.pk}, throw=True)
    assert retried.value.when == backoff_seconds(
        1, base=settings.LIVECHAT_WEBHOOK_RETRY_BASE_SECONDS
    )
    row.refresh_from_db()
    assert row.status == Status.QUEUED and row.attempts == 1


def test_without_webhook_address_the_reply_fails_with_what_to_do(agent):
    chat = custom_chat(webhook_url="")
    reply(chat_ticket(chat), agent)
    row = OutboundMessage.objects.get()
    assert webhooks.send(outbound_id=row.pk) == webhooks.Outcome.FAILED
    row.refresh_from_db()
    assert "set them in its chat settings" in row.last_error


def test_notes_and_widget_replies_write_no_webhook_row(agent, webhook_server):
    custom = custom_chat(webhook_url=webhook_server.url)
    services.add_note(ticket=chat_ticket(custom), author=agent, body="internal")
    widget = chatflow()
    reply(chat_ticket(widget, conversation="v" * 32), agent)
    assert OutboundMessage.objects.count() == 0


def test_the_claim_takes_only_webhook_rows(agent):
    email_ticket = TicketFactory(channel=ChannelFactory())
    message = services.reply(ticket=email_ticket, author=agent, body="by mail")
    row, _ = OutboundMessage.objects.get_or_create(
        message=message, defaults={"channel": email_ticket.channel}
    )
    assert webhooks.send(outbound_id=row.pk) == webhooks.Outcome.SKIPPED
    assert webhooks.stale_outbound_ids(now=timezone.now() + timedelta(hours=2)) == []


def test_the_sweep_publishes_lost_and_interrupted_sends(agent, settings, published_tasks):
    chat = custom_chat(webhook_url="http://127.0.0.1:9/")
    lost = reply(chat_ticket(chat, "c1"), agent)
    stuck = reply(chat_ticket(chat, "c2"), agent)
    now = timezone.now() + timedelta(seconds=settings.JOBS_GRACE_SECONDS + 5)
    OutboundMessage.objects.filter(message=stuck).update(
        status=Status.SENDING, claimed_at=now - timedelta(seconds=600)
    )
    ids = webhooks.stale_outbound_ids(now=now)
    assert set(ids) == set(
        OutboundMessage.objects.filter(message__in=[lost, stuck]).values_list("pk", flat=True)
    )
    stuck_row = OutboundMessage.objects.get(message=stuck)
    assert stuck_row.status == Status.QUEUED and "Interrupted" in stuck_row.last_error
    assert webhooks.stale_outbound_ids(now=now) == []  # due again only after another grace
    OutboundMessage.objects.update(due_at=timezone.now() - timedelta(hours=1))
    assert sweep_chat_webhooks_task.apply().get() == 2
    assert published_tasks.names == ["livechat.tasks.send_chat_webhook_task"] * 2
