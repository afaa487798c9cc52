"""Celery task of calls: thin. The webhooks process their events in the request (a caller
waits for the answer); this task processes an event the request left RECEIVED (its web
process died), published by the intake sweep through `settings.INTAKE_TASKS["call"]`."""

from celery import shared_task
from django.db import DatabaseError


@shared_task(bind=True, acks_late=True, autoretry_for=(DatabaseError,), max_retries=5)
def process_call_task(self, event_id: int) -> str | None:
    """Process one stored call webhook (idempotent: a settled or claimed event is skipped)."""
    from calls.intake import handle_call_event
    from helpdesk.services.intake import process_inbound

    event = process_inbound(event_id, handle_call_event)
    return event.status if event else None
