from django.db import IntegrityError, transaction

from helpdesk.models import Contact


def contact_for_email(*, email: str, name: str = "") -> Contact:
    """The contact with this address, created on first sight; a name fills a blank one."""
    email = email.strip().lower()
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
