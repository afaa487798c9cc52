"""The admin of call settings never renders the Twilio auth token back; the user admin
shows the agent's phone number (issue 12)."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from calls.models import CallSettings
from tests.calls.conftest import ADA_PHONE, TOKEN
from tests.factories import ChannelFactory


def test_the_auth_token_is_never_rendered_and_a_blank_field_keeps_it(
    client, superadmin, call_settings
):
    client.force_login(superadmin)
    url = reverse("admin:calls_callsettings_change", args=[call_settings.pk])

    page = client.get(url)

    assert page.status_code == 200
    html = page.content.decode()
    assert TOKEN not in html
    assert f"https://help.example.com/calls/{call_settings.channel_id}/incoming/" in html
    assert f"https://help.example.com/calls/{call_settings.channel_id}/status/" in html
    form = {
        "channel": call_settings.channel_id,
        "auth_token": "",
        "public_base_url": "https://help.example.com",
        "proxy_prefix": "/helpdesk",
        "dial_timeout": "25",
        "caller_id": "",
        "voicemail_max_seconds": "60",
    }
    assert client.post(url, form).status_code == 302
    call_settings.refresh_from_db()
    assert (call_settings.auth_token, call_settings.proxy_prefix) == (TOKEN, "/helpdesk")
    assert call_settings.dial_timeout == 25

    client.post(url, {**form, "auth_token": "a-new-token"})
    assert CallSettings.objects.get().auth_token == "a-new-token"


def test_call_settings_belong_to_a_calling_channel(client, superadmin, call_settings):
    email = ChannelFactory()
    client.force_login(superadmin)
    response = client.post(
        reverse("admin:calls_callsettings_add"),
        {
            "channel": email.pk,
            "auth_token": "t",
            "dial_timeout": "20",
            "voicemail_max_seconds": "120",
        },
    )
    assert response.status_code == 200
    assert "Call settings belong to a calling channel." in response.content.decode()
    assert CallSettings.objects.count() == 1


def test_the_user_admin_shows_and_checks_the_phone_number(client, superadmin, ada):
    client.force_login(superadmin)
    page = client.get(reverse("admin:helpdesk_user_change", args=[ada.pk]))
    assert page.status_code == 200
    assert f'value="{ADA_PHONE}"' in page.content.decode()
    ada.phone = "12345"
    with pytest.raises(ValidationError, match=r"E\.164"):
        ada.full_clean()
