"""Every domain event the core announces. `routing` and `notifications` connect receivers
to these in their AppConfig.ready() and enqueue Celery work with transaction.on_commit.

Events are sent inside the transaction of the service that caused them, after its writes.
"""

from django.dispatch import Signal

# kwargs: ticket, actor (None for a channel or the system)
ticket_created = Signal()

# kwargs: ticket, assignment (AssignmentEvent), actor
ticket_assigned = Signal()

# kwargs: ticket, message (inbound, outbound or note). Outbound messages are delivered to the
# contact through the ticket's channel by a receiver of this event (the intake work).
message_added = Signal()

# kwargs: ticket, outcome ("assigned", "team", "unassigned"), summary (plain words).
# Sent by the routing engine when it has decided; "unassigned" means the ticket stays in the
# Unassigned view for triage (R1, R16).
ticket_routed = Signal()

# kwargs: ticket, old_status, actor
ticket_status_changed = Signal()

# kwargs: ticket, old_priority, actor
ticket_priority_changed = Signal()
