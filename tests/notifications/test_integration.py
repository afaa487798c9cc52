"""The real thing: a Celery worker process on Redis and a real SMTP server (aiosmtpd). A
routed ticket produces exactly one email, to its new owner, with the right headers (R24)."""

from email.header import decode_header, make_header

import pytest

from channels_cfg.models import AssignMode
from helpdesk import services
from helpdesk.models import Ticket
from notifications.models import Delivery, Notification
from tests.factories import AgentFactory, ChannelAutomationFactory
from tests.support.services import wait_until

SITE_URL = "https://help.example.test"


@pytest.fixture
def smtp_for_worker(smtp_server, request):
    """Point the worker process at this test's SMTP server: `worker_env` with the URL the
    server got (its port is only known now), read by the `celery_worker` fixture."""
    request.applymarker(
        pytest.mark.worker_env(
            EMAIL_URL=smtp_server.url, SITE_URL=SITE_URL, DEFAULT_FROM_EMAIL="help@example.test"
        )
    )
    return smtp_server


@pytest.mark.smtp
@pytest.mark.celery_worker
def test_r24_routed_ticket_emails_its_new_owner_exactly_once(smtp_for_worker, celery_worker):
    owner = AgentFactory(first_name="Rita", last_name="Router", email="rita@example.test")
    channel = ChannelAutomationFactory(assign_mode=AssignMode.SPECIFIC, users=[owner]).channel

    ticket, _ = services.create_ticket(subject="Printer on fire", body="Help", channel=channel)

    received = smtp_for_worker.wait_for(1, timeout=60)
    assert len(received) == 1, "the worker did not send the email"
    wait_until(
        lambda: not Delivery.objects.exclude(status=Delivery.Status.SENT).exists(), timeout=30
    )
    celery_worker.wait_idle()  # the worker has done everything, so nothing more will arrive
    assert len(smtp_for_worker.received) == 1
    ticket.refresh_from_db()
    assert ticket.owner == owner and ticket.routing_state == Ticket.RoutingState.DONE

    email = received[0]
    assert email["To"] == "rita@example.test"
    assert email["From"] == "help@example.test"
    assert email["Auto-Submitted"] == "auto-generated"
    assert str(make_header(decode_header(email["Subject"]))) == (
        f"[Helpdesk] Automatic routing assigned #{ticket.pk} “Printer on fire” to you"
    )
    assert email.get_content_type() == "multipart/alternative"
    parts = {
        p.get_content_type(): p.get_payload(decode=True).decode()
        for p in email.walk()
        if not p.is_multipart()
    }
    url = f"{SITE_URL}/tickets/{ticket.pk}/"
    assert url in parts["text/plain"] and f'href="{url}"' in parts["text/html"]
    assert "Why: Assigned to Rita Router by load balancing" in parts["text/plain"]
    assert [e.rcpt_tos for e in smtp_for_worker.envelopes] == [["rita@example.test"]]

    # The in-app notification was created by the same worker, once.
    assert Notification.objects.filter(recipient=owner, ticket=ticket).count() == 1
