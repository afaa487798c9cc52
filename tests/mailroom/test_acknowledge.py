"""The acknowledgement of a new ticket (issue 11, R14's team email): optional per channel,
from its template, sent through the outbox with `Auto-Submitted: auto-replied`, never to
automatic mail or our own addresses, and limited per sender and per domain."""

from email import message_from_bytes

import pytest
from django.core import mail as django_mail
from django.test import TestCase
from hypothesis import given, settings
from hypothesis import strategies as st

from helpdesk.models import InboundEvent, Message, OutboundMessage, Ticket
from mailroom import acknowledge
from mailroom.models import AutoReply
from tests.mailroom.helpers import SUPPORT, deliver, mail, mailbox_fixture  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_celery")]
fuzz = settings(max_examples=200, deadline=None)


@pytest.fixture
def acking(mailbox):
    mailbox.acknowledge = True
    mailbox.ack_subject = "Got it: {{ subject }} [#{{ ticket_number }}]"
    mailbox.ack_body = "Hi {{ contact_name }}, ticket {{ ticket_number }} on {{ channel_name }}."
    mailbox.save()
    return mailbox


def deliver_committed(channel, raw):
    with TestCase.captureOnCommitCallbacks(execute=True):
        return deliver(channel, raw)


def sent_to(address="kim@customer.example"):
    return [m for m in django_mail.outbox if any(address in to for to in m.to)]


def test_a_new_ticket_from_a_person_is_acknowledged_once_through_the_outbox(acking):
    event = deliver_committed(acking.channel, mail())
    ticket = Ticket.objects.get()
    assert event.error == "new ticket; acknowledged"
    ack = Message.objects.get(ticket=ticket, direction=Message.Direction.OUTBOUND)
    assert ack.is_automatic and ack.author is None
    assert ack.body == f"Hi Kim Customer, ticket {ticket.pk} on Support."
    assert OutboundMessage.objects.get(message=ack).status == OutboundMessage.Status.SENT
    (sent,) = sent_to()
    assert sent.subject == f"Got it: Printer on fire [#{ticket.pk}]"
    parsed = message_from_bytes(sent.message().as_bytes())
    assert parsed["Auto-Submitted"] == "auto-replied"
    assert parsed["X-Auto-Response-Suppress"] == "All"
    assert parsed["In-Reply-To"] == "<first.1@customer.example>"
    # Nobody answered yet: the ticket still waits on us, without owner.
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.NEW
    assert ticket.owner_id is None
    # The same mail again is a redelivery: no second acknowledgement.
    deliver_committed(acking.channel, mail())
    assert len(sent_to()) == 1


def test_off_by_default(mailbox):
    deliver_committed(mailbox.channel, mail())
    assert not sent_to()
    assert not Message.objects.filter(direction=Message.Direction.OUTBOUND).exists()


@pytest.mark.parametrize(
    "extra",
    [
        "Auto-Submitted: auto-replied",
        "Precedence: bulk",
        "List-Id: <news.customer.example>",
        "X-Auto-Response-Suppress: All",
    ],
)
def test_automatic_mail_is_never_acknowledged(acking, extra):
    deliver_committed(acking.channel, mail(extra=extra))
    assert not sent_to()
    assert not AutoReply.objects.exists()


def test_a_reply_on_an_existing_ticket_is_not_acknowledged(acking):
    deliver_committed(acking.channel, mail())
    deliver_committed(
        acking.channel,
        mail(
            message_id="<second.2@customer.example>",
            extra="In-Reply-To: <first.1@customer.example>",
        ),
    )
    assert Ticket.objects.count() == 1
    assert len(sent_to()) == 1


def test_one_sender_is_answered_at_most_the_limit_in_the_window(acking, settings):
    settings.MAIL_ACK_PER_SENDER = 2
    for n in range(4):
        event = deliver_committed(
            acking.channel, mail(subject=f"Problem {n}", message_id=f"<m{n}@customer.example>")
        )
    assert Ticket.objects.count() == 4
    assert len(sent_to()) == 2
    assert "already answered 2 times in 24 h (limit 2)" in event.error


def test_one_domain_is_answered_at_most_its_hourly_limit(acking, settings):
    settings.MAIL_ACK_PER_DOMAIN = 3
    for n in range(5):
        deliver_committed(
            acking.channel,
            mail(sender=f"user{n}@flood.example", message_id=f"<f{n}@flood.example>"),
        )
    assert AutoReply.objects.filter(domain="flood.example").count() == 3
    assert len([m for m in django_mail.outbox if "flood.example" in m.to[0]]) == 3


