"""Issue 11, threading in the issue's order: In-Reply-To, then References (newest first), then
the reply+token address, then a ticket tag in the subject. Only the candidates here; the
lookup against stored messages is a later round's."""

import pytest

from mailroom.parsing import parse_message
from mailroom.threading import Candidate, Source, reply_token, thread_candidates, ticket_tag


def test_a_long_chain_gives_in_reply_to_then_references_newest_first_then_token_and_tag(parse):
    candidates = thread_candidates(parse("long_chain.eml"))

    assert candidates == (
        Candidate(Source.IN_REPLY_TO, "<ticket-1234.1717300400.0004@helpdesk.example>"),
        # The newest reference is the In-Reply-To above: not repeated.
        Candidate(Source.REFERENCES, "<a4.1717300000@example.no>"),
        Candidate(Source.REFERENCES, "<ticket-1234.1717200300.0003@helpdesk.example>"),
        Candidate(Source.REFERENCES, "<a3.1717200000@example.no>"),
        Candidate(Source.REFERENCES, "<ticket-1234.1717100200.0002@helpdesk.example>"),
        Candidate(Source.REFERENCES, "<a2.1717100000@example.no>"),
        Candidate(Source.REFERENCES, "<ticket-1234.1717000100.0001@helpdesk.example>"),
        Candidate(Source.REFERENCES, "<a1.1717000000@example.no>"),
        Candidate(Source.REPLY_TOKEN, "m3n8b2v6c1x9z4q7"),
        Candidate(Source.TICKET_TAG, "1234"),
    )


def test_a_gmail_reply_threads_by_header_token_and_tag(parse):
    assert thread_candidates(parse("gmail_reply.eml")) == (
        Candidate(Source.IN_REPLY_TO, "<ticket-1042.1717940000.4d7f@helpdesk.example>"),
        Candidate(Source.REPLY_TOKEN, "k7q2m9x4v8w3z6p1"),
        Candidate(Source.TICKET_TAG, "1042"),
    )


def test_a_first_mail_has_no_candidates(parse):
    assert thread_candidates(parse("alternative_qp.eml")) == ()


def test_the_reply_token_is_found_in_cc_delivered_to_and_x_original_to():
    raw = b"From: a@example.com\nTo: support@helpdesk.example\nX-Original-To: Reply+ABCD1234@x\n\n."

    assert thread_candidates(parse_message(raw)) == (Candidate(Source.REPLY_TOKEN, "abcd1234"),)


def test_a_mail_does_not_thread_onto_itself():
    raw = b"From: a@example.com\nMessage-ID: <me@x>\nIn-Reply-To: <me@x>\nReferences: <p@x> <me@x>"

    assert thread_candidates(parse_message(raw + b"\n\nhi")) == (
        Candidate(Source.REFERENCES, "<p@x>"),
    )


@pytest.mark.parametrize(
    ("addresses", "token"),
    [
        (["support@helpdesk.example", "reply+k7q2m9x4v8w3z6p1@helpdesk.example"],
         "k7q2m9x4v8w3z6p1"),
        (["REPLY+K7Q2M9X4@Helpdesk.Example"], "k7q2m9x4"),  # addresses compare lower-cased
        (["reply+short@helpdesk.example"], None),  # under 8 characters: not one of ours
        (["reply+has.dots.in.it@helpdesk.example"], None),
        (["reply@helpdesk.example", "replies+abcdefgh@x"], None),
        (["reply+abcdefgh"], None),  # no domain
        ([], None),
    ],
)  # fmt: skip
def test_reply_token(addresses, token):
    assert reply_token(addresses) == token


def test_reply_token_with_another_local_prefix():
    assert reply_token(["t+abcdefgh@x", "reply+zzzzzzzz@x"], local_prefix="t") == "abcdefgh"


@pytest.mark.parametrize(
    ("subject", "number"),
    [
        ("Re: [#1234] VPN drops", 1234),
        ("AW: WG: [ Ticket #77 ] Drucker", 77),
        ("[#12] about [#34]", 12),  # the first tag
        ("Order #1234 is late", None),  # no brackets
        ("[#12a]", None),
        ("[#]", None),
        ("", None),
    ],
)
def test_ticket_tag(subject, number):
    assert ticket_tag(subject) == number
