from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Upper


class Contact(models.Model):
    """A customer. `visitor_token` identifies a web visitor tracked by cookie (R14)."""

    name = models.CharField(max_length=200, blank=True)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=32, blank=True)
    whatsapp_id = models.CharField(max_length=64, blank=True)
    visitor_token = models.CharField(max_length=64, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_contacts",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "email"]
        indexes = [
            models.Index(fields=["email"], name="contact_email_idx"),
            # Addresses are matched case-insensitively (`email__iexact` is UPPER(email) = …).
            models.Index(Upper("email"), name="contact_email_upper_idx"),
            models.Index(fields=["name"], name="contact_name_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["email"], condition=~Q(email=""), name="contact_unique_email"
            ),
            models.UniqueConstraint(
                fields=["visitor_token"],
                condition=~Q(visitor_token=""),
                name="contact_unique_visitor_token",
            ),
        ]

    def __str__(self) -> str:
        return self.name or self.email or self.phone or self.whatsapp_id or f"Contact {self.pk}"

    def clean(self) -> None:
        self.email = self.email.strip().lower()

    @property
    def is_identified(self) -> bool:
        """Known by cookie or by a verified address — needed for contact-owner routing."""
        return bool(self.visitor_token or self.email or self.whatsapp_id or self.phone)
