"""Sections other apps add to a channel's Details tab (`channels_cfg.panels`), with a panel
written for these tests: shown only where it applies, saved through its own form into the
channel's change history, refusals in place, actions that keep what was typed, clear 400s
for unknown keys, account admins only, and a page whose query count does not grow."""

import pytest
from django import forms
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.template import Template
from django.test import Client
from django.urls import reverse

from channels_cfg import panels
from channels_cfg.models import ChannelSettingsChange
from channels_cfg.panels import (
    ActionResult,
    DetailsPanel,
    details_panel,
    details_panels_for,
    register_details_panel,
)
from channels_cfg.services import record_settings_change
from helpdesk.models import Channel
from tests.factories import ChannelFactory
from tests.support.panels import details_url, panel_in, text

pytestmark = pytest.mark.django_db
Section = ChannelSettingsChange.Section

NOTES_TEMPLATE = Template(
    "<fieldset class='cs-section'>{{ panel.form.note }}{{ panel.form.note.errors }}"
    "<button name='action' value='count'>Count</button>"
    "{% if panel.results.count %}<p data-result>{{ panel.results.count.message }}</p>{% endif %}"
    "<p data-extra>{{ panel.extra.greeting }}</p></fieldset>"
)


class NoteForm(forms.Form):
    prefix = "notes"
    note = forms.CharField(max_length=40)


class NotesPanel(DetailsPanel):
    """Applies to channels whose kind decides by the chat toggle; records the note typed."""

    key = "notes"
    title = "Notes"
    description = "A note about the channel."
    template = NOTES_TEMPLATE
    actions = {"count": "Count"}

    def applies_to(self, channel):
        return channel.policy.chat_toggle

    def form(self, channel, data=None):
        return NoteForm(data)

    def save(self, *, channel, form, actor):
        note = form.cleaned_data["note"]
        if note == "taken":
            raise ValidationError({"note": "Another channel has this note."})
        changes = [{"field": "Notes · Note", "before": "(empty)", "after": note}]
        record_settings_change(channel=channel, actor=actor, changes=changes)
        return changes

    def run(self, action, *, channel, form, actor):
        typed = form.data.get("notes-note", "")
        return ActionResult(True, f"The note has {len(typed)} characters.")

    def context(self, *, channel, form):
        return {"greeting": f"Hello from {channel.name}"}


@pytest.fixture
def registry(monkeypatch):
    """The registry as the apps left it, plus the notes panel; restored afterwards."""
    monkeypatch.setattr(panels, "_PANELS", dict(panels._PANELS))
    register_details_panel(NotesPanel())


@pytest.fixture
def chat(registry):
    return ChannelFactory(kind=Channel.Kind.CHATFLOW, name="Website chat", address="chat-1")


# ---------------------------------------------------------------------------------------
# The registry
# ---------------------------------------------------------------------------------------


def test_a_panel_applies_by_the_kinds_policy(chat):
    email = ChannelFactory(kind=Channel.Kind.TEAM_EMAIL)
    assert [p.key for p in details_panels_for(chat)] == [
        p.key for p in panels._PANELS.values() if p.applies_to(chat)
    ]
    assert "notes" in [p.key for p in details_panels_for(chat)]
    assert "notes" not in [p.key for p in details_panels_for(email)]
    assert details_panel(chat, "notes") is not None
    assert details_panel(email, "notes") is None
    assert details_panel(chat, "nothing-here") is None


def test_registering_again_replaces_and_a_taken_key_is_refused(registry):
    again = NotesPanel()
    register_details_panel(again)
    assert panels._PANELS["notes"] is again

    class Impostor(NotesPanel):
        pass

    with pytest.raises(ImproperlyConfigured, match="taken by NotesPanel"):
        register_details_panel(Impostor())
    nameless = NotesPanel()
    nameless.key = ""
    with pytest.raises(ImproperlyConfigured, match="needs a key"):
        register_details_panel(nameless)


def test_record_settings_change_writes_a_details_entry_and_nothing_for_no_change(admin_user):
    channel = ChannelFactory()
    assert record_settings_change(channel=channel, actor=admin_user, changes=[]) is None
    assert not channel.settings_changes.exists()
    with pytest.raises(ValueError, match="needs a field, before and after"):
        record_settings_change(channel=channel, actor=admin_user, changes=[{"field": "X"}])

    entry = record_settings_change(
        channel=channel,
        actor=admin_user,
        changes=[{"field": "Mail · IMAP host", "before": "(empty)", "after": "imap.example"}],
    )
    entry.refresh_from_db()
    assert (entry.section, entry.actor, entry.actor_name) == (
        Section.DETAILS,
        admin_user,
        str(admin_user),
    )
    assert entry.changes[0]["after"] == "imap.example"


