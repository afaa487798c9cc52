"""Who sent it (webforms/identity.py): the visitor cookie decides; a typed address never
takes over another contact's owner routing (R14). Then contact-owner routing end to end,
through the page, the intake task and the routing engine."""

import pytest
from django.test import Client

from channels_cfg.models import AssignMode, ChannelAutomation
from helpdesk.models import Contact, InboundEvent, Ticket, User
from tests.factories import AgentFactory, ContactFactory
from tests.webforms.conftest import Visitor, token_of
from webforms.tokens import VISITOR_COOKIE

pytestmark = pytest.mark.django_db


@pytest.fixture
def send(published_tasks):
    """`send(visitor, **fields)`: the visitor sends the form and a worker processes it;
    returns the ticket it became."""

    def _send(visitor, **values) -> Ticket:
        before = set(Ticket.objects.values_list("pk", flat=True))
        with published_tasks.after_commit():
            assert visitor.send(**values).status_code == 303
        (ticket,) = Ticket.objects.exclude(pk__in=before).select_related("contact")
        return ticket

    return _send


def contact_owner_routing(channel):
    automation = ChannelAutomation.objects.get(channel=channel)
    automation.assign_mode = AssignMode.CONTACT_OWNER
    automation.save()


def test_a_returning_visitor_is_the_same_contact_whatever_name_they_type(visitor, send):
    first = send(visitor)
    contact = first.contact
    assert contact.visitor_token == visitor.cookie.split(":")[0]
    again = send(visitor, name="K. Larsen", subject="One more thing")
    assert again.contact == contact
    contact.refresh_from_db()
    assert contact.name == "Kim Larsen"  # never overwritten
    assert Contact.objects.count() == 1


def test_the_cookie_wins_over_a_different_typed_address(visitor, send):
    contact = send(visitor).contact
    other = ContactFactory(name="Olga Other", email="olga@customer.example")
    ticket = send(visitor, email="olga@customer.example")
    assert ticket.contact == contact
    body = ticket.messages.get().body
    assert "olga@customer.example typed on the form belongs to another contact" in body
    assert f"#{other.pk}" in body
    assert ticket.messages.get().sender_address == "olga@customer.example"
    contact.refresh_from_db()
    assert contact.email == "kim@customer.example"


def test_a_new_visitor_with_the_address_of_a_contact_without_owner_joins_that_contact(
    new_visitor, send
):
    known = ContactFactory(name="", email="kim@customer.example", owner=None)
    ticket = send(new_visitor(), email="KIM@customer.example")
    assert ticket.contact == known
    known.refresh_from_db()
    assert known.name == "Kim Larsen"  # a blank name is filled
    assert known.visitor_token == ""  # but the browser does not become that contact
    assert "belongs to another contact" not in ticket.messages.get().body


def test_r14_a_typed_address_never_takes_over_an_owned_contact(form_channel, new_visitor, send):
    owner = AgentFactory(first_name="Olav", last_name="Owner")
    owned = ContactFactory(name="Kim Larsen", email="kim@customer.example", owner=owner)
    contact_owner_routing(form_channel)
    stranger = new_visitor()
    ticket = send(stranger)
    assert ticket.contact != owned
    assert ticket.contact.email == "" and ticket.contact.owner is None
    assert ticket.contact.visitor_token == stranger.cookie.split(":")[0]
    assert ticket.owner is None  # not routed to Olav
    body = ticket.messages.get().body
    assert f"belongs to another contact (“Kim Larsen”, #{owned.pk})" in body
    assert "not routed to its owner" in body
    # The same browser again: its own contact (the cookie), still not Olav's.
    assert send(stranger).contact == ticket.contact


def test_a_forged_post_with_a_victims_cookie_is_not_the_victim(form_settings, visitor, send):
    """CSRF: another site makes the victim's browser post a form (their cookie goes along,
    SameSite=None over HTTPS) with a token the attacker fetched for themselves."""
    victim = send(visitor).contact
    attacker = Client()
    token = token_of(attacker.get(visitor.url))  # bound to the attacker's own visitor
    forged = Visitor(public_id=form_settings.public_id, client=Client())
    forged.client.cookies[VISITOR_COOKIE] = visitor.client.cookies[VISITOR_COOKIE].value
    ticket = send(forged, token=token, name="Kim Larsen", email="attacker@evil.example")
    assert ticket.contact != victim
    assert ticket.contact.visitor_token == ""  # nobody's cookie was proven


def test_r14_an_identified_returning_visitor_goes_to_their_contacts_owner(
    form_channel, visitor, send
):
    contact_owner_routing(form_channel)
    first = send(visitor)
    assert first.owner is None  # a new contact has no owner yet
    owner = AgentFactory(first_name="Olav", last_name="Owner")
    Contact.objects.filter(pk=first.contact_id).update(owner=owner)
    second = send(visitor, email="kim.private@home.example", subject="Follow-up")
    assert second.contact_id == first.contact_id
    assert second.owner == owner
    assert second.assignments.get().reason == "Assigned to Olav Owner, the contact's owner."


def test_r14_an_offline_owner_gets_the_submission_by_email(form_channel, visitor, send, mailoutbox):
    contact_owner_routing(form_channel)
    contact = send(visitor).contact
    owner = AgentFactory(status=User.Status.AWAY, email="olav@acme.example")
    Contact.objects.filter(pk=contact.pk).update(owner=owner)
    mailoutbox.clear()
    ticket = send(visitor, subject="Quote for 40 seats", message="We need 40 seats by May.")
    assert ticket.owner is None
    (mail,) = [m for m in mailoutbox if m.to == ["olav@acme.example"]]
    assert "Quote for 40 seats" in mail.subject
    assert "We need 40 seats by May." in mail.body
    assert InboundEvent.objects.filter(ticket=ticket, status="processed").exists()
