"""The public pages: `/f/<public id>/` (the form) and `/f/<public id>/thanks/`.

No login. Every answer is a page a visitor can read, also inside an iframe:
- 200 the form (GET); 303 to the thank-you page once the submission is stored (PRG — a
  reload of the thank-you page sends nothing again);
- 400 the form again, values kept, each error beside its field and listed on top;
- 413 a page saying the attachment is too large, without reading a body over the limit;
- 429 the form again, values kept, saying when to try again (`Retry-After`);
- 404 "this form is closed" for an inactive channel, or "no such form".

Framing: these pages only may be shown in an iframe. X-Frame-Options is left out
(`xframe_options_exempt`: it cannot name several sites) and the Content-Security-Policy's
`frame-ancestors` says who may: `'self'` plus the form's listed sites, or any site when the
list is empty. CSRF: see tokens.py — Django's CSRF cookie is not sent inside a cross-site
iframe, so the page is exempt and a form token bound to the visitor cookie takes its place.
"""

from django.conf import settings
from django.core.exceptions import BadRequest, RequestDataTooBig, SuspiciousOperation
from django.http import HttpResponseRedirect, UnreadablePostError
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.utils.csp import CSP, build_policy
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_safe

from helpdesk.throttling import client_ip
from webforms import limits
from webforms.forms import SubmissionForm
from webforms.services import open_form, submit
from webforms.throttle import RateLimited, Scope
from webforms.tokens import issue_form_token, new_visitor_token, read_visitor, set_visitor_cookie

BODY_SLACK = 256 * 1024  # the text fields and multipart framing besides the file
UNREADABLE = (
    BadRequest,
    MultiPartParserError,
    RequestDataTooBig,
    SuspiciousOperation,
    UnreadablePostError,
)
HEADER_MAX = 500


def _frame_policy(form_settings) -> str:
    ancestors = ["'self'", *form_settings.origins] if form_settings.origins else ["*"]
    return build_policy({**settings.SECURE_CSP, "frame-ancestors": ancestors})


def _page(request, template, context, *, form_settings=None, status=200, visitor=None):
    response = render(request, template, {"settings_row": form_settings, **context}, status=status)
    if form_settings is not None:
        response.headers[str(CSP.HEADER_ENFORCE)] = _frame_policy(form_settings)
    else:  # no such form: any site's stale snippet may show this page
        response.headers[str(CSP.HEADER_ENFORCE)] = build_policy(
            {**settings.SECURE_CSP, "frame-ancestors": ["*"]}
        )
    add_never_cache_headers(response)  # a token per rendering: never cached, never shared
    if visitor:
        set_visitor_cookie(response, request, visitor)
    return response


def _unavailable(request, form_settings):
    if form_settings is None:
        return _page(request, "webforms/missing.html", {}, status=404)
    return _page(request, "webforms/closed.html", {}, form_settings=form_settings, status=404)


def _headers(request) -> dict:
    def clean(value: str) -> str:
        return value.replace("\x00", "")[:HEADER_MAX]

    return {
        "ip": clean(client_ip(request) or ""),
        "user_agent": clean(request.META.get("HTTP_USER_AGENT", "")),
        "origin": clean(request.META.get("HTTP_ORIGIN", "")),
        "referer": clean(request.META.get("HTTP_REFERER", "")),
    }


def _max_body(form_settings) -> int:
    files = settings.FORMS_MAX_ATTACHMENT_BYTES if form_settings.allow_attachments else 0
    return files + BODY_SLACK


def _declared_length(request) -> int:
    try:
        return max(0, int(request.META.get("CONTENT_LENGTH") or 0))
    except ValueError:
        return 0


@xframe_options_exempt
@csrf_exempt
@require_http_methods(["GET", "HEAD", "POST"])
def form_page(request, public_id: str):
    form_settings = open_form(public_id)
    if form_settings is None or not form_settings.channel.is_active:
        return _unavailable(request, form_settings)
    visitor = read_visitor(request)
    if request.method != "POST":
        form = SubmissionForm(form_settings=form_settings, visitor_token=visitor)
        return _form_response(request, form, visitor=visitor)
    if _declared_length(request) > _max_body(form_settings):
        return _page(
            request,
            "webforms/too_large.html",
            {"max_size": limits.megabytes(settings.FORMS_MAX_ATTACHMENT_BYTES)},
            form_settings=form_settings,
            status=413,
        )
    try:
        data, files = request.POST, request.FILES
    except UNREADABLE:
        form = SubmissionForm(form_settings=form_settings, visitor_token=visitor)
        return _form_response(request, form, visitor=visitor, status=400, unreadable=True)
    form = SubmissionForm(data, files, form_settings=form_settings, visitor_token=visitor)
    limited = None
    if form.is_valid():
        try:
            submit(
                form_settings=form_settings,
                submission=form.submission(),
                client_ip=client_ip(request),
                headers=_headers(request),
            )
        except RateLimited as exc:
            limited = exc
        else:
            # 303 See Other: the browser fetches the thank-you page with a GET (PRG).
            return HttpResponseRedirect(reverse("webforms:thanks", args=[public_id]), status=303)
    form.mark_invalid_fields()
    return _form_response(
        request, form, visitor=visitor, status=429 if limited else 400, limited=limited
    )


def _form_response(request, form, *, visitor, status=200, limited=None, unreadable=False):
    """The form page. A bound form whose token is still valid keeps it (the same
    submission id: nothing was stored yet); otherwise a new token, bound to the visitor
    cookie — set now, or renewed, for a visitor who has none."""
    form_settings = form.form_settings
    token = form.data.get("token") if form.is_bound and form.form_token is not None else None
    renew = None
    if token is None:
        renew = visitor or new_visitor_token()
        token = issue_form_token(public_id=form_settings.public_id, visitor_token=renew)
    context = {
        "form": form,
        "token": token,
        "unreadable": unreadable,
        "limited": limited,
        "limited_by_address": limited is not None and limited.scope == Scope.ADDRESS,
        "retry_minutes": (limited.retry_after + 59) // 60 if limited else 0,
    }
    response = _page(
        request,
        "webforms/form.html",
        context,
        form_settings=form_settings,
        status=status,
        visitor=renew,
    )
    if limited is not None:
        response.headers["Retry-After"] = str(limited.retry_after)
    return response


@xframe_options_exempt
@require_safe
def thanks_page(request, public_id: str):
    form_settings = open_form(public_id)
    if form_settings is None or not form_settings.channel.is_active:
        return _unavailable(request, form_settings)
    return _page(request, "webforms/thanks.html", {}, form_settings=form_settings)
