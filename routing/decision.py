"""Phase 2 of routing: the decision, a pure function of a `Snapshot` (R6–R19).

`decide(snapshot)` reads no database and writes nothing: what the channel's settings ask for
(`route_of`), who is eligible (`routing.eligibility`), whom the distribution picks
(`routing.strategies`) and the words that say why (`routing.explanations`). The engine reads
the snapshot under its locks and applies the result (`routing.engine`); the preview and the
sweep of waiting tickets read it without locks and only look (`routing.engine.dry_run`).
Tests build snapshots by hand (`tests/routing/test_decide.py`).
"""

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import assert_never

from channels_cfg.models import AiFallback, AssignMode
from helpdesk.availability import Availability
from helpdesk.channel_kinds import policy_for
from routing import eligibility, explanations
from routing.config import RoutingConfig
from routing.eligibility import LOAD_WINDOW, Exclusion, Load, Membership, PoolUser, TicketFacts
from routing.explanations import Unassigned
from routing.models import RoutingDecision
from routing.strategies import Candidate, pick

Outcome = RoutingDecision.Outcome


@dataclass(frozen=True)
class TeamFacts:
    """Team only: the chosen team."""

    team_id: int
    name: str
    has_seated_member: bool


@dataclass(frozen=True)
class Snapshot:
    """Everything a decision looks at, as plain data (the engine's phase 1 reads it).

    Only what the route of the settings needs is filled in: the team for Team only; for a
    rule with users and teams (and for the contact owner, a pool of one) the users it names,
    then — for those still in after each check — their availability, their skills, and for
    the eligible ones, read after they were locked, their loads, limits and turns."""

    config: RoutingConfig
    facts: TicketFacts
    at: datetime
    channel_id: int | None = None
    contact_owner_id: int | None = None  # an identified contact's owner
    team: TeamFacts | None = None  # Team only (None: the team no longer exists)
    memberships: tuple[Membership, ...] = ()  # of the rule's teams
    users: tuple[PoolUser, ...] = ()  # everyone the rule names, in id order
    # user id → availability: of the users with access and a seat, when available only (R16)
    availability: Mapping[int, Availability] = field(default_factory=dict)
    # user id → the needed skills they hold, of the users still in (R17)
    skills: Mapping[int, frozenset[int]] = field(default_factory=dict)
    # of the eligible users, counted after they were locked:
    loads: Mapping[int, Load] = field(default_factory=dict)
    limits: Mapping[int | None, int] = field(default_factory=dict)  # None: account default
    turns: Mapping[int, datetime] = field(default_factory=dict)  # round robin on this channel
    # The pool and its screening as the reader found them when it chose whom to lock — the
    # same `eligibility.screen` over the fields above, kept so a decision does not run it
    # twice; None (snapshots built by hand): `decide` screens.
    screened: "Screened | None" = None


@dataclass(frozen=True)
class Screened:
    pool: list[PoolUser]
    screening: eligibility.Screening

    def as_tuple(self) -> tuple[list[PoolUser], eligibility.Screening]:
        return self.pool, self.screening


@dataclass(frozen=True)
class Decision:
    outcome: str
    summary: str
    mode: str = ""
    strategy: str = ""
    owner_id: int | None = None
    team_id: int | None = None
    candidates: list[Candidate] = field(default_factory=list)
    excluded: list[Exclusion] = field(default_factory=list)
    required_skills: list[str] = field(default_factory=list)
    email_owner_id: int | None = None  # form + contact owner offline (R14)
    waiting_for_agent: bool = False  # nobody available or free; may be routed again later


# ---------------------------------------------------------------------------------------
# What the settings ask for, before any user is looked at
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LeaveUnassigned:
    mode: str
    why: Unassigned


@dataclass(frozen=True)
class ToTeam:
    team_id: int


@dataclass(frozen=True)
class ToContactOwner:
    owner_id: int


@dataclass(frozen=True)
class ToPool:
    """The users and the main members of the teams of a rule, then the distribution."""

    mode: str
    user_ids: tuple[int, ...]
    team_ids: tuple[int, ...]
    customer_agent_fallback: bool = False


Route = LeaveUnassigned | ToTeam | ToContactOwner | ToPool


def route_of(config: RoutingConfig, at: datetime, contact_owner_id: int | None) -> Route:
    """The channel kind's policy and the assign-to mode (R14, R18, R19). The engine's reader
    asks it what to read; the decision, what to decide."""
    mode = config.mode
    policy = policy_for(config.channel_kind)
    if policy.chat_toggle:
        if not config.chat_assignment_enabled:
            return LeaveUnassigned(mode, Unassigned.CHAT_TOGGLE_OFF)
        mode = AssignMode.SPECIFIC
    if policy.calling_hours and mode == AssignMode.SPECIFIC and not config.is_open_at(at):
        return LeaveUnassigned(mode, Unassigned.AFTER_HOURS)
    if mode == AssignMode.NONE:
        return LeaveUnassigned(mode, Unassigned.ASSIGNS_NOBODY)
    if mode == AssignMode.TEAM_ONLY:
        if not config.team_ids:
            return LeaveUnassigned(mode, Unassigned.NO_TEAM_CHOSEN)
        return ToTeam(config.team_ids[0])
    if mode == AssignMode.CONTACT_OWNER:
        if contact_owner_id is None:
            return LeaveUnassigned(mode, Unassigned.CONTACT_WITHOUT_OWNER)
        return ToContactOwner(contact_owner_id)
    if mode == AssignMode.CUSTOMER_AGENT:
        if config.ai_fallback == AiFallback.NONE:
            return LeaveUnassigned(mode, Unassigned.CUSTOMER_AGENT_WITHOUT_FALLBACK)
        return ToPool(
            mode, config.fallback_user_ids, config.fallback_team_ids, customer_agent_fallback=True
        )
    return ToPool(mode, config.user_ids, config.team_ids)


