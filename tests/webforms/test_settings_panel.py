"""Issue 12, "an embeddable snippet shown on the channel's Details tab": a form channel's
public page on its Details tab — the address as a link, the `<iframe>` snippet as text to
copy, the page's texts, attachment switch and embedding sites saved through
`webforms.services` into the channel's history (R6), refusals by field with nothing
written, and "New public address" (the old address then answers 404)."""

import re
from html import unescape

import pytest
from django.test import Client

from channels_cfg.models import ChannelSettingsChange
from helpdesk.channel_kinds import policy_for
from helpdesk.models import Channel
from tests.factories import ChannelFactory
from tests.support.panels import browser_data, details_url, panel_in, text
from webforms.models import DEFAULT_THANK_YOU, INTAKE, FormSettings
from webforms.services import embed_snippet, form_settings_for, public_url, update_form_settings

pytestmark = pytest.mark.django_db


def post_form(client, channel, action=None, **changes):
    data = browser_data(client, channel, "webform", **changes)
    if action:
        data["action"] = action
    return client.post(details_url(channel), data)


# ---------------------------------------------------------------------------------------
# The page
# ---------------------------------------------------------------------------------------


def test_the_panel_shows_the_address_as_a_link_and_the_snippet_as_text(
    admin_client, form_settings, settings
):
    settings.SITE_URL = "https://help.example.com"
    response = admin_client.get(details_url(form_settings.channel))
    assert response.status_code == 200
    html = response.content.decode()
    url = f"https://help.example.com/f/{form_settings.public_id}/"
    assert f'<a href="{url}" target="_blank" rel="noopener" data-public-url>{url}</a>' in html
    snippet = embed_snippet(form_settings)
    assert snippet.startswith(f'<iframe src="{url}" title="Billing question form"')
    # Shown as text in a read-only textarea (escaped), never as a live iframe.
    shown = re.search(r"<textarea[^>]*data-snippet>(.*?)</textarea>", html, re.S)
    assert shown and "readonly" in shown.group(0)
    assert unescape(shown.group(1)) == snippet
    assert "<iframe" not in html
    # The Copy button is hidden until the script shows it: without JS the text is selectable.
    assert '<button type="button" class="btn btn-sm btn-outline-secondary py-0" ' in html
    assert 'data-copy="form-snippet" hidden>Copy</button>' in html
    page = text(response)
    for words in ("Publish", "Page", "New public address", "old link and every pasted snippet"):
        assert words in page
    form = panel_in(response, "webform").form
    assert form["thank_you"].value() == DEFAULT_THANK_YOU
    assert form["allow_attachments"].value() is True


def test_a_form_channel_without_settings_gets_its_address_when_the_tab_is_shown(admin_client):
    channel = ChannelFactory(kind=Channel.Kind.FORM, name="Sales form", address="")
    response = admin_client.get(details_url(channel))
    row = FormSettings.objects.get(channel=channel)
    assert panel_in(response, "webform").extra["public_url"] == public_url(row)
    assert not channel.settings_changes.exists()  # created, not changed by anyone


@pytest.mark.parametrize("kind", [k for k in Channel.Kind if policy_for(k).intake != INTAKE])
def test_the_panel_is_absent_on_channels_that_are_not_forms(admin_client, kind):
    other = ChannelFactory(kind=kind)
    response = admin_client.get(details_url(other))
    assert response.status_code == 200
    assert 'id="panel-webform"' not in response.content.decode()
    refused = admin_client.post(details_url(other), {"panel": "webform", "form-title": "x"})
    assert refused.status_code == 400
    assert not FormSettings.objects.exists()


def test_only_account_admins_may_change_the_form(form_settings, agent, outsider, superadmin):
    channel = form_settings.channel
    for user in (agent, outsider):
        client = Client()
        client.force_login(user)
        for data in (
            {"panel": "webform", "form-title": "Hacked", "form-thank_you": "x"},
            {"panel": "webform", "action": "new_address"},
        ):
            assert client.post(details_url(channel), data).status_code == 403
        assert client.get(details_url(channel)).status_code == 403
    before = form_settings.public_id
    form_settings.refresh_from_db()
    assert (form_settings.title, form_settings.public_id) == ("", before)
    assert not channel.settings_changes.exists()
    client = Client()
    client.force_login(superadmin)
    assert post_form(client, channel, title="Ask billing").status_code == 302


def test_the_page_costs_a_fixed_number_of_queries(
    admin_client, admin_user, form_settings, django_assert_max_num_queries
):
    channel = form_settings.channel
    admin_client.get(details_url(channel))  # session, permissions cached
    with django_assert_max_num_queries(20) as captured:
        admin_client.get(details_url(channel))
    cost = len(captured)
    origins = "\n".join(f"https://site{n}.example.com" for n in range(15))
    for n in range(12):
        update_form_settings(
            channel=channel,
            data={"title": f"Title {n}", "embed_origins": origins},
            actor=admin_user,
        )
    with django_assert_max_num_queries(cost):
        response = admin_client.get(details_url(channel))
    assert "Form · Title: Title 10 → Title 11" in text(response)


# ---------------------------------------------------------------------------------------
# Saving
# ---------------------------------------------------------------------------------------


