"""The Ticket owner picker in a real browser (R3, R5): the page lists nobody; typing asks the
server for matches, shown as a listbox under the field; ↓/↑ move, Enter picks, Enter again
assigns (htmx, no reload); Esc closes the list; "No one matches …" when nothing does; at phone
width the list stays on screen; without JavaScript the typed name is resolved by the server.
`choose_owner` is how the other browser tests use the control."""

import pytest

from helpdesk.models import Ticket, User
from tests.browser.conftest import sign_in
from tests.factories import PASSWORD, AgentFactory, TeamFactory, TicketFactory

pytestmark = pytest.mark.browser


def expect(locator):
    from playwright.sync_api import expect as playwright_expect  # only where browsers run

    return playwright_expect(locator)


def choose_owner(page, typed: str, key: str) -> None:
    """Type `typed` in the Ticket owner field, click the match whose key is `key` (`user:5`,
    `team:3`) and press Assign."""
    page.fill("#owner-input", typed)
    page.click(f'#owner-listbox [role=option][data-value="{key}"]')
    assert page.input_value("[data-owner-key]") == key
    page.click("[data-owner-save]")


@pytest.fixture
def crowd(agent, other_agent):
    """A few colleagues, one away and one without a seat, and two teams."""
    support = TeamFactory(name="Support")
    TeamFactory(name="Billing")
    AgentFactory(
        username="ottilie", first_name="Ottilie", last_name="Berg", status=User.Status.AWAY
    )
    AgentFactory(username="otis", first_name="Otis", last_name="Noseat", seat=False)
    for n in range(12):
        AgentFactory(username=f"colleague{n}", first_name=f"Colleague{n:02d}", last_name="Smith")
    return {"support": support, "ticket": TicketFactory(subject="Printer on fire")}


def test_r3_type_pick_with_the_keyboard_and_assign(
    login_page, agent, other_agent, crowd, screenshot
):
    ticket = crowd["ticket"]
    page = login_page(agent, f"/tickets/{ticket.pk}/")
    assert page.locator("#owner-listbox").count() == 0  # the page lists nobody
    page.evaluate("window.__noReload = true")
    field = page.locator("#owner-input")
    field.click()
    field.press_sequentially("ot", delay=30)
    options = page.locator("#owner-listbox [role=option]")
    expect(options).to_have_count(3)  # the answer for "ot" (a click alone lists everyone)
    assert page.get_attribute("#owner-input", "aria-expanded") == "true"
    names = options.locator(".hd-owner-opt-name").all_inner_texts()
    assert names == ["Otis Noseat", "Ottilie Berg", "Otto Other"]
    marks = page.locator("#owner-listbox .hd-owner-mark").all_inner_texts()
    assert marks == ["no seat", "away"]
    active = page.get_attribute("#owner-input", "aria-activedescendant")
    assert page.get_attribute(f"#{active}", "data-name") == "Otis Noseat"  # the first is active
    screenshot("owner-picker-open", full_page=False)

    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    active = page.get_attribute("#owner-input", "aria-activedescendant")
    assert page.get_attribute(f"#{active}", "data-name") == "Otto Other"
    page.keyboard.press("Enter")  # picks
    assert field.input_value() == "Otto Other"
    assert page.input_value("[data-owner-key]") == f"user:{other_agent.pk}"
    assert page.locator("[data-owner-pop]").is_hidden()
    page.keyboard.press("Enter")  # assigns
    page.wait_for_selector("[data-owner-notice]")
    assert "Ticket owner: Otto Other." in page.inner_text("[data-owner-notice]")
    assert page.evaluate("window.__noReload") is True
    assert Ticket.objects.get(pk=ticket.pk).owner == other_agent
    # The control htmx swapped in is a combobox too, and now offers Unassign.
    # (its script marks it up on htmx:load, which may come after the notice: wait for it)
    expect(page.locator("#owner-input")).to_have_attribute("role", "combobox")
    assert page.locator("[data-unassign]").is_visible()
    assert page.console_errors == [], page.console_errors


