"""Shared pieces of the inbound-mail tests: a team-email channel with its MailSettings, and
`deliver(raw)` — store and process one mail the way every way in does."""

import pytest

from helpdesk.models import InboundEvent
from helpdesk.services.intake import process_inbound
from mailroom.inbound import handle_email, store_email
from mailroom.models import MailSettings
from tests.factories import ChannelFactory
from tests.mailroom.conftest import eml

SUPPORT = "support@helpdesk.example"


@pytest.fixture(name="mailbox")
def mailbox_fixture(db, settings, tmp_path):
    """The Support inbox: a team-email channel answering for support@helpdesk.example;
    attachments go to a temporary MEDIA_ROOT."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    channel = ChannelFactory(name="Support", address=SUPPORT)
    return MailSettings.objects.create(channel=channel, addresses=[SUPPORT])


def deliver(channel, raw: bytes) -> InboundEvent:
    """Store then process one raw mail; returns the event as processing left it."""
    event, _ = store_email(channel=channel, raw=raw)
    process_inbound(event.pk, handle_email)
    return InboundEvent.objects.get(pk=event.pk)


def mail(
    *,
    sender="Kim Customer <kim@customer.example>",
    to=SUPPORT,
    subject="Printer on fire",
    body="Please help, the printer is on fire.",
    message_id="<first.1@customer.example>",
    extra: str = "",
) -> bytes:
    """A small personal mail; `extra` adds header lines (CRLF-free, one per line)."""
    lines = [f"From: {sender}", f"To: {to}", f"Subject: {subject}"]
    if message_id:
        lines.append(f"Message-ID: {message_id}")
    lines += [line for line in extra.splitlines() if line.strip()]
    lines += ["Date: Tue, 04 Jun 2024 10:01:30 +0200", "MIME-Version: 1.0",
              "Content-Type: text/plain; charset=utf-8", "", body, ""]  # fmt: skip
    return "\r\n".join(lines).encode()


def fixture_with(name: str, **replace: str) -> bytes:
    """An .eml fixture with some header values replaced (`In_Reply_To="<…>"`)."""
    raw = eml(name)
    head, sep, rest = raw.partition(b"\n\n")
    out = []
    for line in head.split(b"\n"):
        for header, value in replace.items():
            name_bytes = header.replace("_", "-").encode().lower() + b":"
            if line.lower().startswith(name_bytes):
                line = name_bytes[:-1] + b": " + value.encode()
        out.append(line)
    return b"\n".join(out) + sep + rest
