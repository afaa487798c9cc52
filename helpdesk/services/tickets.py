"""The only code that changes tickets.

Each verb locks the ticket row (`SELECT … FOR NO KEY UPDATE`) inside its own transaction
before it reads what it changes, so two agents — or an agent and the router, which takes the
same lock — never overwrite each other silently. NO KEY: rows referencing the ticket
(messages, notifications, assignment events) are checked with `FOR KEY SHARE` when their
transactions commit; `FOR NO KEY UPDATE` does not conflict with that, so those commits never
wait for the lock (nor deadlock with it), while the verbs and the router still serialise
among themselves. A caller that showed the user a version of the ticket passes
`expected_version`; if the ticket changed meanwhile the verb raises `TicketChanged`.
"""

from collections.abc import Iterable
from datetime import datetime
from typing import Protocol

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext

from helpdesk import events
from helpdesk.models import (
    AssignmentEvent,
    Attachment,
    Channel,
    Contact,
    Message,
    Team,
    Ticket,
    User,
)
from helpdesk.models.tickets import OPEN_SQL
from helpdesk.services.errors import TicketChanged

Cause = AssignmentEvent.Cause


def _lock(ticket: Ticket, expected_version: int | None) -> Ticket:
    locked = Ticket.objects.select_for_update(no_key=True).get(pk=ticket.pk)
    if expected_version is not None and locked.version != expected_version:
        raise TicketChanged(locked)
    return locked


def _save(locked: Ticket, original: Ticket, fields: list[str]) -> None:
    """Save the locked row, bump its version and mirror the new state on the caller's copy."""
    locked.version += 1
    locked.save(update_fields=[*fields, "version", "updated_at"])
    for field in [*fields, "version", "updated_at"]:
        setattr(original, field, getattr(locked, field))


class AttachmentFile(Protocol):
    """A file to keep with a message (e.g. `mailroom.parts.Attachment`)."""

    filename: str
    content_type: str
    content: bytes
    content_id: str | None
    inline: bool


def _message_details(
    *, html="", quoted="", sender_address="", sender_name="", is_automatic=False
) -> dict:
    return {
        "html": html,
        "quoted": quoted,
        "sender_address": sender_address[:320],
        "sender_name": sender_name[:200],
        "is_automatic": is_automatic,
    }


def _store_attachments(message: Message, files: Iterable[AttachmentFile]) -> None:
    """One row per file, in one statement. The files are written to storage first; should
    the transaction roll back afterwards they stay behind unreferenced (harmless)."""
    rows = []
    for item in files:
        row = Attachment(
            message=message,
            filename=item.filename[:255],
            content_type=item.content_type[:255],
            size=len(item.content),
            content_id=(item.content_id or "")[:255],
            inline=bool(item.inline),
        )
        name = item.filename[:100].strip()
        row.file.save(
            name if name.strip(".") else "attachment", ContentFile(item.content), save=False
        )
        rows.append(row)
    if rows:
        Attachment.objects.bulk_create(rows)