# ---------------------------------------------------------------------------------------
# The decision
# ---------------------------------------------------------------------------------------


def decide(snapshot: Snapshot, rng: random.Random | None = None) -> Decision:
    """Who gets the ticket and why. `rng` drives the random distribution (seedable)."""
    route = route_of(snapshot.config, snapshot.at, snapshot.contact_owner_id)
    match route:
        case LeaveUnassigned(mode=mode, why=why):
            return Decision(Outcome.UNASSIGNED, explanations.unassigned(why), mode=mode)
        case ToTeam():
            return _to_team(snapshot.team)
        case ToContactOwner(owner_id=owner_id):
            return _to_contact_owner(snapshot, owner_id)
        case ToPool():
            return _from_pool(snapshot, route, rng)
        case _:
            assert_never(route)


def _to_team(team: TeamFacts | None) -> Decision:
    mode = AssignMode.TEAM_ONLY
    if team is None or not team.has_seated_member:
        return Decision(
            Outcome.UNASSIGNED, explanations.unassigned(Unassigned.TEAM_WITHOUT_SEAT), mode=mode
        )
    return Decision(
        Outcome.TEAM, explanations.assigned_to_team(team.name), mode=mode, team_id=team.team_id
    )


def _candidates(
    snapshot: Snapshot, user_ids: tuple[int, ...]
) -> tuple[eligibility.Screening, list[PoolUser], list[Candidate], list[Exclusion]]:
    """The screening, the pool, the candidates, and everyone left out (additional members,
    then each check's exclusions, then those at capacity)."""
    pool, screening = (snapshot.screened or screened(snapshot, user_ids)).as_tuple()
    candidates, at_capacity = eligibility.rank(
        screening.users,
        ticket_type=snapshot.facts.ticket_type,
        loads=snapshot.loads,
        limits=snapshot.limits,
        turns=snapshot.turns,
    )
    return screening, pool, candidates, screening.excluded + at_capacity


def screened(snapshot: Snapshot, user_ids) -> Screened:
    """The pool the rule names among the snapshot's users, and who of it passes every check
    of `eligibility.screen` (before capacity, which needs the loads)."""
    pool, not_main = eligibility.split_pool(snapshot.users, user_ids, snapshot.memberships)
    return screen_pool(snapshot, pool, not_main)


def screen_pool(snapshot: Snapshot, pool, not_main) -> Screened:
    """`eligibility.screen` of `pool` over what the snapshot holds, the additional members
    `not_main` first among those left out."""
    screening = eligibility.screen(
        pool,
        config=snapshot.config,
        facts=snapshot.facts,
        availability=snapshot.availability,
        skills=snapshot.skills,
        excluded=not_main,
    )
    return Screened(pool, screening)


def _to_contact_owner(snapshot: Snapshot, owner_id: int) -> Decision:
    mode = AssignMode.CONTACT_OWNER
    _, pool, candidates, excluded = _candidates(snapshot, (owner_id,))
    owner_name = pool[0].name if pool else None
    if candidates:
        return Decision(
            Outcome.ASSIGNED,
            explanations.assigned_to_contact_owner(owner_name),
            mode=mode,
            owner_id=owner_id,
            candidates=candidates,
            excluded=excluded,
        )
    emailed = bool(
        policy_for(snapshot.config.channel_kind).emails_offline_contact_owner
        and excluded
        and excluded[0].code == "unavailable"
    )
    return Decision(
        Outcome.UNASSIGNED,
        explanations.contact_owner_cannot_take_it(
            owner_name, excluded[0].reason if excluded else None, emailed=emailed
        ),
        mode=mode,
        excluded=excluded,
        email_owner_id=owner_id if emailed else None,
    )


def _from_pool(snapshot: Snapshot, route: ToPool, rng: random.Random | None) -> Decision:
    distribution = snapshot.config.distribution
    screening, _, candidates, excluded = _candidates(snapshot, route.user_ids)
    chosen = pick(distribution, candidates, rng)
    summary = explanations.from_pool(
        distribution=distribution,
        ticket_type=snapshot.facts.ticket_type,
        load_window=LOAD_WINDOW,
        chosen=chosen,
        candidates=candidates,
        pool_size=screening.pool_size,
        exclusion_reasons=[e.reason for e in excluded],
        required_skills=screening.required_skills,
        skill_fallback_used=screening.skill_fallback_used,
    )
    if route.customer_agent_fallback:
        summary = explanations.customer_agent_fallback(summary)
    return Decision(
        Outcome.ASSIGNED if chosen else Outcome.UNASSIGNED,
        summary,
        mode=route.mode,
        strategy=distribution,
        owner_id=chosen.user_id if chosen else None,
        candidates=candidates,
        excluded=excluded,
        required_skills=screening.required_skills,
        waiting_for_agent=chosen is None
        and any(e.code in ("unavailable", "at_capacity") for e in excluded),
    )
