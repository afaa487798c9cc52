"""Issue 12, WhatsApp out: an agent's reply on a WhatsApp ticket is one outbox row written in
the reply's transaction and POSTed once to the Graph API's messages endpoint (recorded by the
local stand-in); temporary failures are retried with the shared backoff, permanent ones fail
with Meta's words; free-form text only inside the 24-hour customer-service window, an
approved template outside it."""

import datetime as dt
from datetime import timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from helpdesk import services
from helpdesk.models import Message, OutboundMessage, Ticket
from helpdesk.services.intake import process_inbound
from tests.factories import ChannelFactory, ContactFactory, TicketFactory
from tests.whatsapp.conftest import (
    ACCESS_TOKEN,
    PHONE_NUMBER_ID,
    delivery,
    post_delivery,
    status_of,
    text_message,
)
from whatsapp import outbound
from whatsapp.inbound import handle_event
from whatsapp.models import WhatsAppOutbound, WhatsAppSettings
from whatsapp.outbound import WINDOW_CLOSED

pytestmark = pytest.mark.django_db

Status = OutboundMessage.Status
SEND_TASK = "whatsapp.tasks.send_whatsapp_task"
T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def customer_writes(channel, text="My order is late", wamid="wamid.IN1") -> Ticket:
    response = post_delivery(channel, delivery(messages=[text_message(wamid, text)]))
    assert response.status_code == 200
    from helpdesk.models import InboundEvent

    for pk in InboundEvent.objects.filter(status="received").values_list("pk", flat=True):
        process_inbound(pk, handle_event)
    return Ticket.objects.get(messages__external_id=wamid)


@pytest.fixture
def ticket(wa_channel, agent):
    with time_machine.travel(T0, tick=False):
        found = customer_writes(wa_channel)
    services.assign(ticket=found, owner=agent, actor=agent, cause="manual")
    return found


@pytest.fixture
def now_inside():
    with time_machine.travel(T0 + timedelta(hours=1), tick=False):
        yield


def send_all(published_tasks):
    return published_tasks.run(propagate=False)


# --- the intent ----------------------------------------------------------------------------


