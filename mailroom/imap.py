"""The IMAP poller (standard library `imaplib`): one team-email channel's mailbox at a time.

`poll_channel(channel_id=…)` holds a PostgreSQL advisory lock on the channel for the whole
poll (two workers never poll one mailbox at once: the second returns at once), then:
1. SELECT the folder; a UIDVALIDITY other than the stored one means the server renumbered
   the folder: `last_uid` goes back to 0 (mail already stored is recognised by its
   Message-ID, so nothing doubles).
2. `UID SEARCH UID <last_uid+1>:*`, then `UID FETCH … (UID BODY.PEEK[])` in batches of
   MAIL_IMAP_BATCH — PEEK, so fetching changes nothing on the server.
3. Each raw mail is stored as an InboundEvent (committed) BEFORE the batch is marked: then
   flagged \\Seen, or moved to the processed folder (MOVE, else COPY + \\Deleted + EXPUNGE),
   and `last_uid` advances — only through the UIDs stored: a UID the SEARCH gave but the
   FETCH did not answer for stops the advance at the one before it (logged), so the next
   poll asks for it again (and, were it expunged meanwhile, no longer finds it).
   A crash in between fetches the batch again, harmlessly.
4. Every new event is handed to `process_email_task` (or processed here with `process=True`).
A connection or protocol error — also a value the protocol cannot carry (a host name that
is not one, a user or secret outside ASCII: ValueError) — is logged and kept on the settings
(`last_poll_error`); the next poll (beat, every minute) tries again.
"""

import imaplib
import logging
import re
import ssl
from contextlib import contextmanager, suppress

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from helpdesk.models import Channel
from helpdesk.services.intake import process_many, publish_on_commit
from mailroom.inbound import handle_email, store_email
from mailroom.models import MailSettings

log = logging.getLogger(__name__)

LOCK_NAMESPACE = 0x6D61696C  # "mail": the advisory lock's first key; the channel id is the second
# ValueError: UnicodeError (a host IDNA cannot encode) and UnicodeEncodeError (imaplib sends
# ASCII only) are ValueErrors.
POLL_ERRORS = (imaplib.IMAP4.error, OSError, ssl.SSLError, EOFError, ValueError)
_UID = re.compile(rb"\bUID (\d+)", re.I)


def channels_to_poll() -> list[int]:
    return list(
        MailSettings.objects.filter(channel__is_active=True, channel__kind=Channel.Kind.TEAM_EMAIL)
        .exclude(imap_host="")
        .exclude(imap_user="")
        .values_list("channel_id", flat=True)
    )


@contextmanager
def mailbox_lock(channel_id: int):
    """Yields True when this process may poll the channel (session-level advisory lock,
    released at the end, or by PostgreSQL when the connection dies). Other databases: True."""
    if connection.vendor != "postgresql":
        yield True
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [LOCK_NAMESPACE, channel_id])
        acquired = cursor.fetchone()[0]
    try:
        yield acquired
    finally:
        if acquired:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [LOCK_NAMESPACE, channel_id])


def poll_channel(*, channel_id: int, process: bool = False) -> int:
    """Poll one channel's mailbox; returns how many new mails were stored."""
    with mailbox_lock(channel_id) as acquired:
        if not acquired:
            log.info("Mailbox of channel %s is being polled by another worker", channel_id)
            return 0
        mail_settings = (
            MailSettings.objects.select_related("channel").filter(channel_id=channel_id).first()
        )
        if mail_settings is None or not mail_settings.polls_imap:
            return 0
        try:
            stored = fetch_new_mail(mail_settings)
        except POLL_ERRORS as exc:
            log.warning("IMAP poll of channel %s failed: %s", channel_id, exc)
            MailSettings.objects.filter(pk=mail_settings.pk).update(
                last_poll_at=timezone.now(), last_poll_error=f"{type(exc).__name__}: {exc}"[:2000]
            )
            return 0
        MailSettings.objects.filter(pk=mail_settings.pk).update(
            last_poll_at=timezone.now(), last_poll_error=""
        )
    if process:
        process_many([event.pk for event in stored], handle_email)
    else:
        with transaction.atomic():
            for event in stored:
                publish_on_commit(event)
    return len(stored)


def connect(mail_settings: MailSettings) -> imaplib.IMAP4:
    host, port = mail_settings.imap_host, mail_settings.imap_port
    timeout = settings.MAIL_IMAP_TIMEOUT_SECONDS
    security = mail_settings.imap_security
    if security == MailSettings.Security.SSL:
        client = imaplib.IMAP4_SSL(
            host, port, ssl_context=ssl.create_default_context(), timeout=timeout
        )
    else:
        client = imaplib.IMAP4(host, port, timeout=timeout)
        if security == MailSettings.Security.STARTTLS:
            client.starttls(ssl.create_default_context())
    client.login(mail_settings.imap_user, mail_settings.imap_secret)
    return client


