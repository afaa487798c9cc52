"""Issue 11, "Settings and pages", in Chromium: an account admin fills a team-email
channel's IMAP fields on its Details tab, saves, runs "Test connection" against a dovecot
started by the test and reads the answer in plain words beside the button; the secret is
never in the page. Screenshots at 1280 px and 390 px: /tmp/panel-desktop.png and
/tmp/panel-mobile.png (whole page), /tmp/panel-*-result.png (the screen showing the answer),
and test-artifacts/screenshots/mail-settings-*.png."""

import os
from pathlib import Path

import pytest

from mailroom.models import MailSettings
from tests.factories import ChannelFactory
from tests.mailroom.dovecot import dovecot_fixture  # noqa: F401
from tests.mailroom.helpers import mail

# The fixtures of tests/browser/conftest.py set this too; kept here for a lone run.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.browser, pytest.mark.imap, pytest.mark.django_db(transaction=True)]
SHOTS = Path("/tmp")


def expect():
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect


def test_an_admin_connects_a_mailbox_and_tests_it(login_page, screenshot, admin_user, dovecot):
    dovecot.append(mail(message_id="<waiting.1@customer.example>"))
    channel = ChannelFactory(name="Support", address="support@helpdesk.example")
    page = login_page(admin_user, start=f"/settings/channels/{channel.pk}/")
    check = expect()
    panel = page.locator("#panel-mail")
    check(panel.get_by_role("heading", name="Mail", exact=True)).to_be_visible()

    panel.get_by_label("Addresses it answers for").fill("support@helpdesk.example")
    panel.get_by_label("IMAP host").fill(dovecot.host)
    panel.get_by_label("Port").fill(str(dovecot.port))
    panel.get_by_label("Security").select_option(MailSettings.Security.NONE)
    panel.get_by_label("User", exact=True).fill(dovecot.user)
    panel.get_by_label("Secret", exact=True).fill(dovecot.password)
    panel.get_by_role("button", name="Save mail settings").click()

    check(page.locator(".alert-success")).to_contain_text("Mail settings saved.")
    check(page.locator("[data-history]")).to_contain_text(
        f"Mail · IMAP host: (empty) → {dovecot.host}"
    )
    check(page.locator("[data-history]")).to_contain_text("Mail · IMAP secret: (none) → changed")
    # The texts a browser posts back unchanged (CRLF line ends) are not a change.
    check(page.locator("[data-history]")).not_to_contain_text("Acknowledgement body")
    check(panel.get_by_label("IMAP host")).to_have_value(dovecot.host)
    check(panel.get_by_label("Secret", exact=True)).to_have_value("")
    saved = MailSettings.objects.get(channel=channel)
    assert (saved.imap_host, saved.imap_secret) == (dovecot.host, dovecot.password)

    panel.get_by_role("button", name="Test connection").click()
    result = page.locator("#mail-test-imap [data-result]")
    check(result).to_have_text(
        f"✓Connected to {dovecot.host}:{dovecot.port} (no TLS), logged in as {dovecot.user}, "
        "folder INBOX has 1 message."
    )
    assert dovecot.password not in page.content()
    # The answer's #anchor scrolls it (smoothly) to just below the top bar.
    page.wait_for_function(
        "() => Math.abs(document.querySelector('#mail-test-imap').getBoundingClientRect().top"
        " - 128) < 2"
    )
    page.screenshot(path=str(SHOTS / "panel-desktop-result.png"))  # scrolled to the answer
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(SHOTS / "panel-desktop.png"), full_page=True)
    screenshot("mail-settings-desktop")

    panel.get_by_label("Secret", exact=True).fill("Not-The-Password-1")
    panel.get_by_role("button", name="Test connection").click()
    check(result).to_contain_text("The server refused the login: [AUTHENTICATIONFAILED]")
    assert "Not-The-Password-1" not in page.content()

    page.set_viewport_size({"width": 390, "height": 844})
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(SHOTS / "panel-mobile.png"), full_page=True)
    result.scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / "panel-mobile-result.png"))
    screenshot("mail-settings-mobile")
    wider = page.evaluate(
        """() => [...document.querySelectorAll('#panel-mail, #panel-mail *')]
            .filter(el => el.getBoundingClientRect().right > window.innerWidth)
            .map(el => el.tagName + '.' + el.className)"""
    )
    assert wider == [], f"wider than a 390px screen: {wider}"
    assert page.console_errors == []
