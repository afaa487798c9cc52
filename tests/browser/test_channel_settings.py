"""The channel settings pages in Chromium (R14, R16, R19, R20, R22): an admin sets a form
channel to Team only, saves, and the next ticket of that channel lands in the team's
"My team's unassigned" queue; the fields that apply show and hide as choices change, rows
are added in place, the preview follows the form, and the page works with JavaScript off.

Screenshots of the Automation tab: test-artifacts/screenshots/channel-settings-*.png.
"""

import os
import re

import pytest

from helpdesk.models import Channel, TeamMembership, Ticket
from helpdesk.services import create_ticket
from tests.factories import ChannelAutomationFactory, ChannelFactory, TeamFactory

# The fixtures of tests/browser/conftest.py set this too; kept here for a lone run.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def top(page) -> None:
    """Full-page screenshots read best from the top (the bars are sticky)."""
    page.evaluate("window.scrollTo(0, 0)")


def expect():
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect


@pytest.fixture
def support(agent):
    team = TeamFactory(name="Support")
    TeamMembership.objects.create(team=team, user=agent, role=TeamMembership.Role.MAIN)
    return team


@pytest.fixture
def form_channel():
    return ChannelAutomationFactory(
        channel=ChannelFactory(kind=Channel.Kind.FORM, name="Contact form", address="forms/contact")
    ).channel


# Smoke test: the live server routes as `make run` does, in-process at commit.
@pytest.mark.usefixtures("eager_celery")
def test_r14_r22_team_only_set_in_the_browser_routes_the_next_ticket_to_the_team(
    login_page, screenshot, admin_user, agent, support, form_channel
):
    page = login_page(admin_user, start=f"/settings/channels/{form_channel.pk}/automation/")
    check = expect()
    check(page.locator("h1")).to_have_text("Contact form")
    check(page.locator("[data-preview-summary]")).to_contain_text("assigns nobody")
    # None is chosen: the pickers and the distribution do not apply, so they are hidden.
    check(page.locator('[data-cs-group="pool"]')).to_be_hidden()
    check(page.locator('[data-cs-group="team"]')).to_be_hidden()
    top(page)
    screenshot("channel-settings-automation-none")

    page.get_by_label("Team only", exact=True).check()
    check(page.locator('[data-cs-group="team"]')).to_be_visible()
    check(page.locator('[data-cs-group="pool"]')).to_be_hidden()
    page.locator("#div_id_team").get_by_label("Support", exact=True).check()
    check(page.locator("[data-preview-summary]")).to_contain_text(
        "Assigned to the team Support without an owner"
    )
    top(page)
    screenshot("channel-settings-automation-team-only")

    page.get_by_role("button", name="Save", exact=True).click()
    check(page.locator(".alert-success")).to_contain_text("Saved.")
    check(page.locator("[data-history]")).to_contain_text("None → Team only")
    top(page)
    screenshot("channel-settings-automation-saved")
    assert page.console_errors == []

    # R20: a ticket that arrives after the save follows it (routing runs on commit).
    ticket, _ = create_ticket(subject="Printer on fire", body="Help", channel=form_channel)
    ticket.refresh_from_db()
    assert (ticket.team, ticket.owner, ticket.routing_state) == (
        support,
        None,
        Ticket.RoutingState.DONE,
    )

    # R22: a member of the team finds it under "My team's unassigned".
    page.context.clear_cookies()
    page = login_page(agent, start="/queues/team-unassigned/")
    check(page.locator(f'tr[data-ticket="{ticket.pk}"]')).to_contain_text("Printer on fire")
    check(page.locator(f'tr[data-ticket="{ticket.pk}"]')).to_contain_text("Support")
    screenshot("channel-settings-team-queue")


