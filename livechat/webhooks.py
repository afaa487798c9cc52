"""Replies of a custom chat: an agent's reply is POSTed, signed, to the channel's webhook —
exactly once as far as we can tell, retried until the receiver takes it.

The intent is an `OutboundMessage` row (the core's outbox) written in the reply's own
transaction (`queue_reply`, called by `livechat.receivers` for `message_added`) and
published after commit. `send` claims the row (QUEUED → SENDING, a conditional update that
only takes rows of webhook channels), POSTs the JSON and settles it:

- 2xx: SENT.
- 4xx but 408 and 429: FAILED with the receiver's answer (it refused this message; sending
  it again would not help) — the admin's Retry queues it again.
- anything else (5xx, 408, 429, a redirect, no answer, a timeout): QUEUED again, due after
  the shared backoff (`helpdesk.jobs.backoff_seconds`, base LIVECHAT_WEBHOOK_RETRY_BASE_SECONDS),
  and the task retries then; after MAX_ATTEMPTS tries, FAILED.

`stale_outbound_ids` (the beat sweep) publishes again queued rows overdue by
JOBS_GRACE_SECONDS (the broker lost the message) and queues again sends interrupted for
longer than LIVECHAT_WEBHOOK_LEASE_SECONDS (the worker died). An interrupted send may have
reached the receiver already: every request of one reply carries the same `id` (our
message's id), so the receiver recognises a second copy.

The request: `POST <webhook_url>`, `Content-Type: application/json`, the raw body signed
with the channel's webhook secret — `X-Helpdesk-Signature: sha256=<hex HMAC-SHA256 of the
raw body>` — and `X-Helpdesk-Timestamp: <Unix seconds>`, the same value as the body's
`timestamp`, which the signature covers: a receiver refuses a request whose timestamp is
more than a few minutes old (a replay) and one whose `id` it has already taken.
"""

import hashlib
import hmac
import json
import logging
import time
from datetime import timedelta

import httpx
from celery import current_app
from django.conf import settings
from django.utils import timezone

from helpdesk import outbox
from helpdesk.jobs import backoff_seconds, ring_on_commit
from helpdesk.models import Message, OutboundMessage, Ticket
from helpdesk.outbox import TemporaryFailure
from livechat.models import WEBHOOK, ChatSettings, Conversation, webhook_kinds

log = logging.getLogger(__name__)

Status = OutboundMessage.Status
SEND_TASK = "livechat.tasks.send_chat_webhook_task"
MAX_ATTEMPTS = outbox.MAX_ATTEMPTS  # the first try and five retries, as email and WhatsApp
SIGNATURE_HEADER = "X-Helpdesk-Signature"
TIMESTAMP_HEADER = "X-Helpdesk-Timestamp"
RETRYABLE_4XX = {408, 429}
MAX_ANSWER = 500


class Outcome:
    SENT = "sent"
    SKIPPED = "skipped"  # claimed by someone else, already sent, or not a webhook row
    FAILED = "failed"


