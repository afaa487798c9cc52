"""`make run` prints the demo form's public page; the admin edits the settings through the
service and can give the form a new public id."""

from io import StringIO

import pytest
from django.core.management import call_command

from tests.factories import UserFactory
from webforms.models import FormSettings

pytestmark = pytest.mark.django_db


def test_seed_demo_prints_each_form_channels_public_page(form_channel, client):
    UserFactory(username="admin")  # the demo data is there: only the logins are printed
    out = StringIO()
    call_command("seed_demo", once=True, stdout=out)
    public_id = FormSettings.objects.get(channel=form_channel).public_id
    url = f"http://127.0.0.1:8000/f/{public_id}/"
    assert f"Public form 'Billing question form': {url}" in out.getvalue()
    assert client.get(f"/f/{public_id}/").status_code == 200


def test_the_admin_saves_through_the_service_and_renews_the_public_id(
    superadmin, client, form_settings
):
    client.force_login(superadmin)
    url = f"/admin/webforms/formsettings/{form_settings.pk}/change/"
    page = client.get(url)
    assert page.status_code == 200
    assert f"/f/{form_settings.public_id}/" in page.content.decode()
    assert "&lt;iframe src=" in page.content.decode()  # the snippet, shown as text
    data = {
        "title": "Ask Billing",
        "intro": "",
        "thank_you": "Thanks!",
        "allow_attachments": "on",
        "embed_origins": "https://www.acme.example/\nnot an origin",
    }
    refused = client.post(url, data)
    assert refused.status_code == 200
    assert "is not a site&#x27;s origin" in refused.content.decode()
    data["embed_origins"] = "https://WWW.acme.example/"
    assert client.post(url, data).status_code == 302
    form_settings.refresh_from_db()
    assert (form_settings.title, form_settings.embed_origins) == (
        "Ask Billing",
        "https://www.acme.example",
    )
    old = form_settings.public_id
    client.post(
        "/admin/webforms/formsettings/",
        {"action": "new_public_id", "_selected_action": [form_settings.pk]},
    )
    form_settings.refresh_from_db()
    assert form_settings.public_id != old
    assert client.get(f"/f/{old}/").status_code == 404
