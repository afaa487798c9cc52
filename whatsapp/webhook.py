"""The webhook's two halves, for `whatsapp/views.py`: Meta's verification handshake (GET) and
a delivery (POST), verified, then stored raw first — one `InboundEvent` per message and per
status, all in one transaction — and processed later by a worker
(`whatsapp.tasks.process_whatsapp_task`, through `settings.INTAKE_TASKS`).

The delivery's bytes are kept once, on the first event it stored (`raw`; the others name
that event in `headers["delivery_event"]`); each event's `payload` is its own message or
status with the delivery's metadata and the sender's contact entry.

A delivery whose signature is missing or wrong stores nothing but a rejected event: kind
"whatsapp", status IGNORED, the reason in `error`, at most the first 16 KiB of the body. So
that nobody can fill the database with unsigned posts, rejections are kept as a sample —
at most `WHATSAPP_REJECTIONS_PER_HOUR` per channel and hour (the slot is a hash of the
body; one statement, no counting).
"""

import hashlib
import hmac
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from helpdesk.models import InboundEvent
from helpdesk.services.intake import publish_on_commit, rejection_sample_id, store_inbound
from whatsapp.models import OUTBOUND, WhatsAppSettings
from whatsapp.payload import BadDelivery, parse_delivery, signature_matches

# The intake kind of every event (`InboundEvent.kind`, the key of settings.INTAKE_TASKS).
KIND = OUTBOUND
REJECTED_PREFIX = "rejected:"
REJECTED_RAW_BYTES = 16 * 1024
KEPT_HEADERS = ("Content-Type", "User-Agent", "X-Hub-Signature-256")


class Rejected(Exception):
    """The delivery is refused: `status` is the HTTP status, `reason` the answer."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


@dataclass(frozen=True)
class Stored:
    events: list[int]
    duplicates: int


def settings_for_webhook(channel_id: int) -> WhatsAppSettings | None:
    """The WhatsApp settings of an active WhatsApp channel, or None (the view's 404)."""
    found = (
        WhatsAppSettings.objects.select_related("channel")
        .filter(channel_id=channel_id, channel__is_active=True)
        .first()
    )
    if found is None or found.channel.policy.intake != KIND:
        return None
    return found


def verify_subscription(wa: WhatsAppSettings, params) -> str:
    """The `hub.challenge` to echo when Meta asks to subscribe with our verify token;
    `Rejected` (403) otherwise."""
    mode = params.get("hub.mode", "")
    token = params.get("hub.verify_token", "")
    challenge = params.get("hub.challenge", "")
    if mode != "subscribe" or not wa.verify_token:
        raise Rejected(403, "not a subscription request with the verify token")
    if not hmac.compare_digest(
        token.encode("utf-8", "replace"), wa.verify_token.encode("utf-8", "replace")
    ):
        raise Rejected(403, "not a subscription request with the verify token")
    return challenge[:1024]


def _headers(request_headers) -> dict:
    return {
        name: str(request_headers.get(name, ""))[:500]
        .encode("utf-8", "replace")
        .decode()
        .replace("\x00", "")
        for name in KEPT_HEADERS
        if request_headers.get(name)
    }


def receive_delivery(*, wa: WhatsAppSettings, body: bytes, request_headers) -> Stored:
    """Verify and store one POSTed delivery. Raises `Rejected` (403 signature, 400 not a
    JSON object) — and then nothing is stored but the rejection sample."""
    signature = request_headers.get("X-Hub-Signature-256")
    if not signature_matches(body, signature, wa.app_secret):
        reason = (
            "the X-Hub-Signature-256 header is missing"
            if not signature
            else "the X-Hub-Signature-256 does not match the body signed with the app secret"
        )
        if not wa.app_secret:
            reason = "the channel has no app secret yet: set it in its WhatsApp settings"
        record_rejection(wa=wa, body=body, headers=_headers(request_headers), reason=reason)
        raise Rejected(403, reason)
    try:
        items = parse_delivery(body)
    except BadDelivery as exc:
        raise Rejected(400, f"not a WhatsApp webhook delivery: {exc}") from exc
    headers = _headers(request_headers)
    stored, duplicates = [], 0
    first_event = None
    with transaction.atomic():
        for item in items:
            event, created = store_inbound(
                channel=wa.channel,
                kind=KIND,
                source_id=item.source_id,
                raw=body if first_event is None else b"",
                payload={"item": item.kind, **item.payload},
                headers=headers if first_event is None else {"delivery_event": first_event},
            )
            if not created:
                duplicates += 1
                continue
            if first_event is None:
                first_event = event.pk
            stored.append(event.pk)
            publish_on_commit(event)
    return Stored(events=stored, duplicates=duplicates)


def record_rejection(*, wa: WhatsAppSettings, body: bytes, headers: dict, reason: str) -> bool:
    """Keep a sample of a refused delivery (see the module's docstring); True if stored."""
    source_id = rejection_sample_id(
        digest=hashlib.sha256(body).digest(),
        limit=settings.WHATSAPP_REJECTIONS_PER_HOUR,
        prefix=REJECTED_PREFIX.rstrip(":"),
    )
    if source_id is None:
        return False
    now = timezone.now()
    with transaction.atomic():
        event, created = store_inbound(
            channel=wa.channel,
            kind=KIND,
            source_id=source_id,
            raw=body[:REJECTED_RAW_BYTES],
            payload={"item": "rejected", "size": len(body)},
            headers=headers,
        )
        if created:
            InboundEvent.objects.filter(pk=event.pk).update(
                status=InboundEvent.Status.IGNORED,
                error=f"Rejected with 403: {reason}.",
                processed_at=now,
            )
    return created
