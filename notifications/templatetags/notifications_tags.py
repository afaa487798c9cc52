"""`{% notification_bell %}`: the bell of the top bar with the unread count (one query),
linking to the list page and refreshing itself every 30 seconds (htmx). Renders nothing for
visitors and for users without ticket access."""

from datetime import datetime

from django import template
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext

from helpdesk.access import has_ticket_access
from notifications.services import unread_count

register = template.Library()


@register.inclusion_tag("notifications/_bell.html", takes_context=True)
def notification_bell(context) -> dict:
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not has_ticket_access(user):
        return {"show": False}
    return {"show": True, "unread": unread_count(user)}


@register.filter
def ago(moment: datetime) -> str:
    """“just now”, “5 min ago”, “3 h ago”, “2 d ago”, then the date."""
    seconds = (timezone.now() - moment).total_seconds()
    if seconds < 60:
        return gettext("just now")
    if seconds < 3600:
        return gettext("%(int)s min ago") % {"int": int(seconds // 60)}
    if seconds < 86400:
        return gettext("%(int)s h ago") % {"int": int(seconds // 3600)}
    if seconds < 7 * 86400:
        return gettext("%(int)s d ago") % {"int": int(seconds // 86400)}
    return date_format(timezone.localtime(moment), "DATE_FORMAT")
