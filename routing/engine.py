"""The routing engine: decide who gets a ticket, apply it safely, keep the explanation.

`route_ticket` runs one decision in one transaction, in three phases:

1. **Lock and read** (`read_snapshot`): lock the ticket and read the channel's settings
   (one statement on PostgreSQL, `routing.reads.lock_ticket`; elsewhere `load_config`), what
   the rules look at in the ticket (`facts_of`), then the users the rule names with their
   seat and ticket access, the availability, skills and capacity limits of those still in;
   then take the ticket type's lock, and only then count the eligible users' loads and read
   their round-robin turns — all into a plain `routing.decision.Snapshot`.
2. **Decide** (`routing.decision.decide`): a pure function of the snapshot, without the
   database — eligibility, the distribution, and the explanation's words
   (`routing.explanations`), to which the decision passes facts.
3. **Apply** (`_apply`): the conditional claim (or the routing marked done), the round-robin
   turn, the ticket kept waiting for an agent, the `RoutingDecision` with its explanation, the
   `ticket_routed` event and the job that emails an offline contact owner.

`dry_run` reads the same snapshot without locks and runs the same `decide`, writing nothing:
the settings page's preview (`routing.preview`) and the sweep of waiting tickets
(`routing.sweeps`) use it, so what they show is what a decision would do.

Concurrency. A decision runs in one transaction that takes two locks, in this order:
1. the ticket row (`SELECT … FOR NO KEY UPDATE`) — the same lock every helpdesk service
   takes before changing a ticket, so the router and a person serialise and the router,
   finding the ticket assigned, does nothing;
2. the ticket type's transaction-level advisory lock (`routing.reads.lock_decisions`), before
   any load is counted — so decisions of one type run one after the other from there to
   their commit, and each counts loads after the one before has committed (read committed:
   every statement sees what was committed before it started). Loads and capacity count
   open tickets of one type (R10, R13), so two decisions that could change each other's
   counts — also from two channels sharing agents — always share this lock; a channel's
   tickets are of one type (R12), so its round-robin turns are ordered by it too. Decisions
   of different types run in parallel. (Contact-owner routing counts no loads: it takes
   no such lock.)
Why a lock per type rather than the candidates' rows: locking a row writes it (500 agents
cost 1.4 ms and as much WAL per decision), while the advisory lock costs the same for any
pool; and it takes no row lock that the foreign-key checks of other transactions
(`FOR KEY SHARE` on a referenced user, at their commit) could wait on
(`tests/routing/test_deadlock.py`). The ticket's lock is `FOR NO KEY UPDATE` for the same
reason: it conflicts with itself, so decisions and services serialise on a ticket, but not
with those checks. The claim itself is a conditional update (only while the ticket is open,
without owner and team, and pending), so even a path that skipped the locks could not
overwrite anyone. Round-robin turn times are taken in phase 3, under the lock, so they order
as the decisions commit. SQLite (`make run`) runs one writing transaction at a time and has
no such lock.
"""

import random
import time
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import assert_never

from django.db import connection, transaction
from django.db.models import Count, Max, Q
from django.utils import timezone

from channels_cfg.models import ChannelAutomation
from helpdesk import events, jobs, services
from helpdesk.availability import availability_from, availability_of
from helpdesk.models import (
    AgentSkill,
    AssignmentEvent,
    Channel,
    Message,
    Team,
    TeamMembership,
    Ticket,
    User,
)
from helpdesk.rows import insert as insert_row
from helpdesk.selectors import annotate_helpdesk_roles
from routing import eligibility, explanations, reads
from routing.capacity import capacity_limits
from routing.config import RoutingConfig
from routing.decision import (
    Decision,
    LeaveUnassigned,
    Snapshot,
    TeamFacts,
    ToContactOwner,
    ToPool,
    ToTeam,
    decide,
    route_of,
    screen_pool,
)
from routing.eligibility import LOAD_WINDOW, Load, Membership, PoolUser, TicketFacts
from routing.models import RoundRobinTurn, RoutingDecision, WaitingTicket

# The owner-email job names its task (registered under this name in `routing.tasks`), so the
# engine does not import the tasks module that imports it.
EMAIL_OWNER_TASK = "routing.tasks.email_submission_to_owner_task"

USER_FIELDS = (
    "id",
    "username",
    "first_name",
    "last_name",
    "is_active",
    "is_superuser",
    "status",
    "availability_mode",
    "status_changed_at",
    "time_zone",
)


# ---------------------------------------------------------------------------------------
# The inputs
# ---------------------------------------------------------------------------------------


