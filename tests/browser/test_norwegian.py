"""The Norwegian UI end to end (issue 13, Language): a browser that asks for Norwegian gets
the sign-in page, the queues and the ticket page in Norwegian, with Norwegian dates; the agent
replies and sees the confirmation in Norwegian; choosing English in personal settings wins
over the browser from then on.

The expected words come from the catalogue (`gettext` under Norwegian), so the test checks
that the page is translated, not one wording of it.
"""

import pytest
from django.utils import formats, timezone, translation

from helpdesk.models import Channel, TeamMembership
from tests.browser.conftest import VIEWPORT, sign_in
from tests.factories import (
    PASSWORD,
    ChannelFactory,
    ContactFactory,
    MessageFactory,
    TeamFactory,
    TeamMembershipFactory,
    TicketFactory,
)

pytestmark = pytest.mark.browser


def nb(text: str) -> str:
    with translation.override("nb"):
        translated = translation.gettext(text)
    assert translated != text, f"{text!r} has no Norwegian translation"
    return translated


@pytest.fixture
def norwegian_page(browser, live_server):
    context = browser.new_context(viewport=VIEWPORT, base_url=live_server.url, locale="nb-NO")
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def test_the_norwegian_ui_end_to_end(norwegian_page, agent, screenshot):
    page = norwegian_page
    support = TeamFactory(name="Kundestøtte")
    TeamMembershipFactory(team=support, user=agent, role=TeamMembership.Role.MAIN)
    inbox = ChannelFactory(kind=Channel.Kind.TEAM_EMAIL, name="Kundeservice")
    contact = ContactFactory(name="Kari Nordmann", email="kari@example.no")
    ticket = TicketFactory(subject="Faktura belastet to ganger", channel=inbox, contact=contact)
    MessageFactory(ticket=ticket, body="Jeg ble belastet to ganger for november.")
    TicketFactory(subject="Kan ikke logge inn", channel=inbox)

    page.goto("/accounts/login/")
    assert page.locator("html").get_attribute("lang") == "nb"
    assert nb("Sign in") in page.locator("button[type=submit]").inner_text()
    sign_in(page, agent.username, PASSWORD)

    page.goto("/queues/unassigned/")
    nav = page.locator("nav").first.inner_text() + page.locator("main").inner_text()
    assert nb("Unassigned") in nav
    assert "Faktura belastet to ganger" in page.content()
    screenshot("queue-norwegian", target=page, docs=True)

    page.click("text=Faktura belastet to ganger")
    page.wait_for_url(f"**/tickets/{ticket.pk}/**")
    created = timezone.localtime(ticket.created_at)
    with translation.override("nb"):
        norwegian_date = formats.date_format(created, "DATETIME_FORMAT")
    assert norwegian_date in page.locator("main").inner_text()
    page.fill("#reply-body", "Hei Kari, vi har refundert det ene beløpet.")
    page.click("[data-send]")
    page.wait_for_load_state()
    assert page.locator("[role=alert], .alert").first.inner_text().strip() != ""
    body = page.locator("main").inner_text()
    assert "Hei Kari, vi har refundert det ene beløpet." in body
    assert nb("Internal note") in body
    screenshot("ticket-norwegian", target=page, docs=True)

    # English in personal settings wins over the Norwegian browser.
    page.goto("/me/language/")
    assert nb("Personal settings › Language") in page.locator("h1").inner_text()
    page.check("input[name=language][value=en]")
    page.click(f"button[type=submit]:has-text('{nb('Save')}')")
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "en"
    page.goto("/queues/unassigned/")
    assert "Unassigned" in page.locator("main").inner_text()
    agent.refresh_from_db()
    assert agent.language == "en"
