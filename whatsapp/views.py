"""WhatsApp's pages: the webhook Meta calls (`/whatsapp/<channel id>/webhook/`) and the ticket
page's "send an approved template" form.

Webhook answers: GET — the `hub.challenge` as text/plain when `hub.mode=subscribe` and
`hub.verify_token` match, else 403. POST — 200 `{"stored": n, "duplicates": m}` once every
message and status is stored (a worker processes them); 403 missing or wrong
`X-Hub-Signature-256`; 400 not a JSON object; 413 larger than WHATSAPP_MAX_BODY_BYTES; 404
no active WhatsApp channel with settings has this id. Every refusal is JSON.
"""

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from helpdesk.access import agent_required, ticket_for_agent
from helpdesk.services import TicketChanged
from whatsapp.outbound import send_template
from whatsapp.webhook import Rejected, receive_delivery, settings_for_webhook, verify_subscription


def _refuse(status: int, error: str) -> JsonResponse:
    return JsonResponse({"error": error}, status=status)


@csrf_exempt
@require_http_methods(["GET", "POST"])
def webhook(request, channel_id: int):
    wa = settings_for_webhook(channel_id)
    if wa is None:
        return _refuse(
            404, gettext("no active WhatsApp channel with WhatsApp settings has this id")
        )
    if request.method == "GET":
        try:
            challenge = verify_subscription(wa, request.GET)
        except Rejected as exc:
            return _refuse(exc.status, exc.reason)
        return HttpResponse(challenge, content_type="text/plain; charset=utf-8")
    limit = settings.WHATSAPP_MAX_BODY_BYTES
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        return _refuse(
            413, gettext("the delivery is larger than %(limit)s bytes") % {"limit": limit}
        )
    body = request.read(limit + 1)
    if len(body) > limit:
        return _refuse(
            413, gettext("the delivery is larger than %(limit)s bytes") % {"limit": limit}
        )
    try:
        stored = receive_delivery(wa=wa, body=body, request_headers=request.headers)
    except Rejected as exc:
        return _refuse(exc.status, exc.reason)
    return JsonResponse({"stored": len(stored.events), "duplicates": stored.duplicates})


@agent_required
@require_POST
def ticket_template(request, ticket_id: int):
    """Send one of the channel's approved templates on a ticket (outside the 24-hour window
    this is the only message WhatsApp accepts)."""
    ticket = ticket_for_agent(request.user, ticket_id)
    try:
        version = int(request.POST.get("version") or 0) or None
    except ValueError:
        version = None
    try:
        send_template(
            ticket=ticket,
            author=request.user,
            name=str(request.POST.get("template", ""))[:512],
            expected_version=version,
        )
    except TicketChanged:
        messages.error(request, gettext("This ticket changed meanwhile. Review it and send again."))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, gettext("Template message queued for WhatsApp."))
    return redirect(reverse("ticket", args=[ticket.pk]))