def create_ticket(
    *,
    subject: str,
    body: str,
    channel: Channel | None = None,
    contact: Contact | None = None,
    source: str = Ticket.Source.CHANNEL,
    priority: int = Ticket.Priority.NORMAL,
    language: str = "",
    external_id: str = "",
    actor: User | None = None,
    html: str = "",
    quoted: str = "",
    sender_address: str = "",
    sender_name: str = "",
    attachments: Iterable[AttachmentFile] = (),
    created_at=None,
) -> tuple[Ticket, bool]:
    """Open a ticket with its first inbound message. Returns (ticket, created).

    A redelivered input (same channel and external id) returns the ticket it created the
    first time and creates nothing: its first message's unique external id refuses it, so
    the usual new ticket pays no query for a redelivery it is not. `html`, `quoted`,
    `sender_*` and `attachments` describe the first message (an email's sanitised HTML,
    folded history, From, files). A ticket created here carries that message as
    `ticket.first_message` (not a field: set on the object returned).
    """
    from helpdesk.services.intake import insert_once  # intake's rule for a redelivery

    subject = subject.strip()
    if not subject:
        raise ValidationError({"subject": gettext("A ticket needs a subject.")})
    if channel is not None and not channel.is_active:
        raise ValidationError(
            {"channel": gettext("The channel %(name)r is inactive.") % {"name": channel.name}}
        )
    # No savepoint inside a caller's transaction: a redelivered first message is refused
    # without an error (`insert_once`), and the ticket row inserted a moment before, seen
    # by no other transaction yet, is deleted again; what raises rolls the caller back.
    with transaction.atomic(savepoint=False):
        ticket = Ticket.objects.create(
            subject=subject[:255],
            channel=channel,
            contact=contact,
            source=source if channel is None else Ticket.Source.CHANNEL,
            ticket_type=Channel.ticket_type_for(channel),
            priority=priority,
            language=language,
            routing_state=(Ticket.RoutingState.PENDING if channel else Ticket.RoutingState.SKIPPED),
            **({"created_at": created_at, "last_activity_at": created_at} if created_at else {}),
        )
        message = Message(
            ticket=ticket,
            channel=channel,
            direction=Message.Direction.INBOUND,
            body=body,
            external_id=external_id,
            created_at=ticket.created_at,
            **_message_details(
                html=html, quoted=quoted, sender_address=sender_address, sender_name=sender_name
            ),
        )
        if not insert_once(message):
            Ticket.objects.filter(pk=ticket.pk).delete()
            existing = _ticket_for_external_id(channel, external_id)
            if existing is None:  # its message was deleted meanwhile: let the caller retry
                raise IntegrityError(f"{external_id!r} is taken on {channel} by no message")
            return existing, False
        _store_attachments(message, attachments)
        events.ticket_created.send(sender=Ticket, ticket=ticket, actor=actor)
    ticket.first_message = message
    return ticket, True


def _ticket_for_external_id(channel: Channel | None, external_id: str) -> Ticket | None:
    message = (
        Message.objects.select_related("ticket")
        .filter(channel=channel, external_id=external_id)
        .first()
    )
    return message.ticket if message else None


def assign(
    *,
    ticket: Ticket,
    owner: User | None = None,
    team: Team | None = None,
    actor: User | None,
    cause: str,
    expected_version: int | None = None,
) -> AssignmentEvent | None:
    """Set the ticket's owner and team to exactly these values (None clears) — R3, R5.

    Returns the AssignmentEvent, or None when nothing changed.
    """
    if owner is not None and not owner.has_ticket_access:
        raise ValidationError(
            {
                "owner": gettext("%(owner)s has no ticket access and cannot own tickets.")
                % {"owner": owner}
            }
        )
    with transaction.atomic():
        locked = _lock(ticket, expected_version)
        return _assign_locked(locked, ticket, owner=owner, team=team, actor=actor, cause=cause)


def _assign_locked(
    locked: Ticket, original: Ticket, *, owner, team, actor, cause
) -> AssignmentEvent | None:
    owner_id = owner.pk if owner else None
    team_id = team.pk if team else None
    if (locked.owner_id, locked.team_id) == (owner_id, team_id):
        return None
    event = AssignmentEvent.objects.create(
        ticket=locked,
        from_owner_id=locked.owner_id,
        to_owner_id=owner_id,
        from_team_id=locked.team_id,
        to_team_id=team_id,
        actor=actor,
        cause=cause,
    )
    fields = ["owner", "team"]
    if owner_id != locked.owner_id:
        locked.assigned_at = event.created_at if owner_id else None
        fields.append("assigned_at")
    if locked.routing_state == Ticket.RoutingState.PENDING and cause != Cause.ROUTING:
        # A person decided before the router ran: the router must leave it alone.
        locked.routing_state = Ticket.RoutingState.SKIPPED
        fields.append("routing_state")
    locked.owner, locked.team = owner, team
    _save(locked, original, fields)
    original.owner, original.team = owner, team
    events.ticket_assigned.send(sender=Ticket, ticket=original, assignment=event, actor=actor)
    return event


