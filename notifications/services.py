"""Notifications' reads and writes: effective preferences (R27), the choices of users (R25)
and superadmins (R26), `notify` (one Delivery per recipient and medium, published on
commit), and reading notifications.

Precedence (R27), strongest first: the user's own choice; a superadmin default aimed at the
user; the default for the user's main team (an additional membership does not count); the
default for everyone (the account default); the built-in default.
`effective_preferences(user)` answers for one user (the settings page);
`recipients_for([(event, users), …])` answers for every recipient of a batch of events in a
fixed number of queries, whatever their number and the number of teams or defaults (the
sender: `notify_all` writes every delivery of an announcement at once).
"""

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from celery import current_app
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.utils import timezone, translation
from django.utils.translation import gettext

from helpdesk.jobs import ring
from helpdesk.languages import language_for
from helpdesk.models import Team, TeamMembership, Ticket, User
from notifications import in_app, sql
from notifications.catalog import BUILT_IN, CELLS, Event, Medium
from notifications.models import DefaultPreference, Delivery, Notification, Preference

# The task that sends one delivery, named rather than imported: `notifications.tasks`
# imports the announcements, which call `notify` here, so importing it would close a circle.
# Imports go one way: receivers → tasks → announce → services.
DELIVER_TASK = "notifications.tasks.deliver_task"

log = logging.getLogger(__name__)


class Source:
    """Where an effective value comes from, strongest first (R27)."""

    OWN = "own"  # the user's own choice
    USER_DEFAULT = "user_default"  # a superadmin default aimed at this user
    TEAM_DEFAULT = "team_default"  # a superadmin default for the user's main team
    ACCOUNT_DEFAULT = "account_default"  # a superadmin default for everyone
    BUILT_IN = "built_in"  # the default in code


PRECEDENCE = [
    Source.OWN,
    Source.USER_DEFAULT,
    Source.TEAM_DEFAULT,
    Source.ACCOUNT_DEFAULT,
    Source.BUILT_IN,
]


@dataclass(frozen=True)
class Effective:
    enabled: bool
    source: str
    team: str = ""  # the team's name, for a TEAM_DEFAULT


@dataclass(frozen=True)
class Audience:
    """Whom a superadmin default is for: everyone (neither set), a team (its main members) or
    one user — one at a time."""

    team: Team | None = None
    user: User | None = None

    def __post_init__(self):
        if self.team is not None and self.user is not None:
            raise ValueError(gettext("A default is for everyone, a team or a user — not both."))

    @property
    def source(self) -> str:
        """The source of the rows set for this audience."""
        if self.user is not None:
            return Source.USER_DEFAULT
        if self.team is not None:
            return Source.TEAM_DEFAULT
        return Source.ACCOUNT_DEFAULT

    @property
    def is_everyone(self) -> bool:
        return self.team is None and self.user is None

    def __str__(self) -> str:
        if self.user is not None:
            return str(self.user)
        if self.team is not None:
            return gettext("team %(name)s") % {"name": self.team.name}
        return gettext("everyone")


EVERYONE = Audience()
ACCOUNT_ROWS = Q(team__isnull=True, user__isnull=True)

Cell = tuple[str, str]


def _main_memberships(**filters) -> QuerySet[TeamMembership]:
    """Main memberships only: a team's default reaches its main members, not the others."""
    return TeamMembership.objects.filter(role=TeamMembership.Role.MAIN, **filters)


def _strongest(layers: list[tuple[str, dict]], cell: Cell) -> Effective:
    """The first layer (strongest first) with a value for `cell`, else the built-in one.
    A layer is (source, {cell: (enabled, team name)})."""
    for source, values in layers:
        if cell in values:
            enabled, team = values[cell]
            return Effective(enabled, source, team)
    return Effective(BUILT_IN[cell], Source.BUILT_IN)


def default_preferences(audience: Audience = EVERYONE) -> dict[Cell, Effective]:
    """What applies to `audience` where nobody closer chose (R26, R27): for everyone the
    account default, else the built-in one; for a team its own default first; for a user
    the default aimed at them, then their main team's, then the account's. One query."""
    scope = ACCOUNT_ROWS
    if audience.team is not None:
        scope |= Q(team=audience.team)
    if audience.user is not None:
        scope |= Q(user=audience.user) | Q(
            team__in=_main_memberships(user=audience.user).values("team_id")
        )
    layers = {s: {} for s in (Source.USER_DEFAULT, Source.TEAM_DEFAULT, Source.ACCOUNT_DEFAULT)}
    rows = DefaultPreference.objects.filter(scope, event__in=Event.values).values_list(
        "event", "medium", "enabled", "team_id", "user_id", "team__name"
    )
    for event, medium, enabled, team_id, user_id, team_name in rows:
        if user_id is not None:
            layers[Source.USER_DEFAULT][(event, medium)] = (enabled, "")
        elif team_id is not None:
            layers[Source.TEAM_DEFAULT][(event, medium)] = (enabled, team_name)
        else:
            layers[Source.ACCOUNT_DEFAULT][(event, medium)] = (enabled, "")
    ordered = list(layers.items())
    return {cell: _strongest(ordered, cell) for cell in CELLS}


