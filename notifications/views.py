"""The notification pages: the in-app list with the bell, personal settings (R25) and the
superadmin defaults for everyone, a team or a user (R26). Every change is a POST through
`notifications.services`."""

import re

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext, ngettext
from django.views.decorators.http import require_GET, require_POST

from helpdesk.access import agent_required, has_ticket_access, superadmin_required
from helpdesk.availability import availability_of
from helpdesk.models import Team, User
from helpdesk.selectors import users_with_ticket_access
from notifications import services
from notifications.catalog import Event
from notifications.forms import AudienceForm, PreferenceGridForm, QuietHoursForm
from notifications.models import Notification
from notifications.quiet_hours import quiet_hours_enabled, set_quiet_hours
from notifications.services import Audience, Source

PER_PAGE = 30


# ---------------------------------------------------------------------------------------
# The list and the bell
# ---------------------------------------------------------------------------------------


@agent_required
@require_GET
def notification_list(request):
    unread_only = request.GET.get("show") == "unread"
    rows = Notification.objects.filter(recipient=request.user).select_related("ticket")
    if unread_only:
        rows = rows.filter(read_at__isnull=True)
    page = Paginator(rows, PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "notifications": list(page.object_list),
        "unread": services.unread_count(request.user),
        "unread_only": unread_only,
        "tab": "list",
    }
    return render(request, "notifications/list.html", context)


@agent_required
@require_POST
def notification_open(request, notification_id: int):
    """Opening a notification marks it read and goes to its ticket."""
    try:
        notification = services.open_notification(
            user=request.user, notification_id=notification_id
        )
    except Notification.DoesNotExist:
        raise Http404("No such notification.") from None
    return redirect(reverse("ticket", args=[notification.ticket_id]))


@agent_required
@require_POST
def notification_read(request, notification_id: int):
    services.mark_notifications_read(user=request.user, ids=[notification_id])
    return redirect(_back_to_list(request))


@agent_required
@require_POST
def notification_read_all(request):
    count = services.mark_notifications_read(user=request.user)
    messages.success(
        request,
        ngettext(
            "Marked %(count)s notification read.", "Marked %(count)s notifications read.", count
        )
        % {"count": count},
    )
    return redirect(_back_to_list(request))


def _back_to_list(request) -> str:
    """The list page as it was (allowlisted parameters only)."""
    url = reverse("notifications:list")
    params = []
    if request.POST.get("show") == "unread":
        params.append("show=unread")
    page = request.POST.get("page", "")
    if page.isdigit():
        params.append(f"page={page}")
    return f"{url}?{'&'.join(params)}" if params else url


@require_GET
def bell(request):
    """The bell alone, for the top bar's periodic refresh (htmx). A signed-out visitor gets
    204 (htmx swaps nothing) rather than the login page inside the top bar."""
    user = request.user
    if not has_ticket_access(user):
        return HttpResponse(status=204)
    context = {"show": True, "unread": services.unread_count(user)}
    return render(request, "notifications/_bell.html", context)


# ---------------------------------------------------------------------------------------
# Preferences
# ---------------------------------------------------------------------------------------


@agent_required
def preference_settings(request):
    """Personal settings › Notifications (R25): the grid of the user's effective choices,
    each row marked as their own or inherited (R27)."""
    user = request.user
    current = services.effective_preferences(user)
    if request.method == "POST":
        if request.POST.get("reset") == "all":
            services.reset_preferences(user=user)
            messages.success(request, gettext("Your notifications follow the defaults again."))
            return redirect("notifications:settings")
        if request.POST.get("reset") in Event.values:
            event = request.POST["reset"]
            services.reset_preferences(user=user, event=event)
            messages.success(
                request,
                gettext("“%(label)s” follows the default again.") % {"label": Event(event).label},
            )
            return redirect("notifications:settings")
        form = PreferenceGridForm(request.POST, current=current, own_source=Source.OWN)
        quiet = QuietHoursForm(request.POST)
        if form.is_valid() and quiet.is_valid():
            services.update_preferences(user=user, changes=form.changes())
            set_quiet_hours(user=user, enabled=quiet.cleaned_data["quiet_hours"])
            messages.success(request, gettext("Notification settings saved."))
            return redirect("notifications:settings")
    else:
        form = PreferenceGridForm(current=current, own_source=Source.OWN)
        quiet = QuietHoursForm(initial={"quiet_hours": quiet_hours_enabled(user)})
    follows_hours = user.availability_mode == user.AvailabilityMode.WORKING_HOURS
    context = {
        "form": form,
        "rows": form.rows(),
        "quiet_form": quiet,
        "availability": availability_of([user], timezone.now())[user.pk],
        "follows_working_hours": follows_hours,
        "working_hours": list(user.working_hours.all()) if follows_hours else [],
        "tab": "settings",
    }
    return render(request, "notifications/settings.html", context)


