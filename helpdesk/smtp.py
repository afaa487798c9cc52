"""The one SMTP retry rule of every mail we send (notifications, replies): send once, and
say whether it went, failed for good (a 5xx answer, or the last attempt), or may go later —
after the backoff of `helpdesk.jobs.backoff_seconds`. Unexpected errors propagate."""

import smtplib
from collections.abc import Callable
from dataclasses import dataclass

from helpdesk.jobs import backoff_seconds

# The server refused for now, or could not be reached: worth another try...
TEMPORARY_ERRORS = (smtplib.SMTPException, OSError)


def is_permanent(exc: BaseException) -> bool:
    """...unless it answered 5xx: the server will say the same next time, so do not retry."""
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code >= 500
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in exc.recipients.values())
    return False


def describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:2000]


class TemporaryFailure(Exception):
    """The mail may leave later; its row is due again after `retry_in` seconds."""

    def __init__(self, error: str, retry_in: int):
        super().__init__(error)
        self.retry_in = retry_in


@dataclass(frozen=True)
class Attempt:
    sent: bool
    error: str = ""
    retry_in: int | None = None  # not sent: None when final, else the wait before the next try


def send_once(
    message,
    *,
    attempts: int,
    final: bool,
    base: int,
    explain: Callable[[BaseException], str] = describe,
) -> Attempt:
    """`message.send()` once; `attempts` counts this one, `final` says it is the last."""
    try:
        message.send()
    except TEMPORARY_ERRORS as exc:
        error = explain(exc)
        if is_permanent(exc):
            return Attempt(sent=False, error=error)
        if final:
            return Attempt(sent=False, error=f"Gave up after {attempts} attempts: {error}")
        return Attempt(sent=False, error=error, retry_in=backoff_seconds(attempts, base=base))
    return Attempt(sent=True)
