"""Who hears about what (R24): each announcement turns one occurrence into deliveries.

Recipients come from the data — ticket access, team membership, ownership — and the actor
never hears of their own action. Announcements run after the change has committed (a
Celery task scheduled by `notifications.receivers`), each in its own transaction, and are
idempotent: event keys name one occurrence (`<event>:<assignment id>`,
`customer_reply:<message id>`, `ticket_unassigned:<ticket id>`) and a Delivery is unique
per key, recipient and medium, so a repeated announcement creates nothing new.

What they say comes from the core alone: its rows (tickets, messages, assignment events —
the router's explanation is the event's `reason`) and the events' arguments.
"""

from django.db import transaction
from django.db.models import QuerySet
from django.utils.translation import gettext

from helpdesk.models import AssignmentEvent, Message, Ticket, User
from helpdesk.selectors import users_with_ticket_access
from notifications import sql
from notifications.catalog import Event
from notifications.services import Notice, notify_all

EXCERPT_CHARS = 300


def label(ticket: Ticket) -> str:
    return f"#{ticket.pk} “{ticket.subject}”"


def excerpt(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= EXCERPT_CHARS else text[: EXCERPT_CHARS - 1] + "…"


def _users(**filters) -> QuerySet[User]:
    return users_with_ticket_access().filter(**filters)


def _who(actor: str | None, cause: str) -> str:
    """The actor's name, else who acted for nobody."""
    if actor is not None:
        return actor
    return (
        gettext("Automatic routing")
        if cause == AssignmentEvent.Cause.ROUTING
        else gettext("The helpdesk")
    )


def _why(assignment: AssignmentEvent) -> str:
    """Why the ticket went where it did, when the assignment says (the router's summary of
    its decision); a person's choice needs no explanation."""
    return gettext("Why: %(reason)s") % {"reason": assignment.reason} if assignment.reason else ""


def announce_unassigned(*, ticket_id: int, actor_id: int | None = None, detail: str = "") -> None:
    """A new ticket stays unassigned: everyone with ticket access can work it (R8, R24).
    Nothing is said if someone took it meanwhile."""
    ticket = Ticket.objects.select_related("channel").filter(pk=ticket_id).first()
    if ticket is None or not ticket.is_open or not ticket.is_unassigned:
        return

    def text():  # written in each recipient's language (`notify`)
        if ticket.channel_id:
            return gettext("New unassigned ticket %(label)s from %(channel)s") % {
                "label": label(ticket),
                "channel": ticket.channel.name,
            }
        return gettext("New unassigned ticket %(label)s") % {"label": label(ticket)}

    notice = Notice(
        event=Event.TICKET_UNASSIGNED,
        key=f"{Event.TICKET_UNASSIGNED}:{ticket.pk}",
        recipients=_users(),
        text=text,
        detail=detail,
    )
    with transaction.atomic():
        notify_all(ticket=ticket, notices=[notice], actor_id=actor_id)


def announce_assignment(*, assignment_id: int) -> None:
    """A change of owner or team: the new owner (R24), the team without owner, and the
    previous owner whose ticket went elsewhere. The occurrence with its names is read in one
    statement, its recipients in one more (`notifications.sql`), and every delivery written
    at once (`notify_all`)."""
    found = sql.assignment(assignment_id)
    if found is None:
        return
    a, ticket = found.event, found.ticket
    new_owner = a.to_owner_id if a.to_owner_id and a.to_owner_id != a.from_owner_id else None
    team = a.to_team_id if a.to_team_id and not a.to_owner_id else None
    old_owner = a.from_owner_id if a.from_owner_id and a.from_owner_id != a.to_owner_id else None
    if new_owner is None and team is None and old_owner is None:
        return
    people = sql.people(ids={new_owner, old_owner} - {None}, team_id=team)

    def who():
        return _who(found.actor, a.cause)

    def detail():
        return _why(a)

    notices = []
    if new_owner is not None:
        notices.append(
            Notice(
                event=Event.ASSIGNED_TO_ME,
                key=f"{Event.ASSIGNED_TO_ME}:{a.pk}",
                recipients=[u for u in people if u.pk == new_owner],
                text=lambda: (
                    gettext("%(who)s assigned %(label)s to you")
                    % {"who": who(), "label": label(ticket)}
                ),
                detail=detail,
            )
        )
    if team is not None:
        notices.append(
            Notice(
                event=Event.TEAM_UNASSIGNED,
                key=f"{Event.TEAM_UNASSIGNED}:{a.pk}",
                recipients=[u for u in people if u.in_team],
                text=lambda: (
                    gettext("%(who)s assigned %(label)s to your team %(to_team)s, without an owner")
                    % {"who": who(), "label": label(ticket), "to_team": found.to_team}
                ),
                detail=detail,
            )
        )
    if old_owner is not None:

        def to():
            if a.to_owner_id:
                return found.to_owner
            if a.to_team_id:
                return gettext("the team %(to_team)s") % {"to_team": found.to_team}
            return gettext("nobody (Unassigned)")

        notices.append(
            Notice(
                event=Event.REASSIGNED_AWAY,
                key=f"{Event.REASSIGNED_AWAY}:{a.pk}",
                recipients=[u for u in people if u.pk == old_owner],
                text=lambda: (
                    gettext("%(who)s reassigned %(label)s from you to %(to)s")
                    % {"who": who(), "label": label(ticket), "to": to()}
                ),
            )
        )
    with transaction.atomic():
        notify_all(ticket=ticket, notices=notices, actor_id=a.actor_id)


def announce_customer_reply(*, message_id: int, owner_id: int) -> None:
    """The customer wrote on a ticket: tell whoever owned it when the message arrived."""
    message = (
        Message.objects.select_related("ticket", "ticket__contact").filter(pk=message_id).first()
    )
    if message is None:
        return
    ticket = message.ticket
    notice = Notice(
        event=Event.CUSTOMER_REPLY,
        key=f"{Event.CUSTOMER_REPLY}:{message.pk}",
        recipients=_users(pk=owner_id),
        text=lambda: (
            gettext("%(contact)s replied on %(label)s")
            % {"contact": ticket.contact or gettext("The customer"), "label": label(ticket)}
        ),
        detail=excerpt(message.body),
    )
    with transaction.atomic():
        notify_all(ticket=ticket, notices=[notice])
