"""The Graph API calls we make (httpx), and the one rule of which failures are worth another
try.

- `send_message(wa, body)` — `POST <base>/<phone number id>/messages` with `Authorization:
  Bearer <token>`; returns the wamid Meta gave the message (`messages[0].id`).
- `media_info(wa, media_id)` — `GET <base>/<media id>`: the media's download URL, type and
  size; `download(wa, url, limit)` fetches it, only from the API's own host or a configured
  media host, over the API's scheme, without following redirects, at most `limit` bytes.
- `phone_number(wa)` — `GET <base>/<phone number id>`: what Meta answers about the number
  with this token (the Details tab's "Test the token").

Temporary (`GraphError.temporary`): no answer (timeout, connection refused or reset), HTTP
429 or 5xx, and Meta's rate-limit and "try again" codes, which come with a 400. Anything
else Meta refused is permanent, described in Meta's own words.
"""

from dataclasses import dataclass
from urllib.parse import quote, urlsplit

import httpx
from django.conf import settings

from whatsapp.models import WhatsAppSettings

# Meta error codes that mean "later": API unknown / service / app and pair rate limits,
# throughput, temporarily unavailable (developers.facebook.com, Cloud API error codes).
TEMPORARY_CODES = {1, 2, 4, 17, 341, 80007, 130429, 131016, 131056, 133004}


class GraphError(Exception):
    def __init__(self, description: str, *, temporary: bool, status: int | None = None):
        super().__init__(description)
        self.description, self.temporary, self.status = description, temporary, status


class Refused(GraphError):
    """We refuse to download from that address (not an allowed host)."""

    def __init__(self, description: str) -> None:
        super().__init__(description, temporary=False)


@dataclass(frozen=True)
class MediaInfo:
    url: str
    mime_type: str
    file_size: int | None


def _client() -> httpx.Client:
    return httpx.Client(
        timeout=settings.WHATSAPP_HTTP_TIMEOUT_SECONDS, follow_redirects=False, trust_env=False
    )


def _auth(wa: WhatsAppSettings) -> dict:
    return {"Authorization": f"Bearer {wa.access_token}"}


def describe_error(response: httpx.Response) -> GraphError:
    """Meta's `{"error": {"message", "code", "error_data": {"details"}}}` as a GraphError."""
    try:
        error = response.json().get("error") or {}
    except ValueError:
        error = {}
    if not isinstance(error, dict):
        error = {}
    code = error.get("code")
    details = (
        error.get("error_data", {}).get("details", "")
        if isinstance(error.get("error_data"), dict)
        else ""
    )
    text = str(error.get("message") or response.reason_phrase or "no message")
    if details and str(details) not in text:
        text = f"{text} — {details}"
    description = f"WhatsApp API {response.status_code}"
    description += f" (code {code}): {text}" if code is not None else f": {text}"
    temporary = (
        response.status_code == 429 or response.status_code >= 500 or code in TEMPORARY_CODES
    )
    return GraphError(description[:2000], temporary=temporary, status=response.status_code)


def _no_answer(exc: httpx.HTTPError) -> GraphError:
    return GraphError(
        f"WhatsApp API unreachable: {type(exc).__name__}: {exc}"[:2000], temporary=True
    )


def send_message(wa: WhatsAppSettings, body: dict) -> str:
    url = f"{wa.api_base_url}/{quote(wa.phone_number_id, safe='')}/messages"
    try:
        with _client() as client:
            response = client.post(url, json=body, headers=_auth(wa))
    except httpx.HTTPError as exc:
        raise _no_answer(exc) from exc
    if response.status_code != 200:
        raise describe_error(response)
    try:
        return str(response.json()["messages"][0]["id"])
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise GraphError(
            f"WhatsApp API answered 200 without a message id: {response.text[:200]}",
            temporary=False,
        ) from exc


def media_info(wa: WhatsAppSettings, media_id: str) -> MediaInfo:
    url = f"{wa.api_base_url}/{quote(media_id, safe='')}"
    try:
        with _client() as client:
            response = client.get(url, headers=_auth(wa))
    except httpx.HTTPError as exc:
        raise _no_answer(exc) from exc
    if response.status_code != 200:
        raise describe_error(response)
    try:
        data = response.json()
        size = data.get("file_size")
        return MediaInfo(
            url=str(data["url"]),
            mime_type=str(data.get("mime_type") or "application/octet-stream"),
            file_size=int(size) if size is not None else None,
        )
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise GraphError(
            "WhatsApp API gave no download URL for the media", temporary=False
        ) from exc


def allowed_download(wa: WhatsAppSettings, url: str) -> str | None:
    """Why `url` may not be fetched with our token, or None when it may: the scheme of the
    API's own address (https in production) and its host or one of the media hosts."""
    parts = urlsplit(url)
    api = urlsplit(wa.api_base_url)
    host = (parts.hostname or "").lower()
    allowed = {wa.api_host, *(h.lower() for h in wa.media_hosts or [])}
    if parts.scheme != api.scheme:
        return f"refused to download media over {parts.scheme or 'no scheme'}: only {api.scheme}"
    if host not in allowed:
        return f"refused to download media from {host or 'an address without host'}: only from " + (
            ", ".join(sorted(h for h in allowed if h))
        )
    return None


def download(wa: WhatsAppSettings, url: str, *, limit: int) -> bytes | None:
    """The media's bytes, or None when it is larger than `limit`. `Refused` for an address
    `allowed_download` refuses (checked here too, so no caller can skip it)."""
    refusal = allowed_download(wa, url)
    if refusal:
        raise Refused(refusal)
    try:
        with _client() as client, client.stream("GET", url, headers=_auth(wa)) as response:
            if response.status_code != 200:
                response.read()
                raise describe_error(response)
            chunks, size = [], 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > limit:
                    return None
                chunks.append(chunk)
    except httpx.HTTPError as exc:
        raise _no_answer(exc) from exc
    return b"".join(chunks)


def phone_number(wa: WhatsAppSettings) -> tuple[int, dict]:
    """Meta's HTTP status and JSON object for `GET <base>/<phone number id>` with the token
    ({} when the answer is not a JSON object): on 200 the number's `display_phone_number`
    and `verified_name`, else an `error`. GraphError (temporary) when nothing answered."""
    url = f"{wa.api_base_url}/{quote(wa.phone_number_id, safe='')}"
    try:
        with _client() as client:
            response = client.get(url, headers=_auth(wa))
    except httpx.HTTPError as exc:
        raise _no_answer(exc) from exc
    try:
        body = response.json()
    except ValueError:
        body = {}
    return response.status_code, body if isinstance(body, dict) else {}
