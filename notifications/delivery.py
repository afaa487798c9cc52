"""Sending one Delivery exactly once.

The row is claimed first with a conditional update (PENDING → SENDING); a second task for
the same delivery — a duplicate enqueue, a redelivered message after a worker died — finds
nothing to claim and sends nothing. An in-app notification is created in the same
transaction as its claim, so it exists exactly once or not at all. An email is sent after
its claim has committed: a temporary SMTP failure (4xx, or no connection) gives the claim
back (PENDING, with the error) for the task to retry with backoff; a permanent refusal
(5xx), the last attempt or an unexpected error leaves the delivery FAILED with its error,
for the admin to see and retry.

Nothing waits in the broker alone: a pending delivery is due at `due_at` (now, or its next
try after a temporary failure), and the sweep publishes again whatever is overdue. An email
whose claim outlived the sending lease was interrupted (its worker died): it is tried again
with the same Message-ID, so in the rare case that the first copy did leave, mail software
recognises the second as the same message.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext

from helpdesk import jobs
from helpdesk.smtp import TemporaryFailure, describe, send_once
from notifications import emails, in_app
from notifications.catalog import Medium
from notifications.models import Delivery
from notifications.quiet_hours import should_hold

log = logging.getLogger(__name__)

Status = Delivery.Status
# Errors worth another try: the SMTP server refused for now, or could not be reached.
SWEEP_BATCH = 1000


def backoff_seconds(failures: int) -> int:
    """The wait before the next try after `failures` temporary failures: 30 s, 60 s, 2 min,
    4 min … (NOTIFICATIONS_RETRY_BASE_SECONDS doubled), at most an hour."""
    return jobs.backoff_seconds(failures, base=settings.NOTIFICATIONS_RETRY_BASE_SECONDS)


class Outcome:
    SENT = "sent"
    SKIPPED = "skipped"  # claimed by someone else, already sent, or gone
    HELD = "held"  # quiet hours: kept for the digest
    FAILED = "failed"


def _claim(delivery_id: int) -> bool:
    return bool(
        Delivery.objects.filter(pk=delivery_id, status=Status.PENDING).update(
            status=Status.SENDING, attempts=F("attempts") + 1, claimed_at=timezone.now()
        )
    )


def deliver(*, delivery_id: int, final_attempt: bool = False) -> str:
    medium = Delivery.objects.filter(pk=delivery_id).values_list("medium", flat=True).first()
    if medium is None:
        return Outcome.SKIPPED
    if medium == Medium.IN_APP:
        return _deliver_in_app(delivery_id)
    return _deliver_email(delivery_id, final_attempt)


def _deliver_in_app(delivery_id: int) -> str:
    """One in-app delivery a task was asked for (its announcement made it already unless
    that was before issue 14, or it was given back): the same bulk path, for one."""
    with transaction.atomic():
        return Outcome.SENT if in_app.deliver_now([delivery_id]) else Outcome.SKIPPED


def _deliver_email(delivery_id: int, final_attempt: bool) -> str:
    if not _claim(delivery_id):
        return Outcome.SKIPPED
    delivery = Delivery.objects.select_related("recipient", "ticket").get(pk=delivery_id)
    if not delivery.recipient.is_active or not delivery.recipient.email:
        _finish(
            delivery_id,
            Status.FAILED,
            gettext("The recipient is inactive or has no email address."),
        )
        return Outcome.FAILED
    if should_hold(delivery.recipient):
        _finish(delivery_id, Status.HELD)
        return Outcome.HELD
    try:
        attempt = send_once(
            emails.compose(delivery),
            attempts=delivery.attempts,
            final=final_attempt,
            base=settings.NOTIFICATIONS_RETRY_BASE_SECONDS,
        )
    except Exception as exc:
        _finish(delivery_id, Status.FAILED, describe(exc))
        raise
    if attempt.sent:
        _finish(delivery_id, Status.SENT)
        return Outcome.SENT
    if attempt.retry_in is None:
        _finish(delivery_id, Status.FAILED, attempt.error)
        log.warning("Notification email %s not sent: %s", delivery_id, attempt.error)
        return Outcome.FAILED
    due_at = timezone.now() + timedelta(seconds=attempt.retry_in)
    _finish(delivery_id, Status.PENDING, attempt.error, due_at=due_at)
    raise TemporaryFailure(attempt.error, attempt.retry_in)


def _finish(delivery_id: int, status: str, error: str | None = None, due_at=None) -> None:
    fields = {"status": status}
    if due_at is not None:
        fields["due_at"] = due_at
    if status == Status.SENT:
        fields["sent_at"] = timezone.now()
    if error is not None:
        fields["last_error"] = error
    Delivery.objects.filter(pk=delivery_id, status=Status.SENDING).update(**fields)


def retry_failed(*, ids) -> list[int]:
    """FAILED → PENDING, due now (the admin's "Retry" action); returns the ids to enqueue."""
    ids = list(
        Delivery.objects.filter(pk__in=list(ids), status=Status.FAILED).values_list("pk", flat=True)
    )
    Delivery.objects.filter(pk__in=ids, status=Status.FAILED).update(
        status=Status.PENDING, claimed_at=None, due_at=timezone.now()
    )
    return ids


def stale_delivery_ids(*, now=None) -> list[int]:
    """The deliveries to publish again: pending ones overdue by more than the grace
    (NOTIFICATIONS_PENDING_GRACE_SECONDS: the broker was down when they were enqueued, a
    worker died holding the message, a scheduled retry was lost with Redis), and emails
    interrupted while sending (claimed longer ago than EMAIL_SENDING_LEASE_SECONDS),
    which become pending again first."""
    now = now or timezone.now()
    lease = timedelta(seconds=settings.EMAIL_SENDING_LEASE_SECONDS)
    grace = timedelta(seconds=settings.NOTIFICATIONS_PENDING_GRACE_SECONDS)
    interrupted = list(
        Delivery.objects.filter(status=Status.SENDING, claimed_at__lt=now - lease).values_list(
            "pk", flat=True
        )[:SWEEP_BATCH]
    )
    Delivery.objects.filter(pk__in=interrupted, status=Status.SENDING).update(
        status=Status.PENDING,
        due_at=now,
        last_error=gettext("Interrupted while sending (the worker stopped); tried again."),
    )
    overdue = (
        Delivery.objects.filter(status=Status.PENDING, due_at__lt=now - grace)
        .exclude(pk__in=interrupted)
        .order_by("due_at")
        .values_list("pk", flat=True)[:SWEEP_BATCH]
    )
    return interrupted + list(overdue)