def claim_for_routing(*, ticket: Ticket, owner: User | None, team: Team | None, reason: str = ""):
    """The router's assignment: a conditional update that only takes a ticket still open,
    without owner or team, and pending — so the router never overwrites a person. `reason`
    (the router's summary of its decision) is kept on the AssignmentEvent, so whoever hears
    of the assignment can say why. Returns the AssignmentEvent, or None when the ticket was
    no longer free."""
    now = timezone.now()
    if connection.vendor == "postgresql":
        event = _claim_in_one_statement(ticket, owner=owner, team=team, reason=reason, now=now)
        if event is None:
            return None
        _claimed(ticket, owner=owner, team=team, now=now)
        events.ticket_assigned.send(sender=Ticket, ticket=ticket, assignment=event, actor=None)
        return event
    with transaction.atomic(savepoint=False):
        claimed = Ticket.objects.filter(
            OPEN_SQL,
            pk=ticket.pk,
            owner__isnull=True,
            team__isnull=True,
            routing_state=Ticket.RoutingState.PENDING,
        ).update(
            owner=owner,
            team=team,
            assigned_at=now if owner else None,
            routing_state=Ticket.RoutingState.DONE,
            version=F("version") + 1,
            updated_at=now,
        )
        if not claimed:
            return None
        event = _routing_event(ticket, owner=owner, team=team, reason=reason, now=now)
        event.save(force_insert=True)
        _claimed(ticket, owner=owner, team=team, now=now)
        events.ticket_assigned.send(sender=Ticket, ticket=ticket, assignment=event, actor=None)
    return event


def _claimed(ticket: Ticket, *, owner, team, now) -> None:
    """What the claim changed, on the caller's instance."""
    ticket.owner, ticket.team, ticket.assigned_at = owner, team, now if owner else None
    ticket.routing_state, ticket.updated_at = Ticket.RoutingState.DONE, now
    ticket.version += 1