def effective_preferences(user: User) -> dict[Cell, Effective]:
    """Every (event, medium) of `user` with its value and where it comes from (R27). Two
    queries, whatever the number of teams and defaults: the defaults that reach the user
    (with their main team, a subquery) and the user's own choices."""
    effective = default_preferences(Audience(user=user))
    for event, medium, enabled in Preference.objects.filter(user=user).values_list(
        "event", "medium", "enabled"
    ):
        if (event, medium) in effective:
            effective[(event, medium)] = Effective(enabled, Source.OWN)
    return effective


def recipients_by_medium(event: str, users: QuerySet[User] | Iterable[User]) -> dict[str, list]:
    """For one event, which of `users` want it by which medium (R27): {medium: [user, …]}.

    Four queries whatever the number of users, teams and defaults (three for a list of users
    already loaded): `recipients_for` of a batch of one.
    """
    return recipients_for([(event, users)])[0]


def recipients_for(
    wishes: Sequence[tuple[str, QuerySet[User] | Iterable[User]]],
) -> list[dict[str, list]]:
    """For each (event, users) of a batch, which of the users want the event by which medium
    (R27): [{medium: [user, …]}, …], in the batch's order.

    A fixed number of queries for the whole batch, whatever the number of events, users,
    teams and defaults: each queryset of users (none for a list already loaded), then, for
    every user of the batch at once, their main teams, the defaults of these events that can
    reach them (everyone's, their main teams', theirs) and their own choices for these
    events — one statement on PostgreSQL, three elsewhere (`_preference_rows`). The users
    are named by their ids there, so a costly queryset (ticket access) is run once.
    """
    groups = [list(users) for _, users in wishes]
    ids = sorted({user.pk for group in groups for user in group})
    if not ids:
        return [{medium: [] for medium in Medium.values} for _ in wishes]
    events = sorted({event for event, _ in wishes})
    main_team, account, team_defaults, user_defaults, own = {}, {}, {}, {}, {}
    for kind, user_id, team_id, event, medium, enabled in _preference_rows(ids, events):
        if kind == sql.MAIN_TEAM:
            main_team[user_id] = team_id
        elif kind == sql.OWN:
            own[(event, user_id, medium)] = enabled
        elif user_id is not None:
            user_defaults[(event, user_id, medium)] = enabled
        elif team_id is not None:
            team_defaults[(event, team_id, medium)] = enabled
        else:
            account[(event, medium)] = enabled

    def wants(event: str, user: User, medium: str) -> bool:
        for found in (
            own.get((event, user.pk, medium)),
            user_defaults.get((event, user.pk, medium)),
            team_defaults.get((event, main_team.get(user.pk), medium)),
            account.get((event, medium)),
        ):
            if found is not None:
                return found
        return BUILT_IN[(event, medium)]

    return [
        {medium: [u for u in group if wants(event, u, medium)] for medium in Medium.values}
        for (event, _), group in zip(wishes, groups, strict=True)
    ]


def _preference_rows(ids: list[int], events: list[str]) -> list[tuple]:
    """The rows `recipients_for` weighs for these users and events, as
    `notifications.sql.preference_rows` gives them: on PostgreSQL that one statement;
    elsewhere three queries (the users' main teams, the defaults that can reach them, their
    own choices)."""
    if sql.postgres():
        return sql.preference_rows(user_ids=ids, events=events)
    main_team = list(_main_memberships(user__in=ids).order_by().values_list("user_id", "team_id"))
    defaults = (
        DefaultPreference.objects.filter(
            ACCOUNT_ROWS | Q(team__in=sorted({team for _, team in main_team})) | Q(user__in=ids),
            event__in=events,
        )
        .order_by()
        .values_list("user_id", "team_id", "event", "medium", "enabled")
    )
    own = (
        Preference.objects.filter(event__in=events, user__in=ids)
        .order_by()
        .values_list("user_id", "event", "medium", "enabled")
    )
    return [
        *((sql.MAIN_TEAM, user, team, None, None, None) for user, team in main_team),
        *((sql.DEFAULT, *row) for row in defaults),
        *((sql.OWN, user, None, e, m, enabled) for user, e, m, enabled in own),
    ]


@dataclass(frozen=True)
class AudienceSummary:
    """An audience that has defaults, for the superadmin page's list."""

    team_id: int | None
    user_id: int | None
    name: str
    events: int  # how many events (rows of the grid) it has defaults for

    @property
    def query(self) -> str:
        """The defaults page's query string for this audience."""
        return audience_query(team_id=self.team_id, user_id=self.user_id)


