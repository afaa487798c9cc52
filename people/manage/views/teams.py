"""Settings › People › Teams: create, rename, main and additional members (R9)."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext

from helpdesk import services
from helpdesk.models import PeopleChange, Team, User
from helpdesk.services.team_admin import team_state
from people.manage import selectors
from people.manage.forms import NameForm, TeamEditForm
from people.manage.views.common import conflict, people_admin, service_errors

Subject = PeopleChange.Subject
EDIT_TEMPLATE = "people/manage/team_edit.html"


@people_admin
def team_list(request):
    """Every team with its members and the channels that route to it; creating one."""
    form = NameForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            team = services.create_team(name=form.cleaned_data["name"], actor=request.user)
        except ValidationError as exc:
            service_errors(form, exc)
        else:
            messages.success(
                request,
                gettext("Team %(name)s created. Now choose its members.") % {"name": team.name},
            )
            return redirect("people_manage:team", team.pk)
    teams = list(selectors.teams_with_members())
    mentions = selectors.team_mentions(t.pk for t in teams)
    context = {
        "rows": [(team, mentions.get(team.pk, [])) for team in teams],
        "form": form,
        "history": selectors.recent_changes(Subject.TEAM),
        "section": "teams",
    }
    return render(
        request, "people/manage/team_list.html", context, status=400 if form.errors else 200
    )


def _candidates(team: Team):
    """Active users, and anyone already in the team (a deactivated member stays listed)."""
    return (
        User.objects.filter(Q(is_active=True) | Q(memberships__team=team))
        .distinct()
        .select_related("seat")
        .prefetch_related("memberships__team")
        .order_by("first_name", "last_name", "username")
    )


def _edit_context(team: Team, form) -> dict:
    return {
        "team": team,
        "form": form,
        "mentions": selectors.team_mentions([team.pk]).get(team.pk, []),
        "history": selectors.recent_changes(Subject.TEAM, subject_id=team.pk),
        "section": "teams",
    }


@people_admin
def team_edit(request, team_id: int):
    team = get_object_or_404(Team, pk=team_id)
    users = list(_candidates(team))
    if request.method != "POST":
        form = TeamEditForm(users=users, state=team_state(team))
        return render(request, EDIT_TEMPLATE, _edit_context(team, form))
    form = TeamEditForm(request.POST, users=users, state=team_state(team))
    if form.is_valid():
        try:
            changes = services.update_team(
                team=team,
                actor=request.user,
                shown=form.cleaned_data["shown"],
                name=form.cleaned_data["name"],
                members=form.members(),
            )
        except services.PeopleChanged as exc:
            current = TeamEditForm(users=users, state=team_state(team))
            return conflict(request, EDIT_TEMPLATE, _edit_context(team, current), exc)
        except ValidationError as exc:
            service_errors(form, exc)
        else:
            messages.success(
                request,
                gettext("Saved team %(name)s.") % {"name": team.name}
                if changes
                else gettext("Nothing changed."),
            )
            return redirect("people_manage:team", team.pk)
    return render(request, EDIT_TEMPLATE, _edit_context(team, form), status=400)
