"""Issue 13 in Chromium: an account admin runs the team on Settings › People — creates a
team, gives a user ticket access, a seat and a skill — and a ticket on a channel whose skill
rule needs that skill reaches that user (R7, R8, R9, R17). Screenshots at 1280 and 390 px go
to test-artifacts/screenshots/."""

import pytest

from channels_cfg.models import AssignMode, SkillRule
from helpdesk import services
from helpdesk.models import Channel, PeopleChange, Seat, Skill, Team
from routing.engine import route_ticket
from tests.factories import ChannelAutomationFactory, ChannelFactory, SkillRuleFactory, UserFactory

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}


def test_r17_an_account_admin_builds_a_team_and_a_skill_ticket_reaches_the_new_user(
    login_page, admin_user, other_agent, screenshot
):
    ulla = UserFactory(username="ulla", first_name="Ulla", last_name="User")
    automation = ChannelAutomationFactory(
        channel=ChannelFactory(name="Nordic inbox", kind=Channel.Kind.TEAM_EMAIL),
        assign_mode=AssignMode.SPECIFIC,
        users=[other_agent],
        skill_routing=True,
    )

    # Settings › Channels links to the People pages.
    page = login_page(admin_user, "/settings/channels/")
    page.get_by_role("link", name="Users, teams, seats, skills").click()
    page.wait_for_url("**/settings/people/users/")

    # Ticket access on Ulla's page.
    page.get_by_role("link", name="Ulla User").click()
    page.get_by_label("Ticket access").check()
    page.get_by_role("button", name="Save").click()
    assert "Saved Ulla User" in page.locator("main").inner_text()
    screenshot("people-user")

    # A team with Ulla as its main member.
    page.goto("/settings/people/teams/")
    page.fill("#id_name", "Nordic")
    page.get_by_role("button", name="Create team").click()
    team = Team.objects.get(name="Nordic")
    page.select_option(f"#id_role_{ulla.pk}", "main")
    page.get_by_role("button", name="Save").click()
    assert "Saved team Nordic" in page.locator("main").inner_text()
    assert "Main members:" in page.locator("[data-history]").inner_text()
    screenshot("people-team", full_page=False, docs=True)

    # A seat.
    page.goto("/settings/people/seats/")
    page.select_option("#pm-give-user", str(ulla.pk))
    page.get_by_role("button", name="Give seat").click()
    assert "Ulla User has a seat" in page.locator("main").inner_text()
    assert Seat.objects.filter(user=ulla).exists()
    screenshot("people-seats", full_page=False, docs=True)

    # A skill, given to Ulla.
    page.goto("/settings/people/skills/")
    page.fill("#id_name", "Norwegian")
    page.get_by_role("button", name="Create skill").click()
    page.get_by_label("Ulla User").check()
    page.get_by_role("button", name="Save").click()
    assert "Saved skill Norwegian" in page.locator("main").inner_text()

    # The channel routes to the team and needs Norwegian for Norwegian tickets.
    skill = Skill.objects.get(name="Norwegian")
    automation.teams.add(team)
    SkillRuleFactory(
        automation=automation, condition=SkillRule.Condition.LANGUAGE_IS, value="no", skill=skill
    )
    page.goto("/settings/people/skills/")
    assert "Nordic inbox" in page.locator(f"[data-skill='{skill.pk}']").inner_text()
    screenshot("people-skills")

    for n in range(2):
        ticket, _ = services.create_ticket(
            subject=f"Hei {n}", body="Kan dere hjelpe?", channel=automation.channel, language="no"
        )
        route_ticket(ticket_id=ticket.pk)
        ticket.refresh_from_db()
        assert ticket.owner == ulla

    page.goto("/settings/people/users/")
    row = page.locator(f"[data-user='{ulla.pk}']").inner_text()
    assert "Nordic" in row and "Norwegian" in row and "Seat" in row
    screenshot("people-users", full_page=False, docs=True)
    assert PeopleChange.objects.filter(actor=admin_user).count() >= 5
    assert page.console_errors == []

    page.set_viewport_size(PHONE)
    for path, name in (
        ("/settings/people/users/", "people-users-phone"),
        (f"/settings/people/users/{ulla.pk}/", "people-user-phone"),
        (f"/settings/people/teams/{team.pk}/", "people-team-phone"),
        ("/settings/people/seats/", "people-seats-phone"),
    ):
        page.goto(path)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"{path} overflows at 390 px ({width} px)"
        screenshot(name)


def test_r6_an_agent_sees_what_is_missing(login_page, agent, screenshot):
    page = login_page(agent, "/settings/people/users/")
    text = page.locator("main").inner_text()
    assert "You need the account admin role to manage people" in text
    screenshot("people-forbidden", full_page=False)
