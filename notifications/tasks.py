"""Celery tasks of notifications: thin, they take ids and call one service.

`announce_*` turn one occurrence into Delivery rows (idempotent: a Delivery is unique per
event key, recipient and medium). `deliver` is acknowledged late and idempotent too (the
delivery is claimed before anything is sent), so a duplicate or redelivered message sends
nothing twice. Temporary SMTP errors are retried with exponential backoff; after the last
try the delivery stays FAILED.
"""

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db import DatabaseError

EMAIL_MAX_RETRIES = 5


def backoff_seconds(retries: int) -> int:
    """30 s, 60 s, 2 min, 4 min, 8 min … at most an hour."""
    base = getattr(settings, "NOTIFICATIONS_RETRY_BASE_SECONDS", 30)
    return min(base * 2**retries, 3600)


@shared_task(
    bind=True,
    acks_late=True,
    autoretry_for=(DatabaseError,),
    retry_backoff=True,
    retry_backoff_max=60,
    max_retries=EMAIL_MAX_RETRIES,
)
def deliver(self, delivery_id: int) -> str:
    from notifications.delivery import TemporaryFailure
    from notifications.delivery import deliver as send

    final = self.request.retries >= EMAIL_MAX_RETRIES
    try:
        return send(delivery_id=delivery_id, final_attempt=final)
    except TemporaryFailure as exc:
        raise self.retry(exc=exc, countdown=backoff_seconds(self.request.retries)) from exc


ANNOUNCE = {
    "bind": True,
    "acks_late": True,
    "autoretry_for": (DatabaseError,),
    "retry_backoff": True,
    "retry_backoff_max": 60,
    "max_retries": 5,
}


@shared_task(**ANNOUNCE)
def announce_unassigned(self, ticket_id: int, actor_id: int | None = None, detail: str = ""):
    from notifications.announce import announce_unassigned as announce

    announce(ticket_id=ticket_id, actor_id=actor_id, detail=detail)


@shared_task(**ANNOUNCE)
def announce_assignment(self, assignment_id: int) -> None:
    from notifications.announce import announce_assignment as announce

    announce(assignment_id=assignment_id)


@shared_task(**ANNOUNCE)
def announce_customer_reply(self, message_id: int, owner_id: int) -> None:
    from notifications.announce import announce_customer_reply as announce

    announce(message_id=message_id, owner_id=owner_id)


@shared_task(bind=True, acks_late=True, autoretry_for=(DatabaseError,), max_retries=3)
def sweep_deliveries(self) -> int:
    """Enqueue again the deliveries nobody took (broker down, lost retry)."""
    from notifications.delivery import stale_delivery_ids

    grace = getattr(settings, "NOTIFICATIONS_PENDING_GRACE_SECONDS", 120)
    ids = stale_delivery_ids(grace=timedelta(seconds=grace), lost_after=timedelta(hours=1))
    for delivery_id in ids:
        deliver.delay(delivery_id=delivery_id)
    return len(ids)


@shared_task(bind=True, acks_late=True, autoretry_for=(DatabaseError,), max_retries=3)
def send_digests(self) -> int:
    """Quiet hours: one digest task per user whose held emails can go out now."""
    from notifications.quiet_hours import users_ready_for_digest

    user_ids = users_ready_for_digest()
    for user_id in user_ids:
        send_digest.delay(user_id=user_id)
    return len(user_ids)


@shared_task(bind=True, acks_late=True, autoretry_for=(DatabaseError,), max_retries=3)
def send_digest(self, user_id: int) -> int:
    from notifications.quiet_hours import send_digest as send

    return send(user_id=user_id)
