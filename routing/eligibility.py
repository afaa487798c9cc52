"""Who may receive a ticket, and why each other user may not (R7–R11, R13, R16, R17).

Pure rules over plain data — the users a rule names as `PoolUser` rows, their team
`Membership` rows, their availability, the skills they hold, their `Load` — with no database:

1. `split_pool`: the chosen users plus the main members of the chosen teams (R9); additional
   members are left out;
2. `screen`: ticket access (R8), a seat (R7), availability when the channel asks for it
   (R16, R11), the skills the ticket needs (R17);
3. `rank`: the candidates the distribution chooses from, with their loads and round-robin
   turns; users at capacity (`routing.capacity.at_capacity`) are left out.

Everyone left out is listed as an `Exclusion` with the reason (`routing.explanations`). The
engine's reader (`routing.engine.read_snapshot`) asks the first steps what to read next —
whose availability, whose skills, whom to lock before loads are counted — and the decision
(`routing.decision.decide`) runs them all again over what was read: one set of rules for both.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import NamedTuple

from django.utils.translation import gettext

from channels_cfg.models import SkillRule
from helpdesk.availability import Availability
from helpdesk.models import TeamMembership, Ticket
from routing import explanations
from routing.capacity import at_capacity
from routing.config import RoutingConfig
from routing.strategies import Candidate

LOAD_WINDOW = timedelta(days=30)  # R13: loads count open tickets assigned this recently


@dataclass(frozen=True)
class TicketFacts:
    """What the rules look at in a ticket (a real one, or a sample for the preview)."""

    ticket_type: str
    subject: str = ""
    body: str = ""
    language: str = ""
    priority: int = Ticket.Priority.NORMAL


class PoolUser(NamedTuple):
    """A user a rule names (chosen, or a member of a chosen team), as the checks see them."""

    user_id: int
    name: str
    has_ticket_access: bool
    has_seat: bool


class Membership(NamedTuple):
    """One membership of a team the rule names."""

    user_id: int
    role: str  # TeamMembership.Role
    team_name: str


class Load(NamedTuple):
    window: int = 0  # open tickets of the type assigned within LOAD_WINDOW (R13)
    open_total: int = 0  # all open tickets of the type (capacity)
    last_assigned_at: datetime | None = None  # the newest of those within the window


class Exclusion(NamedTuple):
    user_id: int
    name: str
    code: str  # no_access, no_seat, not_main_member, unavailable, missing_skill, at_capacity
    reason: str  # what summaries count ("2 set to away")
    detail: str = ""  # the reason for this one person, when it says more (since, until)


@dataclass
class Screening:
    users: list[PoolUser] = field(default_factory=list)  # passed every check of `screen`
    excluded: list[Exclusion] = field(default_factory=list)
    required_skills: list[str] = field(default_factory=list)
    skill_fallback_used: bool = False
    pool_size: int = 0


# ---------------------------------------------------------------------------------------
# 1. The pool (R9)
# ---------------------------------------------------------------------------------------


def pool_ids(
    user_ids: Iterable[int], memberships: Iterable[Membership]
) -> tuple[set[int], dict[int, str]]:
    """The ids of the pool (chosen users + main members of the chosen teams), and the
    additional members who are only that: id → the name of their team."""
    memberships = list(memberships)
    ids = set(user_ids) | {m.user_id for m in memberships if m.role == TeamMembership.Role.MAIN}
    extra = {m.user_id: m.team_name for m in memberships if m.user_id not in ids}
    return ids, extra


def split_pool(
    users: Iterable[PoolUser], user_ids: Iterable[int], memberships: Iterable[Membership]
) -> tuple[list[PoolUser], list[Exclusion]]:
    """The pool among `users` (in their order), and the additional members left out."""
    ids, extra = pool_ids(user_ids, memberships)
    pool, excluded = [], []
    for user in users:
        if user.user_id in ids:
            pool.append(user)
        elif user.user_id in extra:
            reason = explanations.not_main_member(extra[user.user_id])
            excluded.append(Exclusion(user.user_id, user.name, "not_main_member", reason))
    return pool, excluded


# ---------------------------------------------------------------------------------------
# 2. The checks of each user (R7, R8, R11, R16, R17)
# ---------------------------------------------------------------------------------------


def with_access_and_seat(users: Iterable[PoolUser]) -> tuple[list[PoolUser], list[Exclusion]]:
    passed, excluded = [], []
    for user in users:
        if not user.has_ticket_access:
            excluded.append(
                Exclusion(user.user_id, user.name, "no_access", str(explanations.NO_ACCESS))
            )
        elif not user.has_seat:
            excluded.append(
                Exclusion(user.user_id, user.name, "no_seat", str(explanations.NO_SEAT))
            )
        else:
            passed.append(user)
    return passed, excluded


def available(
    users: Sequence[PoolUser], availability: Mapping[int, Availability]
) -> tuple[list[PoolUser], list[Exclusion]]:
    """`availability` must hold every one of `users` (R11, `helpdesk.availability`)."""
    excluded = [
        Exclusion(
            u.user_id,
            u.name,
            "unavailable",
            gettext(availability[u.user_id].reason),
            availability[u.user_id].detail,
        )
        for u in users
        if not availability[u.user_id]
    ]
    return [u for u in users if availability[u.user_id]], excluded


def required_skills(config: RoutingConfig, facts: TicketFacts) -> dict[int, str]:
    """Skill id → name for every skill rule the ticket matches (R17)."""
    if not config.skill_routing:
        return {}
    text = f"{facts.subject}\n{facts.body}".casefold()
    needed = {}
    for rule in config.skill_rules:
        value = rule.value.strip().casefold()
        matched = {
            SkillRule.Condition.LANGUAGE_IS: facts.language.casefold() == value,
            SkillRule.Condition.TEXT_CONTAINS: bool(value) and value in text,
            SkillRule.Condition.PRIORITY_IS: value
            in {str(facts.priority), Ticket.Priority(facts.priority).label.casefold()},
        }.get(rule.condition, False)
        if matched:
            needed[rule.skill_id] = rule.skill_name
    return needed


def skilled(
    users: Sequence[PoolUser],
    needed: Mapping[int, str],
    held: Mapping[int, frozenset[int]],
    *,
    fallback_unskilled: bool,
) -> tuple[list[PoolUser], list[Exclusion], bool]:
    """Those holding every needed skill; when nobody does and the channel falls back to the
    unskilled, everyone (the last value says the fallback was used)."""
    has_all = [u for u in users if held.get(u.user_id, frozenset()) >= needed.keys()]
    if not has_all and fallback_unskilled:
        return list(users), [], True
    excluded = []
    for user in users:
        missing = needed.keys() - held.get(user.user_id, frozenset())
        if missing:
            reason = explanations.missing_skills(sorted(needed[s] for s in missing))
            excluded.append(Exclusion(user.user_id, user.name, "missing_skill", reason))
    return has_all, excluded, False


def screen(
    pool: Sequence[PoolUser],
    *,
    config: RoutingConfig,
    facts: TicketFacts,
    availability: Mapping[int, Availability],
    skills: Mapping[int, frozenset[int]],
    excluded: Iterable[Exclusion] = (),
) -> Screening:
    """The checks in their order; `excluded` (the additional members) comes first in the
    list of those left out. `availability` is needed for the users with access and a seat
    when the channel routes to available users only; `skills`, the needed skills each of
    the users still in holds."""
    result = Screening(excluded=list(excluded), pool_size=len(pool))
    passed, out = with_access_and_seat(pool)
    result.excluded += out
    if config.available_only and passed:
        passed, out = available(passed, availability)
        result.excluded += out
    needed = required_skills(config, facts)
    result.required_skills = sorted(needed.values())
    if needed and passed:
        passed, out, result.skill_fallback_used = skilled(
            passed, needed, skills, fallback_unskilled=config.skill_fallback_unskilled
        )
        result.excluded += out
    result.users = passed
    return result


# ---------------------------------------------------------------------------------------
# 3. Candidates (R10, R13, R15) and capacity
# ---------------------------------------------------------------------------------------


def rank(
    users: Sequence[PoolUser],
    *,
    ticket_type: str,
    loads: Mapping[int, Load],
    limits: Mapping[int | None, int],
    turns: Mapping[int, datetime],
) -> tuple[list[Candidate], list[Exclusion]]:
    """Candidates with their loads and round-robin turns; users at capacity are left out.
    (One pass per user, with nothing looked up twice: it runs over every eligible user of
    every decision.)"""
    candidates, excluded = [], []
    no_load, load_of, turn_of = Load(), loads.get, turns.get
    for user_id, name, *_ in users:
        load = load_of(user_id, no_load)
        if limits:
            limit = at_capacity(user_id=user_id, open_count=load.open_total, limits=limits)
            if limit is not None:
                reason = explanations.at_capacity(load.open_total, limit, ticket_type)
                excluded.append(Exclusion(user_id, name, "at_capacity", reason))
                continue
        candidates.append(
            Candidate(user_id, name, load.window, load.last_assigned_at, turn_of(user_id))
        )
    return candidates, excluded
