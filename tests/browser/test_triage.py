"""An agent triages in a real browser (R1–R5, R21–R23): log in, open Unassigned, open a
ticket, give it to a team (htmx, no reload), find it under My team's unassigned, reply and
find it under Assigned to me. Screenshots of the queue and the ticket page are saved."""

import datetime as dt

import pytest
from django.utils import timezone

from helpdesk.models import Channel, Message, TeamMembership, Ticket
from tests.browser.conftest import session_cookie_for, sign_in
from tests.browser.test_owner_picker import choose_owner
from tests.factories import (
    PASSWORD,
    AgentFactory,
    ChannelFactory,
    ContactFactory,
    MessageFactory,
    TeamFactory,
    TeamMembershipFactory,
    TicketFactory,
)

pytestmark = pytest.mark.browser


@pytest.fixture
def helpdesk(agent, other_agent):
    """A small but lively helpdesk: two teams, channels of every type, a dozen tickets."""
    support = TeamFactory(name="Support")
    billing = TeamFactory(name="Billing")
    TeamMembershipFactory(team=support, user=agent, role=TeamMembership.Role.MAIN)
    TeamMembershipFactory(team=billing, user=agent, role=TeamMembership.Role.ADDITIONAL)
    TeamMembershipFactory(team=support, user=other_agent, role=TeamMembership.Role.MAIN)
    AgentFactory(first_name="Farid", last_name="Rahman", seat=False)
    inbox = ChannelFactory(kind=Channel.Kind.TEAM_EMAIL, name="Support inbox")
    chat = ChannelFactory(kind=Channel.Kind.CHATFLOW, name="Website chat")
    whatsapp = ChannelFactory(kind=Channel.Kind.WHATSAPP, name="WhatsApp")
    calls = ChannelFactory(kind=Channel.Kind.CALLING, name="Phone line")
    now = timezone.now()
    rows = [
        ("Invoice 2024-113 charged twice", inbox, None, None, 4, 50),
        ("Cannot reset my password", chat, None, None, 3, 140),
        ("Missed call from +47 912 34 567", calls, None, None, 2, 300),
        ("Where is my order #88121?", whatsapp, None, None, 2, 900),
        ("Refund for cancelled subscription", inbox, billing, None, 3, 1500),
        ("App crashes when uploading photos", chat, support, other_agent, 2, 3000),
        ("Change delivery address", whatsapp, support, None, 1, 6000),
        ("VAT number missing on receipt", inbox, billing, agent, 2, 9000),
        ("Feature request: dark mode", inbox, None, other_agent, 1, 20000),
    ]
    for subject, channel, team, owner, priority, minutes in rows:
        created = now - dt.timedelta(minutes=minutes)
        ticket = TicketFactory(
            subject=subject,
            channel=channel,
            team=team,
            owner=owner,
            priority=priority,
            created_at=created,
            last_activity_at=created + dt.timedelta(minutes=5),
            contact=ContactFactory(),
        )
        MessageFactory(ticket=ticket, body=f"{subject}. Please help.", created_at=created)
    owner = AgentFactory(first_name="Carla", last_name="Mehta")
    contact = ContactFactory(name="Kim Larsen", email="kim.larsen@example.com", owner=owner)
    ticket = TicketFactory(
        subject="Printer on fire in the Oslo office",
        channel=inbox,
        contact=contact,
        priority=Ticket.Priority.URGENT,
    )
    MessageFactory(
        ticket=ticket,
        body="Hello,\n\nour printer is on fire <script>alert('x')</script>"
        '<img src=x onerror="alert(1)">.\nWhat should we do?\n\nKim',
    )
    return {"ticket": ticket, "support": support}


def test_r1_to_r5_agent_triages_in_the_browser(
    page, live_server, agent, helpdesk, screenshot, settings
):
    ticket = helpdesk["ticket"]

    # Sign in through the real form; the helpdesk opens on Unassigned (R1, R21).
    page.goto("/")
    assert "/accounts/login/" in page.url
    screenshot("login")
    sign_in(page, agent.username, PASSWORD)
    assert page.url.endswith("/queues/unassigned/")
    assert page.locator("h1").inner_text() == "Unassigned"
    row = page.locator(f"tr[data-ticket='{ticket.pk}']")
    assert row.is_visible()
    assert page.locator("[data-count=unassigned]").inner_text() == "5"
    screenshot("queue-unassigned", full_page=False, docs=True)

    # Open it (R2): thread, contact with its owner, hostile body shown as text.
    row.locator("a.hd-subject").click()
    page.wait_for_url(f"**/tickets/{ticket.pk}/?from=unassigned")
    body = page.locator(".hd-msg-inbound .hd-msg-body").inner_text()
    assert "<script>alert('x')</script>" in body
    assert page.locator("[data-contact-owner]").inner_text() == "Carla Mehta"
    screenshot("ticket-page", full_page=False, docs=True)

    # Give it to the Support team with the owner control — htmx swaps it in place (R3).
    page.evaluate("window.__noReload = true")
    choose_owner(page, "supp", f"team:{helpdesk['support'].pk}")
    page.wait_for_selector("[data-owner-notice]")
    assert "the Support team (no owner yet)" in page.inner_text("[data-owner-notice]")
    assert page.evaluate("window.__noReload") is True  # no full reload happened
    assert page.locator("[data-count=unassigned]").inner_text() == "4"  # out-of-band update
    assert "Assigned manually" in page.inner_text("#assignment-history")

    # It shows under My team's unassigned (R22).
    page.click("[data-queue=team-unassigned]")
    page.wait_for_url("**/queues/team-unassigned/")
    assert page.locator(f"tr[data-ticket='{ticket.pk}']").is_visible()
    assert page.locator("tr[data-ticket]").count() == 3  # + Billing's, Support's unowned
    screenshot("queue-team-unassigned")

    # Reply and Send: the ticket becomes mine (R4) and shows under Assigned to me.
    page.click(f"tr[data-ticket='{ticket.pk}'] a.hd-subject")
    page.fill("#reply-body", "Hi Kim,\n\nplease leave the building and call the fire brigade.")
    page.click("[data-send]")
    page.wait_for_selector(".alert-success")
    assert "The ticket is now yours" in page.inner_text(".alert-success")
    assert page.locator(".hd-msg-outbound").count() == 1
    screenshot("ticket-after-reply")
    page.click("[data-queue=mine]")
    page.wait_for_url("**/queues/mine/")
    assert page.locator(f"tr[data-ticket='{ticket.pk}']").is_visible()
    assert Ticket.objects.get(pk=ticket.pk).owner == agent
    assert Message.objects.filter(ticket=ticket, direction="outbound").count() == 1
    screenshot("queue-assigned-to-me")

    assert page.console_errors == [], page.console_errors  # no JS errors, no CSP violations