def audience_query(*, team_id: int | None = None, user_id: int | None = None) -> str:
    if user_id is not None:
        return f"?user={user_id}"
    if team_id is not None:
        return f"?team={team_id}"
    return ""


def audiences_with_defaults() -> list[AudienceSummary]:
    """Every audience with at least one default (everyone first, then teams, then users, by
    name), with how many events each sets. One query."""
    rows = (
        DefaultPreference.objects.filter(event__in=Event.values)
        .values(
            "team_id",
            "team__name",
            "user_id",
            "user__username",
            "user__first_name",
            "user__last_name",
        )
        .annotate(events=Count("event", distinct=True))
        .order_by()
    )
    found = []
    for r in rows:
        if r["user_id"] is not None:
            full = f"{r['user__first_name']} {r['user__last_name']}".strip()
            name = full or r["user__username"]
        elif r["team_id"] is not None:
            name = gettext("Team %(team__name)s") % {"team__name": r["team__name"]}
        else:
            name = gettext("Everyone")
        found.append(AudienceSummary(r["team_id"], r["user_id"], name, r["events"]))

    def order(a: AudienceSummary) -> tuple[int, str]:
        kind = 2 if a.user_id is not None else 1 if a.team_id is not None else 0
        return kind, a.name.lower()

    return sorted(found, key=order)


def chosen_events(user: User) -> int:
    """On how many events `user` made their own choice (which wins over any default). One
    query."""
    return Preference.objects.filter(user=user).values("event").distinct().count()


# ---------------------------------------------------------------------------------------
# Choices (R25, R26)
# ---------------------------------------------------------------------------------------


def update_preferences(*, user: User, changes: dict[Cell, bool]) -> None:
    """Record the user's own choice for each changed cell; untouched cells keep following
    the defaults."""
    with transaction.atomic():
        for (event, medium), enabled in changes.items():
            Preference.objects.update_or_create(
                user=user, event=event, medium=medium, defaults={"enabled": enabled}
            )


def reset_preferences(*, user: User, event: str | None = None) -> int:
    """Forget the user's own choices (of one event, or all): the defaults apply again."""
    rows = Preference.objects.filter(user=user)
    if event is not None:
        rows = rows.filter(event=event)
    deleted, _ = rows.delete()
    return deleted


def _superadmin_only(actor: User) -> None:
    if not actor.is_superuser:
        raise PermissionDenied(gettext("Only superadmins set default notification preferences."))


def update_default_preferences(
    *,
    actor: User,
    changes: dict[Cell, bool],
    team: Team | None = None,
    user: User | None = None,
) -> None:
    """A superadmin sets the defaults of the changed cells (R26) for one audience: everyone
    (neither `team` nor `user`), the main members of `team`, or `user`."""
    _superadmin_only(actor)
    Audience(team=team, user=user)  # one audience at a time
    with transaction.atomic():
        for (event, medium), enabled in changes.items():
            DefaultPreference.objects.update_or_create(
                event=event,
                medium=medium,
                team=team,
                user=user,
                defaults={"enabled": enabled, "updated_by": actor},
            )


def reset_default_preferences(
    *,
    actor: User,
    event: str | None = None,
    team: Team | None = None,
    user: User | None = None,
) -> int:
    """Forget the defaults of one audience (of one event, or all): that audience inherits
    again (a user from their main team, a team from everyone, everyone from the built-in
    defaults). Other audiences keep theirs."""
    _superadmin_only(actor)
    Audience(team=team, user=user)
    rows = DefaultPreference.objects.filter(team=team, user=user)
    if event is not None:
        rows = rows.filter(event=event)
    deleted, _ = rows.delete()
    return deleted


# ---------------------------------------------------------------------------------------
# Sending
# ---------------------------------------------------------------------------------------


@contextmanager
def in_language_of(user: User) -> Iterator[str]:
    """Everything written to `user` — the text of their notifications, their emails and
    digests — is written inside this: their own language (`User.language`), else the
    deployment's LANGUAGE_CODE (`helpdesk.languages.language_for`). Yields the code."""
    code = language_for(user)
    with translation.override(code):
        yield code


def _in_languages(words: str | Callable[[], str]) -> Callable[[User], str]:
    """`words` as written to a given user: in their language when it is a function (called
    once per language, whatever the number of users)."""
    if not callable(words):
        return lambda user: words
    written: dict[str, str] = {}

    def for_user(user: User) -> str:
        code = language_for(user)
        if code not in written:
            with translation.override(code):
                written[code] = str(words())
        return written[code]

    return for_user