def test_saving_changes_the_public_page_and_records_each_change(
    admin_client, admin_user, form_settings, visitor
):
    channel = form_settings.channel
    response = post_form(
        admin_client,
        channel,
        title="  Ask Billing  ",
        intro="We answer within a day. " * 5,
        thank_you="Thanks — we will write to you.",
        allow_attachments=False,
        embed_origins="https://Shop.Example.com/\r\n\r\nhttps://www.example.com\r\n",
    )
    assert response.status_code == 302
    form_settings.refresh_from_db()
    assert (form_settings.title, form_settings.intro, form_settings.allow_attachments) == (
        "Ask Billing",
        ("We answer within a day. " * 5).strip(),
        False,
    )
    assert form_settings.embed_origins == "https://shop.example.com\nhttps://www.example.com"
    entry = channel.settings_changes.get()
    assert (entry.section, entry.actor) == (ChannelSettingsChange.Section.DETAILS, admin_user)
    assert {c["field"]: (c["before"], c["after"]) for c in entry.changes} == {
        "Form · Title": ("(empty)", "Ask Billing"),
        # Long texts are cut in the history, at 80 characters.
        "Form · Intro": ("(empty)", ("We answer within a day. " * 4)[:79] + "…"),
        "Form · Thank-you text": (DEFAULT_THANK_YOU, "Thanks — we will write to you."),
        "Form · Allow attachments": ("Yes", "No"),
        "Form · Sites that may embed it": (
            "(empty)",
            "https://shop.example.com https://www.example.com",
        ),
    }
    page = visitor.open()
    assert "Ask Billing" in text(page) and "We answer within a day." in text(page)
    assert 'type="file"' not in page.content.decode()
    shown = admin_client.get(details_url(channel))
    assert "Web form saved." in text(shown)
    assert "Form · Allow attachments: Yes → No" in text(shown)
    assert 'title="Ask Billing"' in unescape(panel_in(shown, "webform").extra["snippet"])


def test_saving_the_same_values_records_nothing(admin_client, form_settings):
    response = post_form(admin_client, form_settings.channel)
    assert response.status_code == 302
    assert "Web form: nothing changed." in text(
        admin_client.get(details_url(form_settings.channel))
    )
    assert not form_settings.channel.settings_changes.exists()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("embed_origins", "https://www.example.com\nexample.com/shop", "“example.com/shop” is not"),
        ("embed_origins", "https://*.example.com", "is not a site's origin"),
        ("thank_you", "   ", "Write what the visitor reads once the form is sent."),
        ("title", "x" * 201, "at most 200 characters"),
        ("intro", "x" * 2001, "at most 2000 characters"),
    ],
)
def test_a_bad_value_is_refused_on_its_field_and_nothing_is_written(
    admin_client, form_settings, field, value, message
):
    before = FormSettings.objects.values().get(pk=form_settings.pk)
    changes = {"intro": "Changed too", field: value}  # a good change is not saved either
    response = post_form(admin_client, form_settings.channel, **changes)
    assert response.status_code == 200
    panel = panel_in(response, "webform")
    assert message in " ".join(panel.form.errors[field])
    assert list(panel.form.errors) == [field]
    assert "Nothing was saved." in text(response)
    assert FormSettings.objects.values().get(pk=form_settings.pk) == before
    assert not form_settings.channel.settings_changes.exists()


def test_the_service_refuses_what_the_model_refuses(admin_user, form_settings):
    """The service is the one home of the rules: called directly, it refuses the same."""
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as refused:
        update_form_settings(
            channel=form_settings.channel,
            data={"thank_you": "", "embed_origins": "ftp://x"},
            actor=admin_user,
        )
    assert set(refused.value.message_dict) == {"thank_you", "embed_origins"}
    with pytest.raises(TypeError):
        update_form_settings(channel=form_settings.channel, data={"public_id": "x"}, actor=None)
    assert not form_settings.channel.settings_changes.exists()


# ---------------------------------------------------------------------------------------
# New public address
# ---------------------------------------------------------------------------------------


def test_a_new_public_address_breaks_the_old_one_and_is_recorded(
    admin_client, admin_user, form_settings, visitor
):
    channel = form_settings.channel
    old_url = public_url(form_settings)
    response = post_form(admin_client, channel, action="new_address", title="Typed, not saved")
    assert response.status_code == 200
    form_settings.refresh_from_db()
    new_url = public_url(form_settings)
    assert new_url != old_url
    panel = panel_in(response, "webform")
    assert panel.results["new_address"].ok is True
    assert panel.extra["public_url"] == new_url
    assert new_url in panel.extra["snippet"]
    assert "The old link and every pasted snippet now answer" in text(response)
    assert form_settings.title == ""  # the action saves nothing else
    assert panel.form["title"].value() == "Typed, not saved"  # kept as typed
    (change,) = channel.settings_changes.get().changes
    assert change == {"field": "Form · Public address", "before": old_url, "after": new_url}
    assert Client().get(visitor.url).status_code == 404
    assert Client().get(f"/f/{form_settings.public_id}/").status_code == 200


def test_an_unknown_action_is_refused(admin_client, form_settings):
    response = admin_client.post(
        details_url(form_settings.channel), {"panel": "webform", "action": "delete"}
    )
    assert response.status_code == 400
    assert form_settings_for(form_settings.channel).public_id == form_settings.public_id
