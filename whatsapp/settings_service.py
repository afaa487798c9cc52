"""The writer of a WhatsApp channel's `WhatsAppSettings` for its Details tab
(`whatsapp.settings_panel`), and the check behind the tab's "Test the token".

`save_whatsapp_settings` owns its transaction, creates the settings row when the channel has
none, refuses bad input with a `ValidationError` keyed by field (having written nothing) and
records what changed in the channel's change history
(`channels_cfg.services.record_settings_change`, section Details, fields "WhatsApp · …").
The three secrets — the verify token, the access token and the app secret — appear there
only as "changed", never with their value.

`check_token` asks the Graph API about the phone number (`whatsapp.graph.phone_number`) and
says in plain words what Meta answered; it writes nothing. The stored token is only ever
sent to the stored API address: to test another address, the token must be typed.

The approved templates are edited as text, one per line, `name | language | text` (the text
optional, a line break inside it written `\\n`): `templates_text` and `parse_templates`.
"""

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.utils.translation import gettext, gettext_lazy

from channels_cfg.services import record_settings_change
from helpdesk.models import Channel, User
from whatsapp import graph
from whatsapp.models import HOST_NAME, WhatsAppSettings
from whatsapp.webhook import KIND

# What the page edits, in page order, with its label in the history (the history keeps
# the words of the moment, as text: `channels_cfg.services`).
LABELS = {
    "api_base_url": gettext_lazy("API base URL"),
    "phone_number_id": gettext_lazy("Phone number id"),
    "access_token": gettext_lazy("Access token"),
    "verify_token": gettext_lazy("Verify token"),
    "app_secret": gettext_lazy("App secret"),
    "templates": gettext_lazy("Approved templates"),
    "media_hosts": gettext_lazy("Media hosts"),
}
PREFIX = "WhatsApp · "
SECRETS = ("access_token", "verify_token", "app_secret")
PLAIN = ("api_base_url", "phone_number_id", "templates", "media_hosts")
# The secrets that may be removed (the verify token may not: the handshake needs one),
# with the name of the flag that removes each.
REMOVE = {"access_token": "remove_access_token", "app_secret": "remove_app_secret"}
BOTH = {
    "access_token": gettext_lazy(
        "Either type a new access token or remove the stored one, not both."
    ),
    "app_secret": gettext_lazy("Either type a new app secret or remove the stored one, not both."),
}
ACCEPTED = {*PLAIN, *SECRETS, *REMOVE.values()}
# Meta's codes for a token it does not accept: invalid or expired token, invalid session,
# permission missing (developers.facebook.com, Graph API error codes).
TOKEN_CODES = {10, 102, 190, 200}
UNKNOWN_OBJECT = 100
TOKEN_CHARS = re.compile(r"^[\x21-\x7e]+$")  # printable ASCII, no spaces
LONG_TEXT = 120
MASK = "••••"
MASKED_FROM_LENGTH = 8  # a shorter "token" is a test value; masking it would garble words
TOKEN_WORDS = gettext_lazy(
    "A token has no spaces and only plain letters, digits and signs: paste it again."
)


def _refuse_unless_whatsapp(channel: Channel) -> None:
    if channel.policy.intake != KIND:
        raise ValidationError(gettext("Only a WhatsApp channel has WhatsApp settings."))


# ---------------------------------------------------------------------------------------
# Templates as text
# ---------------------------------------------------------------------------------------


def _template_line(template: dict) -> str:
    parts = [str(template.get("name", "")), str(template.get("language", ""))]
    text = str(template.get("text") or "")
    if text:
        parts.append(text.replace("\r\n", "\n").replace("\n", "\\n"))
    return " | ".join(parts)


def templates_text(templates: list[dict]) -> str:
    """The templates as the page edits them, one line each."""
    return "\n".join(_template_line(t) for t in templates or [])


def parse_templates(text: str) -> list[dict]:
    """The lines `name | language | text` as `WhatsAppSettings.templates` entries (checked
    by `clean_templates` when saved). `ValidationError` for a line without both a name and
    a language."""
    templates, problems = [], []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = [part.strip() for part in line.split("|", 2)]
        if len(parts) < 2 or not parts[0] or not parts[1]:
            problems.append(
                gettext(
                    "Line %(number)s: give the name and the language, separated by |, "
                    "e.g. follow_up | en_US | Hello, we have an answer for you."
                )
                % {"number": number}
            )
            continue
        entry = {"name": parts[0], "language": parts[1]}
        if len(parts) == 3 and parts[2]:
            entry["text"] = parts[2].replace("\\n", "\n")
        templates.append(entry)
    if problems:
        raise ValidationError(problems)
    return templates


# ---------------------------------------------------------------------------------------
# Saving
# ---------------------------------------------------------------------------------------


def _short(text: str) -> str:
    text = " ".join(text.split())
    if not text:
        return gettext("(empty)")
    return text if len(text) <= LONG_TEXT else text[: LONG_TEXT - 1] + "…"


