"""Issue 13 in Chromium: the composer's Reply and Internal note are two modes — the note
mode is visibly different and shows only its own button, so a private note is never sent
to a customer by a slip."""

import pytest

from helpdesk.models import Message
from tests.factories import ContactFactory, TicketFactory

pytestmark = pytest.mark.browser


def test_a_note_is_written_in_its_own_mode_and_never_leaves(login_page, agent, screenshot):
    ticket = TicketFactory(channel=None, contact=ContactFactory(name="Kim Larsen"))
    page = login_page(agent, f"/tickets/{ticket.pk}/")
    assert page.locator("[data-send]").is_visible()
    assert not page.locator("[data-note]").is_visible()

    page.get_by_text("Internal note", exact=True).click()
    assert page.locator("[data-note]").is_visible()
    assert not page.locator("[data-send]").is_visible()  # no Send button to slip onto
    background = page.eval_on_selector("#reply-body", "e => getComputedStyle(e).backgroundColor")
    assert background == "rgb(255, 248, 219)"  # the note's yellow
    page.fill("#reply-body", "Customer is a VIP, be quick.")
    screenshot("ticket-note-mode", full_page=False, docs=True)
    page.locator("[data-note]").click()
    page.get_by_text("Internal note added.").wait_for()
    note = Message.objects.get(ticket=ticket)
    assert note.direction == Message.Direction.NOTE
    assert note.body == "Customer is a VIP, be quick."

    page.fill("#reply-body", "We are on it.")
    page.keyboard.press("Control+Enter")  # the Reply mode is back after the page reloads
    page.get_by_text("Reply sent.", exact=False).first.wait_for()
    assert Message.objects.filter(ticket=ticket, direction=Message.Direction.OUTBOUND).count() == 1
