"""Reads shared across apps, returning querysets with what their callers need."""

from datetime import datetime

from django.contrib.auth.models import Group
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from helpdesk.access import TICKET_ACCESS, permission_parts
from helpdesk.availability import availability_of
from helpdesk.models import Seat, Team, User


def _access_permission() -> Q:
    app_label, codename = permission_parts(TICKET_ACCESS)
    return Q(permission__content_type__app_label=app_label, permission__codename=codename)


def annotate_helpdesk_roles(users: QuerySet[User]) -> QuerySet[User]:
    """Add `has_seat` and `has_ticket_access_db` (active, and a superuser or granted
    `helpdesk.access_tickets` directly or through a group) — one query for any number of
    users, instead of a `has_perm` call per user."""
    direct = User.user_permissions.through.objects.filter(_access_permission(), user=OuterRef("pk"))
    via_group = Group.permissions.through.objects.filter(
        _access_permission(), group__user=OuterRef("pk")
    )
    return users.annotate(
        has_seat=Exists(Seat.objects.filter(user=OuterRef("pk"))),
        has_ticket_access_db=Q(is_active=True)
        & (Q(is_superuser=True) | Exists(direct) | Exists(via_group)),
    )


def users_with_ticket_access() -> QuerySet[User]:
    return annotate_helpdesk_roles(User.objects.all()).filter(has_ticket_access_db=True)


def owner_choices(at: datetime | None = None) -> tuple[list[Team], list[User]]:
    """Who a person can give a ticket to: every team, and every user with ticket access
    (with `has_seat`, and `availability` right now, so a picker can say who is away or out
    of office), in name order. Three queries; four when someone follows working hours."""
    teams = list(Team.objects.order_by("name"))
    users = list(users_with_ticket_access().order_by("first_name", "last_name", "username"))
    availability = availability_of(users, at or timezone.now())
    for user in users:
        user.availability = availability[user.pk]
    return teams, users
