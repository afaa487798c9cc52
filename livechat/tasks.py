"""Celery tasks of live chat: thin, they call one function. `process_chat_task` processes one
stored chat message (settings.INTAKE_TASKS["chat"]); `send_chat_webhook_task` POSTs one
custom chat reply, claimed once; `sweep_chat_webhooks_task` (beat) publishes again what
nobody sent."""

from celery import shared_task
from django.db import DatabaseError

from helpdesk import outbox
from helpdesk.services.intake import process_inbound
from livechat import intake, webhooks


@shared_task(bind=True, acks_late=True, autoretry_for=(DatabaseError,), max_retries=5)
def process_chat_task(self, event_id: int) -> str | None:
    """Process one stored chat message (idempotent: a settled or claimed event is skipped)."""
    event = process_inbound(event_id, intake.handle_chat)
    return event.status if event else None


@shared_task(name=webhooks.SEND_TASK, **outbox.SEND_TASK_OPTIONS)
def send_chat_webhook_task(self, outbound_id: int) -> str:
    """POST one reply, once; a temporary failure is tried again after its backoff (the row
    is queued with that `due_at`, so the sweep sends it should this retry be lost)."""
    return outbox.send_or_retry(self, webhooks.send, outbound_id)


@shared_task(**outbox.SWEEP_TASK_OPTIONS)
def sweep_chat_webhooks_task(self) -> int:
    """Publish again the webhook replies nobody sent (broker down, worker killed)."""
    return outbox.ring_all(send_chat_webhook_task, webhooks.stale_outbound_ids())
