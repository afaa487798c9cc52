"""Every domain event the core announces, and who listens to each.

Events are sent inside the transaction of the service that caused them, after its writes.
Receivers live in the other apps and are connected in their AppConfig.ready(); each one only
records its work — a job in the same transaction (`helpdesk.jobs.enqueue`) or a publish
after commit (`helpdesk.jobs.ring_on_commit`) — so a rolled-back change causes nothing.

An event that nobody listens to is not declared: add it with its first receiver.
"""

from django.dispatch import Signal

# kwargs: ticket, actor (None for a channel or the system).
# Sent by `create_ticket`.
# Listeners: routing.receivers.enqueue_routing (publishes the routing of a pending ticket);
# notifications.receivers.on_ticket_created (announces a ticket that routing will not look
# at and that stays unassigned).
ticket_created = Signal()

# kwargs: ticket, assignment (AssignmentEvent), actor.
# Sent by `assign`, `reply` (R4) and `claim_for_routing`.
# Listeners: notifications.receivers.on_ticket_assigned (the new owner, the team without
# owner, the previous owner).
ticket_assigned = Signal()

# kwargs: ticket, message (inbound, outbound or note).
# Sent by `reply`, `add_note` and `add_inbound_message`.
# Listeners: notifications.receivers.on_message_added (an inbound message: the owner hears
# that the customer replied); mailroom.receivers.on_message_added (an outbound reply on an
# email channel: an `OutboundMessage` in the outbox, sent after commit).
message_added = Signal()

# kwargs: ticket, outcome ("assigned", "team", "unassigned"), summary (plain words).
# Sent by the routing engine when it has decided; "unassigned" means the ticket stays in the
# Unassigned view for triage (R1, R16).
# Listeners: notifications.receivers.on_ticket_routed (announces a ticket left unassigned,
# with the summary; assignments arrive as `ticket_assigned`).
ticket_routed = Signal()