@pytest.mark.parametrize(
    ("template", "named"),
    [
        ("Hi {% if %}", "{% if %}"),
        ('Hi {% include "x" %}', '{% include "x" %}'),
        ('{% extends "base.html" %}Hi', '{% extends "base.html" %}'),
        ("Hi {# a comment #}", "{# a comment #}"),
    ],
)
def test_a_tag_is_refused_when_saved_and_a_stored_one_is_never_sent(acking, template, named):
    """Tags passed Django's compilation at save (include, extends) and raised
    TemplateDoesNotExist when rendered, failing every new mail of the channel."""
    with pytest.raises(acknowledge.TemplateError, match="tags and comments are not supported"):
        acknowledge.check_template(template)
    with pytest.raises(acknowledge.TemplateError) as refused:
        acknowledge.check_template(template)
    assert named in str(refused.value)
    acking.ack_body = template  # saved by other means, or before templates were checked
    acking.save()
    event = deliver_committed(acking.channel, mail())
    assert event.status == InboundEvent.Status.PROCESSED, event.error
    assert event.error.startswith("new ticket; not acknowledged: the template cannot be used")
    assert not sent_to()


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ('{{ subject|center:"999999999" }}', "filters are not supported"),
        ("{{ ticket_number|upper }}", "filters are not supported"),
        ("{{ ticket.contact.email }}", "is not a placeholder"),
        ("{{ settings.SECRET_KEY }}", "is not a placeholder"),
        ("{{ Subject }}", "is not a placeholder"),
        ("{{}}", "is not a placeholder"),
        ("Hi {{ subject", "has no closing"),
    ],
)
def test_only_the_five_placeholders_may_be_used(template, message):
    with pytest.raises(acknowledge.TemplateError, match=message) as refused:
        acknowledge.check_template(template)
    assert "{{ ticket_number }}" in str(refused.value)  # says what may be used
    if "|" in template or "." in template:
        assert template.strip("{} ") in str(refused.value)


def test_a_filter_stored_by_other_means_is_not_applied(acking):
    """No 1 GB string: the text is substituted, never run."""
    acking.ack_body = '{{ subject|center:"999999999" }}'
    acking.save()
    event = deliver_committed(acking.channel, mail())
    assert "not acknowledged: the template cannot be used" in event.error
    values = acknowledge.values_for(Ticket.objects.get(), None)
    assert acknowledge.render(acking.ack_body, values) == acking.ack_body


def test_placeholders_may_have_any_spacing_inside_the_braces(acking):
    acking.ack_body = "{{ticket_number}}|{{   subject\t}}|{{\ncontact_email }}|{{channel_name}}"
    acking.save()
    deliver_committed(acking.channel, mail())
    ack = Message.objects.get(direction=Message.Direction.OUTBOUND)
    pk = Ticket.objects.get().pk
    assert ack.body == f"{pk}|Printer on fire|kim@customer.example|Support"


def test_a_value_that_looks_like_a_placeholder_is_not_substituted_again(acking):
    deliver_committed(acking.channel, mail(subject="{{ contact_email }} {% include 'x' %}"))
    (sent,) = sent_to()
    assert sent.subject.startswith("Got it: {{ contact_email }} {% include 'x' %} [#")


def test_an_unusable_subject_stored_by_other_means_falls_back_to_the_default(acking):
    acking.ack_subject = '{% include "x" %}'
    acking.save()
    deliver_committed(acking.channel, mail())
    (sent,) = sent_to()
    assert sent.subject == f"We received your request [#{Ticket.objects.get().pk}]"


def test_a_template_too_long_is_refused():
    acknowledge.check_template("x" * acknowledge.MAX_TEMPLATE_CHARS)
    with pytest.raises(acknowledge.TemplateError, match="too long"):
        acknowledge.check_template("x" * (acknowledge.MAX_TEMPLATE_CHARS + 1))


PIECES = st.one_of(
    st.sampled_from(acknowledge.PLACEHOLDERS).flatmap(
        lambda name: st.tuples(
            st.just(name), st.sampled_from(["", " ", "  ", "\t", "\n "]), st.sampled_from(["", " "])
        ).map(lambda t: ("{{" + t[1] + t[0] + t[2] + "}}", t[0]))
    ),
    st.text(alphabet=st.characters(blacklist_characters="{}"), max_size=20).map(
        lambda text: (text, None)
    ),
)
VALUES = st.fixed_dictionaries({name: st.text(max_size=30) for name in acknowledge.PLACEHOLDERS})


@given(pieces=st.lists(PIECES, max_size=12), values=VALUES)
@fuzz
def test_a_checked_template_renders_to_its_text_with_each_value_in_place(pieces, values):
    template = "".join(text for text, _ in pieces)
    acknowledge.check_template(template)
    expected = "".join(values[name] if name else text for text, name in pieces)
    assert acknowledge.render(template, values) == expected.strip()


@given(template=st.text(alphabet="{}%#|: .ab_subjectnm\n", max_size=40))
@fuzz
def test_checking_and_rendering_never_raise_anything_else(template):
    """Whatever is typed: refused with a reason, or accepted and then every `{{` in it was a
    placeholder that rendering replaces."""
    values = dict.fromkeys(acknowledge.PLACEHOLDERS, "X")
    try:
        acknowledge.check_template(template)
    except acknowledge.TemplateError as refused:
        assert str(refused)
        acknowledge.render(template, values)  # a stored one that was never checked
        return
    assert "{%" not in template and "{#" not in template
    assert "{{" not in acknowledge.render(template, values)
