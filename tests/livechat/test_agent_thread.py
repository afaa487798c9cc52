"""The ticket page shows new messages without a reload, on every ticket: htmx asks
`/chat/tickets/<id>/messages/?after=<last shown>` every few seconds and swaps in what is
new (the thread's own markup), in a fixed number of queries."""

import re

import pytest
from django.test import Client
from django.urls import reverse

from helpdesk import services
from helpdesk.models import AssignmentEvent
from tests.factories import ContactFactory, MessageFactory, TicketFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def agent_client(agent):
    client = Client()
    client.force_login(agent)
    return client


def poll_url(html: str) -> str:
    found = re.search(r'id="live-thread" hx-get="([^"]+)"', html)
    assert found, "the ticket page has no live thread"
    return found.group(1).replace("&amp;", "&")


def test_the_ticket_page_polls_for_messages_after_the_last_one_shown(agent_client):
    ticket = TicketFactory()
    first = MessageFactory(ticket=ticket)
    last = MessageFactory(ticket=ticket)
    html = agent_client.get(reverse("ticket", args=[ticket.pk])).content.decode()
    url = poll_url(html)
    assert url.startswith(reverse("livechat:ticket-messages", args=[ticket.pk]))
    assert f"after={max(first.pk, last.pk)}" in url
    assert 'hx-trigger="every 2s"' in html


def test_nothing_new_is_204_and_changes_nothing_on_the_page(agent_client):
    ticket = TicketFactory()
    MessageFactory(ticket=ticket)
    url = poll_url(agent_client.get(reverse("ticket", args=[ticket.pk])).content.decode())
    response = agent_client.get(url)
    assert response.status_code == 204 and response.content == b""


def test_a_new_customer_message_comes_in_with_the_threads_markup(agent_client):
    ticket = TicketFactory(contact=ContactFactory(name="Kim Doe"))
    MessageFactory(ticket=ticket)
    url = poll_url(agent_client.get(reverse("ticket", args=[ticket.pk])).content.decode())
    message, _ = services.add_inbound_message(ticket=ticket, body="Any news on my order?")
    response = agent_client.get(url)
    assert response.status_code == 200
    html = response.content.decode()
    assert f'id="message-{message.pk}"' in html and 'data-direction="inbound"' in html
    assert "Any news on my order?" in html and "Kim Doe" in html
    assert f"after={message.pk}" in poll_url(html)  # the next poll starts after it
    # the reply form takes the ticket's new version, so Send is not refused for it
    ticket.refresh_from_db()
    assert f'value="{ticket.version}" id="reply-version" hx-swap-oob="true"' in html


def test_replying_after_a_live_message_is_not_a_conflict(agent_client, agent):
    ticket = TicketFactory(owner=agent)
    MessageFactory(ticket=ticket)
    url = poll_url(agent_client.get(reverse("ticket", args=[ticket.pk])).content.decode())
    services.add_inbound_message(ticket=ticket, body="Hello?")
    html = agent_client.get(url).content.decode()
    version = re.search(r'value="(\d+)" id="reply-version" hx-swap-oob', html).group(1)
    response = agent_client.post(
        reverse("ticket-reply", args=[ticket.pk]),
        {"body": "Hello Kim!", "action": "send", "version": version},
    )
    assert response.status_code == 302


def test_when_someone_else_reassigned_the_ticket_send_still_reports_it(
    agent_client, agent, other_agent
):
    ticket = TicketFactory()
    MessageFactory(ticket=ticket)
    url = poll_url(agent_client.get(reverse("ticket", args=[ticket.pk])).content.decode())
    services.assign(
        ticket=ticket, owner=other_agent, actor=other_agent, cause=AssignmentEvent.Cause.MANUAL
    )
    services.add_inbound_message(ticket=ticket, body="Hello?")
    html = agent_client.get(url).content.decode()
    assert "Hello?" in html
    assert "reply-version" not in html  # the page's stale version stays: Send answers 409
    next_url = poll_url(html)
    services.add_inbound_message(ticket=ticket, body="Still there?")
    assert "reply-version" not in agent_client.get(next_url).content.decode()


