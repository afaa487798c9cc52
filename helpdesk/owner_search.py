"""The reads behind the Ticket owner control (R3, R5): who can take a ticket, found as the
agent types, and what a plain form's typed text names.

The ticket page lists nobody: the control asks `search_owners` for at most `MAX_RESULTS`
teams and users with ticket access (R8) as the agent types, so the page costs the same with
5 agents or 5,000. Each search is a fixed number of queries: the teams, the users (with
`has_seat`), who of them is out of office (and the working hours of those who follow them,
`availability_of`), and whatever the receivers of `owner_marks` read.

Without JavaScript the agent types a name and the server resolves it with `owners_named`:
an exact username, email, full name or team name (`#Support` for teams only).
"""

from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Case, Q, QuerySet, Value, When
from django.db.models.functions import Concat, Trim
from django.dispatch import Signal
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy

from helpdesk.availability import availability_of
from helpdesk.models import Team, Ticket, User
from helpdesk.selectors import users_with_ticket_access

MAX_RESULTS = 20  # options in one answer
MAX_TEAMS = 5  # teams among them unless the text asks for teams (`#…`)
MAX_TEXT = 100  # characters of a search or a typed name
TEAM_SIGN = "#"

# Why a user may be a poor choice right now, in the words the pickers use (R7, R11).
AWAY_WORDS = {
    "set to away": gettext_lazy("away"),
    "out of office": gettext_lazy("out of office"),
    "outside working hours": gettext_lazy("off hours"),
}

# Other apps add their own words to users in the results (routing: "at capacity") without
# the core importing them. kwargs: ticket, users (the users about to be shown). A receiver
# returns {user id: word}. Connected in the listening app's AppConfig.ready().
owner_marks = Signal()


@dataclass(frozen=True)
class OwnerOption:
    """One choice in the control: `key` is what the form posts (`user:5`, `team:3`), `label`
    how the list shows it, `name` what the text field shows once picked (`#Support` for a
    team, so the plain form would resolve it too), `detail` the username or email."""

    key: str
    label: str
    name: str
    kind: str  # "user" | "team"
    detail: str = ""
    marks: tuple[str, ...] = ()
    current: bool = False


@dataclass
class OwnerResults:
    options: list[OwnerOption] = field(default_factory=list)
    more: bool = False  # more matched than are shown: keep typing


def _text(text: str) -> tuple[str, bool]:
    """(the text without a leading `#`, whether it asks for teams only)."""
    text = " ".join(text.split())
    if text.startswith(TEAM_SIGN):
        return text[len(TEAM_SIGN) :].strip(), True
    return text, False


def _with_full_name(users: QuerySet[User]) -> QuerySet[User]:
    return users.annotate(full_name=Trim(Concat("first_name", Value(" "), "last_name")))


def _user_filter(text: str) -> Q:
    """Every word of `text` in a name, the username or the email ("ada ag" finds Ada Agent)."""
    condition = Q()
    for word in text.split():
        condition &= (
            Q(first_name__icontains=word)
            | Q(last_name__icontains=word)
            | Q(username__icontains=word)
            | Q(email__icontains=word)
        )
    return condition


def _user_rank(text: str) -> Case:
    """Those whose name, username or email starts with the text first."""
    starts = (
        Q(full_name__istartswith=text)
        | Q(last_name__istartswith=text)
        | Q(username__istartswith=text)
        | Q(email__istartswith=text)
    )
    return Case(When(starts, then=Value(0)), default=Value(1))


def matching_users(text: str, limit: int) -> list[User]:
    users = _with_full_name(users_with_ticket_access())
    if text:
        users = users.filter(_user_filter(text)).annotate(rank=_user_rank(text))
        order = ("rank", "first_name", "last_name", "username")
    else:
        order = ("first_name", "last_name", "username")
    return list(users.order_by(*order)[:limit])


def matching_teams(text: str, limit: int) -> list[Team]:
    teams = Team.objects.order_by("name")
    if text:
        starts = Case(When(name__istartswith=text, then=Value(0)), default=Value(1))
        teams = teams.filter(name__icontains=text).annotate(rank=starts).order_by("rank", "name")
    return list(teams[:limit])


