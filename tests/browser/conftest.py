"""Reusable fixtures for browser tests: Debian's Chromium driven by Playwright's sync API
against pytest-django's `live_server`.

    @pytest.mark.browser
    def test_something(live_server, login_page, screenshot, agent):
        page = login_page(agent)               # signed in (session cookie), at /
        page.goto("/queues/unassigned/")
        screenshot("unassigned-queue")         # test-artifacts/screenshots/unassigned-queue.png

`page` is a fresh 1280×800 browser tab per test whose relative URLs go to the live server;
`page.console_errors` collects JavaScript errors and CSP violations (tests can assert it is
empty). `sign_in(page, username, password)` drives the real login form. Static files are
served by the live server's staticfiles handler (from the app's static/ directories, so it
works with or without `collectstatic`).
"""

import os
import shutil
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

# Playwright's sync API keeps an event loop in the main thread; Django refuses ORM calls from
# a thread with a running loop unless told that this test process knows what it is doing.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
DOC_SCREENSHOTS = ROOT / "docs" / "screenshots"
VIEWPORT = {"width": 1280, "height": 800}
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the whole session (Debian's, not a downloaded one)."""
    from playwright.sync_api import sync_playwright

    executable = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


def _new_page(browser, live_server, **context_options):
    context = browser.new_context(
        viewport=VIEWPORT, base_url=live_server.url, locale="en-GB", **context_options
    )
    page = context.new_page()
    page.set_default_timeout(10_000)
    errors: list[str] = []

    def on_console(message):
        if message.type == "error":
            where = message.location or {}
            errors.append(
                f"{message.text} [{page.url} · {where.get('url')}:{where.get('lineNumber')}]"
            )

    page.on("console", on_console)
    page.on("pageerror", lambda exc: errors.append(f"{exc} [{page.url}]"))
    page.console_errors = errors
    return context, page


@pytest.fixture
def page(browser, live_server):
    """A fresh tab (own cookies) on the live server, 1280×800."""
    context, page = _new_page(browser, live_server)
    yield page
    context.close()


@pytest.fixture
def page_without_js(browser, live_server):
    """A tab with JavaScript off: every page must still work as plain HTML forms."""
    context, page = _new_page(browser, live_server, java_script_enabled=False)
    yield page
    context.close()


def sign_in(page, username: str, password: str) -> None:
    """Use the real login form."""
    page.goto("/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_load_state()


def session_cookie_for(user, live_server) -> dict:
    client = Client()
    client.force_login(user)
    return {
        "name": settings.SESSION_COOKIE_NAME,
        "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
        "url": live_server.url,
    }


@pytest.fixture
def login_page(page, live_server):
    """`login_page(user)` signs `user` in without the form (a session cookie) and returns
    the page, at the helpdesk home."""

    def _login(user, start: str = "/"):
        page.context.add_cookies([session_cookie_for(user, live_server)])
        page.goto(start)
        return page

    return _login


@pytest.fixture
def screenshot(page, request):
    """`screenshot(name)` saves a full-page PNG to test-artifacts/screenshots/ and returns
    its path; `screenshot(name, target=other_page)` shoots another page. With `docs=True`
    it also replaces docs/screenshots/<name>.png, the picture the user guides show — so the
    guides show the pages as they are (tests/test_docs.py checks every picture has a test)."""

    def _shot(name: str, target=None, full_page: bool = True, docs: bool = False) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        (target or page).screenshot(path=str(path), full_page=full_page)
        if docs:
            DOC_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, DOC_SCREENSHOTS / path.name)
        return path

    return _shot
