"""Account admins run the people of the helpdesk (R7, R8, R9, R17): invite a user, change
their ticket access, seat, teams and skills, deactivate or reactivate them.

Every verb owns its transaction, locks the user row, refuses to overwrite a change made
since the admin's page was shown (`PeopleChanged`, see `people_log`) and records what
changed in the People audit log. Seats go through `give_seat` / `remove_seat` (the
purchased-seats limit, R7), which record their own rows.
"""

import secrets

from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext, gettext_lazy

from helpdesk.models import AgentSkill, Seat, Skill, Team, TeamMembership, User
from helpdesk.services.accounts import give_seat, remove_seat
from helpdesk.services.groups import AGENTS, ensure_default_groups
from helpdesk.services.people_log import (
    Subject,
    check_unchanged,
    diff_states,
    record_people_change,
)

Role = TeamMembership.Role

USER_LABELS = {
    "name": gettext_lazy("Name"),
    "email": gettext_lazy("Email"),
    "active": gettext_lazy("Active"),
    "ticket_access": gettext_lazy("Ticket access"),
    "seat": gettext_lazy("Seat"),
    "main_team": gettext_lazy("Main team"),
    "additional_teams": gettext_lazy("Additional teams"),
    "skills": gettext_lazy("Skills"),
}


def agents_group() -> Group:
    """The group that carries ticket access (R8)."""
    group = Group.objects.filter(name=AGENTS).first()
    if group is None:
        ensure_default_groups()
        group = Group.objects.get(name=AGENTS)
    return group


def user_state(user: User) -> dict:
    """What the user's edit page shows, read now (4 queries)."""
    memberships = list(
        TeamMembership.objects.filter(user=user).select_related("team").order_by("team__name")
    )
    skills = Skill.objects.filter(agent_skills__user=user).order_by("name")
    return {
        "name": user.get_full_name(),
        "email": user.email,
        "active": user.is_active,
        "ticket_access": user.groups.filter(name=AGENTS).exists(),
        "seat": Seat.objects.filter(user=user).exists(),
        "main_team": [[m.team_id, m.team.name] for m in memberships if m.role == Role.MAIN],
        "additional_teams": [
            [m.team_id, m.team.name] for m in memberships if m.role == Role.ADDITIONAL
        ],
        "skills": [[s.pk, s.name] for s in skills],
    }


def _lock(user: User) -> User:
    return User.objects.select_for_update().get(pk=user.pk)


def _set_memberships(user: User, main_team: Team | None, additional: list[Team]) -> None:
    """The user's teams as chosen on their page: the main team is one choice, so choosing
    another moves them (their old main team keeps them only if chosen as additional)."""
    wanted = {t.pk: Role.ADDITIONAL for t in additional}
    if main_team is not None:
        wanted[main_team.pk] = Role.MAIN
    existing = {m.team_id: m for m in TeamMembership.objects.filter(user=user)}
    TeamMembership.objects.filter(user=user).exclude(team_id__in=wanted).delete()
    # Demote before promoting: the one-main-team constraint holds after every statement.
    for team_id, membership in existing.items():
        if wanted.get(team_id) == Role.ADDITIONAL and membership.role != Role.ADDITIONAL:
            TeamMembership.objects.filter(pk=membership.pk).update(role=Role.ADDITIONAL)
    for team_id, role in sorted(wanted.items(), key=lambda item: item[1] == Role.MAIN):
        membership = existing.get(team_id)
        if membership is None:
            TeamMembership.objects.create(team_id=team_id, user=user, role=role)
        elif role == Role.MAIN and membership.role != Role.MAIN:
            TeamMembership.objects.filter(pk=membership.pk).update(role=Role.MAIN)


def _set_skills(user: User, skills: list[Skill]) -> None:
    ids = {s.pk for s in skills}
    AgentSkill.objects.filter(user=user).exclude(skill_id__in=ids).delete()
    have = set(AgentSkill.objects.filter(user=user).values_list("skill_id", flat=True))
    AgentSkill.objects.bulk_create(AgentSkill(user=user, skill_id=i) for i in ids - have)


