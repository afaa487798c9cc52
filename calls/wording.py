"""The sentences a call leaves in its ticket's thread. Pure: no database."""

from calls.forms import ANSWERED


def duration(seconds: int | None) -> str:
    """3 min 12 s; 41 s; 2 min."""
    seconds = max(0, int(seconds or 0))
    minutes, rest = divmod(seconds, 60)
    if not minutes:
        return f"{rest} s"
    return f"{minutes} min {rest} s" if rest else f"{minutes} min"


def clock(seconds: int | None) -> str:
    """0:41; 12:05."""
    minutes, rest = divmod(max(0, int(seconds or 0)), 60)
    return f"{minutes}:{rest:02d}"


def incoming(caller: str, called: str) -> str:
    return f"Incoming call from {caller}" + (f" to {called}." if called else ".")


def outcome(
    *,
    answer: str,
    agent: str,
    dial_status: str,
    dial_seconds: int | None,
    call_status: str,
    call_seconds: int | None,
) -> str:
    """The call's outcome once it ended. `answer` is a `Call.Answer` value."""
    if call_status != "completed":
        return f"Missed call — the call ended before it was answered ({call_status})."
    if answer == "dial" and dial_status in ANSWERED:
        talked = dial_seconds if dial_seconds is not None else call_seconds
        return f"Call answered by {agent}, {duration(talked)}"
    if answer == "dial":
        why = f"{agent} did not answer ({dial_status or 'no answer'})"
    elif answer == "after_hours":
        why = "after hours"
    elif answer == "nobody":
        why = "nobody was free to take it"
    else:
        why = "it could not be put through"
    return f"Missed call — {why}; {duration(call_seconds)} in all"


def voicemail(seconds: int | None, url: str) -> str:
    return f"Missed call — voicemail {clock(seconds)}: {url}"
