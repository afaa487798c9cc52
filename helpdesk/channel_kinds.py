"""What each channel kind means, declared once: one `KindPolicy` per kind (R12, R14, R18, R19).

Everything that depends on the kind asks `policy_for(kind)` — the ticket type given to new
tickets (`helpdesk.services.create_ticket`), the Automation form and its groups of fields,
the channel list's one-line summary, the routing config builder and the engine:

    policy_for(channel.kind).chat_toggle      # assignment decided by the chat's toggle?
    policy_for(kind).modes                    # the assign-to modes a kind offers

The core holds it (not `channels_cfg`) because the core needs the ticket type, and the core
imports no other app. A pure module: no models, no queries.
"""

from dataclasses import dataclass

from django.db import models
from django.utils.translation import gettext, gettext_lazy


class ChannelKind(models.TextChoices):
    """A source of tickets (`Channel.Kind`)."""

    TEAM_EMAIL = "team_email", gettext_lazy("Team email")
    FORM = "form", gettext_lazy("Form")
    CHATFLOW = "chatflow", gettext_lazy("Chatflow")
    WHATSAPP = "whatsapp", gettext_lazy("WhatsApp")
    CALLING = "calling", gettext_lazy("Calling")
    CUSTOM_CHAT = "custom_chat", gettext_lazy("Custom chat")


class TicketType(models.TextChoices):
    """R12: the type follows from where the ticket came from."""

    CALLS = "calls", gettext_lazy("Calls")
    MESSAGES = "messages", gettext_lazy("Messages")
    EMAIL = "email", gettext_lazy("Email/other")


class AssignMode(models.TextChoices):
    """“Assign incoming tickets to” (R14); chats and calls use Specific or None (R18, R19)."""

    CUSTOMER_AGENT = "customer_agent", gettext_lazy("Customer agent")
    SPECIFIC = "specific", gettext_lazy("Specific users and teams")
    TEAM_ONLY = "team_only", gettext_lazy("Team only")
    CONTACT_OWNER = "contact_owner", gettext_lazy("Contact owner")
    NONE = "none", gettext_lazy("None")


class Assignment(models.TextChoices):
    """How a kind decides whether its tickets are assigned; the label is the setting's name."""

    # The admin picks one of the kind's assign-to modes (R14).
    ASSIGN_RULE = "assign_rule", gettext_lazy("Assign incoming tickets to")
    # On: conversations go to the chosen users and teams; off: Unassigned (R18).
    CHAT_TOGGLE = "chat_toggle", gettext_lazy("Assign conversations automatically")
    # Inside the opening hours: to the chosen users and teams; after hours: voicemail (R19).
    CALLING_HOURS = "calling_hours", gettext_lazy("Routing during business hours")


# Tickets created by hand, by a workflow or through the API have no channel (R12).
NO_CHANNEL_TICKET_TYPE = TicketType.EMAIL


@dataclass(frozen=True)
class KindPolicy:
    """What one channel kind offers and how its tickets are routed."""

    kind: ChannelKind
    ticket_type: TicketType  # R12
    assignment: Assignment  # how assignment is decided
    modes: tuple[AssignMode, ...]  # the assign-to modes offered, in the order shown
    default_mode: AssignMode = AssignMode.NONE  # a new channel's mode: tickets wait (R1)
    opening_hours: bool = False  # opening hours per weekday, in a time zone (R19)
    voicemail: bool = False  # unanswered-call audio, after-hours voicemail message (R19)
    skill_routing: bool = False  # skill rules on the ticket's language, text, priority (R17)
    # Contact owner offline: the submission is emailed to them (R14, forms).
    emails_offline_contact_owner: bool = False
    # How an agent's reply reaches the contact ("email": sent by `mailroom`); "" = it does not.
    outbound: str = ""
    # Which adapter takes this kind's input ("form", "chat", "whatsapp", "call": each names
    # the app's way in); "" = none.
    intake: str = ""

    def __post_init__(self) -> None:
        if self.default_mode not in self.modes:
            raise ValueError(
                gettext("%(kind)s: the default mode %(default_mode)s is not offered")
                % {"kind": self.kind, "default_mode": self.default_mode}
            )
        if not self.assign_rule and set(self.modes) != {AssignMode.SPECIFIC, AssignMode.NONE}:
            raise ValueError(
                gettext("%(kind)s: an on/off assignment means Specific or None")
                % {"kind": self.kind}
            )
        if self.calling_hours and not (self.opening_hours and self.voicemail):
            raise ValueError(
                gettext("%(kind)s: routing by business hours needs hours and voicemail")
                % {"kind": self.kind}
            )

    @property
    def assign_rule(self) -> bool:
        return self.assignment == Assignment.ASSIGN_RULE

    @property
    def chat_toggle(self) -> bool:
        return self.assignment == Assignment.CHAT_TOGGLE

    @property
    def calling_hours(self) -> bool:
        return self.assignment == Assignment.CALLING_HOURS

    @property
    def customer_agent(self) -> bool:
        """An AI customer agent answers first, with a fallback (R14)."""
        return AssignMode.CUSTOMER_AGENT in self.modes

    def offers(self, mode: str) -> bool:
        return mode in self.modes


