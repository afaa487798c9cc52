"""Celery tasks of the core: thin, they call one service."""

from celery import shared_task
from django.db import DatabaseError


@shared_task(bind=True, acks_late=True, autoretry_for=(DatabaseError,), max_retries=3)
def sweep_jobs_task(self) -> int:
    """Publish again the jobs whose message was lost (broker down, worker killed, Redis
    restarted)."""
    from helpdesk.jobs import sweep_overdue

    return sweep_overdue()


@shared_task(bind=True, acks_late=True, autoretry_for=(DatabaseError,), max_retries=3)
def sweep_inbound_task(self) -> int:
    """Publish again the inbound events still waiting to be processed past the grace
    (helpdesk/services/intake.py)."""
    from helpdesk.services.intake import sweep_received

    return sweep_received()
