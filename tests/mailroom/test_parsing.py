"""Issue 11, inbound email: what `parse_message` makes of real-shaped mail.

Headers and recipients, bodies in any charset, sanitised HTML, attachments and inline images
with their limits, synthetic Message-IDs, broken and unreadable input. Quote folding is in
test_quoting.py, loop rules in test_loops.py.
"""

import dataclasses
import hashlib
from datetime import UTC, datetime, timedelta, timezone

import pytest

from mailroom.parsing import (
    MAX_ATTACHMENT_BYTES,
    MAX_MESSAGE_ATTACHMENT_BYTES,
    SkippedAttachment,
    UnreadableMessage,
    parse_message,
)
from mailroom.parts import MAX_DEPTH, MAX_PARTS
from tests.mailroom.conftest import eml

CEST = timezone(timedelta(hours=2))


def test_multipart_alternative_in_quoted_printable_gives_headers_and_both_bodies(parse):
    mail = parse("alternative_qp.eml")

    assert mail.message_id == "<CAF3x9k2vQ+Tm4Zr@mail.example.org>"
    assert not mail.message_id_synthetic
    assert (mail.in_reply_to, mail.references) == (None, ())
    assert mail.from_address == "zoe.dupont@example.org"  # lower-cased
    assert mail.from_name == "Zoë Dupont"  # Q-encoded word
    assert mail.reply_to == ("billing@example.org",)
    assert mail.to == ("support@helpdesk.example",)
    assert mail.cc == ("accounts@example.org", "marc.weber@example.org")
    assert mail.delivered_to == ("support@helpdesk.example",)
    assert mail.x_original_to == ("support@helpdesk.example",)
    assert mail.recipients == (
        "support@helpdesk.example",
        "accounts@example.org",
        "marc.weber@example.org",
    )
    assert mail.subject == "Rechnung falsch – MwSt. 19 % statt 7 %"  # B-encoded word
    assert mail.date == datetime(2024, 6, 3, 10, 14, 58, tzinfo=CEST)
    assert mail.content_type == "multipart/alternative"
    assert mail.text == (
        "Hello support team,\n\nour invoice portal shows the wrong VAT rate (19 % instead of"
        " 7 %) for order 5561 — could you have a look? The customer number is K-20931.\n\n"
        "Merci beaucoup,\nZoë\n"
    )
    assert not mail.text_from_html
    assert mail.html == (
        '<div dir="ltr"><p>Hello support team,</p><p>our invoice portal shows the wrong VAT'
        " rate (19 % instead of 7 %) for order 5561 — could you have a look? The customer"
        " number is <b>K-20931</b>.</p><p>Merci beaucoup,<br>Zoë</p></div>"
    )
    assert mail.new_text == mail.text.strip()
    assert mail.quoted_text == ""
    assert (mail.attachments, mail.skipped_attachments, mail.defects) == ((), (), ())
    assert dict(mail.headers) == {
        "return-path": "<zoe.dupont@example.org>",
        "content-type": 'multipart/alternative; boundary="000000000000a1b2c3d4e5f6"',
    }
    assert mail.size == len(eml("alternative_qp.eml"))


def test_crlf_line_endings_as_fetched_over_imap_parse_the_same(parse):
    lf = parse("alternative_qp.eml")
    crlf = parse_message(eml("alternative_qp.eml").replace(b"\n", b"\r\n"))

    assert crlf == dataclasses.replace(lf, size=crlf.size)


def test_base64_attachments_keep_decoded_safe_names_types_and_bytes(parse):
    mail = parse("attachment_base64.eml")

    assert mail.text == "Please find the two invoices attached.\n\nMarc"
    assert [(a.filename, a.content_type, a.size) for a in mail.attachments] == [
        ("Résumé Mai.pdf", "application/pdf", 142),  # RFC 2231 file name
        ("Übersicht.csv", "text/csv", 36),  # encoded-word file name
        ("passwd", "application/octet-stream", 26),  # "../../etc/passwd": no directories
    ]
    pdf, csv, passwd = mail.attachments
    assert pdf.content.startswith(b"%PDF-1.4\n") and pdf.content.endswith(b"%%EOF\n")
    assert csv.content == b"order;amount\n5561;119,00\n5562;42,50\n"
    assert passwd.content == b"root:x:0:0::/root:/bin/sh\n"
    assert all(a.content_id is None and not a.inline for a in mail.attachments)
    assert mail.skipped_attachments == ()