@superadmin_required
def default_settings(request):
    """Default notification preferences (R26) for one audience at a time — everyone, a team
    (`?team=<id>`, its main members) or a user (`?user=<id>`): what applies wherever the
    user has not chosen, closest audience first (R27). An unknown or malformed audience is
    404. A fixed number of queries whatever the number of teams, users and defaults."""
    audience = _audience_from(request.GET)
    here = reverse("notifications:defaults") + _query_of(audience)
    whom = {"team": audience.team, "user": audience.user}
    current = services.default_preferences(audience)
    own_label = (
        gettext("Default for %(user)s") % {"user": audience.user}
        if audience.user is not None
        else None
    )
    grid = {"current": current, "own_source": audience.source, "own_label": own_label}
    if request.method == "POST":
        reset = request.POST.get("reset")
        if reset == "all":
            services.reset_default_preferences(actor=request.user, **whom)
            messages.success(
                request, gettext("Removed the defaults for %(audience)s.") % {"audience": audience}
            )
            return redirect(here)
        if reset in Event.values:
            services.reset_default_preferences(actor=request.user, event=reset, **whom)
            label = Event(reset).label
            messages.success(
                request,
                gettext("“%(label)s”: removed the default for %(audience)s.")
                % {"label": label, "audience": audience},
            )
            return redirect(here)
        form = PreferenceGridForm(request.POST, **grid)
        if form.is_valid():
            services.update_default_preferences(actor=request.user, changes=form.changes(), **whom)
            messages.success(
                request, gettext("Defaults for %(audience)s saved.") % {"audience": audience}
            )
            return redirect(here)
    else:
        form = PreferenceGridForm(**grid)
    picker = AudienceForm(
        initial={"audience": _picker_value(audience)},
        teams=Team.objects.order_by("name"),
        users=users_with_ticket_access().order_by("first_name", "last_name", "username"),
    )
    context = {
        "form": form,
        "rows": form.rows(),
        "audience": audience,
        "here": here,
        "query": _query_of(audience),
        "picker": picker,
        "audiences": services.audiences_with_defaults(),
        "chosen_events": services.chosen_events(audience.user) if audience.user else 0,
        "tab": "defaults",
    }
    return render(request, "notifications/defaults.html", context)


_ID = re.compile(r"[0-9]{1,18}")


def _audience_from(params) -> Audience:
    """The audience of the defaults page: `?team=<id>`, `?user=<id>`, or the picker's
    `?audience=team:<id>` / `user:<id>`; none of them is everyone. 404 for a malformed or
    unknown id, or for two audiences at once."""
    team_id, user_id = params.get("team", ""), params.get("user", "")
    picked = params.get("audience", "")
    if picked:
        kind, _, pk = picked.partition(":")
        if team_id or user_id or kind not in ("team", "user") or not pk:
            raise Http404("Pick one audience.")
        team_id, user_id = (pk, "") if kind == "team" else ("", pk)
    if team_id and user_id:
        raise Http404("One audience at a time.")
    for raw in (team_id, user_id):
        if raw and not _ID.fullmatch(raw):
            raise Http404("No such audience.")
    if team_id:
        return Audience(team=get_object_or_404(Team, pk=int(team_id)))
    if user_id:
        return Audience(user=get_object_or_404(User, pk=int(user_id)))
    return services.EVERYONE


def _query_of(audience: Audience) -> str:
    return services.audience_query(
        team_id=audience.team.pk if audience.team else None,
        user_id=audience.user.pk if audience.user else None,
    )


def _picker_value(audience: Audience) -> str:
    if audience.user is not None:
        return f"user:{audience.user.pk}"
    if audience.team is not None:
        return f"team:{audience.team.pk}"
    return ""