@dataclass(frozen=True)
class Notice:
    """One occurrence to tell some users of: `notify_all` turns it into one Delivery per
    recipient and medium they want. `text` and `detail` may be functions, written in each
    recipient's language (`language_for`)."""

    event: str
    key: str
    recipients: QuerySet[User] | list[User]
    text: str | Callable[[], str]
    detail: str | Callable[[], str] = ""


def notify(
    *,
    event: str,
    key: str,
    ticket: Ticket,
    recipients: QuerySet[User],
    text: str | Callable[[], str],
    detail: str | Callable[[], str] = "",
    actor_id: int | None = None,
) -> list[int]:
    """Create one Delivery per recipient and medium they want for this occurrence (`key`),
    and publish each after commit: `notify_all` of one notice."""
    notice = Notice(event=event, key=key, recipients=recipients, text=text, detail=detail)
    return notify_all(ticket=ticket, notices=[notice], actor_id=actor_id)


def notify_all(
    *, ticket: Ticket, notices: Sequence[Notice], actor_id: int | None = None
) -> list[int]:
    """Create one Delivery per recipient and medium they want for each notice, and publish
    each after commit. The actor never hears of their own action; a recipient without an
    email address gets no email. A second call with the same keys creates nothing new
    (unique constraint) and publishes again only what is still pending, which the task's
    claim makes harmless. Returns the ids of the pending deliveries.

    A fixed number of queries whatever the number of notices and recipients: the recipients
    (`recipients_for`: one query per queryset of users, then three), one insert of every
    row, one read of the pending ids (on PostgreSQL one statement for both,
    `notifications.sql.insert_deliveries`), then the in-app ones delivered at once.
    """
    wishes = []
    for notice in notices:
        recipients = notice.recipients
        if actor_id is not None:
            if isinstance(recipients, QuerySet):
                recipients = recipients.exclude(pk=actor_id)
            else:
                recipients = [user for user in recipients if user.pk != actor_id]
        wishes.append((notice.event, recipients))
    rows, pending = [], Q(pk__in=[])
    for notice, wanted in zip(notices, recipients_for(wishes), strict=True):
        text, detail = _in_languages(notice.text), _in_languages(notice.detail)
        told = [
            Delivery(
                event_key=notice.key,
                event=notice.event,
                recipient=user,
                medium=medium,
                ticket=ticket,
                text=text(user)[:300],
                detail=detail(user),
            )
            for medium, users in wanted.items()
            for user in users
            if medium != Medium.EMAIL or user.email
        ]
        if told:
            rows += told
            pending |= Q(event_key=notice.key, recipient_id__in={r.recipient_id for r in told})
    if not rows:
        return []
    if sql.postgres():
        pending_rows = sql.insert_deliveries(rows)
    else:
        Delivery.objects.bulk_create(rows, ignore_conflicts=True)
        pending_rows = list(
            Delivery.objects.filter(pending, status=Delivery.Status.PENDING).values_list(
                "pk", "medium"
            )
        )
    # In-app: delivered here, in bulk, visible when the announcement commits; email: a task
    # each, after commit (SMTP is slow and may fail).
    in_app.deliver_now([pk for pk, medium in pending_rows if medium == Medium.IN_APP])
    publish_deliveries([pk for pk, medium in pending_rows if medium != Medium.IN_APP])
    return [pk for pk, _ in pending_rows]


def publish_deliveries(ids: list[int]) -> None:
    """Publish `deliver_task` for each id once the transaction commits (one callback for
    all). A broker that is down loses nothing: the first refused publish stops the others
    (each would wait for its connect timeout), the rows stay pending and the deliveries
    sweep publishes them."""
    if not ids:
        return
    deliver_task = current_app.tasks[DELIVER_TASK]

    def publish() -> None:
        for delivery_id in ids:
            try:
                if not ring(deliver_task, delivery_id=delivery_id):
                    return
            except Exception:  # eager Celery (`make run`): one failure stops no other
                log.exception("Delivery %s was not published", delivery_id)

    transaction.on_commit(publish, robust=True)


# ---------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------


def unread_count(user: User) -> int:
    return Notification.objects.filter(recipient=user, read_at__isnull=True).count()


def open_notification(*, user: User, notification_id: int) -> Notification:
    """The user opens one of their notifications: it is read from now on. Raises
    Notification.DoesNotExist for another user's notification."""
    notification = Notification.objects.get(pk=notification_id, recipient=user)
    if notification.read_at is None:
        now = timezone.now()
        Notification.objects.filter(pk=notification.pk, read_at__isnull=True).update(read_at=now)
        notification.read_at = now
    return notification


def mark_notifications_read(*, user: User, ids: Iterable[int] | None = None) -> int:
    """Mark the user's unread notifications read — these ids, or all of them."""
    rows = Notification.objects.filter(recipient=user, read_at__isnull=True)
    if ids is not None:
        rows = rows.filter(pk__in=list(ids))
    return rows.update(read_at=timezone.now())
