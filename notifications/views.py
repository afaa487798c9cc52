"""The notification pages: the in-app list with the bell, personal settings (R25) and the
superadmin defaults (R26). Every change is a POST through `notifications.services`."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from helpdesk.access import agent_required, has_ticket_access, superadmin_required
from helpdesk.availability import availability_of
from notifications import services
from notifications.catalog import Event
from notifications.forms import PreferenceGridForm, QuietHoursForm
from notifications.models import Notification
from notifications.quiet_hours import quiet_hours_enabled, set_quiet_hours
from notifications.services import Source

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
    messages.success(request, f"Marked {count} notification{'s' if count != 1 else ''} read.")
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
            messages.success(request, "Your notifications follow the defaults again.")
            return redirect("notifications:settings")
        if request.POST.get("reset") in Event.values:
            event = request.POST["reset"]
            services.reset_preferences(user=user, event=event)
            messages.success(request, f"“{Event(event).label}” follows the default again.")
            return redirect("notifications:settings")
        form = PreferenceGridForm(request.POST, current=current, own_source=Source.OWN)
        quiet = QuietHoursForm(request.POST)
        if form.is_valid() and quiet.is_valid():
            services.update_preferences(user=user, changes=form.changes())
            set_quiet_hours(user=user, enabled=quiet.cleaned_data["quiet_hours"])
            messages.success(request, "Notification settings saved.")
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
    """Default notification preferences for every user (R26): what applies wherever a user
    has not chosen (R27)."""
    current = services.default_preferences()
    if request.method == "POST":
        if request.POST.get("reset") == "all":
            services.reset_default_preferences(actor=request.user)
            messages.success(request, "The account defaults are the built-in ones again.")
            return redirect("notifications:defaults")
        if request.POST.get("reset") in Event.values:
            event = request.POST["reset"]
            services.reset_default_preferences(actor=request.user, event=event)
            messages.success(request, f"“{Event(event).label}” uses the built-in default again.")
            return redirect("notifications:defaults")
        form = PreferenceGridForm(request.POST, current=current, own_source=Source.DEFAULT)
        if form.is_valid():
            services.update_default_preferences(actor=request.user, changes=form.changes())
            messages.success(request, "Default notification preferences saved.")
            return redirect("notifications:defaults")
    else:
        form = PreferenceGridForm(current=current, own_source=Source.DEFAULT)
    return render(
        request,
        "notifications/defaults.html",
        {"form": form, "rows": form.rows(), "tab": "defaults"},
    )