def test_default_limits_are_10_mib_per_file_and_25_mib_per_message():
    assert MAX_ATTACHMENT_BYTES == 10 * 1024 * 1024
    assert MAX_MESSAGE_ATTACHMENT_BYTES == 25 * 1024 * 1024


def test_an_attachment_over_the_per_file_limit_is_listed_as_skipped_with_the_reason(parse):
    mail = parse("attachment_base64.eml", max_attachment_bytes=100)

    assert [a.filename for a in mail.attachments] == ["Übersicht.csv", "passwd"]
    assert mail.skipped_attachments == (
        SkippedAttachment(
            "Résumé Mai.pdf", "application/pdf", 142, "larger than the limit of 100 bytes per file"
        ),
    )


def test_attachments_past_the_per_message_limit_are_skipped_and_later_small_ones_kept(parse):
    # 142 + 36 > 170, so the CSV is skipped; 142 + 26 fits, so the last one is kept.
    mail = parse("attachment_base64.eml", max_message_attachment_bytes=170)

    assert [a.filename for a in mail.attachments] == ["Résumé Mai.pdf", "passwd"]
    assert mail.skipped_attachments == (
        SkippedAttachment(
            "Übersicht.csv",
            "text/csv",
            36,
            "the message's attachments would exceed the limit of 170 bytes per message",
        ),
    )


def test_iso_8859_1_is_read_as_windows_1252_as_mail_clients_do(parse):
    mail = parse("latin1.eml")

    assert mail.from_name == "René François"
    assert mail.subject == "Problème de connexion à l'espace client"
    assert mail.text == (
        "Bonjour,\n\nDepuis hier je n’arrive plus à me connecter : le site affiche “mot de"
        " passe expiré”.\nJ’ai déjà essayé de le réinitialiser.\n\nCordialement,\nRené François\n"
    )


def test_windows_1252_body_and_a_raw_utf8_display_name(parse):
    mail = parse("windows1252.eml")

    assert mail.from_name == "Jürgen Müller"  # 8-bit UTF-8 in the header, no encoded word
    assert mail.subject == "Preisänderung ab Juli"
    assert "1.250 € pro Jahr – bitte bestätigen" in mail.text
    assert mail.text.endswith("Mit freundlichen Grüßen\nJürgen Müller\n")


def test_undeclared_8bit_body_and_headers_fall_back_to_windows_1252(parse):
    mail = parse("undeclared_8bit.eml")

    assert mail.subject == "Café order"
    assert mail.text == "The café wants 3½ dozen crème brûlée … delivered by Friday.\n"


def test_shift_jis_body_and_iso_2022_jp_encoded_words(parse):
    mail = parse("shift_jis.eml")

    assert mail.from_name == "山田 太郎"
    assert mail.subject == "配送についての問い合わせ"
    # ① exists only in Microsoft's CP932, which is what Shift_JIS mail really is.
    assert (
        mail.text == "お世話になっております。\n注文番号①の配送状況を教えてください。\n\n山田太郎\n"
    )


@pytest.mark.parametrize(
    ("charset", "body", "text"),
    [
        ("utf-8", b"caf\xc3\xa9 \xff!", "café \ufffd!"),  # undecodable byte replaced
        ("x-no-such-charset", b"caf\xc3\xa9", "café"),  # unknown label: UTF-8 when valid
        ("x-no-such-charset", b"caf\xe9", "café"),  # … else Windows-1252
        ("us-ascii", b"caf\xc3\xa9", "café"),  # 8-bit UTF-8 mislabelled as ASCII
        ("hex", b"cafe", "cafe"),  # a Python codec that is not a charset
        ("utf-8", b"a\x00b", "ab"),  # no NUL reaches the database
    ],
)
def test_bodies_never_fail_on_their_charset(charset, body, text):
    raw = b"From: a@example.com\nContent-Type: text/plain; charset=" + charset.encode()
    mail = parse_message(raw + b"\nContent-Transfer-Encoding: 8bit\n\n" + body)

    assert mail.text == text


