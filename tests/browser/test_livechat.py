"""Live chat in two browsers (issue 12): a visitor chats on the demo page, which embeds the
widget with its one script tag; an agent answers on the ticket page; each sees the other's
messages without reloading. Screenshots at desktop and 390 px (also copied to /tmp/chat-*.png);
the widget's error state when the helpdesk cannot be reached."""

import shutil

import pytest
from playwright.sync_api import expect

from helpdesk.models import Ticket
from livechat import throttle
from tests.browser.conftest import _new_page, session_cookie_for
from tests.factories import AgentFactory
from tests.livechat.conftest import chatflow
from tests.support.services import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("eager_celery")]

PHONE = {"width": 390, "height": 844}
UNREACHABLE = "We could not reach the chat. Try again in a moment."
BUSY = "Too many messages just now. Wait a few minutes, then try again."


@pytest.fixture
def shoot(screenshot):
    def _shoot(name: str, target, full_page: bool = False):
        path = screenshot(f"chat-{name}", target=target, full_page=full_page)
        shutil.copy(path, f"/tmp/chat-{name}.png")
        return path

    return _shoot


@pytest.fixture(autouse=True)
def short_waits(settings):
    # Each long poll is held at most this long, so none outlives the test for long.
    settings.LIVECHAT_WAIT_SECONDS = 5
    settings.LIVECHAT_DEMO = True  # the page the visitor chats on (off in production)
    settings.LIVECHAT_RATE_REDIS_URL = ""  # rate limits counted afresh, in this process
    throttle.counter_store().clear()


def never_reloads(page):
    page.evaluate("window.__stillHere = true")
    return lambda: page.evaluate("window.__stillHere === true")


def test_a_visitor_and_an_agent_chat_without_reloading(browser, live_server, page, shoot):
    agent = AgentFactory(username="ada", first_name="Ada", last_name="Agent")
    chatflow(users=[agent], on=True, title="Chat with Northwind")

    # The visitor, on the shop's page.
    visitor = page
    visitor.goto("/chat/demo/")
    launcher = visitor.get_by_role("button", name="Chat with us")
    expect(launcher).to_be_visible()
    launcher.press("Enter")  # keyboard: the launcher is a real button
    panel = visitor.get_by_role("dialog", name="Chat with Northwind")
    expect(panel).to_be_visible()
    expect(visitor.locator(".hdchat-empty")).to_contain_text("Write your question below")
    expect(visitor.get_by_label("Your message")).to_be_focused()
    visitor.get_by_label("Your name (optional)").fill("Kim")
    shoot("visitor-empty-desktop", visitor)
    visitor_stays = never_reloads(visitor)
    visitor.get_by_label("Your message").fill("Hello, my grinder makes a loud noise.")
    visitor.keyboard.press("Enter")
    expect(visitor.locator(".hdchat-msg-visitor")).to_contain_text("loud noise")

    ticket = wait_until(lambda: Ticket.objects.filter(owner=agent).first(), timeout=20)
    assert ticket.ticket_type == "messages" and ticket.contact.name == "Kim"  # routed (R18)

    # The agent, in a browser of their own, on the ticket page.
    context, agent_page = _new_page(browser, live_server)
    try:
        context.add_cookies([session_cookie_for(agent, live_server)])
        agent_page.goto(f"/tickets/{ticket.pk}/")
        expect(agent_page.locator("article[data-direction=inbound]")).to_contain_text("loud noise")
        agent_stays = never_reloads(agent_page)

        # The visitor writes again: the agent's page shows it without a reload.
        visitor.get_by_label("Your message").fill("It started after I cleaned it.")
        visitor.get_by_role("button", name="Send").click()
        new = agent_page.locator("article[data-direction=inbound]", has_text="after I cleaned it")
        expect(new).to_be_visible(timeout=10_000)
        assert agent_stays()

        # The agent answers; the visitor's panel shows it without a reload.
        agent_page.get_by_label("Reply to Kim").fill("Hi Kim, the burr may be loose. Tighten it?")
        agent_page.locator("[data-send]").click()
        expect(agent_page.locator("article[data-direction=outbound]")).to_contain_text("burr")
        answer = visitor.locator(".hdchat-msg-agent")
        expect(answer).to_contain_text("the burr may be loose", timeout=10_000)
        expect(answer.locator(".hdchat-author")).to_have_text("Ada")
        assert visitor_stays()
        shoot("visitor-desktop", visitor)
        shoot("agent-desktop", agent_page, full_page=True)

        # The agent's answer came in while the visitor typed on: one more round trip.
        visitor.get_by_label("Your message").fill("Done, it is quiet now. Thanks!")
        visitor.keyboard.press("Enter")
        expect(
            agent_page.locator("article[data-direction=inbound]", has_text="quiet now")
        ).to_be_visible(timeout=10_000)
        assert Ticket.objects.count() == 1 and ticket.messages.count() == 4
        assert agent_page.console_errors == []
    finally:
        context.close()

    # Closing with Escape returns the focus to the launcher.
    visitor.keyboard.press("Escape")
    expect(panel).to_be_hidden()
    expect(launcher).to_be_focused()
    assert visitor.console_errors == []


