"""The helpdesk's middleware.

`UserLanguageMiddleware` — the language of a request: the signed-in user's own choice over
the browser's. `LocaleMiddleware` (before it) has already activated the language the browser
asks for; a user who chose one in personal settings (`User.language`) gets theirs instead.

`SignInAgainMiddleware` — a part of a page asked for by htmx (the owner control, a reply, a
routing decision's details) after the session ended: instead of the sign-in page swapped into
that part, the whole page goes to the sign-in page, which brings the agent back to the page
they were on.
"""

from urllib.parse import urlencode

from django.conf import settings
from django.shortcuts import resolve_url
from django.utils import translation
from django_htmx.http import HttpResponseClientRedirect

from helpdesk.languages import user_language


class UserLanguageMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            code = user_language(user)
            if code:
                translation.activate(code)
                request.LANGUAGE_CODE = code
        return self.get_response(request)


class SignInAgainMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        htmx = getattr(request, "htmx", None)
        if not htmx or response.status_code != 302:
            return response
        sign_in = resolve_url(settings.LOGIN_URL)
        if not response["Location"].startswith(sign_in):
            return response
        page = htmx.current_url_abs_path or "/"
        return HttpResponseClientRedirect(f"{sign_in}?{urlencode({'next': page})}")
