"""The helpdesk's domain model, one module per concept."""

from helpdesk.models.account import AccountSettings, ApiToken, Seat
from helpdesk.models.availability import OutOfOffice, WorkingHours
from helpdesk.models.channels import Channel, TicketType
from helpdesk.models.contacts import Contact
from helpdesk.models.intake import Attachment, InboundEvent, OutboundMessage
from helpdesk.models.jobs import Job
from helpdesk.models.people import PeopleChange
from helpdesk.models.teams import AgentSkill, Skill, Team, TeamMembership
from helpdesk.models.tickets import AssignmentEvent, Message, Ticket
from helpdesk.models.users import User

__all__ = [
    "AccountSettings",
    "AgentSkill",
    "ApiToken",
    "AssignmentEvent",
    "Attachment",
    "Channel",
    "Contact",
    "InboundEvent",
    "Job",
    "Message",
    "OutOfOffice",
    "OutboundMessage",
    "PeopleChange",
    "Seat",
    "Skill",
    "Team",
    "TeamMembership",
    "Ticket",
    "TicketType",
    "User",
    "WorkingHours",
]