@pytest.mark.usefixtures("now_inside")
def test_a_reply_is_one_outbox_row_in_its_transaction_and_posted_after_commit(
    ticket, agent, graph, published_tasks, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        message = services.reply(ticket=ticket, author=agent, body="It leaves the warehouse today")
        row = OutboundMessage.objects.get()
        assert (row.message, row.status, row.channel_id) == (
            message,
            Status.QUEUED,
            ticket.channel_id,
        )
        assert WhatsAppOutbound.objects.get(outbound=row).to == "4790000001"
        assert graph.messages_posted() == []  # nothing leaves before the commit
    assert published_tasks.names == [SEND_TASK]
    send_all(published_tasks)
    (posted,) = graph.messages_posted()
    assert posted.path == f"/v21.0/{PHONE_NUMBER_ID}/messages"
    assert posted.headers["Authorization"] == f"Bearer {ACCESS_TOKEN}"
    assert posted.headers["Content-Type"] == "application/json"
    assert posted.json == {
        "messaging_product": "whatsapp",
        "to": "4790000001",
        "type": "text",
        "text": {"body": "It leaves the warehouse today"},
    }
    row.refresh_from_db()
    assert (row.status, row.provider_id, row.attempts) == (Status.SENT, "wamid.OUT1", 1)
    assert row.sent_at is not None


@pytest.mark.usefixtures("now_inside")
def test_a_duplicated_task_posts_once(ticket, agent, graph):
    row = services.reply(ticket=ticket, author=agent, body="Once").outbound
    assert outbound.send(outbound_id=row.pk) == outbound.Outcome.SENT
    assert outbound.send(outbound_id=row.pk) == outbound.Outcome.SKIPPED
    assert len(graph.messages_posted()) == 1


def test_notes_and_replies_on_other_channels_or_without_whatsapp_id_get_no_row(
    wa_channel, agent, graph
):
    services.add_note(ticket=TicketFactory(channel=wa_channel), author=agent, body="Internal")
    no_id = TicketFactory(channel=wa_channel, contact=ContactFactory(email="x@example.com"))
    services.reply(ticket=no_id, author=agent, body="Stays here")
    other = TicketFactory(channel=ChannelFactory(), contact=ContactFactory(whatsapp_id="4711"))
    services.reply(ticket=other, author=agent, body="Not ours")
    assert WhatsAppOutbound.objects.count() == 0


@pytest.mark.usefixtures("now_inside")
def test_a_reply_longer_than_whatsapp_takes_is_refused_before_anything_is_stored(ticket, agent):
    with pytest.raises(ValidationError, match="at most 4,096 characters"):
        services.reply(ticket=ticket, author=agent, body="x" * 4097)
    assert not Message.objects.filter(direction="outbound").exists()


# --- failures ----------------------------------------------------------------------------


@pytest.mark.usefixtures("now_inside")
@pytest.mark.parametrize(
    "answer",
    [
        (503, {"error": {"message": "Service temporarily unavailable", "code": 2}}),
        (429, {"error": {"message": "Too many calls", "code": 80007}}),
        (400, {"error": {"message": "Rate limit hit", "code": 130429}}),
    ],
    ids=["503", "429", "throughput-400"],
)
def test_a_temporary_failure_is_queued_again_with_the_backoff_then_sent(
    ticket, agent, graph, settings, answer
):
    settings.NOTIFICATIONS_RETRY_BASE_SECONDS = 30
    graph.answers.append(answer)
    row = services.reply(ticket=ticket, author=agent, body="Try me").outbound
    with pytest.raises(outbound.TemporaryFailure) as raised:
        outbound.send(outbound_id=row.pk)
    assert raised.value.retry_in == 30
    row.refresh_from_db()
    assert row.status == Status.QUEUED and row.attempts == 1
    assert row.due_at == timezone.now() + timedelta(seconds=30)
    assert answer[1]["error"]["message"] in row.last_error
    assert outbound.send(outbound_id=row.pk) == outbound.Outcome.SENT
    row.refresh_from_db()
    assert (row.status, row.attempts, row.last_error, row.provider_id) == (
        Status.SENT,
        2,
        "",
        "wamid.OUT2",
    )


@pytest.mark.usefixtures("now_inside")
def test_meta_not_answering_at_all_is_temporary(ticket, agent):
    WhatsAppSettings.objects.filter(channel=ticket.channel).update(
        api_base_url="http://127.0.0.1:9/v21.0"
    )
    row = services.reply(ticket=ticket, author=agent, body="Anyone?").outbound
    with pytest.raises(outbound.TemporaryFailure):
        outbound.send(outbound_id=row.pk)
    row.refresh_from_db()
    assert row.status == Status.QUEUED and "unreachable" in row.last_error


@pytest.mark.usefixtures("now_inside")
def test_a_permanent_refusal_fails_with_metas_message_and_shows_on_the_ticket(ticket, agent, graph):
    error = {
        "message": "(#131030) Recipient phone number not in allowed list",
        "type": "OAuthException",
        "code": 131030,
        "error_data": {"details": "Add it in the API setup"},
    }
    graph.answers.append((400, {"error": error}))
    row = services.reply(ticket=ticket, author=agent, body="Hello").outbound
    assert outbound.send(outbound_id=row.pk) == outbound.Outcome.FAILED
    row.refresh_from_db()
    assert row.status == Status.FAILED
    assert row.last_error == (
        "WhatsApp API 400 (code 131030): (#131030) Recipient phone number not in allowed list"
        " — Add it in the API setup"
    )
    client = Client()
    client.force_login(agent)
    html = client.get(reverse("ticket", args=[ticket.pk])).content.decode()
    assert "Failed: WhatsApp API 400 (code 131030)" in html


@pytest.mark.usefixtures("now_inside")
def test_the_last_attempt_gives_up(ticket, agent, graph):
    row = services.reply(ticket=ticket, author=agent, body="Hello").outbound
    OutboundMessage.objects.filter(pk=row.pk).update(attempts=outbound.MAX_ATTEMPTS - 1)
    graph.answers.append((500, {"error": {"message": "Internal", "code": 1}}))
    assert outbound.send(outbound_id=row.pk) == outbound.Outcome.FAILED
    row.refresh_from_db()
    assert row.status == Status.FAILED and row.last_error.startswith("Gave up after 6 attempts")


@pytest.mark.usefixtures("now_inside")
def test_a_failed_reply_is_retried_as_a_new_message(
    ticket, agent, graph, published_tasks, django_capture_on_commit_callbacks
):
    graph.answers.append((400, {"error": {"message": "Bad", "code": 100}}))
    row = services.reply(ticket=ticket, author=agent, body="Hello").outbound
    outbound.send(outbound_id=row.pk)
    with django_capture_on_commit_callbacks(execute=True):
        assert outbound.retry_outbound(ids=[row.pk], ticket=ticket) == [row.pk]
    send_all(published_tasks)
    row.refresh_from_db()
    assert (row.status, row.provider_id) == (Status.SENT, "wamid.OUT2")


# --- the sweep ---------------------------------------------------------------------------


def test_the_sweep_publishes_lost_and_interrupted_replies_only_of_whatsapp(ticket, agent, settings):
    with time_machine.travel(T0 + timedelta(hours=1), tick=False):
        lost = services.reply(ticket=ticket, author=agent, body="Lost").outbound
        stuck = services.reply(ticket=ticket, author=agent, body="Stuck").outbound
        email_row = OutboundMessage.objects.create(
            message=Message.objects.create(ticket=TicketFactory(), direction="outbound", body="m"),
            channel=ChannelFactory(),
        )
        OutboundMessage.objects.filter(pk=stuck.pk).update(
            status=Status.SENDING, claimed_at=timezone.now()
        )
    with time_machine.travel(T0 + timedelta(hours=1, minutes=5), tick=False):
        assert sorted(outbound.stale_outbound_ids()) == sorted([lost.pk, stuck.pk])
    assert OutboundMessage.objects.get(pk=stuck.pk).status == Status.QUEUED
    assert OutboundMessage.objects.get(pk=email_row.pk).status == Status.QUEUED  # not ours


# --- the customer-service window ---------------------------------------------------------


def test_inside_24_hours_a_free_form_reply_leaves(
    ticket, agent, graph, published_tasks, django_capture_on_commit_callbacks
):
    with time_machine.travel(T0 + timedelta(hours=23, minutes=59), tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            services.reply(ticket=ticket, author=agent, body="Just in time")
        send_all(published_tasks)
    assert graph.messages_posted()[0].json["text"]["body"] == "Just in time"


def test_after_24_hours_a_free_form_reply_is_refused_before_anything_is_stored(
    ticket, agent, graph
):
    client = Client()
    client.force_login(agent)
    with time_machine.travel(T0 + timedelta(hours=24, minutes=1), tick=False):
        with pytest.raises(ValidationError, match="more than 24 hours ago"):
            services.reply(ticket=ticket, author=agent, body="Too late")
        ticket.refresh_from_db()  # the refused reply's in-memory changes are gone with it
        response = client.post(
            reverse("ticket-reply", args=[ticket.pk]),
            {"body": "Too late", "action": "send", "version": ticket.version},
        )
    assert response.status_code == 400
    html = response.content.decode()
    assert WINDOW_CLOSED in html  # the form's error and the notice above it
    assert 'data-whatsapp-window="closed"' in html and "data-send-template" in html
    assert not Message.objects.filter(direction="outbound").exists()
    assert OutboundMessage.objects.count() == 0 and graph.messages_posted() == []
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.NEW  # nothing of the reply happened


def test_a_new_customer_message_opens_the_window_again(ticket, agent, wa_channel):
    with time_machine.travel(T0 + timedelta(hours=30), tick=False):
        customer_writes(wa_channel, "Hello?", wamid="wamid.IN2")
        services.reply(ticket=ticket, author=agent, body="Here we are")
    assert OutboundMessage.objects.count() == 1


def test_notes_are_never_refused(ticket, agent):
    with time_machine.travel(T0 + timedelta(days=3), tick=False):
        services.add_note(ticket=ticket, author=agent, body="Customer went quiet")


def test_outside_the_window_an_approved_template_is_sent_from_the_ticket_page(
    ticket, agent, graph, published_tasks, django_capture_on_commit_callbacks
):
    client = Client()
    client.force_login(agent)
    with time_machine.travel(T0 + timedelta(days=2), tick=False):
        page = client.get(reverse("ticket", args=[ticket.pk])).content.decode()
        assert WINDOW_CLOSED in page
        assert '<option value="follow_up">follow_up (en_US)' in page
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                reverse("whatsapp:template", args=[ticket.pk]),
                {"template": "follow_up", "version": ticket.version},
            )
        assert response.status_code == 302
        send_all(published_tasks)
    (posted,) = graph.messages_posted()
    assert posted.json == {
        "messaging_product": "whatsapp",
        "to": "4790000001",
        "type": "template",
        "template": {"name": "follow_up", "language": {"code": "en_US"}},
    }
    message = Message.objects.get(direction="outbound")
    assert message.body == "Hello, we have news. Reply to go on."
    assert message.outbound.status == Status.SENT


def test_a_template_that_is_not_approved_is_refused(ticket, agent):
    with pytest.raises(ValidationError, match="approved templates"):
        outbound.send_template(ticket=ticket, author=agent, name="made_up")
    client = Client()
    client.force_login(agent)
    response = client.post(reverse("whatsapp:template", args=[ticket.pk]), {"template": "nope"})
    assert response.status_code == 302
    assert OutboundMessage.objects.count() == 0


def test_no_templates_says_what_to_do(ticket, agent):
    WhatsAppSettings.objects.filter(channel=ticket.channel).update(templates=[])
    client = Client()
    client.force_login(agent)
    with time_machine.travel(T0 + timedelta(days=2), tick=False):
        html = client.get(reverse("ticket", args=[ticket.pk])).content.decode()
    assert "data-no-templates" in html and "data-send-template" not in html


def test_inside_the_window_the_page_says_until_when(ticket, agent):
    client = Client()
    client.force_login(agent)
    with time_machine.travel(T0 + timedelta(hours=2), tick=False):
        html = client.get(reverse("ticket", args=[ticket.pk])).content.decode()
    assert 'data-whatsapp-window="open"' in html
    assert "WhatsApp accepts free-form replies until" in html and "3 Mar, 09:00" in html


# --- what the thread shows ---------------------------------------------------------------


def test_the_thread_shows_delivered_and_read_at_a_fixed_query_count(
    ticket, agent, wa_channel, graph, django_assert_num_queries
):
    client = Client()
    client.force_login(agent)
    url = reverse("ticket", args=[ticket.pk])
    with time_machine.travel(T0 + timedelta(hours=1), tick=False):
        first = services.reply(ticket=ticket, author=agent, body="One").outbound
        outbound.send(outbound_id=first.pk)
        client.get(url)  # warm up (sessions, content types)
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as baseline:
            client.get(url)
        expected = len(baseline)  # now: the next request resets the connection's log
        for n in range(5):
            row = services.reply(ticket=ticket, author=agent, body=f"Reply {n}").outbound
            outbound.send(outbound_id=row.pk)
        post_delivery(
            wa_channel,
            delivery(
                statuses=[status_of("wamid.OUT1", "read"), status_of("wamid.OUT2", "delivered")]
            ),
        )
        from helpdesk.models import InboundEvent

        for pk in InboundEvent.objects.filter(status="received").values_list("pk", flat=True):
            process_inbound(pk, handle_event)
        with django_assert_num_queries(expected):
            html = client.get(url).content.decode()
    assert html.count('data-whatsapp-state="read"') == 1
    assert html.count('data-whatsapp-state="delivered"') == 1


def test_a_ticket_of_another_channel_costs_no_whatsapp_query(agent, django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    ticket = TicketFactory(channel=ChannelFactory(kind="team_email"), owner=agent)
    client = Client()
    client.force_login(agent)
    client.get(reverse("ticket", args=[ticket.pk]))
    with CaptureQueriesContext(connection) as queries:
        html = client.get(reverse("ticket", args=[ticket.pk])).content.decode()
    assert "whatsapp_whatsapp" not in " ".join(q["sql"] for q in queries.captured_queries)
    assert "data-whatsapp-window" not in html


def test_a_channel_not_connected_yet_keeps_replies_in_the_helpdesk(agent):
    from helpdesk.models import Channel

    channel = ChannelFactory(kind=Channel.Kind.WHATSAPP)  # no WhatsApp settings
    contact = ContactFactory(whatsapp_id="4790000009")
    ticket = TicketFactory(channel=channel, contact=contact, owner=agent)
    services.reply(ticket=ticket, author=agent, body="No window rule without a connection")
    assert OutboundMessage.objects.count() == 0
    client = Client()
    client.force_login(agent)
    html = client.get(reverse("ticket", args=[ticket.pk])).content.decode()
    assert 'data-whatsapp-window="unconnected"' in html and "not connected yet" in html
