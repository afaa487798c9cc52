"""Optional quiet hours: emails held while the recipient is unavailable, then one digest.

Availability is the helpdesk's own (R11: out-of-office, then working hours or the manual
status), so an agent who works 09–17 in Oslo gets the night's notifications in one email
at 09:00 Oslo time, and in-app notifications arrive as usual meanwhile.
"""

import logging

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import F
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import ngettext

from helpdesk.availability import availability_of, is_available
from helpdesk.models import User
from notifications import emails
from notifications.catalog import Medium
from notifications.models import Delivery, QuietHours
from notifications.services import in_language_of

log = logging.getLogger(__name__)
Status = Delivery.Status


def quiet_hours_enabled(user: User) -> bool:
    return QuietHours.objects.filter(user=user, enabled=True).exists()


def set_quiet_hours(*, user: User, enabled: bool) -> None:
    QuietHours.objects.update_or_create(user=user, defaults={"enabled": enabled})


def should_hold(user: User, at=None) -> bool:
    """Hold this user's email now? Only with quiet hours on and while unavailable."""
    if not quiet_hours_enabled(user):
        return False
    return not is_available(user, at or timezone.now())


def users_ready_for_digest(at=None) -> list[int]:
    """Users with held emails who are available now — a fixed number of queries."""
    at = at or timezone.now()
    users = list(
        User.objects.filter(
            pk__in=Delivery.objects.filter(status=Status.HELD).values("recipient_id")
        )
    )
    available = availability_of(users, at)
    return [u.pk for u in users if available[u.pk].available]


def send_digest(*, user_id: int, at=None) -> int:
    """Send the user's held emails as one digest if they are available now. Returns how many
    notifications it carried (0: nothing held, still unavailable, or another worker took
    them). The held rows are claimed (HELD → SENDING) under row locks that a concurrent
    digest skips, so each is sent once."""
    at = at or timezone.now()
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None or not is_available(user, at):
        return 0
    with transaction.atomic():
        ids = list(
            Delivery.objects.select_for_update(skip_locked=True)
            .filter(recipient=user, medium=Medium.EMAIL, status=Status.HELD)
            .values_list("pk", flat=True)
        )
        if ids:
            Delivery.objects.filter(pk__in=ids, status=Status.HELD).update(
                status=Status.SENDING, attempts=F("attempts") + 1, claimed_at=timezone.now()
            )
    if not ids:
        return 0
    deliveries = list(
        Delivery.objects.filter(pk__in=ids).select_related("ticket").order_by("created_at", "pk")
    )
    try:
        _compose_digest(user, deliveries).send()
    except Exception as exc:
        # Held again: the next digest run tries once more.
        Delivery.objects.filter(pk__in=ids, status=Status.SENDING).update(
            status=Status.HELD, last_error=f"{type(exc).__name__}: {exc}"[:2000]
        )
        log.warning("Notification digest for user %s failed: %s", user_id, exc)
        raise
    Delivery.objects.filter(pk__in=ids, status=Status.SENDING).update(
        status=Status.SENT, sent_at=timezone.now()
    )
    return len(ids)


def _compose_digest(user: User, deliveries: list[Delivery]) -> EmailMultiAlternatives:
    with in_language_of(user):
        return _compose_digest_now(user, deliveries)


def _compose_digest_now(user: User, deliveries: list[Delivery]) -> EmailMultiAlternatives:
    items = [{"delivery": d, "url": emails.ticket_url(d.ticket_id)} for d in deliveries]
    context = {
        "recipient": user,
        "items": items,
        "count": len(items),
        "list_url": f"{settings.SITE_URL}{reverse('notifications:list')}",
        "settings_url": f"{settings.SITE_URL}{reverse('notifications:settings')}",
    }
    n = len(items)
    message = EmailMultiAlternatives(
        subject=ngettext(
            "[Helpdesk] %(n)s notification while you were away",
            "[Helpdesk] %(n)s notifications while you were away",
            n,
        )
        % {"n": n},
        body=render_to_string("notifications/email/digest.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[user.email],
        headers=emails.HEADERS,
    )
    message.attach_alternative(
        render_to_string("notifications/email/digest.html", context), "text/html"
    )
    return message