def test_r16_r17_fields_follow_the_choices_and_the_preview_follows_the_form(
    login_page, screenshot, admin_user, agent, support
):
    channel = ChannelAutomationFactory(channel=ChannelFactory(name="Support inbox")).channel
    page = login_page(admin_user, start=f"/settings/channels/{channel.pk}/automation/")
    check = expect()
    modes = page.locator("#div_id_assign_mode")
    modes.get_by_label("Specific users and teams", exact=True).check()
    check(page.locator('[data-cs-group="pool"]')).to_be_visible()
    check(page.locator('[data-cs-group="distribution"]')).to_be_visible()
    check(page.get_by_label("Assign only to available users")).to_be_checked()
    check(page.locator('[data-cs-group="skill_rules"]')).to_be_hidden()
    page.locator("#div_id_users").get_by_label("Ada Agent", exact=True).check()
    check(page.locator("[data-recipients] li")).to_have_count(5)
    check(page.locator("[data-recipients] li").first).to_have_text("Ada Agent")

    page.get_by_label("Route by skills").check()
    check(page.locator('[data-cs-group="skill_rules"]')).to_be_visible()
    top(page)
    screenshot("channel-settings-automation-specific", full_page=False, docs=True)

    modes.get_by_label("Customer agent", exact=True).check()
    check(page.locator('[data-cs-group="pool"]')).to_be_hidden()
    check(page.locator('[data-cs-group="ai"]')).to_be_visible()
    check(page.locator('[data-cs-group="fallback"]')).to_be_hidden()
    page.locator("#div_id_ai_fallback").get_by_label("Specific users and teams").check()
    check(page.locator('[data-cs-group="fallback"]')).to_be_visible()
    assert page.console_errors == []


def test_r19_calling_adds_opening_hours_in_place(login_page, screenshot, admin_user, agent):
    channel = ChannelAutomationFactory(
        channel=ChannelFactory(kind=Channel.Kind.CALLING, name="Main phone line")
    ).channel
    page = login_page(admin_user, start=f"/settings/channels/{channel.pk}/automation/")
    check = expect()
    rows = page.locator("#cs-hours [data-cs-list] [data-cs-row]")
    check(rows).to_have_count(1)
    page.get_by_role("button", name="+ Add hours").click()
    check(rows).to_have_count(2)
    assert page.url.endswith("/automation/")  # added in place, nothing posted
    for index, (day, start, end) in enumerate([("0", "09:00", "12:00"), ("0", "13:00", "17:00")]):
        page.select_option(f"#id_hours-{index}-weekday", day)
        page.fill(f"#id_hours-{index}-start", start)
        page.fill(f"#id_hours-{index}-end", end)
    page.get_by_label("Route calls during business hours").check()
    page.locator("#div_id_users").get_by_label("Ada Agent", exact=True).check()
    # Inside the hours Ada gets the calls; outside them the engine says voicemail.
    check(page.locator("[data-preview-summary]")).to_contain_text(
        re.compile("Assigned to Ada Agent|after hours")
    )
    top(page)
    screenshot("channel-settings-automation-calling")
    page.get_by_role("button", name="Save", exact=True).click()
    check(page.locator(".alert-success")).to_contain_text("Saved.")
    hours = [str(h) for h in channel.automation.opening_hours.all()]
    assert hours == ["Monday 09:00–12:00", "Monday 13:00–17:00"]
    assert page.console_errors == []


def test_r14_the_settings_work_without_javascript(
    page_without_js, live_server, admin_user, support, form_channel, screenshot
):
    from tests.browser.conftest import session_cookie_for

    page = page_without_js
    page.context.add_cookies([session_cookie_for(admin_user, live_server)])
    page.goto(f"/settings/channels/{form_channel.pk}/automation/")
    check = expect()
    check(page.locator('[data-cs-group="team"]')).to_be_visible()  # everything shows
    page.get_by_label("Team only", exact=True).check()
    page.locator("#div_id_team").get_by_label("Support", exact=True).check()
    page.get_by_role("button", name="Preview", exact=True).click()
    check(page.locator("[data-preview-summary]")).to_contain_text(
        "Assigned to the team Support without an owner"
    )
    assert re.search(r"/routing/channels/\d+/preview/$", page.url)
    check(page.get_by_label("Team only", exact=True)).to_be_checked()  # as entered
    screenshot("channel-settings-automation-no-js-preview", target=page)
    page.get_by_role("button", name="Save", exact=True).click()
    check(page.locator(".alert-success")).to_contain_text("Saved.")
    form_channel.automation.refresh_from_db()
    assert form_channel.automation.assign_mode == "team_only"


def test_r6_the_channel_list(login_page, screenshot, admin_user, support, form_channel):
    page = login_page(admin_user, start="/settings/channels/")
    check = expect()
    check(page.locator(".breadcrumb")).to_contain_text("Ticket sources and routing")
    check(page.locator("[data-summary]")).to_have_text("None: tickets wait in Unassigned")
    screenshot("channel-settings-list")
