"""Reads shared across apps, returning querysets with what their callers need."""

from django.contrib.auth.models import Group
from django.db.models import Exists, F, OuterRef, Q, QuerySet

from helpdesk.access import TICKET_ACCESS, permission_parts
from helpdesk.models import Attachment, Message, OutboundMessage, Seat, Ticket, User


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


# The same rule in SQL, for statements written by hand on hot paths (`routing.reads`,
# `notifications.sql`): a CTE naming the permission once, and a condition on a user row.
TICKET_ACCESS_CTE = "ticket_access_perm"


def ticket_access_sql(user: str) -> tuple[str, str]:
    """(`ticket_access_perm AS (…)` for the statement's WITH, the condition on the user row
    aliased `user`): `has_ticket_access_db` of `annotate_helpdesk_roles`, in SQL. The
    permission's names are the code's own constants, written into the text as literals."""
    app_label, codename = permission_parts(TICKET_ACCESS)
    if not (app_label + codename).replace("_", "").isalnum():
        raise ValueError(f"Not a permission name: {TICKET_ACCESS}")
    user_perms = User.user_permissions.through._meta.db_table
    user_groups = User.groups.through._meta.db_table
    group_perms = Group.permissions.through._meta.db_table
    cte = (
        f"{TICKET_ACCESS_CTE} AS (SELECT p.id FROM auth_permission p JOIN django_content_type ct"
        f" ON ct.id = p.content_type_id WHERE ct.app_label = '{app_label}'"
        f" AND p.codename = '{codename}')"
    )
    condition = (
        f"{user}.is_active AND ({user}.is_superuser"
        f' OR EXISTS (SELECT 1 FROM "{user_perms}" up WHERE up.user_id = {user}.id'
        f" AND up.permission_id IN (SELECT id FROM {TICKET_ACCESS_CTE}))"
        f' OR EXISTS (SELECT 1 FROM "{user_groups}" ug JOIN "{group_perms}" gp'
        f" ON gp.group_id = ug.group_id WHERE ug.user_id = {user}.id"
        f" AND gp.permission_id IN (SELECT id FROM {TICKET_ACCESS_CTE})))"
    )
    return cte, condition


def users_with_ticket_access() -> QuerySet[User]:
    return annotate_helpdesk_roles(User.objects.all()).filter(has_ticket_access_db=True)


# What the thread shows of an attachment (the file itself is read only when downloaded).
THREAD_ATTACHMENT_FIELDS = ("id", "filename", "content_type", "size", "inline")


def ticket_thread(ticket: Ticket) -> list[Message]:
    """The ticket's messages in order, each with its `author`, `delivery` (its outbox row or
    None) and `mail_files` (its attachments, in order): one query however long the thread —
    messages LEFT JOIN author, outbox row and attachments, a message with several
    attachments coming back once per attachment. Without `html` (the page shows the text;
    an email's HTML can be large and would come back with every attachment)."""
    rows = (
        ticket.messages.select_related("author", "outbound")
        .defer("html")
        .annotate(**{f"attachment_{f}": F(f"attachments__{f}") for f in THREAD_ATTACHMENT_FIELDS})
        .order_by("created_at", "id", "attachments__id")
    )
    thread: dict[int, Message] = {}
    for row in rows:
        message = thread.setdefault(row.pk, row)
        if message is row:
            try:
                message.delivery = row.outbound
            except OutboundMessage.DoesNotExist:
                message.delivery = None
            message.mail_files = []
        if row.attachment_id is not None:
            message.mail_files.append(
                Attachment(
                    message_id=row.pk,
                    **{f: getattr(row, f"attachment_{f}") for f in THREAD_ATTACHMENT_FIELDS},
                )
            )
    return list(thread.values())
