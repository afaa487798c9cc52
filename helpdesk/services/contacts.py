from django.db import IntegrityError, transaction

from helpdesk.models import Channel, Contact, Ticket, User
from helpdesk.services.tickets import create_ticket


def normalize_email(email: str) -> str:
    """The form an address is stored and looked up in."""
    return email.strip().lower()


def contact_for_email(*, email: str, name: str = "") -> Contact:
    """The contact with this address, created on first sight; a name fills a blank one."""
    email = normalize_email(email)
    contact = Contact.objects.filter(email__iexact=email).order_by("pk").first()
    if contact is None:
        try:
            with transaction.atomic():
                return Contact.objects.create(email=email, name=name.strip())
        except IntegrityError:  # created concurrently
            contact = Contact.objects.filter(email__iexact=email).order_by("pk").first()
    if name and not contact.name:
        contact.name = name.strip()
        contact.save(update_fields=["name"])
    return contact


def create_ticket_for_email(
    *,
    email: str,
    name: str = "",
    subject: str,
    body: str,
    channel: Channel | None = None,
    source: str = Ticket.Source.CHANNEL,
    priority: int = Ticket.Priority.NORMAL,
    actor: User | None = None,
) -> tuple[Ticket, bool]:
    """`create_ticket` for the contact with this address (see `contact_for_email`), in one
    transaction: when the ticket is refused or fails, no new or renamed contact remains."""
    with transaction.atomic():
        return create_ticket(
            subject=subject,
            body=body,
            channel=channel,
            contact=contact_for_email(email=email, name=name),
            source=source,
            priority=priority,
            actor=actor,
        )
