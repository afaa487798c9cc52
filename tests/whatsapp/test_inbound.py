"""Issue 12, WhatsApp in: a stored message becomes a Messages ticket of the contact found by
WhatsApp id (or joins their open one), its media an attachment fetched only from the API's
host; the same wamid twice is one message; statuses move our outbound message forward only,
and never become tickets."""

import json
from datetime import UTC, datetime

import pytest

from helpdesk import services
from helpdesk.models import Attachment, Contact, InboundEvent, Message, OutboundMessage, Ticket
from helpdesk.services.intake import process_inbound
from tests.factories import ContactFactory, TicketFactory
from tests.whatsapp.conftest import delivery, post_delivery, status_of, text_message
from whatsapp.inbound import handle_event, worth_retrying
from whatsapp.models import WhatsAppOutbound, WhatsAppSettings

pytestmark = pytest.mark.django_db

Status = InboundEvent.Status


def deliver(channel, **kwargs) -> list[InboundEvent]:
    """POST a delivery, then process what it stored (as the worker would); the events."""
    response = post_delivery(channel, delivery(**kwargs))
    assert response.status_code == 200, response.content
    before = set(InboundEvent.objects.values_list("pk", flat=True))
    done = [process_inbound(pk, handle_event) for pk in sorted(before)]
    return [e for e in done if e is not None]


def only(events) -> InboundEvent:
    (event,) = events
    return event


# --- text ----------------------------------------------------------------------------------


def test_a_text_becomes_a_messages_ticket_of_the_contact_by_whatsapp_id(
    wa_channel, captured_events
):
    event = only(
        deliver(wa_channel, messages=[text_message("wamid.IN1", "Where is my order?\nIt is late")])
    )
    assert event.status == Status.PROCESSED, event.error
    ticket = Ticket.objects.get()
    assert (event.ticket_id, event.message_id) == (ticket.pk, ticket.messages.get().pk)
    assert ticket.channel == wa_channel and ticket.ticket_type == "messages"  # R12
    assert ticket.subject == "Where is my order?"
    assert ticket.routing_state == Ticket.RoutingState.PENDING  # routing follows by itself
    contact = ticket.contact
    assert (contact.whatsapp_id, contact.name, contact.phone) == (
        "4790000001",
        "Kim Kunde",
        "+4790000001",
    )
    message = ticket.messages.get()
    assert message.body == "Where is my order?\nIt is late"
    assert (message.external_id, message.sender_name, message.sender_address) == (
        "wamid.IN1",
        "Kim Kunde",
        "+4790000001",
    )
    assert "ticket_created" in captured_events.names


def test_an_existing_contact_is_found_by_whatsapp_id_and_keeps_its_owner(wa_channel, agent):
    known = ContactFactory(name="Kim K.", whatsapp_id="4790000001", owner=agent)
    deliver(wa_channel, messages=[text_message("wamid.IN1", "Hello again")])
    assert Ticket.objects.get().contact == known
    assert Contact.objects.count() == 1
    known.refresh_from_db()
    assert known.name == "Kim K."  # a name is only filled in when blank


def test_the_next_message_joins_the_contacts_open_ticket_and_brings_it_back(wa_channel, agent):
    deliver(wa_channel, messages=[text_message("wamid.IN1", "First")])
    ticket = Ticket.objects.get()
    services.reply(ticket=ticket, author=agent, body="We are on it")  # waiting on contact
    event = only(deliver(wa_channel, messages=[text_message("wamid.IN2", "Any news?")]))
    assert event.status == Status.PROCESSED and event.ticket_id == ticket.pk
    assert "open ticket" in event.error
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.WAITING_ON_US
    assert list(ticket.messages.values_list("body", flat=True)) == [
        "First",
        "We are on it",
        "Any news?",
    ]


def test_a_message_after_the_ticket_was_closed_opens_a_new_ticket(wa_channel, agent):
    deliver(wa_channel, messages=[text_message("wamid.IN1", "First")])
    first = Ticket.objects.get()
    services.close(ticket=first, actor=agent)
    deliver(wa_channel, messages=[text_message("wamid.IN2", "New question")])
    assert Ticket.objects.count() == 2
    second = Ticket.objects.exclude(pk=first.pk).get()
    assert second.contact == first.contact and second.subject == "New question"
    first.refresh_from_db()
    assert first.status == Ticket.Status.CLOSED  # left closed


