"""Celery tasks of web forms: thin, each calls one function."""

from celery import shared_task
from django.db import DatabaseError


@shared_task(bind=True, acks_late=True, autoretry_for=(DatabaseError,), max_retries=5)
def process_form_task(self, event_id: int) -> str | None:
    """Turn one stored submission into a ticket (idempotent: a settled or claimed event is
    skipped). Named in settings.INTAKE_TASKS["form"], so the intake sweep publishes it
    again for a submission whose message was lost."""
    from helpdesk.services.intake import process_inbound
    from webforms.inbound import handle_form

    event = process_inbound(event_id, handle_form)
    return event.status if event else None


@shared_task(bind=True, acks_late=True, autoretry_for=(DatabaseError,), max_retries=3)
def prune_counts_task(self) -> int:
    """Beat (`webforms-prune-counts`): delete the rate limits' counters of past windows."""
    from webforms.throttle import prune

    return prune()
