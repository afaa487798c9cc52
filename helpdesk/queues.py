"""The querysets behind each queue view — one function per queue, shared by the views, the
sidebar counts, `manage.py bench_queues` and the tests.

Every queue filters on the predicate of one partial index of `Ticket` and is ordered by that
index's columns (newest first, the id breaking ties), so a page is read from the index and a
queue is counted with an index-only scan, whatever the number of tickets.

"My teams" are the teams the user is a member of, main or additional (R22, R23).
"""

import copy
from collections.abc import Callable
from dataclasses import dataclass

from django.db import connections
from django.db.models import QuerySet, Value
from django.utils.translation import gettext_lazy

from helpdesk.access import has_ticket_access, tickets_visible_to
from helpdesk.models import TeamMembership, Ticket, User
from helpdesk.search import Found
from helpdesk.search import search as search_tickets

OPEN = Ticket.OPEN


def my_team_ids(user: User) -> list[int]:
    """The ids of the user's teams (main or additional), read once per user object."""
    cached = getattr(user, "_helpdesk_team_ids", None)
    if cached is None:
        memberships = TeamMembership.objects.filter(user=user).order_by()
        cached = sorted(memberships.values_list("team_id", flat=True))
        user._helpdesk_team_ids = cached
    return cached


def unassigned_tickets(*, user: User) -> QuerySet[Ticket]:
    """R21 Unassigned: open tickets with no owner and no team."""
    return tickets_visible_to(user).filter(OPEN, owner__isnull=True, team__isnull=True)


def team_unassigned_tickets(*, user: User) -> QuerySet[Ticket]:
    """R22 My team's unassigned: open tickets of one of my teams with no owner."""
    teams = my_team_ids(user)
    if not teams:
        return Ticket.objects.none()
    return tickets_visible_to(user).filter(
        OPEN, owner__isnull=True, team__isnull=False, team_id__in=teams
    )


def team_open_tickets(*, user: User) -> QuerySet[Ticket]:
    """R23 My team's open: open tickets of one of my teams, whoever owns them."""
    teams = my_team_ids(user)
    if not teams:
        return Ticket.objects.none()
    return tickets_visible_to(user).filter(OPEN, team_id__in=teams)


def assigned_to_me_tickets(*, user: User) -> QuerySet[Ticket]:
    return tickets_visible_to(user).filter(OPEN, owner=user)


def all_open_tickets(*, user: User) -> QuerySet[Ticket]:
    return tickets_visible_to(user).filter(OPEN)


def closed_tickets(*, user: User) -> QuerySet[Ticket]:
    return tickets_visible_to(user).filter(status=Ticket.Status.CLOSED)


@dataclass(frozen=True)
class Queue:
    slug: str
    label: str
    tickets: Callable[..., QuerySet[Ticket]]
    help: str
    empty: str
    default_sort: str = "-created"
    closed: bool = False


QUEUES: dict[str, Queue] = {
    q.slug: q
    for q in [
        Queue(
            "unassigned",
            gettext_lazy("Unassigned"),
            unassigned_tickets,
            help=gettext_lazy(
                "Open tickets with neither an owner nor a team. Open one and take it, "
                "or give it to a team with the Ticket owner control."
            ),
            empty=gettext_lazy(
                "No unassigned tickets. New tickets from channels with routing set to None "
                "land here, and so do tickets the router could not place."
            ),
        ),
        Queue(
            "team-unassigned",
            gettext_lazy("My team's unassigned"),
            team_unassigned_tickets,
            help=gettext_lazy(
                "Open tickets of your teams — main or additional membership — that nobody owns yet."
            ),
            empty=gettext_lazy(
                "Nothing waits for your teams. Tickets routed to a team only (no owner) "
                "show here; if you are in no team, ask an admin to add you to one."
            ),
        ),
        Queue(
            "team-open",
            gettext_lazy("My team's open"),
            team_open_tickets,
            help=gettext_lazy(
                "Every open ticket of your teams — main or additional membership — whoever owns it."
            ),
            empty=gettext_lazy(
                "Your teams have no open tickets. If you are in no team, ask an admin to add "
                "you to one."
            ),
        ),
        Queue(
            "mine",
            gettext_lazy("Assigned to me"),
            assigned_to_me_tickets,
            help=gettext_lazy(
                "Open tickets you own. Replying to an unassigned ticket makes it yours."
            ),
            empty=gettext_lazy(
                "Nothing is assigned to you. Pick a ticket from Unassigned or My team's "
                "unassigned and reply or take it."
            ),
        ),
        Queue(
            "open",
            gettext_lazy("All open"),
            all_open_tickets,
            help=gettext_lazy("Every ticket that is not closed."),
            empty=gettext_lazy(
                "No open tickets at all. New tickets from the channels appear here."
            ),
        ),
        Queue(
            "closed",
            gettext_lazy("Closed"),
            closed_tickets,
            help=gettext_lazy(
                "Closed tickets, most recently closed first. A new message from the contact "
                "reopens a ticket."
            ),
            empty=gettext_lazy("No closed tickets yet."),
            default_sort="-closed",
            closed=True,
        ),
    ]
}