def test_r3_typing_then_enter_at_once_picks_the_first_match(login_page, agent, crowd):
    page = login_page(agent, f"/tickets/{crowd['ticket'].pk}/")
    page.click("#owner-input")
    page.keyboard.type("#supp")
    page.keyboard.press("Enter")  # before the answer arrived: picks its first match
    expect(page.locator("#owner-input")).to_have_value("#Support")
    assert page.input_value("[data-owner-key]") == f"team:{crowd['support'].pk}"
    page.keyboard.press("Enter")
    page.wait_for_selector("[data-owner-notice]")
    assert "the Support team (no owner yet)" in page.inner_text("[data-owner-notice]")


def test_r3_no_match_says_so_and_escape_closes_the_list(login_page, agent, crowd, screenshot):
    page = login_page(agent, f"/tickets/{crowd['ticket'].pk}/")
    page.click("#owner-input")
    page.keyboard.type("zzz")
    empty = page.locator("[data-owner-empty]")
    empty.wait_for()
    assert "No one matches “zzz”." in empty.inner_text()
    assert page.inner_text("[data-owner-status]") == "No one matches “zzz”."
    screenshot("owner-picker-empty", full_page=False)
    page.keyboard.press("Escape")
    assert page.locator("[data-owner-pop]").is_hidden()
    assert page.evaluate("document.activeElement.id") == "owner-input"  # still in the field
    page.keyboard.press("Enter")  # the typed text goes to the server, which says the same
    page.wait_for_selector("[data-owner-error]")
    assert "No one matches “zzz”." in page.inner_text("[data-owner-error]")
    assert Ticket.objects.get(pk=crowd["ticket"].pk).owner is None
    assert page.console_errors == [], page.console_errors


def test_r3_picker_at_phone_width(browser, live_server, agent, crowd, screenshot):
    from tests.browser.conftest import session_cookie_for

    context = browser.new_context(
        viewport={"width": 390, "height": 844}, base_url=live_server.url, has_touch=True
    )
    try:
        context.add_cookies([session_cookie_for(agent, live_server)])
        page = context.new_page()
        page.goto(f"/tickets/{crowd['ticket'].pk}/")
        page.tap("#owner-input")
        page.keyboard.type("colleague")
        expect(page.locator("#owner-listbox [role=option]")).to_have_count(12)
        screenshot("owner-picker-phone", target=page, full_page=False)
        pop = page.locator("[data-owner-pop]").bounding_box()
        assert pop["x"] >= 0 and pop["x"] + pop["width"] <= 390
        assert page.locator("#owner-listbox [role=option]").count() == 12
        page.locator("#owner-listbox [role=option]").nth(2).tap()
        assert page.input_value("#owner-input") == "Colleague02 Smith"
        page.tap("[data-owner-save]")
        page.wait_for_selector("[data-owner-notice]")
        assert Ticket.objects.get(pk=crowd["ticket"].pk).owner.username == "colleague2"
    finally:
        context.close()


def test_r3_owner_control_works_without_javascript(
    page_without_js, live_server, agent, crowd, screenshot
):
    page = page_without_js
    sign_in(page, agent.username, PASSWORD)
    ticket = crowd["ticket"]
    page.goto(f"/tickets/{ticket.pk}/")
    page.fill("#owner-input", "Colleague")  # not a whole name: the server offers matches
    page.click("[data-owner-save]")
    page.wait_for_load_state()
    assert "No one is called exactly “Colleague”. Did you mean:" in page.inner_text(
        "[data-owner-error]"
    )
    screenshot("owner-picker-no-js-choices", target=page, full_page=False)
    page.click("[data-owner-choices] button:has-text('Colleague05 Smith')")
    page.wait_for_load_state()
    assert "Ticket owner: Colleague05 Smith" in page.inner_text(".alert-success")
    page.fill("#owner-input", "#Support")
    page.click("[data-owner-save]")
    page.wait_for_load_state()
    assert "Ticket owner: the Support team (no owner yet)." in page.inner_text(".alert-success")
    ticket.refresh_from_db()
    assert (ticket.owner, ticket.team) == (None, crowd["support"])
    page.click("[data-unassign]")
    page.wait_for_load_state()
    ticket.refresh_from_db()
    assert (ticket.owner, ticket.team) == (None, None)
