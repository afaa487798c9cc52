"""Setting a chat channel up: its settings row, its secrets, and the snippet a website pastes.

The snippet is one tag (the channel's Details tab shows it; so does the admin):

    <script src="https://help.example.com/static/livechat/widget.js"
            data-channel="<public id>" async></script>

The script's address does not change between releases (the unhashed name, which WhiteNoise
serves besides the hashed one), so a pasted snippet keeps working; the widget finds the
helpdesk from its own address, or from `data-helpdesk` when the static files live elsewhere
(a CDN in STATIC_URL).

The Details tab (`livechat.settings_panel`) writes through `save_chat_settings`,
`renew_api_token` and `renew_webhook_secret`: each locks the settings row, refuses bad
input by field having written nothing, and records the change in the channel's history —
a secret only as "changed", never its value.
"""

from html import escape
from urllib.parse import urljoin

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext

from channels_cfg.services import record_settings_change
from helpdesk.models import Channel, User
from helpdesk.services.intake import insert_once
from livechat.models import INTAKE, ChatSettings, normalize_origin

SCRIPT = "livechat/widget.js"


def ensure_chat_settings(channel: Channel) -> ChatSettings:
    """The channel's chat settings, created with the defaults on first use."""
    if channel.policy.intake != INTAKE:
        raise ValidationError(gettext("Only chatflow and custom chat channels have chat settings."))
    insert_once(ChatSettings(channel=channel))
    return ChatSettings.objects.select_related("channel").get(channel=channel)


def demo_served() -> bool:
    """The demo page (/chat/demo/) is for development and trials: served when DEBUG or
    LIVECHAT_DEMO is on."""
    return settings.DEBUG or settings.LIVECHAT_DEMO


def new_api_token(chat: ChatSettings) -> str:
    """Replace the custom chat API's token; returns the raw value, to be shown once."""
    raw = chat.set_api_token()
    chat.save(update_fields=["api_token_hash", "api_token_prefix"])
    return raw


def new_webhook_secret(chat: ChatSettings) -> str:
    """Replace the webhook's signing secret; returns it, to be shown once."""
    secret = chat.set_webhook_secret()
    chat.save(update_fields=["webhook_secret"])
    return secret


def helpdesk_url() -> str:
    return settings.SITE_URL.rstrip("/") + "/"


def script_url() -> str:
    """The widget's stable address (absolute: the snippet runs on another site)."""
    return urljoin(urljoin(helpdesk_url(), settings.STATIC_URL), SCRIPT)


def embed_snippet(chat: ChatSettings) -> str:
    """The one `<script>` tag that embeds the chat of this channel on a web page, as text
    (to show and copy; escape it like any text when rendering)."""
    src = script_url()
    base = helpdesk_url()
    attributes = [f'src="{escape(src)}"', f'data-channel="{escape(chat.public_id)}"']
    if normalize_origin(urljoin(src, "/")) != normalize_origin(base):
        attributes.append(f'data-helpdesk="{escape(base)}"')
    return f"<script {' '.join(attributes)} async></script>"


# ---------------------------------------------------------------------------------------
# The Details tab's writers
# ---------------------------------------------------------------------------------------

HISTORY_PREFIX = "Chat · "
# Field → its name in the history (English, as every channel's history), for each shape of
# chat channel.
WIDGET_FIELDS = {"title": "Title", "greeting": "Greeting", "allowed_origins": "Allowed origins"}
API_FIELDS = {"webhook_url": "Webhook URL", "webhook_secret": "Webhook secret"}
MIN_SECRET_CHARS = 16


def _locked(channel: Channel) -> ChatSettings:
    ensure_chat_settings(channel)
    chat = ChatSettings.objects.select_for_update().get(channel=channel)
    chat.channel = channel
    return chat


def editable_fields(chat: ChatSettings) -> dict[str, str]:
    """What the Details tab edits for this chat (by its kind's policy)."""
    if chat.serves_widget:
        return WIDGET_FIELDS
    if chat.serves_api:
        return API_FIELDS
    return {}


def _history_text(value) -> str:
    if isinstance(value, list):
        return ", ".join(value) or "(none)"
    text = " ".join(str(value).split())
    return text or "(empty)"


