"""Issue 12 on PostgreSQL: two workers processing the first two messages of a new customer
at the same instant make one contact and one ticket (the advisory lock on the WhatsApp id);
two workers handed the same event process it once."""

import pytest

from helpdesk.models import Contact, InboundEvent, Message, Ticket
from helpdesk.services.intake import process_inbound
from tests.support.concurrency import run_together
from tests.whatsapp.conftest import delivery, post_delivery, text_message
from whatsapp.inbound import handle_event

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def processing(event_id):
    return lambda: getattr(process_inbound(event_id, handle_event), "status", None)


@pytest.mark.parametrize("attempt", range(3))
def test_two_first_messages_at_once_make_one_contact_and_one_ticket(wa_channel, attempt):
    body = delivery(
        messages=[text_message("wamid.A", "Hello"), text_message("wamid.B", "Are you there?")]
    )
    assert post_delivery(wa_channel, body).json()["stored"] == 2
    first, second = InboundEvent.objects.order_by("pk").values_list("pk", flat=True)

    results = run_together(processing(first), processing(second))

    assert results == [("ok", "processed"), ("ok", "processed")]
    assert (Contact.objects.count(), Ticket.objects.count(), Message.objects.count()) == (1, 1, 2)


def test_one_event_handed_to_two_workers_is_processed_once(wa_channel):
    post_delivery(wa_channel, delivery(messages=[text_message("wamid.A", "Hello")]))
    event_id = InboundEvent.objects.get().pk

    results = run_together(processing(event_id), processing(event_id))

    assert sorted(str(value) for _, value in results) == ["None", "processed"]
    assert Message.objects.count() == 1
