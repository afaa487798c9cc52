"""The verbs that change helpdesk state. Nothing else writes tickets, seats or groups.

Every service takes keyword arguments, owns its transaction and announces what happened
through `helpdesk.events`.
"""

from helpdesk.services.accounts import (
    check_seat_free,
    create_api_token,
    give_seat,
    load_permissions,
    remove_seat,
    user_for_token,
)
from helpdesk.services.availability import (
    add_out_of_office,
    end_out_of_office,
    replace_working_hours,
    set_availability,
    set_status,
    set_time_zone,
)
from helpdesk.services.bulk import apply_bulk
from helpdesk.services.contacts import (
    contact_for_email,
    create_ticket_for_email,
    normalize_email,
)
from helpdesk.services.errors import TicketChanged
from helpdesk.services.intake import (
    Outcome,
    Quarantine,
    process_inbound,
    retry_failed_inbound,
    store_inbound,
)
from helpdesk.services.people_log import PeopleChanged
from helpdesk.services.team_admin import create_skill, create_team, update_skill, update_team
from helpdesk.services.tickets import (
    add_automatic_reply,
    add_inbound_message,
    add_note,
    assign,
    claim_for_routing,
    close,
    create_ticket,
    mark_routed,
    mark_routing_pending,
    reopen,
    reply,
    set_priority,
    set_properties,
    set_ticket_status,
)
from helpdesk.services.user_admin import invite_user, set_user_active, update_user

__all__ = [
    "Outcome",
    "PeopleChanged",
    "Quarantine",
    "TicketChanged",
    "add_automatic_reply",
    "add_inbound_message",
    "add_note",
    "add_out_of_office",
    "apply_bulk",
    "assign",
    "check_seat_free",
    "claim_for_routing",
    "close",
    "contact_for_email",
    "create_api_token",
    "create_skill",
    "create_team",
    "create_ticket",
    "create_ticket_for_email",
    "end_out_of_office",
    "give_seat",
    "invite_user",
    "load_permissions",
    "mark_routed",
    "mark_routing_pending",
    "normalize_email",
    "process_inbound",
    "remove_seat",
    "reopen",
    "replace_working_hours",
    "reply",
    "retry_failed_inbound",
    "set_availability",
    "set_priority",
    "set_properties",
    "set_status",
    "set_ticket_status",
    "set_time_zone",
    "set_user_active",
    "store_inbound",
    "update_skill",
    "update_team",
    "update_user",
    "user_for_token",
]
