"""Celery tasks of email: thin, they call one function. Inbound first (process a stored
mail, poll the IMAP mailboxes); the outbound half's tasks follow at the end."""

from celery import shared_task
from django.db import DatabaseError


@shared_task(bind=True, acks_late=True, autoretry_for=(DatabaseError,), max_retries=5)
def process_email_task(self, event_id: int) -> str | None:
    """Process one stored mail (idempotent: a settled or claimed event is skipped)."""
    from helpdesk.services.intake import process_inbound
    from mailroom.inbound import handle_email

    event = process_inbound(event_id, handle_email)
    return event.status if event else None


@shared_task(bind=True, acks_late=True, autoretry_for=(DatabaseError,), max_retries=3)
def poll_mailboxes_task(self) -> int:
    """Beat, every minute: one `poll_mailbox_task` per active channel with IMAP settings."""
    from helpdesk.jobs import ring
    from mailroom.imap import channels_to_poll

    channel_ids = channels_to_poll()
    for channel_id in channel_ids:
        ring(poll_mailbox_task, channel_id=channel_id)
    return len(channel_ids)


@shared_task(bind=True, acks_late=True, max_retries=0)
def poll_mailbox_task(self, channel_id: int) -> int:
    """Fetch a channel's new mail and store it; each stored mail is then processed by its
    own `process_email_task`. A connection error is logged; the next poll retries."""
    from mailroom.imap import poll_channel

    return poll_channel(channel_id=channel_id)


# --- outbound: replies by email (mailroom.outbound) ------------------------------------
# `send_outbound_task` sends one reply, claimed once, so a duplicate or redelivered message
# sends nothing twice; `sweep_outbound_task` (beat) publishes again the replies the broker
# lost and the sends a dead worker interrupted. Imports go one way: receivers → tasks →
# outbound (which publishes `send_outbound_task` by its name, `outbound.SEND_TASK`).

from helpdesk import outbox  # noqa: E402
from mailroom import outbound  # noqa: E402


@shared_task(name=outbound.SEND_TASK, **outbox.SEND_TASK_OPTIONS)
def send_outbound_task(self, outbound_id: int) -> str:
    """Send one reply, once; a temporary SMTP failure is tried again after its backoff (the
    row is queued with that `due_at`, so the sweep sends it if this retry is lost)."""
    return outbox.send_or_retry(self, outbound.send, outbound_id)


@shared_task(**outbox.SWEEP_TASK_OPTIONS)
def sweep_outbound_task(self) -> int:
    """Publish again the replies nobody sent (broker down, worker killed, lost retry)."""
    return outbox.ring_all(send_outbound_task, outbound.stale_outbound_ids())