def test_encoded_words_are_decoded_and_joined_as_rfc_2047_says():
    raw = (
        b"From: =?UTF-8?B?w4FsdmFybw==?= =?UTF-8?Q?_N=C3=BA=C3=B1ez?= <A@Example.com>\n"
        b"Subject: =?utf-8?q?Pedido_n=C2=BA?= =?utf-8?q?_42?= (urgent) =?koi8-r?b?8NLJ18XU?=\n"
        b"\nhi\n"
    )
    mail = parse_message(raw)

    assert mail.from_name == "Álvaro Núñez"
    assert mail.from_address == "a@example.com"
    assert mail.subject == "Pedido nº 42 (urgent) Привет"


def test_html_only_mail_is_sanitised_and_its_text_derived(parse):
    mail = parse("html_only_script.eml")

    assert mail.text_from_html
    assert mail.html == (
        "<p>Hello, the refund for order <b>8812</b> was issued today.</p>\n"
        '<p><a rel="noopener noreferrer">Click here</a> or\n'
        '<a href="https://shop.example/orders/8812" rel="noopener noreferrer">view the order'
        "</a>.</p>\n"
        '<img src="https://shop.example/pixel.gif" alt="">\n\n\n'
        '<a rel="noopener noreferrer">relative link</a>\n'
        "<blockquote>\n<p>Where is my refund for order 8812?</p>\n</blockquote>"
    )
    for dangerous in ("script", "onclick", "onload", "onerror", "javascript:", "style", "iframe"):
        assert dangerous not in mail.html
    assert "<form" not in mail.html and "<input" not in mail.html
    assert "/admin/" not in mail.html  # a relative URL would point into the helpdesk
    assert mail.text == (
        "Hello, the refund for order 8812 was issued today.\n\n"
        "Click here or view the order <https://shop.example/orders/8812>.\n\n"
        "relative link\n\n"
        "> Where is my refund for order 8812?"
    )


def test_inline_image_is_an_attachment_marked_inline_with_its_content_id(parse):
    mail = parse("inline_image.eml")

    (image,) = mail.attachments
    assert (image.filename, image.content_type, image.size) == ("screenshot.png", "image/png", 70)
    assert image.content.startswith(b"\x89PNG\r\n\x1a\n")
    assert image.content_id == "5A1F0C3E-2B7D-4E9A-8C6F-1D0B3A2E4F5C@example.pt"
    assert image.inline
    assert f'src="cid:{image.content_id}"' in mail.html  # kept for resolving later
    assert mail.text == "When I press Save I get this screen:\n\n[screenshot]\n\nBruno\n"
    assert not mail.text_from_html


def test_a_mail_without_message_id_gets_a_stable_synthetic_one(parse):
    raw = eml("no_message_id.eml")
    digest = hashlib.sha256(raw).hexdigest()

    mail = parse("no_message_id.eml")

    assert mail.message_id == f"<sha256-{digest}@mailroom.invalid>"
    assert mail.message_id_synthetic
    assert parse_message(raw).message_id == mail.message_id  # a redelivery matches
    assert parse_message(raw.replace(b"\n", b"\r\n")).message_id == mail.message_id
    assert parse_message(raw.replace(b"10 %", b"5 %")).message_id != mail.message_id
    assert mail.from_address == "printer-7f@example.net"
    assert mail.from_name == ""


@pytest.mark.parametrize(
    ("header", "message_id"),
    [
        (b"Message-ID: <abc@example.com>", "<abc@example.com>"),
        (b"Message-ID:   abc@example.com  ", "<abc@example.com>"),  # brackets missing
        (b"Message-ID: <abc@example.com> (comment)", "<abc@example.com>"),
        (b"Message-ID: <abc\n @example.com>", "<abc@example.com>"),  # folded inside
        (b"Message-Id: <x@y>\nMessage-Id: <second@y>", "<x@y>"),  # the first one wins
    ],
)
def test_message_ids_are_normalised_to_angle_brackets(header, message_id):
    mail = parse_message(b"From: a@example.com\n" + header + b"\n\nhi\n")

    assert mail.message_id == message_id
    assert not mail.message_id_synthetic


