"""Issue 11: the IMAP poller against a real server (Debian's dovecot, started by the test
with a throw-away configuration): mail stored before it is marked, flagged or moved, fetched
once (UID tracking), a renumbered folder read again without doubles, errors kept for the
next poll, one poller per mailbox."""

import psycopg
import pytest
from django.db import connection

from helpdesk.models import InboundEvent, Ticket
from mailroom.imap import LOCK_NAMESPACE, channels_to_poll, poll_channel
from mailroom.models import MailSettings
from tests.mailroom.conftest import eml
from tests.mailroom.dovecot import dovecot_fixture, free_port  # noqa: F401
from tests.mailroom.helpers import mail, mailbox_fixture  # noqa: F401

pytestmark = pytest.mark.imap


@pytest.fixture
def imap_box(mailbox, dovecot):
    mailbox.imap_host, mailbox.imap_port = dovecot.host, dovecot.port
    mailbox.imap_security = MailSettings.Security.NONE
    mailbox.imap_user, mailbox.imap_secret = dovecot.user, dovecot.password
    mailbox.save()
    return mailbox


def three_mails(dovecot):
    dovecot.append(mail(message_id="<imap.1@customer.example>", subject="First"))
    dovecot.append(eml("not_a_message.eml"))  # quarantined, the rest goes on
    dovecot.append(eml("attachment_base64.eml"))


def test_a_poll_stores_processes_and_flags_new_mail_and_the_next_fetches_nothing(imap_box, dovecot):
    three_mails(dovecot)
    assert channels_to_poll() == [imap_box.channel_id]

    assert poll_channel(channel_id=imap_box.channel_id, process=True) == 3

    statuses = sorted(InboundEvent.objects.values_list("status", flat=True))
    assert statuses == ["processed", "processed", "quarantined"]
    assert Ticket.objects.count() == 2
    assert all(rb"\Seen" in line for line in dovecot.flags())
    imap_box.refresh_from_db()
    assert (imap_box.last_uid, imap_box.last_poll_error) == (3, "")
    assert imap_box.uidvalidity

    assert poll_channel(channel_id=imap_box.channel_id, process=True) == 0
    dovecot.append(mail(message_id="<imap.4@customer.example>", subject="Fourth"))
    assert poll_channel(channel_id=imap_box.channel_id, process=True) == 1
    assert Ticket.objects.count() == 3


def test_fetched_mail_can_be_moved_to_a_folder(imap_box, dovecot, settings):
    settings.MAIL_IMAP_BATCH = 2  # two batches
    imap_box.after_fetch, imap_box.processed_folder = MailSettings.AfterFetch.MOVE, "Done"
    imap_box.save()
    three_mails(dovecot)

    assert poll_channel(channel_id=imap_box.channel_id, process=True) == 3

    assert (dovecot.count("INBOX"), dovecot.count("Done")) == (0, 3)
    assert poll_channel(channel_id=imap_box.channel_id, process=True) == 0


def test_a_new_uidvalidity_reads_the_folder_again_without_doubles(imap_box, dovecot):
    three_mails(dovecot)
    poll_channel(channel_id=imap_box.channel_id, process=True)
    MailSettings.objects.filter(pk=imap_box.pk).update(uidvalidity=1, last_uid=999)

    assert poll_channel(channel_id=imap_box.channel_id, process=True) == 0  # all known
    imap_box.refresh_from_db()
    assert imap_box.last_uid == 3 and imap_box.uidvalidity != 1
    assert (InboundEvent.objects.count(), Ticket.objects.count()) == (3, 2)


def test_a_connection_error_is_kept_and_the_next_poll_retries(imap_box, dovecot):
    good_port = imap_box.imap_port
    MailSettings.objects.filter(pk=imap_box.pk).update(imap_port=free_port())
    assert poll_channel(channel_id=imap_box.channel_id) == 0
    imap_box.refresh_from_db()
    assert "ConnectionRefused" in imap_box.last_poll_error

    MailSettings.objects.filter(pk=imap_box.pk).update(imap_secret="wrong")
    MailSettings.objects.filter(pk=imap_box.pk).update(imap_port=good_port)
    assert poll_channel(channel_id=imap_box.channel_id) == 0
    imap_box.refresh_from_db()
    assert imap_box.last_poll_error

    MailSettings.objects.filter(pk=imap_box.pk).update(imap_secret=dovecot.password)
    dovecot.append(mail())
    assert poll_channel(channel_id=imap_box.channel_id, process=True) == 1
    imap_box.refresh_from_db()
    assert imap_box.last_poll_error == ""


@pytest.mark.parametrize(("field", "value"), [("imap_user", "jürgen"), ("imap_secret", "pässwort")])
def test_a_login_imaplib_cannot_send_is_kept_and_the_task_does_not_crash(
    imap_box, dovecot, field, value
):
    MailSettings.objects.filter(pk=imap_box.pk).update(**{field: value})
    dovecot.append(mail())
    assert poll_channel(channel_id=imap_box.channel_id) == 0
    imap_box.refresh_from_db()
    assert imap_box.last_poll_error.startswith("UnicodeEncodeError: ")
    assert "pässwort" not in imap_box.last_poll_error


@pytest.mark.postgres
def test_two_workers_never_poll_one_mailbox_at_once(imap_box, dovecot):
    dovecot.append(mail())
    params = connection.get_connection_params()
    with psycopg.connect(**{k: v for k, v in params.items() if k != "cursor_factory"}) as other:
        other.execute("SELECT pg_advisory_lock(%s, %s)", [LOCK_NAMESPACE, imap_box.channel_id])
        assert poll_channel(channel_id=imap_box.channel_id, process=True) == 0
        other.execute("SELECT pg_advisory_unlock(%s, %s)", [LOCK_NAMESPACE, imap_box.channel_id])
    assert poll_channel(channel_id=imap_box.channel_id, process=True) == 1