def _origin_problems(origins) -> list[str]:
    if not isinstance(origins, list):
        return [gettext("Give one origin per line, e.g. https://www.example.com.")]
    return [
        gettext(
            "“%(line)s” is not a web origin: write the scheme and host (and port) only, "
            "e.g. https://www.example.com."
        )
        % {"line": str(line)[:80]}
        for line in origins
        if not normalize_origin(str(line))
    ]


def save_chat_settings(*, channel: Channel, data: dict, actor: User | None) -> list[dict]:
    """Save the chat settings of the Details tab; returns the changes recorded ([]: none).

    A chatflow's `data` holds any of `title`, `greeting` (texts) and `allowed_origins` (a
    list of origins); a custom chat's `webhook_url` and `webhook_secret` (a new secret of at
    least 16 characters; "" keeps the stored one). Missing keys keep their value. Raises
    `ValidationError` by field and writes nothing then."""
    with transaction.atomic():
        chat = _locked(channel)
        fields = editable_fields(chat)
        unknown = set(data) - set(fields)
        if unknown:
            raise TypeError(f"save_chat_settings() cannot change {', '.join(sorted(unknown))}")
        before = {name: getattr(chat, name) for name in fields}
        errors: dict[str, list[str]] = {}
        for name, value in data.items():
            if isinstance(value, str):
                value = value.strip()
            if name == "webhook_secret":
                if not value:
                    continue
                if len(value) < MIN_SECRET_CHARS:
                    errors[name] = [
                        gettext(
                            "Use at least %(count)s characters, or press “New webhook secret” "
                            "for a random one."
                        )
                        % {"count": MIN_SECRET_CHARS}
                    ]
            if name == "allowed_origins":
                problems = _origin_problems(value)
                if problems:
                    errors[name] = problems
                    continue
            setattr(chat, name, value)
        if not errors:
            try:
                chat.full_clean(exclude=["channel", "public_id"])  # lengths; origins sorted
            except ValidationError as exc:
                errors = exc.message_dict
        if errors:
            raise ValidationError(errors)
        changes = []
        for name, label in fields.items():
            old, new = before[name], getattr(chat, name)
            if old == new:
                continue
            if name == "webhook_secret":
                old_text, new_text = "(hidden)" if old else "(none)", "changed"
            else:
                old_text, new_text = _history_text(old), _history_text(new)
            changes.append({"field": HISTORY_PREFIX + label, "before": old_text, "after": new_text})
        if not changes:
            return []
        chat.save(update_fields=list(fields))
        record_settings_change(channel=channel, actor=actor, changes=changes)
    return changes


def _refuse_unless_api(chat: ChatSettings) -> None:
    if not chat.serves_api:
        raise ValidationError(gettext("Only a custom chat has an API token and a webhook secret."))


def renew_api_token(*, channel: Channel, actor: User | None) -> tuple[ChatSettings, str]:
    """A new custom chat API token (the old one stops working at once), recorded in the
    history as "changed". Returns the settings and the raw token — show it once."""
    with transaction.atomic():
        chat = _locked(channel)
        _refuse_unless_api(chat)
        had_one = bool(chat.api_token_hash)
        raw = new_api_token(chat)
        change = {
            "field": HISTORY_PREFIX + "API token",
            "before": "(hidden)" if had_one else "(none)",
            "after": "changed",
        }
        record_settings_change(channel=channel, actor=actor, changes=[change])
    return chat, raw


def renew_webhook_secret(*, channel: Channel, actor: User | None) -> tuple[ChatSettings, str]:
    """A new random webhook secret (replies are signed with it from now on), recorded in
    the history as "changed". Returns the settings and the secret — show it once."""
    with transaction.atomic():
        chat = _locked(channel)
        _refuse_unless_api(chat)
        had_one = bool(chat.webhook_secret)
        secret = new_webhook_secret(chat)
        change = {
            "field": HISTORY_PREFIX + "Webhook secret",
            "before": "(hidden)" if had_one else "(none)",
            "after": "changed",
        }
        record_settings_change(channel=channel, actor=actor, changes=[change])
    return chat, secret