def test_another_channels_open_ticket_is_not_joined(wa_channel):
    contact = ContactFactory(whatsapp_id="4790000001")
    elsewhere = TicketFactory(contact=contact)  # another channel
    deliver(wa_channel, messages=[text_message("wamid.IN1", "Hi")])
    assert Ticket.objects.exclude(pk=elsewhere.pk).get().channel == wa_channel


def test_the_same_wamid_twice_is_one_message(wa_channel):
    deliver(wa_channel, messages=[text_message("wamid.IN1", "Hello")])
    # again, in another delivery (with a status): the event is recognised, nothing new
    deliver(
        wa_channel,
        messages=[text_message("wamid.IN1", "Hello")],
        statuses=[status_of("wamid.X", "sent")],
    )
    assert InboundEvent.objects.filter(source_id="wamid.IN1").count() == 1
    # again after the events were purged: the message's own id recognises it
    InboundEvent.objects.all().delete()
    event = only(deliver(wa_channel, messages=[text_message("wamid.IN1", "Hello")]))
    assert event.status == Status.PROCESSED and "Already received" in event.error
    assert Message.objects.count() == 1 and Ticket.objects.count() == 1


def test_a_sender_without_a_whatsapp_id_is_quarantined(wa_channel):
    message = text_message("wamid.IN1", "Hi")
    message["from"] = "not-a-number"
    event = only(deliver(wa_channel, messages=[message]))
    assert event.status == Status.QUARANTINED
    assert Ticket.objects.count() == 0 and Contact.objects.count() == 0


def test_a_message_for_another_phone_number_is_ignored_with_the_reason(wa_channel):
    event = only(
        deliver(wa_channel, messages=[text_message("wamid.IN1", "Hi")], phone_number_id="999")
    )
    assert event.status == Status.IGNORED and "phone number id 999" in event.error
    assert Ticket.objects.count() == 0


# --- other types -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("part", "expected"),
    [
        (
            {
                "type": "location",
                "location": {
                    "latitude": 59.91,
                    "longitude": 10.75,
                    "name": "Office",
                    "address": "Main St 1",
                },
            },
            "[Location: Office, Main St 1 — 59.91, 10.75]",
        ),
        (
            {
                "type": "interactive",
                "interactive": {
                    "type": "button_reply",
                    "button_reply": {"id": "b1", "title": "Yes, please"},
                },
            },
            "Yes, please",
        ),
        ({"type": "button", "button": {"text": "Call me", "payload": "p"}}, "Call me"),
        (
            {"type": "unsupported", "errors": [{"code": 131051, "title": "Message type unknown"}]},
            "[A unsupported message, which WhatsApp does not pass on: Message type unknown]",
        ),
        (
            {"type": "contacts", "contacts": [{"name": {"formatted_name": "Ola Nordmann"}}]},
            "[Contact card: Ola Nordmann]",
        ),
    ],
    ids=["location", "interactive", "button", "unsupported", "contacts"],
)
def test_messages_without_text_become_a_readable_line(wa_channel, part, expected):
    message = {"from": "4790000001", "id": "wamid.T", "timestamp": "1717490000", **part}
    event = only(deliver(wa_channel, messages=[message]))
    assert event.status == Status.PROCESSED, event.error
    assert Message.objects.get().body == expected
    assert Ticket.objects.get().subject == "WhatsApp message from Kim Kunde"


def test_a_reaction_joins_the_open_ticket_without_bringing_it_back(wa_channel, agent):
    deliver(wa_channel, messages=[text_message("wamid.IN1", "First")])
    ticket = Ticket.objects.get()
    services.reply(ticket=ticket, author=agent, body="Done!")
    reaction = {
        "from": "4790000001",
        "id": "wamid.R1",
        "type": "reaction",
        "reaction": {"message_id": "wamid.OUT1", "emoji": "👍"},
    }
    only(deliver(wa_channel, messages=[reaction]))
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.WAITING_ON_CONTACT
    assert ticket.messages.last().body == "[Reaction 👍 to an earlier message]"


def test_a_reaction_never_opens_a_ticket(wa_channel):
    reaction = {
        "from": "4790000001",
        "id": "wamid.R1",
        "type": "reaction",
        "reaction": {"emoji": "❤"},
    }
    event = only(deliver(wa_channel, messages=[reaction]))
    assert event.status == Status.IGNORED and "reaction" in event.error
    assert Ticket.objects.count() == 0


# --- media ---------------------------------------------------------------------------------


