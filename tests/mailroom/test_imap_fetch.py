"""The IMAP poller without a server: `_fetch` reads the UID of each mail wherever imaplib
puts it (before the literal, or after it when the server sends the UID last), `last_uid`
advances only through the UIDs stored, and a value imaplib cannot send (a host name that is
not one) is kept as the poll's error instead of crashing the task."""

import pytest

from helpdesk.models import InboundEvent
from mailroom import imap
from mailroom.imap import _fetch, fetched_mails, poll_channel
from mailroom.models import MailSettings
from tests.mailroom.helpers import mail, mailbox_fixture  # noqa: F401

ONE = mail(message_id="<one@customer.example>", body="UID 999 in the body is not a UID")
TWO = mail(message_id="<two@customer.example>")
THREE = mail(message_id="<three@customer.example>")


def literal(n: int, raw: bytes, *, uid_first: bool) -> list:
    """What imaplib returns for one message of `UID FETCH … (UID BODY.PEEK[])`."""
    if uid_first:  # * 1 FETCH (UID 7 BODY[] {n}\r\n…)
        return [(f"{n} (UID {n + 6} BODY[] {{{len(raw)}}}".encode(), raw), b")"]
    # * 1 FETCH (BODY[] {n}\r\n… UID 7)
    return [(f"{n} (BODY[] {{{len(raw)}}}".encode(), raw), f" UID {n + 6})".encode()]


class FakeClient:
    """Answers like imaplib: (typ, data)."""

    def __init__(self, data):
        self.data = data
        self.commands = []

    def uid(self, command, *args):
        self.commands.append((command, *args))
        return "OK", self.data


@pytest.mark.parametrize("uid_first", [True, False])
def test_fetch_reads_the_uid_before_or_after_the_literal(uid_first):
    data = literal(1, ONE, uid_first=uid_first) + literal(2, TWO, uid_first=uid_first)
    client = FakeClient(data)
    assert _fetch(client, [7, 8]) == {7: ONE, 8: TWO}
    assert client.commands == [("FETCH", "7,8", "(UID BODY.PEEK[])")]


def test_fetch_reads_mixed_shapes_flags_and_unsolicited_answers():
    data = [
        b"5 (FLAGS (\\Seen) UID 3)",  # unsolicited: no literal, not a mail
        (b"1 (FLAGS (\\Recent) BODY[] {10}", ONE),
        b" FLAGS (\\Seen) uid 7)",
        (b"2 (UID 8 BODY[] {10}", TWO),
        b")",
        (b"3 (BODY[] {10}", THREE),  # no UID anywhere: not guessed
        b")",
    ]
    assert fetched_mails(data) == {7: ONE, 8: TWO}
    assert fetched_mails([None]) == {} and fetched_mails(None) == {}


class FakeMailbox:
    """A folder with UIDs 7, 8, 9 whose FETCH leaves out `missing` (as a server might, or
    an answer imaplib shapes in a way not read)."""

    def __init__(self, missing=()):
        self.mails = {7: ONE, 8: TWO, 9: THREE}
        self.missing = set(missing)
        self.marked = []

    def select(self, folder):
        return "OK", [b"3"]

    def response(self, name):
        return name, [b"42"]

    def capability(self):
        return "OK", [b"IMAP4rev1 UIDPLUS"]

    def uid(self, command, *args):
        if command == "SEARCH":
            first = int(args[1].split()[1].split(":")[0])
            return "OK", [" ".join(str(u) for u in self.mails if u >= first).encode()]
        if command == "FETCH":
            data = []
            for uid in map(int, args[0].split(",")):
                if uid not in self.missing:
                    raw = self.mails[uid]
                    data += [(f"1 (UID {uid} BODY[] {{{len(raw)}}}".encode(), raw), b")"]
            return "OK", data
        if command == "STORE":
            self.marked += [int(u) for u in args[0].split(",")]
            return "OK", [None]
        raise AssertionError(command)

    def logout(self):
        return "BYE", [b""]


@pytest.fixture
def box(mailbox):
    mailbox.imap_host, mailbox.imap_user, mailbox.imap_secret = "imap.example", "u", "s"
    mailbox.uidvalidity = 42
    mailbox.save()
    return mailbox


def test_a_uid_the_fetch_left_out_stops_last_uid_before_it(box, monkeypatch, caplog):
    server = FakeMailbox(missing={8})
    monkeypatch.setattr(imap, "connect", lambda settings: server)

    assert poll_channel(channel_id=box.channel_id, process=True) == 1
    box.refresh_from_db()
    assert (box.last_uid, box.last_poll_error) == (7, "")
    assert server.marked == [7]  # 9 is not marked: it is asked for again with 8
    assert "UID 8 was found but not fetched" in caplog.text

    server.missing = set()  # the next poll gets it
    assert poll_channel(channel_id=box.channel_id, process=True) == 2
    box.refresh_from_db()
    assert box.last_uid == 9
    assert InboundEvent.objects.count() == 3


def test_a_uid_expunged_meanwhile_does_not_stop_the_next_poll(box, monkeypatch):
    server = FakeMailbox(missing={8})
    monkeypatch.setattr(imap, "connect", lambda settings: server)
    poll_channel(channel_id=box.channel_id, process=True)
    del server.mails[8]  # gone: the next SEARCH no longer finds it
    assert poll_channel(channel_id=box.channel_id, process=True) == 1
    box.refresh_from_db()
    assert box.last_uid == 9


def test_a_host_name_that_is_not_one_is_kept_as_the_polls_error(mailbox):
    MailSettings.objects.filter(pk=mailbox.pk).update(
        imap_host="a..b", imap_user="u", imap_secret="s"
    )
    assert poll_channel(channel_id=mailbox.channel_id) == 0
    mailbox.refresh_from_db()
    assert mailbox.last_poll_error.startswith("UnicodeError: ")
    assert mailbox.last_poll_at is not None
