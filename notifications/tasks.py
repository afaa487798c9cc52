"""Celery tasks of notifications: thin, they take ids and call one service.

`announce_*_task` turn one occurrence into Delivery rows; they are jobs (`helpdesk.jobs`:
recorded in the transaction of the change, published after commit, published again by the
sweep until one run succeeds) and idempotent (a Delivery is unique per event key, recipient
and medium). `deliver_task` is idempotent too (the delivery is claimed before anything is
sent), so a duplicate or redelivered message sends nothing twice. Temporary SMTP errors are
retried with the backoff of `notifications.delivery`; after the last try the delivery stays
FAILED.

Imports go one way: receivers → tasks → announce → services (which publishes `deliver_task`
by its name, `services.DELIVER_TASK`) and tasks → delivery, quiet_hours.
"""

from celery import shared_task
from django.db import DatabaseError

from helpdesk.jobs import JobTask, ring
from notifications import announce, delivery, quiet_hours
from notifications.services import DELIVER_TASK

EMAIL_MAX_RETRIES = 5

RETRY = {
    "bind": True,
    "acks_late": True,
    "autoretry_for": (DatabaseError,),
    "retry_backoff": True,
    "retry_backoff_max": 60,
    "max_retries": 5,
}


@shared_task(name=DELIVER_TASK, **RETRY)
def deliver_task(self, delivery_id: int) -> str:
    final = self.request.retries >= EMAIL_MAX_RETRIES
    try:
        return delivery.deliver(delivery_id=delivery_id, final_attempt=final)
    except delivery.TemporaryFailure as exc:
        raise self.retry(exc=exc, countdown=exc.retry_in) from exc


@shared_task(base=JobTask, **RETRY)
def announce_unassigned_task(self, ticket_id: int, actor_id: int | None = None, detail: str = ""):
    announce.announce_unassigned(ticket_id=ticket_id, actor_id=actor_id, detail=detail)


@shared_task(base=JobTask, **RETRY)
def announce_assignment_task(self, assignment_id: int) -> None:
    announce.announce_assignment(assignment_id=assignment_id)


@shared_task(base=JobTask, **RETRY)
def announce_customer_reply_task(self, message_id: int, owner_id: int) -> None:
    announce.announce_customer_reply(message_id=message_id, owner_id=owner_id)


@shared_task(bind=True, acks_late=True, autoretry_for=(DatabaseError,), max_retries=3)
def sweep_deliveries_task(self) -> int:
    """Publish again the deliveries nobody took (broker down, worker killed, lost retry)."""
    ids = delivery.stale_delivery_ids()
    for delivery_id in ids:
        ring(deliver_task, delivery_id=delivery_id)
    return len(ids)


@shared_task(bind=True, acks_late=True, autoretry_for=(DatabaseError,), max_retries=3)
def send_digests_task(self) -> int:
    """Quiet hours: one digest task per user whose held emails can go out now."""
    user_ids = quiet_hours.users_ready_for_digest()
    for user_id in user_ids:
        ring(send_digest_task, user_id=user_id)
    return len(user_ids)


@shared_task(bind=True, acks_late=True, autoretry_for=(DatabaseError,), max_retries=3)
def send_digest_task(self, user_id: int) -> int:
    return quiet_hours.send_digest(user_id=user_id)