def _postgres() -> bool:
    """On PostgreSQL a decision reads through `routing.reads` (one statement per question,
    array parameters, plain rows); elsewhere through the ORM — the same facts either way."""
    return connection.vendor == "postgresql"


def load_config(channel: Channel | None) -> RoutingConfig | None:
    if channel is None:
        return None
    if _postgres():
        return config_of(channel.pk)
    automation = ChannelAutomation.objects.select_related("channel").filter(channel=channel).first()
    if automation is None:
        return RoutingConfig.unconfigured(channel)
    return RoutingConfig.from_automation(automation)


def config_of(channel_id: int) -> RoutingConfig | None:
    """The channel's settings in one statement (PostgreSQL)."""
    return _config_from(reads.config_row(channel_id), channel_id)


def _config_from(row: reads.ConfigRow | None, channel_id: int | None) -> RoutingConfig | None:
    if row is None:
        return None
    if row.settings is None:
        return RoutingConfig.unconfigured(Channel(pk=channel_id, kind=row.kind))
    return RoutingConfig.from_settings(kind=row.kind, settings=row.settings)


def facts_of(ticket: Ticket, *, with_text: bool = True) -> TicketFacts:
    """What the rules look at; the first message's text only when `with_text` (skill rules
    on the text), so other decisions skip that read."""
    first = None
    if with_text:
        first = (
            Message.objects.filter(ticket=ticket, direction=Message.Direction.INBOUND)
            .values_list("body", flat=True)
            .first()
        )
    return TicketFacts(
        ticket.ticket_type, ticket.subject, first or "", ticket.language, ticket.priority
    )


def contact_owner_of(ticket: Ticket) -> int | None:
    """The owner of the ticket's contact, when the contact is identified (its contact loaded)."""
    contact = ticket.contact
    return contact.owner_id if contact is not None and contact.is_identified else None


# ---------------------------------------------------------------------------------------
# Phase 1: lock and read
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rows:
    """The rows behind a snapshot, which phase 3 writes through: the users as models (ORM
    reader) or as plain rows (`routing.reads`), and the team."""

    users: dict[int, User] = field(default_factory=dict)
    team: Team | None = None
    pool: dict[int, reads.PoolRow] = field(default_factory=dict)

    def user(self, user_id: int) -> User:
        """The chosen user as a model: a plain row becomes a `User` with its names loaded
        and every other field deferred (read on access)."""
        if user_id in self.users:
            return self.users[user_id]
        row = self.pool[user_id]
        first_name, last_name, username = row.names
        return User.from_db(
            connection.alias,
            ["id", "first_name", "last_name", "username"],
            [user_id, first_name, last_name, username],
        )


def read_snapshot(
    *,
    config: RoutingConfig,
    facts: TicketFacts,
    at: datetime,
    channel_id: int | None,
    contact_owner_id: int | None = None,
    lock: bool,
) -> tuple[Snapshot, Rows]:
    """What the decision will look at, and nothing more: only what the route of the settings
    needs (`routing.decision.route_of`). With `lock`, inside the caller's transaction, the
    ticket type's lock is taken before loads are counted (PostgreSQL). A fixed number of
    queries whatever the number of users."""
    snapshot = Snapshot(
        config=config,
        facts=facts,
        at=at,
        channel_id=channel_id,
        contact_owner_id=contact_owner_id,
    )
    match route_of(config, at, contact_owner_id):
        case ToTeam(team_id=team_id):
            team = Team.objects.filter(pk=team_id).first()
            if team is None:
                return snapshot, Rows()
            seated = Team.objects.filter(pk=team.pk, memberships__user__seat__isnull=False)
            facts_of_team = TeamFacts(team.pk, str(team), seated.exists())
            return replace(snapshot, team=facts_of_team), Rows(team=team)
        case ToContactOwner(owner_id=owner_id):
            return _read_users(snapshot, (owner_id,), (), lock=False, turns_channel_id=None)
        case ToPool(user_ids=user_ids, team_ids=team_ids):
            return _read_users(snapshot, user_ids, team_ids, lock=lock, turns_channel_id=channel_id)
        case LeaveUnassigned():
            return snapshot, Rows()  # nobody to look at
        case route:
            assert_never(route)


def _read_users(
    snapshot: Snapshot, user_ids, team_ids, *, lock: bool, turns_channel_id: int | None
) -> tuple[Snapshot, Rows]:
    reader = _read_users_sql if _postgres() else _read_users_orm
    return reader(snapshot, user_ids, team_ids, lock=lock, turns_channel_id=turns_channel_id)


