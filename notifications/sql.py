"""An announcement's statements, hand-written: the same questions and writes as the ORM's, in
fewer and leaner statements of a fixed text (so PostgreSQL prepares each once per connection
and stops planning it again — `DB_PREPARE_THRESHOLD`), without the ORM's compiling on every
call. `tests/notifications/test_sql.py` checks each against the ORM's answer.

On every database:
- `assignment` — the assignment event, its ticket and the names its texts say;
- `people` — the users with ticket access among some ids and the members of a team, with
  `in_team`. The access rule is the core's, in SQL (`helpdesk.selectors.ticket_access_sql`:
  active, and a superuser or granted the permission directly or through a group), its
  permission looked up once in the statement rather than once per subquery.

On PostgreSQL (elsewhere the callers ask the ORM the same):
- `preference_rows` — the main teams, defaults and own choices `recipients_for` weighs;
- `insert_deliveries` — every delivery of an announcement in one `INSERT … SELECT unnest(…)
  ON CONFLICT DO NOTHING`, returning in the same statement the pending ones, new or left by
  an earlier run;
- `deliver_in_app` — claim the pending in-app deliveries, insert their notifications and
  mark them sent.
"""

from datetime import datetime
from functools import cache
from typing import NamedTuple

from django.db import connection

from helpdesk.models import AssignmentEvent, Team, TeamMembership, Ticket, User
from helpdesk.selectors import ticket_access_sql
from notifications.catalog import Medium
from notifications.models import DefaultPreference, Delivery, Notification, Preference

Status = Delivery.Status


def postgres() -> bool:
    return connection.vendor == "postgresql"


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


def _table(model) -> str:
    return _q(model._meta.db_table)


def _column(model, name: str) -> str:
    return model._meta.get_field(name).column


# ---------------------------------------------------------------------------------------
# Recipients
# ---------------------------------------------------------------------------------------

USER_FIELDS = User._meta.concrete_fields


@cache
def _people_sql() -> str:
    access_cte, has_access = ticket_access_sql("u")
    columns = ", ".join(f"u.{_q(f.column)}" for f in USER_FIELDS)
    team_members = f"SELECT tm.user_id FROM {_table(TeamMembership)} tm WHERE tm.team_id = %s"
    return f"""
WITH {access_cte}
SELECT {columns}, u.id IN ({team_members})
FROM {_table(User)} u
WHERE u.id IN ({team_members} UNION ALL SELECT %s UNION ALL SELECT %s) AND {has_access}
ORDER BY u.id"""


def people(*, ids: set[int], team_id: int | None) -> list[User]:
    """The users with ticket access among `ids` (at most two: a new and a previous owner) and
    the members (main or additional) of the team `team_id`, each with `in_team`, in id
    order. One statement of a fixed text."""
    if len(ids) > 2:
        raise ValueError("At most two users by id.")
    first, second = [*sorted(ids), None, None][:2]
    with connection.cursor() as cursor:
        cursor.execute(_people_sql(), [team_id, team_id, first, second])
        rows = cursor.fetchall()
    attnames = [f.attname for f in USER_FIELDS]
    found = []
    for row in rows:
        user = User.from_db(connection.alias, attnames, row[:-1])
        user.in_team = bool(row[-1])
        found.append(user)
    return found


# ---------------------------------------------------------------------------------------
# The occurrence
# ---------------------------------------------------------------------------------------


class Assignment(NamedTuple):
    """An assignment event with its ticket, and the names its texts say."""

    event: AssignmentEvent
    ticket: Ticket
    actor: str | None  # None: no actor (routing, the system)
    to_owner: str | None
    to_team: str | None


EVENT_FIELDS = tuple(AssignmentEvent._meta.concrete_fields)
TICKET_FIELDS = tuple(Ticket._meta.concrete_fields)


