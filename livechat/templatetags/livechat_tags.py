"""The ticket page's live chat piece: `{% live_thread ticket thread %}` under the thread, the
element that polls for messages after the last one shown (`livechat.views.ticket_messages`)
every LIVECHAT_AGENT_POLL_SECONDS; no query of its own. A custom chat reply's webhook state
is the core's `{% delivery_state %}` (`helpdesk.templatetags.outbox_tags`), as for email."""

from django import template
from django.conf import settings
from django.utils import timezone

register = template.Library()


def poller_context(ticket, *, after: int, since: int) -> dict:
    return {
        "ticket": ticket,
        "after": after,
        "since": since,
        "seconds": settings.LIVECHAT_AGENT_POLL_SECONDS,
    }


def now_ms() -> int:
    return int(timezone.now().timestamp() * 1000)


@register.inclusion_tag("livechat/_thread_poller.html")
def live_thread(ticket, thread) -> dict:
    after = max((message.pk for message in thread or ()), default=0)
    return poller_context(ticket, after=after, since=now_ms())
