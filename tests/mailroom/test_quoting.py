"""Issue 11: the thread shows the new text with quoted history folded away.

Gmail, Apple Mail and Thunderbird quote with `>` after an "On … wrote:" line; Outlook puts
the old mail under `-----Original Message-----` or a From/Sent/To/Subject block; in HTML
the quote sits in a `gmail_quote`, a `<blockquote>` or after Outlook's `divRplyFwdMsg`.
"""

from email import message_from_bytes, policy

import pytest

from mailroom.htmltext import html_to_text
from mailroom.quoting import fold_quotes
from tests.mailroom.conftest import eml


def html_part(name: str) -> str:
    return message_from_bytes(eml(name), policy=policy.default).get_body(("html",)).get_content()


def fold_html(html: str) -> tuple[str, str]:
    """What parse_message does with a mail that has only this HTML body."""
    return fold_quotes(html_to_text(html, mark_quotes=True))


def test_gmail_plain_text_reply_folds_the_wrapped_attribution_and_the_quote(parse):
    mail = parse("gmail_reply.eml")

    assert mail.new_text == (
        "Hi Sam,\n\nThat worked, the export finishes now. One more question: can I schedule it\n"
        "to run every Monday?\n\nThanks,\nPriya"
    )
    assert mail.quoted_text == (
        "On Mon, 10 Jun 2024 at 09:12, Sam from Acme Support <\n"
        "reply+k7q2m9x4v8w3z6p1@helpdesk.example> wrote:\n\n"
        "> Hello Priya,\n>\n"
        "> please clear the report cache under Settings > Reports and try again.\n>\n> Sam\n>"
    )


def test_gmail_html_reply_folds_the_gmail_quote():
    new, quoted = fold_html(html_part("gmail_reply.eml"))

    assert new == (
        "Hi Sam,\n\nThat worked, the export finishes now. One more question: can I schedule it"
        " to run every Monday?\n\nThanks,\nPriya"
    )
    assert quoted == (
        "On Mon, 10 Jun 2024 at 09:12, Sam from Acme Support"
        " <reply+k7q2m9x4v8w3z6p1@helpdesk.example> wrote:\n\n"
        "> Hello Priya,\n>\n"
        "> please clear the report cache under Settings > Reports and try again.\n>\n> Sam"
    )


def test_outlook_plain_text_reply_folds_from_the_underscores_and_header_block(parse):
    mail = parse("outlook_reply.eml")

    assert mail.new_text == (
        "Hi,\n\nthe printer is back online after the firmware update – thank you!\n\n"
        "Best regards\nThomas Keller"
    )
    assert mail.quoted_text == (
        "________________________________\n"
        "From: Acme Support <support@helpdesk.example>\n"
        "Sent: Tuesday, June 11, 2024 11:20 AM\n"
        "To: Keller, Thomas <Thomas.Keller@contoso-logistics.example>\n"
        "Subject: [#987] Label printer offline\n\n"
        "Hello Thomas,\n\nplease install firmware 4.2.1 on the printer and restart it.\n\n"
        "Kind regards,\nAcme Support"
    )


def test_outlook_html_reply_folds_from_div_rply_fwd_msg():
    new, quoted = fold_html(html_part("outlook_reply.eml"))

    assert new == (
        "Hi,\n\nthe printer is back online after the firmware update – thank you!\n\n"
        "Best regards\nThomas Keller"
    )
    assert quoted.startswith("From: Acme Support <support@helpdesk.example>\nSent: Tuesday")
    assert quoted.endswith("restart it.\n\nKind regards,\nAcme Support")


def test_outlook_original_message_separator_folds_everything_after_it(parse):
    mail = parse("outlook_original_message.eml")

    assert mail.new_text == "The new link worked, I am in. Please close the ticket.\n\nLinh"
    assert mail.quoted_text == (
        "-----Original Message-----\n"
        "From: Acme Support <support@helpdesk.example>\n"
        "Sent: Tuesday, June 11, 2024 5:10 PM\n"
        "To: Nguyen, Linh <linh.nguyen@fabrikam.example>\n"
        "Subject: Password reset link expired\n\n"
        "Hello Linh,\n\nI have sent you a new reset link; it is valid for 24 hours.\n\n"
        "Acme Support"
    )


