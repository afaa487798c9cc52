"""The email of one delivery: a plain-text and an HTML part, a link to the ticket, and the
headers that tell mail software it was sent by a machine (RFC 3834)."""

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse

from notifications.catalog import Event
from notifications.models import Delivery
from notifications.services import in_language_of

HEADERS = {
    "Auto-Submitted": "auto-generated",  # RFC 3834: no auto-replies, please
    "X-Auto-Response-Suppress": "All",  # the same for Exchange
}


def ticket_url(ticket_id: int) -> str:
    return f"{settings.SITE_URL}{reverse('ticket', args=[ticket_id])}"


def one_line(text: str) -> str:
    return " ".join(text.split())


def message_id(delivery: Delivery) -> str:
    """The same for every try of one delivery, so a second copy (a send interrupted after
    the server took it) is recognisable as the same message."""
    domain = settings.DEFAULT_FROM_EMAIL.rpartition("@")[2].strip("<> ") or "localhost"
    return f"<notification.{delivery.pk}.{delivery.created_at:%Y%m%d%H%M%S}@{domain}>"


def compose(delivery: Delivery) -> EmailMultiAlternatives:
    """In the recipient's language (their choice, else LANGUAGE_CODE)."""
    with in_language_of(delivery.recipient):
        return _compose(delivery)


def _compose(delivery: Delivery) -> EmailMultiAlternatives:
    ticket = delivery.ticket
    context = {
        "delivery": delivery,
        "recipient": delivery.recipient,
        "ticket": ticket,
        "event_label": Event(delivery.event).label,
        "url": ticket_url(ticket.pk),
        "settings_url": f"{settings.SITE_URL}{reverse('notifications:settings')}",
    }
    message = EmailMultiAlternatives(
        subject=one_line(f"[Helpdesk] {delivery.text}")[:200],
        body=render_to_string("notifications/email/notification.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[delivery.recipient.email],
        headers={**HEADERS, "Message-ID": message_id(delivery)},
    )
    message.attach_alternative(
        render_to_string("notifications/email/notification.html", context), "text/html"
    )
    return message