_ALL_MODES = tuple(AssignMode)
_ON_OFF = (AssignMode.SPECIFIC, AssignMode.NONE)

POLICIES: dict[str, KindPolicy] = {
    p.kind: p
    for p in (
        KindPolicy(
            kind=ChannelKind.TEAM_EMAIL,
            ticket_type=TicketType.EMAIL,
            assignment=Assignment.ASSIGN_RULE,
            modes=_ALL_MODES,
            skill_routing=True,
            intake="email",  # mailroom: IMAP, pipe and HTTP
            outbound="email",
        ),
        KindPolicy(
            kind=ChannelKind.FORM,
            ticket_type=TicketType.EMAIL,
            assignment=Assignment.ASSIGN_RULE,
            modes=tuple(m for m in AssignMode if m != AssignMode.CUSTOMER_AGENT),
            skill_routing=True,
            emails_offline_contact_owner=True,
            intake="form",  # webforms app: the public form page /f/<public id>/
            outbound="email",  # by mail: the contact's address, else the one typed on the form
        ),
        KindPolicy(
            kind=ChannelKind.WHATSAPP,
            ticket_type=TicketType.MESSAGES,
            assignment=Assignment.ASSIGN_RULE,
            modes=_ALL_MODES,
            skill_routing=True,
            intake="whatsapp",  # whatsapp app: the Cloud API webhook
            outbound="whatsapp",  # whatsapp app: the Graph API messages endpoint
        ),
        KindPolicy(
            kind=ChannelKind.CHATFLOW,
            ticket_type=TicketType.MESSAGES,
            assignment=Assignment.CHAT_TOGGLE,
            modes=_ON_OFF,
            skill_routing=True,
            intake="chat",  # livechat app: the widget's JSON endpoints
            outbound="chat",  # livechat app: the widget fetches the replies
        ),
        KindPolicy(
            kind=ChannelKind.CUSTOM_CHAT,
            ticket_type=TicketType.MESSAGES,
            assignment=Assignment.CHAT_TOGGLE,
            modes=_ON_OFF,
            skill_routing=True,
            intake="chat",  # livechat app: the custom chat API
            outbound="chat_webhook",  # livechat app: replies POSTed to the channel's webhook
        ),
        # Skill rules read the ticket's language, text and priority; a call carries none of
        # them when it is routed, and R19 lists calling's options without skills.
        KindPolicy(
            kind=ChannelKind.CALLING,
            ticket_type=TicketType.CALLS,
            assignment=Assignment.CALLING_HOURS,
            modes=_ON_OFF,
            opening_hours=True,
            voicemail=True,
            intake="call",  # calls app
        ),
    )
}


def policy_for(kind: str) -> KindPolicy:
    return POLICIES[kind]


def kinds_sending_by(outbound: str) -> tuple[str, ...]:
    """The kinds whose replies leave through `outbound` ("email", "whatsapp" …): each app
    that sends claims, sweeps and retries only its own kinds' outbox rows."""
    return tuple(kind for kind, policy in POLICIES.items() if policy.outbound == outbound)


def ticket_type_for(kind: str | None) -> TicketType:
    """The type of a ticket from a channel of this kind; no channel: Email/other (R12)."""
    return NO_CHANNEL_TICKET_TYPE if kind is None else POLICIES[kind].ticket_type
