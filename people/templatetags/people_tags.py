"""`{% availability_control %}`: the top bar's status control — where the signed-in agent
stands for routing right now, and one click to change it (R11). Renders nothing for
visitors and for users without ticket access."""

from django import template
from django.utils import timezone

from helpdesk.access import has_ticket_access
from people.forms import STATES, state_of
from people.selectors import availability_summary

register = template.Library()


@register.inclusion_tag("people/_status_control.html", takes_context=True)
def availability_control(context) -> dict:
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not has_ticket_access(user):
        return {"show": False}
    return {
        "show": True,
        "summary": availability_summary(user, timezone.now()),
        "states": STATES,
        "current": state_of(user),
        "next": request.get_full_path(),
        "csrf_token": context.get("csrf_token"),
    }