def image(media_id="1234567890", caption="The broken part"):
    part = {"id": media_id, "mime_type": "image/jpeg", "sha256": "x"}
    if caption:
        part["caption"] = caption
    return {"from": "4790000001", "id": f"wamid.M{media_id}", "type": "image", "image": part}


def test_media_is_fetched_from_the_api_and_kept_as_an_attachment(
    wa_channel, graph, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    graph.add_media("1234567890", b"\xff\xd8JPEGDATA", "image/jpeg")
    event = only(deliver(wa_channel, messages=[image()]))
    assert event.status == Status.PROCESSED, event.error
    message = Message.objects.get()
    assert message.body == "The broken part"
    attachment = Attachment.objects.get(message=message)
    assert (attachment.content_type, attachment.size) == ("image/jpeg", 10)
    assert attachment.filename.startswith("whatsapp-image-1234567890")
    assert attachment.file.read() == b"\xff\xd8JPEGDATA"
    lookups = [r for r in graph.requests if r.method == "GET"]
    assert [r.path for r in lookups] == ["/v21.0/1234567890", "/v21.0/files/1234567890"]
    assert all(r.headers["Authorization"] == "Bearer EAAG-test-token" for r in lookups)


def test_a_document_keeps_its_file_name(wa_channel, graph, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    graph.add_media("555", b"%PDF-1.7", "application/pdf")
    message = {
        "from": "4790000001",
        "id": "wamid.D",
        "type": "document",
        "document": {"id": "555", "filename": "../invoice 12.pdf", "mime_type": "application/pdf"},
    }
    only(deliver(wa_channel, messages=[message]))
    assert Attachment.objects.get().filename == ".._invoice 12.pdf"
    assert Message.objects.get().body == "[Document]"


def test_media_on_another_host_is_refused_and_never_fetched(wa_channel, graph, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    elsewhere = f"http://localhost:{graph.port}/v21.0/files/777"  # same server, another name
    graph.add_media("777", b"secret", "image/png", url=elsewhere)
    event = only(deliver(wa_channel, messages=[image("777")]))
    assert event.status == Status.PROCESSED, event.error
    assert Attachment.objects.count() == 0
    body = Message.objects.get().body
    assert body.startswith(
        "The broken part\n[Image not kept: refused to download media from localhost"
    )
    assert not [r for r in graph.requests if "/files/" in r.path]  # the token never went there


def test_a_configured_media_host_is_allowed(wa_channel, graph, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    WhatsAppSettings.objects.filter(channel=wa_channel).update(media_hosts=["localhost"])
    graph.add_media(
        "778", b"png", "image/png", url=f"http://localhost:{graph.port}/v21.0/files/778"
    )
    only(deliver(wa_channel, messages=[image("778")]))
    assert Attachment.objects.get().file.read() == b"png"


def test_media_larger_than_the_limit_is_not_kept(wa_channel, graph, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    settings.WHATSAPP_MAX_MEDIA_BYTES = 5
    graph.add_media("888", b"0123456789", "image/jpeg")
    only(deliver(wa_channel, messages=[image("888", caption="")]))
    assert Attachment.objects.count() == 0
    assert Message.objects.get().body == "[Image not kept: larger than 0 MB]"


def test_unknown_media_keeps_the_message_with_metas_reason(wa_channel, graph):
    only(deliver(wa_channel, messages=[image("999", caption="")]))
    assert Message.objects.get().body.startswith("[Image not kept: WhatsApp API 400 (code 100)")


def test_meta_not_answering_fails_the_event_whole_and_it_is_retried(
    wa_channel, graph, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    graph.add_media("321", b"jpeg", "image/jpeg")
    WhatsAppSettings.objects.filter(channel=wa_channel).update(
        api_base_url="http://127.0.0.1:9/v21.0"
    )
    event = only(deliver(wa_channel, messages=[image("321")]))
    assert event.status == Status.FAILED and event.error.startswith("MediaUnavailable")
    assert worth_retrying(event)
    assert (Ticket.objects.count(), Contact.objects.count(), Message.objects.count()) == (0, 0, 0)
    WhatsAppSettings.objects.filter(channel=wa_channel).update(api_base_url=graph.url)
    again = process_inbound(event.pk, handle_event)
    assert again.status == Status.PROCESSED
    assert Attachment.objects.get().file.read() == b"jpeg"


# --- statuses ----------------------------------------------------------------------------


@pytest.fixture
def sent_reply(wa_channel, agent):
    """A reply Meta accepted as wamid.OUT1 (our outbox row SENT)."""
    contact = ContactFactory(whatsapp_id="4790000001")
    ticket = TicketFactory(channel=wa_channel, contact=contact, owner=agent)
    message = Message.objects.create(
        ticket=ticket, channel=wa_channel, direction="outbound", body="Hi", author=agent
    )
    outbound = OutboundMessage.objects.create(
        message=message, channel=wa_channel, status="sent", provider_id="wamid.OUT1"
    )
    return WhatsAppOutbound.objects.create(outbound=outbound, to="4790000001")


def at(ts: int):
    return datetime.fromtimestamp(ts, tz=UTC)


def test_statuses_move_our_message_forward_and_never_become_tickets(wa_channel, sent_reply):
    for state, ts in [("sent", 100), ("delivered", 200), ("read", 300)]:
        event = only(
            deliver(wa_channel, statuses=[status_of("wamid.OUT1", state, ts=1717490000 + ts)])
        )
        assert event.status == Status.PROCESSED, event.error
        assert event.message_id == sent_reply.outbound.message_id
        sent_reply.refresh_from_db()
        assert sent_reply.state == state
    assert (sent_reply.sent_at, sent_reply.delivered_at, sent_reply.read_at) == (
        at(1717490100),
        at(1717490200),
        at(1717490300),
    )
    assert Ticket.objects.count() == 1  # only the reply's own
    assert OutboundMessage.objects.get().status == "sent"


def test_a_late_status_never_moves_a_message_backwards(wa_channel, sent_reply):
    only(deliver(wa_channel, statuses=[status_of("wamid.OUT1", "read", ts=1717490300)]))
    late = only(deliver(wa_channel, statuses=[status_of("wamid.OUT1", "delivered", ts=1717490200)]))
    assert late.status == Status.PROCESSED and "arrived late" in late.error
    only(deliver(wa_channel, statuses=[status_of("wamid.OUT1", "sent", ts=1717490100)]))
    sent_reply.refresh_from_db()
    assert sent_reply.state == "read"  # read never becomes delivered
    assert (sent_reply.delivered_at, sent_reply.sent_at) == (at(1717490200), at(1717490100))


def test_a_failed_status_fails_our_outbox_row_with_metas_reason(wa_channel, sent_reply):
    errors = [
        {
            "code": 131026,
            "title": "Message undeliverable",
            "error_data": {"details": "Recipient is not a WhatsApp user"},
        }
    ]
    only(deliver(wa_channel, statuses=[status_of("wamid.OUT1", "failed", errors=errors)]))
    sent_reply.refresh_from_db()
    outbound = OutboundMessage.objects.get()
    assert (sent_reply.state, sent_reply.error_code, sent_reply.error_title) == (
        "failed",
        "131026",
        "Message undeliverable",
    )
    assert outbound.status == "failed"
    assert outbound.last_error == (
        "WhatsApp did not deliver it: Message undeliverable (code 131026) — "
        "Recipient is not a WhatsApp user"
    )
    # …and a delivery report after all proves it arrived: sent again, error cleared
    only(deliver(wa_channel, statuses=[status_of("wamid.OUT1", "delivered")]))
    outbound.refresh_from_db()
    assert (outbound.status, outbound.last_error) == ("sent", "")


def test_a_status_of_a_wamid_we_do_not_know_is_retried_then_ignored(wa_channel, settings):
    settings.WHATSAPP_STATUS_MATCH_ATTEMPTS = 2
    event = only(deliver(wa_channel, statuses=[status_of("wamid.ELSEWHERE", "delivered")]))
    assert event.status == Status.FAILED and worth_retrying(event)
    again = process_inbound(event.pk, handle_event)
    assert again.status == Status.IGNORED and "No message we sent" in again.error
    assert Ticket.objects.count() == 0


def test_an_unknown_status_value_is_ignored(wa_channel, sent_reply):
    event = only(deliver(wa_channel, statuses=[status_of("wamid.OUT1", "deleted")]))
    assert event.status == Status.IGNORED
    sent_reply.refresh_from_db()
    assert sent_reply.state == ""


def test_the_payload_is_stored_as_delivered(wa_channel):
    body = delivery(messages=[text_message("wamid.IN1", "x")])
    post_delivery(wa_channel, body)
    assert bytes(InboundEvent.objects.get().raw) == json.dumps(body).encode()