@cache
def _assignment_sql() -> str:
    columns = ", ".join(
        [f"a.{_q(f.column)}" for f in EVENT_FIELDS] + [f"t.{_q(f.column)}" for f in TICKET_FIELDS]
    )
    users, team = _table(User), _table(Team)
    return f"""
SELECT {columns}, actor.first_name, actor.last_name, actor.username,
       owner.first_name, owner.last_name, owner.username, team.name
FROM {_table(AssignmentEvent)} a
JOIN {_table(Ticket)} t ON t.id = a.ticket_id
LEFT JOIN {users} actor ON actor.id = a.actor_id
LEFT JOIN {users} owner ON owner.id = a.to_owner_id
LEFT JOIN {team} team ON team.id = a.to_team_id
WHERE a.id = %s"""


def assignment(assignment_id: int) -> Assignment | None:
    """The assignment event, its ticket, and the names of its actor, new owner and new team
    (None where there is none): one statement of a fixed text, on every database."""
    with connection.cursor() as cursor:
        cursor.execute(_assignment_sql(), [assignment_id])
        row = cursor.fetchone()
    if row is None:
        return None
    n, m = len(EVENT_FIELDS), len(EVENT_FIELDS) + len(TICKET_FIELDS)
    event = AssignmentEvent.from_db(
        connection.alias, [f.attname for f in EVENT_FIELDS], _converted(EVENT_FIELDS, row[:n])
    )
    ticket = Ticket.from_db(
        connection.alias, [f.attname for f in TICKET_FIELDS], _converted(TICKET_FIELDS, row[n:m])
    )
    event.ticket = ticket
    actor, owner, (team,) = row[m : m + 3], row[m + 3 : m + 6], row[m + 6 :]
    return Assignment(
        event,
        ticket,
        User.name_of(*actor) if event.actor_id is not None else None,
        User.name_of(*owner) if event.to_owner_id is not None else None,
        team if event.to_team_id is not None else None,
    )


def _converted(fields, values) -> list:
    """Column values as the ORM gives them (e.g. aware datetimes on SQLite)."""
    out = []
    for converters, value in zip(_converters(fields), values, strict=True):
        for converter, field in converters:
            value = converter(value, field, connection)
        out.append(value)
    return out


@cache
def _converters(fields) -> list[list]:
    def of(field) -> list:
        col = field.get_col(field.model._meta.db_table)
        found = connection.ops.get_db_converters(col) + field.get_db_converters(connection)
        return [(converter, field) for converter in found]

    return [of(field) for field in fields]


# ---------------------------------------------------------------------------------------
# Writes (PostgreSQL)
# ---------------------------------------------------------------------------------------

# The columns that differ from one delivery of an announcement to the next; the others
# (ticket, status, timestamps …) are the same for all and sent once.
VARYING = ("event_key", "event", "recipient_id", "medium", "text", "detail")


@cache
def _insert_sql(fields: tuple) -> str:
    def cast(field) -> str:  # text, not varchar(n): a value too long is refused, not cut
        db_type = field.db_type(connection)
        return "text" if db_type.startswith("varchar") else db_type

    varying = [f for f in fields if f.attname in VARYING]
    same = [f for f in fields if f.attname not in VARYING]
    arrays = ", ".join(f"%s::{cast(f)}[]" for f in varying)
    names = ", ".join(_q(f.column) for f in varying)
    columns = ", ".join(_q(f.column) for f in varying + same)
    values = ", ".join([f"w.{_q(f.column)}" for f in varying] + [f"%s::{cast(f)}" for f in same])
    delivery = _table(Delivery)
    return f"""
WITH w ({names}) AS (SELECT * FROM unnest({arrays})),
new AS (
    INSERT INTO {delivery} ({columns}) SELECT {values} FROM w
    ON CONFLICT DO NOTHING RETURNING id, medium
)
SELECT id, medium FROM new
UNION ALL
SELECT d.id, d.medium FROM {delivery} d
WHERE d.status = %s AND (d.event_key, d.recipient_id) IN (SELECT event_key, recipient_id FROM w)"""


def insert_deliveries(rows: list[Delivery]) -> list[tuple[int, str]]:
    """Insert `rows` (one announcement's: the same ticket and defaults) except those already
    there (unique per event key, recipient and medium), and return (id, medium) of every
    pending delivery of their keys and recipients: the new ones and those an earlier run left
    pending. One statement."""
    if not rows:
        return []
    fields = tuple(f for f in Delivery._meta.concrete_fields if not f.primary_key)
    first = rows[0]
    params = [
        [f.get_db_prep_save(getattr(row, f.attname), connection) for row in rows]
        for f in fields
        if f.attname in VARYING
    ]
    params += [
        f.get_db_prep_save(getattr(first, f.attname), connection)
        for f in fields
        if f.attname not in VARYING
    ]
    with connection.cursor() as cursor:
        cursor.execute(_insert_sql(fields), [*params, Status.PENDING])
        return cursor.fetchall()


