"""Notifications' reads and writes: effective preferences (R27), the choices of users (R25)
and superadmins (R26), `notify` (one Delivery per recipient and medium, published on
commit), and reading notifications.

Precedence (R27): the user's own choice where set, else the superadmin default, else the
built-in default. `effective_preferences(user)` answers for one user (the settings page);
`recipients_by_medium(event, users)` answers for every recipient of one event in a fixed
number of queries, whatever their number (the sender).
"""

from collections.abc import Iterable
from dataclasses import dataclass

from celery import current_app
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from helpdesk.jobs import ring_on_commit
from helpdesk.models import Ticket, User
from notifications.catalog import BUILT_IN, CELLS, Event, Medium
from notifications.models import DefaultPreference, Delivery, Notification, Preference

# The task that sends one delivery, named rather than imported: `notifications.tasks`
# imports the announcements, which call `notify` here, so importing it would close a circle.
# Imports go one way: receivers → tasks → announce → services.
DELIVER_TASK = "notifications.tasks.deliver_task"


class Source:
    OWN = "own"  # the user's own choice
    DEFAULT = "default"  # the superadmin default
    BUILT_IN = "built_in"  # the default in code


@dataclass(frozen=True)
class Effective:
    enabled: bool
    source: str


Cell = tuple[str, str]


def default_preferences() -> dict[Cell, Effective]:
    """The account defaults (R26): a superadmin's choice, else the built-in one. One query."""
    chosen = {
        (p.event, p.medium): p.enabled
        for p in DefaultPreference.objects.filter(event__in=Event.values)
    }
    return {
        cell: Effective(chosen[cell], Source.DEFAULT)
        if cell in chosen
        else Effective(BUILT_IN[cell], Source.BUILT_IN)
        for cell in CELLS
    }


def effective_preferences(user: User) -> dict[Cell, Effective]:
    """Every (event, medium) of `user` with its value and where it comes from (R27). Two
    queries."""
    effective = default_preferences()
    for event, medium, enabled in Preference.objects.filter(user=user).values_list(
        "event", "medium", "enabled"
    ):
        if (event, medium) in effective:
            effective[(event, medium)] = Effective(enabled, Source.OWN)
    return effective


def recipients_by_medium(event: str, users: QuerySet[User] | Iterable[User]) -> dict[str, list]:
    """For one event, which of `users` want it by which medium (R27): {medium: [user, …]}.

    Three queries whatever the number of users: the users, the defaults of this event, and
    the own choices of these users for this event (a subquery when `users` is a queryset).
    """
    users_list = list(users)
    if not users_list:
        return {m: [] for m in Medium.values}
    defaults = {m: BUILT_IN[(event, m)] for m in Medium.values}
    defaults.update(DefaultPreference.objects.filter(event=event).values_list("medium", "enabled"))
    if isinstance(users, QuerySet):
        own_rows = Preference.objects.filter(event=event, user__in=users.values("pk"))
    else:
        own_rows = Preference.objects.filter(event=event, user__in=[u.pk for u in users_list])
    own = {(u, m): e for u, m, e in own_rows.values_list("user_id", "medium", "enabled")}
    return {
        medium: [u for u in users_list if own.get((u.pk, medium), defaults[medium])]
        for medium in Medium.values
    }


# ---------------------------------------------------------------------------------------
# Choices (R25, R26)
# ---------------------------------------------------------------------------------------


def update_preferences(*, user: User, changes: dict[Cell, bool]) -> None:
    """Record the user's own choice for each changed cell; untouched cells keep following
    the defaults."""
    with transaction.atomic():
        for (event, medium), enabled in changes.items():
            Preference.objects.update_or_create(
                user=user, event=event, medium=medium, defaults={"enabled": enabled}
            )


def reset_preferences(*, user: User, event: str | None = None) -> int:
    """Forget the user's own choices (of one event, or all): the defaults apply again."""
    rows = Preference.objects.filter(user=user)
    if event is not None:
        rows = rows.filter(event=event)
    deleted, _ = rows.delete()
    return deleted


def update_default_preferences(*, actor: User, changes: dict[Cell, bool]) -> None:
    """A superadmin sets the account defaults of the changed cells (R26)."""
    if not actor.is_superuser:
        raise PermissionDenied("Only superadmins set default notification preferences.")
    with transaction.atomic():
        for (event, medium), enabled in changes.items():
            DefaultPreference.objects.update_or_create(
                event=event, medium=medium, defaults={"enabled": enabled, "updated_by": actor}
            )


def reset_default_preferences(*, actor: User, event: str | None = None) -> int:
    """Back to the built-in defaults (of one event, or all)."""
    if not actor.is_superuser:
        raise PermissionDenied("Only superadmins set default notification preferences.")
    rows = DefaultPreference.objects.all()
    if event is not None:
        rows = rows.filter(event=event)
    deleted, _ = rows.delete()
    return deleted


# ---------------------------------------------------------------------------------------
# Sending
# ---------------------------------------------------------------------------------------


def notify(
    *,
    event: str,
    key: str,
    ticket: Ticket,
    recipients: QuerySet[User],
    text: str,
    detail: str = "",
    actor_id: int | None = None,
) -> list[int]:
    """Create one Delivery per recipient and medium they want for this occurrence (`key`),
    and publish each after commit. The actor never hears of their own action; a recipient
    without an email address gets no email. A second call with the same key creates
    nothing new (unique constraint) and publishes again only what is still pending, which
    the task's claim makes harmless. Returns the ids of the pending deliveries.

    A fixed number of queries whatever the number of recipients.
    """
    if actor_id is not None:
        recipients = recipients.exclude(pk=actor_id)
    wanted = recipients_by_medium(event, recipients)
    rows = [
        Delivery(
            event_key=key,
            event=event,
            recipient=user,
            medium=medium,
            ticket=ticket,
            text=text[:300],
            detail=detail,
        )
        for medium, users in wanted.items()
        for user in users
        if medium != Medium.EMAIL or user.email
    ]
    if not rows:
        return []
    Delivery.objects.bulk_create(rows, ignore_conflicts=True)
    ids = list(
        Delivery.objects.filter(
            event_key=key,
            status=Delivery.Status.PENDING,
            recipient_id__in={r.recipient_id for r in rows},
        ).values_list("pk", flat=True)
    )
    publish_deliveries(ids)
    return ids


def publish_deliveries(ids: list[int]) -> None:
    """Publish `deliver_task` for each id once the transaction commits. A broker that is
    down loses nothing: the rows stay pending and the deliveries sweep publishes them."""
    if not ids:
        return
    deliver_task = current_app.tasks[DELIVER_TASK]
    for delivery_id in ids:
        ring_on_commit(deliver_task, delivery_id=delivery_id)


# ---------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------


def unread_count(user: User) -> int:
    return Notification.objects.filter(recipient=user, read_at__isnull=True).count()


def open_notification(*, user: User, notification_id: int) -> Notification:
    """The user opens one of their notifications: it is read from now on. Raises
    Notification.DoesNotExist for another user's notification."""
    notification = Notification.objects.get(pk=notification_id, recipient=user)
    if notification.read_at is None:
        now = timezone.now()
        Notification.objects.filter(pk=notification.pk, read_at__isnull=True).update(read_at=now)
        notification.read_at = now
    return notification


def mark_notifications_read(*, user: User, ids: Iterable[int] | None = None) -> int:
    """Mark the user's unread notifications read — these ids, or all of them."""
    rows = Notification.objects.filter(recipient=user, read_at__isnull=True)
    if ids is not None:
        rows = rows.filter(pk__in=list(ids))
    return rows.update(read_at=timezone.now())
