"""The language of a request: the signed-in user's own choice over the browser's.

`LocaleMiddleware` (before this one) has already activated the language the browser asks
for; a user who chose one in personal settings (`User.language`) gets theirs instead.
"""

from django.conf import settings
from django.utils import translation


def user_language(user) -> str | None:
    """The user's chosen language if it is one the product ships, else None (follow the
    browser, or LANGUAGE_CODE where there is no browser — emails, background work)."""
    code = getattr(user, "language", "") or ""
    return code if code in dict(settings.LANGUAGES) else None


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
