"""The language of a request: the signed-in user's own choice over the browser's.

`LocaleMiddleware` (before this one) has already activated the language the browser asks
for; a user who chose one in personal settings (`User.language`) gets theirs instead.
"""

from django.utils import translation

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
