"""R14, forms with Contact owner routing: when the owner is offline, email them the
submission. Claimed with a conditional update, so a redelivered task sends nothing; a claim
older than the sending lease was interrupted (the worker died) and may be taken again."""

from datetime import timedelta

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext, override

from helpdesk.languages import language_for
from routing.models import RoutingDecision


def email_submission_to_owner(*, decision_id: int) -> bool:
    now = timezone.now()
    lease = timedelta(seconds=settings.EMAIL_SENDING_LEASE_SECONDS)
    claimed = (
        RoutingDecision.objects.filter(pk=decision_id, owner_emailed_at__isnull=True)
        .filter(Q(owner_email_claimed_at__isnull=True) | Q(owner_email_claimed_at__lt=now - lease))
        .update(owner_email_claimed_at=now)
    )
    if not claimed:
        return False
    decision = RoutingDecision.objects.select_related("ticket__contact__owner").get(pk=decision_id)
    ticket = decision.ticket
    owner = ticket.contact.owner if ticket.contact else None
    if owner is None or not owner.email:
        return False
    first = ticket.messages.order_by("created_at", "id").first()
    context = {
        "ticket": ticket,
        "owner": owner,
        "body": first.body if first else "",
        "url": f"{settings.SITE_URL}/tickets/{ticket.pk}/",
    }
    with override(language_for(owner)):  # the owner's language (else the deployment's)
        subject = gettext("Form submission from your contact %(contact)s: %(subject)s") % {
            "contact": ticket.contact,
            "subject": ticket.subject,
        }
        body = render_to_string("routing/email/submission.txt", context)
    message = EmailMultiAlternatives(
        subject=subject,
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[owner.email],
        headers={"Auto-Submitted": "auto-generated"},
    )
    try:
        message.send()
    except Exception:
        # Let the task retry: give the claim back first.
        RoutingDecision.objects.filter(pk=decision_id).update(owner_email_claimed_at=None)
        raise
    RoutingDecision.objects.filter(pk=decision_id).update(owner_emailed_at=timezone.now())
    return True
