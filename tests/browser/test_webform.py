"""The public form in Chromium (issue 12, "Forms"): a visitor fills it in with the keyboard
alone, first with a mistake (the errors are listed and shown beside their fields, what was
typed stays), then sends it and sees the thank-you page; the ticket exists. The same form
inside an iframe of another page. Screenshots at 1280 px and 390 px: /tmp/form-*.png (and
test-artifacts/screenshots/form-*.png).
"""

import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from channels_cfg.models import AssignMode
from helpdesk.models import Channel, InboundEvent, Ticket
from tests.factories import ChannelAutomationFactory, ChannelFactory
from webforms.services import embed_snippet, form_settings_for, save_form_settings

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    # The live server processes and routes at commit, as `make run` does.
    pytest.mark.usefixtures("eager_celery"),
]

SHOTS = Path("/tmp")
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}


def expect():
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect


@pytest.fixture
def form(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    channel = ChannelFactory(kind=Channel.Kind.FORM, name="Billing question form", address="")
    ChannelAutomationFactory(channel=channel, assign_mode=AssignMode.NONE)
    form_settings = form_settings_for(channel)
    form_settings.title = "Ask Billing"
    form_settings.intro = "Questions about an invoice or a payment? We answer within a day."
    save_form_settings(form_settings)
    return form_settings


def shoot(page, name: str, screenshot) -> None:
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    screenshot(name)


def overflowing(page) -> list[str]:
    return page.evaluate(
        """() => [...document.querySelectorAll('.wf-card, .wf-card *')]
            .filter(el => el.getBoundingClientRect().right > window.innerWidth + 0.5)
            .map(el => el.tagName + '.' + el.className)"""
    )


def test_a_visitor_sends_the_form_with_the_keyboard_and_sees_the_thank_you_page(
    page, form, screenshot, tmp_path
):
    check = expect()
    page.goto(f"/f/{form.public_id}/")
    check(page.locator("h1")).to_have_text("Ask Billing")
    shoot(page, "form-desktop", screenshot)
    page.set_viewport_size(PHONE)
    shoot(page, "form-mobile", screenshot)
    assert overflowing(page) == [], "wider than a 390 px screen"

    # Keyboard only: Tab goes name → email → subject → message → file → Send (never into
    # the hidden spam trap); a mistyped address first.
    page.get_by_label("Your name").focus()
    page.keyboard.type("Kim Larsen")
    page.keyboard.press("Tab")
    page.keyboard.type("kim-at-customer.example")
    page.keyboard.press("Tab")
    page.keyboard.type("Invoice 2024-113 charged twice")
    page.keyboard.press("Tab")
    page.keyboard.type("Hello, I was charged twice for invoice 2024-113.")
    page.keyboard.press("Tab")
    check(page.get_by_label("Attachment (optional)")).to_be_focused()
    page.keyboard.press("Tab")
    check(page.get_by_role("button", name="Send message")).to_be_focused()
    page.keyboard.press("Enter")

    page.wait_for_load_state()
    summary = page.get_by_role("alert")
    check(summary).to_contain_text("Your message was not sent yet")
    check(summary).to_contain_text("Enter an email address like name@example.com.")
    check(page.get_by_label("Email address")).to_have_attribute("aria-invalid", "true")
    check(page.get_by_label("Subject")).to_have_value("Invoice 2024-113 charged twice")
    assert overflowing(page) == []
    shoot(page, "form-mobile-errors", screenshot)
    page.set_viewport_size(DESKTOP)
    shoot(page, "form-desktop-errors", screenshot)
    assert Ticket.objects.count() == 0

    summary.get_by_role("link").click()  # the error's link leads to its field
    check(page.get_by_label("Email address")).to_be_focused()
    page.keyboard.press("Control+A")
    page.keyboard.type("kim@customer.example")
    statement = tmp_path / "statement.pdf"
    statement.write_bytes(b"%PDF-1.4\n%%EOF\n")
    page.get_by_label("Attachment (optional)").set_input_files(str(statement))
    page.get_by_role("button", name="Send message").press("Enter")

    check(page.locator("h1")).to_have_text("Message sent")
    check(page.get_by_role("status")).to_contain_text("We will answer you by email")
    shoot(page, "form-desktop-thanks", screenshot)
    page.set_viewport_size(PHONE)
    shoot(page, "form-mobile-thanks", screenshot)

    ticket = Ticket.objects.get()
    assert ticket.subject == "Invoice 2024-113 charged twice"
    assert ticket.contact.email == "kim@customer.example"
    assert ticket.messages.get().attachments.get().filename == "statement.pdf"
    assert InboundEvent.objects.get().status == "processed"
    # A reload of the thank-you page sends nothing again (PRG).
    page.reload()
    assert Ticket.objects.count() == 1
    # The one error is the browser noting the 400 of the page with the mistake.
    assert [e for e in page.console_errors if "status of 400" not in e] == []


@pytest.fixture
def other_site():
    """`other_site(html)`: the URL of a page of another site — another origin, on loopback
    (Chromium refuses a public page's frames of a local server) — serving `html`."""
    servers = []

    def serve(html: str) -> str:
        class Page(BaseHTTPRequestHandler):
            def do_GET(self):
                body = html.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/contact/"

    yield serve
    for server in servers:
        server.shutdown()
        server.server_close()


def test_the_form_works_inside_an_iframe_of_another_page(
    page, form, live_server, other_site, screenshot
):
    check = expect()
    html = "<!doctype html><title>Acme shop</title><h1>Contact us</h1>" + embed_snippet(
        form, base_url=live_server.url
    )
    shop = other_site(html)
    page.goto(shop)
    frame = page.frame_locator("iframe")
    check(frame.locator("h1")).to_have_text("Ask Billing")
    shoot(page, "form-embedded", screenshot)
    frame.get_by_label("Your name").fill("Kim Larsen")
    frame.get_by_label("Email address").fill("kim@customer.example")
    frame.get_by_label("Subject").fill("Embedded question")
    frame.get_by_label("Message").fill("Sent from the shop's contact page.")
    frame.get_by_role("button", name="Send message").click()
    check(frame.locator("h1")).to_have_text("Message sent")
    shoot(page, "form-embedded-thanks", screenshot)
    assert Ticket.objects.get().subject == "Embedded question"
    assert page.console_errors == []

    form.embed_origins = "https://www.acme.example"  # another site only: this one may not
    save_form_settings(form)
    page.goto(shop)
    check(frame.locator("h1")).not_to_have_text("Ask Billing")
    assert any("frame-ancestors" in e for e in page.console_errors)
