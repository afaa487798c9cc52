"""The one SMTP retry rule of every mail we send (notifications, replies): which errors are
worth another try, and which answers are final."""

import smtplib

# The server refused for now, or could not be reached: worth another try...
TEMPORARY_ERRORS = (smtplib.SMTPException, OSError)


def is_permanent(exc: BaseException) -> bool:
    """...unless it answered 5xx: the server will say the same next time, so do not retry."""
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code >= 500
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in exc.recipients.values())
    return False