def _read_users_sql(
    snapshot: Snapshot, user_ids, team_ids, *, lock: bool, turns_channel_id: int | None
) -> tuple[Snapshot, Rows]:
    """PostgreSQL: the whole pool with everything the checks look at in one statement, read
    before the lock; the rules run over it in Python; then the ticket type's lock, and what
    other decisions change — loads and turns — is read in one statement. Three statements
    whatever the pool's size (one when nobody is eligible)."""
    config, facts, at = snapshot.config, snapshot.facts, snapshot.at
    needed = eligibility.required_skills(config, facts)
    rows, default_limit = reads.pool_rows(
        user_ids=user_ids,
        team_ids=team_ids,
        needed_skill_ids=needed.keys(),
        ticket_type=facts.ticket_type,
        at=at,
    )
    by_id = {r.user_id: r for r in rows}
    memberships = tuple(
        Membership(user_id, role, team_name)
        for _, user_id, role, team_name in sorted(
            (order, r.user_id, role, team_name)
            for r in rows
            for order, role, team_name in r.memberships
        )
    )
    users = tuple(PoolUser(r.user_id, r.name, r.has_ticket_access, r.has_seat) for r in rows)
    pool, not_main = eligibility.split_pool(users, user_ids, memberships)
    still_in, _ = eligibility.with_access_and_seat(pool)
    availability = {}
    if config.available_only and still_in:
        present = [by_id[u.user_id] for u in still_in]
        availability = availability_from(
            [r.presence for r in present],
            at,
            on_leave={r.user_id: r.on_leave for r in present if r.on_leave},
            hours={r.user_id: r.hours for r in present if r.hours},
        )
        still_in, _ = eligibility.available(still_in, availability)
    skills = {}
    if needed and still_in:
        skills = {u.user_id: by_id[u.user_id].skills for u in still_in if by_id[u.user_id].skills}
    snapshot = replace(
        snapshot, memberships=memberships, users=users, availability=availability, skills=skills
    )
    snapshot, eligible = _screened(snapshot, pool, not_main)
    if not eligible:
        return snapshot, Rows(pool=by_id)
    limits = {uid: by_id[uid].limit for uid in eligible if by_id[uid].limit is not None}
    if default_limit is not None:
        limits[None] = default_limit
    round_robin = config.distribution == "round_robin" and turns_channel_id is not None
    # The critical section starts here: from this lock to the commit.
    if lock:
        reads.lock_decisions(facts.ticket_type)
    loads, turns = {}, {}
    for user_id, recent, total, last, turn in reads.loads_and_turns(
        eligible,
        ticket_type=facts.ticket_type,
        since=at - LOAD_WINDOW,
        channel_id=turns_channel_id if round_robin else None,
    ):
        if total:
            loads[user_id] = Load(recent, total, last)
        if turn is not None:
            turns[user_id] = turn
    snapshot = replace(snapshot, loads=loads, limits=limits, turns=turns)
    return snapshot, Rows(pool=by_id)


def _screened(snapshot: Snapshot, pool, not_main) -> tuple[Snapshot, list[int]]:
    """The snapshot with its screening (`routing.decision.screen_pool`), and who passes
    every check: the users whose loads are read."""
    screened = screen_pool(snapshot, pool, not_main)
    snapshot = replace(snapshot, screened=screened)
    return snapshot, [u.user_id for u in screened.screening.users]