def test_the_widget_at_390_px_and_when_the_helpdesk_cannot_be_reached(browser, live_server, shoot):
    chatflow(title="Chat with Northwind")
    context, phone = _new_page(browser, live_server)
    try:
        phone.set_viewport_size(PHONE)
        phone.goto("/chat/demo/")
        phone.get_by_role("button", name="Chat with us").click()
        panel = phone.get_by_role("dialog", name="Chat with Northwind")
        expect(panel).to_be_visible()
        box = panel.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
        phone.get_by_label("Your message").fill("Do you deliver on Saturdays?")
        phone.keyboard.press("Enter")
        expect(phone.locator(".hdchat-msg-visitor")).to_contain_text("Saturdays")
        shoot("visitor-390", phone)

        # The helpdesk goes away: the widget says so, keeps the message to send again, and
        # recovers with "Try again".
        phone.route("**/chat/w/**", lambda route: route.abort())
        phone.get_by_label("Your message").fill("Hello?")
        phone.keyboard.press("Enter")
        send_again = phone.get_by_role("button", name="Send again")
        expect(send_again).to_be_visible(timeout=30_000)
        alert = phone.get_by_role("alert").filter(has_text=UNREACHABLE)
        expect(alert).to_be_visible()
        shoot("error-390", phone)
        phone.unroute("**/chat/w/**")
        # Try again. The widget may have got there first: a poll that was on its way before
        # the helpdesk went away answers and takes the notice down, button and all (it did,
        # once) — so the button is pressed wherever it is. What "Try again" does on its own
        # is the next test's.
        phone.locator(".hdchat-retry").dispatch_event("click")
        expect(alert).to_be_hidden(timeout=10_000)
        send_again.click()
        expect(phone.locator(".hdchat-msg-visitor", has_text="Hello?")).to_have_attribute(
            "data-status", "delivered", timeout=10_000
        )
    finally:
        context.close()


def test_try_again_starts_the_chat_once_the_helpdesk_answers(page):
    """The helpdesk cannot be reached when the visitor opens the chat: the widget says so,
    and "Try again" — nothing else retries a start — begins the conversation once it can."""
    chatflow(title="Chat with Northwind")
    page.route("**/chat/w/**", lambda route: route.abort())
    page.goto("/chat/demo/")
    page.get_by_role("button", name="Chat with us").click()
    alert = page.get_by_role("alert").filter(has_text=UNREACHABLE)
    expect(alert).to_be_visible()
    page.unroute("**/chat/w/**")
    expect(alert).to_be_visible()  # still: it waits for the visitor

    def starts(response):
        return response.request.method == "POST" and response.url.endswith("/start")

    with page.expect_response(starts) as start:
        page.get_by_role("button", name="Try again").click()
    assert start.value.status == 200
    expect(alert).to_be_hidden()
    page.get_by_label("Your message").fill("Are you there?")
    page.keyboard.press("Enter")
    expect(page.locator(".hdchat-msg-visitor", has_text="Are you there?")).to_have_attribute(
        "data-status", "delivered", timeout=10_000
    )


def test_the_widget_says_plainly_when_the_visitor_is_over_a_rate_limit(page, settings):
    settings.LIVECHAT_RATE_MESSAGES_PER_CONVERSATION = 1
    chatflow(title="Chat with Northwind")
    page.goto("/chat/demo/")
    page.get_by_role("button", name="Chat with us").click()
    page.get_by_label("Your message").fill("Do you sell filters?")
    page.keyboard.press("Enter")
    accepted = ".hdchat-msg-visitor[data-status=sent], .hdchat-msg-visitor[data-status=delivered]"
    expect(page.locator(accepted)).to_have_count(1)
    page.get_by_label("Your message").fill("And paper ones?")
    page.keyboard.press("Enter")
    refused = page.locator(".hdchat-msg-visitor", has_text="And paper ones?")
    expect(refused.locator(".hdchat-status")).to_contain_text(BUSY)
    expect(refused.get_by_role("button", name="Send again")).to_be_visible()
    assert page.console_errors == [] or all("429" in e for e in page.console_errors)