def quote(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _ok(response, what: str):
    typ, data = response
    if typ != "OK":
        raise imaplib.IMAP4.error(f"{what}: {typ} {data!r}")
    return data


def fetch_new_mail(mail_settings: MailSettings) -> list:
    """Steps 1–3 of the module docstring; returns the newly created events."""
    client = connect(mail_settings)
    try:
        _ok(client.select(quote(mail_settings.imap_folder)), "SELECT")
        _, values = client.response("UIDVALIDITY")
        uidvalidity = int(values[-1]) if values and values[-1] else 0
        if mail_settings.uidvalidity != uidvalidity:
            mail_settings.uidvalidity, mail_settings.last_uid = uidvalidity, 0
            mail_settings.save(update_fields=["uidvalidity", "last_uid"])
        capabilities = set(_ok(client.capability(), "CAPABILITY")[0].upper().split())
        found = _ok(client.uid("SEARCH", None, f"UID {mail_settings.last_uid + 1}:*"), "SEARCH")
        # "n:*" always includes the highest UID, even when it is below n: filter.
        uids = sorted(u for u in map(int, (found[0] or b"").split()) if u > mail_settings.last_uid)
        stored = []
        batch_size = max(1, settings.MAIL_IMAP_BATCH)
        for start in range(0, len(uids), batch_size):
            batch = uids[start : start + batch_size]
            fetched = _fetch(client, batch)
            kept: list[int] = []
            for uid in batch:
                raw = fetched.get(uid)
                if raw is None:  # expunged meanwhile, or an answer we could not read
                    log.warning(
                        "IMAP channel %s: UID %s was found but not fetched; last_uid stays "
                        "at %s and the next poll asks for it again",
                        mail_settings.channel_id,
                        uid,
                        kept[-1] if kept else mail_settings.last_uid,
                    )
                    break
                event, created = store_email(
                    channel=mail_settings.channel,
                    raw=raw,
                    headers={"via": "imap", "uid": uid, "uidvalidity": uidvalidity},
                )
                kept.append(uid)
                if created:
                    stored.append(event)
            _mark(client, mail_settings, kept, capabilities)
            if kept:
                mail_settings.last_uid = kept[-1]
                mail_settings.save(update_fields=["last_uid"])
            if len(kept) < len(batch):
                break
        return stored
    finally:
        with suppress(POLL_ERRORS):
            client.logout()


def _fetch(client: imaplib.IMAP4, batch: list[int]) -> dict[int, bytes]:
    data = _ok(client.uid("FETCH", ",".join(map(str, batch)), "(UID BODY.PEEK[])"), "FETCH")
    return fetched_mails(data)


def fetched_mails(data) -> dict[int, bytes]:
    """{UID: raw mail} from imaplib's answer to a UID FETCH. Each mail is a tuple (the
    response up to its literal, the literal) followed by the rest of the response as bytes;
    the server names the UID before the literal (`1 (UID 5 BODY[] {n}`) or after it
    (`… BODY[] {n}`, then ` UID 5)`): both are read — never the mail's own bytes."""
    items = list(data or [])
    fetched: dict[int, bytes] = {}
    for index, item in enumerate(items):
        if not (isinstance(item, tuple) and len(item) == 2):
            continue  # the closing ")", or an unsolicited FETCH (FLAGS) without a literal
        head, raw = item
        match = _UID.search(head or b"")
        after = items[index + 1] if index + 1 < len(items) else None
        if match is None and isinstance(after, bytes):
            match = _UID.search(after)
        if match:
            fetched[int(match.group(1))] = raw
    return fetched


def _mark(client, mail_settings: MailSettings, uids: list[int], capabilities: set) -> None:
    if not uids:
        return
    uid_set = ",".join(map(str, uids))
    if mail_settings.after_fetch != MailSettings.AfterFetch.MOVE:
        _ok(client.uid("STORE", uid_set, "+FLAGS.SILENT", r"(\Seen)"), "STORE")
        return
    folder = quote(mail_settings.processed_folder or "Helpdesk")
    client.create(folder)  # NO when it exists: fine
    if b"MOVE" in capabilities:
        _ok(client.uid("MOVE", uid_set, folder), "MOVE")
        return
    _ok(client.uid("COPY", uid_set, folder), "COPY")
    _ok(client.uid("STORE", uid_set, "+FLAGS.SILENT", r"(\Deleted)"), "STORE")
    if b"UIDPLUS" in capabilities:
        _ok(client.uid("EXPUNGE", uid_set), "UID EXPUNGE")
    else:
        _ok(client.expunge(), "EXPUNGE")
