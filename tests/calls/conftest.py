"""A calling channel as Twilio would reach it, and a `twilio` fixture that posts signed
webhooks to it the way Twilio does (form-encoded, X-Twilio-Signature over the public URL).

Opening hours: Monday 08:00–16:00 in Europe/Oslo; `OPEN` and `CLOSED` are instants inside
and outside them (travel there with time-machine)."""

import datetime as dt
import secrets
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from urllib.parse import urlencode

import pytest
from django.test import Client
from django.urls import reverse

from calls.intake import sign
from calls.models import CallSettings
from channels_cfg.models import AssignMode
from helpdesk.models import Channel
from tests.conftest import make_agent
from tests.factories import ChannelAutomationFactory, ChannelFactory, OpeningHoursFactory

TOKEN = "twilio-auth-token-for-tests"
BASE = "https://help.example.com"
OSLO = dt.timezone(dt.timedelta(hours=1))  # Oslo in winter
OPEN = dt.datetime(2026, 11, 30, 10, 0, tzinfo=OSLO)  # a Monday, 10:00 in Oslo
CLOSED = dt.datetime(2026, 11, 30, 19, 0, tzinfo=OSLO)  # the same Monday, 19:00
CALLER = "+4798765432"
ADA_PHONE = "+4712345678"


def call_sid() -> str:
    return "CA" + secrets.token_hex(16)


def recording_sid() -> str:
    return "RE" + secrets.token_hex(16)


@dataclass
class Posted:
    status: int
    body: bytes
    json: dict | None

    @property
    def xml(self) -> ET.Element:
        assert self.status == 200, self.body
        return ET.fromstring(self.body)


class Twilio:
    """Posts webhooks to one channel as Twilio does."""

    def __init__(self, call_settings: CallSettings):
        self.call_settings = call_settings
        self.client = Client()

    def url(self, callback: str) -> str:
        return self.call_settings.public_url(self.path(callback))

    def path(self, callback: str) -> str:
        return reverse(f"calls-{callback}", args=[self.call_settings.channel_id])

    def post(
        self,
        callback: str,
        fields: dict,
        *,
        signed_url: str | None = None,
        signature: str | None = None,
        token: str = TOKEN,
    ) -> Posted:
        if signature is None:
            signature = sign(auth_token=token, url=signed_url or self.url(callback), params=fields)
        response = self.client.post(
            self.path(callback),
            urlencode(fields),
            content_type="application/x-www-form-urlencoded",
            headers={"X-Twilio-Signature": signature},
        )
        is_json = response.get("Content-Type", "").startswith("application/json")
        return Posted(response.status_code, response.content, response.json() if is_json else None)

    def incoming(self, sid: str, caller: str = CALLER, **extra) -> Posted:
        fields = {"CallSid": sid, "From": caller, "To": "+4722000000", "CallStatus": "ringing"}
        return self.post("incoming", {**fields, **extra})

    def dial(self, sid: str, status: str, seconds: int | None = None) -> Posted:
        fields = {"CallSid": sid, "DialCallStatus": status, "DialCallSid": call_sid()}
        if seconds is not None:
            fields["DialCallDuration"] = str(seconds)
        return self.post("dial", fields)

    def status(self, sid: str, status: str, seconds: int) -> Posted:
        return self.post(
            "status", {"CallSid": sid, "CallStatus": status, "CallDuration": str(seconds)}
        )

    def recording(self, sid: str, rec_sid: str, seconds: int, **extra) -> Posted:
        fields = {
            "CallSid": sid,
            "RecordingSid": rec_sid,
            "RecordingUrl": f"https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/{rec_sid}",
            "RecordingDuration": str(seconds),
        }
        return self.post("recording", {**fields, **extra})


@pytest.fixture
def ada(db):
    """The agent calls are routed to: Ada Agent, with a phone number."""
    return make_agent("ada", first_name="Ada", last_name="Agent", phone=ADA_PHONE)


@pytest.fixture
def calling_channel(db, ada):
    channel = ChannelFactory(kind=Channel.Kind.CALLING, name="Phone line", address="")
    automation = ChannelAutomationFactory(
        channel=channel,
        assign_mode=AssignMode.SPECIFIC,
        users=[ada],
        opening_hours_time_zone="Europe/Oslo",
        after_hours_message="We open at eight. Please leave a message.",
    )
    OpeningHoursFactory(automation=automation, start=dt.time(8), end=dt.time(16))
    return channel


@pytest.fixture
def call_settings(calling_channel):
    return CallSettings.objects.create(
        channel=calling_channel, auth_token=TOKEN, public_base_url=BASE, caller_id="+4722000000"
    )


@pytest.fixture
def twilio(call_settings):
    return Twilio(call_settings)
