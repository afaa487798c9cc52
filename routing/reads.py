"""The reads of a routing decision on PostgreSQL: one statement each, plain rows.

The engine (`routing.engine`) asks the same questions on every database; on PostgreSQL it
asks them here, in hand-written SQL with array parameters (`= ANY(%s)`), and gets tuples, not
model instances — so a decision over 500 agents costs the same statements as one over 5 and
no Python object per agent beyond the plain rows the rules read. Elsewhere (SQLite for
`make run`) the engine reads the same facts through the ORM; `tests/routing/test_reads.py`
checks that both readers give equal snapshots and configs.

1. `lock_ticket` — the ticket row, locked (`FOR NO KEY UPDATE`), with its contact's owner
   and its channel's routing settings (`config_row` alone: the scalars, the chosen users
   and teams, the skill rules, the opening hours);
2. `pool_rows` — every user the rule names (chosen, or a member of a chosen team) with what
   the checks look at: ticket access, seat, presence, the current out-of-office period,
   working hours, the needed skills held, the capacity limit for the ticket type, and their
   memberships of the rule's teams — before the lock;
3. `lock_decisions`, the ticket type's lock; then, under it, `loads_and_turns` — what other
   decisions change: each eligible user's open tickets of the type (in the load window and
   in all) and their round-robin turn.

Each statement's text is built once per process (`functools.cache`): the values are
parameters, and the names in it never change while the process runs.
"""

import functools
from dataclasses import dataclass
from datetime import datetime, time
from typing import NamedTuple

from django.db import connection

from channels_cfg.models import ChannelAutomation, OpeningHours, SkillRule
from helpdesk.availability import Hours, Presence
from helpdesk.models import (
    AgentSkill,
    Channel,
    Contact,
    OutOfOffice,
    Seat,
    Skill,
    Team,
    TeamMembership,
    Ticket,
    User,
    WorkingHours,
)
from helpdesk.rows import id_array
from helpdesk.selectors import ticket_access_sql
from routing.models import CapacityLimit, RoundRobinTurn


