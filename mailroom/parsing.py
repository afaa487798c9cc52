"""Raw RFC 5322 / MIME bytes to a `ParsedMail`: pure, no database, never surprised by input.

`parse_message` either returns a ParsedMail or raises `UnreadableMessage` (no header
fields, no sender, an empty input, a structure nested past the recursion limit); no other
exception leaves it, whatever the bytes. Headers, bodies and file names come back as text
that any database accepts (declared charsets honoured, 8-bit headers decoded, no NULs).
"""

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import Message
from email.parser import BytesParser
from email.utils import getaddresses, parsedate_to_datetime
from types import MappingProxyType

from mailroom.charsets import codec_for, repair_text
from mailroom.htmltext import MAX_NESTING, html_nesting, html_to_text, sanitize_html
from mailroom.parts import (
    POLICY,
    Attachment,
    Parts,
    SkippedAttachment,
    collect,
    content_type_of,
)
from mailroom.quoting import FORWARDED_SUBJECT, fold_quotes

MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
MAX_MESSAGE_ATTACHMENT_BYTES = 25 * 1024 * 1024
MAX_MESSAGE_ID = 995  # what fits a line of RFC 5322 with its header name
# Longer header fields are read up to here: the stdlib's header parsers slow down more than
# linearly (a 32 KiB To field, about 4,000 addresses, takes a quarter of a second).
MAX_HEADER_CHARS = 32 * 1024
# Headers kept as they came, for the loop rules (`mailroom.loops`) and later rounds.
KEPT_HEADERS = (
    "auto-submitted", "precedence", "list-id", "list-unsubscribe", "x-auto-response-suppress",
    "x-autoreply", "x-autorespond", "x-failed-recipients", "return-path", "content-type",
    "sender",
)  # fmt: skip

__all__ = ["Attachment", "ParsedMail", "SkippedAttachment", "UnreadableMessage", "parse_message"]