def _list_change(label: str, old: list[str], new: list[str], empty: str) -> dict | None:
    if old == new:
        return None
    return {
        "field": f"{PREFIX}{label}",
        "before": _short(", ".join(old)) if old else empty,
        "after": _short(", ".join(new)) if new else empty,
        "added": [_short(item) for item in new if item not in old],
        "removed": [_short(item) for item in old if item not in new],
    }


def _changes(before: dict, after: WhatsAppSettings) -> list[dict]:
    changes = []
    for name, label in LABELS.items():
        old, new = before[name], getattr(after, name)
        if name in SECRETS:
            if old != new:
                changes.append(
                    {
                        "field": f"{PREFIX}{label}",
                        "before": gettext("(hidden)") if old else gettext("(none)"),
                        "after": gettext("changed") if new else gettext("(none)"),
                    }
                )
        elif name == "templates":
            lines = [_template_line(t) for t in old or []], [_template_line(t) for t in new]
            change = _list_change(label, *lines, empty=gettext("(none)"))
            if change:
                names = [f"{t['name']} ({t['language']})" for t in old or []]
                change["before"] = _short(", ".join(names)) if names else gettext("(none)")
                names = [f"{t['name']} ({t['language']})" for t in new]
                change["after"] = _short(", ".join(names)) if names else gettext("(none)")
                changes.append(change)
        elif name == "media_hosts":
            change = _list_change(label, list(old or []), list(new), empty=gettext("(none)"))
            if change:
                changes.append(change)
        elif old != new:
            changes.append(
                {"field": f"{PREFIX}{label}", "before": _short(old), "after": _short(new)}
            )
    return changes


def _locked_settings(channel: Channel) -> WhatsAppSettings:
    WhatsAppSettings.objects.get_or_create(channel=channel)
    locked = WhatsAppSettings.objects.select_for_update().get(channel=channel)
    locked.channel = channel
    return locked


def _problems(wa: WhatsAppSettings, *, typed: dict, removed: dict) -> dict:
    """The reasons to refuse these settings that the model does not say, or says less
    plainly, by field (empty: none)."""
    errors: dict[str, list[str]] = {}

    def refuse(name: str, message: str) -> None:
        errors.setdefault(name, []).append(message)

    if not wa.phone_number_id:
        refuse(
            "phone_number_id",
            gettext(
                "Give the phone number id: WhatsApp Manager › Phone numbers shows it (digits, "
                "not the number itself)."
            ),
        )
    if not wa.verify_token:
        refuse(
            "verify_token",
            gettext(
                "Type a verify token: any long random text. Give Meta the same, with the "
                "callback URL."
            ),
        )
    if wa.access_token and not TOKEN_CHARS.match(wa.access_token):
        refuse("access_token", str(TOKEN_WORDS))
    for name, flag in REMOVE.items():
        if typed[name] and removed[name]:
            refuse(flag, str(BOTH[name]))
    hosts = wa.media_hosts if isinstance(wa.media_hosts, list) else []
    for host in hosts:
        if not HOST_NAME.match(host):
            refuse(
                "media_hosts",
                gettext(
                    "“%(host)s” is not a host name: give the name alone, e.g. lookaside.fbsbx.com."
                )
                % {"host": host},
            )
    return errors


def save_whatsapp_settings(*, channel: Channel, data: dict, actor: User | None) -> list[dict]:
    """Save the WhatsApp settings of the Details tab; returns the changes recorded ([]:
    none).

    `data` holds any of `api_base_url`, `phone_number_id` (texts), `templates` (a list of
    {"name", "language", "text"?}), `media_hosts` (a list of host names) — missing keys keep
    their value — and the secrets `access_token`, `verify_token`, `app_secret` (a new value;
    "" keeps the stored one; surrounding spaces are dropped) with the flags
    `remove_access_token` and `remove_app_secret`. Raises `ValidationError` by field and
    writes nothing then."""
    _refuse_unless_whatsapp(channel)
    unknown = set(data) - ACCEPTED
    if unknown:
        raise TypeError(f"save_whatsapp_settings() cannot change {', '.join(sorted(unknown))}")
    typed = {name: str(data.get(name) or "").strip() for name in SECRETS}
    removed = {name: bool(data.get(flag)) for name, flag in REMOVE.items()}
    with transaction.atomic():
        wa = _locked_settings(channel)
        before = {name: getattr(wa, name) for name in LABELS}
        for name in PLAIN:
            if name not in data:
                continue
            value = data[name]
            if isinstance(value, str):
                value = value.strip()
            elif name == "media_hosts" and isinstance(value, list):
                value = [str(host).strip().lower() for host in value if str(host).strip()]
            setattr(wa, name, value)
        for name in SECRETS:
            if typed[name]:
                setattr(wa, name, typed[name])
            elif removed.get(name):
                setattr(wa, name, "")
        errors: dict[str, list[str]] = {}
        try:
            wa.full_clean(exclude=["channel"])  # lengths, URL, digits, templates, hosts
        except ValidationError as exc:
            errors = exc.message_dict
        errors.update(_problems(wa, typed=typed, removed=removed))  # the plainer words win
        if errors:
            raise ValidationError(errors)
        changes = _changes(before, wa)
        if not changes:
            return []
        wa.save(update_fields=[*LABELS])
        record_settings_change(channel=channel, actor=actor, changes=changes)
    return changes