def sign(secret: str, body: bytes) -> str:
    """The `X-Helpdesk-Signature` value of `body`."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def signature_matches(secret: str, body: bytes, header: str) -> bool:
    """What a receiver checks (constant-time), here for the tests and the documentation."""
    return bool(secret) and hmac.compare_digest(sign(secret, body), header or "")


def sends_by_webhook(ticket: Ticket) -> bool:
    channel = ticket.channel
    return channel is not None and channel.policy.outbound == WEBHOOK


# --- the intent --------------------------------------------------------------------------


def queue_reply(*, message: Message, ticket: Ticket) -> OutboundMessage | None:
    """Put an agent's reply on a custom chat ticket in the outbox, in the caller's
    transaction, and ring the sender after commit. A second call adds nothing."""
    if message.direction != Message.Direction.OUTBOUND or not sends_by_webhook(ticket):
        return None
    outbound, created = OutboundMessage.objects.get_or_create(
        message=message, defaults={"channel_id": ticket.channel_id}
    )
    if created:
        ring_on_commit(current_app.tasks[SEND_TASK], outbound_id=outbound.pk)
    return outbound


# --- sending -----------------------------------------------------------------------------


def request_body(outbound: OutboundMessage, conversation_id: str, now: int) -> bytes:
    message = outbound.message
    author = message.author
    body = {
        "type": "message",
        "id": str(message.pk),
        "conversation_id": conversation_id,
        "ticket_id": message.ticket_id,
        "text": message.body,
        "author": {"name": (author.first_name or author.get_username()) if author else ""},
        "created_at": message.created_at.isoformat(),
        "timestamp": now,
        "attempt": outbound.attempts,
    }
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def _answer(response: httpx.Response) -> str:
    text = " ".join(response.text[:MAX_ANSWER].split())
    reason = response.reason_phrase or ""
    return f"The webhook answered {response.status_code} {reason}".rstrip() + (
        f": {text}" if text else "."
    )


def _settings(outbound: OutboundMessage) -> ChatSettings | None:
    try:
        return outbound.channel.chat_settings
    except ChatSettings.DoesNotExist:
        return None


def send(*, outbound_id: int) -> str:
    """POST one queued reply, once. Raises `TemporaryFailure` when it is queued again."""
    if not outbox.claim(outbound_id, webhook_kinds()):
        return Outcome.SKIPPED
    outbound = OutboundMessage.objects.select_related(
        "message__author", "channel__chat_settings"
    ).get(pk=outbound_id)
    chat = _settings(outbound)
    if chat is None or not chat.webhook_url or not chat.webhook_secret:
        outbox.finish(
            outbound_id,
            Status.FAILED,
            "The channel has no webhook address and secret: set them in its chat settings.",
        )
        return Outcome.FAILED
    conversation_id = (
        Conversation.objects.filter(ticket_id=outbound.message.ticket_id)
        .values_list("key", flat=True)
        .first()
    )
    if conversation_id is None:
        outbox.finish(outbound_id, Status.FAILED, "This ticket did not come from a custom chat.")
        return Outcome.FAILED
    now = int(time.time())
    body = request_body(outbound, conversation_id, now)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Helpdesk-Webhook/1",
        TIMESTAMP_HEADER: str(now),
        SIGNATURE_HEADER: sign(chat.webhook_secret, body),
    }
    try:
        with httpx.Client(
            timeout=settings.LIVECHAT_WEBHOOK_TIMEOUT_SECONDS,
            follow_redirects=False,
            trust_env=False,
        ) as client:
            response = client.post(chat.webhook_url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        return _later(outbound, f"No answer from the webhook: {type(exc).__name__}: {exc}")
    except Exception as exc:
        outbox.finish(outbound_id, Status.FAILED, f"{type(exc).__name__}: {exc}")
        raise
    if 200 <= response.status_code < 300:
        outbox.finish(outbound_id, Status.SENT, "")
        return Outcome.SENT
    if 400 <= response.status_code < 500 and response.status_code not in RETRYABLE_4XX:
        error = _answer(response)
        outbox.finish(outbound_id, Status.FAILED, error)
        log.warning("Chat reply %s refused by its webhook: %s", outbound_id, error)
        return Outcome.FAILED
    return _later(outbound, _answer(response))


def _later(outbound: OutboundMessage, error: str) -> str:
    if outbound.attempts >= MAX_ATTEMPTS:
        outbox.finish(
            outbound.pk, Status.FAILED, f"Gave up after {outbound.attempts} attempts: {error}"
        )
        return Outcome.FAILED
    retry_in = backoff_seconds(outbound.attempts, base=settings.LIVECHAT_WEBHOOK_RETRY_BASE_SECONDS)
    due_at = timezone.now() + timedelta(seconds=retry_in)
    outbox.finish(outbound.pk, Status.QUEUED, error, due_at=due_at)
    raise TemporaryFailure(error, retry_in)


# --- retry and sweep ---------------------------------------------------------------------


def retry_outbound(*, ids, ticket: Ticket | None = None) -> list[int]:
    """FAILED → QUEUED, due now, sent after commit (the thread's and the admin's Retry).
    With `ticket`, only that ticket's replies. Returns the ids."""
    return outbox.retry(ids, kinds=webhook_kinds(), task_name=SEND_TASK, ticket=ticket)


def stale_outbound_ids(*, now=None) -> list[int]:
    """The webhook replies a sweep publishes again (`helpdesk.outbox.stale_ids`): queued
    ones overdue by JOBS_GRACE_SECONDS and sends interrupted for longer than
    LIVECHAT_WEBHOOK_LEASE_SECONDS, queued again first."""
    return outbox.stale_ids(
        kinds=webhook_kinds(), lease_seconds=settings.LIVECHAT_WEBHOOK_LEASE_SECONDS, now=now
    )
