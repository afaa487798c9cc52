"""WhatsApp's own rows: a channel's Cloud API settings and what Meta told us about each
message we sent.

`WhatsAppSettings` holds two secrets kept as given, because we must use them: the access
token (sent as `Authorization: Bearer …` to the Graph API) and the app secret (the key of
the `X-Hub-Signature-256` HMAC). **No page may render `access_token` or `app_secret` back
into HTML**: a form shows an empty password field that keeps the stored value when left
blank (see `whatsapp/admin.py`).

`WhatsAppOutbound` sits beside the core's `OutboundMessage` (one each): what to send (the
recipient's WhatsApp id, a template or free text) and Meta's delivery state — sent,
delivered, read or failed, each with Meta's own time — which moves only forward.
"""

import re
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext, gettext_lazy

from helpdesk.models import Channel, OutboundMessage

# How an agent's reply leaves (`KindPolicy.outbound`): the channels this app serves.
OUTBOUND = "whatsapp"
DEFAULT_API_BASE_URL = "https://graph.facebook.com/v21.0"
# Where Meta's media URLs point (its CDN); the API's own host is always allowed.
DEFAULT_MEDIA_HOSTS = ["lookaside.fbsbx.com"]
TEMPLATE_NAME = re.compile(r"^[a-z0-9_]{1,512}$")
LANGUAGE_CODE = re.compile(r"^[a-z]{2,3}(_[A-Za-z]{2,4})?$")
HOST_NAME = re.compile(r"^[A-Za-z0-9.-]{1,253}$")


def default_media_hosts() -> list[str]:
    return list(DEFAULT_MEDIA_HOSTS)


class WhatsAppSettings(models.Model):
    """How one WhatsApp channel talks to the Cloud API (one phone number)."""

    channel = models.OneToOneField(
        Channel, on_delete=models.CASCADE, related_name="whatsapp_settings"
    )
    api_base_url = models.URLField(
        default=DEFAULT_API_BASE_URL,
        help_text=gettext_lazy("The Graph API with its version; change it only for a test server."),
    )
    phone_number_id = models.CharField(
        max_length=64,
        help_text=gettext_lazy("The phone number's id in WhatsApp Manager (not the number)."),
    )
    access_token = models.CharField(
        max_length=1024,
        blank=True,
        help_text=gettext_lazy("A system user's token. Never shown again."),
    )
    app_secret = models.CharField(
        max_length=255,
        blank=True,
        help_text=gettext_lazy(
            "The Meta app's secret: signs every webhook delivery. Never shown again."
        ),
    )
    verify_token = models.CharField(
        max_length=255, help_text=gettext_lazy("Any long random text; give the same to Meta.")
    )
    templates = models.JSONField(
        default=list,
        blank=True,
        help_text=(
            gettext_lazy(
                'Approved templates, e.g. [{"name": "follow_up", "language": "en_US", '
                '"text": "Hello, we have an answer for you. Reply to continue."}]'
            )
        ),
    )
    media_hosts = models.JSONField(
        default=default_media_hosts,
        blank=True,
        help_text=gettext_lazy(
            "Hosts media may be downloaded from besides the API's own (Meta's CDN)."
        ),
    )

    class Meta:
        verbose_name = gettext_lazy("WhatsApp settings")
        verbose_name_plural = gettext_lazy("WhatsApp settings")

    def __str__(self) -> str:
        return gettext("WhatsApp settings of %(channel)s") % {"channel": self.channel}

    def clean(self) -> None:
        errors = {}
        if self.channel_id and self.channel.policy.outbound != OUTBOUND:
            errors["channel"] = gettext("WhatsApp settings belong to a WhatsApp channel.")
        self.api_base_url = (self.api_base_url or "").strip().rstrip("/")
        if urlsplit(self.api_base_url).scheme not in {"http", "https"}:
            errors["api_base_url"] = gettext("Give the API's address, e.g. %(example)s") % {
                "example": DEFAULT_API_BASE_URL
            }
        self.phone_number_id = self.phone_number_id.strip()
        if not self.phone_number_id.isdigit():
            errors["phone_number_id"] = gettext(
                "The phone number id is digits only (WhatsApp Manager)."
            )
        try:
            self.templates = clean_templates(self.templates)
        except ValidationError as exc:
            errors["templates"] = exc.messages
        hosts = self.media_hosts if isinstance(self.media_hosts, list) else None
        if hosts is None or not all(isinstance(h, str) and HOST_NAME.match(h) for h in hosts):
            errors["media_hosts"] = gettext('A list of host names, e.g. ["lookaside.fbsbx.com"].')
        else:
            self.media_hosts = sorted({h.lower() for h in hosts})
        if errors:
            raise ValidationError(errors)

    @property
    def api_host(self) -> str:
        return (urlsplit(self.api_base_url).hostname or "").lower()

    def template(self, name: str) -> dict | None:
        """The approved template of this name, or None."""
        return next((t for t in self.templates or [] if t.get("name") == name), None)


