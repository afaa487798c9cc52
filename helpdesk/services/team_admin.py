"""Account admins run teams and skills (R9, R17): create and rename them, choose a team's
main and additional members, give a skill to users or take it back.

A user is the main member of at most one team (R9). The team page refuses to make someone
main here while they are main elsewhere, naming that team; the user's own page moves them
(`user_admin.update_user`: the main team is one choice there). Every verb owns its
transaction, locks the team or skill row, refuses to overwrite a change made since the
admin's page was shown (`PeopleChanged`) and records what changed in the People audit log.
"""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext, gettext_lazy

from helpdesk.models import AgentSkill, Skill, Team, TeamMembership, User
from helpdesk.services.people_log import (
    Subject,
    check_unchanged,
    diff_states,
    record_people_change,
)

Role = TeamMembership.Role

TEAM_LABELS = {
    "name": gettext_lazy("Name"),
    "main": gettext_lazy("Main members"),
    "additional": gettext_lazy("Additional members"),
}
SKILL_LABELS = {"name": gettext_lazy("Name"), "holders": gettext_lazy("Users with the skill")}


# Whole sentences per model (a translation cannot put "team" or "skill" in a slot).
NAME_REQUIRED = {
    Team: gettext_lazy("Give the team a name."),
    Skill: gettext_lazy("Give the skill a name."),
}
NAME_TAKEN = {
    Team: gettext_lazy("A team named “%(name)s” already exists."),
    Skill: gettext_lazy("A skill named “%(name)s” already exists."),
}


def _clean_name(name: str, model, exclude_pk: int | None = None) -> str:
    name = " ".join(name.split())
    if not name:
        raise ValidationError({"name": str(NAME_REQUIRED[model])}, code="required")
    clash = model.objects.filter(name__iexact=name).exclude(pk=exclude_pk)
    if clash.exists():
        raise ValidationError({"name": NAME_TAKEN[model] % {"name": name}}, code="taken")
    return name


# ---------------------------------------------------------------------------------------
# Teams
# ---------------------------------------------------------------------------------------


def team_state(team: Team) -> dict:
    """What the team's page shows, read now (2 queries)."""
    rows = list(
        TeamMembership.objects.filter(team=team)
        .select_related("user")
        .order_by("user__first_name", "user__last_name", "user__username")
    )
    return {
        "name": Team.objects.values_list("name", flat=True).get(pk=team.pk),
        "main": [[m.user_id, str(m.user)] for m in rows if m.role == Role.MAIN],
        "additional": [[m.user_id, str(m.user)] for m in rows if m.role == Role.ADDITIONAL],
    }


def create_team(*, name: str, actor: User | None) -> Team:
    with transaction.atomic():
        team = Team.objects.create(name=_clean_name(name, Team))
        record_people_change(
            kind=Subject.TEAM,
            subject_id=team.pk,
            label=team.name,
            actor=actor,
            summary=gettext("Created"),
            changes=[{"field": gettext("Name"), "before": "", "after": team.name}],
        )
    return team


def _refuse_second_main_team(team: Team, main_ids: set[int]) -> None:
    elsewhere = (
        TeamMembership.objects.filter(user_id__in=main_ids, role=Role.MAIN)
        .exclude(team=team)
        .select_related("user", "team")
        .order_by("user__first_name", "user__username")
    )
    problems = [
        gettext(
            "%(user)s is already the main member of %(name)s. A user has one main team: "
            "make them an additional member of %(name2)s, or move them on their user page."
        )
        % {"user": m.user, "name": m.team.name, "name2": team.name}
        for m in elsewhere
    ]
    if problems:
        raise ValidationError({"members": problems}, code="main_elsewhere")


def update_team(
    *,
    team: Team,
    actor: User | None,
    shown: dict | None,
    name: str,
    members: dict[int, str],
) -> list[dict]:
    """Rename the team and set its members: `members` maps user id → "main" or
    "additional" (a user left out leaves the team). Raises `PeopleChanged` (someone saved
    meanwhile) or `ValidationError` (a name taken; someone main in another team) and writes
    nothing then. Returns the changes."""
    with transaction.atomic():
        locked = Team.objects.select_for_update().get(pk=team.pk)
        before = team_state(locked)
        check_unchanged(shown=shown, current=before, label=locked.name, labels=TEAM_LABELS)
        new_name = _clean_name(name, Team, exclude_pk=locked.pk)
        _refuse_second_main_team(locked, {uid for uid, r in members.items() if r == Role.MAIN})
        if new_name != locked.name:
            locked.name = new_name
            locked.save(update_fields=["name"])
        existing = {m.user_id: m for m in TeamMembership.objects.filter(team=locked)}
        TeamMembership.objects.filter(team=locked).exclude(user_id__in=members).delete()
        for user_id, role in members.items():
            membership = existing.get(user_id)
            if membership is None:
                TeamMembership.objects.create(team=locked, user_id=user_id, role=role)
            elif membership.role != role:
                TeamMembership.objects.filter(pk=membership.pk).update(role=role)
        changes = diff_states(before, team_state(locked), TEAM_LABELS)
        record_people_change(
            kind=Subject.TEAM,
            subject_id=locked.pk,
            label=locked.name,
            actor=actor,
            changes=changes,
            summary=gettext("Edited"),
        )
    team.refresh_from_db()
    return changes


# ---------------------------------------------------------------------------------------
# Skills
# ---------------------------------------------------------------------------------------


def skill_state(skill: Skill) -> dict:
    """What the skill's page shows, read now (2 queries)."""
    holders = (
        User.objects.filter(agent_skills__skill=skill)
        .only("pk", "first_name", "last_name", "username")
        .order_by("first_name", "last_name", "username")
    )
    return {
        "name": Skill.objects.values_list("name", flat=True).get(pk=skill.pk),
        "holders": [[u.pk, str(u)] for u in holders],
    }


def create_skill(*, name: str, actor: User | None) -> Skill:
    with transaction.atomic():
        skill = Skill.objects.create(name=_clean_name(name, Skill))
        record_people_change(
            kind=Subject.SKILL,
            subject_id=skill.pk,
            label=skill.name,
            actor=actor,
            summary=gettext("Created"),
            changes=[{"field": gettext("Name"), "before": "", "after": skill.name}],
        )
    return skill


def update_skill(
    *,
    skill: Skill,
    actor: User | None,
    shown: dict | None,
    name: str,
    holders: list[User],
) -> list[dict]:
    """Rename the skill and choose who holds it (routing needs it when a channel's skill
    rule names it, R17). Same refusals as `update_team`."""
    with transaction.atomic():
        locked = Skill.objects.select_for_update().get(pk=skill.pk)
        before = skill_state(locked)
        check_unchanged(shown=shown, current=before, label=locked.name, labels=SKILL_LABELS)
        new_name = _clean_name(name, Skill, exclude_pk=locked.pk)
        if new_name != locked.name:
            locked.name = new_name
            locked.save(update_fields=["name"])
        ids = {u.pk for u in holders}
        AgentSkill.objects.filter(skill=locked).exclude(user_id__in=ids).delete()
        have = set(AgentSkill.objects.filter(skill=locked).values_list("user_id", flat=True))
        AgentSkill.objects.bulk_create(AgentSkill(user_id=i, skill=locked) for i in ids - have)
        changes = diff_states(before, skill_state(locked), SKILL_LABELS)
        record_people_change(
            kind=Subject.SKILL,
            subject_id=locked.pk,
            label=locked.name,
            actor=actor,
            changes=changes,
            summary=gettext("Edited"),
        )
    skill.refresh_from_db()
    return changes
