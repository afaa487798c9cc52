"""Live chat's pages and JSON endpoints, included by helpdesk/urls.py under `chat/`.

The widget's (public, CORS: `livechat.cors`; the visitor's token as `Authorization: Bearer`):
- `POST w/<public id>/start` → 200 `{"token", "title", "greeting", "max_text", "poll_ms"}`:
  the token sent, when it is still valid for this channel, else a new one.
- `POST w/<public id>/messages` `{"id", "text", "name"?, "email"?}` → 202 `{"id", "event",
  "duplicate"}` once the message is stored (a worker adds it to the ticket).
- `GET w/<public id>/messages?after=<id>&wait=1` → 200 `{"messages": […], "cursor",
  "poll_ms"}`: the conversation's messages after `after`; with `wait=1`, on PostgreSQL, held
  until one arrives or LIVECHAT_WAIT_SECONDS pass (`livechat.realtime`). The widget asks
  again after `poll_ms`.

The custom chat API: `POST api/<channel id>/messages` with `Authorization: Bearer <the
channel's API token>` and `{"conversation_id", "message_id", "text", "contact_name"?,
"contact_email"?}` → 202 `{"event", "duplicate"}`.

Refusals are JSON `{"error": "…"}`: 400 bad JSON or fields, 401 missing or wrong token, 403
an origin not allowed or an inactive channel, 404 no such chat (or a public id of another
shape, answered without a query), 405, 413 too large, 415 not JSON, 429 over a rate limit
of `livechat.throttle` (new conversations per address, messages per conversation and per
address; with `Retry-After`). Nothing is stored for a refused request.

For agents: `GET tickets/<id>/messages/?after=<id>` — the ticket page's thread, polled by
htmx: the messages after the last one shown (204 when there is none), in a fixed number of
queries. And `GET demo/` (only when DEBUG or LIVECHAT_DEMO is on, else 404): a page that
embeds the widget of the first active chatflow.
"""

from functools import wraps

from django.conf import settings
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.cache import patch_vary_headers
from django.utils.formats import number_format
from django.utils.translation import gettext
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from helpdesk.access import agent_required, ticket_for_agent
from helpdesk.throttling import client_ip
from livechat import cors, realtime, selectors, setup, throttle, tokens
from livechat.intake import store_chat_message
from livechat.models import (
    DEFAULT_GREETING,
    DEFAULT_TITLE,
    ChatSettings,
    shown_text,
    webhook_kinds,
)
from livechat.payloads import BadInput, api_message, widget_message
from livechat.templatetags.livechat_tags import now_ms, poller_context
from livechat.texts import widget_texts

JSON_TYPES = {"application/json", "text/plain", ""}
BUSY_POLL_MS = 3000
MAX_ID = 2**63 - 1  # PostgreSQL's bigint
MAX_SINCE_MS = 10**13  # the year 2286


def _refuse(status: int, error: str) -> JsonResponse:
    return JsonResponse({"error": error}, status=status)


def _limited(exc: throttle.RateLimited) -> JsonResponse:
    response = _refuse(429, exc.error)
    response["Retry-After"] = str(exc.retry_after)
    return response


def _poll_ms() -> int:
    return 0 if realtime.can_wait() else settings.LIVECHAT_SHORT_POLL_MS


def _read_body(request) -> bytes:
    """The request's body, at most LIVECHAT_MAX_BODY_BYTES; raises BadInput (413, 415)."""
    limit = settings.LIVECHAT_MAX_BODY_BYTES
    content_type = (request.content_type or "").lower()
    if content_type not in JSON_TYPES:
        raise BadInput(415, gettext("Send the message as JSON (Content-Type: application/json)."))
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        raise BadInput(413, _too_large(limit))
    body = request.read(limit + 1)
    if len(body) > limit:
        raise BadInput(413, _too_large(limit))
    return body


def _too_large(limit: int) -> str:
    return gettext("The request is larger than %(limit)s bytes.") % {
        "limit": number_format(limit, force_grouping=True)
    }


