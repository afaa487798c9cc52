"""Live chat's own rows: a chat channel's settings, and the conversations that tie a visitor
(or a custom chat's conversation id) to one contact and one ticket.

Which channels are chat channels is the kind policy's business (`helpdesk.channel_kinds`):
`policy.intake == "chat"` — the widget's when `policy.outbound == "chat"` (a chatflow: our
widget fetches the agents' replies), the custom chat's when `policy.outbound ==
"chat_webhook"` (replies are POSTed to the channel's webhook).

`ChatSettings` holds one secret kept as given, because we must use it: the webhook secret
(the key of the `X-Helpdesk-Signature` HMAC). The custom chat's API token is kept only as
its SHA-256, like `ApiToken`. **No page may render `webhook_secret` or `api_token_hash`
back into HTML**: the admin's form shows an empty password field that keeps the stored value
when left blank, and a new token or secret is shown once, when it is set.
"""

import hashlib
import re
import secrets
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext, gettext_lazy, gettext_noop

from helpdesk.channel_kinds import POLICIES, kinds_sending_by
from helpdesk.models import Channel, Contact, OutboundMessage, Ticket

INTAKE = "chat"  # `KindPolicy.intake` of the channels this app serves
WIDGET = "chat"  # `KindPolicy.outbound`: the widget fetches replies (a chatflow)
WEBHOOK = "chat_webhook"  # `KindPolicy.outbound`: replies are POSTed to a webhook (custom chat)
# Stored as given (a model default); while a chat keeps one, the widget gets it in the
# visitor's language (`shown_text`).
DEFAULT_TITLE = gettext_noop("Chat with us")
DEFAULT_GREETING = gettext_noop("Hello! Write your question below and one of us will answer here.")


def shown_text(value: str, default: str) -> str:
    """A text the admin may change: the default in the active language, else as written."""
    return gettext(default) if value == default else value


def chat_kinds() -> list[str]:
    return [kind for kind, policy in POLICIES.items() if policy.intake == INTAKE]


def widget_kinds() -> tuple[str, ...]:
    """The kinds our widget serves (for queries: rows carry the kind)."""
    return kinds_sending_by(WIDGET)


def webhook_kinds() -> tuple[str, ...]:
    """The kinds whose replies this app POSTs to a webhook."""
    return kinds_sending_by(WEBHOOK)


PUBLIC_ID_CHARS = 32  # the column
# A public id as `new_public_id` makes it (16 URL-safe base64 characters), or any of that
# alphabet up to the column's length: anything else (NUL, a space, 5,000 characters) names
# no chat and is answered without a query.
PUBLIC_ID = re.compile(rf"\A[A-Za-z0-9_-]{{1,{PUBLIC_ID_CHARS}}}\Z")


def new_public_id() -> str:
    """What the embedding page names the channel by (`data-channel`): random, not the id."""
    return secrets.token_urlsafe(12)


def is_public_id(value: str) -> bool:
    return bool(PUBLIC_ID.match(value))


