"""Reading a webhook delivery of the WhatsApp Cloud API — pure, no database.

`signature_matches(body, header, secret)`: `X-Hub-Signature-256` is `sha256=` and the hex
HMAC-SHA256 of the raw body with the app secret, compared in constant time.

`parse_delivery(body)` → the delivery's items, one per message and one per status, each
with the source id that recognises its redelivery:

    {"object": "whatsapp_business_account",
     "entry": [{"id": "<WABA id>", "changes": [{"field": "messages", "value": {
         "metadata": {"phone_number_id": "…", "display_phone_number": "…"},
         "contacts": [{"wa_id": "4790000001", "profile": {"name": "Kim"}}],
         "messages": [{"id": "wamid.…", "from": "4790000001", "type": "text", …}],
         "statuses": [{"id": "wamid.…", "status": "delivered", "timestamp": "…", …}]}}]}]}

A message's source id is its wamid; a status's is `status:<wamid>:<status>` (one event per
state of a message). A delivery with neither (another webhook field, or an odd shape) is
one item of kind OTHER, recognised by the SHA-256 of the body. Whatever the JSON holds, the
parser never raises for its shape — only `BadDelivery` for bytes that are not a JSON object
— and every string it returns can be stored in PostgreSQL (no NUL, no lone surrogate).
"""

import hashlib
import hmac
import json
import math
from dataclasses import dataclass, field

SIGNATURE_PREFIX = "sha256="
MESSAGE, STATUS, OTHER = "message", "status", "other"
MAX_DEPTH = 64
MAX_ID = 255


class BadDelivery(ValueError):
    """The body is not a JSON object we can keep (the webhook answers 400)."""


@dataclass(frozen=True)
class Item:
    kind: str  # MESSAGE, STATUS or OTHER
    source_id: str
    payload: dict = field(default_factory=dict)


def signature_matches(body: bytes, header: str | None, secret: str) -> bool:
    if not secret or not header or not header.startswith(SIGNATURE_PREFIX):
        return False
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    given = header[len(SIGNATURE_PREFIX) :].strip().lower()
    return hmac.compare_digest(expected.encode(), given.encode("utf-8", "replace"))


def sign(body: bytes, secret: str) -> str:
    """The header value Meta would send (tests and the benchmark sign with it)."""
    return SIGNATURE_PREFIX + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _refuse_constant(name: str):
    raise BadDelivery(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise BadDelivery(f"the number {text[:40]} is too large")
    return value


def _storable(value, depth: int = 0):
    """A copy whose strings PostgreSQL can store: NUL and lone surrogates replaced."""
    if depth > MAX_DEPTH:
        raise BadDelivery(f"nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, str):
        return value.encode("utf-8", "replace").decode("utf-8").replace("\x00", "\ufffd")
    if isinstance(value, list):
        return [_storable(v, depth + 1) for v in value]
    if isinstance(value, dict):
        return {_storable(k, depth + 1): _storable(v, depth + 1) for k, v in value.items()}
    return value


def load(body: bytes) -> dict:
    """The body as a JSON object, or `BadDelivery` saying why not."""
    try:
        data = json.loads(body, parse_constant=_refuse_constant, parse_float=_finite)
    except BadDelivery:
        raise
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError …
        raise BadDelivery(f"the body is not JSON ({type(exc).__name__})") from exc
    if not isinstance(data, dict):
        raise BadDelivery("the body is JSON but not an object")
    return _storable(data)


def _dicts(value) -> list[dict]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _text(value) -> str:
    return value.strip() if isinstance(value, str) else ""


def _id_or_none(value) -> str | None:
    text = _text(value)
    return text if text and len(text) <= MAX_ID else None


def body_digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def parse_delivery(body: bytes) -> list[Item]:
    """Every message and status of one delivery, in order (see the module's docstring)."""
    data = load(body)
    items: list[Item] = []
    for entry in _dicts(data.get("entry")):
        for change in _dicts(entry.get("changes")):
            value = change.get("value")
            if not isinstance(value, dict):
                continue
            metadata = value.get("metadata") if isinstance(value.get("metadata"), dict) else {}
            contacts = _dicts(value.get("contacts"))
            common = {"field": _text(change.get("field")), "metadata": metadata}
            for message in _dicts(value.get("messages")):
                wamid = _id_or_none(message.get("id"))
                sender = _text(message.get("from"))
                contact = next((c for c in contacts if _text(c.get("wa_id")) == sender), None)
                payload = {**common, "message": message, "contact": contact or {}}
                source = wamid or f"unreadable:{body_digest(json.dumps(message).encode())}"
                items.append(Item(MESSAGE, source, payload))
            for status in _dicts(value.get("statuses")):
                wamid, state = _id_or_none(status.get("id")), _id_or_none(status.get("status"))
                payload = {**common, "status": status}
                if wamid and state:
                    source = f"status:{wamid}:{state}"
                else:
                    source = f"unreadable:{body_digest(json.dumps(status).encode())}"
                items.append(Item(STATUS, source, payload))
    if not items:
        items.append(Item(OTHER, f"other:{body_digest(body)}", {"delivery": data}))
    return items
