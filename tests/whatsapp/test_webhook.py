"""Issue 12, WhatsApp's webhook: Meta's verification handshake, and deliveries verified by
`X-Hub-Signature-256` before anything is kept — then stored raw first, one event per message
and status in one transaction, answered 200 and processed by a worker."""

import json

import pytest
from django.test import Client

from helpdesk.models import Channel, InboundEvent, Message, Ticket
from tests.factories import ChannelFactory
from tests.whatsapp.conftest import (
    VERIFY_TOKEN,
    delivery,
    post_delivery,
    status_of,
    text_message,
    webhook_url,
)
from whatsapp.models import WhatsAppSettings
from whatsapp.payload import sign

pytestmark = pytest.mark.django_db

Status = InboundEvent.Status
PROCESS_TASK = "whatsapp.tasks.process_whatsapp_task"


# --- the GET handshake -------------------------------------------------------------------


def handshake(channel, **params):
    query = {
        "hub.mode": "subscribe",
        "hub.verify_token": VERIFY_TOKEN,
        "hub.challenge": "1158201444",
    }
    query.update(params)
    return Client().get(webhook_url(channel), query)


def test_meta_subscribing_with_our_verify_token_gets_its_challenge_back(wa_channel):
    response = handshake(wa_channel)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert response.content == b"1158201444"


@pytest.mark.parametrize(
    "params",
    [{"hub.verify_token": "guess"}, {"hub.mode": "unsubscribe"}, {"hub.verify_token": ""}],
    ids=["wrong-token", "wrong-mode", "no-token"],
)
def test_a_handshake_without_our_verify_token_is_refused(wa_channel, params):
    response = handshake(wa_channel, **params)
    assert response.status_code == 403
    assert b"1158201444" not in response.content


def test_a_channel_without_whatsapp_settings_or_of_another_kind_is_not_found(wa_channel):
    email = ChannelFactory(kind=Channel.Kind.TEAM_EMAIL)
    WhatsAppSettings.objects.create(
        channel=email, phone_number_id="1", app_secret="x", verify_token=VERIFY_TOKEN
    )
    bare = ChannelFactory(kind=Channel.Kind.WHATSAPP)
    for channel in (email, bare):
        assert handshake(channel).status_code == 404
        assert post_delivery(channel, delivery()).status_code == 404
    wa_channel.is_active = False
    wa_channel.save()
    assert handshake(wa_channel).status_code == 404
    assert InboundEvent.objects.count() == 0


# --- POST: stored raw first --------------------------------------------------------------


def test_a_delivery_stores_one_event_per_message_and_status_and_publishes_them(
    wa_channel, published_tasks, django_capture_on_commit_callbacks
):
    body = delivery(
        messages=[
            text_message("wamid.IN1", "My order has not arrived"),
            text_message("wamid.IN2", "Order 4711", sender="4790000002"),
        ],
        statuses=[status_of("wamid.OUT9", "delivered")],
    )
    raw = json.dumps(body).encode()
    with django_capture_on_commit_callbacks(execute=True):
        response = post_delivery(wa_channel, raw)
    assert response.status_code == 200
    assert response.json() == {"stored": 3, "duplicates": 0}
    events = list(InboundEvent.objects.order_by("pk"))
    assert [e.source_id for e in events] == [
        "wamid.IN1",
        "wamid.IN2",
        "status:wamid.OUT9:delivered",
    ]
    assert {(e.kind, e.status, e.channel_id) for e in events} == {
        ("whatsapp", Status.RECEIVED, wa_channel.pk)
    }
    first, second, third = events
    assert bytes(first.raw) == raw  # the delivery as signed, kept once
    assert first.headers["X-Hub-Signature-256"] == sign(raw, "app-secret-for-tests")
    assert bytes(second.raw) == b"" and second.headers == {"delivery_event": first.pk}
    assert first.payload["message"]["text"]["body"] == "My order has not arrived"
    assert first.payload["contact"]["profile"]["name"] == "Kim Kunde"
    assert second.payload["contact"]["wa_id"] == "4790000002"
    assert third.payload["status"]["status"] == "delivered"
    assert published_tasks.names == [PROCESS_TASK] * 3
    assert Ticket.objects.count() == 0  # processing is the worker's


