"""The writer of a calling channel's `CallSettings` for its Details tab
(`calls.settings_panel`): `save_call_settings`.

It owns its transaction, creates the settings row when the channel has none, refuses bad
input with a `ValidationError` keyed by field (having written nothing) and records what
changed in the channel's change history (`channels_cfg.services.record_settings_change`,
section Details, fields "Calls · …"). The Twilio auth token appears there only as
"changed", never with its value.

Values are tidied before they are checked: surrounding spaces dropped, the public base URL
without a trailing slash, the proxy prefix as `/path` (or blank), the caller id without the
spaces and dashes people write in phone numbers.
"""

import re
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext, gettext_lazy, ngettext

from calls.models import KIND, CallSettings
from channels_cfg.services import record_settings_change
from helpdesk.models import Channel, User

# What the page edits, in page order, with its label in the history (the history keeps
# the words of the moment, as text: `channels_cfg.services`).
LABELS = {
    "auth_token": gettext_lazy("Twilio auth token"),
    "public_base_url": gettext_lazy("Public base URL"),
    "proxy_prefix": gettext_lazy("Proxy prefix"),
    "dial_timeout": gettext_lazy("Dial timeout"),
    "caller_id": gettext_lazy("Caller id"),
    "voicemail_max_seconds": gettext_lazy("Longest voicemail"),
}
PREFIX = gettext_lazy("Calls · ")
SECRET = "auth_token"
REMOVE = "remove_auth_token"
PLAIN = tuple(name for name in LABELS if name != SECRET)
SECONDS = ("dial_timeout", "voicemail_max_seconds")
ACCEPTED = {*LABELS, REMOVE}
TOKEN_CHARS = re.compile(r"^[\x21-\x7e]+$")  # printable ASCII, no spaces
PHONE_PUNCTUATION = re.compile(r"[\s-]")


def _refuse_unless_calling(channel: Channel) -> None:
    if channel.policy.intake != KIND:
        raise ValidationError(gettext("Only a calling channel has call settings."))


def _tidy(name: str, value):
    if not isinstance(value, str):
        return value
    value = value.strip()
    if name == "public_base_url":
        return value.rstrip("/")
    if name == "proxy_prefix":
        value = value.strip("/")
        return f"/{value}" if value else ""
    if name == "caller_id":
        return PHONE_PUNCTUATION.sub("", value)
    return value


def _text(name: str, value) -> str:
    if value in (None, ""):
        return gettext("(empty)")
    if name in SECONDS:
        return ngettext("%(count)s second", "%(count)s seconds", value) % {"count": value}
    return str(value)


def _changes(before: dict, after: CallSettings) -> list[dict]:
    changes = []
    for name, label in LABELS.items():
        old, new = before[name], getattr(after, name)
        if old == new:
            continue
        if name == SECRET:
            change = {
                "before": gettext("(hidden)") if old else gettext("(none)"),
                "after": gettext("changed") if new else gettext("(none)"),
            }
        else:
            change = {"before": _text(name, old), "after": _text(name, new)}
        changes.append({"field": f"{PREFIX}{label}", **change})
    return changes


def _locked_settings(channel: Channel) -> CallSettings:
    CallSettings.objects.get_or_create(channel=channel)
    locked = CallSettings.objects.select_for_update().get(channel=channel)
    locked.channel = channel
    return locked


def _problems(call_settings: CallSettings, *, typed: str, remove: bool) -> dict:
    """The reasons to refuse that the model does not say, by field (empty: none)."""
    errors: dict[str, list[str]] = {}
    if typed and remove:
        errors[REMOVE] = [
            gettext("Either type a new auth token or remove the stored one, not both.")
        ]
    if typed and not TOKEN_CHARS.match(typed):
        errors[SECRET] = [
            gettext("An auth token has no spaces: paste it again from the Twilio console.")
        ]
    url = call_settings.public_base_url
    if url:
        parts = urlsplit(url)
        if parts.scheme not in {"http", "https"} or not parts.netloc:
            errors["public_base_url"] = [
                gettext(
                    "Give the address Twilio calls with http:// or https://, e.g. "
                    "https://help.example.com."
                )
            ]
        elif parts.query or parts.fragment:
            errors["public_base_url"] = [
                gettext(
                    "Give only the scheme, host and path, without ? or #: Twilio signs the exact "
                    "address it calls."
                )
            ]
    return errors


def save_call_settings(*, channel: Channel, data: dict, actor: User | None) -> list[dict]:
    """Save the call settings of the Details tab; returns the changes recorded ([]: none).

    `data` holds any of `public_base_url`, `proxy_prefix`, `caller_id` (texts),
    `dial_timeout`, `voicemail_max_seconds` (seconds) — missing keys keep their value —
    and `auth_token` (a new token; "" keeps the stored one) with `remove_auth_token`.
    Raises `ValidationError` by field and writes nothing then."""
    _refuse_unless_calling(channel)
    unknown = set(data) - ACCEPTED
    if unknown:
        raise TypeError(f"save_call_settings() cannot change {', '.join(sorted(unknown))}")
    typed = str(data.get(SECRET) or "").strip()
    remove = bool(data.get(REMOVE))
    with transaction.atomic():
        call_settings = _locked_settings(channel)
        before = {name: getattr(call_settings, name) for name in LABELS}
        for name in PLAIN:
            if name in data:
                setattr(call_settings, name, _tidy(name, data[name]))
        if typed:
            call_settings.auth_token = typed
        elif remove:
            call_settings.auth_token = ""
        errors: dict[str, list[str]] = {}
        try:
            call_settings.full_clean(exclude=["channel"])  # URL, prefix, ranges, E.164
        except ValidationError as exc:
            errors = exc.message_dict
        errors.update(_problems(call_settings, typed=typed, remove=remove))
        if errors:
            raise ValidationError(errors)
        changes = _changes(before, call_settings)
        if not changes:
            return []
        call_settings.save(update_fields=[*LABELS])
        record_settings_change(channel=channel, actor=actor, changes=changes)
    return changes