@cache
def _deliver_sql() -> str:
    delivery, notification = _table(Delivery), _table(Notification)
    copied = ("recipient_id", "event", "ticket_id", "text", "detail", "created_at")
    columns = ", ".join(_q(_column(Notification, name)) for name in copied)
    read_from = ", ".join(f"c.{_q(_column(Delivery, name))}" for name in copied)
    return f"""
WITH claimed AS (
    SELECT d.*, nextval(pg_get_serial_sequence(%s, 'id')) AS new_notification_id
    FROM {delivery} d
    WHERE d.id = ANY(%s::bigint[]) AND d.status = %s AND d.medium = %s
    ORDER BY d.created_at DESC, d.id DESC
    FOR NO KEY UPDATE
), made AS (
    INSERT INTO {notification} (id, {columns})
    SELECT c.new_notification_id, {read_from} FROM claimed c
)
UPDATE {delivery} d
SET status = %s, sent_at = %s, claimed_at = %s, attempts = d.attempts + 1,
    notification_id = c.new_notification_id
FROM claimed c WHERE d.id = c.id
RETURNING d.id"""


def deliver_in_app(delivery_ids: list[int], now: datetime) -> list[int]:
    """Claim the pending in-app deliveries among `delivery_ids` (a row another transaction
    holds is waited for, then skipped unless still pending), insert their notifications and
    mark them sent: one statement. Returns the ids sent."""
    params = [
        Notification._meta.db_table,
        "{" + ",".join(map(str, map(int, delivery_ids))) + "}",
        Status.PENDING,
        Medium.IN_APP,
        Status.SENT,
        now,
        now,
    ]
    with connection.cursor() as cursor:
        cursor.execute(_deliver_sql(), params)
        return [row[0] for row in cursor.fetchall()]


# ---------------------------------------------------------------------------------------
# Preferences (PostgreSQL)
# ---------------------------------------------------------------------------------------

MAIN_TEAM, DEFAULT, OWN = "main_team", "default", "own"


@cache
def _layers_sql() -> str:
    memberships = _table(TeamMembership)
    main_of_users = "tm.role = %s AND tm.user_id = ANY(%s::bigint[])"
    return f"""
SELECT %s, tm.user_id, tm.team_id, NULL, NULL, NULL
FROM {memberships} tm WHERE {main_of_users}
UNION ALL
SELECT %s, d.user_id, d.team_id, d.event, d.medium, d.enabled
FROM {_table(DefaultPreference)} d
WHERE d.event = ANY(%s::text[])
  AND ((d.team_id IS NULL AND d.user_id IS NULL) OR d.user_id = ANY(%s::bigint[])
       OR d.team_id IN (SELECT tm.team_id FROM {memberships} tm WHERE {main_of_users}))
UNION ALL
SELECT %s, p.user_id, NULL, p.event, p.medium, p.enabled
FROM {_table(Preference)} p
WHERE p.user_id = ANY(%s::bigint[]) AND p.event = ANY(%s::text[])"""


def preference_rows(*, user_ids: list[int], events: list[str]) -> list[tuple]:
    """What `notifications.services.recipients_for` reads, in one statement: (MAIN_TEAM, user,
    team) for every main membership of the users; (DEFAULT, user, team, event, medium,
    enabled) for every default of the events that can reach them (everyone's, their main
    teams', theirs); (OWN, user, None, event, medium, enabled) for their own choices."""
    ids = "{" + ",".join(map(str, map(int, user_ids))) + "}"
    main = TeamMembership.Role.MAIN
    params = [MAIN_TEAM, main, ids, DEFAULT, events, ids, main, ids, OWN, ids, events]
    with connection.cursor() as cursor:
        cursor.execute(_layers_sql(), params)
        return cursor.fetchall()