# The sort keys a client may ask for (`?sort=priority`, `?sort=-activity`) and the columns
# behind each; anything else is ignored. The id always breaks ties so pages are stable.
SORTS: dict[str, tuple[str, ...]] = {
    "created": ("created_at", "id"),
    "activity": ("last_activity_at", "id"),
    "priority": ("priority", "created_at", "id"),
    "status": ("status", "created_at", "id"),
    "subject": ("subject", "id"),
    "closed": ("closed_at", "id"),
    "id": ("id",),
}


def clean_sort(queue: Queue, sort: str | None) -> str:
    """The allowlisted sort key asked for, or the queue's default."""
    if sort and sort.removeprefix("-") in SORTS:
        return sort
    return queue.default_sort


def ordered(queryset: QuerySet[Ticket], sort: str) -> QuerySet[Ticket]:
    """Order by an allowlisted sort key (`clean_sort` first)."""
    descending = sort.startswith("-")
    columns = SORTS[sort.removeprefix("-")]
    return queryset.order_by(*(f"-{c}" if descending else c for c in columns))


def for_list(queryset: QuerySet[Ticket]) -> QuerySet[Ticket]:
    """Everything a queue row shows, in the same query: no per-row queries."""
    return queryset.select_related("contact", "channel", "owner", "team")


def page_ids(queryset: QuerySet[Ticket], sort: str) -> QuerySet:
    """The ticket ids of a queue in the order asked for; slice it to get one page."""
    return ordered(queryset, sort).values_list("pk", flat=True)


def page_rows(ids: QuerySet, sort: str) -> QuerySet[Ticket]:
    """The rows of one page (`ids` is a slice of `page_ids`), in one query.

    A deferred join: the page's ids are picked from the ticket table alone — by the queue's
    index for the default order, by a narrow top-N sort for the others — and only those
    rows are joined to their contact, channel, owner and team. Joining first would join
    every matching ticket before sorting (65 ms instead of 10 for All open by priority at
    30k open tickets).
    """
    return for_list(ordered(Ticket.objects.filter(pk__in=ids), sort))


def ticket_number(text: str) -> int | None:
    """`1234` or `#1234` typed into the search box: the ticket with that number."""
    digits = text.strip().removeprefix("#").strip()
    if digits.isascii() and digits.isdigit() and len(digits) <= 18:
        return int(digits)
    return None


def search(queryset: QuerySet[Ticket], text: str) -> Found:
    """The tickets of `queryset` the search box's `text` finds: subject, contact name or
    email containing it, or a message containing its words (`helpdesk.search`)."""
    return search_tickets(queryset, text)


# Counts stop at this many: counting is linear in the rows counted (~0.1 µs per index entry),
# so an exact count of a queue with a million closed tickets would cost every page 100 ms.
# Past the cap a count shows as "10,000+" and paging stops at the cap — search or filter to
# narrow a list that long.
COUNT_CAP = 10_000
# A text search counts at most this many: its count reads the matches from their indexes
# one by one, so a very common word in a million tickets would cost ≈ 30 ms for "10,000+";
# "1,000+ tickets match" says as much to someone who will narrow the search, not page
# through it (issue 14). Other filters keep COUNT_CAP.
SEARCH_COUNT_CAP = 1_000
# The menu counts the queues not on screen to this many ("1,000+"): a number past a thousand
# tells no one what to do next, and counting ten thousand index entries for each long queue
# cost every page a few milliseconds (issue 14). The queue on screen counts to COUNT_CAP, as
# its page does.
MENU_COUNT_CAP = 1_000


def menu_caps(current: str | None = None) -> tuple[int, ...]:
    """Each queue's cap in the menu, in the order of QUEUES: COUNT_CAP for `current` (the
    queue whose page is shown), MENU_COUNT_CAP for the others."""
    return tuple(COUNT_CAP if slug == current else MENU_COUNT_CAP for slug in QUEUES)


