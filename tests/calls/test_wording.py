"""The sentences a call leaves on its ticket (pure)."""

import pytest

from calls import wording


@pytest.mark.parametrize(
    ("seconds", "text"), [(0, "0 s"), (41, "41 s"), (120, "2 min"), (192, "3 min 12 s")]
)
def test_durations_read_as_minutes_and_seconds(seconds, text):
    assert wording.duration(seconds) == text


def test_a_voicemail_shows_its_length_as_a_clock_and_its_link():
    assert wording.voicemail(41, "https://r/RE1") == "Missed call — voicemail 0:41: https://r/RE1"
    assert wording.clock(725) == "12:05"


@pytest.mark.parametrize(
    ("facts", "text"),
    [
        (
            {"answer": "dial", "dial_status": "completed", "dial_seconds": 192},
            "Call answered by Ada Agent, 3 min 12 s",
        ),
        (
            {"answer": "dial", "dial_status": "busy", "dial_seconds": None},
            "Missed call — Ada Agent did not answer (busy); 50 s in all",
        ),
        (
            {"answer": "dial", "dial_status": "", "dial_seconds": None},
            "Missed call — Ada Agent did not answer (no answer); 50 s in all",
        ),
        (
            {"answer": "after_hours", "dial_status": "", "dial_seconds": None},
            "Missed call — after hours; 50 s in all",
        ),
        (
            {"answer": "nobody", "dial_status": "", "dial_seconds": None},
            "Missed call — nobody was free to take it; 50 s in all",
        ),
    ],
)
def test_the_outcome_of_a_completed_call(facts, text):
    assert (
        wording.outcome(agent="Ada Agent", call_status="completed", call_seconds=50, **facts)
        == text
    )


def test_a_call_that_ended_before_it_was_answered():
    text = wording.outcome(
        answer="dial",
        agent="Ada Agent",
        dial_status="",
        dial_seconds=None,
        call_status="canceled",
        call_seconds=0,
    )
    assert text == "Missed call — the call ended before it was answered (canceled)."
