"""Celery tasks of WhatsApp: thin, they call one function. `process_whatsapp_task` processes
one stored event (settings.INTAKE_TASKS["whatsapp"]); `send_whatsapp_task` sends one reply,
claimed once; `sweep_whatsapp_outbound_task` (beat) publishes again what nobody sent."""

from celery import shared_task
from django.conf import settings
from django.db import DatabaseError

from helpdesk import outbox
from helpdesk.jobs import backoff_seconds
from whatsapp import inbound, outbound

# A status before its send committed, Meta's media server away: tries of one event.
INBOUND_RETRIES = 5


@shared_task(bind=True, acks_late=True, autoretry_for=(DatabaseError,), max_retries=INBOUND_RETRIES)
def process_whatsapp_task(self, event_id: int) -> str | None:
    """Process one stored message or status (idempotent: a settled event is skipped). A
    failure worth another try (`inbound.worth_retrying`) is tried again after a backoff."""
    event = inbound.process(event_id)  # media fetched first, outside the claim
    if (
        event is not None
        and inbound.worth_retrying(event)
        and self.request.retries < INBOUND_RETRIES
    ):
        base = settings.WHATSAPP_INBOUND_RETRY_BASE_SECONDS
        raise self.retry(countdown=backoff_seconds(self.request.retries + 1, base=base))
    return event.status if event else None


@shared_task(name=outbound.SEND_TASK, **outbox.SEND_TASK_OPTIONS)
def send_whatsapp_task(self, outbound_id: int) -> str:
    """Send one reply, once; a temporary failure is tried again after its backoff (the row
    is queued with that `due_at`, so the sweep sends it should this retry be lost)."""
    return outbox.send_or_retry(self, outbound.send, outbound_id)


@shared_task(**outbox.SWEEP_TASK_OPTIONS)
def sweep_whatsapp_outbound_task(self) -> int:
    """Publish again the WhatsApp replies nobody sent (broker down, worker killed)."""
    return outbox.ring_all(send_whatsapp_task, outbound.stale_outbound_ids())
