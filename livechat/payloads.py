"""What the widget and the custom chat API may send, checked before anything is stored.

A pure module (no database): `widget_message(body)` and `api_message(body)` turn a request
body into a `ChatInput` or raise `BadInput` with the HTTP status and a sentence that says
what to change. Refused: a body that is not a UTF-8 JSON object, a missing or malformed
message id, an empty text or one longer than LIVECHAT_MAX_TEXT_CHARS, a name or address too
long, an address that is not one; text that PostgreSQL cannot store (NUL, lone surrogates)
is refused too, never turned into a 500.
"""

import json
import re
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.formats import number_format
from django.utils.translation import gettext

CLIENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
MAX_NAME = 200
MAX_EMAIL = 254
MAX_CONVERSATION_ID = 128
# C0 controls but tab, line feed and carriage return; DEL.
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_ANY_CONTROL = re.compile(r"[\x00-\x1f\x7f]")  # in an id: no tab or line break either


class BadInput(Exception):
    def __init__(self, status: int, error: str) -> None:
        super().__init__(error)
        self.status, self.error = status, error


@dataclass(frozen=True)
class ChatInput:
    message_id: str
    text: str
    name: str = ""
    email: str = ""
    conversation_id: str = ""  # the API's; the widget's conversation is its token's visitor

    def payload(self) -> dict:
        return {
            "message_id": self.message_id,
            "text": self.text,
            "name": self.name,
            "email": self.email,
            "conversation_id": self.conversation_id,
        }


def _object(body: bytes) -> dict:
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        raise BadInput(400, gettext("The body is not JSON: send a JSON object.")) from None
    if not isinstance(data, dict):
        raise BadInput(400, gettext('Send a JSON object, e.g. {"id": "…", "text": "…"}.'))
    return data


def _storable(value: str, field: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise BadInput(
            400, gettext("%(field)s contains characters that are not text.") % {"field": field}
        ) from None
    return value


def _string(data: dict, field: str, *, limit: int, required: bool = False) -> str:
    value = data.get(field)
    if value is None or (value == "" and not required):
        if required:
            raise BadInput(400, gettext("%(field)s is missing.") % {"field": field})
        return ""
    if not isinstance(value, str):
        raise BadInput(400, gettext("%(field)s must be a string.") % {"field": field})
    value = _storable(value, field)
    if len(value) > limit:
        raise BadInput(
            400,
            gettext("%(field)s is longer than %(limit)s characters.")
            % {"field": field, "limit": limit},
        )
    return value


def _text(data: dict, field: str, limit: int) -> str:
    value = data.get(field)
    if not isinstance(value, str):
        raise BadInput(400, gettext("%(field)s is missing: write a message.") % {"field": field})
    value = _CONTROLS.sub("", _storable(value, field)).strip()
    if not value:
        raise BadInput(400, gettext("The message is empty: write something first."))
    if len(value) > limit:
        raise BadInput(
            413,
            gettext("The message is longer than %(limit)s characters (%(length)s): shorten it.")
            % {
                "limit": number_format(limit, force_grouping=True),
                "length": number_format(len(value), force_grouping=True),
            },
        )
    return value


def _message_id(data: dict, field: str) -> str:
    value = data.get(field)
    if not isinstance(value, str) or not CLIENT_ID.match(value):
        raise BadInput(
            400,
            gettext("%(field)s is missing or not an id (1–64 letters, digits, '_', '-', '.', ':').")
            % {"field": field},
        )
    return value


def _name(data: dict, field: str) -> str:
    return " ".join(_CONTROLS.sub("", _string(data, field, limit=MAX_NAME)).split())


def _email(data: dict, field: str) -> str:
    value = _string(data, field, limit=MAX_EMAIL).strip().lower()
    if value:
        try:
            validate_email(value)
        except ValidationError:
            raise BadInput(
                400, gettext("%(field)s is not an email address.") % {"field": field}
            ) from None
    return value


def widget_message(body: bytes, *, max_text: int) -> ChatInput:
    """`{"id": "<the widget's message id>", "text": "…", "name"?: "…", "email"?: "…"}`."""
    data = _object(body)
    return ChatInput(
        message_id=_message_id(data, "id"),
        text=_text(data, "text", max_text),
        name=_name(data, "name"),
        email=_email(data, "email"),
    )


def api_message(body: bytes, *, max_text: int) -> ChatInput:
    """`{"conversation_id": "…", "message_id": "…", "text": "…", "contact_name"?: "…",
    "contact_email"?: "…"}`."""
    data = _object(body)
    conversation = _string(data, "conversation_id", limit=MAX_CONVERSATION_ID, required=True)
    if not conversation.strip() or _ANY_CONTROL.search(conversation):
        raise BadInput(400, gettext("conversation_id must be printable text (1–128 characters)."))
    return ChatInput(
        message_id=_message_id(data, "message_id"),
        text=_text(data, "text", max_text),
        name=_name(data, "contact_name"),
        email=_email(data, "contact_email"),
        conversation_id=conversation,
    )
