"""Nothing stuck: find tickets whose routing never ran, and waiting tickets someone can take."""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from helpdesk import services
from helpdesk.models import Ticket
from routing import engine
from routing.models import WaitingTicket

SWEEP_BATCH = 500


def stale_pending_ticket_ids(now=None) -> list[int]:
    """Pending tickets older than ROUTING_PENDING_GRACE_SECONDS (served by the partial
    index on pending tickets)."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.ROUTING_PENDING_GRACE_SECONDS)
    return list(
        Ticket.objects.filter(routing_state=Ticket.RoutingState.PENDING, created_at__lt=cutoff)
        .order_by("created_at")
        .values_list("pk", flat=True)[:SWEEP_BATCH]
    )


def release_waiting_tickets(now=None) -> list[int]:
    """Waiting tickets that the engine's dry run would now assign are made pending again
    and returned; tickets assigned or closed meanwhile stop waiting."""
    now = now or timezone.now()
    released = []
    for waiting in WaitingTicket.objects.select_related("ticket__channel", "ticket__contact")[
        :SWEEP_BATCH
    ]:
        ticket = waiting.ticket
        if not (ticket.is_open and ticket.is_unassigned):
            waiting.delete()
            continue
        config = engine.load_config(ticket.channel)
        if config is None or not config.reroute_when_available:
            waiting.delete()
            continue
        decision = engine.dry_run(
            config=config,
            facts=engine.facts_of(ticket),
            at=now,
            channel_id=ticket.channel_id,
            contact_owner_id=engine.contact_owner_of(ticket),
        )
        if decision.owner_id or decision.team_id:
            with transaction.atomic():
                waiting.delete()
                if services.mark_routing_pending(ticket_id=ticket.pk):
                    released.append(ticket.pk)
    return released
