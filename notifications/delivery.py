"""Sending one Delivery exactly once.

The row is claimed first with a conditional update (PENDING → SENDING); a second task for
the same delivery — a duplicate enqueue, a redelivered message after a worker died — finds
nothing to claim and sends nothing. An in-app notification is created in the same
transaction as its claim, so it exists exactly once or not at all. An email is sent after
its claim has committed: a temporary SMTP failure (4xx, or no connection) gives the claim
back (PENDING, with the error) for the task to retry with backoff; a permanent refusal
(5xx), the last attempt or an unexpected error leaves the delivery FAILED with its error,
for the admin to see and retry.
"""

import logging
import smtplib
from datetime import timedelta

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from notifications import emails
from notifications.catalog import Medium
from notifications.models import Delivery, Notification
from notifications.quiet_hours import should_hold

log = logging.getLogger(__name__)

Status = Delivery.Status
# Errors worth another try: the SMTP server refused for now, or could not be reached.
TEMPORARY_ERRORS = (smtplib.SMTPException, OSError)


class TemporaryFailure(Exception):
    """The delivery may succeed later; it is pending again."""


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
    with transaction.atomic():
        if not _claim(delivery_id):
            return Outcome.SKIPPED
        delivery = Delivery.objects.get(pk=delivery_id)
        notification = Notification.objects.create(
            recipient_id=delivery.recipient_id,
            event=delivery.event,
            ticket_id=delivery.ticket_id,
            text=delivery.text,
            detail=delivery.detail,
            created_at=delivery.created_at,
        )
        Delivery.objects.filter(pk=delivery_id).update(
            status=Status.SENT, sent_at=timezone.now(), notification=notification
        )
    return Outcome.SENT


def _deliver_email(delivery_id: int, final_attempt: bool) -> str:
    if not _claim(delivery_id):
        return Outcome.SKIPPED
    delivery = Delivery.objects.select_related("recipient", "ticket").get(pk=delivery_id)
    if not delivery.recipient.is_active or not delivery.recipient.email:
        _finish(delivery_id, Status.FAILED, "The recipient is inactive or has no email address.")
        return Outcome.FAILED
    if should_hold(delivery.recipient):
        _finish(delivery_id, Status.HELD)
        return Outcome.HELD
    try:
        emails.compose(delivery).send()
    except TEMPORARY_ERRORS as exc:
        error = _describe(exc)
        if _permanent(exc):
            _finish(delivery_id, Status.FAILED, error)
            log.warning("Notification email %s refused: %s", delivery_id, error)
            return Outcome.FAILED
        if final_attempt:
            _finish(
                delivery_id, Status.FAILED, f"Gave up after {delivery.attempts} attempts: {error}"
            )
            log.warning("Notification email %s failed for good: %s", delivery_id, error)
            return Outcome.FAILED
        _finish(delivery_id, Status.PENDING, error)
        raise TemporaryFailure(error) from exc
    except Exception as exc:
        _finish(delivery_id, Status.FAILED, _describe(exc))
        raise
    _finish(delivery_id, Status.SENT)
    return Outcome.SENT


def _finish(delivery_id: int, status: str, error: str | None = None) -> None:
    fields = {"status": status}
    if status == Status.SENT:
        fields["sent_at"] = timezone.now()
    if error is not None:
        fields["last_error"] = error
    Delivery.objects.filter(pk=delivery_id, status=Status.SENDING).update(**fields)


def _permanent(exc: BaseException) -> bool:
    """A 5xx answer: the server will say the same next time, so do not retry."""
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code >= 500
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in exc.recipients.values())
    return False


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:2000]


def retry_failed(*, ids) -> list[int]:
    """FAILED → PENDING (the admin's "Retry" action); returns the ids to enqueue."""
    ids = list(
        Delivery.objects.filter(pk__in=list(ids), status=Status.FAILED).values_list("pk", flat=True)
    )
    Delivery.objects.filter(pk__in=ids, status=Status.FAILED).update(
        status=Status.PENDING, claimed_at=None
    )
    return ids


def stale_delivery_ids(*, grace: timedelta, lost_after: timedelta) -> list[int]:
    """Pending deliveries nobody took (the broker was down when they were enqueued, or a
    scheduled retry was lost), for the sweep to enqueue again. Also gives up on emails
    stuck in SENDING (the worker died mid-send, so nobody knows whether it went out):
    they become FAILED, visible in the admin, rather than risk a second copy."""
    now = timezone.now()
    Delivery.objects.filter(status=Status.SENDING, claimed_at__lt=now - lost_after).update(
        status=Status.FAILED,
        last_error="Interrupted while sending (the worker stopped); it may not have been sent.",
    )
    return list(
        Delivery.objects.filter(status=Status.PENDING)
        .filter(
            Q(claimed_at__isnull=True, created_at__lt=now - grace)
            | Q(claimed_at__lt=now - lost_after)
        )
        .order_by("created_at")
        .values_list("pk", flat=True)[:1000]
    )
