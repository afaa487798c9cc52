"""WhatsApp on the agent's side, in Chromium (issue 12): inside the 24-hour customer-service
window an agent's reply leaves through the Graph API once and the thread shows it sent;
outside it the ticket page says why free text is refused and sends an approved template
instead. The Graph API is the local stand-in of tests/whatsapp/conftest.py, which records
every request; Celery is eager, so the live server sends at commit, as `make run` does.
Screenshots at desktop and 390 px (also copied to /tmp/wa-agent-*.png)."""

import shutil
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from helpdesk.models import Message, OutboundMessage
from tests.factories import ContactFactory, MessageFactory, TicketFactory
from tests.whatsapp import conftest as graph_stand_in
from tests.whatsapp.conftest import (
    ACCESS_TOKEN,
    PHONE_NUMBER_ID,
    TEMPLATES,
    delivery,
    post_delivery,
    status_of,
)
from whatsapp.outbound import WINDOW_CLOSED

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("eager_celery")]

# The stand-in for Meta's Graph API and a WhatsApp channel whose settings point at it.
graph = graph_stand_in.graph
wa_channel = graph_stand_in.wa_channel

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
WA_ID = "4790000001"
FOLLOW_UP = TEMPLATES[0]


@pytest.fixture
def shoot(screenshot):
    def _shoot(name: str, page):
        shots = []
        for size, viewport in (("desktop", DESKTOP), ("390", PHONE)):
            page.set_viewport_size(viewport)
            # Nothing sticks out sideways (a too-wide template picker once did at 390 px).
            assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
            path = screenshot(f"wa-agent-{name}-{size}", target=page)
            shutil.copy(path, f"/tmp/wa-agent-{name}-{size}.png")
            shots.append(path)
        page.set_viewport_size(DESKTOP)
        return shots

    return _shoot


def whatsapp_ticket(channel, agent, *, customer_wrote_ago: timedelta):
    """An agent's ticket on the WhatsApp channel whose customer last wrote that long ago."""
    wrote_at = timezone.now() - customer_wrote_ago
    contact = ContactFactory(name="Kim Kunde", email="", phone=f"+{WA_ID}", whatsapp_id=WA_ID)
    ticket = TicketFactory(
        channel=channel,
        contact=contact,
        owner=agent,
        subject="My order is late",
        status="waiting_on_us",
        created_at=wrote_at,
    )
    MessageFactory(
        ticket=ticket,
        body="My order is late. Where is it?",
        sender_name="Kim Kunde",
        sender_address=f"+{WA_ID}",
        external_id="wamid.IN1",
        created_at=wrote_at,
    )
    return ticket


def test_inside_the_window_a_reply_leaves_once_and_the_thread_shows_it_sent(
    login_page, shoot, agent, wa_channel, graph
):
    ticket = whatsapp_ticket(wa_channel, agent, customer_wrote_ago=timedelta(hours=2))
    page = login_page(agent, f"/tickets/{ticket.pk}/")

    window = page.locator("[data-whatsapp-window]")
    expect(window).to_have_attribute("data-whatsapp-window", "open")
    expect(window).to_contain_text("WhatsApp accepts free-form replies until")
    expect(window).to_contain_text("24 hours after the customer's last message")
    expect(page.locator("[data-template-form]")).to_have_count(0)

    page.get_by_label("Reply to Kim Kunde").fill("Hi Kim, it leaves the warehouse today.")
    page.get_by_role("button", name="Send", exact=True).click()

    expect(page.get_by_role("status").filter(has_text="Reply sent.")).to_be_visible()
    reply = page.locator("article[data-direction=outbound]")
    expect(reply).to_have_count(1)
    expect(reply).to_contain_text("it leaves the warehouse today")
    expect(reply.locator("[data-delivery]")).to_have_attribute("data-delivery", "sent")
    expect(reply.locator("[data-delivery]")).to_contain_text("Sent")
    expect(page.get_by_label("Reply to Kim Kunde")).to_have_value("")

    (posted,) = graph.messages_posted()
    assert posted.path == f"/v21.0/{PHONE_NUMBER_ID}/messages"
    assert posted.headers["Authorization"] == f"Bearer {ACCESS_TOKEN}"
    assert posted.json == {
        "messaging_product": "whatsapp",
        "to": WA_ID,
        "type": "text",
        "text": {"body": "Hi Kim, it leaves the warehouse today."},
    }
    row = OutboundMessage.objects.get()
    assert (row.status, row.provider_id) == (OutboundMessage.Status.SENT, "wamid.OUT1")

    # Meta reports the reply read (a signed delivery to the webhook, processed at commit).
    read_at = timezone.now().replace(microsecond=0)
    report = delivery(statuses=[status_of("wamid.OUT1", "read", ts=int(read_at.timestamp()))])
    assert post_delivery(wa_channel, report).status_code == 200
    page.reload()
    state = reply.locator("[data-whatsapp-state]")
    expect(state).to_have_attribute("data-whatsapp-state", "read")
    expect(state).to_have_text(f"Read {timezone.localtime(read_at):%H:%M}")
    expect(reply.locator("[data-delivery]")).to_contain_text("Sent")
    shoot("open", page)
    assert page.console_errors == []


