"""Settings › People › Seats: purchased vs used, give and take (R7)."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext
from django.views.decorators.http import require_POST

from helpdesk import services
from helpdesk.models import PeopleChange, Seat, User
from people.manage import selectors
from people.manage.views.common import people_admin

Subject = PeopleChange.Subject


@people_admin
def seat_list(request):
    seated = list(
        Seat.objects.select_related("user", "given_by").order_by(
            "user__first_name", "user__last_name", "user__username"
        )
    )
    mentions = selectors.routing_mentions(s.user_id for s in seated)
    context = {
        "seats": selectors.seats_summary(),
        "rows": [(seat, mentions.get(seat.user_id, [])) for seat in seated],
        "unseated": selectors.active_users().filter(seat__isnull=True),
        "history": selectors.recent_changes(Subject.SEAT),
        "section": "seats",
    }
    return render(request, "people/manage/seat_list.html", context)


@require_POST
@people_admin
def seat_give(request):
    user = get_object_or_404(User, pk=request.POST.get("user") or 0, is_active=True)
    try:
        services.give_seat(user=user, by=request.user)
    except ValidationError as exc:
        messages.error(
            request,
            gettext("%(user)s got no seat: %(join)s")
            % {"user": user, "join": " ".join(exc.messages)},
        )
    else:
        messages.success(
            request, gettext("%(user)s has a seat: routing can choose them (R7).") % {"user": user}
        )
    return redirect("people_manage:seats")


@people_admin
def seat_take(request, user_id: int):
    """GET: what taking the seat stops (the routing rules that name the user); POST: take it."""
    user = get_object_or_404(User, pk=user_id)
    if request.method == "POST":
        if services.remove_seat(user=user, by=request.user):
            messages.success(
                request,
                gettext("%(user)s's seat is free. Routing skips them from now on.")
                % {"user": user},
            )
        return redirect("people_manage:seats")
    if not Seat.objects.filter(user=user).exists():
        messages.info(request, gettext("%(user)s has no seat.") % {"user": user})
        return redirect("people_manage:seats")
    context = {
        "subject": user,
        "mentions": selectors.routing_mentions([user.pk]).get(user.pk, []),
        "section": "seats",
    }
    return render(request, "people/manage/seat_take.html", context)
