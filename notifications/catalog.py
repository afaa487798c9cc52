"""What people can hear about, how, and what they hear when nobody chose (R24–R27).

A pure module: the events, the media and the built-in defaults live in code. Superadmins
override the built-in defaults for everyone (`DefaultPreference`, R26) and each user
overrides both for themselves (`Preference`, R25, R27).
"""

from django.db import models
from django.utils.translation import gettext_lazy


class Event(models.TextChoices):
    """The events a user can be notified of (R24)."""

    TICKET_UNASSIGNED = "ticket_unassigned", gettext_lazy("New unassigned ticket")
    ASSIGNED_TO_ME = "assigned_to_me", gettext_lazy("Ticket assigned to me")
    TEAM_UNASSIGNED = "team_unassigned", gettext_lazy("Ticket assigned to my team without owner")
    CUSTOMER_REPLY = "customer_reply", gettext_lazy("Customer replied on my ticket")
    REASSIGNED_AWAY = "reassigned_away", gettext_lazy("My ticket reassigned to someone else")


class Medium(models.TextChoices):
    IN_APP = "in_app", gettext_lazy("In app")
    EMAIL = "email", gettext_lazy("Email")


# Who receives each event, in plain words (shown on the settings pages).
EVENT_HELP = {
    Event.TICKET_UNASSIGNED: (
        gettext_lazy(
            "A ticket stays in the Unassigned view after routing, or came without a channel. "
            "Sent to everyone with ticket access."
        )
    ),
    Event.ASSIGNED_TO_ME: gettext_lazy(
        "Someone, or automatic routing, made you the owner of a ticket."
    ),
    Event.TEAM_UNASSIGNED: (
        gettext_lazy("A ticket was given to one of your teams (main or additional) with no owner.")
    ),
    Event.CUSTOMER_REPLY: gettext_lazy("The customer wrote again on a ticket you own."),
    Event.REASSIGNED_AWAY: gettext_lazy(
        "A ticket you owned was given to someone else, or unassigned."
    ),
}

# The built-in defaults: the last word when neither the user nor a superadmin chose (R27).
# Events about many people's tickets stay in the app; events about your own tickets also
# come by email.
BUILT_IN: dict[tuple[str, str], bool] = {
    (Event.TICKET_UNASSIGNED, Medium.IN_APP): True,
    (Event.TICKET_UNASSIGNED, Medium.EMAIL): False,
    (Event.ASSIGNED_TO_ME, Medium.IN_APP): True,
    (Event.ASSIGNED_TO_ME, Medium.EMAIL): True,
    (Event.TEAM_UNASSIGNED, Medium.IN_APP): True,
    (Event.TEAM_UNASSIGNED, Medium.EMAIL): False,
    (Event.CUSTOMER_REPLY, Medium.IN_APP): True,
    (Event.CUSTOMER_REPLY, Medium.EMAIL): True,
    (Event.REASSIGNED_AWAY, Medium.IN_APP): True,
    (Event.REASSIGNED_AWAY, Medium.EMAIL): False,
}

CELLS: list[tuple[str, str]] = [(e, m) for e in Event.values for m in Medium.values]


def field_name(event: str, medium: str) -> str:
    """The form field of one cell of the grid."""
    return f"{event}__{medium}"
