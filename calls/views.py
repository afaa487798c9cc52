"""Twilio's voice webhooks: `POST /calls/<channel id>/incoming/`, `…/dial/`, `…/status/`,
`…/recording/` (form-encoded, signed with X-Twilio-Signature). Parse the request and hand
it to `calls.intake.receive`; TwiML comes back as text/xml. Every refusal is JSON: 404 no
such active calling channel with call settings, 413 too large, 415 not a form, 400 bad
input, 403 bad signature."""

from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.http import HttpResponse, JsonResponse
from django.utils.translation import gettext
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from calls import intake
from calls.models import KIND, CallSettings

MAX_BODY_BYTES = 64 * 1024  # Twilio's voice webhooks are a few kilobytes
FORM_TYPE = "application/x-www-form-urlencoded"


def _refuse(status: int, error: str) -> JsonResponse:
    return JsonResponse({"error": error}, status=status)


def _webhook(request, channel_id: int, callback: str):
    call_settings = (
        CallSettings.objects.select_related("channel")
        .filter(channel_id=channel_id, channel__is_active=True)
        .first()
    )
    if call_settings is None or call_settings.channel.policy.intake != KIND:
        return _refuse(404, gettext("no active calling channel with call settings has this id"))
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > MAX_BODY_BYTES:
        return _refuse(
            413,
            gettext("the request is larger than %(MAX_BODY_BYTES)s bytes")
            % {"MAX_BODY_BYTES": MAX_BODY_BYTES},
        )
    if declared and (request.content_type or "").lower() != FORM_TYPE:  # empty: no fields
        return _refuse(
            415, gettext("send the webhook's fields as %(FORM_TYPE)s") % {"FORM_TYPE": FORM_TYPE}
        )
    try:
        raw = request.body
        params = {name: request.POST.getlist(name) for name in request.POST}
    except (RequestDataTooBig, TooManyFieldsSent) as exc:
        return _refuse(400, gettext("unreadable form: %(exc)s") % {"exc": exc})
    webhook = intake.Webhook(
        callback=callback,
        path=request.get_full_path(),
        params=params,
        raw=raw,
        signature=request.headers.get("X-Twilio-Signature", ""),
        headers={"User-Agent": request.headers.get("User-Agent", "")[:200]},
    )
    answer = intake.receive(call_settings=call_settings, webhook=webhook)
    if answer.error:
        return _refuse(answer.status, answer.error)
    return HttpResponse(answer.twiml, content_type="text/xml; charset=utf-8", status=answer.status)


@csrf_exempt
@require_POST
def incoming(request, channel_id: int):
    return _webhook(request, channel_id, intake.INCOMING)


@csrf_exempt
@require_POST
def dial(request, channel_id: int):
    return _webhook(request, channel_id, intake.DIAL)


@csrf_exempt
@require_POST
def status(request, channel_id: int):
    return _webhook(request, channel_id, intake.STATUS)


@csrf_exempt
@require_POST
def recording(request, channel_id: int):
    return _webhook(request, channel_id, intake.RECORDING)
