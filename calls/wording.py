"""The sentences a call leaves in its ticket's thread, in the active language (the intake
writes them in the deployment's). Pure: no database."""

from django.utils.translation import gettext

from calls.forms import ANSWERED


def duration(seconds: int | None) -> str:
    """3 min 12 s; 41 s; 2 min."""
    seconds = max(0, int(seconds or 0))
    minutes, rest = divmod(seconds, 60)
    if not minutes:
        return gettext("%(seconds)s s") % {"seconds": rest}
    if rest:
        return gettext("%(minutes)s min %(seconds)s s") % {"minutes": minutes, "seconds": rest}
    return gettext("%(minutes)s min") % {"minutes": minutes}


def clock(seconds: int | None) -> str:
    """0:41; 12:05."""
    minutes, rest = divmod(max(0, int(seconds or 0)), 60)
    return f"{minutes}:{rest:02d}"


def incoming(caller: str, called: str) -> str:
    if called:
        return gettext("Incoming call from %(caller)s to %(called)s.") % {
            "caller": caller,
            "called": called,
        }
    return gettext("Incoming call from %(caller)s.") % {"caller": caller}


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
        return gettext("Missed call — the call ended before it was answered (%(status)s).") % {
            "status": call_status
        }
    if answer == "dial" and dial_status in ANSWERED:
        talked = dial_seconds if dial_seconds is not None else call_seconds
        return gettext("Call answered by %(agent)s, %(duration)s") % {
            "agent": agent,
            "duration": duration(talked),
        }
    if answer == "dial":
        why = gettext("%(agent)s did not answer (%(status)s)") % {
            "agent": agent,
            "status": dial_status or gettext("no answer"),
        }
    elif answer == "after_hours":
        why = gettext("after hours")
    elif answer == "nobody":
        why = gettext("nobody was free to take it")
    else:
        why = gettext("it could not be put through")
    return gettext("Missed call — %(why)s; %(duration)s in all") % {
        "why": why,
        "duration": duration(call_seconds),
    }


def voicemail(seconds: int | None, url: str) -> str:
    return gettext("Missed call — voicemail %(length)s: %(url)s") % {
        "length": clock(seconds),
        "url": url,
    }
