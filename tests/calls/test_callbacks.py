"""The dial's outcome, the call's final status and the voicemail recording (issue 12, R19):
each is stored raw once and attaches a readable message to the call's ticket, once."""

import pytest
import time_machine
from django.core.files.base import ContentFile

from calls.models import Call
from channels_cfg.models import ChannelAutomation
from helpdesk.models import InboundEvent, Message, Ticket
from tests.calls.conftest import BASE, CALLER, CLOSED, OPEN, call_sid, recording_sid

MP3 = b"ID3\x03\x00\x00\x00\x00\x00\x00" + b"\x00" * 64


def thread(ticket) -> list[str]:
    return list(Message.objects.filter(ticket=ticket).order_by("id").values_list("body", flat=True))


@pytest.mark.parametrize("status", ["no-answer", "busy", "failed"])
@time_machine.travel(OPEN, tick=False)
def test_r19_nobody_answers_the_unanswered_audio_plays_and_a_voicemail_is_recorded(
    twilio, calling_channel, settings, tmp_path, status
):
    settings.MEDIA_ROOT = tmp_path
    automation = ChannelAutomation.objects.get(channel=calling_channel)
    automation.unanswered_call_audio.save("busy.mp3", ContentFile(MP3))
    sid = call_sid()
    twilio.incoming(sid)

    xml = twilio.dial(sid, status).xml

    assert [child.tag for child in xml] == ["Play", "Record", "Hangup"]
    assert xml.find("Play").text.startswith(f"{BASE}/media/calling/unanswered/busy")
    record = xml.find("Record")
    assert record.get("action") == f"{BASE}/calls/{calling_channel.pk}/recording/"
    assert record.get("playBeep") == "true"
    assert Call.objects.get().dial_status == status


@time_machine.travel(OPEN, tick=False)
def test_an_answered_dial_hangs_up_when_the_agent_does(twilio, calling_channel):
    sid = call_sid()
    twilio.incoming(sid)

    xml = twilio.dial(sid, "completed", seconds=192).xml

    assert [child.tag for child in xml] == ["Hangup"]
    call = Call.objects.get()
    assert (call.dial_status, call.dial_duration) == ("completed", 192)


@time_machine.travel(OPEN, tick=False)
def test_a_redelivered_dial_callback_answers_the_same_and_changes_nothing(twilio, calling_channel):
    sid = call_sid()
    twilio.incoming(sid)
    first = twilio.dial(sid, "no-answer")
    again = twilio.dial(sid, "no-answer")

    assert again.body == first.body
    assert InboundEvent.objects.filter(source_id=f"dial:{sid}").count() == 1


@time_machine.travel(OPEN, tick=False)
def test_the_status_callback_says_who_answered_and_for_how_long_once(twilio, calling_channel):
    sid = call_sid()
    twilio.incoming(sid)
    twilio.dial(sid, "completed", seconds=192)

    assert twilio.status(sid, "completed", 215).status == 200
    assert twilio.status(sid, "completed", 215).status == 200  # redelivered

    ticket = Ticket.objects.get()
    assert thread(ticket) == [
        f"Incoming call from {CALLER} to +4722000000.",
        "Call answered by Ada Agent, 3 min 12 s",
    ]
    message = Message.objects.filter(ticket=ticket).last()
    assert message.external_id == f"status:{sid}:completed"
    assert message.is_automatic
    call = Call.objects.get()
    assert (call.status, call.duration) == ("completed", 215)
    events = InboundEvent.objects.filter(source_id=f"status:{sid}:completed")
    assert [e.status for e in events] == ["processed"]


@time_machine.travel(CLOSED, tick=False)
def test_after_hours_the_voicemail_link_and_the_missed_call_reach_the_ticket_once(
    twilio, calling_channel
):
    sid, rec = call_sid(), recording_sid()
    twilio.incoming(sid)

    # Twilio requests the <Record>'s action, then its status callback: the same recording.
    action = twilio.recording(sid, rec, 41)
    callback = twilio.recording(sid, rec, 41, RecordingStatus="completed")
    twilio.status(sid, "completed", 52)
    twilio.status(sid, "completed", 52)

    assert [child.tag for child in action.xml] == ["Hangup"]
    assert callback.status == 200
    ticket = Ticket.objects.get()
    link = f"https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/{rec}"
    assert thread(ticket)[1:] == [
        f"Missed call — voicemail 0:41: {link}",
        "Missed call — after hours; 52 s in all",
    ]
    voicemail = Message.objects.get(external_id=f"recording:{rec}")
    assert not voicemail.is_automatic  # a person's message: the ticket waits on us
    call = Call.objects.get()
    assert (call.recording_sid, call.recording_url, call.recording_duration) == (rec, link, 41)
    assert InboundEvent.objects.filter(source_id=f"recording:{rec}").count() == 1


@time_machine.travel(OPEN, tick=False)
def test_a_call_dropped_before_it_was_answered_is_a_missed_call(twilio, calling_channel):
    sid = call_sid()
    twilio.incoming(sid)
    twilio.dial(sid, "no-answer")
    twilio.status(sid, "completed", 30)

    assert thread(Ticket.objects.get())[-1] == (
        "Missed call — Ada Agent did not answer (no-answer); 30 s in all"
    )


@time_machine.travel(OPEN, tick=False)
def test_a_status_that_is_not_final_is_kept_and_writes_nothing(twilio, calling_channel):
    sid = call_sid()
    twilio.incoming(sid)

    assert twilio.status(sid, "in-progress", 3).status == 200

    assert Message.objects.count() == 1
    event = InboundEvent.objects.get(source_id=f"status:{sid}:in-progress")
    assert event.status == "ignored"


@time_machine.travel(OPEN, tick=False)
def test_a_callback_for_a_call_we_never_answered_fails_retryably_and_writes_nothing(
    twilio, calling_channel
):
    sid = call_sid()
    answer = twilio.status(sid, "completed", 10)

    assert answer.status == 200
    event = InboundEvent.objects.get(source_id=f"status:{sid}:completed")
    assert event.status == "failed"
    assert "no call" in event.error
    assert Message.objects.count() == 0
