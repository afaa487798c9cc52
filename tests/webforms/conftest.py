"""Web form tests: a form channel with its settings, and `Visitor` — one browser (a test
client with its own cookies) that opens the form and sends it as a person would."""

import re
from dataclasses import dataclass, field

import pytest
from django.test import Client

from channels_cfg.models import AssignMode
from helpdesk.models import Channel
from tests.factories import ChannelAutomationFactory, ChannelFactory
from webforms.services import form_settings_for

TOKEN = re.compile(r'name="token" value="([^"]+)"')


def token_of(response) -> str:
    found = TOKEN.search(response.content.decode())
    assert found, "the page has no form token"
    return found.group(1)


@dataclass
class Visitor:
    """A browser on the form page. `open()` GETs the page (the cookie is set then) and
    keeps its token; `send(**fields)` posts the form — after opening it, unless told
    `token=` — and returns the response."""

    public_id: str
    client: Client = field(default_factory=Client)
    ip: str = "198.51.100.7"
    token: str = ""

    @property
    def url(self) -> str:
        return f"/f/{self.public_id}/"

    def open(self):
        response = self.client.get(self.url, REMOTE_ADDR=self.ip)
        assert response.status_code == 200
        self.token = token_of(response)
        return response

    def fields(self, **values) -> dict:
        data = {
            "name": "Kim Larsen",
            "email": "kim@customer.example",
            "subject": "Invoice 2024-113 charged twice",
            "message": "Hello, I was charged twice for invoice 2024-113.",
            "website": "",
        }
        data.update(values)
        return data

    def send(self, *, token: str | None = None, reopen: bool = True, **values):
        if token is None:
            if reopen or not self.token:
                self.open()
            token = self.token
        return self.client.post(
            self.url, {**self.fields(**values), "token": token}, REMOTE_ADDR=self.ip
        )

    @property
    def cookie(self) -> str | None:
        morsel = self.client.cookies.get("hd_visitor")
        return morsel.value if morsel else None


@pytest.fixture
def form_channel(db):
    channel = ChannelFactory(kind=Channel.Kind.FORM, name="Billing question form", address="")
    ChannelAutomationFactory(channel=channel, assign_mode=AssignMode.NONE)
    return channel


@pytest.fixture
def form_settings(form_channel):
    return form_settings_for(form_channel)


@pytest.fixture
def visitor(form_settings) -> Visitor:
    return Visitor(public_id=form_settings.public_id)


@pytest.fixture
def new_visitor(form_settings):
    """`new_visitor()`: another browser, on another network."""
    count = iter(range(10, 250))

    def make(**kwargs) -> Visitor:
        return Visitor(public_id=form_settings.public_id, ip=f"203.0.113.{next(count)}", **kwargs)

    return make