class UnreadableMessage(Exception):
    """The bytes are not a message this helpdesk can read; `reason` says why, in plain words.

    `unexpected` is True when the reason is a failure of the parser itself rather than of
    the input (the last-resort guard); the fuzz tests require that it never happens.
    """

    def __init__(self, reason: str, *, unexpected: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.unexpected = unexpected


@dataclass(frozen=True)
class ParsedMail:
    message_id: str  # "<…>"; synthetic ones are "<sha256-…@mailroom.invalid>"
    message_id_synthetic: bool
    in_reply_to: str | None
    references: tuple[str, ...]  # as in the header: oldest first
    from_address: str  # lower-case; a bare local part ("mailer-daemon") if that is all there is
    from_name: str
    reply_to: tuple[str, ...]
    to: tuple[str, ...]
    cc: tuple[str, ...]
    delivered_to: tuple[str, ...]
    x_original_to: tuple[str, ...]
    subject: str
    date: datetime | None  # aware; None when missing or unreadable
    content_type: str  # of the whole message, lower-case "type/subtype"
    text: str  # the text/plain body, or the text of the HTML body when there is no plain one
    text_from_html: bool
    html: str  # sanitised with nh3; "" when the mail has no HTML body
    new_text: str  # the text without the quoted history
    quoted_text: str
    attachments: tuple[Attachment, ...]
    skipped_attachments: tuple[SkippedAttachment, ...]
    headers: Mapping[str, str] = field(hash=False)  # KEPT_HEADERS present: name → first value
    defects: tuple[str, ...]  # what the parser had to repair or ignore
    size: int  # of the raw bytes

    @property
    def recipients(self) -> tuple[str, ...]:
        """Every address the mail was delivered to, for finding the channel: To, Cc,
        Delivered-To, X-Original-To, without duplicates."""
        every = self.to + self.cc + self.delivered_to + self.x_original_to
        return tuple(dict.fromkeys(every))


def parse_message(
    raw: bytes,
    *,
    max_attachment_bytes: int = MAX_ATTACHMENT_BYTES,
    max_message_attachment_bytes: int = MAX_MESSAGE_ATTACHMENT_BYTES,
) -> ParsedMail:
    """Parse one message; raise `UnreadableMessage` (and nothing else) when it cannot be read."""
    data = bytes(raw)
    if not data.strip():
        raise UnreadableMessage("the message is empty")
    try:
        return _parse(data, Parts(max_attachment_bytes, max_message_attachment_bytes))
    except UnreadableMessage:
        raise
    except RecursionError as exc:
        raise UnreadableMessage("the MIME structure is nested too deeply to read") from exc
    except Exception as exc:  # the last-resort guard: no input may break the caller
        reason = f"the parser failed: {type(exc).__name__}: {exc}"
        raise UnreadableMessage(reason, unexpected=True) from exc


def _parse(data: bytes, parts: Parts) -> ParsedMail:
    repaired, notes = _repair_header_block(data)
    message = BytesParser(policy=POLICY).parsebytes(repaired)
    headers = _Headers(message)
    if not headers.items:
        raise UnreadableMessage("no header fields: this does not look like an email message")
    from_name, from_address = headers.sender()
    if not from_address:
        raise UnreadableMessage("no sender address in From, Sender or Return-Path")
    collect(message, parts)
    subject = headers.unstructured("subject")
    bodies = _bodies(parts, forwarded=bool(FORWARDED_SUBJECT.match(subject)))
    message_id = headers.message_ids("message-id")[:1]
    return ParsedMail(
        message_id=message_id[0] if message_id else _synthetic_id(data),
        message_id_synthetic=not message_id,
        in_reply_to=next(iter(headers.message_ids("in-reply-to")), None),
        references=tuple(headers.message_ids("references")),
        from_address=from_address,
        from_name=from_name,
        reply_to=headers.addresses("reply-to"),
        to=headers.addresses("to"),
        cc=headers.addresses("cc"),
        delivered_to=headers.addresses("delivered-to"),
        x_original_to=headers.addresses("x-original-to"),
        subject=subject,
        date=headers.date(),
        content_type=content_type_of(message),
        **bodies,
        attachments=tuple(parts.attachments),
        skipped_attachments=tuple(parts.skipped),
        headers=MappingProxyType(headers.kept()),
        defects=tuple(dict.fromkeys(notes + headers.defects + parts.defects)),
        size=len(data),
    )


def _bodies(parts: Parts, *, forwarded: bool) -> dict:
    """text, text_from_html, html, new_text and quoted_text of a ParsedMail."""
    texts = [text for text in parts.texts if text.strip()]
    raw_html = "\n".join(parts.htmls)
    html = ""
    if raw_html.strip():
        if (nesting := html_nesting(raw_html)) > MAX_NESTING:
            parts.defects.append(f"HTML nested {nesting} levels deep: kept as text only")
        else:
            html = sanitize_html(raw_html)
    if texts:
        text, text_from_html = "\n\n".join(texts), False
        new_text, quoted_text = fold_quotes(text, forwarded=forwarded)
    elif raw_html.strip():
        text, text_from_html = html_to_text(raw_html), True
        marked = html_to_text(raw_html, mark_quotes=True)
        new_text, quoted_text = fold_quotes(marked, forwarded=forwarded)
    else:
        text, text_from_html, new_text, quoted_text = "", False, "", ""
    return {
        "text": text,
        "text_from_html": text_from_html,
        "html": html,
        "new_text": new_text,
        "quoted_text": quoted_text,
    }


def _synthetic_id(data: bytes) -> str:
    # Line endings normalised, so a copy fetched over IMAP (CRLF) and one piped in by the
    # MTA (LF) get the same id.
    digest = hashlib.sha256(data.replace(b"\r\n", b"\n")).hexdigest()
    return f"<sha256-{digest}@mailroom.invalid>"


_HEADER_LINE = re.compile(rb"[\x21-\x39\x3b-\x7e]+:")
_OBSOLETE_NAME = re.compile(rb"([\x21-\x39\x3b-\x7e]+)[ \t]+:")
_HEADER_END = re.compile(rb"\r?\n\r?\n")


def _repair_header_block(data: bytes) -> tuple[bytes, list[str]]:
    """Mend what would make the stdlib stop reading headers early: leading blank lines,
    `Name : value` (obsolete but legal), and a stray line between two header lines, which
    would otherwise end the headers and push the rest of them into the body."""
    data = data.lstrip(b"\r\n")
    end = _HEADER_END.search(data)
    head, rest = (data[: end.start()], data[end.start() :]) if end else (data, b"")
    lines = head.split(b"\n")
    kept: list[bytes] = []
    notes: list[str] = []
    for index, line in enumerate(lines):
        following = lines[index + 1] if index + 1 < len(lines) else b""
        if (
            _HEADER_LINE.match(line)
            or line[:1] in (b" ", b"\t")
            or (index == 0 and line.startswith(b"From "))
        ):
            kept.append(line)
        elif obsolete := _OBSOLETE_NAME.match(line):
            kept.append(obsolete.group(1) + b":" + line[obsolete.end() :])
            name = obsolete.group(1).decode("ascii")
            notes.append(f"read the obsolete form {name + ' :'!r} as {name + ':'!r}")
        elif _HEADER_LINE.match(following):
            shown = line[:60].decode("ascii", "replace").strip()
            notes.append(f"ignored a malformed header line: {shown!r}")
        else:  # the body starts here, without the blank line that should precede it
            kept.extend(lines[index:])
            break
    return b"\n".join(kept) + rest, notes


_MESSAGE_ID = re.compile(r"<([^<>]*)>")
_WORD_CHARSET = re.compile(r"=\?([^?*\s]{1,40})((?:\*[^?]*)?\?[bBqQ]\?)")


class _Headers:
    """The message's header fields, read defensively: raw values repaired to text, parsed
    with `policy.default` one field at a time, with a plainer fallback when that fails."""

    def __init__(self, message: Message) -> None:
        self.defects: list[str] = []
        self.items: list[tuple[str, str]] = []
        for name, value in message.raw_items():
            name = repair_text(str(name)).strip().lower()
            value = repair_text(re.sub(r"\r?\n(?=[ \t])", "", str(value)))
            if len(value) > MAX_HEADER_CHARS:
                limit = MAX_HEADER_CHARS // 1024
                self.defects.append(f"{name.title()}: longer than {limit} KiB, read in part")
                value = value[:MAX_HEADER_CHARS]
            self.items.append((name, value))

    def all(self, name: str) -> list[str]:
        return [value for key, value in self.items if key == name]

    def first(self, name: str) -> str | None:
        values = self.all(name)
        return values[0] if values else None

    def kept(self) -> dict[str, str]:
        return {name: value.strip() for name in KEPT_HEADERS if (value := self.first(name))}

    def unstructured(self, name: str) -> str:
        value = self.first(name)
        if value is None:
            return ""
        try:
            header = POLICY.header_factory(name, _widen_charsets(value))
            self._note(name, header.defects)
            decoded = str(header)
        except Exception:  # keep the raw value rather than nothing
            decoded = value
        return re.sub(r"\s+", " ", repair_text(decoded)).strip()

    def pairs(self, name: str) -> list[tuple[str, str]]:
        """(display name, address) for every address in every `name` field."""
        found: list[tuple[str, str]] = []
        for value in self.all(name):
            value = _widen_charsets(value)
            try:
                header = POLICY.header_factory("to", value)
                self._note(name, header.defects)
                found += [(a.display_name, a.addr_spec) for a in header.addresses]
            except Exception:  # the lenient old parser instead of the strict new one
                found += getaddresses([value])
        # Whitespace collapsed: the stdlib keeps the space between adjacent encoded words
        # of a display name, which RFC 2047 says to drop.
        return [
            (re.sub(r"\s+", " ", repair_text(n)).strip(), repair_text(a).strip().lower())
            for n, a in found
        ]

    def addresses(self, name: str) -> tuple[str, ...]:
        return tuple(dict.fromkeys(a for _, a in self.pairs(name) if "@" in a))

    def sender(self) -> tuple[str, str]:
        """(display name, address) of the sender: From, else Sender, else Return-Path."""
        for name in ("from", "sender", "return-path"):
            candidates = [(n, a) for n, a in self.pairs(name) if a and a != "<>"]
            with_domain = [pair for pair in candidates if "@" in pair[1]]
            if with_domain or candidates:
                return (with_domain or candidates)[0]
        return "", ""

    def message_ids(self, name: str) -> list[str]:
        found: list[str] = []
        for value in self.all(name):
            tokens = _MESSAGE_ID.findall(value)
            if not tokens and "@" in value and len(value.split()) == 1:
                tokens = [value]  # an id without its angle brackets
            for token in tokens:
                token = re.sub(r"\s+", "", token)
                if token and len(token) <= MAX_MESSAGE_ID:
                    found.append(f"<{token}>")
        return list(dict.fromkeys(found))

    def date(self) -> datetime | None:
        value = self.first("date")
        if not value:
            return None
        try:
            parsed = parsedate_to_datetime(value.strip())
        except Exception:  # ValueError mostly; odd inputs also give TypeError or OverflowError
            self.defects.append(f"Date: could not read {value.strip()[:60]!r}")
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)

    def _note(self, name: str, defects) -> None:
        self.defects.extend(f"{name.title()}: {repair_text(str(defect))}" for defect in defects)


def _widen_charsets(value: str) -> str:
    """Encoded words relabelled with the charset their senders really use (Shift_JIS is
    CP932, ISO-8859-1 is Windows-1252…), so the stdlib decodes them as mail clients do."""
    if "=?" not in value:
        return value

    def relabel(match: re.Match[str]) -> str:
        codec = codec_for(match.group(1))
        return f"=?{codec or match.group(1)}{match.group(2)}"

    return _WORD_CHARSET.sub(relabel, value)
