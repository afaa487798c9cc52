"""Issue 11: bad input never breaks intake. Fuzzing `parse_message` with arbitrary bytes and
with the .eml fixtures mutated (bytes flipped, inserted, deleted; truncated; header lines
duplicated; MIME syntax spliced in): it returns a ParsedMail or raises UnreadableMessage —
never anything else, and never the last-resort "the parser failed" guard. `classify` and the
threading helpers never raise on what it returns.
"""

from email.utils import formatdate

from hypothesis import given, settings
from hypothesis import strategies as st

from mailroom.loops import classify
from mailroom.parsing import ParsedMail, UnreadableMessage, parse_message
from mailroom.threading import reply_token, thread_candidates, ticket_tag
from tests.mailroom.conftest import EML

FIXTURES = [path.read_bytes() for path in sorted(EML.glob("*.eml"))]
# Pieces of MIME and HTML syntax that parsers choke on, spliced in at random places.
SYNTAX = [
    b"=?", b"?=", b"=?utf-8?b?", b"=?x-unknown?q?", b"=?shift_jis?B?gqA=?=", b"<", b">", b'"',
    b"\\", b"--", b"\n\n", b"\r", b"\n ", b"boundary=", b"charset=", b"; ", b"*=", b"*0*=",
    b"''", b"%", b"\x00", b"\xff\xfe", b"=\n", b"=XY", b"multipart/mixed", b"message/rfc822",
    b"multipart/report; report-type=delivery-status", b"base64", b"format=flowed",
    b"<blockquote>", b"<!--", b"<![CDATA[", b"&#x110000;", b"<a href=", b"<div class=gmail_quote>",
    b"From: ", b"Subject: ", b"Content-Type: ", b"Message-ID: <", b"References: <", b"@",
]  # fmt: skip
OURS = ["support@helpdesk.example"]
fuzz = settings(max_examples=200, deadline=None)


@st.composite
def mutated(draw) -> bytes:
    data = bytearray(draw(st.sampled_from(FIXTURES)))
    for _ in range(draw(st.integers(1, 8))):
        position = draw(st.integers(0, len(data)))
        operation = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "duplicate",
                                          "splice"]))  # fmt: skip
        if operation == "flip" and position < len(data):
            data[position] ^= 1 << draw(st.integers(0, 7))
        elif operation == "insert":
            data[position:position] = draw(st.binary(min_size=1, max_size=8))
        elif operation == "delete":
            del data[position : position + draw(st.integers(1, 40))]
        elif operation == "truncate":
            del data[position:]
        elif operation == "duplicate":
            lines = bytes(data).split(b"\n")
            line = lines[draw(st.integers(0, len(lines) - 1))]
            lines.insert(draw(st.integers(0, len(lines))), line)
            data = bytearray(b"\n".join(lines))
        elif operation == "splice":
            data[position:position] = draw(st.sampled_from(SYNTAX))
    return bytes(data)


header_names = st.sampled_from(
    ["From", "To", "Cc", "Reply-To", "Sender", "Return-Path", "Subject", "Date", "Message-ID",
     "In-Reply-To", "References", "Content-Type", "Content-Disposition",
     "Content-Transfer-Encoding", "Auto-Submitted", "Precedence", "List-Id", "Delivered-To",
     "X-Original-To", "X-Auto-Response-Suppress"]
)  # fmt: skip
header_values = st.text(st.characters(exclude_categories=("Cs",)), max_size=60) | st.sampled_from(
    [s.decode("latin-1") for s in SYNTAX] + [formatdate(), "<>", "a@b", "reply+abcdefgh@x"]
)


@st.composite
def headers_and_body(draw) -> bytes:
    """A message built from well-known header names with arbitrary values."""
    fields = draw(st.lists(st.tuples(header_names, header_values), max_size=12))
    head = "\n".join(f"{name}: {value}" for name, value in fields)
    encoding = draw(st.sampled_from(["utf-8", "latin-1", "shift_jis"]))
    body = draw(st.binary(max_size=200))
    return head.encode(encoding, "replace") + b"\n\n" + body


def check(data: bytes) -> None:
    try:
        mail = parse_message(data)
    except UnreadableMessage as unreadable:
        assert not unreadable.unexpected, unreadable.reason
        return
    assert isinstance(mail, ParsedMail)
    texts = [mail.subject, mail.from_name, mail.from_address, mail.text, mail.html,
             mail.new_text, mail.quoted_text, mail.message_id, *mail.recipients,
             *mail.references, *(a.filename for a in mail.attachments),
             *mail.headers.values(), *mail.defects]  # fmt: skip
    for text in texts:
        text.encode("utf-8")  # no lone surrogates: storable in PostgreSQL
        assert "\x00" not in text
    assert mail.message_id.startswith("<") and mail.message_id.endswith(">")
    assert mail.date is None or mail.date.tzinfo is not None
    assert sum(a.size for a in mail.attachments) <= 25 * 1024 * 1024
    result = classify(mail, OURS)
    assert result.may_create_ticket == result.may_answer == (not result.is_automatic)
    thread_candidates(mail)
    reply_token(mail.recipients)
    ticket_tag(mail.subject)


@fuzz
@given(st.binary(max_size=3000))
def test_arbitrary_bytes_parse_or_are_unreadable(data):
    check(data)


@fuzz
@given(mutated())
def test_mutated_real_shaped_messages_parse_or_are_unreadable(data):
    check(data)


@fuzz
@given(headers_and_body())
def test_arbitrary_header_values_parse_or_are_unreadable(data):
    check(data)


@fuzz
@given(st.lists(st.text(max_size=40), max_size=5), st.text(max_size=80))
def test_threading_helpers_never_raise_on_any_text(addresses, subject):
    token = reply_token(addresses)
    assert token is None or token.isascii()
    number = ticket_tag(subject)
    assert number is None or number >= 0
