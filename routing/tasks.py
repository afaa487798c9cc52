"""Celery tasks of the routing engine: thin, they take ids and call the engine.

A ticket's pending routing state is the intent (in PostgreSQL); `sweep_pending_task`
publishes again whatever stayed pending too long. Owner emails are jobs (`helpdesk.jobs`),
which the engine records by the task's name (`engine.EMAIL_OWNER_TASK`), so imports go one
way: receivers → tasks → sweeps → engine, and tasks → engine, mail.
"""

from celery import shared_task
from django.db import DatabaseError

from helpdesk.jobs import JobTask, ring
from routing import engine, mail, sweeps

RETRY = {
    "bind": True,
    "acks_late": True,
    "autoretry_for": (DatabaseError,),
    "retry_backoff": True,
    "retry_backoff_max": 60,
    "max_retries": 5,
}


@shared_task(**RETRY)
def route_ticket_task(self, ticket_id: int) -> None:
    engine.route_ticket(ticket_id=ticket_id)  # idempotent: a redelivered task changes nothing


@shared_task(**RETRY)
def sweep_pending_task(self) -> int:
    """Publish again the tickets whose routing stayed pending (broker down, worker killed,
    Redis restarted)."""
    ids = sweeps.stale_pending_ticket_ids()
    for ticket_id in ids:
        ring(route_ticket_task, ticket_id=ticket_id)
    return len(ids)


@shared_task(**RETRY)
def reroute_waiting_task(self) -> int:
    """Route again the waiting tickets that someone can now take."""
    ids = sweeps.release_waiting_tickets()
    for ticket_id in ids:
        ring(route_ticket_task, ticket_id=ticket_id)
    return len(ids)


@shared_task(name=engine.EMAIL_OWNER_TASK, base=JobTask, **RETRY)
def email_submission_to_owner_task(self, decision_id: int) -> None:
    mail.email_submission_to_owner(decision_id=decision_id)
