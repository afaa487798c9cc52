"""Reads of the People settings pages, each a fixed number of queries whatever the number of
users, teams or skills.

Which channels' routing rules name a user, a team or a skill is read through
`helpdesk.models.Channel` and the lookups of its automation (`automation__users`, …): the
people app imports no other app (see the import contracts), and these queries need none of
its code.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from django.contrib.auth.models import Group, Permission
from django.db.models import Count, Exists, OuterRef, Prefetch, Q
from django.utils.translation import gettext, gettext_lazy

from helpdesk.access import TICKET_ACCESS, permission_parts
from helpdesk.availability import availability_of
from helpdesk.models import (
    AccountSettings,
    AgentSkill,
    Channel,
    PeopleChange,
    Seat,
    Skill,
    Team,
    TeamMembership,
    User,
)
from helpdesk.services.groups import ACCOUNT_ADMINS, AGENTS

Role = TeamMembership.Role
RECENT = 12


# ---------------------------------------------------------------------------------------
# Routing rules that name people
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mention:
    channel_id: int
    channel: str
    active: bool
    how: str  # "Users", "If AI can't answer: users", "Team Support (main member)"


def routing_mentions(user_ids) -> dict[int, list[Mention]]:
    """User id → the channels whose routing names them: as a user, as a fallback user, or
    through a team they are a main member of (R9). 3 queries."""
    user_ids = list(user_ids)
    found: dict[int, list[Mention]] = defaultdict(list)
    if not user_ids:
        return found
    for lookup, how in (
        ("automation__users", gettext("Users")),
        ("automation__fallback_users", gettext("If AI can't answer: users")),
    ):
        rows = Channel.objects.filter(**{f"{lookup}__in": user_ids}).values_list(
            lookup, "pk", "name", "is_active"
        )
        for user_id, pk, name, active in rows:
            found[user_id].append(Mention(pk, name, active, how))
    main_of = Q(automation__teams__memberships__role=Role.MAIN)
    rows = (
        Channel.objects.filter(main_of, automation__teams__memberships__user__in=user_ids)
        .values_list(
            "automation__teams__memberships__user",
            "pk",
            "name",
            "is_active",
            "automation__teams__name",
        )
        .distinct()
    )
    for user_id, pk, name, active, team in rows:
        found[user_id].append(
            Mention(pk, name, active, gettext("Team %(team)s (main member)") % {"team": team})
        )
    for mentions in found.values():
        mentions.sort(key=lambda m: (m.channel.lower(), m.how))
    return found


def team_mentions(team_ids) -> dict[int, list[Mention]]:
    """Team id → the channels whose routing names the team. 2 queries."""
    found: dict[int, list[Mention]] = defaultdict(list)
    for lookup, how in (
        ("automation__teams", gettext("Teams")),
        ("automation__fallback_teams", gettext("If AI can't answer: teams")),
    ):
        rows = Channel.objects.filter(**{f"{lookup}__in": list(team_ids)}).values_list(
            lookup, "pk", "name", "is_active"
        )
        for team_id, pk, name, active in rows:
            found[team_id].append(Mention(pk, name, active, how))
    return found


def skill_mentions(skill_ids) -> dict[int, list[Mention]]:
    """Skill id → the channels whose skill rules use it (R17). 1 query."""
    found: dict[int, list[Mention]] = defaultdict(list)
    rows = (
        Channel.objects.filter(automation__skill_rules__skill__in=list(skill_ids))
        .values_list(
            "automation__skill_rules__skill", "pk", "name", "is_active", "automation__skill_routing"
        )
        .distinct()
        .order_by("name")
    )
    for skill_id, pk, name, active, on in rows:
        how = gettext("Skill rule") if on else gettext("Skill rule (skill-based routing is off)")
        found[skill_id].append(Mention(pk, name, active, how))
    return found


# ---------------------------------------------------------------------------------------
# Users
# ---------------------------------------------------------------------------------------

AVAILABILITY = {
    "": (gettext_lazy("Available"), "ok"),
    "out of office": (gettext_lazy("Out of office"), "ooo"),
    "set to away": (gettext_lazy("Away"), "away"),
    "outside working hours": (gettext_lazy("Off hours"), "off"),
}


@dataclass
class UserRow:
    user: User
    ticket_access: bool
    agents: bool
    account_admin: bool
    seat: bool
    main_team: Team | None
    additional_teams: list[Team] = field(default_factory=list)
    skills: list[Skill] = field(default_factory=list)
    availability: str = ""
    tone: str = ""
    availability_detail: str = ""


def _has_permission(permission: str):
    app_label, codename = permission_parts(permission)
    perm = Q(content_type__app_label=app_label, codename=codename)
    ids = Permission.objects.filter(perm).values("pk")
    via_group = User.groups.through.objects.filter(
        user_id=OuterRef("pk"), group__permissions__in=ids
    )
    direct = User.user_permissions.through.objects.filter(
        user_id=OuterRef("pk"), permission__in=ids
    )
    return Exists(via_group) | Exists(direct)


def users_with_people(queryset=None):
    """Users with what the People pages show: seat, groups, teams, skills, ticket access."""
    queryset = queryset if queryset is not None else User.objects.all()
    return (
        queryset.select_related("seat")
        .annotate(perm_access=_has_permission(TICKET_ACCESS))
        .prefetch_related(
            Prefetch("groups", queryset=Group.objects.only("pk", "name")),
            Prefetch(
                "memberships",
                queryset=TeamMembership.objects.select_related("team").order_by("team__name"),
            ),
            Prefetch(
                "agent_skills",
                queryset=AgentSkill.objects.select_related("skill").order_by("skill__name"),
            ),
        )
    )


def _row(user: User, state=None) -> UserRow:
    groups = {g.name for g in user.groups.all()}
    memberships = list(user.memberships.all())
    main = next((m.team for m in memberships if m.role == Role.MAIN), None)
    row = UserRow(
        user=user,
        ticket_access=user.is_active and (user.is_superuser or user.perm_access),
        agents=AGENTS in groups,
        account_admin=user.is_superuser or ACCOUNT_ADMINS in groups,
        seat=hasattr(user, "seat"),
        main_team=main,
        additional_teams=[m.team for m in memberships if m.role == Role.ADDITIONAL],
        skills=[a.skill for a in user.agent_skills.all()],
    )
    if state is not None:
        row.availability, row.tone = AVAILABILITY.get(state.reason, (gettext(state.reason), "off"))
        row.availability_detail = state.described
    return row


def user_rows(now: datetime) -> list[UserRow]:
    """Every user, active first, with availability at a glance: 6 queries whatever their
    number (users, groups, teams, skills; availability 2)."""
    users = list(users_with_people().order_by("-is_active", "first_name", "last_name", "username"))
    states = availability_of(users, now)
    return [_row(u, states[u.pk]) for u in users]


def user_row(user_id: int, now: datetime) -> UserRow:
    user = users_with_people().get(pk=user_id)
    return _row(user, availability_of([user], now)[user.pk])


def seats_summary() -> dict:
    """Purchased, used and free seats (2 queries)."""
    purchased = AccountSettings.load().purchased_seats
    used = Seat.objects.count()
    return {"purchased": purchased, "used": used, "free": max(0, purchased - used)}


# ---------------------------------------------------------------------------------------
# Teams and skills
# ---------------------------------------------------------------------------------------


def teams_with_members():
    """Teams with their memberships and users (2 queries) and counts."""
    return Team.objects.annotate(
        main_count=Count("memberships", filter=Q(memberships__role=Role.MAIN)),
        additional_count=Count("memberships", filter=Q(memberships__role=Role.ADDITIONAL)),
    ).prefetch_related(
        Prefetch(
            "memberships",
            queryset=TeamMembership.objects.select_related("user").order_by(
                "user__first_name", "user__last_name", "user__username"
            ),
        )
    )


def skills_with_holders():
    """Skills with the users who hold them (2 queries)."""
    return Skill.objects.prefetch_related(
        Prefetch(
            "agent_skills",
            queryset=AgentSkill.objects.select_related("user").order_by(
                "user__first_name", "user__last_name", "user__username"
            ),
        )
    )


def active_users():
    return User.objects.filter(is_active=True).order_by("first_name", "last_name", "username")


# ---------------------------------------------------------------------------------------
# The audit log
# ---------------------------------------------------------------------------------------


def recent_changes(*kinds: str, subject_id: int | None = None, limit: int = RECENT) -> list:
    """The latest People changes of these kinds (of one subject when given): 1 query."""
    changes = PeopleChange.objects.filter(subject_kind__in=kinds)
    if subject_id is not None:
        changes = changes.filter(subject_id=subject_id)
    return list(changes[:limit])