def test_a_long_flowed_reply_chain_keeps_only_the_newest_text(parse):
    mail = parse("long_chain.eml")

    # format=flowed: the soft line break after "stable for " is joined.
    assert mail.new_text == (
        "Hi again,\n\nafter switching the client to TCP the connection has now been stable for"
        " a whole day. I think we can call this solved.\n\nOla"
    )
    quoted = mail.quoted_text.split("\n")
    assert quoted[0] == "On 12.06.2024 16:40, Acme Support wrote:"
    assert quoted[3] == (
        "> please switch the VPN client from UDP to TCP (Settings > Connection) and tell us"
        " whether the drops continue."
    )
    assert quoted[-1] == ">>>> Hello, my VPN connection drops every 5 minutes since Monday."
    assert len(quoted) == 15  # one quoted soft break joined too


def test_html_blockquote_is_folded(parse):
    mail = parse("html_only_script.eml")

    assert mail.new_text == (
        "Hello, the refund for order 8812 was issued today.\n\n"
        "Click here or view the order <https://shop.example/orders/8812>.\n\nrelative link"
    )
    assert mail.quoted_text == "> Where is my refund for order 8812?"


def test_inline_answers_between_quotes_stay_visible():
    text = (
        "On Tue, Alice wrote:\n> Which version?\n5.1\n\n> Which system?\nWindows 11\n\n"
        "> Anything else?\n> Thanks"
    )

    new, quoted = fold_quotes(text)

    assert new == "On Tue, Alice wrote:\n> Which version?\n5.1\n\n> Which system?\nWindows 11"
    assert quoted == "> Anything else?\n> Thanks"


@pytest.mark.parametrize(
    "attribution",
    [
        "Am 12.06.2024 um 16:40 schrieb Acme Support <support@helpdesk.example>:",
        "Le 12 juin 2024 à 16:40, Acme Support a écrit :",
        "El 12 jun 2024, a las 16:40, Acme Support escribió:",
        "On 12 Jun 2024, at 16:40, Acme Support <support@helpdesk.example> wrote:",
    ],
)
def test_attributions_in_several_languages(attribution):
    new, quoted = fold_quotes(f"Danke!\n\n{attribution}\n> Bitte neu starten.\n")

    assert new == "Danke!"
    assert quoted == f"{attribution}\n> Bitte neu starten."


def test_a_forwarded_message_is_content_not_history():
    text = (
        "Please look at the mail below.\n\n---------- Forwarded message ---------\n"
        "From: Bob <bob@example.com>\nDate: Mon, 10 Jun 2024 at 09:00\nSubject: Broken\n"
        "To: Alice <alice@example.com>\n\nThe app crashes.\n"
    )

    assert fold_quotes(text) == (text.rstrip("\n"), "")


def test_an_outlook_forward_keeps_its_header_block_when_the_subject_says_forwarded(parse):
    text = (
        "FYI\n\n________________________________\nFrom: Bob <bob@example.com>\n"
        "Sent: Monday, June 10, 2024 9:00 AM\nTo: Alice\nSubject: Broken\n\nThe app crashes."
    )

    assert fold_quotes(text, forwarded=True) == (text, "")
    assert fold_quotes(text)[0] == "FYI"


def test_a_mail_that_is_only_a_quote_keeps_all_its_text():
    text = "> the whole mail is a quote\n> nothing else"

    assert fold_quotes(text) == (text, "")


def test_text_without_quotes_is_all_new():
    assert fold_quotes("Hello\r\n\r\nThe printer > the scanner.\r\n") == (
        "Hello\n\nThe printer > the scanner.",
        "",
    )
