"""Which language to speak to a user: their own choice (`User.language`, set under
Personal menu › Language) if it is one the product ships, else the browser's on a page
(`helpdesk.middleware`) and the deployment's LANGUAGE_CODE elsewhere (emails, notifications)."""

from django.conf import settings


def user_language(user) -> str | None:
    """The user's chosen language if it is one of settings.LANGUAGES, else None."""
    code = getattr(user, "language", "") or ""
    return code if code in dict(settings.LANGUAGES) else None


def language_for(user) -> str:
    """The language to write to `user` in when no request says (emails, notifications)."""
    return user_language(user) or settings.LANGUAGE_CODE
