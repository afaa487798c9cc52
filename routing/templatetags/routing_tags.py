from django import template

from routing.capacity import users_at_capacity
from routing.models import RoutingDecision

register = template.Library()


@register.inclusion_tag("routing/_explanation.html")
def routing_explanation(ticket):
    """The ticket's latest automatic decision: the question and its answer (one query).
    The details — every candidate and everyone left out — load when the agent opens them
    (`routing.views.decision_details`), so they are not read here."""
    decision = (
        RoutingDecision.objects.filter(ticket_id=ticket.pk)
        .select_related("owner", "team")
        .defer(*RoutingDecision.DETAIL_FIELDS)
        .first()
    )
    return {"decision": decision, "ticket": ticket}


@register.inclusion_tag("routing/_capacity_warning.html")
def capacity_warning(ticket):
    """Under the owner control: who is at their capacity for this ticket's type. Manual
    assignment may still exceed it (routing never does)."""
    rows = users_at_capacity(ticket_type=ticket.ticket_type)
    return {
        "at_capacity": rows,
        # "Ada Lovelace (3/3), Bo Berg (2/2)": one value, so the warning is one sentence
        "names": ", ".join(f"{row.user} ({row.open_count}/{row.limit})" for row in rows),
    }