# ---------------------------------------------------------------------------------------
# Test the token
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    message: str


def _why_no_answer(exc: BaseException | None) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return gettext("nothing within %(seconds)s seconds") % {
            "seconds": f"{settings.WHATSAPP_HTTP_TIMEOUT_SECONDS:g}"
        }
    if isinstance(exc, httpx.ConnectError) and "refused" in str(exc).lower():
        return gettext("connection refused")
    if exc is None:
        return gettext("no answer")
    return f"{type(exc).__name__}: {exc}"


def _meta_words(error: dict, status: int) -> str:
    """Meta's error as it says it: "(#190) Error validating access token: …"."""
    message = " ".join(str(error.get("message") or "").split())
    code = error.get("code")
    data = error.get("error_data")
    details = str(data.get("details") or "") if isinstance(data, dict) else ""
    if not message:
        return gettext("HTTP %(status)s, without an error message.") % {"status": status}
    if code is not None and not message.startswith("(#"):
        message = f"(#{code}) {message}"
    if details and details not in message:
        message = f"{message} — {details}"
    return message


def _masked(text: str, token: str) -> str:
    """At most 400 characters of `text`, any occurrence of the token masked."""
    if len(token) >= MASKED_FROM_LENGTH:
        text = text.replace(token, MASK)
    return text[:400]


def _typed_problem(base: str, phone_number_id: str, token: str) -> str:
    try:
        URLValidator(schemes=["http", "https"])(base)
    except ValidationError:
        return gettext("Give the API base URL first, e.g. https://graph.facebook.com/v21.0.")
    if not phone_number_id.isdigit():
        return gettext(
            "Give the phone number id first (digits, from WhatsApp Manager › Phone numbers)."
        )
    if token and not TOKEN_CHARS.match(token):
        return str(TOKEN_WORDS)
    return ""


def check_token(
    *,
    stored: WhatsAppSettings | None,
    api_base_url: str,
    phone_number_id: str,
    typed_token: str = "",
    remove_token: bool = False,
) -> CheckResult:
    """`GET <base>/<phone number id>` with the typed token, else the stored one (only to the
    stored API address), and Meta's answer in plain words. The token never appears in it."""
    base = api_base_url.strip().rstrip("/")
    phone_number_id = phone_number_id.strip()
    token = typed_token.strip()
    problem = _typed_problem(base, phone_number_id, token)
    if problem:
        return CheckResult(False, problem)
    if not token:
        if remove_token:
            return CheckResult(
                False, gettext("Type a token to test: the stored one is to be removed.")
            )
        if stored is None or not stored.access_token:
            return CheckResult(False, gettext("Type the access token first: none is stored."))
        if base != stored.api_base_url:
            return CheckResult(
                False,
                gettext(
                    "The stored token is only sent to the saved API base URL "
                    "(%(saved)s): type the token to test it at %(base)s."
                )
                % {"saved": stored.api_base_url, "base": base},
            )
        token = stored.access_token
    target = WhatsAppSettings(
        api_base_url=base, phone_number_id=phone_number_id, access_token=token
    )
    where = urlsplit(base).netloc
    try:
        status, body = graph.phone_number(target)
    except graph.GraphError as exc:
        return CheckResult(
            False,
            gettext("No answer from %(where)s: %(why)s.")
            % {"where": where, "why": _why_no_answer(exc.__cause__)},
        )
    if status == 200:
        return _reachable(body, where=where, phone_number_id=phone_number_id, token=token)
    error = body.get("error") if isinstance(body.get("error"), dict) else {}
    words = _masked(_meta_words(error, status), token)
    code = error.get("code")
    if status == 401 or code in TOKEN_CODES:
        return CheckResult(False, gettext("Meta refused the token: %(words)s") % {"words": words})
    if code == UNKNOWN_OBJECT:
        return CheckResult(
            False,
            gettext(
                "Meta knows no phone number %(id)s that this token may see (check "
                "the id in WhatsApp Manager › Phone numbers): %(words)s"
            )
            % {"id": phone_number_id, "words": words},
        )
    return CheckResult(
        False,
        gettext("%(where)s answered HTTP %(status)s: %(words)s")
        % {"where": where, "status": status, "words": words},
    )


def _reachable(body: dict, *, where: str, phone_number_id: str, token: str) -> CheckResult:
    number = " ".join(str(body.get("display_phone_number") or "").split())
    if not number:
        return CheckResult(
            False,
            gettext(
                "%(where)s answered, but not with a phone number: is the API base URL the Graph "
                "API, and %(id)s the phone number id (WhatsApp Manager › Phone numbers)?"
            )
            % {"where": where, "id": phone_number_id},
        )
    name = " ".join(str(body.get("verified_name") or "").split())
    if name:
        message = gettext(
            "Meta answered: the number %(number)s (display name %(name)s) is reachable with "
            "this token."
        ) % {"number": number, "name": name}
    else:
        message = gettext("Meta answered: the number %(number)s is reachable with this token.") % {
            "number": number
        }
    return CheckResult(True, _masked(message, token))
