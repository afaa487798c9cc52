from django import template

from routing.models import RoutingDecision

register = template.Library()


@register.inclusion_tag("routing/_explanation.html")
def routing_explanation(ticket):
    """The ticket's latest automatic decision, explained (one query)."""
    decision = (
        RoutingDecision.objects.filter(ticket_id=ticket.pk).select_related("owner", "team").first()
    )
    return {"decision": decision, "ticket": ticket}
