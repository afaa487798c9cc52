"""The HTTP way in: `POST /mail/inbound/<channel id>/` with the raw MIME message as the body
and `Authorization: Bearer <token>` (the channel's endpoint token), for mail services that
forward inbound mail. The mail is stored (raw first) and processed by a worker; the answer
is 202 with the event's id. Every refusal is JSON: 401 bad token, 404 no such active
team-email channel, 413 too large, 415 not a message, 400 empty. A body sent chunked
(`Transfer-Encoding: chunked`, no Content-Length; gunicorn hands it on decoded) is read up
to MAIL_MAX_RAW_BYTES, one byte more telling it is too large."""

from django.conf import settings
from django.db import transaction
from django.http import JsonResponse
from django.utils.translation import gettext
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from helpdesk.models import Channel
from helpdesk.services.intake import publish_on_commit
from mailroom.inbound import store_email
from mailroom.models import MailSettings

ACCEPTED_TYPES = {"message/rfc822", "application/octet-stream", "text/plain"}


def _refuse(status: int, error: str) -> JsonResponse:
    return JsonResponse({"error": error}, status=status)


def _bearer(request) -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _chunked(request) -> bool:
    return not request.META.get("CONTENT_LENGTH") and "chunked" in (
        request.META.get("HTTP_TRANSFER_ENCODING", "").lower()
    )


def _read(request, limit: int) -> bytes:
    """At most `limit` + 1 bytes of the body. Django reads a WSGI body only as far as its
    Content-Length (none: nothing), so a chunked one is read from the server's decoded
    stream; under ASGI the body is already whole."""
    stream = request.META.get("wsgi.input")
    if _chunked(request) and stream is not None:
        return stream.read(limit + 1)
    return request.read(limit + 1)


@csrf_exempt
@require_POST
def inbound_mail(request, channel_id: int):
    mail_settings = (
        MailSettings.objects.select_related("channel")
        .filter(
            channel_id=channel_id, channel__kind=Channel.Kind.TEAM_EMAIL, channel__is_active=True
        )
        .first()
    )
    if mail_settings is None:
        return _refuse(404, gettext("no active team-email channel with mail settings has this id"))
    if not mail_settings.endpoint_token_matches(_bearer(request)):
        return _refuse(401, gettext("missing or wrong token (Authorization: Bearer <token>)"))
    limit = settings.MAIL_MAX_RAW_BYTES
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        return _refuse(
            413, gettext("the message is larger than %(limit)s bytes") % {"limit": limit}
        )
    if not declared and not _chunked(request):
        return _refuse(400, gettext("the body is empty: send the raw message"))
    content_type = request.content_type.lower() if request.content_type else ""
    if content_type not in ACCEPTED_TYPES:
        return _refuse(
            415, gettext("send the raw message as message/rfc822 (or application/octet-stream)")
        )
    raw = _read(request, limit)
    if len(raw) > limit:
        return _refuse(
            413, gettext("the message is larger than %(limit)s bytes") % {"limit": limit}
        )
    if not raw.strip():
        return _refuse(400, gettext("the body is empty: send the raw message"))
    with transaction.atomic():
        event, created = store_email(channel=mail_settings.channel, raw=raw)
        if created:
            publish_on_commit(event)
    return JsonResponse({"event": event.pk, "duplicate": not created}, status=202)
