"""The chat handler: one conversation is one contact and one ticket, routed by the chatflow's
toggle (R18); later messages append; a redelivery is one message; the two first messages of
one conversation handled at the same moment make one ticket."""

from datetime import timedelta

import pytest
from django.utils import timezone

from helpdesk import services
from helpdesk.models import Contact, InboundEvent, Message, Ticket
from helpdesk.services.intake import process_inbound
from livechat import selectors
from livechat.intake import handle_chat, store_chat_message
from livechat.models import Conversation
from livechat.payloads import ChatInput
from tests.factories import AgentFactory, ContactFactory
from tests.livechat.conftest import chatflow, custom_chat
from tests.support.concurrency import run_together

pytestmark = pytest.mark.django_db

KEY = "v" * 32


def deliver(chat, text, message_id, key=KEY, **fields):
    event, created = store_chat_message(
        channel=chat.channel,
        conversation_key=key,
        message=ChatInput(message_id=message_id, text=text, **fields),
        raw=b"{}",
        headers={},
    )
    return process_inbound(event.pk, handle_chat) if created else None


def test_r18_a_first_message_opens_a_messages_ticket_routed_by_the_toggle(published_tasks):
    agent = AgentFactory()
    chat = chatflow(users=[agent], on=True)
    with published_tasks.after_commit():
        event = deliver(chat, "Do you ship to Norway?", "m1", name="Kim", email="kim@x.example")
    assert event.status == InboundEvent.Status.PROCESSED, event.error
    ticket = Ticket.objects.get()
    assert (ticket.channel, ticket.ticket_type, ticket.owner) == (chat.channel, "messages", agent)
    contact = ticket.contact
    assert (contact.visitor_token, contact.name, contact.email) == (KEY, "Kim", "kim@x.example")
    conversation = Conversation.objects.get()
    assert (conversation.ticket, conversation.contact) == (ticket, contact)
    assert event.ticket == ticket and event.message.body == "Do you ship to Norway?"


def test_r18_with_the_toggle_off_the_chat_waits_unassigned(published_tasks):
    chat = chatflow(users=[AgentFactory()], on=False)
    with published_tasks.after_commit():
        deliver(chat, "Anyone there?", "m1")
    ticket = Ticket.objects.get()
    assert ticket.is_unassigned and ticket.routing_state == Ticket.RoutingState.DONE


def test_later_messages_append_and_a_closed_chat_reopens(agent):
    chat = chatflow()
    deliver(chat, "First", "m1")
    ticket = Ticket.objects.get()
    services.close(ticket=ticket, actor=agent)
    event = deliver(chat, "Still broken", "m2")
    ticket.refresh_from_db()
    assert event.error == "added to the chat"
    assert [m.body for m in ticket.messages.order_by("pk")] == ["First", "Still broken"]
    assert ticket.status == Ticket.Status.WAITING_ON_US
    assert Ticket.objects.count() == 1 and Contact.objects.count() == 1


def closed_hours_ago(ticket, hours: float, actor) -> None:
    services.close(ticket=ticket, actor=actor)
    Ticket.objects.filter(pk=ticket.pk).update(closed_at=timezone.now() - timedelta(hours=hours))


def test_a_message_within_the_hours_after_closing_reopens_the_chat(agent, settings):
    settings.LIVECHAT_NEW_CONVERSATION_AFTER_HOURS = 24
    chat = chatflow()
    deliver(chat, "First", "m1")
    ticket = Ticket.objects.get()
    closed_hours_ago(ticket, 23, agent)
    event = deliver(chat, "One more thing", "m2")
    assert event.error == "added to the chat" and event.ticket == ticket
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.WAITING_ON_US
    assert Ticket.objects.count() == 1 and Conversation.objects.count() == 1


def test_a_message_long_after_the_chat_closed_starts_a_new_conversation_routed_again(
    published_tasks, agent, settings
):
    settings.LIVECHAT_NEW_CONVERSATION_AFTER_HOURS = 24
    router_pick = AgentFactory()
    chat = chatflow(users=[router_pick], on=True)
    with published_tasks.after_commit():
        deliver(chat, "My grinder is loud", "m1", name="Kim")
    old = Ticket.objects.get()
    closed_hours_ago(old, 25, agent)
    with published_tasks.after_commit() as ran:
        event = deliver(chat, "Now the kettle leaks", "m2")
    assert event.error == "new chat"
    new = Ticket.objects.exclude(pk=old.pk).get()
    assert event.ticket == new and "routing.tasks.route_ticket_task" in ran
    assert (new.subject, new.contact, new.owner) == (
        "Now the kettle leaks",
        old.contact,
        router_pick,
    )
    old.refresh_from_db()
    assert old.status == Ticket.Status.CLOSED
    assert [m.body for m in old.messages.all()] == ["My grinder is loud"]
    deliver(chat, "It drips", "m3")  # later messages go to the new ticket
    assert [m.body for m in new.messages.order_by("pk")] == ["Now the kettle leaks", "It drips"]
    # One visitor, one thread in the widget; each ticket still knows its conversation (an
    # agent's late reply on the old ticket reaches the visitor too).
    seen = selectors.visitor_messages(channel_id=chat.channel_id, key=KEY, after=0)
    assert [m.body for m in seen] == ["My grinder is loud", "Now the kettle leaks", "It drips"]
    assert {c.ticket_id: c.key for c in Conversation.objects.all()} == {old.pk: KEY, new.pk: KEY}
    assert Contact.objects.count() == 1


