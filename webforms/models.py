"""Web forms' own rows.

`FormSettings` — one per form channel, created when first needed (`services.
form_settings_for`): the public id in the page's address (`/f/<public id>/`: 120 random
bits, so nobody finds a form by counting), the texts of the page, whether it takes an
attachment, and the sites that may show it in an `<iframe>`. Nothing in it is secret: the
public id is printed in every embedding page.

`SubmissionCount` — the rate limits' counters (`throttle.py`): one row per scope (a client
address or a typed email address, each kept only as a keyed hash), fixed time window and
count, incremented by one `INSERT … ON CONFLICT DO UPDATE`, so every web process on every
machine counts in the same row.
"""

import secrets
from base64 import b32encode
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext, gettext_lazy, gettext_noop

from helpdesk.channel_kinds import POLICIES
from helpdesk.models import Channel

# The channels this app serves (`KindPolicy.intake`); the InboundEvent kind of a submission.
INTAKE = "form"
# Stored as given (a model default); while a form keeps it, the thank-you page shows it in
# the visitor's language (`FormSettings.thank_you_text`).
DEFAULT_THANK_YOU = gettext_noop(
    "Thank you — we have your message. We will answer you by email as soon as we can."
)
MAX_ORIGINS = 20


def form_kinds() -> list[str]:
    """The channel kinds whose input is a web form."""
    return [kind for kind, policy in POLICIES.items() if policy.intake == INTAKE]


def new_public_id() -> str:
    """120 random bits as 24 lower-case base32 characters (no padding, no look-alikes)."""
    return b32encode(secrets.token_bytes(15)).decode("ascii").lower()


def parse_origins(text: str) -> list[str]:
    """One origin per line (`https://www.example.com`, `https://shop.example.com:8443`),
    normalised to scheme://host[:port]; ValidationError naming the first bad line."""
    origins: list[str] = []
    for line in (text or "").splitlines():
        value = line.strip().rstrip("/")
        if not value:
            continue
        parts = urlsplit(value)
        try:
            port = parts.port
        except ValueError:
            port = -1
        if (
            parts.scheme not in {"http", "https"}
            or not parts.hostname
            or port == -1
            or parts.path
            or parts.query
            or parts.fragment
            or parts.username
            or any(c in value for c in " ;,'\"*")
        ):
            raise ValidationError(
                gettext(
                    "“%(value)s” is not a site's origin: write the scheme and host "
                    "only, e.g. https://www.example.com (one per line)."
                )
                % {"value": value[:80]}
            )
        origin = f"{parts.scheme}://{parts.hostname.lower()}" + (f":{port}" if port else "")
        if origin not in origins:
            origins.append(origin)
    if len(origins) > MAX_ORIGINS:
        raise ValidationError(
            gettext("List at most %(MAX_ORIGINS)s sites.") % {"MAX_ORIGINS": MAX_ORIGINS}
        )
    return origins


class FormSettings(models.Model):
    """The public page of one form channel."""

    channel = models.OneToOneField(
        Channel,
        on_delete=models.CASCADE,
        related_name="form_settings",
        limit_choices_to={"kind__in": form_kinds()},
    )
    public_id = models.CharField(
        max_length=32,
        unique=True,
        default=new_public_id,
        editable=False,
        help_text=gettext_lazy(
            "In the page's address /f/<public id>/; a new one breaks old links."
        ),
    )
    title = models.CharField(
        max_length=200,
        blank=True,
        help_text=gettext_lazy("The page's heading; blank: the channel's name."),
    )
    intro = models.TextField(
        max_length=2000,
        blank=True,
        help_text=gettext_lazy("A short text above the fields (plain text)."),
    )
    thank_you = models.TextField(
        max_length=2000,
        default=DEFAULT_THANK_YOU,
        help_text=gettext_lazy("Shown after the form was sent (plain text)."),
    )
    allow_attachments = models.BooleanField(
        default=True,
        help_text=gettext_lazy("Offer one optional file (size and types: docs/channels/forms.md)."),
    )
    embed_origins = models.TextField(
        blank=True,
        help_text=(
            gettext_lazy(
                "Sites that may show the form in an iframe, one origin per line "
                "(https://www.example.com). Empty: any site may."
            )
        ),
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "form settings"
        verbose_name_plural = "form settings"

    def __str__(self) -> str:
        return f"Form settings of {self.channel}"

    def clean(self) -> None:
        errors = {}
        if self.channel_id and self.channel.kind not in form_kinds():
            errors["channel"] = gettext("Form settings belong to a form channel.")
        try:
            self.embed_origins = "\n".join(parse_origins(self.embed_origins))
        except ValidationError as exc:
            errors["embed_origins"] = exc.messages
        self.title = self.title.strip()
        if not self.thank_you.strip():
            errors["thank_you"] = gettext("Write what the visitor reads once the form is sent.")
        if errors:
            raise ValidationError(errors)

    @property
    def heading(self) -> str:
        return self.title or self.channel.name

    @property
    def thank_you_text(self) -> str:
        """The thank-you text as the visitor reads it: the default in their language."""
        if self.thank_you == DEFAULT_THANK_YOU:
            return gettext(DEFAULT_THANK_YOU)
        return self.thank_you

    @property
    def origins(self) -> list[str]:
        """The sites allowed to frame the page (validated when saved)."""
        try:
            return parse_origins(self.embed_origins)
        except ValidationError:
            return []


class SubmissionCount(models.Model):
    """Submissions counted against one client address or one typed email address in one
    fixed window (`throttle.count_submission`)."""

    class Scope(models.TextChoices):
        IP = "ip", gettext_lazy("Client address")
        ADDRESS = "address", gettext_lazy("Email address")

    scope = models.CharField(max_length=8, choices=Scope)
    key = models.CharField(
        max_length=64, help_text=gettext_lazy("HMAC-SHA256 of the address, hex.")
    )
    window_start = models.DateTimeField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["scope", "key", "window_start"], name="webforms_count_once"
            ),
        ]
        indexes = [models.Index(fields=["window_start"], name="webforms_count_window_idx")]

    def __str__(self) -> str:
        return f"{self.scope} {self.key[:12]}… {self.count} since {self.window_start:%H:%M}"
