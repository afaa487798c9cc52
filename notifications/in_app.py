"""In-app deliveries, made at once: the announcement that records them delivers them in its
own transaction, in bulk (issue 14), so they appear when it commits without a task each; a
task asked for one (`notifications.delivery`) goes the same way. Imported by the services
and by delivery, importing neither."""

from django.db import transaction
from django.utils import timezone

from notifications import sql
from notifications.catalog import Medium
from notifications.models import Delivery, Notification

Status = Delivery.Status


def deliver_now(delivery_ids: list[int]) -> list[int]:
    """Deliver pending in-app deliveries in the caller's transaction, all at once: one
    claim, one insert of their notifications, one update (on PostgreSQL one statement for the
    three, `notifications.sql`) — the announcement that recorded them makes them visible as it
    commits, without a task per delivery (issue 14). The same claim as a task's, so a delivery
    already claimed is left alone. Returns the ids sent."""
    if not delivery_ids:
        return []
    now = timezone.now()
    if sql.postgres():
        return sql.deliver_in_app(delivery_ids, now)
    return _deliver_with_orm(delivery_ids, now)


def _deliver_with_orm(delivery_ids: list[int], now) -> list[int]:
    """`deliver_now` elsewhere than on PostgreSQL (SQLite for `make run`): the same claim,
    insert and update in three statements."""
    with transaction.atomic(savepoint=False):
        claimed = list(
            Delivery.objects.filter(
                pk__in=delivery_ids, status=Status.PENDING, medium=Medium.IN_APP
            ).select_for_update(no_key=True)
        )
        if not claimed:
            return []
        notifications = Notification.objects.bulk_create(
            [
                Notification(
                    recipient_id=d.recipient_id,
                    event=d.event,
                    ticket_id=d.ticket_id,
                    text=d.text,
                    detail=d.detail,
                    created_at=d.created_at,
                )
                for d in claimed
            ]
        )
        for delivery, notification in zip(claimed, notifications, strict=True):
            delivery.status, delivery.sent_at = Status.SENT, now
            delivery.attempts += 1
            delivery.claimed_at, delivery.notification = now, notification
        Delivery.objects.bulk_update(
            claimed, ["status", "sent_at", "attempts", "claimed_at", "notification"]
        )
    return [d.pk for d in claimed]