def test_a_redelivered_delivery_stores_nothing_new(wa_channel):
    body = delivery(messages=[text_message("wamid.IN1", "Hello")])
    assert post_delivery(wa_channel, body).json() == {"stored": 1, "duplicates": 0}
    again = post_delivery(wa_channel, body)
    assert again.status_code == 200
    assert again.json() == {"stored": 0, "duplicates": 1}
    assert InboundEvent.objects.count() == 1


def test_a_delivery_without_messages_or_statuses_is_kept_and_ignored(wa_channel, published_tasks):
    body = {
        "object": "whatsapp_business_account",
        "entry": [{"changes": [{"field": "account_update", "value": {"event": "VERIFIED"}}]}],
    }
    assert post_delivery(wa_channel, body).json() == {"stored": 1, "duplicates": 0}
    event = InboundEvent.objects.get()
    assert event.source_id.startswith("other:")
    from helpdesk.services.intake import process_inbound
    from whatsapp.inbound import handle_event

    done = process_inbound(event.pk, handle_event)
    assert done.status == Status.IGNORED
    assert "no message and no status" in done.error


# --- refusals ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("signature", "why"),
    [
        ("", "missing"),
        ("sha256=" + "0" * 64, "does not match"),
        (sign(b"another body", "app-secret-for-tests"), "does not match"),
        ("sha1=abc", "does not match"),
    ],
    ids=["missing", "zeros", "other-body", "wrong-prefix"],
)
def test_a_bad_signature_is_refused_and_only_the_rejection_is_kept(
    wa_channel, published_tasks, signature, why
):
    body = delivery(messages=[text_message("wamid.FORGED", "Send me the refund")])
    response = post_delivery(wa_channel, body, signature=signature)
    assert response.status_code == 403
    assert why in response.json()["error"]
    event = InboundEvent.objects.get()
    assert event.status == Status.IGNORED
    assert event.source_id.startswith("rejected:")
    assert event.error.startswith("Rejected with 403") and why in event.error
    assert published_tasks.names == []
    assert (Ticket.objects.count(), Message.objects.count()) == (0, 0)


def test_a_delivery_signed_with_another_secret_is_refused(wa_channel):
    body = delivery(messages=[text_message("wamid.X", "Hi")])
    assert post_delivery(wa_channel, body, secret="not-our-secret").status_code == 403
    assert not InboundEvent.objects.exclude(source_id__startswith="rejected:").exists()


def test_rejections_are_kept_as_a_bounded_sample(wa_channel, settings):
    settings.WHATSAPP_REJECTIONS_PER_HOUR = 2
    for n in range(20):
        body = delivery(messages=[text_message(f"wamid.F{n}", "x")])
        assert post_delivery(wa_channel, body, signature="sha256=00").status_code == 403
    assert 1 <= InboundEvent.objects.count() <= 2


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b"",
        b"[1, 2]",
        b'"text"',
        b'{"a": NaN}',
        b'{"a": 1e999}',
        b"\xff\xfe{",
        b"[" * 5000,
    ],
    ids=["text", "empty", "list", "string", "nan", "infinite", "bad-utf8", "deep"],
)
def test_a_signed_body_that_is_not_a_json_object_is_a_400_and_stores_nothing(wa_channel, raw):
    response = post_delivery(wa_channel, raw)
    assert response.status_code == 400
    assert "not a WhatsApp webhook delivery" in response.json()["error"]
    assert InboundEvent.objects.count() == 0


def test_a_delivery_larger_than_the_limit_is_a_413(wa_channel, settings):
    settings.WHATSAPP_MAX_BODY_BYTES = 1000
    body = delivery(messages=[text_message("wamid.BIG", "x" * 2000)])
    assert post_delivery(wa_channel, body).status_code == 413
    assert InboundEvent.objects.count() == 0


def test_nul_characters_and_lone_surrogates_are_stored_readably(wa_channel):
    raw = (
        b'{"entry": [{"changes": [{"value": {"metadata": {"phone_number_id": "109876543210"},'
        b' "messages": [{"id": "wamid.NUL", "from": "4790000001", "type": "text",'
        b' "text": {"body": "a\\u0000b\\ud800c"}}]}}]}]}'
    )
    assert post_delivery(wa_channel, raw).status_code == 200
    event = InboundEvent.objects.get()
    assert event.payload["message"]["text"]["body"] == "a\ufffdb?c"


def test_other_methods_are_not_allowed(wa_channel):
    assert Client().put(webhook_url(wa_channel)).status_code == 405