def update_user(
    *,
    user: User,
    actor: User | None,
    shown: dict | None,
    first_name: str,
    last_name: str,
    email: str,
    ticket_access: bool,
    seat: bool,
    main_team: Team | None,
    additional_teams: list[Team],
    skills: list[Skill],
) -> list[dict]:
    """Save the user's edit page. Returns the changes (empty: nothing changed). Raises
    `PeopleChanged` when `shown` (the state the page showed) is not the current one, and
    `ValidationError` when no seat is left (R7) — in both cases nothing is written."""
    additional_teams = [t for t in additional_teams if main_team is None or t.pk != main_team.pk]
    with transaction.atomic():
        locked = _lock(user)
        before = user_state(locked)
        check_unchanged(shown=shown, current=before, label=str(locked), labels=USER_LABELS)
        locked.first_name, locked.last_name = first_name.strip(), last_name.strip()
        locked.email = email.strip()
        locked.full_clean(exclude=["password"], validate_unique=False)
        locked.save(update_fields=["first_name", "last_name", "email"])
        if ticket_access != before["ticket_access"]:
            if ticket_access:
                locked.groups.add(agents_group())
            else:
                locked.groups.remove(agents_group())
        if seat and not before["seat"]:
            give_seat(user=locked, by=actor)
        elif before["seat"] and not seat:
            remove_seat(user=locked, by=actor)
        _set_memberships(locked, main_team, additional_teams)
        _set_skills(locked, skills)
        after = user_state(locked)
        labels = {k: v for k, v in USER_LABELS.items() if k != "seat"}  # seats log themselves
        changes = diff_states(before, after, labels)
        record_people_change(
            kind=Subject.USER,
            subject_id=locked.pk,
            label=str(locked),
            actor=actor,
            changes=changes,
            summary=gettext("Edited"),
        )
        seat_change = diff_states(before, after, {"seat": gettext("Seat")})
    user.refresh_from_db()
    return seat_change + changes


def temporary_password() -> str:
    return secrets.token_urlsafe(12)


def invite_user(
    *,
    actor: User | None,
    username: str,
    first_name: str,
    last_name: str,
    email: str,
    ticket_access: bool = True,
    seat: bool = True,
) -> tuple[User, str]:
    """Create a user with a temporary password, returned once (only its hash is stored):
    the admin passes it on, and the user changes it after signing in. With `seat`, the
    purchased-seats limit applies (R7): without a free seat nothing is created."""
    password = temporary_password()
    with transaction.atomic():
        username = username.strip()
        if User.objects.filter(username__iexact=username).exists():
            raise ValidationError(
                {
                    "username": gettext("The username “%(username)s” is taken.")
                    % {"username": username}
                },
                code="taken",
            )
        user = User(
            username=username,
            first_name=first_name.strip(),
            last_name=last_name.strip(),
            email=email.strip(),
        )
        user.set_password(password)
        user.full_clean()
        user.save()
        if ticket_access:
            user.groups.add(agents_group())
        if seat:
            give_seat(user=user, by=actor)
        changes = [
            {"field": gettext("Username"), "before": "", "after": user.username},
            {"field": gettext("Email"), "before": "", "after": user.email or gettext("(empty)")},
            {
                "field": gettext("Ticket access"),
                "before": "",
                "after": gettext("Yes") if ticket_access else gettext("No"),
            },
        ]
        record_people_change(
            kind=Subject.USER,
            subject_id=user.pk,
            label=str(user),
            actor=actor,
            changes=changes,
            summary=gettext("Invited"),
        )
    return user, password


def set_user_active(*, user: User, active: bool, actor: User | None) -> bool:
    """Deactivate (they cannot sign in, routing skips them, their seat is freed) or
    reactivate a user. Account admins cannot deactivate themselves or a superadmin.
    Returns whether anything changed."""
    with transaction.atomic():
        locked = _lock(user)
        if locked.is_active == active:
            return False
        if not active and actor is not None and locked.pk == actor.pk:
            raise ValidationError(gettext("You cannot deactivate yourself."), code="self")
        if not active and locked.is_superuser and not (actor and actor.is_superuser):
            raise ValidationError(
                gettext("%(locked)s is a superadmin; only a superadmin can deactivate them.")
                % {"locked": locked},
                code="superadmin",
            )
        locked.is_active = active
        locked.save(update_fields=["is_active"])
        if not active:
            remove_seat(user=locked, by=actor)
        record_people_change(
            kind=Subject.USER,
            subject_id=locked.pk,
            label=str(locked),
            actor=actor,
            summary=gettext("Reactivated") if active else gettext("Deactivated"),
            changes=[
                {
                    "field": gettext("Active"),
                    "before": gettext("No") if active else gettext("Yes"),
                    "after": gettext("Yes") if active else gettext("No"),
                }
            ],
        )
    user.refresh_from_db()
    return True
