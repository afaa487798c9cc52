"""The incoming-call webhook (issue 12): a Calls ticket, routed now, and the TwiML that rings
the picked agent, or voicemail (R12, R19)."""

import time_machine
from django.core.files.base import ContentFile

from calls.models import Call
from channels_cfg.models import AssignMode, ChannelAutomation
from helpdesk.models import Contact, InboundEvent, Message, Ticket, User
from helpdesk.services import set_status
from routing.models import RoutingDecision
from tests.calls.conftest import ADA_PHONE, BASE, CALLER, CLOSED, OPEN, call_sid
from tests.conftest import make_agent

MP3 = b"ID3\x03\x00\x00\x00\x00\x00\x00" + b"\x00" * 64


def verbs(xml) -> list[str]:
    return [child.tag for child in xml]


@time_machine.travel(OPEN, tick=False)
def test_r19_inside_hours_the_picked_agents_number_is_dialled(twilio, ada, calling_channel):
    sid = call_sid()
    answer = twilio.incoming(sid)

    xml = answer.xml
    assert verbs(xml) == ["Dial"]
    dial = xml.find("Dial")
    assert [n.text for n in dial.findall("Number")] == [ADA_PHONE]
    assert dial.get("action") == f"{BASE}/calls/{calling_channel.pk}/dial/"
    assert dial.get("method") == "POST"
    assert dial.get("timeout") == "20"
    assert dial.get("callerId") == "+4722000000"
    ticket = Ticket.objects.get()
    assert ticket.ticket_type == "calls"  # R12
    assert ticket.owner == ada
    assert ticket.subject == f"Call from {CALLER}"
    assert ticket.contact.phone == CALLER
    decision = RoutingDecision.objects.get(ticket=ticket)
    assert decision.owner == ada
    call = Call.objects.get()
    assert (call.call_sid, call.ticket, call.answer) == (sid, ticket, Call.Answer.DIAL)
    assert (call.dialled_user, call.dialled_number) == (ada, ADA_PHONE)
    event = InboundEvent.objects.get()
    assert (event.kind, event.source_id, event.status) == ("call", sid, "processed")
    assert event.ticket == ticket
    assert event.payload["form"]["From"] == [CALLER]


@time_machine.travel(OPEN, tick=False)
def test_r11_r19_routing_picks_whom_to_ring_an_away_agent_is_not_rung(twilio, ada, calling_channel):
    otto = make_agent("otto", first_name="Otto", last_name="Other", phone="+4711111111")
    ChannelAutomation.objects.get(channel=calling_channel).users.add(otto)
    set_status(user=ada, status=User.Status.AWAY)

    xml = twilio.incoming(call_sid()).xml

    assert [n.text for n in xml.find("Dial").findall("Number")] == ["+4711111111"]
    assert Ticket.objects.get().owner == otto


@time_machine.travel(CLOSED, tick=False)
def test_r19_after_hours_the_message_is_said_then_recorded(twilio, calling_channel):
    xml = twilio.incoming(call_sid()).xml

    assert verbs(xml) == ["Say", "Record", "Hangup"]
    assert xml.find("Say").text == "We open at eight. Please leave a message."
    record = xml.find("Record")
    recording_url = f"{BASE}/calls/{calling_channel.pk}/recording/"
    assert record.get("action") == recording_url
    assert record.get("recordingStatusCallback") == recording_url
    assert record.get("maxLength") == "120"
    ticket = Ticket.objects.get()
    assert ticket.owner is None
    assert "after hours" in RoutingDecision.objects.get(ticket=ticket).summary
    assert Call.objects.get().answer == Call.Answer.AFTER_HOURS


@time_machine.travel(CLOSED, tick=False)
def test_r19_after_hours_a_recorded_greeting_is_played(twilio, calling_channel, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    automation = ChannelAutomation.objects.get(channel=calling_channel)
    automation.voicemail_greeting.save("greeting.mp3", ContentFile(MP3))

    xml = twilio.incoming(call_sid()).xml

    assert verbs(xml) == ["Play", "Record", "Hangup"]
    played = xml.find("Play").text
    assert played.startswith(f"{BASE}/media/calling/voicemail/greeting")
    assert played.endswith(".mp3")


@time_machine.travel(OPEN, tick=False)
def test_r19_calling_assignment_off_rings_nobody_and_takes_a_voicemail(twilio, calling_channel):
    ChannelAutomation.objects.filter(channel=calling_channel).update(assign_mode=AssignMode.NONE)

    xml = twilio.incoming(call_sid()).xml

    assert verbs(xml) == ["Say", "Record", "Hangup"]
    assert Ticket.objects.get().owner is None
    assert Call.objects.get().answer == Call.Answer.NOBODY


@time_machine.travel(OPEN, tick=False)
def test_an_agent_without_a_phone_number_keeps_the_ticket_and_the_caller_leaves_a_voicemail(
    twilio, ada, calling_channel, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    User.objects.filter(pk=ada.pk).update(phone="")
    automation = ChannelAutomation.objects.get(channel=calling_channel)
    automation.unanswered_call_audio.save("sorry.mp3", ContentFile(MP3))

    xml = twilio.incoming(call_sid()).xml

    assert verbs(xml) == ["Play", "Record", "Hangup"]
    assert xml.find("Play").text.startswith(f"{BASE}/media/calling/unanswered/sorry")
    assert Ticket.objects.get().owner == ada


@time_machine.travel(OPEN, tick=False)
def test_a_redelivered_incoming_call_answers_the_same_twiml_and_changes_nothing(
    twilio, calling_channel
):
    sid = call_sid()
    first = twilio.incoming(sid)
    second = twilio.incoming(sid)

    assert second.status == 200
    assert second.body == first.body
    assert Ticket.objects.count() == 1
    assert Message.objects.count() == 1
    assert Call.objects.count() == 1
    assert InboundEvent.objects.count() == 1
    assert RoutingDecision.objects.count() == 1


@time_machine.travel(OPEN, tick=False)
def test_a_known_caller_is_the_same_contact_an_anonymous_caller_none(twilio, calling_channel):
    known = Contact.objects.create(name="Kim Caller", phone=CALLER)
    twilio.incoming(call_sid())
    twilio.incoming(call_sid(), caller="anonymous")

    tickets = list(Ticket.objects.order_by("pk"))
    assert [t.contact for t in tickets] == [known, None]
    assert tickets[1].subject == "Call from anonymous"
    assert Contact.objects.count() == 1


@time_machine.travel(OPEN, tick=False)
def test_the_webhook_runs_a_fixed_number_of_queries(
    twilio, calling_channel, django_assert_max_num_queries
):
    twilio.incoming(call_sid())  # warm caches (content types, permissions)
    with django_assert_max_num_queries(40):
        assert twilio.incoming(call_sid()).status == 200
    with django_assert_max_num_queries(8):
        assert twilio.incoming(Call.objects.first().call_sid).status == 200  # a redelivery
