"""Notifications speak each recipient's language (issue 13, Language; R24): a user who chose
Norwegian gets the bell's text and the email in Norwegian, someone else the same event in
English — written per recipient, from one announcement."""

import pytest
from django.core import mail
from django.utils import translation

from notifications import tasks
from notifications.catalog import Medium
from notifications.models import Delivery
from tests.notifications.conftest import assign_pending, open_ticket

pytestmark = pytest.mark.django_db


def nb(text: str) -> str:
    with translation.override("nb"):
        return translation.gettext(text)


def test_a_norwegian_recipient_reads_norwegian_and_the_actor_sees_english(agent, other_agent):
    agent.language = "nb"
    agent.save(update_fields=["language"])
    ticket = open_ticket(subject="Printer on fire")
    assign_pending(ticket, owner=agent, actor=other_agent)
    in_app = Delivery.objects.get(recipient=agent, medium=Medium.IN_APP)
    expected = nb("%(who)s assigned %(label)s to you") % {
        "who": other_agent,
        "label": f"#{ticket.pk} “Printer on fire”",
    }
    assert expected != f"{other_agent} assigned #{ticket.pk} “Printer on fire” to you"
    assert in_app.text == expected

    email = Delivery.objects.get(recipient=agent, medium=Medium.EMAIL)
    tasks.deliver_task.apply(args=(email.pk,))
    (message,) = mail.outbox
    assert message.subject == f"[Helpdesk] {expected}"
    assert nb("Open it: %(url)s").split(":")[0] in message.body


def test_without_a_choice_the_deployment_language_is_used(agent, other_agent, settings):
    ticket = open_ticket(subject="Printer on fire")
    assign_pending(ticket, owner=agent, actor=other_agent)
    in_app = Delivery.objects.get(recipient=agent, medium=Medium.IN_APP)
    assert in_app.text == f"{other_agent} assigned #{ticket.pk} “Printer on fire” to you"