def _read_users_orm(
    snapshot: Snapshot, user_ids, team_ids, *, lock: bool, turns_channel_id: int | None
) -> tuple[Snapshot, Rows]:
    """The portable reader (SQLite, `make run`): the pool and, step by step, what the checks
    of `eligibility.screen` need for those still in; then the loads of the eligible. At
    most 8 queries. SQLite runs one writing transaction at a time: no lock to take."""
    config, facts, at = snapshot.config, snapshot.facts, snapshot.at
    memberships = tuple(
        Membership(*row)
        for row in TeamMembership.objects.filter(team_id__in=team_ids)
        .order_by("team__name", "role", "user_id")
        .values_list("user_id", "role", "team__name")
    )
    ids, extra = eligibility.pool_ids(user_ids, memberships)
    rows = {
        user.pk: user
        for user in annotate_helpdesk_roles(
            User.objects.filter(pk__in=ids | extra.keys()).only(*USER_FIELDS)
        ).order_by("pk")
    }
    users = tuple(PoolUser(u.pk, str(u), u.has_ticket_access_db, u.has_seat) for u in rows.values())
    pool, not_main = eligibility.split_pool(users, user_ids, memberships)
    still_in, _ = eligibility.with_access_and_seat(pool)
    availability = {}
    if config.available_only and still_in:
        availability = availability_of([rows[u.user_id] for u in still_in], at)
        still_in, _ = eligibility.available(still_in, availability)
    needed = eligibility.required_skills(config, facts)
    skills = {}
    if needed and still_in:
        skills = _held_skills([u.user_id for u in still_in], needed)
    snapshot = replace(
        snapshot, memberships=memberships, users=users, availability=availability, skills=skills
    )
    snapshot, eligible = _screened(snapshot, pool, not_main)
    if not eligible:
        return snapshot, Rows(users=rows)
    loads = loads_of(eligible, facts.ticket_type, at)
    limits = capacity_limits(ticket_type=facts.ticket_type, user_ids=eligible)
    turns = {}
    if config.distribution == "round_robin" and turns_channel_id is not None:
        turns = dict(
            RoundRobinTurn.objects.filter(
                channel_id=turns_channel_id, user_id__in=eligible
            ).values_list("user_id", "last_assigned_at")
        )
    snapshot = replace(snapshot, loads=loads, limits=limits, turns=turns)
    return snapshot, Rows(users=rows)


def _held_skills(user_ids: list[int], needed) -> dict[int, frozenset[int]]:
    held = defaultdict(set)
    for user_id, skill_id in AgentSkill.objects.filter(
        user_id__in=user_ids, skill_id__in=needed
    ).values_list("user_id", "skill_id"):
        held[user_id].add(skill_id)
    return {user_id: frozenset(skill_ids) for user_id, skill_ids in held.items()}


def loads_of(user_ids, ticket_type: str, at: datetime) -> dict[int, Load]:
    """One grouped query over the (owner, ticket_type, assigned_at) index of open tickets."""
    in_window = Q(assigned_at__gte=at - LOAD_WINDOW)
    rows = (
        Ticket.objects.filter(Ticket.OPEN, owner_id__in=user_ids, ticket_type=ticket_type)
        .values("owner_id")
        .annotate(
            window=Count("pk", filter=in_window),
            total=Count("pk"),
            last=Max("assigned_at", filter=in_window),
        )
        .order_by()
    )
    return {r["owner_id"]: Load(r["window"], r["total"], r["last"]) for r in rows}


# ---------------------------------------------------------------------------------------
# A decision, and a dry run
# ---------------------------------------------------------------------------------------


def route_ticket(
    *, ticket_id: int, at: datetime | None = None, rng: random.Random | None = None
) -> RoutingDecision | None:
    """Route one pending ticket. Idempotent: a ticket already routed, assigned or closed is
    left alone and None is returned."""
    started = time.perf_counter()
    own_transaction = not transaction.get_connection().in_atomic_block
    with transaction.atomic():
        locked = _lock_ticket(ticket_id, generic_plans=own_transaction)
        if locked is None:
            return None
        ticket, config = locked
        if ticket.routing_state == Ticket.RoutingState.SKIPPED:
            # A person was faster (their change ended the pending state): say so, once.
            if RoutingDecision.objects.filter(ticket=ticket).exists():
                return None
            return _record_nothing_to_do(ticket, started)
        if ticket.routing_state != Ticket.RoutingState.PENDING:
            return None  # routed before: a redelivered message changes nothing
        if not ticket.is_open or not ticket.is_unassigned or ticket.channel_id is None:
            services.mark_routed(ticket=ticket, state=Ticket.RoutingState.SKIPPED)
            return _record_nothing_to_do(ticket, started)
        at = at or timezone.now()
        snapshot, rows = read_snapshot(
            config=config,
            facts=facts_of(ticket, with_text=config.reads_text),
            at=at,
            channel_id=ticket.channel_id,
            contact_owner_id=ticket.contact_owner_id,
            lock=True,
        )
        decision = decide(snapshot, rng=rng)
        return _apply(ticket, config, decision, rows, at, started)


