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


def _spy_languages(monkeypatch, module, name: str) -> list:
    """Record the active language each time `module.name` is called (then call it)."""
    seen, real = [], getattr(module, name)

    def spy(*args, **kwargs):
        seen.append(translation.get_language())
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, spy)
    return seen


def test_a_recipients_subject_and_email_are_written_under_their_language(
    agent, other_agent, monkeypatch
):
    """Independent of the catalogue's words: the subject's text and both parts of the email
    are rendered inside `translation.override` of the recipient's language — "nb" for a
    user who chose Norwegian, LANGUAGE_CODE for one who did not — whatever is active."""
    from notifications import announce, emails

    subject_seen = _spy_languages(monkeypatch, announce, "label")
    body_seen = _spy_languages(monkeypatch, emails, "render_to_string")
    agent.language = "nb"
    agent.save(update_fields=["language"])
    ticket = open_ticket(subject="Printer on fire")
    with translation.override("en"):
        assign_pending(ticket, owner=agent, actor=other_agent)
    assert set(subject_seen) == {"nb"}  # each row's text, in app and by email

    email = Delivery.objects.get(recipient=agent, medium=Medium.EMAIL)
    with translation.override("en"):
        tasks.deliver_task.apply(args=(email.pk,))
        assert translation.get_language() == "en"  # given back afterwards
    assert body_seen == ["nb", "nb"]  # the plain-text and the HTML part
    (message,) = mail.outbox
    assert message.subject == f"[Helpdesk] {email.text}"
    with translation.override("nb"):
        assert email.text == translation.gettext("%(who)s assigned %(label)s to you") % {
            "who": other_agent,
            "label": f"#{ticket.pk} “Printer on fire”",
        }


def test_without_a_choice_the_email_is_written_in_language_code(
    agent, other_agent, monkeypatch, settings
):
    from notifications import emails

    body_seen = _spy_languages(monkeypatch, emails, "render_to_string")
    assert agent.language == ""
    ticket = open_ticket(subject="Printer on fire")
    assign_pending(ticket, owner=agent, actor=other_agent)
    email = Delivery.objects.get(recipient=agent, medium=Medium.EMAIL)
    with translation.override("nb"):  # e.g. a worker that last spoke Norwegian
        tasks.deliver_task.apply(args=(email.pk,))
    assert body_seen == [settings.LANGUAGE_CODE] * 2


def test_a_digest_is_written_in_its_recipients_language(agent, other_agent, monkeypatch):
    from django.utils.translation import ngettext

    from notifications import quiet_hours

    body_seen = _spy_languages(monkeypatch, quiet_hours, "render_to_string")
    agent.language = "nb"
    agent.save(update_fields=["language"])
    assign_pending(open_ticket(subject="Printer on fire"), owner=agent, actor=other_agent)
    Delivery.objects.filter(recipient=agent, medium=Medium.EMAIL).update(
        status=Delivery.Status.HELD
    )
    with translation.override("en"):
        assert quiet_hours.send_digest(user_id=agent.pk) == 1
    assert body_seen == ["nb", "nb"]
    (message,) = mail.outbox
    with translation.override("nb"):
        expected = ngettext(
            "[Helpdesk] %(n)s notification while you were away",
            "[Helpdesk] %(n)s notifications while you were away",
            1,
        ) % {"n": 1}
    assert message.subject == expected
