"""Issue 13: account admins run users, teams, seats and skills through services (R7, R9,
R17): the seat limit, one main team, the audit log and version conflicts."""

import pytest
from django.core.exceptions import ValidationError

from helpdesk import services
from helpdesk.models import AgentSkill, PeopleChange, Seat, TeamMembership, User
from helpdesk.services.team_admin import skill_state, team_state
from helpdesk.services.user_admin import user_state
from tests.factories import (
    AccountSettingsFactory,
    AgentFactory,
    SkillFactory,
    TeamFactory,
    TeamMembershipFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db
MAIN, ADDITIONAL = TeamMembership.Role.MAIN, TeamMembership.Role.ADDITIONAL


def edit(user, actor, shown=None, **overrides):
    """`update_user` with the user's current values, changed by `overrides`."""
    state = user_state(user)
    values = {
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "ticket_access": state["ticket_access"],
        "seat": state["seat"],
        "main_team": None,
        "additional_teams": [],
        "skills": [],
    }
    values.update(overrides)
    return services.update_user(user=user, actor=actor, shown=shown or state, **values)


# --- seats (R7) -------------------------------------------------------------------------


def test_r7_giving_a_seat_when_none_is_left_is_refused_and_writes_nothing(admin_user):
    AccountSettingsFactory(purchased_seats=1)
    services.give_seat(user=UserFactory(), by=admin_user)
    newcomer = UserFactory(first_name="Nina", last_name="New")
    with pytest.raises(ValidationError, match="All 1 purchased seats are in use"):
        edit(newcomer, admin_user, seat=True, ticket_access=True)
    assert not Seat.objects.filter(user=newcomer).exists()
    assert not newcomer.groups.exists()  # the whole edit rolled back
    assert PeopleChange.objects.filter(subject_id=newcomer.pk).count() == 0


def test_r7_seats_given_and_taken_by_an_admin_are_in_the_audit_log(admin_user):
    user = UserFactory(first_name="Sara", last_name="Seat")
    services.give_seat(user=user, by=admin_user)
    services.remove_seat(user=user, by=admin_user)
    rows = list(PeopleChange.objects.filter(subject_kind="seat").order_by("id"))
    assert [(r.summary, r.changes[0]["after"], r.actor_name) for r in rows] == [
        ("Seat given", "Yes", "Anna Admin"),
        ("Seat taken", "No", "Anna Admin"),
    ]


def test_r7_deactivating_a_user_frees_their_seat_and_is_logged(admin_user):
    user = AgentFactory()
    assert services.set_user_active(user=user, active=False, actor=admin_user)
    user.refresh_from_db()
    assert not user.is_active and not Seat.objects.filter(user=user).exists()
    summaries = set(PeopleChange.objects.values_list("summary", flat=True))
    assert {"Deactivated", "Seat taken"} <= summaries


def test_an_account_admin_cannot_deactivate_themselves_or_a_superadmin(admin_user, superadmin):
    with pytest.raises(ValidationError, match="yourself"):
        services.set_user_active(user=admin_user, active=False, actor=admin_user)
    with pytest.raises(ValidationError, match="only a superadmin"):
        services.set_user_active(user=superadmin, active=False, actor=admin_user)


# --- users ------------------------------------------------------------------------------


def test_r8_r9_r17_editing_a_user_sets_access_teams_and_skills_and_logs_before_after(
    admin_user,
):
    support, billing = TeamFactory(name="Support"), TeamFactory(name="Billing")
    norwegian = SkillFactory(name="Norwegian")
    user = UserFactory(first_name="Ulla", last_name="User")
    changes = edit(
        user,
        admin_user,
        ticket_access=True,
        seat=True,
        main_team=support,
        additional_teams=[billing, support],  # the main team wins over additional
        skills=[norwegian],
    )
    assert user.has_ticket_access
    assert Seat.objects.filter(user=user).exists()
    assert set(TeamMembership.objects.filter(user=user).values_list("team__name", "role")) == {
        ("Support", MAIN),
        ("Billing", ADDITIONAL),
    }
    assert AgentSkill.objects.filter(user=user, skill=norwegian).exists()
    row = PeopleChange.objects.get(subject_kind="user", subject_id=user.pk)
    assert {c["field"]: (c["before"], c["after"]) for c in row.changes} == {
        "Ticket access": ("No", "Yes"),
        "Main team": ("(none)", "Support"),
        "Additional teams": ("(none)", "Billing"),
        "Skills": ("(none)", "Norwegian"),
    }
    assert {c["field"] for c in changes} >= {"Seat", "Main team"}


def test_r9_choosing_another_main_team_on_the_user_page_moves_them(admin_user):
    membership = TeamMembershipFactory(team__name="Support", role=MAIN)
    user, billing = membership.user, TeamFactory(name="Billing")
    edit(user, admin_user, main_team=billing)
    assert list(TeamMembership.objects.filter(user=user).values_list("team__name", "role")) == [
        ("Billing", MAIN)
    ]


def test_a_user_edit_from_a_stale_page_is_refused_with_what_changed(admin_user, superadmin):
    user = AgentFactory(first_name="Carl", last_name="Conflict")
    shown = user_state(user)
    edit(user, superadmin, main_team=TeamFactory(name="Support"))
    with pytest.raises(services.PeopleChanged) as refused:
        edit(user, admin_user, shown=shown, skills=[SkillFactory(name="French")])
    assert refused.value.changes == [
        {
            "field": "Main team",
            "before": "(none)",
            "after": "Support",
            "added": ["Support"],
            "removed": [],
        }
    ]
    assert not AgentSkill.objects.filter(user=user).exists()


def test_a_team_renamed_elsewhere_is_no_conflict_for_a_user_edit(admin_user):
    team = TeamFactory(name="Support")
    user = TeamMembershipFactory(team=team, role=MAIN).user
    shown = user_state(user)
    team.name = "Customer support"
    team.save()
    edit(user, admin_user, shown=shown, main_team=team, first_name="Renamed")
    user.refresh_from_db()
    assert user.first_name == "Renamed"


def test_inviting_a_user_gives_access_a_seat_and_a_one_time_password(admin_user):
    user, password = services.invite_user(
        actor=admin_user,
        username="ivar",
        first_name="Ivar",
        last_name="Invited",
        email="ivar@example.com",
    )
    assert user.check_password(password) and len(password) >= 12
    assert user.has_ticket_access and Seat.objects.filter(user=user).exists()
    assert password not in str(list(PeopleChange.objects.values_list("changes", flat=True)))
    with pytest.raises(ValidationError, match="taken"):
        services.invite_user(
            actor=admin_user, username="IVAR", first_name="", last_name="", email=""
        )


def test_r7_inviting_without_a_free_seat_creates_nobody(admin_user):
    AccountSettingsFactory(purchased_seats=0)
    with pytest.raises(ValidationError, match="purchased seats are in use"):
        services.invite_user(
            actor=admin_user, username="nora", first_name="N", last_name="", email=""
        )
    assert not User.objects.filter(username="nora").exists()


# --- teams (R9) -------------------------------------------------------------------------


def test_r9_making_someone_main_here_while_main_elsewhere_is_refused_naming_that_team(
    admin_user,
):
    membership = TeamMembershipFactory(team__name="Support", role=MAIN)
    billing = services.create_team(name="Billing", actor=admin_user)
    with pytest.raises(ValidationError, match="already the main member of Support"):
        services.update_team(
            team=billing,
            actor=admin_user,
            shown=team_state(billing),
            name="Billing",
            members={membership.user_id: MAIN},
        )
    assert not TeamMembership.objects.filter(team=billing).exists()
    services.update_team(
        team=billing,
        actor=admin_user,
        shown=team_state(billing),
        name="Billing",
        members={membership.user_id: ADDITIONAL},
    )
    assert TeamMembership.objects.get(team=billing).role == ADDITIONAL


def test_r9_team_create_rename_and_members_are_logged(admin_user):
    ada, bo = AgentFactory(first_name="Ada"), AgentFactory(first_name="Bo")
    team = services.create_team(name="  Support  ", actor=admin_user)
    assert team.name == "Support"
    services.update_team(
        team=team,
        actor=admin_user,
        shown=team_state(team),
        name="Customer support",
        members={ada.pk: MAIN, bo.pk: ADDITIONAL},
    )
    team.refresh_from_db()
    assert team.name == "Customer support"
    edited = PeopleChange.objects.filter(subject_kind="team", summary="Edited").get()
    fields = {c["field"]: c["after"] for c in edited.changes}
    assert fields == {
        "Name": "Customer support",
        "Main members": str(ada),
        "Additional members": str(bo),
    }
    with pytest.raises(ValidationError, match="already exists"):
        services.create_team(name="customer SUPPORT", actor=admin_user)


def test_a_team_edit_from_a_stale_page_is_refused_and_writes_nothing(admin_user, superadmin):
    team = TeamFactory(name="Support")
    shown = team_state(team)
    services.update_team(team=team, actor=superadmin, shown=shown, name="Helpers", members={})
    with pytest.raises(services.PeopleChanged) as refused:
        services.update_team(team=team, actor=admin_user, shown=shown, name="Support", members={})
    assert refused.value.changes[0]["field"] == "Name"
    assert refused.value.changes[0]["after"] == "Helpers"
    team.refresh_from_db()
    assert team.name == "Helpers"


# --- skills (R17) -----------------------------------------------------------------------


def test_r17_skill_given_to_users_and_taken_back_with_the_audit_log(admin_user):
    ada, bo = AgentFactory(first_name="Ada"), AgentFactory(first_name="Bo")
    skill = services.create_skill(name="Norwegian", actor=admin_user)
    services.update_skill(
        skill=skill, actor=admin_user, shown=skill_state(skill), name="Norsk", holders=[ada, bo]
    )
    services.update_skill(
        skill=skill, actor=admin_user, shown=skill_state(skill), name="Norsk", holders=[bo]
    )
    assert list(AgentSkill.objects.filter(skill=skill).values_list("user", flat=True)) == [bo.pk]
    last = PeopleChange.objects.filter(subject_kind="skill").first()
    assert last.changes[0]["removed"] == [str(ada)]
    with pytest.raises(services.PeopleChanged):
        services.update_skill(
            skill=skill,
            actor=admin_user,
            shown={"name": "Norsk", "holders": [[ada.pk, str(ada)], [bo.pk, str(bo)]]},
            name="Norsk",
            holders=[],
        )