def test_references_keep_their_order_without_duplicates():
    raw = b"From: a@example.com\nIn-Reply-To: <c@x> <d@x>\nReferences: <a@x> <b@x>\n <a@x> <c@x>\n"
    mail = parse_message(raw + b"\nhi\n")

    assert mail.in_reply_to == "<c@x>"
    assert mail.references == ("<a@x>", "<b@x>", "<c@x>")


def test_broken_headers_are_repaired_where_possible_and_reported(parse):
    mail = parse("broken_headers.eml")

    assert mail.from_address == "alice@example.com"  # the missing ">" did not matter
    assert mail.from_name == "Alice Example"
    assert mail.to == ("support@helpdesk.example",)  # "not-an-address" has no domain
    assert mail.subject == "Order 4711 never arrived"  # "Subject :" is obsolete but legal
    assert mail.message_id == "<broken.1718600000@example.com>"  # after the stray line
    assert mail.date is None
    assert mail.text == "My order 4711 never arrived. Can you check?\n"
    assert mail.defects == (
        "read the obsolete form 'Subject :' as 'Subject:'",
        "ignored a malformed header line: 'X-Spam-Score 4.2'",
        "From: missing trailing '>' on angle-addr",
        "To: address-list entry with no content",
        "To: addr-spec local part with no domain",
        "Date: could not read 'Yesterday around noon'",
        "unknown Content-Transfer-Encoding 'bogus-encoding': kept as it came",
    )


def test_a_date_without_time_zone_is_taken_as_utc():
    mail = parse_message(b"From: a@example.com\nDate: Mon, 3 Jun 2024 10:00:00 -0000\n\nhi\n")

    assert mail.date == datetime(2024, 6, 3, 10, 0, tzinfo=UTC)


def test_the_sender_falls_back_to_sender_then_return_path():
    assert parse_message(b"Sender: S@Example.com\n\nhi").from_address == "s@example.com"
    assert parse_message(b"Return-Path: <r@example.com>\n\nhi").from_address == "r@example.com"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (eml("not_a_message.eml"), "no header fields: this does not look like an email message"),
        (b"", "the message is empty"),
        (b" \r\n\r\n\t", "the message is empty"),
        (b"Subject: hi\nTo: support@example.com\n\nbody", "no sender address in From, Sender or"
         " Return-Path"),
        (b"From: \nReturn-Path: <>\n\nbody", "no sender address in From, Sender or Return-Path"),
    ],
)  # fmt: skip
def test_unreadable_messages_raise_one_exception_with_the_reason(raw, reason):
    with pytest.raises(UnreadableMessage) as raised:
        parse_message(raw)

    assert raised.value.reason == reason
    assert not raised.value.unexpected


def test_a_multipart_without_boundary_keeps_its_text_as_the_body():
    raw = b"From: a@example.com\nContent-Type: multipart/mixed\n\nplease help\n"
    mail = parse_message(raw)

    assert mail.text == "please help\n"
    assert mail.defects == ("no boundary in multipart", "multipart invariant violation")


def test_a_bounce_keeps_its_report_and_the_returned_mail_as_attachments(parse):
    mail = parse("bounce.eml")

    assert mail.content_type == "multipart/report"
    assert mail.text.startswith("This is the mail system at host mail.helpdesk.example.")
    assert "Recipient address rejected: User unknown" in mail.text
    report, returned = mail.attachments
    assert (report.filename, report.content_type) == (
        "delivery-status.txt",
        "message/delivery-status",
    )
    assert b"Final-Recipient: rfc822; no.such.user@example.com\r\n" in report.content
    assert (returned.filename, returned.content_type) == ("message.eml", "message/rfc822")
    # The returned mail is kept whole, so a later round can find which of ours bounced.
    returned_mail = parse_message(returned.content)
    assert returned_mail.message_id == "<ticket-3001.1718349160.beef@helpdesk.example>"
    assert returned_mail.text == "Thank you, we received your request and will answer soon.\n"