def capped_count_sql(queryset: QuerySet[Ticket], cap: int | None = None) -> tuple[str, tuple]:
    """SQL and params counting at most `cap + 1` rows of `queryset` (an index-only scan of
    the queue's partial index on PostgreSQL)."""
    cap = COUNT_CAP if cap is None else cap
    limited = queryset.order_by().values(one=Value(1))[: cap + 1]
    sql, params = limited.query.sql_with_params()
    return f"SELECT COUNT(*) FROM ({sql}) AS counted", tuple(params)


def capped_count(queryset: QuerySet[Ticket], cap: int | None = None) -> int:
    """The number of rows, or `cap + 1` when there are more than `cap`."""
    if queryset.query.is_empty():
        return 0
    sql, params = capped_count_sql(queryset, cap)
    with connections[queryset.db].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]


def _caps(cap: int | tuple[int, ...] | None) -> tuple[int, ...]:
    """One cap per queue: as given, or the same cap (COUNT_CAP unless told) for each."""
    if isinstance(cap, tuple):
        return cap
    return (COUNT_CAP if cap is None else cap,) * len(QUEUES)


def _compile_counts_sql(user: User, cap: int | tuple[int, ...] | None) -> tuple[str, list]:
    """One SELECT of every queue's capped count, one scalar subquery per queue, compiled
    from the queue functions."""
    parts, params = [], []
    for queue, queue_cap in zip(QUEUES.values(), _caps(cap), strict=True):
        tickets = queue.tickets(user=user)
        if tickets.query.is_empty():
            parts.append("0")
            continue
        sql, more = capped_count_sql(tickets, queue_cap)
        parts.append(f"({sql})")
        params.extend(more)
    return "SELECT " + ", ".join(parts), params


# The counts' SQL is the same for every user with ticket access and as many teams; only the
# user's id and team ids differ. It is compiled once per process and shape (the ORM takes
# ≈ 2 ms to build and compile six querysets) and filled with each user's values; the
# counts themselves are read on every request. A queue function that comes to depend on
# more of the user than these, or on anything else that changes while the process runs
# (the time, a setting), must add it to `_counts_shape`.
@dataclass(frozen=True)
class _Slot:
    """Where a user's value goes among the parameters: their id, or their `team`-th team."""

    team: int | None = None


_COUNTS_SQL: dict[tuple, tuple[str, list] | None] = {}
_STAND_IN_PK = -1_000_000_007  # values no real row or constant of the queues has


def _counts_shape(user: User, cap: tuple[int, ...]) -> tuple:
    return (Ticket.objects.db, has_ticket_access(user), len(my_team_ids(user)), cap)


def _counts_recipe(user: User, cap: tuple[int, ...]) -> tuple[str, list] | None:
    """The SQL and its parameters, a `_Slot` where a user's value goes — found by compiling
    for a stand-in with unmistakable id and team ids. None when filling it for `user` does
    not give exactly what compiling for `user` gives (then every request compiles)."""
    has_ticket_access(user)  # read now: the stand-in, a copy, shares the permissions read
    stand_in = copy.copy(user)
    stand_in.pk = _STAND_IN_PK
    teams = [_STAND_IN_PK - 1 - i for i in range(len(my_team_ids(user)))]
    stand_in._helpdesk_team_ids = teams
    sql, params = _compile_counts_sql(stand_in, cap)
    recipe = [
        _Slot() if p == _STAND_IN_PK else _Slot(teams.index(p)) if p in teams else p for p in params
    ]
    if (sql, _fill(recipe, user)) != _compile_counts_sql(user, cap):
        return None
    return sql, recipe


def _fill(recipe: list, user: User) -> list:
    teams = my_team_ids(user)
    return [
        (user.pk if p.team is None else teams[p.team]) if isinstance(p, _Slot) else p
        for p in recipe
    ]


def queue_counts_sql(*, user: User, cap: int | tuple[int, ...] | None = None) -> tuple[str, list]:
    """One SELECT of every queue's capped count, one scalar subquery per queue; `cap` is
    one for all (COUNT_CAP unless told) or one per queue (`menu_caps`)."""
    cap = _caps(cap)
    shape = _counts_shape(user, cap)
    if shape not in _COUNTS_SQL:
        _COUNTS_SQL[shape] = _counts_recipe(user, cap)
    kept = _COUNTS_SQL[shape]
    if kept is None:
        return _compile_counts_sql(user, cap)
    sql, recipe = kept
    return sql, _fill(recipe, user)


def queue_counts(*, user: User, cap: int | tuple[int, ...] | None = None) -> dict[str, int]:
    """Every queue's count in one query, each answered by an index-only scan of that
    queue's partial index. A count above its cap is the cap + 1 (shown as "10,000+")."""
    sql, params = queue_counts_sql(user=user, cap=cap)
    with connections[Ticket.objects.db].cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return dict(zip(QUEUES, row, strict=True))
