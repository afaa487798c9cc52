"""Issue 12: hypothesis fuzz of the webhooks' form parsing. Arbitrary fields, validly signed,
on each of the four webhooks: never a 5xx, every stored event settled, never a half-written
ticket or call."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from calls.models import Call
from helpdesk.models import InboundEvent, Ticket
from tests.calls.conftest import call_sid, recording_sid

fuzz = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
CALLBACKS = ["incoming", "dial", "status", "recording"]
NAMES = [
    "CallSid",
    "From",
    "To",
    "CallStatus",
    "DialCallStatus",
    "DialCallDuration",
    "CallDuration",
    "RecordingSid",
    "RecordingUrl",
    "RecordingDuration",
    "RecordingStatus",
]
values = st.one_of(
    st.text(max_size=80),
    st.sampled_from(["completed", "no-answer", "busy", "ringing", "-1", "99999999999", ""]),
    st.builds(call_sid),
    st.builds(recording_sid),
    st.just("+4798765432"),
    st.just("https://api.twilio.com/Recordings/RE1"),
)
fields = st.dictionaries(
    st.one_of(st.sampled_from(NAMES), st.text(min_size=1, max_size=20)), values, max_size=12
)


def check(twilio, callback: str, form: dict) -> None:
    answer = twilio.post(callback, form)
    assert answer.status in (200, 400), answer.body
    if answer.status == 200:
        answer.xml  # noqa: B018 (well-formed TwiML)
    for event in InboundEvent.objects.all():
        assert event.status != "received", event  # settled
        if event.status == "failed":  # only a callback for a call nobody answered
            assert "no call" in event.error, event.error
    assert not Ticket.objects.filter(messages__isnull=True).exists()
    assert Call.objects.count() == Ticket.objects.count()


@fuzz
@given(callback=st.sampled_from(CALLBACKS), form=fields)
def test_arbitrary_signed_fields_never_give_a_5xx(twilio, callback, form):
    check(twilio, callback, form)


@fuzz
@given(callback=st.sampled_from(CALLBACKS), extra=fields)
def test_a_known_call_with_arbitrary_extra_fields_never_gives_a_5xx(twilio, callback, extra):
    sid = call_sid()
    assert twilio.incoming(sid).status == 200
    check(twilio, callback, {**extra, "CallSid": sid})
