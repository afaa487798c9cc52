"""Issue 11, the intake core's rows: `insert_once` (a redelivery recognised by a unique
constraint, without an error or a savepoint) and the claim of an event with its channel."""

import threading
from unittest.mock import patch

import pytest
from django.db import InterfaceError, OperationalError, connections, transaction
from django.db.models.signals import post_save

from helpdesk.models import Contact, InboundEvent
from helpdesk.services import contact_for_email, intake
from helpdesk.services import contacts as contacts_module
from helpdesk.services.intake import Outcome, insert_once, process_inbound, store_inbound
from tests.factories import ChannelFactory, ContactFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def saved():
    """The instances `post_save` announced, with its `created` flag."""
    seen = []

    def record(sender, instance, created, **kwargs):
        seen.append((instance, created))

    post_save.connect(record, sender=Contact, dispatch_uid="test_intake_rows")
    yield seen
    post_save.disconnect(dispatch_uid="test_intake_rows", sender=Contact)


def test_insert_once_saves_a_new_row_as_save_would(saved):
    contact = Contact(email="kim@customer.example", name="Kim")

    assert insert_once(contact) is True

    stored = Contact.objects.get(email="kim@customer.example")
    assert (contact.pk, contact._state.adding) == (stored.pk, False)
    assert stored.name == "Kim" and stored.created_at is not None  # auto_now_add applied
    assert saved == [(contact, True)]


def test_insert_once_leaves_an_existing_row_alone_and_the_transaction_usable(saved):
    first = ContactFactory(email="kim@customer.example", name="Kim")
    saved.clear()
    with transaction.atomic():
        duplicate = Contact(email="kim@customer.example", name="Someone else")
        assert insert_once(duplicate) is False
        assert duplicate.pk is None
        assert Contact.objects.count() == 1  # no error left the transaction broken
    assert Contact.objects.get().name == first.name
    assert saved == []


def test_insert_once_keeps_a_primary_key_given(saved):
    contact = Contact(pk=4242, email="given@customer.example")
    assert insert_once(contact) is True
    assert Contact.objects.get(pk=4242).email == "given@customer.example"


def test_contact_for_email_finds_a_contact_another_worker_created_meanwhile(monkeypatch):
    """The read found nobody, then another worker's contact with the address committed: the
    insert is refused quietly and that contact is the one returned."""
    other = ContactFactory(email="kim@customer.example", name="Kim")
    lookups = []
    real = contacts_module._with_address

    def not_yet_the_first_time(email):
        lookups.append(email)
        return None if len(lookups) == 1 else real(email)

    monkeypatch.setattr(contacts_module, "_with_address", not_yet_the_first_time)

    assert contact_for_email(email="Kim@Customer.Example", name="K") == other
    assert lookups == ["kim@customer.example"] * 2
    assert Contact.objects.count() == 1


def test_contact_for_email_matches_any_case_and_fills_a_blank_name():
    known = ContactFactory(email="kim@customer.example", name="")
    assert contact_for_email(email=" KIM@customer.EXAMPLE ", name="Kim") == known
    known.refresh_from_db()
    assert known.name == "Kim"


# --- the claim -----------------------------------------------------------------------------


def stored(channel=None, source_id="<a@customer.example>") -> InboundEvent:
    event, _ = store_inbound(channel=channel, kind="email", source_id=source_id, raw=b"x")
    return event


def test_the_handler_gets_the_event_with_its_channel_read_in_the_claim(
    django_assert_num_queries,
):
    channel = ChannelFactory(name="Support")
    event = stored(channel)
    seen = {}

    def handler(claimed):
        with django_assert_num_queries(0):
            seen["channel"] = (claimed.channel.pk, claimed.channel.name, claimed.channel.is_active)
        seen["raw"], seen["status"] = bytes(claimed.raw), claimed.status
        seen["payload"], seen["received_at"] = claimed.payload, claimed.received_at
        return Outcome(reason="looked at it")

    done = process_inbound(event.pk, handler)

    assert seen["channel"] == (channel.pk, "Support", True)
    assert seen["raw"] == b"x" and seen["status"] == InboundEvent.Status.RECEIVED
    assert seen["payload"] == {} and seen["received_at"] == event.received_at
    assert (done.status, done.error, done.attempts) == (
        InboundEvent.Status.PROCESSED,
        "looked at it",
        1,
    )


