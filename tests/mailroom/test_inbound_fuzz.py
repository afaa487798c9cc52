"""Issue 11: bad input never breaks intake end to end. Arbitrary bytes and mutated real-shaped
mails through the HTTP endpoint and the handler: never a 5xx, never an exception out of the
adapter, every event settled, never a ticket without its message."""

from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpdesk.models import InboundEvent, Ticket
from helpdesk.services.intake import process_inbound
from mailroom.inbound import handle_email
from tests.mailroom.helpers import mail, mailbox_fixture  # noqa: F401
from tests.mailroom.test_fuzz import mutated

SETTLED = {"processed", "ignored", "quarantined", "failed"}
fuzz = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def check_through_the_endpoint(mailbox, token, raw: bytes) -> None:
    url = reverse("mail-inbound", args=[mailbox.channel_id])
    response = Client().post(
        url, data=raw, content_type="message/rfc822", HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    assert response.status_code < 500
    assert response.status_code in (202, 400), response.content
    if response.status_code == 202:
        event_id = response.json()["event"]
        process_inbound(event_id, handle_email)  # must not raise
        event = InboundEvent.objects.get(pk=event_id)
        assert event.status in SETTLED
        assert event.status != "failed", event.error  # bad input is quarantined, not a crash
    assert not Ticket.objects.filter(messages__isnull=True).exists()


@fuzz
@given(raw=st.binary(max_size=2000))
def test_arbitrary_bytes_never_give_a_5xx_or_a_half_written_ticket(mailbox, raw):
    token = mailbox.set_endpoint_token()
    mailbox.save()
    check_through_the_endpoint(mailbox, token, raw)


@fuzz
@given(raw=mutated())
def test_mutated_real_mail_never_gives_a_5xx_or_a_half_written_ticket(mailbox, raw):
    token = mailbox.set_endpoint_token()
    mailbox.save()
    check_through_the_endpoint(mailbox, token, raw)


@fuzz
@given(
    subject=st.text(max_size=300),
    name=st.text(max_size=80),
    body=st.text(max_size=500),
)
def test_arbitrary_text_in_headers_and_body_never_breaks_the_handler(mailbox, subject, name, body):
    header_safe = [s.replace("\r", " ").replace("\n", " ") for s in (subject, name)]
    raw = mail(sender=f'"{header_safe[1]}" <kim@customer.example>', subject=header_safe[0],
               body=body, message_id="")  # fmt: skip
    token = mailbox.set_endpoint_token()
    mailbox.save()
    check_through_the_endpoint(mailbox, token, raw)
