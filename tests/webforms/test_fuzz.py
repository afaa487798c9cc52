"""Fuzzing the form's POST: whatever arrives — any field values, any file, any bytes under
any content type, a valid token or not — the answer is a page (303, 400, 413 or 429), never
a 5xx; and once the workers are done every stored submission is a ticket (or a settled
spam-trap event), with no contact, message or attachment left over beside them."""

import os

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, TestCase
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from helpdesk.models import Attachment, Contact, InboundEvent, Message, Ticket
from tests.webforms.conftest import token_of

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_celery")]

fuzz = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Any code point a browser can send (lone surrogates cannot be encoded in a request).
piece = st.characters(exclude_categories=("Cs",)) | st.sampled_from(
    ["\x00", "\r\n", "İ", "\u200b", "\ufeff", "<script>", "'", '"', "%00", "\U0001f600"]
)
text = st.lists(piece, max_size=30).map("".join)
sized = st.builds(
    lambda c, n: c * n,
    st.sampled_from(["x", "é", "\U0001f600", " "]),
    st.sampled_from([199, 200, 201, 254, 255, 19_999, 20_000, 20_001]),
)
emails = st.sampled_from(
    [
        "kim@customer.example",
        "KIM@Customer.Example",
        "a@b",
        "@x.example",
        "kim@",
        "x" * 250 + "@e.io",
    ]
) | st.emails().map(str)
value = text | sized
file_heads = st.sampled_from(
    [b"%PDF-1.4\n", b"\x89PNG\r\n\x1a\n", b"MZ", b"", b"GIF89a", b"PK\x03\x04"]
)
files = st.builds(
    lambda name, head, tail: SimpleUploadedFile(name, head + tail, "application/octet-stream"),
    st.sampled_from(["a.pdf", "b.png", "c.exe", "d", "../../e.txt", "f.docx", "g.gif"])
    | text.filter(lambda name: os.path.basename(name) not in {"", ".", ".."}),
    file_heads,
    st.binary(max_size=64),
)
VALID = {
    "name": "Kim Larsen",
    "email": "kim@customer.example",
    "subject": "Order 1",
    "message": "Where is it?",
}
random_forms = st.fixed_dictionaries(
    {},
    optional={
        "name": value,
        "email": emails | text,
        "subject": value,
        "message": value,
        "website": st.just("") | text,
        "attachment": files,
        "extra": text,
    },
)
# A valid form with a few fields replaced or left out, or any fields at all.
near_valid_forms = st.builds(
    lambda changed, dropped, extra: {
        **{k: v for k, v in VALID.items() if k not in dropped},
        **changed,
        **extra,
    },
    st.dictionaries(st.sampled_from(sorted(VALID)), value | emails, max_size=1),
    st.sets(st.sampled_from(sorted(VALID)), max_size=1),
    st.fixed_dictionaries({}, optional={"attachment": files, "website": text}),
)
forms = st.one_of(near_valid_forms, near_valid_forms, random_forms)  # ⅔ near valid
raw_types = st.sampled_from(
    [
        "multipart/form-data; boundary=x",
        "multipart/form-data",
        "application/x-www-form-urlencoded",
        "application/x-www-form-urlencoded; charset=latin-1",
        "text/plain",
        "application/json",
    ]
)


def check_invariants():
    events = list(InboundEvent.objects.filter(kind="form"))
    assert {e.status for e in events} <= {"processed", "ignored"}, [e.error for e in events]
    tickets = set(Ticket.objects.values_list("pk", flat=True))
    processed = [e.ticket_id for e in events if e.status == "processed"]
    assert sorted(processed) == sorted(tickets)  # one event per ticket, one ticket per event
    assert all(e.payload.get("honeypot") for e in events if e.status == "ignored")
    assert not Contact.objects.filter(tickets__isnull=True).exists()
    assert Message.objects.count() == len(tickets)
    with_file = sum(1 for e in events if e.status == "processed" and e.payload.get("attachment"))
    assert Attachment.objects.count() == with_file


@pytest.fixture
def open_limits(settings, tmp_path):
    settings.FORMS_RATE_PER_IP = settings.FORMS_RATE_PER_ADDRESS = 0
    settings.MEDIA_ROOT = str(tmp_path)


@pytest.mark.usefixtures("open_limits")
@fuzz
@given(data=forms, valid_token=st.sampled_from([True, True, True, False]), token=text)
def test_any_field_values_give_a_page_and_leave_no_orphans(form_settings, data, valid_token, token):
    client = Client()
    url = f"/f/{form_settings.public_id}/"
    page = client.get(url)
    data = {**data, "token": token_of(page) if valid_token else token}
    with TestCase.captureOnCommitCallbacks(execute=True):
        before = InboundEvent.objects.count()
        response = client.post(url, data)
    event(f"status {response.status_code}")
    assert response.status_code in {303, 400, 413, 429}, response.content[:500]
    if response.status_code != 303:
        assert InboundEvent.objects.count() == before
    check_invariants()


@pytest.mark.usefixtures("open_limits")
@fuzz
@given(body=st.binary(max_size=300), content_type=raw_types)
def test_any_bytes_give_a_page_and_store_nothing(form_settings, body, content_type):
    client = Client()
    url = f"/f/{form_settings.public_id}/"
    client.get(url)
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = client.generic("POST", url, body, content_type=content_type)
    event(f"status {response.status_code}")
    assert response.status_code in {400, 413}, response.content[:500]
    assert InboundEvent.objects.count() == 0
    check_invariants()
