"""The public page itself: served without login, embeddable by the sites the form lists,
never cached, the visitor cookie set as documented, closed and unknown forms explained."""

import pytest
from django.template import Context, Template
from django.test import Client

from webforms.services import embed_snippet, form_settings_for, public_url, save_form_settings
from webforms.tokens import VISITOR_COOKIE

pytestmark = pytest.mark.django_db


def test_the_page_shows_the_fields_without_login(
    visitor, form_settings, django_assert_max_num_queries
):
    with django_assert_max_num_queries(1):  # the settings with their channel
        response = visitor.open()
    html = response.content.decode()
    assert '<h1 class="wf-title">Billing question form</h1>' in html
    for name in ["name", "email", "subject", "message", "attachment", "website", "token"]:
        assert f'name="{name}"' in html
    assert 'autocomplete="email"' in html
    assert 'tabindex="-1"' in html  # the spam trap is out of the tab order
    assert "no-store" in response["Cache-Control"]
    assert visitor.client.head(visitor.url).status_code == 200
    assert visitor.client.put(visitor.url).status_code == 405


def test_any_site_may_embed_it_unless_the_form_lists_sites(visitor, form_settings):
    response = visitor.open()
    assert "X-Frame-Options" not in response
    assert "frame-ancestors *" in response["Content-Security-Policy"]
    assert "script-src 'self'" in response["Content-Security-Policy"]  # the rest stays
    form_settings.embed_origins = "https://www.acme.example\nhttps://shop.acme.example"
    save_form_settings(form_settings)
    policy = visitor.open()["Content-Security-Policy"]
    assert "frame-ancestors 'self' https://www.acme.example https://shop.acme.example" in policy


def test_the_rest_of_the_helpdesk_still_refuses_frames(client):
    response = client.get("/accounts/login/")
    assert response["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]


def test_the_visitor_cookie_is_signed_httponly_and_kept_to_the_form_pages(visitor):
    visitor.open()
    cookie = visitor.client.cookies[VISITOR_COOKIE]
    assert cookie["httponly"] and cookie["path"] == "/f/"
    assert cookie["samesite"] == "Lax" and not cookie["secure"]  # plain HTTP
    first = cookie.value
    visitor.open()
    assert visitor.client.cookies[VISITOR_COOKIE].value.split(":")[0] == first.split(":")[0]


def test_over_https_the_cookie_works_inside_another_sites_iframe(form_settings):
    response = Client().get(f"/f/{form_settings.public_id}/", secure=True)
    cookie = response.cookies[VISITOR_COOKIE]
    assert cookie["samesite"] == "None" and cookie["secure"]


def test_a_forged_cookie_is_replaced(visitor):
    visitor.client.cookies[VISITOR_COOKIE] = "not-signed-by-us"
    visitor.open()
    assert visitor.client.cookies[VISITOR_COOKIE].value != "not-signed-by-us"


def test_an_inactive_channel_shows_that_the_form_is_closed(visitor, form_channel):
    form_channel.is_active = False
    form_channel.save()
    for response in (visitor.client.get(visitor.url), visitor.send(token="whatever")):
        assert response.status_code == 404
        assert "This form is closed" in response.content.decode()
    assert visitor.client.get(f"{visitor.url}thanks/").status_code == 404


def test_an_unknown_form_says_so(client):
    for url in ["/f/aaaaaaaaaaaaaaaaaaaaaaaa/", "/f/no-such-form/", "/f/x/thanks/"]:
        response = client.get(url)
        assert response.status_code == 404
        assert "This form does not exist" in response.content.decode()


def test_the_thank_you_page_shows_the_forms_text(visitor, form_settings):
    form_settings.thank_you = "Thanks! We answer within two working days."
    save_form_settings(form_settings)
    response = visitor.client.get(f"{visitor.url}thanks/")
    assert response.status_code == 200
    assert "Thanks! We answer within two working days." in response.content.decode()
    assert "frame-ancestors *" in response["Content-Security-Policy"]


def test_without_attachments_the_field_is_gone(visitor, form_settings):
    form_settings.allow_attachments = False
    save_form_settings(form_settings)
    assert 'name="attachment"' not in visitor.open().content.decode()


def test_the_snippet_is_an_iframe_of_the_public_page(form_settings, settings):
    settings.SITE_URL = "https://help.acme.example"
    url = f"https://help.acme.example/f/{form_settings.public_id}/"
    assert public_url(form_settings) == url
    snippet = embed_snippet(form_settings)
    assert snippet.startswith(f'<iframe src="{url}" title="Billing question form"')
    assert snippet.endswith("></iframe>")
    form_settings.title = 'Ask "billing" <now>'
    assert 'title="Ask &quot;billing&quot; &lt;now&gt;"' in embed_snippet(form_settings)
    # Shown on a page as text, it is escaped (not an iframe in the admin's own page).
    shown = Template("{{ snippet }}").render(Context({"snippet": snippet}))
    assert shown.startswith("&lt;iframe src=&quot;")


def test_settings_are_made_once_per_channel_with_an_unguessable_id(form_channel):
    first = form_settings_for(form_channel)
    assert form_settings_for(form_channel).pk == first.pk
    assert len(first.public_id) == 24 and first.public_id.isalnum()