def _table(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


TICKET_COLUMNS = [f.column for f in Ticket._meta.concrete_fields]
TICKET_ATTNAMES = [f.attname for f in Ticket._meta.concrete_fields]
CONTACT_COLUMNS = ("owner_id", "visitor_token", "email", "whatsapp_id", "phone")


def lock_ticket(ticket_id: int, *, generic_plans: bool) -> tuple[Ticket, "ConfigRow | None"] | None:
    """The ticket, locked for the rest of the transaction, with `contact_owner_id` set when
    its contact is identified (None otherwise), and its channel's routing settings
    (`config_row`). One statement; with `generic_plans`, the rest of the transaction runs on
    generic plans (`_lock_ticket_sql`) — for a decision that is a transaction of its own."""
    with connection.cursor() as cursor:
        cursor.execute(_lock_ticket_sql(generic_plans), [ticket_id])
        row = cursor.fetchone()
    if row is None:
        return None
    n, m = len(TICKET_COLUMNS), len(TICKET_COLUMNS) + len(CONTACT_COLUMNS)
    ticket = Ticket.from_db(connection.alias, TICKET_ATTNAMES, row[:n])
    owner_id, *identity = row[n:m]
    contact = Contact(**dict(zip(CONTACT_COLUMNS[1:], (v or "" for v in identity), strict=True)))
    ticket.contact_owner_id = owner_id if owner_id is not None and contact.is_identified else None
    return ticket, _config_from(row[m:-1])  # the last column: the plans' setting, or NULL


@functools.cache
def _lock_ticket_sql(generic_plans: bool) -> str:
    """The ticket, its contact's owner, its channel's settings — and, with `generic_plans`,
    generic plans for the rest of the transaction: each statement of a decision is then
    planned once per connection (psycopg prepares it) instead of for every decision. Left to
    choose, PostgreSQL planned the pool's statement anew each time (≈ 1 ms, its estimate of
    a plan for these very ids beating the generic one's) to save less than that. The values
    a partial index names are written into the statements (`_literal`), so generic plans
    still use those indexes. The setting lasts until the transaction ends: a decision made
    inside someone else's transaction (the calls webhook's savepoint) leaves it alone."""
    columns = ", ".join(f"t.{connection.ops.quote_name(c)}" for c in TICKET_COLUMNS)
    contact = ", ".join(f"c.{c}" for c in CONTACT_COLUMNS)
    config_columns, config_joins = _config_sql("t.channel_id")
    plans = "set_config('plan_cache_mode', 'force_generic_plan', true)" if generic_plans else "NULL"
    return (
        f"SELECT {columns}, {contact}, {config_columns}, {plans} "
        f"FROM {_table(Ticket)} t "
        f"LEFT JOIN {_table(Contact)} c ON c.id = t.contact_id {config_joins} "
        "WHERE t.id = %s FOR NO KEY UPDATE OF t"
    )


@dataclass(frozen=True)
class ConfigRow:
    """A channel's saved routing settings, as `RoutingConfig.from_settings` reads them."""

    kind: str
    settings: dict | None  # None: never saved (the kind's defaults)


def config_row(channel_id: int) -> ConfigRow | None:
    """The channel's kind and saved settings in one statement; None without the channel."""
    columns, joins = _config_sql("%s")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {columns} FROM (SELECT 1) one {joins}", [channel_id])
        return _config_from(cursor.fetchone())


CONFIG_SCALARS = (
    "assign_mode",
    "distribution",
    "available_only",
    "ai_fallback",
    "skill_routing",
    "skill_fallback",
    "chat_assignment_enabled",
    "reroute_when_available",
    "opening_hours_time_zone",
)


@functools.cache
def _selections() -> dict[str, tuple[str, str]]:
    """The settings' chosen users and teams: field name → (through table, its column)."""
    return {
        name: (
            connection.ops.quote_name(ChannelAutomation._meta.get_field(name).m2m_db_table()),
            ChannelAutomation._meta.get_field(name).m2m_reverse_name(),
        )
        for name in ChannelAutomation.SELECTION_FIELDS
    }


def _config_sql(channel_id: str) -> tuple[str, str]:
    """The columns and joins that read the settings of the channel `channel_id` (an SQL
    expression) in the row of another statement: its kind, the automation's scalars, the
    chosen users and teams, the skill rules and the opening hours."""
    selections = ", ".join(
        f"ARRAY(SELECT s.{column} FROM {table} s WHERE s.channelautomation_id = a.id)"
        for table, column in _selections().values()
    )
    columns = (
        f"ch.kind, a.id, {', '.join('a.' + s for s in CONFIG_SCALARS)}, {selections}, "
        # skill rules in their order (SkillRule.Meta.ordering), with the skill's name
        "CASE WHEN a.skill_routing THEN (SELECT json_agg(json_build_array(r.condition, r.value,"
        f" k.id, k.name) ORDER BY r.id) FROM {_table(SkillRule)} r JOIN {_table(Skill)} k"
        " ON k.id = r.skill_id WHERE r.automation_id = a.id) END, "
        '(SELECT json_agg(json_build_array(h.weekday, h.start, h."end") ORDER BY h.weekday,'
        f" h.start) FROM {_table(OpeningHours)} h WHERE h.automation_id = a.id)"
    )
    joins = (
        f"LEFT JOIN {_table(Channel)} ch ON ch.id = {channel_id} "
        f"LEFT JOIN {_table(ChannelAutomation)} a ON a.channel_id = ch.id"
    )
    return columns, joins


def _config_from(row) -> ConfigRow | None:
    kind, automation_id, *rest = row
    if kind is None:
        return None
    if automation_id is None:
        return ConfigRow(kind, None)
    through = _selections()
    values = dict(zip(CONFIG_SCALARS, rest[: len(CONFIG_SCALARS)], strict=True))
    rest = rest[len(CONFIG_SCALARS) :]
    for name, ids in zip(through, rest[: len(through)], strict=True):
        values[name] = ids
    rules, hours = rest[len(through) :]
    values["skill_rules"] = [
        {"condition": c, "value": v, "skill": Skill(pk=skill_id, name=name)}
        for c, v, skill_id, name in rules or ()
    ]
    values["opening_hours"] = [
        {"weekday": d, "start": time.fromisoformat(s), "end": time.fromisoformat(e)}
        for d, s, e in hours or ()
    ]
    return ConfigRow(kind, values)


class PoolRow(NamedTuple):
    """One user a rule names, with what every check of `routing.eligibility` looks at."""

    user_id: int
    name: str
    names: tuple[str, str, str]  # first name, last name, username
    has_ticket_access: bool
    has_seat: bool
    presence: Presence
    on_leave: tuple[datetime, str] | None  # the current out-of-office period: end, note
    hours: tuple[Hours, ...]  # working hours, for those who follow them
    skills: frozenset[int]  # of the needed ones
    limit: int | None  # their own capacity limit for the ticket type
    memberships: list[tuple[int, str, str]]  # (order, role, team name) in the rule's teams


def pool_rows(
    *,
    user_ids,
    team_ids,
    needed_skill_ids,
    ticket_type: str,
    at: datetime,
) -> tuple[list[PoolRow], int | None]:
    """Every user the rule names, in id order, and the account's default capacity limit for
    the ticket type. One statement whatever the number of users."""
    params = {
        "team_ids": id_array(team_ids),
        "user_ids": id_array(user_ids),
        "skill_ids": id_array(needed_skill_ids),
        "ticket_type": ticket_type,
        "at": at,
        "working_hours": User.AvailabilityMode.WORKING_HOURS,
        "available": User.Status.AVAILABLE,
    }
    with connection.cursor() as cursor:
        cursor.execute(_pool_sql(), params)
        rows = cursor.fetchall()
    pool: list[PoolRow] = []
    default_limit = None
    for row in rows:  # one per membership of the rule's teams (or one for a chosen user)
        user_id, order, role, team_name, default_limit = row[0], *row[15:]
        membership = (order, role, team_name) if order is not None else None
        if pool and pool[-1].user_id == user_id:  # another membership of the same user
            pool[-1].memberships.append(membership)
            continue
        (first_name, last_name, username, access, seat, mode, status, changed_at) = row[1:9]
        time_zone, leave_end, leave_note, hours, skills, limit = row[9:15]
        pool.append(
            PoolRow(
                user_id,
                User.name_of(first_name, last_name, username),
                (first_name, last_name, username),
                access,
                seat,
                Presence(user_id, mode, status, changed_at, time_zone),
                (leave_end, leave_note) if leave_end is not None else None,
                _hours(hours) if hours else (),
                frozenset(skills) if skills else NO_SKILLS,
                limit,
                [membership] if membership else [],
            )
        )
    return pool, default_limit


@functools.cache
def _pool_sql() -> str:
    access_cte, has_access = ticket_access_sql("u")
    return f"""
WITH {access_cte}, member AS (
    SELECT tm.user_id, tm.role, t.name,
           row_number() OVER (ORDER BY t.name, tm.role, tm.user_id) AS ord
    FROM {_table(TeamMembership)} tm JOIN {_table(Team)} t ON t.id = tm.team_id
    WHERE tm.team_id = ANY(%(team_ids)s::bigint[])
), named AS (
    SELECT m.user_id AS id, m.ord, m.role, m.name FROM member m
    UNION ALL
    SELECT x.id, NULL, NULL, NULL FROM unnest(%(user_ids)s::bigint[]) AS x(id)
    WHERE x.id NOT IN (SELECT user_id FROM member)
)
SELECT u.id, u.first_name, u.last_name, u.username,
       {has_access},
       EXISTS (SELECT 1 FROM {_table(Seat)} s WHERE s.user_id = u.id),
       u.availability_mode, u.status,
       -- read only where an explanation says it ("away since …"): parsing a timestamp per
       -- user costs more than the rest of the row
       CASE WHEN u.status <> %(available)s THEN u.status_changed_at END,
       u.time_zone, o."end", o.note,
       CASE WHEN u.availability_mode = %(working_hours)s THEN
           (SELECT json_agg(json_build_array(w.weekday, w.start, w."end"))
            FROM {_table(WorkingHours)} w WHERE w.user_id = u.id) END,
       CASE WHEN %(skill_ids)s::bigint[] <> '{{}}' THEN
           ARRAY(SELECT k.skill_id FROM {_table(AgentSkill)} k
                 WHERE k.user_id = u.id AND k.skill_id = ANY(%(skill_ids)s::bigint[])) END,
       c.max_open, n.ord, n.role, n.name,
       (SELECT d.max_open FROM {_table(CapacityLimit)} d
        WHERE d.user_id IS NULL AND d.ticket_type = %(ticket_type)s)
FROM named n
JOIN {_table(User)} u ON u.id = n.id
LEFT JOIN {_table(CapacityLimit)} c ON c.user_id = u.id AND c.ticket_type = %(ticket_type)s
LEFT JOIN LATERAL (
    SELECT o."end", o.note FROM {_table(OutOfOffice)} o
    WHERE o.user_id = u.id AND o.start <= %(at)s AND o."end" > %(at)s
    ORDER BY o."end" LIMIT 1
) o ON true
ORDER BY u.id, n.ord"""


NO_SKILLS: frozenset[int] = frozenset()


def _hours(rows) -> tuple[Hours, ...]:
    return tuple(Hours(d, time.fromisoformat(s), time.fromisoformat(e)) for d, s, e in rows)


# The first key of routing's advisory locks ("rout"); the second is the ticket type's hash.
LOCK_NAMESPACE = 0x726F7574


def lock_decisions(ticket_type: str) -> None:
    """Wait for the decisions of `ticket_type` in progress, then hold the type's lock until
    the transaction ends (a transaction-level advisory lock: `routing.engine` says why)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(%s, hashtext(%s))", [LOCK_NAMESPACE, ticket_type]
        )
        cursor.fetchall()


def loads_and_turns(
    user_ids, *, ticket_type: str, since: datetime, channel_id: int | None
) -> list[tuple[int, int, int, datetime | None, datetime | None]]:
    """For each user: open tickets of the type assigned since `since`, all open tickets of
    the type, the newest assignment since `since`, and their round-robin turn on the channel.
    One statement over the (owner, ticket_type, assigned_at) index of open tickets."""
    with connection.cursor() as cursor:
        cursor.execute(
            _loads_sql(),
            {
                "ids": id_array(user_ids),
                "since": since,
                "ticket_type": ticket_type,
                "channel_id": channel_id,
            },
        )
        return cursor.fetchall()


def _literal(value: str) -> str:
    """A constant of the code (never input) written into a statement rather than passed:
    a generic plan (`_lock_ticket_sql`) can use a partial index only when the value its
    predicate names is in the statement's text."""
    if not value.isidentifier():
        raise ValueError(f"not a plain constant: {value!r}")
    return f"'{value}'"


@functools.cache
def _loads_sql() -> str:
    return f"""
SELECT u.id, COALESCE(l.recent, 0), COALESCE(l.total, 0), l.last, r.last_assigned_at
FROM unnest(%(ids)s::bigint[]) AS u(id)
LEFT JOIN (
    SELECT t.owner_id,
           count(*) FILTER (WHERE t.assigned_at >= %(since)s) AS recent,
           count(*) AS total,
           max(t.assigned_at) FILTER (WHERE t.assigned_at >= %(since)s) AS last
    FROM {_table(Ticket)} t
    WHERE NOT (t.status = {_literal(Ticket.Status.CLOSED)}) AND t.owner_id = ANY(%(ids)s::bigint[])
      AND t.ticket_type = %(ticket_type)s
    GROUP BY t.owner_id
) l ON l.owner_id = u.id
LEFT JOIN {_table(RoundRobinTurn)} r ON r.user_id = u.id AND r.channel_id = %(channel_id)s"""
