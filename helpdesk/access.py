"""Who may reach which page, and which tickets they see: the one access module.

Every access decorator and permission name of the project lives here; the core's views,
the JSON API and the other apps' views (channels_cfg, routing, notifications) all import
theirs from this module.

- `agent_required`: ticket access (R8); anonymous → the login page, others → the 403 page.
- `account_admin_required`: `helpdesk.manage_helpdesk` (account admins, R6); anonymous →
  the login page, others → the channel settings' 403 page.
- `superadmin_required`: superusers (R26); anonymous → the login page, others → 403.
- `token_required` (JSON API): a valid token (else 401) whose user has ticket access
  (else 403).

Ticket access is the permission `helpdesk.access_tickets`, granted through the group
*Agents*; *Account admins* add `helpdesk.manage_helpdesk` (both declared in the models'
`Meta.permissions`, which the migrations need). A ticket id the user cannot see (or that
does not exist) is a 404: the pages and the API start from `tickets_visible_to`.
"""

from functools import partial, wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, render
from django.utils.translation import gettext
from django.views.decorators.csrf import csrf_exempt

from helpdesk.models import Ticket, User
from helpdesk.models.permissions import MANAGE_HELPDESK, TICKET_ACCESS
from helpdesk.services import load_permissions, user_for_token

__all__ = ["MANAGE_HELPDESK", "TICKET_ACCESS"]  # and the rules and decorators below

# The 403 page of the account-admin pages (today the channel settings and their preview).
ACCOUNT_ADMIN_FORBIDDEN_TEMPLATE = "channels_cfg/forbidden.html"


def permission_parts(permission: str) -> tuple[str, str]:
    """`"app_label.codename"` → `(app_label, codename)`, for queries on the permission table."""
    app_label, _, codename = permission.partition(".")
    return app_label, codename


# ---------------------------------------------------------------------------------------
# Rules
# ---------------------------------------------------------------------------------------


# The rules read the user's permissions in one query (`load_permissions`), where Django's
# `ModelBackend` takes two; the page's `perms` and every later `has_perm` read them again free.


def has_ticket_access(user) -> bool:
    return bool(user.is_authenticated and load_permissions(user).has_ticket_access)


def can_manage_helpdesk(user) -> bool:
    """Account admins (and superusers, who have every permission)."""
    return bool(user.is_authenticated and load_permissions(user).has_perm(MANAGE_HELPDESK))


def is_superadmin(user) -> bool:
    return bool(user.is_authenticated and user.is_superuser)


# ---------------------------------------------------------------------------------------
# Page decorators: the login page first, then the rule
# ---------------------------------------------------------------------------------------


def agent_required(view):
    """`@login_required` plus ticket access; every page about tickets is wrapped in this."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not has_ticket_access(request.user):
            raise PermissionDenied(gettext("You need ticket access to use the helpdesk."))
        return view(request, *args, **kwargs)

    return login_required(wrapped)


def account_admin_required(view=None, *, forbidden_template: str = ""):
    """`@login_required` plus the account-admin permission; a 403 page that says who can
    help. `@account_admin_required(forbidden_template=...)` names a page's own 403 template
    (the People pages say what they manage)."""
    if view is None:
        return partial(account_admin_required, forbidden_template=forbidden_template)
    template = forbidden_template or ACCOUNT_ADMIN_FORBIDDEN_TEMPLATE

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not can_manage_helpdesk(request.user):
            return render(request, template, status=403)
        return view(request, *args, **kwargs)

    return login_required(wrapped)


def superadmin_required(view):
    """`@login_required` plus superuser: 403 for everyone else, account admins included."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not is_superadmin(request.user):
            raise PermissionDenied(gettext("Only superadmins can use this page."))
        return view(request, *args, **kwargs)

    return login_required(wrapped)


# ---------------------------------------------------------------------------------------
# The JSON API: token authentication
# ---------------------------------------------------------------------------------------


def api_error(status: int, message: str, **extra) -> JsonResponse:
    return JsonResponse({"error": message, **extra}, status=status)


def token_required(view):
    """`Authorization: Bearer <token>` (or `Token <token>`): 401 without a valid token, 403
    when its user has no ticket access; sets `request.api_user`. CSRF-exempt (no cookies)."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        scheme, _, raw = request.headers.get("Authorization", "").partition(" ")
        user = user_for_token(raw.strip()) if scheme in {"Bearer", "Token"} and raw else None
        if user is None:
            response = api_error(
                401, gettext("Authentication required: send 'Authorization: Bearer <token>'.")
            )
            response["WWW-Authenticate"] = 'Bearer realm="api"'
            return response
        if not has_ticket_access(user):
            return api_error(403, gettext("This token's user has no ticket access."))
        request.api_user = user
        return view(request, *args, **kwargs)

    return csrf_exempt(wrapped)


# ---------------------------------------------------------------------------------------
# Which tickets
# ---------------------------------------------------------------------------------------


def tickets_visible_to(user: User) -> QuerySet[Ticket]:
    """The tickets `user` may see and work. Every agent sees every ticket today; the queues,
    the ticket pages and the API all start from this queryset, so a narrower rule changes
    here."""
    if not has_ticket_access(user):
        return Ticket.objects.none()
    return Ticket.objects.all()


def ticket_for_agent(user: User, ticket_id: int) -> Ticket:
    """The ticket with what the workspace shows, or 404."""
    queryset = tickets_visible_to(user).select_related(
        "contact", "contact__owner", "channel", "owner", "team"
    )
    return get_object_or_404(queryset, pk=ticket_id)
