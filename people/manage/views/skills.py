"""Settings › People › Skills: create, rename, give to users; where skill rules use them
(R17)."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext

from helpdesk import services
from helpdesk.models import PeopleChange, Skill, User
from helpdesk.services.team_admin import skill_state
from people.manage import selectors
from people.manage.forms import NameForm, SkillEditForm
from people.manage.views.common import conflict, people_admin, service_errors

Subject = PeopleChange.Subject
EDIT_TEMPLATE = "people/manage/skill_edit.html"


@people_admin
def skill_list(request):
    form = NameForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            skill = services.create_skill(name=form.cleaned_data["name"], actor=request.user)
        except ValidationError as exc:
            service_errors(form, exc)
        else:
            messages.success(
                request,
                gettext("Skill %(name)s created. Now give it to users.") % {"name": skill.name},
            )
            return redirect("people_manage:skill", skill.pk)
    skills = list(selectors.skills_with_holders())
    mentions = selectors.skill_mentions(s.pk for s in skills)
    context = {
        "rows": [(skill, mentions.get(skill.pk, [])) for skill in skills],
        "form": form,
        "history": selectors.recent_changes(Subject.SKILL),
        "section": "skills",
    }
    return render(
        request, "people/manage/skill_list.html", context, status=400 if form.errors else 200
    )


def _edit_context(skill: Skill, form) -> dict:
    return {
        "skill": skill,
        "form": form,
        "mentions": selectors.skill_mentions([skill.pk]).get(skill.pk, []),
        "history": selectors.recent_changes(Subject.SKILL, subject_id=skill.pk),
        "section": "skills",
    }


@people_admin
def skill_edit(request, skill_id: int):
    skill = get_object_or_404(Skill, pk=skill_id)
    users = (
        User.objects.filter(Q(is_active=True) | Q(agent_skills__skill=skill))
        .distinct()
        .order_by("first_name", "last_name", "username")
    )
    if request.method != "POST":
        form = SkillEditForm(users=users, state=skill_state(skill))
        return render(request, EDIT_TEMPLATE, _edit_context(skill, form))
    form = SkillEditForm(request.POST, users=users, state=skill_state(skill))
    if form.is_valid():
        try:
            changes = services.update_skill(
                skill=skill,
                actor=request.user,
                shown=form.cleaned_data["shown"],
                name=form.cleaned_data["name"],
                holders=list(form.cleaned_data["holders"]),
            )
        except services.PeopleChanged as exc:
            current = SkillEditForm(users=users, state=skill_state(skill))
            return conflict(request, EDIT_TEMPLATE, _edit_context(skill, current), exc)
        except ValidationError as exc:
            service_errors(form, exc)
        else:
            messages.success(
                request,
                gettext("Saved skill %(name)s.") % {"name": skill.name}
                if changes
                else gettext("Nothing changed."),
            )
            return redirect("people_manage:skill", skill.pk)
    return render(request, EDIT_TEMPLATE, _edit_context(skill, form), status=400)