def test_an_event_without_a_channel_is_claimed_with_none():
    event = stored(None)
    channels = []
    process_inbound(event.pk, lambda claimed: channels.append(claimed.channel) or Outcome())
    assert channels == [None]


def test_a_settled_event_is_not_claimed_again():
    event = stored(ChannelFactory())
    process_inbound(event.pk, lambda claimed: Outcome())
    calls = []
    assert process_inbound(event.pk, lambda claimed: calls.append(claimed) or Outcome()) is None
    assert calls == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_an_event_another_worker_holds_is_skipped_not_waited_for():
    event = stored(ChannelFactory())
    locked, release = threading.Event(), threading.Event()

    def other_worker():
        try:
            with transaction.atomic():
                InboundEvent.objects.select_for_update().get(pk=event.pk)
                locked.set()
                release.wait(timeout=10)
        finally:
            connections.close_all()

    thread = threading.Thread(target=other_worker)
    thread.start()
    try:
        assert locked.wait(timeout=10)
        calls = []
        assert process_inbound(event.pk, lambda c: calls.append(c) or Outcome()) is None
        assert calls == []
    finally:
        release.set()
        thread.join(timeout=10)
    assert InboundEvent.objects.get(pk=event.pk).status == InboundEvent.Status.RECEIVED


def test_the_databases_passing_trouble_leaves_the_event_for_the_sweep_until_the_last_try(
    settings,
):
    """A deadlock victim or a lost connection inside the handler is not the input's fault:
    the event stays RECEIVED (what the handler wrote is rolled back) and is tried again,
    up to INTAKE_MAX_ATTEMPTS tries; then it is FAILED for an admin, with the error."""
    settings.INTAKE_MAX_ATTEMPTS = 3
    event = stored(ChannelFactory())
    tries = []

    def deadlocked(claimed):
        ContactFactory(email=f"half-{len(tries)}@example.com")  # rolled back with the try
        tries.append(claimed.attempts)
        raise OperationalError("deadlock detected")

    first = process_inbound(event.pk, deadlocked)
    assert (first.status, first.attempts) == (InboundEvent.Status.RECEIVED, 1)
    assert first.error == "OperationalError: deadlock detected"
    second = process_inbound(event.pk, deadlocked)
    assert (second.status, second.attempts) == (InboundEvent.Status.RECEIVED, 2)
    third = process_inbound(event.pk, deadlocked)
    assert (third.status, third.attempts) == (InboundEvent.Status.FAILED, 3)
    assert tries == [0, 1, 2]
    assert not Contact.objects.filter(email__startswith="half-").exists()


def test_an_event_left_by_the_databases_trouble_is_handed_out_again_by_the_sweep(settings):
    settings.INTAKE_GRACE_SECONDS = 0
    event = stored(ChannelFactory())

    def lost_connection(claimed):
        raise InterfaceError("connection already closed")

    process_inbound(event.pk, lost_connection)
    published = []
    with (
        patch.object(intake, "ring", lambda task, **kw: published.append(kw) or True),
        patch.object(intake, "_task_for", lambda kind: object()),
    ):
        assert intake.sweep_received() == 1
    assert published == [{"event_id": event.pk}]
    done = process_inbound(event.pk, lambda claimed: Outcome(reason="fine now"))
    assert (done.status, done.error, done.attempts) == (
        InboundEvent.Status.PROCESSED,
        "fine now",
        2,
    )


def test_any_other_error_fails_the_event_at_once():
    event = stored(ChannelFactory())

    def broken(claimed):
        raise ValueError("cannot read this")

    done = process_inbound(event.pk, broken)
    assert (done.status, done.error) == (InboundEvent.Status.FAILED, "ValueError: cannot read this")
