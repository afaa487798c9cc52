"""The two signed values of a form page (django.core.signing, keyed by SECRET_KEY).

**The form token** — a hidden field written when the page is rendered: the form's public
id, a fresh submission id (128 random bits; the `InboundEvent.source_id`, so a double-click
or a browser's resubmission is one submission) and a short hash of the visitor token the
page was rendered for. Signed with a timestamp: a token older than
FORMS_TOKEN_MAX_AGE_SECONDS is refused (the page asks to press Send again, with a new one).

**The visitor cookie** (`hd_visitor`) — a random visitor token, signed, HttpOnly, only sent
to `/f/`. It ties a browser to a `Contact.visitor_token` (see identity.py). Over HTTPS it is
`SameSite=None; Secure`, so that a form embedded in an iframe on another site still
recognises its visitor where the browser allows third-party cookies; over plain HTTP
(development) `SameSite=Lax`, as browsers refuse `None` without `Secure`.

CSRF: the page is exempt from Django's CSRF middleware, whose cookie (SameSite=Lax) a
browser does not send from inside a cross-site iframe — every embedded form would fail.
What a forged cross-site POST could abuse is the visitor cookie: sending a message *as*
that visitor. So the cookie only counts when the form token was issued for the same
visitor token: an attacker can fetch a valid form token, but only one bound to a visitor
of their own, never to the victim's cookie (which they cannot read). A forged POST is then
at most an anonymous submission, as anyone may send — and it is rate limited.
"""

import hashlib
import re
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.core import signing

FORM_SALT = "webforms.form-token"
VISITOR_COOKIE = "hd_visitor"
VISITOR_SALT = "webforms.visitor"
COOKIE_PATH = "/f/"
VISITOR_TOKEN = re.compile(r"^[A-Za-z0-9_-]{43}$")  # secrets.token_urlsafe(32)
SUBMISSION_ID = re.compile(r"^[A-Za-z0-9_-]{22}$")  # secrets.token_urlsafe(16)


class BadToken(ValueError):
    """The form token is missing, forged, for another form or expired (`expired`)."""

    def __init__(self, reason: str, *, expired: bool = False) -> None:
        super().__init__(reason)
        self.expired = expired


@dataclass(frozen=True)
class FormToken:
    submission_id: str
    visitor_hash: str  # "" when the page was rendered without a visitor token

    def issued_for(self, visitor_token: str | None) -> bool:
        return bool(visitor_token) and visitor_hash(visitor_token) == self.visitor_hash


def visitor_hash(visitor_token: str) -> str:
    return hashlib.sha256(visitor_token.encode()).hexdigest()[:24]


def new_visitor_token() -> str:
    return secrets.token_urlsafe(32)


def issue_form_token(*, public_id: str, visitor_token: str | None) -> str:
    payload = {
        "f": public_id,
        "s": secrets.token_urlsafe(16),
        "v": visitor_hash(visitor_token) if visitor_token else "",
    }
    return signing.dumps(payload, salt=FORM_SALT)


def read_form_token(token: str, *, public_id: str) -> FormToken:
    try:
        data = signing.loads(token, salt=FORM_SALT, max_age=settings.FORMS_TOKEN_MAX_AGE_SECONDS)
    except signing.SignatureExpired as exc:
        raise BadToken("expired", expired=True) from exc
    except (signing.BadSignature, ValueError, TypeError) as exc:
        raise BadToken("not a token of ours") from exc
    if not isinstance(data, dict) or data.get("f") != public_id:
        raise BadToken("a token of another form")
    submission_id, bound = data.get("s"), data.get("v")
    if not isinstance(submission_id, str) or not SUBMISSION_ID.match(submission_id):
        raise BadToken("no submission id")
    return FormToken(
        submission_id=submission_id, visitor_hash=bound if isinstance(bound, str) else ""
    )


def read_visitor(request) -> str | None:
    """The visitor token of a valid cookie, or None (no cookie, or not signed by us)."""
    value = request.get_signed_cookie(VISITOR_COOKIE, default=None, salt=VISITOR_SALT)
    return value if isinstance(value, str) and VISITOR_TOKEN.match(value) else None


def set_visitor_cookie(response, request, visitor_token: str) -> None:
    secure = request.is_secure()
    response.set_signed_cookie(
        VISITOR_COOKIE,
        visitor_token,
        salt=VISITOR_SALT,
        max_age=settings.FORMS_VISITOR_COOKIE_DAYS * 24 * 3600,
        path=COOKIE_PATH,
        httponly=True,
        secure=secure,
        samesite="None" if secure else "Lax",
    )
