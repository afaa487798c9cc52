"""Issue 11: the same mail handled by two workers at the same moment gives one ticket and one
message (PostgreSQL, two connections: SQLite serialises writers and cannot show the race)."""

import pytest

from helpdesk.models import InboundEvent, Message, Ticket
from helpdesk.services.intake import process_inbound
from mailroom.inbound import handle_email, store_email
from mailroom.models import MailSettings
from tests.factories import ChannelFactory
from tests.mailroom.conftest import eml
from tests.mailroom.helpers import SUPPORT
from tests.support.concurrency import run_together

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def support(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return MailSettings.objects.create(
        channel=ChannelFactory(name="Support", address=SUPPORT), addresses=[SUPPORT]
    ).channel


def worker(channel, raw):
    def work():
        event, _ = store_email(channel=channel, raw=raw)
        process_inbound(event.pk, handle_email)
        return event.pk

    return work


@pytest.mark.parametrize("attempt", range(3))
def test_two_workers_storing_and_processing_one_mail_make_one_ticket(support, attempt):
    raw = eml("attachment_base64.eml")

    results = run_together(worker(support, raw), worker(support, raw))

    assert [kind for kind, _ in results] == ["ok", "ok"], results
    assert len({value for _, value in results}) == 1  # one event
    assert (Ticket.objects.count(), Message.objects.count()) == (1, 1)
    assert InboundEvent.objects.get().status == InboundEvent.Status.PROCESSED


@pytest.mark.parametrize("attempt", range(3))
def test_one_mail_fetched_from_two_mailboxes_at_once_makes_one_ticket(support, attempt):
    other = ChannelFactory(name="Second mailbox")  # two events: one per channel
    raw = eml("alternative_qp.eml")

    results = run_together(worker(support, raw), worker(other, raw))

    assert [kind for kind, _ in results] == ["ok", "ok"], results
    assert (Ticket.objects.count(), Message.objects.count()) == (1, 1)
    statuses = set(InboundEvent.objects.values_list("status", flat=True))
    assert statuses == {InboundEvent.Status.PROCESSED}
