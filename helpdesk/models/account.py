import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.utils.translation import gettext, gettext_lazy

from helpdesk.models.permissions import MANAGE_HELPDESK, codename


class AccountSettings(models.Model):
    """The account's own settings: one row (pk=1), read with `AccountSettings.load()`."""

    purchased_seats = models.PositiveIntegerField(
        default=10, help_text=gettext_lazy("How many helpdesk seats the account has paid for.")
    )

    class Meta:
        verbose_name = gettext_lazy("account settings")
        verbose_name_plural = gettext_lazy("account settings")
        permissions = [(codename(MANAGE_HELPDESK), "Can manage helpdesk channels and routing")]

    def __str__(self) -> str:
        return gettext("Account settings")

    @classmethod
    def load(cls) -> "AccountSettings":
        account, _ = cls.objects.get_or_create(pk=1)
        return account


class Seat(models.Model):
    """A paid helpdesk seat given to a user (R7). At most `purchased_seats` exist."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="seat"
    )
    given_at = models.DateTimeField(auto_now_add=True)
    given_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    def __str__(self) -> str:
        return gettext("Seat of %(user)s") % {"user": self.user}


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiToken(models.Model):
    """A per-user token for the JSON API. Only its SHA-256 is stored; the raw value is shown
    once, when it is created."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100, default="API token")
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    prefix = models.CharField(max_length=8, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…) of {self.user}"

    @staticmethod
    def generate_key() -> str:
        return secrets.token_urlsafe(32)

    def set_key(self, raw: str) -> None:
        self.key_hash = hash_token(raw)
        self.prefix = raw[:8]