def test_parts_nested_too_deep_are_listed_as_skipped():
    raw = b"From: a@example.com\nContent-Type: multipart/mixed; boundary=b0\n\n"
    for level in range(MAX_DEPTH + 5):
        raw += b"--b%d\nContent-Type: multipart/mixed; boundary=b%d\n\n" % (level, level + 1)
    mail = parse_message(raw + b"--b%d\nContent-Type: text/plain\n\ndeep\n" % (MAX_DEPTH + 5))

    assert mail.text == ""
    assert mail.skipped_attachments == (
        SkippedAttachment("", "multipart/mixed", 0, f"nested deeper than {MAX_DEPTH} MIME levels"),
    )


def test_parts_past_the_part_limit_are_listed_as_one_skipped_entry():
    part = b"--x\nContent-Type: text/plain\n\nhi\n"
    raw = b"From: a@example.com\nContent-Type: multipart/mixed; boundary=x\n\n"
    mail = parse_message(raw + part * (MAX_PARTS + 10) + b"--x--\n")

    assert mail.text.count("hi") == MAX_PARTS - 1  # the multipart itself is a part too
    reason = f"the message has more than {MAX_PARTS} MIME parts: the rest were not read"
    assert mail.skipped_attachments == (SkippedAttachment("", "text/plain", 0, reason),)


def test_an_mbox_from_line_and_leading_blank_lines_are_not_a_problem():
    mail = parse_message(
        b"\r\n\nFrom alice@example.com Mon Jun  3 10:00:00 2024\nFrom: a@x.com\n\nhi"
    )

    assert (mail.from_address, mail.text) == ("a@x.com", "hi")


def test_the_loop_headers_are_kept_for_the_rules(parse):
    assert dict(parse("mailing_list.eml").headers) == {
        "precedence": "list",
        "list-id": "DevOps announcements <devops-announce.lists.example.org>",
        "list-unsubscribe": "<mailto:devops-announce-leave@lists.example.org>",
        "return-path": "<devops-announce-bounces+support=helpdesk.example@lists.example.org>",
        "content-type": "text/plain; charset=utf-8",
    }


def _with_to(to: str, n: int) -> bytes:
    return (
        f"From: Kim <kim@customer.example>\r\nTo: {to}\r\nSubject: Hi\r\n"
        f"Message-ID: <{n}@customer.example>\r\nContent-Type: text/plain; charset=utf-8\r\n"
        "\r\nHello\r\n"
    ).encode()


MISSING_BRACKET = "To: missing trailing '>' on angle-addr"
MANY = ", ".join(f"p{n}@x.example" for n in range(40))  # too long a value to be remembered


@pytest.mark.parametrize(
    ("to", "defects"),
    [
        ("Support <support@helpdesk.example", (MISSING_BRACKET,)),
        ("Support <support@helpdesk.example>", ()),
        (f"{MANY}, Support <support@helpdesk.example", (MISSING_BRACKET,)),
        (f"{MANY}, Support <support@helpdesk.example>", ()),
    ],
)
def test_a_header_read_before_gives_the_same_values_and_defects_again(to, defects):
    """Short header values are parsed once per process (`parts.POLICY`) and shared: a
    defect is still reported for every mail that has it."""
    first, second = parse_message(_with_to(to, 1)), parse_message(_with_to(to, 2))

    assert first.to == second.to and first.to[-1] == "support@helpdesk.example"
    assert first.defects == second.defects == defects


def test_the_same_content_type_is_parsed_once_for_many_mails():
    from mailroom.parts import POLICY

    parse_message(_with_to("support@helpdesk.example", 1))
    before = POLICY.header_factory._parsed.cache_info()
    for n in range(2, 12):
        parse_message(_with_to("support@helpdesk.example", n))
    after = POLICY.header_factory._parsed.cache_info()

    assert after.hits - before.hits >= 10 * 5  # Content-Type alone is read five times a mail
    assert after.misses - before.misses <= 10  # only each mail's own Message-ID is new