def _headers(request) -> dict:
    return {
        "origin": request.headers.get("Origin", "")[:200],
        "user_agent": request.headers.get("User-Agent", "")[:300],
    }


# --- the widget --------------------------------------------------------------------------


def widget_endpoint(*methods: str):
    """The widget's endpoints: the chat by public id (404), the origin (403), CORS headers,
    the allowed methods (405); the view gets the request and the `ChatSettings`."""

    def decorate(view):
        @csrf_exempt
        @wraps(view)
        def wrapped(request, public_id: str):
            chat = selectors.widget_settings(public_id)
            if chat is None:
                refusal = _refuse(404, gettext("This chat is not available: check data-channel."))
                return cors.with_cors(refusal, request, any_origin=True)
            if not cors.origin_allowed(chat, request):
                return _refuse(
                    403,
                    gettext(
                        "This page's origin may not use this chat: add it to the chat's "
                        "allowed origins."
                    ),
                )
            if request.method == "OPTIONS":
                return cors.preflight(request)
            if request.method not in methods:
                response = _refuse(405, _use(methods))
                response["Allow"] = ", ".join([*methods, "OPTIONS"])
                return cors.with_cors(response, request)
            return cors.with_cors(view(request, chat), request)

        return wrapped

    return decorate


def _use(methods: tuple[str, ...]) -> str:
    if len(methods) == 1:
        return gettext("Use %(method)s.") % {"method": methods[0]}
    return gettext("Use %(first)s or %(second)s.") % {
        "first": ", ".join(methods[:-1]),
        "second": methods[-1],
    }


def _visitor(request, chat: ChatSettings) -> tokens.Visitor | None:
    return tokens.read(tokens.bearer(request), channel_id=chat.channel_id)


@require_GET
def widget_words(request, public_id: str):
    """The widget's words in the visitor's language: the same for every chat, so nothing is
    looked up; any site may read them, and the browser keeps them an hour per language."""
    response = JsonResponse({"texts": widget_texts()})
    response["Access-Control-Allow-Origin"] = "*"
    response["Cache-Control"] = "public, max-age=3600"
    patch_vary_headers(response, ["Accept-Language"])
    return response


@widget_endpoint("POST")
def widget_start(request, chat: ChatSettings):
    visitor = _visitor(request, chat)
    if visitor is not None:
        token = tokens.bearer(request)
    else:
        try:
            throttle.count_start(client_ip=client_ip(request))  # a new conversation
        except throttle.RateLimited as exc:
            return _limited(exc)
        token, visitor = tokens.issue(channel_id=chat.channel_id)
    return JsonResponse(
        {
            "token": token,
            "title": shown_text(chat.title, DEFAULT_TITLE),
            "greeting": shown_text(chat.greeting, DEFAULT_GREETING),
            "max_text": settings.LIVECHAT_MAX_TEXT_CHARS,
            "poll_ms": _poll_ms(),
        }
    )


@widget_endpoint("GET", "POST")
def widget_messages(request, chat: ChatSettings):
    visitor = _visitor(request, chat)
    if visitor is None:
        return _refuse(
            401, gettext("The chat token is missing or not valid: start the chat again.")
        )
    if request.method == "POST":
        return _post_message(request, chat, visitor)
    try:
        after = int(request.GET.get("after") or 0)
    except ValueError:
        return _refuse(400, gettext("after must be a message id (a whole number)."))
    if not 0 <= after <= MAX_ID:
        return _refuse(400, gettext("after must be a message id (a whole number)."))

    def fetch():
        return selectors.visitor_messages(channel_id=chat.channel_id, key=visitor.key, after=after)

    timeout = settings.LIVECHAT_WAIT_SECONDS if request.GET.get("wait") == "1" else 0
    waited = realtime.wait_for(
        channel_id=chat.channel_id, key=visitor.key, fetch=fetch, timeout=timeout
    )
    found = [selectors.as_json(m, visitor.key) for m in waited.messages]
    return JsonResponse(
        {
            "messages": found,
            "cursor": found[-1]["id"] if found else after,
            "poll_ms": BUSY_POLL_MS if waited.busy else _poll_ms(),
        }
    )