def hash_secret(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def normalize_origin(value: str) -> str:
    """`https://Shop.Example.com/` → `https://shop.example.com`; "" when it is no origin."""
    parts = urlsplit(str(value).strip())
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        return ""
    if parts.path not in {"", "/"} or parts.query or parts.fragment or parts.username:
        return ""
    host = parts.hostname.lower()
    if ":" in host:  # IPv6
        host = f"[{host}]"
    default_port = {"http": 80, "https": 443}[parts.scheme]
    try:
        port = parts.port
    except ValueError:
        return ""
    return f"{parts.scheme}://{host}" + (f":{port}" if port and port != default_port else "")


class ChatSettings(models.Model):
    """How one chat channel meets its visitors: the widget's public id, title and greeting
    and the web origins allowed to embed it (chatflow); the API token and the webhook that
    receives our replies (custom chat)."""

    channel = models.OneToOneField(Channel, on_delete=models.CASCADE, related_name="chat_settings")
    public_id = models.CharField(
        max_length=PUBLIC_ID_CHARS,
        unique=True,
        default=new_public_id,
        help_text=gettext_lazy(
            "The channel's name in the embed snippet (data-channel). Not a secret."
        ),
    )
    title = models.CharField(max_length=80, default=DEFAULT_TITLE)
    greeting = models.CharField(max_length=300, blank=True, default=DEFAULT_GREETING)
    allowed_origins = models.JSONField(
        default=list,
        blank=True,
        help_text=(
            gettext_lazy(
                'Web pages allowed to embed the widget, as origins: ["https://www.example.com"]. '
                "The helpdesk's own address is always allowed."
            )
        ),
    )
    api_token_hash = models.CharField(max_length=64, blank=True, editable=False)
    api_token_prefix = models.CharField(max_length=8, blank=True, editable=False)
    webhook_url = models.URLField(
        max_length=500,
        blank=True,
        help_text=gettext_lazy("Where our replies are POSTed (custom chat)."),
    )
    webhook_secret = models.CharField(
        max_length=255,
        blank=True,
        help_text=gettext_lazy("Signs every webhook request. Never shown again."),
    )

    class Meta:
        verbose_name = "chat settings"
        verbose_name_plural = "chat settings"

    def __str__(self) -> str:
        return f"Chat settings of {self.channel}"

    def clean(self) -> None:
        errors = {}
        if self.channel_id and self.channel.policy.intake != INTAKE:
            errors["channel"] = gettext(
                "Chat settings belong to a chatflow or custom chat channel."
            )
        origins = self.allowed_origins if isinstance(self.allowed_origins, list) else None
        cleaned = [normalize_origin(o) for o in origins or []] if origins is not None else None
        if cleaned is None or not all(cleaned):
            errors["allowed_origins"] = gettext(
                'A list of origins such as ["https://www.example.com"]: scheme and host '
                "(and port), no path."
            )
        else:
            self.allowed_origins = sorted(set(cleaned))
        if self.webhook_url and urlsplit(self.webhook_url).scheme not in {"http", "https"}:
            errors["webhook_url"] = gettext(
                "The webhook's address starts with https:// (or http://)."
            )
        if errors:
            raise ValidationError(errors)

    @property
    def serves_widget(self) -> bool:
        return self.channel.policy.outbound == WIDGET

    @property
    def serves_api(self) -> bool:
        return self.channel.policy.outbound == WEBHOOK

    def allows_origin(self, origin: str) -> bool:
        return normalize_origin(origin) in set(self.allowed_origins or [])

    def set_api_token(self) -> str:
        """A new token for the custom chat API; returns the raw value (show it once)."""
        raw = secrets.token_urlsafe(32)
        self.api_token_hash = hash_secret(raw)
        self.api_token_prefix = raw[:8]
        return raw

    def api_token_matches(self, raw: str) -> bool:
        if not self.api_token_hash or not raw:
            return False
        return secrets.compare_digest(hash_secret(raw), self.api_token_hash)

    def set_webhook_secret(self) -> str:
        self.webhook_secret = secrets.token_urlsafe(32)
        return self.webhook_secret


class Conversation(models.Model):
    """One chat: a widget visitor (their token's visitor key) or a custom chat's
    conversation id on one channel, with its contact and — from the first message on — its
    ticket. Later messages append to that ticket (a closed one reopens) until it has been
    closed for LIVECHAT_NEW_CONVERSATION_AFTER_HOURS: the next message then starts the key's
    next conversation (`number` + 1) with a new ticket. Every row keeps its ticket, so each
    ticket of a visitor still reaches them (`livechat.receivers`) and the widget shows the
    visitor's conversations as one thread."""

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(
        max_length=255,
        help_text=gettext_lazy("The visitor key (widget) or the API's conversation id."),
    )
    number = models.PositiveIntegerField(
        default=1, help_text=gettext_lazy("1 for the key's first conversation, then 2, 3, …")
    )
    contact = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    ticket = models.OneToOneField(
        Ticket, null=True, blank=True, on_delete=models.SET_NULL, related_name="conversation"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "key", "number"], name="livechat_conversation_number_once"
            )
        ]

    def __str__(self) -> str:
        return f"Chat {self.key[:12]} #{self.number} on {self.channel_id}"


class WebhookReply(OutboundMessage):
    """The outbox rows of replies POSTed to a custom chat's webhook (a proxy: the same
    table, shown in the admin with this app's Retry)."""

    class Meta:
        proxy = True
        verbose_name = "reply sent by webhook"
        verbose_name_plural = "replies sent by webhook"