def test_outside_the_window_free_text_is_refused_and_a_template_is_sent(
    login_page, shoot, agent, wa_channel, graph
):
    ticket = whatsapp_ticket(wa_channel, agent, customer_wrote_ago=timedelta(hours=25))
    page = login_page(agent, f"/tickets/{ticket.pk}/")

    window = page.locator("[data-whatsapp-window]")
    expect(window).to_have_attribute("data-whatsapp-window", "closed")
    expect(window.locator("[data-window-closed]")).to_have_text(WINDOW_CLOSED)
    choice = page.get_by_label("Approved template")
    expect(choice.locator("option")).to_have_text(
        [
            "follow_up (en_US) — Hello, we have news. Reply to go on.",
            "hello_world (en_US)",
        ]
    )
    shoot("closed", page)

    # Free text is refused with the reason under the editor; the draft stays, nothing left.
    draft = "Hi Kim, are you still there?"
    page.get_by_label("Reply to Kim Kunde").fill(draft)
    page.get_by_role("button", name="Send", exact=True).click()
    error = page.locator("#reply-form .invalid-feedback")
    expect(error).to_have_text(WINDOW_CLOSED)
    expect(error).to_be_visible()
    expect(page.get_by_label("Reply to Kim Kunde")).to_have_value(draft)
    expect(page.locator("article[data-direction=outbound]")).to_have_count(0)
    assert graph.messages_posted() == []
    assert not Message.objects.filter(direction="outbound").exists()
    assert OutboundMessage.objects.count() == 0
    shoot("refused", page)

    # The approved template from the form above the editor.
    page.get_by_label("Approved template").select_option(FOLLOW_UP["name"])
    page.get_by_role("button", name="Send template").click()
    expect(page.get_by_role("status").filter(has_text="Template message")).to_be_visible()
    reply = page.locator("article[data-direction=outbound]")
    expect(reply).to_have_count(1)
    expect(reply.locator(".hd-msg-body")).to_have_text(FOLLOW_UP["text"])
    expect(reply.locator("[data-delivery]")).to_have_attribute("data-delivery", "sent")
    expect(page.locator("#reply-form .invalid-feedback")).to_have_count(0)

    (posted,) = graph.messages_posted()
    assert posted.json == {
        "messaging_product": "whatsapp",
        "to": WA_ID,
        "type": "template",
        "template": {"name": "follow_up", "language": {"code": "en_US"}},
    }
    shoot("template-sent", page)
    # The refused reply's page came with its 400; nothing else went wrong.
    assert [e for e in page.console_errors if "status of 400" not in e] == []
    assert len(page.console_errors) == 1 and "/reply/" in page.console_errors[0]
