"""What the webhooks refuse (issue 12): a bad signature (403, kept as an ignored event), bad
input (400, kept quarantined, nothing else written), the wrong channel, method or body; and
the signature checked against the public URL behind a proxy prefix."""

from urllib.parse import urlencode

import pytest
import time_machine
from django.test import Client

from calls.intake import sign
from calls.models import Call
from helpdesk.models import Channel, Contact, InboundEvent, Message, Ticket
from tests.calls.conftest import BASE, OPEN, TOKEN, call_sid
from tests.factories import ChannelFactory


def nothing_written():
    return (
        Ticket.objects.count(),
        Message.objects.count(),
        Contact.objects.count(),
        Call.objects.count(),
    ) == (0, 0, 0, 0)


@pytest.mark.parametrize("callback", ["incoming", "dial", "status", "recording"])
def test_a_bad_signature_is_refused_and_kept_as_an_ignored_event(twilio, callback):
    fields = {"CallSid": call_sid(), "From": "+4798765432"}

    answer = twilio.post(callback, fields, token="not-the-token")
    again = twilio.post(callback, fields, token="not-the-token")

    assert (answer.status, again.status) == (403, 403)
    assert "X-Twilio-Signature does not match" in answer.json["error"]
    assert nothing_written()
    event = InboundEvent.objects.get()  # the same refused request twice: one row
    assert event.status == "ignored"
    assert event.source_id.startswith("rejected:")
    assert event.payload["refused_callback"] == callback


def test_a_missing_signature_and_a_channel_without_token_are_refused(twilio, call_settings):
    fields = {"CallSid": call_sid(), "From": "+4798765432"}
    assert twilio.post("incoming", fields, signature="").status == 403

    call_settings.auth_token = ""
    call_settings.save()
    # Signed with an empty key: a forger's easiest guess must not pass.
    answer = twilio.post("incoming", fields, token="")
    assert answer.status == 403
    assert answer.json["error"] == "refused: the channel has no Twilio auth token"
    assert nothing_written()


@pytest.mark.parametrize(
    "fields",
    [
        {"From": "+4798765432", "To": "+4722000000"},  # no CallSid
        {"CallSid": "CA123", "From": "+4798765432"},  # not a CallSid
        {"CallSid": call_sid()},  # no From
        {"CallSid": call_sid(), "From": "+47\x00"},  # a null character
        {"CallSid": call_sid(), "From": "x" * 65},
        {"CallSid": call_sid(), "From": "+4798765432", "CallStatus": "exploded"},
    ],
)
@time_machine.travel(OPEN, tick=False)
def test_bad_input_with_a_valid_signature_is_a_400_and_writes_nothing_but_the_event(twilio, fields):
    answer = twilio.post("incoming", fields)

    assert answer.status == 400
    assert answer.json["error"].startswith("bad incoming webhook: ")
    assert nothing_written()
    event = InboundEvent.objects.get()
    assert event.status == "quarantined"
    assert event.source_id.startswith("invalid:")


@pytest.mark.parametrize(
    ("callback", "fields"),
    [
        ("dial", {"CallSid": call_sid(), "DialCallStatus": "exploded"}),
        ("status", {"CallSid": call_sid(), "CallStatus": "completed", "CallDuration": "-4"}),
        ("recording", {"CallSid": call_sid(), "RecordingSid": "RE1", "RecordingUrl": "x"}),
        (
            "recording",
            {
                "CallSid": call_sid(),
                "RecordingSid": "RE" + "0" * 32,
                "RecordingUrl": "javascript:alert(1)",
            },
        ),
    ],
)
def test_bad_callbacks_are_a_400(twilio, callback, fields):
    answer = twilio.post(callback, fields)

    assert answer.status == 400
    assert InboundEvent.objects.get().status == "quarantined"


