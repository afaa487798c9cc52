"""Bulk actions on a queue page: one change applied to many tickets, each through the
single-ticket service with the version the agent saw — so a ticket another agent changed
meanwhile is refused (and named), never overwritten — each in its own transaction, so one
refusal does not undo the others."""

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.utils.translation import gettext

from helpdesk.models import AssignmentEvent, Team, Ticket, User
from helpdesk.services.errors import TicketChanged
from helpdesk.services.tickets import assign, set_priority, set_ticket_status

ASSIGN, STATUS, PRIORITY, CLOSE = "assign", "status", "priority", "close"
MAX_TICKETS = 200  # a page holds at most 100 rows; more is not a person's click


@dataclass
class BulkResult:
    changed: list[int] = field(default_factory=list)
    unchanged: list[int] = field(default_factory=list)  # already so
    refused: list[tuple[int, str]] = field(default_factory=list)  # (ticket id, why)


def _message_of(exc: ValidationError) -> str:
    return " ".join(str(m) for m in exc.messages)


def apply_bulk(
    *,
    actor: User,
    tickets: Iterable[tuple[Ticket, int]],
    action: str,
    owner: User | None = None,
    team: Team | None = None,
    status: str | None = None,
    priority: int | None = None,
) -> BulkResult:
    """Apply `action` to each (ticket, version the agent saw). The caller has checked that
    `actor` may see every ticket (`helpdesk.access.tickets_visible_to`)."""
    tickets = list(tickets)
    if len(tickets) > MAX_TICKETS:
        raise ValidationError(
            gettext("Choose at most %(MAX_TICKETS)s tickets at once.")
            % {"MAX_TICKETS": MAX_TICKETS}
        )
    result = BulkResult()
    for ticket, version in tickets:
        before = (ticket.owner_id, ticket.team_id, ticket.status, ticket.priority)
        try:
            if action == ASSIGN:
                assign(
                    ticket=ticket,
                    owner=owner,
                    team=team,
                    actor=actor,
                    cause=AssignmentEvent.Cause.MANUAL,
                    expected_version=version,
                )
            elif action in (STATUS, CLOSE):
                target = Ticket.Status.CLOSED if action == CLOSE else status
                set_ticket_status(
                    ticket=ticket, status=target, actor=actor, expected_version=version
                )
            elif action == PRIORITY:
                set_priority(
                    ticket=ticket, priority=priority, actor=actor, expected_version=version
                )
            else:
                raise ValidationError(
                    gettext("Unknown bulk action %(action)r.") % {"action": action}
                )
        except TicketChanged:
            result.refused.append(
                (ticket.pk, gettext("changed by someone else after you loaded the page"))
            )
            continue
        except ValidationError as exc:
            result.refused.append((ticket.pk, _message_of(exc)))
            continue
        after = (ticket.owner_id, ticket.team_id, ticket.status, ticket.priority)
        (result.changed if after != before else result.unchanged).append(ticket.pk)
    return result