def test_a_custom_chat_long_closed_starts_a_new_ticket_for_the_same_contact(agent, settings):
    settings.LIVECHAT_NEW_CONVERSATION_AFTER_HOURS = 1
    chat = custom_chat()
    deliver(chat, "Hi from the app", "1", key="conv-9", conversation_id="conv-9", name="Kim")
    old = Ticket.objects.get()
    closed_hours_ago(old, 2, agent)
    deliver(chat, "Hi again", "2", key="conv-9", conversation_id="conv-9", name="Kim")
    new = Ticket.objects.exclude(pk=old.pk).get()
    assert new.contact == old.contact and Contact.objects.count() == 1


def test_a_reprocessed_event_adds_nothing():
    chat = chatflow()
    deliver(chat, "First", "m1")
    deliver(chat, "Second", "m2")
    event = InboundEvent.objects.get(source_id__endswith=":m2")
    InboundEvent.objects.filter(pk=event.pk).update(status=InboundEvent.Status.FAILED)
    again = process_inbound(event.pk, handle_chat)
    assert again.error == "already received: nothing new"
    assert Message.objects.count() == 2


def test_a_returning_visitor_with_a_new_conversation_is_the_same_contact():
    chat = chatflow()
    deliver(chat, "Hello", "m1")
    contact = Contact.objects.get()
    Conversation.objects.all().delete()  # a conversation of the past, e.g. tidied away
    deliver(chat, "Me again", "m2")
    assert Ticket.objects.count() == 2
    assert set(Ticket.objects.values_list("contact", flat=True)) == {contact.pk}


def test_an_address_of_another_contact_is_not_taken_by_a_visitor():
    known = ContactFactory(email="ceo@acme.example", name="The CEO")
    chat = chatflow()
    deliver(chat, "Send me the invoices", "m1", name="Mallory", email="ceo@acme.example")
    ticket = Ticket.objects.get()
    assert ticket.contact != known
    assert (ticket.contact.name, ticket.contact.email) == ("Mallory", "")
    first = ticket.messages.get()
    assert first.sender_address == "ceo@acme.example"  # kept as typed, on the message only


def test_a_custom_chat_contact_is_found_by_the_address_its_backend_vouches_for():
    known = ContactFactory(email="kim@customer.example", name="Kim")
    chat = custom_chat()
    deliver(chat, "Hi from the app", "1", key="conv-9", conversation_id="conv-9", email=known.email)
    ticket = Ticket.objects.get()
    assert ticket.contact == known
    assert Conversation.objects.get().key == "conv-9"


def test_an_event_without_text_is_quarantined():
    chat = chatflow()
    event, _ = store_chat_message(
        channel=chat.channel,
        conversation_key=KEY,
        message=ChatInput(message_id="m1", text="ok"),
        raw=b"{}",
        headers={},
    )
    InboundEvent.objects.filter(pk=event.pk).update(payload={"conversation": KEY})
    processed = process_inbound(event.pk, handle_chat)
    assert processed.status == InboundEvent.Status.QUARANTINED
    assert Ticket.objects.count() == 0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_first_messages_at_the_same_moment_make_one_ticket():
    chat = chatflow()
    events = []
    for n in (1, 2):
        event, _ = store_chat_message(
            channel=chat.channel,
            conversation_key=KEY,
            message=ChatInput(message_id=f"m{n}", text=f"message {n}"),
            raw=b"{}",
            headers={},
        )
        events.append(event.pk)
    results = run_together(*[lambda pk=pk: process_inbound(pk, handle_chat) for pk in events])
    assert [kind for kind, _ in results] == ["ok", "ok"], results
    assert all(e.status == InboundEvent.Status.PROCESSED for _, e in results), results
    assert Ticket.objects.count() == 1
    assert Ticket.objects.get().messages.count() == 2
    assert Contact.objects.count() == 1
