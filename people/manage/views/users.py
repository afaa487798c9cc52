"""Settings › People › Users: the list, a user's page, invite, deactivate/reactivate."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from helpdesk import services
from helpdesk.models import PeopleChange, User
from helpdesk.services.user_admin import user_state
from people.manage import selectors
from people.manage.forms import InviteForm, UserEditForm
from people.manage.views.common import conflict, people_admin, service_errors

Subject = PeopleChange.Subject
EDIT_TEMPLATE = "people/manage/user_edit.html"


@people_admin
def user_list(request):
    """Every user at a glance: a fixed number of queries whatever their number."""
    rows = selectors.user_rows(timezone.now())
    context = {
        "rows": rows,
        "seats": selectors.seats_summary(),
        "history": selectors.recent_changes(Subject.USER, Subject.SEAT),
        "section": "users",
    }
    return render(request, "people/manage/user_list.html", context)


def _edit_context(request, user: User, form) -> dict:
    return {
        "subject": user,
        "row": selectors.user_row(user.pk, timezone.now()),
        "form": form,
        "mentions": selectors.routing_mentions([user.pk]).get(user.pk, []),
        "history": selectors.recent_changes(Subject.USER, Subject.SEAT, subject_id=user.pk),
        "section": "users",
    }


@people_admin
def user_edit(request, user_id: int):
    user = get_object_or_404(User, pk=user_id)
    if request.method != "POST":
        form = UserEditForm.for_state(user, user_state(user))
        return render(request, EDIT_TEMPLATE, _edit_context(request, user, form))
    form = UserEditForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            changes = services.update_user(
                user=user,
                actor=request.user,
                shown=data["shown"],
                first_name=data["first_name"],
                last_name=data["last_name"],
                email=data["email"],
                ticket_access=data["ticket_access"],
                seat=data["seat"],
                main_team=data["main_team"],
                additional_teams=list(data["additional_teams"]),
                skills=list(data["skills"]),
            )
        except services.PeopleChanged as exc:
            current = UserEditForm.for_state(user, user_state(user))
            return conflict(request, EDIT_TEMPLATE, _edit_context(request, user, current), exc)
        except ValidationError as exc:
            service_errors(form, exc)
        else:
            if changes:
                messages.success(
                    request,
                    gettext("Saved %(user)s. Routing uses it from the next ticket on.")
                    % {"user": user},
                )
            else:
                messages.info(request, gettext("Nothing changed."))
            return redirect("people_manage:user", user.pk)
    return render(request, EDIT_TEMPLATE, _edit_context(request, user, form), status=400)


@never_cache
@people_admin
def user_invite(request):
    form = InviteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user, password = services.invite_user(actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            service_errors(form, exc)
        else:
            # Shown once, on this response only: neither stored nor put in a message.
            context = {"invited": user, "password": password, "section": "users"}
            return render(request, "people/manage/user_invited.html", context)
    status = 400 if form.is_bound else 200
    context = {"form": form, "seats": selectors.seats_summary(), "section": "users"}
    return render(request, "people/manage/user_invite.html", context, status=status)


@require_POST
@people_admin
def user_set_active(request, user_id: int, active: bool):
    user = get_object_or_404(User, pk=user_id)
    try:
        changed = services.set_user_active(user=user, active=active, actor=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        if changed and active:
            messages.success(
                request, gettext("%(user)s is active again: they can sign in.") % {"user": user}
            )
        elif changed:
            messages.success(
                request,
                gettext(
                    "%(user)s is deactivated: they cannot sign in, routing "
                    "skips them and their seat is free."
                )
                % {"user": user},
            )
    return redirect("people_manage:user", user.pk)