def user_marks(users: list[User], *, ticket: Ticket | None, at: datetime) -> dict[int, list]:
    """user id → the words the control shows beside them: no seat (R7), away, out of office
    or off hours (R11), and what the receivers of `owner_marks` add."""
    marks: dict[int, list] = {user.pk: [] for user in users}
    if not users:
        return marks
    availability = availability_of(users, at)
    for user in users:
        if not getattr(user, "has_seat", True):
            marks[user.pk].append(gettext("no seat"))
        state = availability[user.pk]
        if not state.available:
            marks[user.pk].append(AWAY_WORDS.get(state.reason) or gettext(state.reason))
    for _receiver, extra in owner_marks.send(sender=Ticket, ticket=ticket, users=users):
        for user_id, word in (extra or {}).items():
            if user_id in marks:
                marks[user_id].append(word)
    return marks


def team_option(team: Team, *, ticket: Ticket | None = None) -> OwnerOption:
    current = ticket is not None and ticket.team_id == team.pk and not ticket.owner_id
    return OwnerOption(
        key=f"team:{team.pk}",
        label=team.name,
        name=f"{TEAM_SIGN}{team.name}",
        kind="team",
        detail=gettext("team"),
        current=current,
    )


def user_options(
    users: list[User], *, ticket: Ticket | None = None, at: datetime | None = None
) -> list[OwnerOption]:
    marks = user_marks(users, ticket=ticket, at=at or timezone.now())
    return [
        OwnerOption(
            key=f"user:{user.pk}",
            label=str(user),
            name=str(user),
            kind="user",
            detail=user.username if str(user) != user.username else user.email,
            marks=tuple(str(word) for word in marks[user.pk]),
            current=ticket is not None and ticket.owner_id == user.pk,
        )
        for user in users
    ]


def search_owners(
    *, text: str, ticket: Ticket | None = None, at: datetime | None = None
) -> OwnerResults:
    """Teams, then users with ticket access, whose name (username, email) contains `text`,
    those that start with it first; at most `MAX_RESULTS`. `#text` looks for teams only.
    An empty text gives the first ones by name."""
    text, teams_only = _text(text)
    teams = matching_teams(text, MAX_RESULTS + 1)
    users = [] if teams_only else matching_users(text, MAX_RESULTS + 1)
    team_room = MAX_RESULTS if teams_only else max(MAX_TEAMS, MAX_RESULTS - len(users))
    shown_teams = teams[:team_room]
    shown_users = users[: MAX_RESULTS - len(shown_teams)]
    options = [team_option(team, ticket=ticket) for team in shown_teams]
    options += user_options(shown_users, ticket=ticket, at=at)
    more = len(shown_teams) < len(teams) or len(shown_users) < len(users)
    return OwnerResults(options=options, more=more)


@dataclass
class Named:
    """What a typed name resolves to: `owner` (a User or a Team) when exactly one matches;
    otherwise `choices`, the ones to pick from (several exact matches, or — when none is
    exact — a few that contain the text)."""

    owner: User | Team | None = None
    choices: list[OwnerOption] = field(default_factory=list)
    several: bool = False


SUGGESTIONS = 6  # choices offered when a typed name is not exact


def owners_named(text: str, *, ticket: Ticket | None = None) -> Named:
    """The user or team `text` names exactly (case aside): `#name` a team; a username or an
    email one user; else a full name or a team name, when only one has it."""
    name, teams_only = _text(text)
    if not name:
        return Named()
    teams = list(Team.objects.filter(name__iexact=name)[:SUGGESTIONS])
    if teams_only:
        found: list = teams
    else:
        users = list(
            _with_full_name(users_with_ticket_access())
            .filter(Q(username__iexact=name) | Q(email__iexact=name) | Q(full_name__iexact=name))
            .order_by("first_name", "last_name", "username")[:SUGGESTIONS]
        )
        by_login = [u for u in users if name.lower() in (u.username.lower(), u.email.lower())]
        found = by_login if len(by_login) == 1 else [*teams, *users]
    if len(found) == 1:
        return Named(owner=found[0])
    if found:
        teams_found = [o for o in found if isinstance(o, Team)]
        users_found = [o for o in found if isinstance(o, User)]
        choices = [team_option(t, ticket=ticket) for t in teams_found]
        return Named(choices=choices + user_options(users_found, ticket=ticket), several=True)
    results = search_owners(text=text, ticket=ticket)
    return Named(choices=results.options[:SUGGESTIONS])


def owner_by_key(key: str) -> User | Team | None:
    """`user:5` → that user if they have ticket access; `team:3` → that team; else None."""
    kind, _, pk = key.partition(":")
    if not pk.isdigit():
        return None
    if kind == "team":
        return Team.objects.filter(pk=int(pk)).first()
    if kind == "user":
        return users_with_ticket_access().filter(pk=int(pk)).first()
    return None
