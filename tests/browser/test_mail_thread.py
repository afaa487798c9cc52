"""The email thread in a real browser (issue 11, "Settings and pages"): each message shows its
direction, sender, time, delivery state and attachments; a failed reply's Retry button
queues it again. Screenshots at desktop and phone width."""

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone

from helpdesk.models import Attachment, Channel, Message, OutboundMessage
from tests.factories import ChannelFactory, ContactFactory, MessageFactory, TicketFactory

pytestmark = pytest.mark.browser

Status = OutboundMessage.Status


@pytest.fixture
def mail_ticket(agent, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    channel = ChannelFactory(
        kind=Channel.Kind.TEAM_EMAIL, name="Support inbox", address="support@help.example"
    )
    contact = ContactFactory(name="Kim Larsen", email="kim@customer.example")
    ticket = TicketFactory(
        subject="Invoice 2024-113 charged twice", channel=channel, contact=contact, owner=agent
    )
    first = MessageFactory(
        ticket=ticket,
        body="Hello, I was charged twice for invoice 2024-113. The statement is attached.",
        sender_name="Kim Larsen",
        sender_address="kim@customer.example",
        external_id="<first@customer.example>",
        quoted="On Mon, Support wrote:\n> Your invoice 2024-113 is attached.",
    )
    Attachment.objects.create(
        message=first,
        filename="statement.pdf",
        content_type="application/pdf",
        size=11,
        file=ContentFile(b"%PDF-1.4 ok", name="statement.pdf"),
    )

    def outbound(body, status, error="", automatic=False):
        message = Message.objects.create(
            ticket=ticket,
            channel=channel,
            direction=Message.Direction.OUTBOUND,
            author=None if automatic else agent,
            body=body,
            is_automatic=automatic,
        )
        return OutboundMessage.objects.create(
            message=message,
            channel=channel,
            status=status,
            attempts=1,
            last_error=error,
            sent_at=timezone.now() if status == Status.SENT else None,
            provider_id=f"<reply.{message.pk}@help.example>",
        )

    ack = outbound("We received your request.", Status.SENT, automatic=True)
    sent = outbound("Sorry about that, the second charge is refunded.", Status.SENT)
    failed = outbound(
        "The refund reference is R-5521.",
        Status.FAILED,
        error="Recipient refused: kim@customer.example: 550 5.1.1 No such user",
    )
    return {"ticket": ticket, "ack": ack, "sent": sent, "failed": failed}


def test_thread_shows_direction_sender_state_and_attachments(
    login_page, agent, mail_ticket, screenshot
):
    ticket = mail_ticket["ticket"]
    page = login_page(agent, f"/tickets/{ticket.pk}/")
    inbound = page.locator("article[data-direction=inbound]")
    assert "Kim Larsen" in inbound.inner_text()
    assert "kim@customer.example" in inbound.inner_text()
    assert "from contact" in inbound.locator(".hd-msg-kind").text_content()
    quoted = inbound.locator("details.hd-quoted")
    assert not quoted.locator(".hd-quoted-body").is_visible()  # folded away
    quoted.locator("summary").click()
    assert "Your invoice 2024-113 is attached." in quoted.locator(".hd-quoted-body").inner_text()
    link = inbound.locator("[data-attachment]")
    assert link.inner_text() == "statement.pdf"

    ack = page.locator(f"#message-{mail_ticket['ack'].message_id}")
    assert ack.locator(".hd-msg-kind").text_content() == "automatic answer to contact"
    assert ack.locator("[data-delivery=sent]").is_visible()
    sent = page.locator(f"#message-{mail_ticket['sent'].message_id}")
    assert "Ada Agent" in sent.inner_text()
    assert sent.locator(".hd-msg-kind").text_content() == "reply to contact"
    assert sent.locator("[data-delivery=sent]").inner_text().startswith("Sent")
    failed = page.locator(f"#message-{mail_ticket['failed'].message_id}")
    assert "550 5.1.1 No such user" in failed.locator("[data-delivery=failed]").inner_text()
    screenshot("mail-thread")

    page.set_viewport_size({"width": 390, "height": 844})
    failed.scroll_into_view_if_needed()
    assert failed.locator("[data-retry]").is_visible()
    screenshot("mail-thread-phone")
    page.set_viewport_size({"width": 1280, "height": 800})

    with page.expect_navigation():
        failed.locator("[data-retry]").click()
    assert (
        "queued to be sent again" in page.locator(".alert, [role=alert], .toast").first.inner_text()
    )
    outbound = OutboundMessage.objects.get(pk=mail_ticket["failed"].pk)
    assert outbound.status in (Status.QUEUED, Status.SENDING, Status.SENT)
    state = page.locator(f"#message-{outbound.message_id} [data-delivery]")
    assert state.get_attribute("data-delivery") in ("queued", "sending", "sent")
    assert page.console_errors == []
