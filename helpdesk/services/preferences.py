"""A user's personal preferences that are not about availability: the language."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from helpdesk.models import User


def set_language(*, user: User, code: str) -> User:
    """Choose the language of the user's pages and emails; "" follows the browser."""
    if code and code not in dict(settings.LANGUAGES):
        raise ValidationError(_("Choose one of the languages in the list."))
    if user.language != code:
        user.language = code
        user.save(update_fields=["language"])
    return user
