"""Celery tasks of the routing engine: thin, they take ids and call the engine."""

from celery import shared_task
from django.db import DatabaseError

RETRY = {
    "bind": True,
    "acks_late": True,
    "autoretry_for": (DatabaseError,),
    "retry_backoff": True,
    "retry_backoff_max": 60,
    "max_retries": 5,
}


@shared_task(**RETRY)
def route_ticket(self, ticket_id: int) -> None:
    from routing.engine import route_ticket as route

    route(ticket_id=ticket_id)  # idempotent: a redelivered task changes nothing


@shared_task(**RETRY)
def sweep_pending(self) -> int:
    """Re-enqueue tickets whose routing stayed pending (broker down, worker killed)."""
    from routing.sweeps import stale_pending_ticket_ids

    ids = stale_pending_ticket_ids()
    for ticket_id in ids:
        route_ticket.delay(ticket_id)
    return len(ids)


@shared_task(**RETRY)
def reroute_waiting(self) -> int:
    """Route again the waiting tickets that someone can now take."""
    from routing.sweeps import release_waiting_tickets

    ids = release_waiting_tickets()
    for ticket_id in ids:
        route_ticket.delay(ticket_id)
    return len(ids)


@shared_task(**RETRY)
def email_submission_to_owner(self, decision_id: int) -> None:
    from routing.mail import email_submission_to_owner as send

    send(decision_id=decision_id)
