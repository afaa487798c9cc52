"""The thread's Retry button of a reply that failed to leave, whatever its way out: the row
is queued again by the app that sends it (`helpdesk.outbox.retry_from_thread`)."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.translation import gettext
from django.views.decorators.http import require_POST

from helpdesk import outbox
from helpdesk.access import agent_required, ticket_for_agent
from helpdesk.models import OutboundMessage


@agent_required
@require_POST
def outbound_retry(request, ticket_id: int, outbound_id: int):
    ticket = ticket_for_agent(request.user, ticket_id)
    row = get_object_or_404(
        OutboundMessage.objects.select_related("channel"), pk=outbound_id, message__ticket=ticket
    )
    try:
        queued = outbox.retry_from_thread(row, ticket=ticket)
    except outbox.NoSender:
        messages.error(
            request,
            gettext(
                "Replies of this channel cannot be sent from here any more: "
                "copy the text and answer the contact another way."
            ),
        )
    else:
        if queued:
            messages.success(request, gettext("The reply is queued to be sent again."))
        else:
            messages.info(request, gettext("That reply is not failed any more."))
    return redirect(f"{reverse('ticket', args=[ticket.pk])}#message-{row.message_id}")
