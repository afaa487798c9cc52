"""Cross-origin rules of the widget's JSON endpoints (`/chat/w/<public id>/…`).

The widget runs on the customer's site, another origin than the helpdesk, so the browser
asks first (a preflight `OPTIONS`: the widget sends `Authorization` and JSON) and shows the
widget an answer only with `Access-Control-Allow-Origin`. We allow exactly the origins in
the channel's `allowed_origins` and the helpdesk's own (SITE_URL's and the request's), echo
that origin back (never `*`) with `Vary: Origin`, and allow no credentials — the widget
sends its token in a header, never a cookie. A request from another origin is refused
(403) before anything is read or stored. A request without `Origin` (a same-origin GET, a
server) is not a browser on another site; the token decides.
"""

from django.conf import settings
from django.http import HttpResponse
from django.utils.cache import patch_vary_headers

from livechat.models import ChatSettings, normalize_origin

ALLOW_METHODS = "GET, POST, OPTIONS"
ALLOW_HEADERS = "Authorization, Content-Type"
MAX_AGE_SECONDS = 600


def own_origins(request) -> set[str]:
    return {normalize_origin(settings.SITE_URL), normalize_origin(request.build_absolute_uri("/"))}


def origin_allowed(chat: ChatSettings, request) -> bool:
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    normalized = normalize_origin(origin)
    return bool(normalized) and (chat.allows_origin(origin) or normalized in own_origins(request))


def with_cors(response: HttpResponse, request, *, any_origin: bool = False) -> HttpResponse:
    """Let the requesting origin read `response` (it was allowed, or the answer is public)."""
    origin = request.headers.get("Origin")
    if origin:
        response["Access-Control-Allow-Origin"] = "*" if any_origin else origin
        response["Access-Control-Expose-Headers"] = "Retry-After"
    patch_vary_headers(response, ["Origin"])
    return response


def preflight(request) -> HttpResponse:
    response = HttpResponse(status=204)
    response["Access-Control-Allow-Methods"] = ALLOW_METHODS
    response["Access-Control-Allow-Headers"] = ALLOW_HEADERS
    response["Access-Control-Max-Age"] = str(MAX_AGE_SECONDS)
    return with_cors(response, request)
