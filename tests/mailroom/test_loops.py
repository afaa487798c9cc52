"""Issue 11, loops and abuse (RFC 3834 and common practice): auto-replies, bounces, bulk mail
and our own mail never create tickets and are never answered."""

import pytest

from mailroom.loops import Kind, classify
from mailroom.parsing import parse_message

OURS = ["support@helpdesk.example", "Sales@Helpdesk.example"]


def mail(*headers: str, content_type: str = "text/plain"):
    lines = ["From: Kim <kim@example.com>", "To: support@helpdesk.example", *headers]
    lines.append(f"Content-Type: {content_type}")
    return parse_message(("\n".join(lines) + "\n\nhello\n").encode())


def test_an_out_of_office_reply_is_automatic_and_never_answered(parse):
    result = classify(parse("auto_reply.eml"), OURS)

    assert result.kind is Kind.AUTO_REPLY
    assert result.is_automatic
    assert not result.may_create_ticket
    assert not result.may_answer
    assert result.reasons == (
        "null return path (Return-Path: <>), used by automatic mail",
        "an automatic reply (Auto-Submitted: auto-replied)",
        "asks not to be answered (X-Auto-Response-Suppress: All)",
    )


def test_a_bounce_is_recognised_by_its_report_sender_and_null_return_path(parse):
    result = classify(parse("bounce.eml"), OURS)

    assert result.kind is Kind.BOUNCE
    assert (result.may_create_ticket, result.may_answer) == (False, False)
    assert result.reasons == (
        "a delivery status notification (multipart/report)",
        "sent by a mail server (mailer-daemon@mail.helpdesk.example)",
        "null return path (Return-Path: <>), used by automatic mail",
        "an automatic reply (Auto-Submitted: auto-replied)",
    )


def test_a_mailing_list_mail_is_bulk(parse):
    result = classify(parse("mailing_list.eml"), OURS)

    assert result.kind is Kind.BULK
    assert (result.may_create_ticket, result.may_answer) == (False, False)
    assert result.reason == (
        "bulk mail (Precedence: list); sent through a mailing list"
        " (List-Id: DevOps announcements <devops-announce.lists.example.org>)"
    )


@pytest.mark.parametrize(
    "name",
    ["alternative_qp.eml", "gmail_reply.eml", "outlook_reply.eml", "long_chain.eml",
     "shift_jis.eml", "no_message_id.eml", "inline_image.eml"],
)  # fmt: skip
def test_mail_written_by_a_person_may_create_a_ticket_and_be_answered(parse, name):
    result = classify(parse(name), OURS)

    assert result.kind is Kind.PERSONAL
    assert (result.may_create_ticket, result.may_answer, result.is_automatic) == (
        True,
        True,
        False,
    )
    assert (result.reasons, result.reason) == ((), "written by a person")


@pytest.mark.parametrize(
    "sender", ["support@helpdesk.example", "SUPPORT@helpdesk.example", "sales+x@helpdesk.example"]
)
def test_mail_from_our_own_addresses_is_never_a_new_ticket(sender):
    parsed = parse_message(f"From: {sender}\nTo: support@helpdesk.example\n\nhi".encode())

    result = classify(parsed, OURS)

    assert result.kind is Kind.OWN_ADDRESS
    assert result.reasons == (f"sent from our own address {sender.lower()}",)
    assert not result.may_create_ticket


@pytest.mark.parametrize(
    ("header", "kind", "reason"),
    [
        ("Auto-Submitted: auto-generated", Kind.AUTOMATED,
         "sent automatically (Auto-Submitted: auto-generated)"),
        ("Auto-Submitted: Auto-Replied; owner-email=x@example.com", Kind.AUTO_REPLY,
         "an automatic reply (Auto-Submitted: auto-replied)"),
        ("Auto-Submitted: auto-notified", Kind.AUTOMATED,
         "sent automatically (Auto-Submitted: auto-notified)"),
        ("X-Auto-Response-Suppress: DR, RN, NRN, OOF, AutoReply", Kind.AUTOMATED,
         "asks not to be answered (X-Auto-Response-Suppress: DR, RN, NRN, OOF, AutoReply)"),
        ("Precedence: bulk", Kind.BULK, "bulk mail (Precedence: bulk)"),
        ("Precedence: junk", Kind.BULK, "bulk mail (Precedence: junk)"),
        ("Precedence: list", Kind.BULK, "bulk mail (Precedence: list)"),
        ("Precedence: auto_reply", Kind.AUTO_REPLY, "an automatic reply (Precedence: auto_reply)"),
        ("List-Id: <news.example.com>", Kind.BULK,
         "sent through a mailing list (List-Id: <news.example.com>)"),
        ("Return-Path: <>", Kind.AUTO_REPLY,
         "null return path (Return-Path: <>), used by automatic mail"),
        ("X-Autoreply: yes", Kind.AUTO_REPLY, "an automatic reply (X-Autoreply header)"),
        ("X-Failed-Recipients: gone@example.com", Kind.BOUNCE,
         "a bounce: it names failed recipients (X-Failed-Recipients)"),
    ],
)  # fmt: skip
def test_each_loop_header_alone_makes_mail_automatic(header, kind, reason):
    result = classify(mail(header), OURS)

    assert (result.kind, result.reasons) == (kind, (reason,))
    assert (result.may_create_ticket, result.may_answer) == (False, False)


@pytest.mark.parametrize(
    "header",
    ["Auto-Submitted: no", "Auto-Submitted: No (a person)", "X-Auto-Response-Suppress: None",
     "Precedence: first-class", "Return-Path: <kim@example.com>"],
)  # fmt: skip
def test_headers_that_say_a_person_wrote_it_keep_the_mail_personal(header):
    assert classify(mail(header), OURS).kind is Kind.PERSONAL


@pytest.mark.parametrize(
    ("report_type", "kind", "reason"),
    [
        ("delivery-status", Kind.BOUNCE, "a delivery status notification (multipart/report)"),
        ("disposition-notification", Kind.AUTO_REPLY, "a read receipt (multipart/report)"),
        ("feedback-report", Kind.AUTOMATED,
         "an automatic report (multipart/report; feedback-report)"),
    ],
)  # fmt: skip
def test_multipart_reports_are_automatic(report_type, kind, reason):
    content_type = f"multipart/report; report-type={report_type}; boundary=x"

    result = classify(mail(content_type=content_type), OURS)

    assert (result.kind, result.reasons) == (kind, (reason,))


def test_the_strongest_rule_names_the_kind_and_every_rule_is_a_reason():
    result = classify(mail("Precedence: bulk", "Auto-Submitted: auto-replied"), OURS)

    assert result.kind is Kind.AUTO_REPLY
    assert result.reasons == (
        "an automatic reply (Auto-Submitted: auto-replied)",
        "bulk mail (Precedence: bulk)",
    )
