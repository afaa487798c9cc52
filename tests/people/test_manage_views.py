"""Issue 13: Settings › People pages (R7, R9, R17): only account admins (403 with a useful
message for agents), fixed query counts whatever the number of users, teams or skills, and
each page's changes going through the services with their refusals shown."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from channels_cfg.models import AssignMode, SkillRule
from helpdesk.models import AgentSkill, Channel, PeopleChange, Seat, TeamMembership
from helpdesk.services.user_admin import user_state
from tests.factories import (
    AccountSettingsFactory,
    AgentFactory,
    AgentSkillFactory,
    ChannelAutomationFactory,
    ChannelFactory,
    OutOfOfficeFactory,
    SkillFactory,
    SkillRuleFactory,
    TeamFactory,
    TeamMembershipFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db
MAIN, ADDITIONAL = TeamMembership.Role.MAIN, TeamMembership.Role.ADDITIONAL
PAGES = ["users", "invite", "teams", "seats", "skills"]


def url(name, *args):
    return reverse(f"people_manage:{name}", args=args)


# --- access ------------------------------------------------------------------------------


@pytest.mark.parametrize("page", PAGES)
def test_r6_an_agent_is_refused_with_what_is_missing(client, agent, page):
    client.force_login(agent)
    response = client.get(url(page))
    assert response.status_code == 403
    text = response.content.decode()
    assert "You need the account admin role to manage people" in text
    assert "Ask a superadmin" in text
    assert "no ticket access" not in text


def test_anonymous_visitors_go_to_the_login_page(client):
    response = client.get(url("users"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


@pytest.mark.parametrize("page", PAGES)
def test_account_admins_and_superadmins_open_every_page(client, admin_user, superadmin, page):
    for user in (admin_user, superadmin):
        client.force_login(user)
        assert client.get(url(page)).status_code == 200


def test_r6_the_account_admins_group_needs_no_permission_beyond_manage_helpdesk():
    """The People pages check `helpdesk.manage_helpdesk` only, which the Account admins
    group holds (with ticket access); no Django model permission is needed."""
    from helpdesk.services.groups import ACCOUNT_ADMINS, GROUP_PERMISSIONS

    assert ("helpdesk", "manage_helpdesk") in GROUP_PERMISSIONS[ACCOUNT_ADMINS]


# --- fixed query counts -------------------------------------------------------------------


def populate(n: int) -> None:
    teams = [TeamFactory() for _ in range(3)]
    skills = [SkillFactory() for _ in range(3)]
    channel = ChannelAutomationFactory(assign_mode=AssignMode.SPECIFIC, skill_routing=True)
    for i in range(n):
        user = AgentFactory(availability_mode="working_hours" if i % 2 else "manual")
        TeamMembershipFactory(user=user, team=teams[i % 3], role=MAIN)
        TeamMembershipFactory(user=user, team=teams[(i + 1) % 3], role=ADDITIONAL)
        AgentSkillFactory(user=user, skill=skills[i % 3])
        if i % 4 == 0:
            OutOfOfficeFactory(user=user)
        channel.users.add(user)
    channel.teams.add(teams[0])
    SkillRuleFactory(automation=channel, skill=skills[0])
    AccountSettingsFactory(purchased_seats=100)


def count_queries(client, path) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path)
    assert response.status_code == 200
    return len(queries)


@pytest.mark.parametrize(
    ("page", "most"), [("users", 15), ("teams", 10), ("seats", 14), ("skills", 10)]
)
def test_list_pages_run_a_fixed_number_of_queries_whatever_the_number_of_users(
    client, admin_user, page, most
):
    client.force_login(admin_user)
    populate(5)
    few = count_queries(client, url(page))
    populate(25)
    many = count_queries(client, url(page))
    assert few == many <= most


def test_edit_pages_run_a_fixed_number_of_queries(client, admin_user):
    client.force_login(admin_user)
    populate(5)
    user = AgentFactory()
    team, skill = TeamFactory(), SkillFactory()
    pages = [url("user", user.pk), url("team", team.pk), url("skill", skill.pk)]
    few = [count_queries(client, page) for page in pages]
    populate(25)
    many = [count_queries(client, page) for page in pages]
    assert few == many
    assert all(n <= most for n, most in zip(many, [24, 15, 13], strict=True)), many


# --- users --------------------------------------------------------------------------------


def test_the_users_table_shows_access_seat_teams_skills_and_availability(client, admin_user):
    ada = AgentFactory(first_name="Ada", last_name="Agent")
    TeamMembershipFactory(user=ada, team=TeamFactory(name="Support"), role=MAIN)
    TeamMembershipFactory(user=ada, team=TeamFactory(name="Billing"), role=ADDITIONAL)
    AgentSkillFactory(user=ada, skill=SkillFactory(name="Norwegian"))
    OutOfOfficeFactory(user=ada)
    UserFactory(first_name="Olga", last_name="Outsider")
    client.force_login(admin_user)
    html = client.get(url("users")).content.decode()
    row = html.split(f'data-user="{ada.pk}"')[1].split("</tr>")[0]
    for text in ("Ada Agent", 'data-access="yes"', 'data-seat="yes"', "Support", "Billing"):
        assert text in row
    assert "Norwegian" in row and "Out of office" in row


def test_an_admin_edits_a_user_and_the_change_is_in_recent_changes(client, admin_user):
    user = UserFactory(first_name="Ulla", last_name="User")
    team, skill = TeamFactory(name="Support"), SkillFactory(name="Norwegian")
    client.force_login(admin_user)
    page = client.get(url("user", user.pk))
    shown = page.context["form"]["shown"].value()
    response = client.post(
        url("user", user.pk),
        {
            "first_name": "Ulla",
            "last_name": "User",
            "email": user.email,
            "ticket_access": "on",
            "seat": "on",
            "main_team": team.pk,
            "skills": [skill.pk],
            "shown": shown,
        },
        follow=True,
    )
    assert response.status_code == 200
    assert "Saved Ulla User" in response.content.decode()
    user.refresh_from_db()
    assert user.has_ticket_access and Seat.objects.filter(user=user).exists()
    assert AgentSkill.objects.filter(user=user, skill=skill).exists()
    history = response.content.decode().split("data-history")[1]
    assert "Main team:" in history and "Support" in history and "Seat" in history


def post_user(client, user, shown, **changes):
    state = user_state(user)
    data = {
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "main_team": state["main_team"][0][0] if state["main_team"] else "",
        "skills": [s[0] for s in state["skills"]],
        "additional_teams": [t[0] for t in state["additional_teams"]],
        "shown": shown,
    }
    if state["ticket_access"]:
        data["ticket_access"] = "on"
    if state["seat"]:
        data["seat"] = "on"
    data.update(changes)
    return client.post(url("user", user.pk), data)


def test_two_admins_editing_a_user_the_second_gets_a_409_saying_what_changed(
    client, admin_user, superadmin
):
    user = AgentFactory(first_name="Carl", last_name="Conflict")
    client.force_login(admin_user)
    stale = client.get(url("user", user.pk)).context["form"]["shown"].value()
    other = client.__class__()
    other.force_login(superadmin)
    fresh = other.get(url("user", user.pk)).context["form"]["shown"].value()
    post_user(other, user, fresh, main_team=TeamFactory(name="Support").pk)

    response = post_user(client, user, stale, first_name="Carlos")
    assert response.status_code == 409
    text = response.content.decode()
    assert "changed while you were editing" in text
    assert "Main team:" in text and "Support" in text and "Sam Super" in text
    user.refresh_from_db()
    assert user.first_name == "Carl"


def test_r7_the_seat_refusal_is_shown_on_the_user_page(client, admin_user):
    AccountSettingsFactory(purchased_seats=0)
    user = UserFactory()
    client.force_login(admin_user)
    shown = client.get(url("user", user.pk)).context["form"]["shown"].value()
    response = post_user(client, user, shown, seat="on")
    assert response.status_code == 400
    assert "All 0 purchased seats are in use" in response.content.decode()


def test_invite_shows_the_temporary_password_once(client, admin_user):
    client.force_login(admin_user)
    response = client.post(
        url("invite"),
        {
            "first_name": "Ivar",
            "last_name": "Invited",
            "email": "ivar@example.com",
            "username": "ivar",
            "ticket_access": "on",
            "seat": "on",
        },
    )
    assert response.status_code == 200
    password = response.context["password"]
    assert password in response.content.decode()
    assert "no-store" in response.get("Cache-Control", "")
    assert response.context["invited"].check_password(password)


def test_deactivate_frees_the_seat_and_an_admin_cannot_deactivate_themselves(
    client, admin_user, agent
):
    client.force_login(admin_user)
    response = client.post(url("deactivate", agent.pk), follow=True)
    assert "is deactivated" in response.content.decode()
    agent.refresh_from_db()
    assert not agent.is_active and not Seat.objects.filter(user=agent).exists()
    response = client.post(url("deactivate", admin_user.pk), follow=True)
    assert "You cannot deactivate yourself." in response.content.decode()
    client.post(url("reactivate", agent.pk))
    agent.refresh_from_db()
    assert agent.is_active


# --- seats --------------------------------------------------------------------------------


def test_r7_giving_a_seat_when_none_is_left_says_so(client, admin_user, agent):
    AccountSettingsFactory(purchased_seats=1)
    newcomer = UserFactory(first_name="Nina", last_name="New")
    client.force_login(admin_user)
    response = client.post(url("seat-give"), {"user": newcomer.pk}, follow=True)
    text = response.content.decode()
    assert "Nina New got no seat: All 1 purchased seats are in use." in text
    assert "None free" in text
    assert not Seat.objects.filter(user=newcomer).exists()


def test_r7_taking_a_seat_lists_the_routing_rules_that_name_the_user(client, admin_user, agent):
    email = ChannelAutomationFactory(
        channel=ChannelFactory(name="Support email", kind=Channel.Kind.TEAM_EMAIL),
        assign_mode=AssignMode.SPECIFIC,
        users=[agent],
    )
    ChannelAutomationFactory(
        channel=ChannelFactory(name="WhatsApp", kind=Channel.Kind.WHATSAPP),
        assign_mode=AssignMode.CUSTOMER_AGENT,
        fallback_users=[agent],
    )
    team = TeamMembershipFactory(user=agent, team__name="Support", role=MAIN).team
    ChannelAutomationFactory(
        channel=ChannelFactory(name="Web form", kind=Channel.Kind.FORM),
        assign_mode=AssignMode.SPECIFIC,
        teams=[team],
    )
    client.force_login(admin_user)
    text = client.get(url("seat-take", agent.pk)).content.decode()
    assert "These routing rules name Ada Agent" in text
    for name in ("Support email", "WhatsApp", "If AI can&#x27;t answer: users", "Web form"):
        assert name in text
    assert "Team Support (main member)" in text
    assert email.channel.name in client.get(url("seats")).content.decode()

    client.post(url("seat-take", agent.pk))
    assert not Seat.objects.filter(user=agent).exists()
    assert PeopleChange.objects.filter(subject_kind="seat", summary="Seat taken").exists()


# --- teams --------------------------------------------------------------------------------


def test_r9_a_team_page_refuses_a_second_main_team_naming_the_first(client, admin_user, agent):
    TeamMembershipFactory(user=agent, team__name="Support", role=MAIN)
    client.force_login(admin_user)
    response = client.post(url("teams"), {"name": "Billing"})
    billing_url = response["Location"]
    page = client.get(billing_url)
    data = {"name": "Billing", "shown": page.context["form"]["shown"].value()}
    response = client.post(billing_url, data | {f"role_{agent.pk}": MAIN})
    assert response.status_code == 400
    assert "Ada Agent is already the main member of Support" in response.content.decode()
    response = client.post(billing_url, data | {f"role_{agent.pk}": ADDITIONAL})
    assert response.status_code == 302
    assert TeamMembership.objects.get(team__name="Billing").role == ADDITIONAL


def test_a_second_team_with_the_same_name_is_refused_on_the_page(client, admin_user):
    TeamFactory(name="Support")
    client.force_login(admin_user)
    response = client.post(url("teams"), {"name": "support"})
    assert response.status_code == 400
    assert "A team named “support” already exists." in response.content.decode()


# --- skills -------------------------------------------------------------------------------


def test_r17_the_skills_page_says_which_channels_skill_rules_use_each_skill(client, admin_user):
    skill = SkillFactory(name="Norwegian")
    SkillRuleFactory(
        automation=ChannelAutomationFactory(
            channel=ChannelFactory(name="Norway inbox"), skill_routing=True
        ),
        skill=skill,
        condition=SkillRule.Condition.LANGUAGE_IS,
    )
    client.force_login(admin_user)
    row = client.get(url("skills")).content.decode().split(f'data-skill="{skill.pk}"')[1]
    assert "Norway inbox" in row.split("</tr>")[0]
    assert "Norway inbox" in client.get(url("skill", skill.pk)).content.decode()