def _lock_ticket(
    ticket_id: int, *, generic_plans: bool
) -> tuple[Ticket, RoutingConfig | None] | None:
    """The ticket, locked, with `contact_owner_id` (see `contact_owner_of`), and its
    channel's settings (None without a channel); on PostgreSQL, `generic_plans` for the
    rest of a decision that is a transaction of its own (`routing.reads.lock_ticket`)."""
    if _postgres():
        locked = reads.lock_ticket(ticket_id, generic_plans=generic_plans)
        if locked is None:
            return None
        ticket, row = locked
        return ticket, _config_from(row, ticket.channel_id)
    ticket = (
        Ticket.objects.select_for_update(of=("self",), no_key=True)
        .select_related("channel", "contact")
        .filter(pk=ticket_id)
        .first()
    )
    if ticket is None:
        return None
    ticket.contact_owner_id = contact_owner_of(ticket)
    return ticket, load_config(ticket.channel)


def dry_run(
    *,
    config: RoutingConfig,
    facts: TicketFacts,
    at: datetime,
    channel_id: int | None = None,
    contact_owner_id: int | None = None,
    rng: random.Random | None = None,
) -> Decision:
    """The decision that would be taken now, read without locks; writes nothing."""
    snapshot, _ = read_snapshot(
        config=config,
        facts=facts,
        at=at,
        channel_id=channel_id,
        contact_owner_id=contact_owner_id,
        lock=False,
    )
    return decide(snapshot, rng=rng)


# ---------------------------------------------------------------------------------------
# Phase 3: apply
# ---------------------------------------------------------------------------------------


def _apply(
    ticket: Ticket, config: RoutingConfig, decision: Decision, rows: Rows, at, started
) -> RoutingDecision:
    owner = rows.user(decision.owner_id) if decision.owner_id else None
    team = rows.team if decision.team_id else None
    summary = decision.summary
    if owner or team:
        services.claim_for_routing(ticket=ticket, owner=owner, team=team, reason=summary)
        if owner and decision.strategy == "round_robin":
            # Taken now, under the locks, so turns are ordered as the decisions commit.
            turn_at = timezone.now()
            RoundRobinTurn.objects.bulk_create(
                [
                    RoundRobinTurn(
                        channel_id=ticket.channel_id, user=owner, last_assigned_at=turn_at
                    )
                ],
                update_conflicts=True,
                unique_fields=["channel", "user"],
                update_fields=["last_assigned_at"],
            )
    else:
        services.mark_routed(ticket=ticket, state=Ticket.RoutingState.DONE)
    if decision.waiting_for_agent and config.reroute_when_available:
        WaitingTicket.objects.update_or_create(ticket=ticket, defaults={"since": at})
        summary = explanations.routed_again_when_available(summary)
    record = RoutingDecision(
        ticket=ticket,
        channel_id=ticket.channel_id,
        outcome=decision.outcome,
        owner=owner,
        team=team,
        mode=decision.mode,
        strategy=decision.strategy,
        summary=summary,
        settings_snapshot=config.snapshot(),
        candidates=RoutingDecision.pack_candidates(decision.candidates),
        excluded=RoutingDecision.pack_excluded(decision.excluded),
        required_skills=decision.required_skills,
        duration_ms=_ms_since(started),
        created_at=at,
    )
    insert_row(record)  # one statement built once (`helpdesk.rows`): a decision's hot path
    events.ticket_routed.send(
        sender=Ticket, ticket=ticket, outcome=decision.outcome, summary=summary
    )
    if decision.email_owner_id:
        jobs.enqueue(
            EMAIL_OWNER_TASK,
            key=f"email_submission_to_owner:{record.pk}",
            decision_id=record.pk,
        )
    return record


def _record_nothing_to_do(ticket: Ticket, started: float) -> RoutingDecision:
    return RoutingDecision.objects.create(
        ticket=ticket,
        channel_id=ticket.channel_id,
        outcome=RoutingDecision.Outcome.SKIPPED,
        summary=_nothing_to_do(ticket),
        duration_ms=_ms_since(started),
    )


def _nothing_to_do(ticket: Ticket) -> str:
    """Why the router left a pending ticket alone: someone was faster, or it has no channel."""
    if ticket.channel_id is None:
        return str(explanations.NO_CHANNEL)
    if not ticket.is_open:
        return explanations.already_in_status(ticket.get_status_display())
    last = (
        AssignmentEvent.objects.filter(ticket=ticket)
        .select_related("actor", "to_owner", "to_team")
        .order_by("-created_at", "-id")
        .first()
    )
    holder = ticket.owner or ticket.team
    if last is None:
        return explanations.already_belonged_to(holder)
    return explanations.already_assigned(
        to_owner=last.to_owner,
        to_team=last.to_team,
        holder=holder,
        by=last.actor,
        by_hand=last.cause == AssignmentEvent.Cause.MANUAL,
        cause=last.get_cause_display(),
        at=last.created_at,
    )


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)
