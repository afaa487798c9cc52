"""The widget visitor's token: who is chatting, signed by us, kept by the embedding page.

The widget keeps the token in the embedding page's own storage (localStorage of that
origin: first-party wherever the helpdesk runs) and sends it as `Authorization: Bearer …`.
No cookie is involved, so browsers' third-party cookie rules do not matter, CORS requests
need no credentials, and no other page can make a visitor's browser act with it (nothing
ambient to forge a request with: CSRF does not apply).

The token is `django.core.signing` of {"c": channel id, "v": visitor key} (salted, signed
with SECRET_KEY, with its time): a visitor key is 24 random bytes, the conversation's key
and the contact's `visitor_token`. A token of another channel, a forged or altered one, or
one older than LIVECHAT_TOKEN_MAX_AGE_DAYS is refused (the widget then starts a new
conversation).
"""

import re
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.core import signing

SALT = "livechat.visitor"
VISITOR_KEY = re.compile(r"^[A-Za-z0-9_-]{32}$")
MAX_TOKEN = 400


@dataclass(frozen=True)
class Visitor:
    channel_id: int
    key: str


def new_visitor_key() -> str:
    return secrets.token_urlsafe(24)  # 32 characters


def issue(*, channel_id: int, key: str | None = None) -> tuple[str, Visitor]:
    visitor = Visitor(channel_id=channel_id, key=key or new_visitor_key())
    token = signing.dumps({"c": visitor.channel_id, "v": visitor.key}, salt=SALT, compress=False)
    return token, visitor


def read(token: str, *, channel_id: int) -> Visitor | None:
    """The visitor of a valid token for this channel, else None."""
    if not token or len(token) > MAX_TOKEN:
        return None
    max_age = settings.LIVECHAT_TOKEN_MAX_AGE_DAYS * 86400
    try:
        data = signing.loads(token, salt=SALT, max_age=max_age)
    except signing.BadSignature:  # forged, altered, expired (SignatureExpired is one)
        return None
    if not isinstance(data, dict) or data.get("c") != channel_id:
        return None
    key = data.get("v")
    if not isinstance(key, str) or not VISITOR_KEY.match(key):
        return None
    return Visitor(channel_id=channel_id, key=key)


def bearer(request) -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""
