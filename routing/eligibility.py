"""Who may receive a ticket, and why each other user may not (R7–R11, R16, R17).

`screen()` narrows a pool of users to those who pass the static checks — ticket access (R8),
a seat (R7), availability when the channel asks for it (R16, R11), the skills the ticket
needs (R17) — and lists everyone left out with the reason. `rank()` then adds what must be
read under the routing locks (loads, capacity, round-robin turns) and returns the
candidates the distribution chooses from. Both cost a fixed number of queries whatever the
number of users. The preview of the settings page calls the same two functions, unlocked.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Count, Max, Q

from channels_cfg.models import SkillRule
from helpdesk.availability import availability_of
from helpdesk.models import AgentSkill, Team, TeamMembership, Ticket, TicketType, User
from helpdesk.selectors import annotate_helpdesk_roles
from routing.config import RoutingConfig
from routing.models import CapacityLimit, RoundRobinTurn
from routing.strategies import Candidate

LOAD_WINDOW = timedelta(days=30)  # R13


@dataclass(frozen=True)
class TicketFacts:
    """What the rules look at in a ticket (a real one, or a sample for the preview)."""

    ticket_type: str
    subject: str = ""
    body: str = ""
    language: str = ""
    priority: int = Ticket.Priority.NORMAL


@dataclass(frozen=True)
class Exclusion:
    user_id: int
    name: str
    code: str  # no_access, no_seat, not_main_member, unavailable, missing_skill, at_capacity
    reason: str

    def as_json(self) -> dict:
        return {
            "user_id": self.user_id,
            "name": self.name,
            "code": self.code,
            "reason": self.reason,
        }


@dataclass
class Screening:
    users: list[User] = field(default_factory=list)  # passed every static check
    excluded: list[Exclusion] = field(default_factory=list)
    required_skills: list[str] = field(default_factory=list)
    skill_fallback_used: bool = False
    pool_size: int = 0


USER_FIELDS = (
    "id",
    "username",
    "first_name",
    "last_name",
    "is_active",
    "is_superuser",
    "status",
    "availability_mode",
    "time_zone",
)


def pool_for(user_ids, team_ids) -> tuple[list[User], list[Exclusion]]:
    """The chosen users plus the main members of the chosen teams (R9), annotated with seat
    and ticket access; additional members of those teams are listed as excluded. 2 queries,
    and no model instance per membership (this runs for every ticket)."""
    memberships = list(
        TeamMembership.objects.filter(team_id__in=team_ids).values_list(
            "user_id", "role", "team__name"
        )
    )
    ids = set(user_ids) | {uid for uid, role, _ in memberships if role == TeamMembership.Role.MAIN}
    extra = {uid: team for uid, role, team in memberships if uid not in ids}
    users = annotate_helpdesk_roles(
        User.objects.filter(pk__in=ids | extra.keys()).only(*USER_FIELDS)
    ).order_by("pk")
    pool, excluded = [], []
    for user in users:
        if user.pk in ids:
            pool.append(user)
        else:
            excluded.append(
                Exclusion(
                    user.pk,
                    str(user),
                    "not_main_member",
                    f"only an additional member of {extra[user.pk]}; team rules route to main "
                    "members",
                )
            )
    return pool, excluded


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


def screen(
    users: list[User],
    config: RoutingConfig,
    facts: TicketFacts,
    at: datetime,
    excluded: list[Exclusion] | None = None,
) -> Screening:
    result = Screening(excluded=list(excluded or []), pool_size=len(users))
    passed = []
    for user in users:
        if not user.has_ticket_access_db:
            result.excluded.append(Exclusion(user.pk, str(user), "no_access", "no ticket access"))
        elif not user.has_seat:
            result.excluded.append(Exclusion(user.pk, str(user), "no_seat", "no helpdesk seat"))
        else:
            passed.append(user)
    if config.available_only and passed:
        availability = availability_of(passed, at)
        for user in [u for u in passed if not availability[u.pk]]:
            result.excluded.append(
                Exclusion(user.pk, str(user), "unavailable", availability[user.pk].reason)
            )
        passed = [u for u in passed if availability[u.pk]]
    needed = required_skills(config, facts)
    result.required_skills = sorted(needed.values())
    if needed and passed:
        held = defaultdict(set)
        for user_id, skill_id in AgentSkill.objects.filter(
            user_id__in=[u.pk for u in passed], skill_id__in=needed
        ).values_list("user_id", "skill_id"):
            held[user_id].add(skill_id)
        skilled = [u for u in passed if held[u.pk] >= needed.keys()]
        if skilled or not config.skill_fallback_unskilled:
            for user in [u for u in passed if not held[u.pk] >= needed.keys()]:
                missing = sorted(needed[s] for s in needed.keys() - held[user.pk])
                result.excluded.append(
                    Exclusion(
                        user.pk, str(user), "missing_skill", "missing skill " + ", ".join(missing)
                    )
                )
            passed = skilled
        else:
            result.skill_fallback_used = True
    result.users = passed
    return result


@dataclass(frozen=True)
class Load:
    window: int = 0  # open tickets of the type assigned within the window (R13)
    open_total: int = 0  # all open tickets of the type (capacity)
    last_assigned_at: datetime | None = None


def loads_of(user_ids, ticket_type: str, at: datetime) -> dict[int, Load]:
    """One grouped query over the (owner, ticket_type, assigned_at) index of open tickets."""
    since = at - LOAD_WINDOW
    in_window = Q(assigned_at__gte=since)
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


def capacity_limits(user_ids, ticket_type: str) -> dict[int | None, int]:
    """user id → limit, and None → the account default. One query."""
    rows = CapacityLimit.objects.filter(
        Q(user_id__in=user_ids) | Q(user__isnull=True), ticket_type=ticket_type
    ).values_list("user_id", "max_open")
    return dict(rows)


def rank(
    users: list[User],
    config: RoutingConfig,
    ticket_type: str,
    channel_id: int | None,
    at: datetime,
) -> tuple[list[Candidate], list[Exclusion]]:
    """Candidates with their loads and turns; users at capacity are excluded."""
    if not users:
        return [], []
    ids = [u.pk for u in users]
    loads = loads_of(ids, ticket_type, at)
    limits = capacity_limits(ids, ticket_type)
    turns = {}
    if config.distribution == "round_robin" and channel_id is not None:
        turns = dict(
            RoundRobinTurn.objects.filter(channel_id=channel_id, user_id__in=ids).values_list(
                "user_id", "last_assigned_at"
            )
        )
    candidates, excluded = [], []
    type_label = TicketType(ticket_type).label
    for user in users:
        load = loads.get(user.pk, Load())
        limit = limits.get(user.pk, limits.get(None))
        if limit is not None and load.open_total >= limit:
            excluded.append(
                Exclusion(
                    user.pk,
                    str(user),
                    "at_capacity",
                    f"at capacity ({load.open_total} of {limit} open {type_label} tickets)",
                )
            )
            continue
        candidates.append(
            Candidate(user.pk, str(user), load.window, load.last_assigned_at, turns.get(user.pk))
        )
    return candidates, excluded


def team_has_seated_member(team_id: int) -> bool:
    return Team.objects.filter(pk=team_id, memberships__user__seat__isnull=False).exists()
