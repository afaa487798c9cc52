"""The ticket page's WhatsApp pieces. Both render nothing (and query nothing) on a ticket of
any other channel:

- `{% whatsapp_window ticket thread %}` above the reply editor: until when free-form
  replies are accepted, or — the customer last wrote more than 24 hours ago — the notice
  and a form that sends one of the channel's approved templates (one query, the settings);
- `{% whatsapp_delivery message %}` in a message's header: "Delivered 14:03", "Read
  14:05" for a message we sent (one query for the whole thread, on its first use).
"""

from django import template
from django.utils import timezone
from django.utils.translation import gettext

from whatsapp.models import WhatsAppOutbound
from whatsapp.outbound import WINDOW_CLOSED, sends_by_whatsapp, settings_of, window_closes_at

register = template.Library()

STATE_FIELDS = ("state", "delivered_at", "read_at")


def _last_customer_message_at(ticket, thread):
    times = [
        m.created_at
        for m in thread or ()
        if m.direction == "inbound"
        and m.channel_id == ticket.channel_id
        and m.external_id
        and not m.is_automatic
    ]
    return max(times) if times else None


@register.inclusion_tag("whatsapp/_window.html", takes_context=True)
def whatsapp_window(context, ticket, thread):
    if not sends_by_whatsapp(ticket):
        return {"shown": False}
    contact = ticket.contact
    if contact is None or not contact.whatsapp_id:
        return {"shown": True, "no_whatsapp_id": True}
    wa = settings_of(ticket.channel)
    if wa is None:
        return {"shown": True, "not_connected": True}
    closes_at = window_closes_at(ticket, _last_customer_message_at(ticket, thread))
    is_open = closes_at is not None and timezone.now() < closes_at
    return {
        "shown": True,
        "ticket": ticket,
        "open": is_open,
        "closes_at": closes_at,
        "closed_notice": gettext(WINDOW_CLOSED),
        "templates": wa.templates or [],
        "csrf_token": context.get("csrf_token"),
    }


@register.inclusion_tag("whatsapp/_delivery.html", takes_context=True)
def whatsapp_delivery(context, message):
    ticket = context.get("ticket")
    if message.direction != "outbound" or ticket is None or not sends_by_whatsapp(ticket):
        return {"row": None}
    cache = context.render_context.setdefault("whatsapp_states", {})
    if ticket.pk not in cache:
        cache[ticket.pk] = {
            message_id: WhatsAppOutbound(**dict(zip(STATE_FIELDS, values, strict=True)))
            for message_id, *values in WhatsAppOutbound.objects.filter(
                outbound__message__ticket_id=ticket.pk
            ).values_list("outbound__message_id", *STATE_FIELDS)
        }
    return {"row": cache[ticket.pk].get(message.pk)}
