"""The thread's Retry button of a reply that failed to leave."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from helpdesk.access import agent_required, ticket_for_agent
from helpdesk.models import OutboundMessage
from mailroom.outbound import retry_outbound


@agent_required
@require_POST
def outbound_retry(request, ticket_id: int, outbound_id: int):
    ticket = ticket_for_agent(request.user, ticket_id)
    outbound = get_object_or_404(OutboundMessage, pk=outbound_id, message__ticket=ticket)
    if retry_outbound(ids=[outbound_id], ticket=ticket):
        messages.success(request, "The reply is queued to be sent again.")
    else:
        messages.info(request, "That reply is not failed any more.")
    return redirect(f"{reverse('ticket', args=[ticket.pk])}#message-{outbound.message_id}")
