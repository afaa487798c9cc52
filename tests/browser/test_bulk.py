"""Issue 13 in Chromium: an agent picks every row of a queue page and assigns the 20
tickets to a colleague in one go (typed and picked as in the Ticket owner control: the page
lists nobody, issue 14); at phone width (390 px) the queue shows each ticket's
subject and owner and nothing runs off the screen."""

import pytest

from helpdesk.models import Ticket
from tests.browser.conftest import session_cookie_for
from tests.factories import TicketFactory

pytestmark = pytest.mark.browser


def test_bulk_assign_20_tickets_from_the_queue(login_page, agent, other_agent, screenshot):
    tickets = [TicketFactory(channel=None, subject=f"Printer {n}") for n in range(20)]
    page = login_page(agent, "/queues/unassigned/?per_page=25")
    assert page.locator("form[data-bulk]").get_attribute("class").find("hd-bulk-idle") >= 0
    page.locator("[data-bulk-all]").check()
    assert page.locator("[data-bulk-count]").inner_text() == "20 tickets selected"
    page.locator("#bulk-owner").fill(other_agent.username)
    option = page.locator(f"[data-owner-pop] [role=option][data-value='user:{other_agent.pk}']")
    option.click()
    assert page.locator("#bulk-owner").input_value() == str(other_agent)
    screenshot("bulk-assign-picked", full_page=False, docs=True)
    page.get_by_role("button", name="Assign", exact=True).click()
    page.wait_for_url("**/queues/unassigned/**")
    assert f"20 tickets assigned to {other_agent}." in page.locator("main").inner_text()
    assert set(
        Ticket.objects.filter(pk__in=[t.pk for t in tickets]).values_list("owner", flat=True)
    ) == {other_agent.pk}
    assert page.locator("[data-empty]").count() == 1  # Unassigned is empty now


def test_the_queue_at_phone_width_shows_subject_and_owner(browser, live_server, agent, screenshot):
    TicketFactory(channel=None, subject="Invoice 2024-113 charged twice", owner=agent)
    context = browser.new_context(viewport={"width": 390, "height": 800}, base_url=live_server.url)
    try:
        context.add_cookies([session_cookie_for(agent, live_server)])
        page = context.new_page()
        page.goto("/queues/open/")
        row = page.locator("[data-hd-rows] tbody tr").first
        assert row.locator(".hd-col-subject").is_visible()
        assert row.locator(".hd-col-owner").is_visible()
        assert "Invoice 2024-113 charged twice" in row.inner_text()
        assert str(agent) in row.locator(".hd-col-owner").inner_text()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, width  # nothing runs off the screen, the top bar included
        screenshot("queue-phone", target=page, full_page=False, docs=True)
    finally:
        context.close()
