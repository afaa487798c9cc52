"""An agent's own availability (R11): the top bar's status control and the page behind it.
Parse → check access → one service call → redirect (the services write)."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext
from django.views.decorators.http import require_POST

from helpdesk import services
from helpdesk.access import agent_required
from helpdesk.models import OutOfOffice, WorkingHours
from people.forms import AvailabilityForm, OutOfOfficeForm, StatusForm, status_and_mode
from people.selectors import availability_summary


def _back(request):
    target = request.POST.get("next") or ""
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(target)
    return redirect("people:availability")


def _page(request, form, ooo_form, status=200):
    now = timezone.now()
    periods = OutOfOffice.objects.filter(user=request.user, end__gt=now).order_by("start")
    context = {
        "form": form,
        "ooo_form": ooo_form,
        "periods": periods,
        "now": now,
        "summary": availability_summary(request.user, now),
    }
    return render(request, "people/availability.html", context, status=status)


@agent_required
def availability_page(request):
    user = request.user
    hours = list(WorkingHours.objects.filter(user=user))
    ooo_form = OutOfOfficeForm(user=user)
    if request.method != "POST":
        return _page(request, AvailabilityForm(user=user, working_hours=hours), ooo_form)
    form = AvailabilityForm(request.POST, user=user, working_hours=hours)
    if form.is_valid():
        try:
            services.replace_working_hours(user=user, ranges=form.cleaned_data["ranges"])
        except ValidationError as exc:
            form.add_error(None, exc)
    if not form.is_valid():
        return _page(request, form, ooo_form, status=400)
    services.set_time_zone(user=user, time_zone=form.cleaned_data["time_zone"])
    services.set_availability(user=user, **status_and_mode(form.cleaned_data["state"]))
    messages.success(request, gettext("Saved. Routing uses it from the next ticket on."))
    return redirect("people:availability")


@require_POST
@agent_required
def status_set(request):
    form = StatusForm(request.POST)
    if form.is_valid():
        services.set_availability(user=request.user, **status_and_mode(form.cleaned_data["state"]))
    else:
        messages.error(request, gettext("Choose Available, Away or Follow my working hours."))
    return _back(request)


@require_POST
@agent_required
def out_of_office_add(request):
    user = request.user
    form = OutOfOfficeForm(request.POST, user=user)
    if form.is_valid():
        try:
            services.add_out_of_office(
                user=user,
                start=form.cleaned_data["start"],
                end=form.cleaned_data["end"],
                note=form.cleaned_data["note"],
            )
        except ValidationError as exc:
            form.add_error(None, exc)
    if not form.is_valid():
        hours = list(WorkingHours.objects.filter(user=user))
        return _page(request, AvailabilityForm(user=user, working_hours=hours), form, status=400)
    messages.success(
        request, gettext("Out-of-office period added: no routed tickets reach you then.")
    )
    return redirect(reverse("people:availability") + "#out-of-office")


@require_POST
@agent_required
def out_of_office_end(request, period_id: int):
    if services.end_out_of_office(user=request.user, period_id=period_id):
        messages.success(request, gettext("Out-of-office period ended."))
    else:
        messages.error(request, gettext("That period is not yours or no longer exists."))
    return redirect(reverse("people:availability") + "#out-of-office")