def _claim_in_one_statement(ticket: Ticket, *, owner, team, reason: str, now):
    """PostgreSQL: the same conditional update and its AssignmentEvent in one statement (a
    data-modifying CTE) — the router's critical section is one round trip shorter."""
    q = connection.ops.quote_name
    sql = f"""
WITH claimed AS (
    UPDATE {q(Ticket._meta.db_table)}
    SET owner_id = %(owner)s, team_id = %(team)s, assigned_at = %(assigned_at)s,
        routing_state = %(done)s, version = version + 1, updated_at = %(now)s
    WHERE id = %(ticket)s AND NOT (status = %(closed)s) AND owner_id IS NULL
      AND team_id IS NULL AND routing_state = %(pending)s
    RETURNING id
)
INSERT INTO {q(AssignmentEvent._meta.db_table)}
    (ticket_id, from_owner_id, to_owner_id, from_team_id, to_team_id, actor_id, cause, reason,
     created_at)
SELECT id, NULL, %(owner)s, NULL, %(team)s, NULL, %(cause)s, %(reason)s, %(now)s FROM claimed
RETURNING id"""
    params = {
        "owner": owner.pk if owner else None,
        "team": team.pk if team else None,
        "assigned_at": now if owner else None,
        "done": Ticket.RoutingState.DONE,
        "pending": Ticket.RoutingState.PENDING,
        "closed": Ticket.Status.CLOSED,
        "now": now,
        "ticket": ticket.pk,
        "cause": Cause.ROUTING,
        "reason": reason,
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    event = _routing_event(ticket, owner=owner, team=team, reason=reason, now=now)
    event.pk = row[0]
    return event


def _routing_event(ticket: Ticket, *, owner, team, reason: str, now) -> AssignmentEvent:
    """The router's AssignmentEvent, not yet saved."""
    return AssignmentEvent(
        ticket=ticket,
        to_owner=owner,
        to_team=team,
        actor=None,
        cause=Cause.ROUTING,
        reason=reason,
        created_at=now,
    )


def mark_routed(*, ticket: Ticket, state: str = Ticket.RoutingState.DONE) -> bool:
    """Close the ticket's routing without an assignment (nobody eligible, or nothing to do)."""
    updated = Ticket.objects.filter(pk=ticket.pk, routing_state=Ticket.RoutingState.PENDING).update(
        routing_state=state
    )
    if updated:
        ticket.routing_state = state
    return bool(updated)


def mark_routing_pending(*, ticket_id: int) -> bool:
    """Ask for another routing pass of a ticket that is still open and without owner/team."""
    return bool(
        Ticket.objects.filter(OPEN_SQL, pk=ticket_id, owner__isnull=True, team__isnull=True)
        .exclude(routing_state=Ticket.RoutingState.PENDING)
        .update(routing_state=Ticket.RoutingState.PENDING)
    )


def reply(
    *,
    ticket: Ticket,
    author: User,
    body: str,
    expected_version: int | None = None,
    attachments: Iterable[AttachmentFile] = (),
) -> Message:
    """Send a reply to the contact, with `attachments`. Replying to a ticket without owner
    makes the author its owner (R4); the ticket then waits on the contact."""
    if not author.has_ticket_access:
        raise ValidationError(gettext("Only users with ticket access can reply."))
    body = _require_body(body)
    with transaction.atomic():
        locked = _lock(ticket, expected_version)
        message = Message.objects.create(
            ticket=locked,
            channel=locked.channel,
            direction=Message.Direction.OUTBOUND,
            author=author,
            body=body,
        )
        _store_attachments(message, attachments)
        if locked.owner_id is None:
            _assign_locked(
                locked, ticket, owner=author, team=locked.team, actor=author, cause=Cause.REPLY
            )
        _change_status(
            locked,
            ticket,
            Ticket.Status.WAITING_ON_CONTACT,
            actor=author,
            activity_at=message.created_at,
        )
        events.message_added.send(sender=Message, ticket=locked, message=message)
    return message


def add_note(*, ticket: Ticket, author: User, body: str) -> Message:
    """An internal note: seen by agents only, changes neither owner nor status."""
    if not author.has_ticket_access:
        raise ValidationError(gettext("Only users with ticket access can add notes."))
    body = _require_body(body)
    with transaction.atomic():
        locked = _lock(ticket, None)
        message = Message.objects.create(
            ticket=locked, direction=Message.Direction.NOTE, author=author, body=body
        )
        locked.last_activity_at = message.created_at
        _save(locked, ticket, ["last_activity_at"])
        events.message_added.send(sender=Message, ticket=locked, message=message)
    return message


def add_inbound_message(
    *,
    ticket: Ticket,
    body: str,
    external_id: str = "",
    html: str = "",
    quoted: str = "",
    sender_address: str = "",
    sender_name: str = "",
    is_automatic: bool = False,
    attachments: Iterable[AttachmentFile] = (),
    created_at: datetime | None = None,
) -> tuple[Message, bool]:
    """The contact wrote again on this ticket. Returns (message, created); a redelivered
    input (same channel and external id) creates nothing. `created_at`: when the customer
    sent it, if the channel says (default: now).

    A person's message sets the ticket to *waiting on us* whatever its status — a closed
    ticket reopens, one waiting on the contact comes back to the agents. An automatic one
    (`is_automatic`: an out-of-office, a bounce) is kept in the thread but changes neither
    status nor last activity: a robot never reopens a ticket."""
    from helpdesk.services.intake import insert_once  # intake's rule for a redelivery

    # No savepoint when called inside a transaction: nothing here is caught and continued
    # from, and what raises rolls back the caller's transaction with it.
    with transaction.atomic(savepoint=False):
        # `_lock`'s row lock, with the channel read in the same statement: every receiver
        # of `message_added` asks for the ticket's channel.
        locked = (
            Ticket.objects.select_for_update(no_key=True, of=("self",))
            .select_related("channel")
            .get(pk=ticket.pk)
        )
        message = Message(
            ticket=locked,
            channel_id=locked.channel_id,
            direction=Message.Direction.INBOUND,
            body=body,
            external_id=external_id,
            **_message_details(
                html=html,
                quoted=quoted,
                sender_address=sender_address,
                sender_name=sender_name,
                is_automatic=is_automatic,
            ),
        )
        if created_at is not None:
            message.created_at = created_at
        if not insert_once(message):  # already received (unique channel and external id)
            return Message.objects.get(channel_id=locked.channel_id, external_id=external_id), False
        _store_attachments(message, attachments)
        if not is_automatic:
            _change_status(
                locked,
                ticket,
                Ticket.Status.WAITING_ON_US,
                actor=None,
                activity_at=message.created_at,
            )
        events.message_added.send(sender=Message, ticket=locked, message=message)
    return message, True


def add_automatic_reply(*, ticket: Ticket, body: str) -> Message:
    """An answer the helpdesk writes by itself (an acknowledgement of a new ticket): sent to
    the contact like a reply, shown in the thread as automatic, and changing neither owner,
    status nor last activity — nobody has answered the customer yet."""
    body = _require_body(body)
    with transaction.atomic():
        locked = _lock(ticket, None)
        message = Message.objects.create(
            ticket=locked,
            channel_id=locked.channel_id,
            direction=Message.Direction.OUTBOUND,
            body=body,
            is_automatic=True,
        )
        events.message_added.send(sender=Message, ticket=locked, message=message)
    return message


def set_ticket_status(
    *, ticket: Ticket, status: str, actor: User | None, expected_version: int | None = None
) -> None:
    if status not in Ticket.Status.values:
        raise ValidationError(
            {"status": gettext("Unknown status %(status)r.") % {"status": status}}
        )
    with transaction.atomic():
        locked = _lock(ticket, expected_version)
        _change_status(locked, ticket, status, actor=actor)


def close(*, ticket: Ticket, actor: User | None, expected_version: int | None = None) -> None:
    set_ticket_status(
        ticket=ticket, status=Ticket.Status.CLOSED, actor=actor, expected_version=expected_version
    )


def reopen(*, ticket: Ticket, actor: User | None, expected_version: int | None = None) -> None:
    set_ticket_status(
        ticket=ticket,
        status=Ticket.Status.WAITING_ON_US,
        actor=actor,
        expected_version=expected_version,
    )


def set_priority(
    *, ticket: Ticket, priority: int, actor: User | None, expected_version: int | None = None
) -> None:
    if priority not in Ticket.Priority.values:
        raise ValidationError(
            {"priority": gettext("Unknown priority %(priority)r.") % {"priority": priority}}
        )
    with transaction.atomic():
        locked = _lock(ticket, expected_version)
        if locked.priority == priority:
            return
        locked.priority = priority
        _save(locked, ticket, ["priority"])


def _change_status(
    locked: Ticket, original: Ticket, status: str, *, actor, activity_at=None, also=()
):
    """`also`: fields the caller changed on `locked` too, saved in the same version."""
    old = locked.status
    fields = list(also)
    if activity_at is not None:
        locked.last_activity_at = activity_at
        fields.append("last_activity_at")
    if old != status:
        locked.status = status
        locked.closed_at = timezone.now() if status == Ticket.Status.CLOSED else None
        fields += ["status", "closed_at"]
    if not fields:
        return
    _save(locked, original, fields)


def set_properties(
    *,
    ticket: Ticket,
    status: str,
    priority: int,
    actor: User | None,
    expected_version: int | None = None,
) -> list[str]:
    """Status and priority in one step (the ticket page's Properties): one lock, one new
    version; returns the names of the fields that changed (empty: nothing to do)."""
    errors = {}
    if status not in Ticket.Status.values:
        errors["status"] = gettext("Unknown status %(status)r.") % {"status": status}
    if priority not in Ticket.Priority.values:
        errors["priority"] = gettext("Unknown priority %(priority)r.") % {"priority": priority}
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        locked = _lock(ticket, expected_version)
        changed = []
        if locked.priority != priority:
            locked.priority = priority
            changed.append("priority")
        if locked.status != status:
            changed.append("status")
        _change_status(
            locked, ticket, status, actor=actor, also=["priority"] if "priority" in changed else []
        )
    return changed


def _require_body(body: str) -> str:
    body = (body or "").strip()
    if not body:
        raise ValidationError({"body": gettext("Write a message first.")})
    return body
