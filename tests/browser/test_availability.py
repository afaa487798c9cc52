"""Issue 13 in Chromium: an agent goes Away with the top bar's control and the next ticket
of their channel goes to someone else (R11, R16); they plan an out-of-office period on
their availability page. Screenshots go to test-artifacts/screenshots/."""

import pytest
from django.contrib.sessions.models import Session
from playwright.sync_api import expect

from channels_cfg.models import AssignMode
from helpdesk import services
from helpdesk.models import Channel, OutOfOffice, User
from routing.engine import route_ticket
from tests.browser.conftest import session_cookie_for
from tests.factories import ChannelAutomationFactory, ChannelFactory

pytestmark = pytest.mark.browser


def test_r11_an_agent_goes_away_and_the_next_ticket_goes_to_someone_else(
    login_page, agent, other_agent, screenshot
):
    channel = ChannelAutomationFactory(
        channel=ChannelFactory(kind=Channel.Kind.TEAM_EMAIL),
        assign_mode=AssignMode.SPECIFIC,
        users=[agent, other_agent],
    ).channel
    page = login_page(agent, "/queues/unassigned/")
    control = page.locator("nav.hd-topbar .hd-avail")
    assert control.get_attribute("data-availability") == "ok"

    control.locator(".hd-avail-toggle").click()
    screenshot("availability-top-bar-menu", full_page=False, docs=True)
    control.get_by_role("button", name="Away").click()
    page.wait_for_url("**/queues/unassigned/")
    assert page.locator("nav.hd-topbar .hd-avail").get_attribute("data-availability") == "away"
    agent.refresh_from_db()
    assert agent.status == User.Status.AWAY

    for n in range(3):
        ticket, _ = services.create_ticket(subject=f"Help {n}", body="Please", channel=channel)
        route_ticket(ticket_id=ticket.pk)
        ticket.refresh_from_db()
        assert ticket.owner == other_agent

    page.goto(f"/tickets/{ticket.pk}/")
    why = page.locator("#routing-decision")  # beside the owner control, folded
    for summary in why.locator("summary").all():  # the question, then the details
        summary.click()
    # The details load as they open (htmx): wait for them, then the reason is the person's.
    expect(why.locator("table")).to_be_visible()
    assert f"{agent}: away since" in why.inner_text()
    screenshot("routing-decision-details", full_page=False)
    # The same details as a page of their own: what the panel's link opens without JavaScript.
    page.goto(why.locator("details.hd-routing-details").get_attribute("hx-get"))
    assert f"{agent}: away since" in page.locator("main").inner_text()
    screenshot("routing-decision-page", full_page=False)


def test_r11_an_agent_plans_an_out_of_office_period_on_their_page(login_page, agent, screenshot):
    page = login_page(agent, "/me/availability/")
    page.fill("#id_day_0", "09:00–12:00, 13:00–17:00")
    page.select_option("#id_time_zone", "Europe/Oslo")
    page.get_by_label("Follow my working hours").check()
    page.get_by_role("button", name="Save").click()
    assert "Saved." in page.locator("main").inner_text()

    page.fill("#id_start", "2030-07-01T08:00")
    page.fill("#id_end", "2030-07-21T17:00")
    page.fill("#id_note", "Summer holiday")
    page.get_by_role("button", name="Add period").click()
    row = page.locator("[data-period]")
    assert "Summer holiday" in row.inner_text() and "Mon 1 Jul 2030 08:00" in row.inner_text()
    screenshot("availability-page", docs=True)
    period = OutOfOffice.objects.get(user=agent)
    assert period.note == "Summer holiday"
    agent.refresh_from_db()
    assert agent.time_zone == "Europe/Oslo"
    assert agent.availability_mode == User.AvailabilityMode.WORKING_HOURS


def test_opening_a_decision_after_the_session_ended_signs_in_again_on_the_page(login_page, agent):
    """The session ends while the ticket page is open; opening the decision's details
    (htmx) takes the whole page to the sign-in page, which leads back to the ticket — not
    a sign-in form inside the panel."""
    channel = ChannelAutomationFactory(assign_mode=AssignMode.SPECIFIC, users=[agent]).channel
    ticket, _ = services.create_ticket(subject="Help", body="Please", channel=channel)
    route_ticket(ticket_id=ticket.pk)
    page = login_page(agent, f"/tickets/{ticket.pk}/")
    why = page.locator("#routing-decision")
    why.locator("summary").first.click()
    Session.objects.all().delete()  # the session ends on the server
    why.locator("details.hd-routing-details > summary").click()
    page.wait_for_url(f"**/accounts/login/?next=%2Ftickets%2F{ticket.pk}%2F")
    expect(page.locator("form input[name=username]")).to_be_visible()


def test_without_javascript_the_decisions_details_open_as_a_page(
    page_without_js, live_server, agent, other_agent
):
    """JavaScript off: the folded details hold a link to them, which opens them as a page."""
    channel = ChannelAutomationFactory(
        assign_mode=AssignMode.SPECIFIC, users=[agent, other_agent]
    ).channel
    ticket, _ = services.create_ticket(subject="Help", body="Please", channel=channel)
    decision = route_ticket(ticket_id=ticket.pk)
    page = page_without_js
    page.context.add_cookies([session_cookie_for(agent, live_server)])
    page.goto(f"/tickets/{ticket.pk}/")
    why = page.locator("#routing-decision")
    why.locator("summary").first.click()
    why.locator("details.hd-routing-details > summary").click()
    why.get_by_role("link", name="Show the settings, the candidates and who was left out").click()
    page.wait_for_url(f"**/routing/decisions/{decision.pk}/")
    main = page.locator("main").inner_text()
    assert "Routing decision" in main and f"Eligible ({len(decision.candidate_rows)})" in main
