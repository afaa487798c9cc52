"""Issue 12, "Settings", in Chromium: an account admin fills a new WhatsApp channel's panel
on its Details tab, saves, reads the callback URL to give Meta and the change in the
history (secrets only as "changed", never in the page), then runs "Test the token" against
a local stand-in for the Graph API. Screenshots at 1280 px and 390 px:
/tmp/wa-panel-desktop.png and /tmp/wa-panel-mobile.png (whole page),
/tmp/wa-panel-desktop-result.png (the screen showing the answer), and
test-artifacts/screenshots/wa-panel-*.png."""

import os
from pathlib import Path

import pytest
from django.conf import settings

from helpdesk.models import Channel
from tests.factories import ChannelFactory
from tests.whatsapp.conftest import PHONE_NUMBER_ID
from tests.whatsapp.test_settings_panel import meta_server
from whatsapp.models import WhatsAppSettings

# The fixtures of tests/browser/conftest.py set this too; kept here for a lone run.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SHOTS = Path("/tmp")
TOKEN = "EAAG-browser-token-4711"
APP_SECRET = "browser-app-secret-0815"
VERIFY_TOKEN = "browser-verify-token-2024"


def expect():
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect


def test_an_admin_sets_up_a_whatsapp_number_and_tests_its_token(login_page, screenshot, admin_user):
    channel = ChannelFactory(kind=Channel.Kind.WHATSAPP, name="WhatsApp", address="+47 900")
    check = expect()
    with meta_server() as graph:
        page = login_page(admin_user, start=f"/settings/channels/{channel.pk}/")
        panel = page.locator("#panel-whatsapp")
        check(panel.get_by_role("heading", name="WhatsApp", exact=True)).to_be_visible()

        panel.get_by_label("API base URL").fill(graph.url)
        panel.get_by_label("Phone number id").fill(PHONE_NUMBER_ID)
        panel.get_by_label("Access token").fill(TOKEN)
        panel.get_by_label("Verify token").fill(VERIFY_TOKEN)
        panel.get_by_label("App secret").fill(APP_SECRET)
        panel.get_by_label("Approved templates").fill(
            "follow_up | en_US | Hello, we have an answer for you.\nhello_world | en_US"
        )
        panel.get_by_role("button", name="Save WhatsApp settings").click()

        check(page.locator(".alert-success")).to_contain_text("WhatsApp settings saved.")
        callback = f"{settings.SITE_URL}/whatsapp/{channel.pk}/webhook/"
        check(panel.locator("[data-callback-url]")).to_have_text(callback)
        check(panel.locator("[data-verify-hint]")).to_contain_text("Stored, starts with brow")
        history = page.locator("[data-history]")
        check(history).to_contain_text(f"WhatsApp · Phone number id: (empty) → {PHONE_NUMBER_ID}")
        check(history).to_contain_text("WhatsApp · Access token: (none) → changed")
        check(history).to_contain_text(
            "WhatsApp · Approved templates: (none) → follow_up (en_US), hello_world (en_US)"
        )
        check(panel.get_by_label("Access token")).to_have_value("")
        saved = WhatsAppSettings.objects.get(channel=channel)
        assert (saved.access_token, saved.app_secret, saved.verify_token) == (
            TOKEN,
            APP_SECRET,
            VERIFY_TOKEN,
        )

        panel.get_by_role("button", name="Test the token").click()
        result = page.locator("#wa-test-token [data-result]")
        check(result).to_have_text(
            "✓Meta answered: the number +47 900 00 000 (display name Acme Support) is "
            "reachable with this token."
        )
        assert [r.headers["Authorization"] for r in graph.numbers_asked] == [f"Bearer {TOKEN}"]
    html = page.content()
    for secret in (TOKEN, APP_SECRET, VERIFY_TOKEN):
        assert secret not in html

    result.scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / "wa-panel-desktop-result.png"))  # the screen with the answer
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(SHOTS / "wa-panel-desktop.png"), full_page=True)
    screenshot("wa-panel-desktop")

    page.set_viewport_size({"width": 390, "height": 844})
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(SHOTS / "wa-panel-mobile.png"), full_page=True)
    screenshot("wa-panel-mobile")
    wider = page.evaluate(
        """() => [...document.querySelectorAll('#panel-whatsapp, #panel-whatsapp *')]
            .filter(el => el.getBoundingClientRect().right > window.innerWidth)
            .map(el => el.tagName + '.' + el.className)"""
    )
    assert wider == [], f"wider than a 390px screen: {wider}"
    assert page.console_errors == []


def test_an_admin_copies_a_form_channels_snippet_and_opens_its_page(
    login_page, screenshot, admin_user, live_server, settings
):
    """Issue 12, "an embeddable snippet shown on the channel's Details tab": the snippet is
    on the page as text and the Copy button puts exactly it on the clipboard; the public
    address opens the form. Screenshots: /tmp/form-panel-desktop.png, -mobile.png."""
    from webforms.services import embed_snippet, form_settings_for

    settings.SITE_URL = live_server.url  # the page's links lead to this test's server
    channel = ChannelFactory(kind=Channel.Kind.FORM, name="Billing questions", address="")
    check = expect()
    page = login_page(admin_user, start=f"/settings/channels/{channel.pk}/")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    panel = page.locator("#panel-webform")
    check(panel.get_by_role("heading", name="Web form", exact=True)).to_be_visible()
    snippet = embed_snippet(form_settings_for(channel))
    check(panel.get_by_label("Embed on another site")).to_have_value(snippet)

    panel.get_by_role("button", name="Copy").click()
    check(panel.locator('[data-copy-status="form-snippet"]')).to_have_text("Copied.")
    assert page.evaluate("navigator.clipboard.readText()") == snippet

    panel.get_by_label("Title").fill("Ask Billing")
    panel.get_by_role("button", name="Save web form").click()
    check(page.locator(".alert-success")).to_contain_text("Web form saved.")
    check(page.locator("[data-history]")).to_contain_text("Form · Title: (empty) → Ask Billing")

    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(SHOTS / "form-panel-desktop.png"), full_page=True)
    screenshot("form-panel-desktop")
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(SHOTS / "form-panel-mobile.png"), full_page=True)
    screenshot("form-panel-mobile")
    wider = page.evaluate(
        """() => [...document.querySelectorAll('#panel-webform, #panel-webform *')]
            .filter(el => el.getBoundingClientRect().right > window.innerWidth)
            .map(el => el.tagName + '.' + el.className)"""
    )
    assert wider == [], f"wider than a 390px screen: {wider}"

    with page.context.expect_page() as opened:
        panel.locator("[data-public-url]").click()
    form_page = opened.value
    form_page.wait_for_load_state()
    check(form_page.get_by_role("heading", name="Ask Billing")).to_be_visible()
    check(form_page.get_by_label("Email")).to_be_visible()
    check(form_page.get_by_role("button", name="Send message")).to_be_visible()
    assert page.console_errors == []