def test_keyboard_search_and_row_navigation(login_page, agent, helpdesk, screenshot):
    page = login_page(agent, "/queues/open/")
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.id") == "hd-search"
    page.keyboard.type("printer")
    page.keyboard.press("Enter")
    page.wait_for_url("**/queues/open/?q=printer")
    assert page.locator("tr[data-ticket]").count() == 1
    page.keyboard.press("Escape")
    page.locator("body").click(position={"x": 5, "y": 600})
    page.keyboard.press("j")
    assert page.locator("tr.hd-row-active").count() == 1
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/tickets/{helpdesk['ticket'].pk}/**")
    page.keyboard.press("r")
    assert page.evaluate("document.activeElement.id") == "reply-body"
    assert page.console_errors == []


def test_owner_control_works_without_javascript(page_without_js, live_server, agent, helpdesk):
    page = page_without_js
    sign_in(page, agent.username, PASSWORD)
    ticket = helpdesk["ticket"]
    page.goto(f"/tickets/{ticket.pk}/")
    page.fill("#owner-input", agent.username)  # the server resolves the typed name
    page.click("[data-owner-save]")
    page.wait_for_load_state()
    assert "Ticket owner: Ada Agent" in page.inner_text(".alert-success")
    assert Ticket.objects.get(pk=ticket.pk).owner == agent


def test_two_agents_the_second_sees_the_conflict(
    page, browser, live_server, agent, other_agent, helpdesk, screenshot
):
    ticket = helpdesk["ticket"]
    page.context.add_cookies([session_cookie_for(agent, live_server)])
    page.goto(f"/tickets/{ticket.pk}/")
    other_context = browser.new_context(base_url=live_server.url)
    other = other_context.new_page()
    other_context.add_cookies([session_cookie_for(other_agent, live_server)])
    other.goto(f"/tickets/{ticket.pk}/")
    other.click("[data-take]")
    other.wait_for_selector("[data-owner-notice]")
    other_context.close()

    choose_owner(page, "#Support", f"team:{helpdesk['support'].pk}")
    page.wait_for_selector("[data-conflict]")
    assert (
        "This ticket changed while you were looking at it: it is now owned by Otto Other. "
        "Review and try again." in page.inner_text("[data-conflict]")
    )
    screenshot("ticket-conflict", full_page=False)
    ticket.refresh_from_db()
    assert (ticket.owner, ticket.team) == (other_agent, None)


def test_forbidden_and_missing_pages(page, live_server, outsider, agent, screenshot):
    page.context.add_cookies([session_cookie_for(outsider, live_server)])
    response = page.goto("/queues/unassigned/")
    assert response.status == 403
    assert "have access to the helpdesk" in page.inner_text("main")
    screenshot("403")
    page.context.clear_cookies()
    page.context.add_cookies([session_cookie_for(agent, live_server)])
    response = page.goto("/tickets/999999/")
    assert response.status == 404
    screenshot("404")


@pytest.mark.postgres
def test_a_search_of_a_very_common_text_says_some_tickets_may_be_missing(
    login_page, screenshot, agent, monkeypatch
):
    """More matching messages than the search reads (here 2, `MESSAGE_LIMIT`): the page
    shows what it found, says some tickets may be missing and asks for a second word."""
    from helpdesk import search

    for n in range(4):
        ticket = TicketFactory(subject=f"Printer problem {n}", language="en")
        MessageFactory(ticket=ticket, body="The toner is low again")
    monkeypatch.setattr(search, "MESSAGE_LIMIT", 2)
    page = login_page(agent, "/queues/open/?q=toner")
    notice = page.locator("[data-partial]")
    notice.wait_for()
    assert "some tickets may be missing" in notice.inner_text()
    assert page.locator("[data-hd-rows] tbody tr").count() == 2
    screenshot("queue-search-partial", full_page=False)