def _post_message(request, chat: ChatSettings, visitor: tokens.Visitor):
    try:
        body = _read_body(request)
        message = widget_message(body, max_text=settings.LIVECHAT_MAX_TEXT_CHARS)
        throttle.count_message(
            client_ip=client_ip(request), conversation=f"{chat.channel_id}:{visitor.key}"
        )
    except BadInput as exc:
        return _refuse(exc.status, exc.error)
    except throttle.RateLimited as exc:
        return _limited(exc)
    event, created = store_chat_message(
        channel=chat.channel,
        conversation_key=visitor.key,
        message=message,
        raw=body,
        headers=_headers(request),
    )
    return JsonResponse(
        {"id": message.message_id, "event": event.pk, "duplicate": not created}, status=202
    )


# --- the custom chat API -----------------------------------------------------------------


@csrf_exempt
@require_POST
def api_messages(request, channel_id: int):
    chat = (
        ChatSettings.objects.select_related("channel")
        .filter(channel_id=channel_id, channel__kind__in=webhook_kinds())
        .first()
    )
    if chat is None:
        return _refuse(404, gettext("No custom chat channel with chat settings has this id."))
    if not chat.api_token_matches(tokens.bearer(request)):
        return _refuse(
            401, gettext("Missing or wrong token (Authorization: Bearer <the API token>).")
        )
    if not chat.channel.is_active:
        return _refuse(
            403, gettext("This channel is inactive: activate it in the channel settings.")
        )
    try:
        body = _read_body(request)
        message = api_message(body, max_text=settings.LIVECHAT_MAX_TEXT_CHARS)
    except BadInput as exc:
        return _refuse(exc.status, exc.error)
    event, created = store_chat_message(
        channel=chat.channel,
        conversation_key=message.conversation_id,
        message=message,
        raw=body,
        headers=_headers(request),
    )
    return JsonResponse({"event": event.pk, "duplicate": not created}, status=202)


# --- agents ------------------------------------------------------------------------------


@agent_required
@require_GET
def ticket_messages(request, ticket_id: int):
    """The thread's new messages for the ticket page's poll (htmx swaps them in)."""
    ticket = ticket_for_agent(request.user, ticket_id)
    try:
        after = min(max(0, int(request.GET.get("after") or 0)), MAX_ID)
        since = min(max(0, int(request.GET.get("since") or 0)), MAX_SINCE_MS)
    except ValueError:
        return HttpResponse("after and since are whole numbers.", status=400)
    thread = list(selectors.ticket_messages_after(ticket, after))
    if not thread:
        return HttpResponse(status=204)  # htmx leaves the page as it is
    # A new message moves the ticket's version. The reply form takes the new one unless
    # someone else changed the owner or team since the page last caught up: then Send
    # reports that change instead of replying over it.
    caught_up = not selectors.reassigned_by_others(ticket, since_ms=since, user=request.user)
    context = {
        **poller_context(ticket, after=thread[-1].pk, since=now_ms() if caught_up else since),
        "thread": thread,
        "oob": caught_up,
    }
    return render(request, "livechat/_new_messages.html", context)


# --- the demo ----------------------------------------------------------------------------


@require_GET
def demo(request):
    """A shop page that embeds the chat widget of the first active chatflow channel; 404
    unless DEBUG or LIVECHAT_DEMO is on. It writes nothing (`seed_demo` sets the chat up)."""
    if not setup.demo_served():
        raise Http404("The chat demo page is off (LIVECHAT_DEMO).")
    chat = selectors.demo_chat()
    context = {"chat": chat, "snippet": setup.embed_snippet(chat) if chat else ""}
    return render(request, "livechat/demo.html", context)