@time_machine.travel(OPEN, tick=False)
def test_behind_a_proxy_prefix_the_signature_covers_the_prefixed_url(twilio, call_settings):
    call_settings.proxy_prefix = "/helpdesk/"
    call_settings.save()
    channel_id = call_settings.channel_id
    public = f"{BASE}/helpdesk/calls/{channel_id}/incoming/"
    fields = {"CallSid": call_sid(), "From": "+4798765432"}

    unprefixed = twilio.post("incoming", fields, signed_url=f"{BASE}/calls/{channel_id}/incoming/")
    assert unprefixed.status == 403

    answer = twilio.post("incoming", fields, signed_url=public)
    dial = answer.xml.find("Dial")
    assert dial.get("action") == f"{BASE}/helpdesk/calls/{channel_id}/dial/"
    assert InboundEvent.objects.get(source_id=fields["CallSid"]).payload["url"] == public


@time_machine.travel(OPEN, tick=False)
def test_without_a_base_url_the_site_url_is_the_public_address(twilio, call_settings, settings):
    settings.SITE_URL = "https://site.example.org"
    call_settings.public_base_url = ""
    call_settings.save()
    fields = {"CallSid": call_sid(), "From": "+4798765432"}
    url = f"https://site.example.org/calls/{call_settings.channel_id}/incoming/"

    answer = twilio.post("incoming", fields, signed_url=url)

    assert answer.xml.find("Dial").get("action").startswith("https://site.example.org/calls/")


@time_machine.travel(OPEN, tick=False)
def test_the_query_string_is_part_of_the_signed_url(call_settings):
    fields = {"CallSid": call_sid(), "From": "+4798765432"}
    path = f"/calls/{call_settings.channel_id}/incoming/?line=2"

    def post(signed_url):
        return Client().post(
            path,
            urlencode(fields),
            content_type="application/x-www-form-urlencoded",
            headers={"X-Twilio-Signature": sign(auth_token=TOKEN, url=signed_url, params=fields)},
        )

    assert post(BASE + path.split("?")[0]).status_code == 403
    assert post(BASE + path).status_code == 200


def test_unknown_or_other_channels_inactive_ones_wrong_methods_and_bodies(twilio, call_settings):
    client = Client()
    email = ChannelFactory()
    assert client.post(f"/calls/{email.pk}/incoming/", {}).status_code == 404
    assert client.post("/calls/999999/incoming/", {}).status_code == 404
    assert client.get(f"/calls/{call_settings.channel_id}/incoming/").status_code == 405
    response = client.post(
        f"/calls/{call_settings.channel_id}/incoming/", {"a": 1}, content_type="application/json"
    )
    assert response.status_code == 415
    response = client.post(
        f"/calls/{call_settings.channel_id}/incoming/",
        "a=" + "x" * (70 * 1024),
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 413
    Channel.objects.filter(pk=call_settings.channel_id).update(is_active=False)
    fields = {"CallSid": call_sid(), "From": "+4798765432"}
    assert twilio.post("incoming", fields).status == 404
    assert InboundEvent.objects.count() == 0


@time_machine.travel(OPEN, tick=False)  # one hour: one sample
def test_badly_signed_posts_are_kept_as_a_capped_sample_and_all_refused(twilio, settings):
    settings.CALLS_REJECTIONS_PER_HOUR = 5
    answers = [
        twilio.post("incoming", {"CallSid": call_sid(), "From": "+4798765432"}, token="forged")
        for _ in range(settings.CALLS_REJECTIONS_PER_HOUR + 5)
    ]

    assert {a.status for a in answers} == {403}
    kept = InboundEvent.objects.all()
    assert 1 <= kept.count() <= settings.CALLS_REJECTIONS_PER_HOUR
    assert {e.status for e in kept} == {"ignored"}
    assert nothing_written()


def test_with_a_sample_of_zero_refusals_store_nothing(twilio, settings):
    settings.CALLS_REJECTIONS_PER_HOUR = 0
    answer = twilio.post("incoming", {"CallSid": call_sid(), "From": "+4798765432"}, token="x")

    assert answer.status == 403
    assert InboundEvent.objects.count() == 0