def clean_templates(value) -> list[dict]:
    """`[{"name", "language", "text"?}, …]`: names as Meta spells them (lower case, digits,
    underscores), language codes such as `en` or `en_US`; one entry per name."""
    if not isinstance(value, list):
        raise ValidationError(gettext("A list of templates, each with a name and a language code."))
    cleaned, seen = [], set()
    for item in value:
        if not isinstance(item, dict):
            raise ValidationError(
                gettext("Each template is an object with a name and a language code.")
            )
        name = str(item.get("name", "")).strip()
        language = str(item.get("language", "")).strip()
        if not TEMPLATE_NAME.match(name):
            raise ValidationError(
                gettext("%(name)r is not a template name (a-z, 0-9 and _).") % {"name": name}
            )
        if not LANGUAGE_CODE.match(language):
            raise ValidationError(
                gettext("%(name)s: %(language)r is not a language code such as en_US.")
                % {"name": name, "language": language}
            )
        if name in seen:
            raise ValidationError(
                gettext("The template %(name)s is listed twice.") % {"name": name}
            )
        seen.add(name)
        entry = {"name": name, "language": language}
        if str(item.get("text", "")).strip():
            entry["text"] = str(item["text"]).strip()
        cleaned.append(entry)
    return cleaned


class WhatsAppOutbound(models.Model):
    """What one outbox row sends through WhatsApp, and what Meta said of it since."""

    class State(models.TextChoices):
        ACCEPTED = "", gettext_lazy("Accepted")  # the API took it (our OutboundMessage is SENT)
        SENT = "sent", gettext_lazy("Sent")
        DELIVERED = "delivered", gettext_lazy("Delivered")
        READ = "read", gettext_lazy("Read")
        FAILED = "failed", gettext_lazy("Failed")

    outbound = models.OneToOneField(
        OutboundMessage, on_delete=models.CASCADE, related_name="whatsapp"
    )
    to = models.CharField(
        max_length=64, help_text=gettext_lazy("The contact's WhatsApp id (wa_id).")
    )
    template_name = models.CharField(max_length=512, blank=True)
    template_language = models.CharField(max_length=16, blank=True)
    state = models.CharField(max_length=9, choices=State, blank=True, default=State.ACCEPTED)
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    error_code = models.CharField(max_length=32, blank=True)
    error_title = models.CharField(max_length=500, blank=True)

    class Meta:
        verbose_name = gettext_lazy("WhatsApp message sent")
        verbose_name_plural = gettext_lazy("WhatsApp messages sent")

    def __str__(self) -> str:
        return gettext("WhatsApp to %(to)s (%(state)s)") % {
            "to": self.to,
            "state": self.get_state_display(),
        }

    @property
    def is_template(self) -> bool:
        return bool(self.template_name)