# ---------------------------------------------------------------------------------------
# The Details tab
# ---------------------------------------------------------------------------------------


def test_the_panel_shows_in_its_own_form_below_the_details(admin_client, chat):
    html = admin_client.get(details_url(chat)).content.decode()
    details = html.index("<legend>Details</legend>")
    panel = html.index('id="panel-notes"')
    assert details < panel < html.index("cs-danger")
    form = html[panel : html.index("</form>", panel)]
    assert '<input type="hidden" name="panel" value="notes">' in form
    assert 'name="notes-note"' in form
    assert "csrfmiddlewaretoken" in form
    assert "Notes" in form and "A note about the channel." in form
    assert "Hello from Website chat" in form


def test_the_panel_is_absent_where_it_does_not_apply(admin_client, registry):
    form_channel = ChannelFactory(kind=Channel.Kind.FORM)
    html = admin_client.get(details_url(form_channel)).content.decode()
    assert 'id="panel-notes"' not in html
    response = admin_client.post(details_url(form_channel), {"panel": "notes", "notes-note": "x"})
    assert response.status_code == 400
    assert not form_channel.settings_changes.exists()


def test_saving_a_panel_records_the_change_and_redirects_with_a_message(
    admin_client, admin_user, chat
):
    response = admin_client.post(details_url(chat), {"panel": "notes", "notes-note": "Quiet"})
    assert response.status_code == 302
    assert response["Location"] == details_url(chat)
    entry = chat.settings_changes.get()
    assert (entry.section, entry.actor) == (Section.DETAILS, admin_user)
    page = admin_client.get(details_url(chat))
    assert "Notes: saved." in text(page)
    assert "Notes · Note: (empty) → Quiet" in text(page)
    chat.refresh_from_db()
    assert chat.name == "Website chat"  # the Details form was not touched


def test_an_invalid_panel_form_shows_its_errors_in_place_and_saves_nothing(admin_client, chat):
    response = admin_client.post(details_url(chat), {"panel": "notes", "notes-note": ""})
    assert response.status_code == 200
    panel = panel_in(response, "notes")
    assert panel.form.errors == {"note": ["This field is required."]}
    assert "This field is required." in text(response)

    refused = admin_client.post(details_url(chat), {"panel": "notes", "notes-note": "taken"})
    assert refused.status_code == 200
    assert "Another channel has this note." in text(refused)
    shown = panel_in(refused, "notes")
    assert shown.form["note"].value() == "taken"  # kept as typed
    assert not chat.settings_changes.exists()


def test_an_action_shows_its_result_and_keeps_what_was_typed(admin_client, chat):
    data = {"panel": "notes", "notes-note": "Hello", "action": "count"}
    response = admin_client.post(details_url(chat), data)
    assert response.status_code == 200
    assert "The note has 5 characters." in text(response)
    assert 'value="Hello"' in response.content.decode()
    assert not chat.settings_changes.exists()


def test_an_unknown_panel_or_action_is_a_400_in_plain_text(admin_client, chat):
    unknown = admin_client.post(details_url(chat), {"panel": "<b>nope</b>"})
    assert unknown.status_code == 400
    assert unknown["Content-Type"].startswith("text/plain")
    assert "no settings section “<b>nope</b>”" in unknown.content.decode()
    action = admin_client.post(details_url(chat), {"panel": "notes", "action": "delete_all"})
    assert action.status_code == 400
    assert "has no action “delete_all”" in action.content.decode()


def test_the_details_form_still_saves_without_a_panel_key(admin_client, chat):
    response = admin_client.post(details_url(chat), {"name": "Chat", "is_active": "on"})
    assert response.status_code == 302
    chat.refresh_from_db()
    assert chat.name == "Chat"


def test_only_account_admins_may_post_to_a_panel(chat, agent, outsider):
    for user in (agent, outsider):
        client = Client()
        client.force_login(user)
        response = client.post(details_url(chat), {"panel": "notes", "notes-note": "x"})
        assert response.status_code == 403
    anonymous = Client().post(details_url(chat), {"panel": "notes", "notes-note": "x"})
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith(reverse("login"))
    assert not chat.settings_changes.exists()


def test_the_details_page_costs_a_fixed_number_of_queries(
    admin_client, admin_user, chat, django_assert_max_num_queries
):
    admin_client.get(details_url(chat))  # session, permissions cached
    with django_assert_max_num_queries(20) as captured:
        admin_client.get(details_url(chat))
    few = len(captured)
    for n in range(30):
        record_settings_change(
            channel=chat,
            actor=admin_user,
            changes=[{"field": "Notes · Note", "before": str(n), "after": str(n + 1)}],
        )
    with django_assert_max_num_queries(few):
        response = admin_client.get(details_url(chat))
    assert "Showing the latest 15 of 30 changes." in text(response)