def test_the_agents_own_reassignment_does_not_hold_the_version_back(agent_client, agent):
    ticket = TicketFactory()
    MessageFactory(ticket=ticket)
    url = poll_url(agent_client.get(reverse("ticket", args=[ticket.pk])).content.decode())
    services.assign(ticket=ticket, owner=agent, actor=agent, cause=AssignmentEvent.Cause.MANUAL)
    services.add_inbound_message(ticket=ticket, body="Hello?")
    assert "reply-version" in agent_client.get(url).content.decode()


def test_notes_and_replies_of_colleagues_come_in_too(agent_client, other_agent):
    ticket = TicketFactory(owner=other_agent)
    MessageFactory(ticket=ticket)
    url = poll_url(agent_client.get(reverse("ticket", args=[ticket.pk])).content.decode())
    services.add_note(ticket=ticket, author=other_agent, body="Refund approved")
    html = agent_client.get(url).content.decode()
    assert 'data-direction="note"' in html and "Refund approved" in html


def test_the_poll_costs_a_fixed_number_of_queries(
    agent_client, agent, django_assert_max_num_queries
):
    ticket = TicketFactory(owner=agent)
    MessageFactory(ticket=ticket)
    url = poll_url(agent_client.get(reverse("ticket", args=[ticket.pk])).content.decode())
    services.add_inbound_message(ticket=ticket, body="one")
    with django_assert_max_num_queries(10) as few:
        agent_client.get(url)
    for n in range(15):
        services.add_inbound_message(ticket=ticket, body=f"more {n}")
        services.reply(ticket=ticket, author=agent, body=f"answer {n}")
    with django_assert_max_num_queries(len(few)):
        html = agent_client.get(url).content.decode()
    assert html.count("<article") == 31


def test_only_agents_who_see_the_ticket_get_its_messages(client, outsider, agent):
    ticket = TicketFactory()
    url = reverse("livechat:ticket-messages", args=[ticket.pk])
    assert client.get(url).status_code == 302  # to the login page
    client.force_login(outsider)
    assert client.get(url).status_code == 403
    client.force_login(agent)
    assert client.get(reverse("livechat:ticket-messages", args=[999999])).status_code == 404
    assert client.get(url, {"after": "x"}).status_code == 400


def test_a_custom_chat_reply_shows_the_outbox_state_and_a_failed_one_a_retry(
    agent_client, agent, django_assert_max_num_queries
):
    from helpdesk.models import OutboundMessage
    from tests.livechat.conftest import custom_chat
    from tests.livechat.test_webhooks import chat_ticket

    chat = custom_chat(webhook_url="http://127.0.0.1:9/")
    ticket = chat_ticket(chat)
    ok = services.reply(ticket=ticket, author=agent, body="first")
    refused = services.reply(ticket=ticket, author=agent, body="second")
    OutboundMessage.objects.filter(message=ok).update(status="sent", sent_at=ok.created_at)
    OutboundMessage.objects.filter(message=refused).update(
        status="failed", last_error="The webhook answered 410 Gone."
    )
    with django_assert_max_num_queries(30) as few:
        html = agent_client.get(reverse("ticket", args=[ticket.pk])).content.decode()
    assert 'data-delivery="sent"' in html and "Sent <time" in html
    assert "Failed: The webhook answered 410 Gone." in html
    row = OutboundMessage.objects.get(message=refused)
    retry_url = reverse("outbound-retry", args=[ticket.pk, row.pk])
    assert f'action="{retry_url}"' in html and html.count("data-retry") == 1
    for n in range(5):
        services.reply(ticket=ticket, author=agent, body=f"more {n}")
    with django_assert_max_num_queries(len(few)):
        agent_client.get(reverse("ticket", args=[ticket.pk]))
    response = agent_client.post(retry_url)
    assert response.status_code == 302
    row.refresh_from_db()
    assert row.status == "queued"


def test_a_chat_reply_without_an_outbox_row_shows_no_delivery_state(agent_client, agent):
    """A chatflow's replies are fetched by the widget: no outbox row, so no state."""
    ticket = TicketFactory(owner=agent, channel__kind="chatflow")
    services.reply(ticket=ticket, author=agent, body="by the widget")
    html = agent_client.get(reverse("ticket", args=[ticket.pk])).content.decode()
    assert "by the widget" in html and "data-delivery" not in html
