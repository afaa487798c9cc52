"""The MIME tree of a parsed message: its text and HTML bodies, attachments and inline images.

Bodies are the `text/plain` and `text/html` leaves that are neither marked as attachments
nor carry a file name; every other leaf is an attachment, and so is every `message/*` part
(a forwarded mail, a bounce's delivery status), which is kept whole and not searched for
bodies. Nothing is dropped silently: an attachment over a size limit, a part nested deeper
than `MAX_DEPTH` and the parts past `MAX_PARTS` are listed as skipped, with the reason.
"""

import mimetypes
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from email import policy
from email.generator import BytesGenerator
from email.headerregistry import HeaderRegistry
from email.message import Message
from functools import lru_cache
from io import BytesIO

from django.utils.translation import gettext, ngettext

from mailroom.charsets import decode_bytes, html_meta_charset, repair_text

MAX_DEPTH = 30
MAX_PARTS = 500
KNOWN_ENCODINGS = {"", "7bit", "8bit", "binary", "quoted-printable", "base64"} | {
    "x-uuencode",
    "uuencode",
    "uue",
    "x-uue",
}
# Names for the parts that carry none and whose type has no usual extension.
DEFAULT_NAMES = {
    "message/rfc822": "message.eml",
    "message/global": "message.eml",
    "message/delivery-status": "delivery-status.txt",
    "message/global-delivery-status": "delivery-status.txt",
    "message/disposition-notification": "disposition-notification.txt",
    "text/rfc822-headers": "headers.txt",
}
_SERIALIZE = policy.compat32.clone(linesep="\r\n")


# Header values up to this long are remembered once parsed (`_HeaderClasses`).
CACHED_HEADER_CHARS = 256


class _HeaderClasses(HeaderRegistry):
    """`policy.default`'s header registry, building each header class once (the stdlib
    builds a new class for every header it parses, a third of the time of a typical mail)
    and each short header once: the stdlib parses a part's Content-Type again each time it
    is asked (five times for a one-part mail), and most mail repeats the same few values.
    A parsed header is immutable (a `str` with read-only properties), so one can be shared."""

    def __init__(self) -> None:
        super().__init__()
        self._built: dict[type, type] = {}
        self._parsed = lru_cache(maxsize=1024)(super().__call__)

    def __getitem__(self, name: str) -> type:
        base = self.registry.get(name.lower(), self.default_class)
        built = self._built.get(base)
        if built is None:
            built = self._built[base] = super().__getitem__(name)
        return built

    def __call__(self, name: str, value: str):
        if len(value) > CACHED_HEADER_CHARS:
            return super().__call__(name, value)
        return self._parsed(name, value)


# `policy.default` exactly, but faster; used for parsing every message.
POLICY = policy.default.clone(header_factory=_HeaderClasses())
_UNSAFE_FILENAME = re.compile(r"[\x00-\x1f\x7f]+")
MAX_FILENAME = 200


@dataclass(frozen=True)
class Attachment:
    filename: str  # decoded and made safe: no directories, no control characters
    content_type: str  # lower-case "type/subtype"
    size: int  # decoded bytes
    content: bytes = field(repr=False)
    content_id: str | None  # without angle brackets, as a `cid:` URL names it
    inline: bool  # has a Content-ID and is not marked as an attachment: shown in the HTML


@dataclass(frozen=True)
class SkippedAttachment:
    filename: str
    content_type: str
    size: int
    reason: str


@dataclass
class Parts:
    """What the walk collects; `mailroom.parsing` turns it into a ParsedMail."""

    max_attachment_bytes: int
    max_message_attachment_bytes: int
    texts: list[str] = field(default_factory=list)
    htmls: list[str] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    skipped: list[SkippedAttachment] = field(default_factory=list)
    defects: list[str] = field(default_factory=list)
    stored_bytes: int = 0
    visited: int = 0

    def add_attachment(self, facts: "Facts", content: bytes) -> None:
        number = len(self.attachments) + len(self.skipped) + 1
        filename = safe_filename(facts.filename, facts.content_type, number)
        size = len(content)
        if size > self.max_attachment_bytes:
            reason = gettext("larger than the limit of %(limit)s per file") % {
                "limit": _size(self.max_attachment_bytes)
            }
        elif self.stored_bytes + size > self.max_message_attachment_bytes:
            limit = _size(self.max_message_attachment_bytes)
            reason = gettext(
                "the message's attachments would exceed the limit of %(limit)s per message"
            ) % {"limit": limit}
        else:
            inline = facts.content_id is not None and facts.disposition != "attachment"
            self.attachments.append(
                Attachment(filename, facts.content_type, size, content, facts.content_id, inline)
            )
            self.stored_bytes += size
            return
        self.skipped.append(SkippedAttachment(filename, facts.content_type, size, reason))


@dataclass(frozen=True)
class Facts:
    """The MIME headers of one part, each parsed once (parsing a header is the slow part)."""

    content_type: str
    params: Mapping[str, str]
    disposition: str | None
    filename: str | None
    encoding: str
    content_id: str | None

    @classmethod
    def of(cls, part: Message) -> "Facts":
        header = _call(lambda: part.get("content-type"))
        if header is None:
            content_type, params = _call(part.get_default_type) or "text/plain", {}
        else:
            content_type = _call(lambda: header.content_type) or "text/plain"
            params = _call(lambda: dict(header.params)) or {}
        content_type = repair_text(content_type).lower()
        disposition_header = _call(lambda: part.get("content-disposition"))
        disposition, filename = None, None
        if disposition_header is not None:
            disposition = _call(lambda: disposition_header.content_disposition)
            filename = _call(lambda: disposition_header.params.get("filename"))
        encoding = _call(lambda: part.get("content-transfer-encoding", ""))
        return cls(
            content_type=content_type,
            params={key: repair_text(str(value)) for key, value in params.items()},
            disposition=disposition,
            filename=filename or params.get("name"),
            encoding=repair_text(str(encoding or "")).strip().lower(),
            content_id=_content_id(part),
        )


def collect(message: Message, parts: Parts, depth: int = 0) -> None:
    """Walk `message` depth first, sorting each leaf into bodies or attachments."""
    facts = Facts.of(message)
    content_type = facts.content_type
    parts.defects.extend(_described(defect) for defect in message.defects)
    if depth > MAX_DEPTH:
        reason = gettext("nested deeper than %(depth)s MIME levels") % {"depth": MAX_DEPTH}
        parts.skipped.append(SkippedAttachment("", content_type, 0, reason))
        return
    if parts.visited >= MAX_PARTS:
        if parts.visited == MAX_PARTS:  # one entry stands for all the parts not read
            reason = gettext(
                "the message has more than %(parts)s MIME parts: the rest were not read"
            ) % {"parts": MAX_PARTS}
            parts.skipped.append(SkippedAttachment("", content_type, 0, reason))
            parts.visited += 1
        return
    parts.visited += 1
    if content_type.startswith("message/") or content_type == "text/rfc822-headers":
        parts.add_attachment(facts, _serialized(message, parts.defects))
        return
    if message.is_multipart():
        for child in message.get_payload():
            if isinstance(child, Message):
                collect(child, parts, depth + 1)
        return
    content = payload_bytes(message)
    if facts.encoding not in KNOWN_ENCODINGS:
        shown = facts.encoding[:40]
        parts.defects.append(f"unknown Content-Transfer-Encoding {shown!r}: kept as it came")
    body = facts.disposition != "attachment" and not facts.filename
    charset = facts.params.get("charset")
    if content_type.startswith("multipart/"):
        # A multipart whose boundary is missing or never appears: its parts cannot be
        # separated, so its text is kept as the body (the parser recorded the defect).
        parts.texts.append(_text(content, charset))
    elif body and content_type == "text/plain":
        text = _text(content, charset)
        if facts.params.get("format", "").lower() == "flowed":
            text = _unflow(text, delsp=facts.params.get("delsp", "").lower() == "yes")
        parts.texts.append(text)
    elif body and content_type == "text/html":
        parts.htmls.append(_text(content, charset or html_meta_charset(content)))
    else:
        parts.add_attachment(facts, content)


def content_type_of(part: Message) -> str:
    return Facts.of(part).content_type


def payload_bytes(part: Message) -> bytes:
    """The part's content with its transfer encoding undone; the raw bytes if that fails."""
    try:
        content = part.get_payload(decode=True)
        if isinstance(content, bytes):
            return content
    except Exception:  # a payload the decoder cannot undo: keep it as it came
        pass
    raw = part._payload  # the one way to reach bytes the decoder rejected
    if isinstance(raw, str):
        return raw.encode("utf-8", "surrogateescape")
    return raw if isinstance(raw, bytes) else b""


def safe_filename(name: str | None, content_type: str, number: int) -> str:
    name = repair_text(name or "")
    name = re.split(r"[\\/]", name)[-1]
    name = _UNSAFE_FILENAME.sub("", name).strip().lstrip(".").strip()
    if not name:
        name = DEFAULT_NAMES.get(content_type, "")
    if not name:
        maintype = content_type.split("/")[0]
        stem = maintype if maintype in {"image", "audio", "video"} else "attachment"
        extension = mimetypes.guess_extension(content_type, strict=False)
        extension = extension or (".txt" if maintype == "text" else ".bin")
        name = f"{stem}-{number}{extension}"
    if len(name) > MAX_FILENAME:
        stem, dot, extension = name.rpartition(".")
        keep = extension if dot and len(extension) <= 10 else ""
        name = name[: MAX_FILENAME - len(keep) - 1] + ("." + keep if keep else "")
    return name


def _call(method):
    """A header-reading method of `email.message.Message`, or None if the header is unreadable."""
    try:
        return method()
    except Exception:  # the stdlib's header parsers have corner cases that raise
        return None


def _text(content: bytes, charset: str | None) -> str:
    text = decode_bytes(content, charset)
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")


def _unflow(text: str, *, delsp: bool) -> str:
    """RFC 3676 format=flowed: join soft line breaks (a line ending in a space)."""
    joined: list[tuple[int, list[str]]] = []
    joining = False
    for line in text.split("\n"):
        depth = len(line) - len(line.lstrip(">"))
        body = line[depth:].removeprefix(" ")  # the quote marks, then space-stuffing
        soft = body.endswith(" ") and body != "-- "
        if soft and delsp:
            body = body[:-1]
        if joining and joined and joined[-1][0] == depth:
            joined[-1][1].append(body)
        else:
            joined.append((depth, [body]))
        joining = soft
    return "\n".join(
        ">" * depth + (" " if depth else "") + "".join(chunks) for depth, chunks in joined
    )


def _content_id(part: Message) -> str | None:
    value = _call(lambda: part.get("content-id"))
    if value is None:
        return None
    value = re.sub(r"\s+", "", repair_text(str(value))).strip("<>")
    return value or None


def _serialized(part: Message, defects: list[str]) -> bytes:
    """A `message/*` part's content as bytes: the forwarded mail or report, whole."""
    payload = part.get_payload() if part.is_multipart() else None
    if not payload:
        return payload_bytes(part)
    chunks = []
    for child in payload:
        buffer = BytesIO()
        try:
            BytesGenerator(buffer, mangle_from_=False, policy=_SERIALIZE).flatten(child)
        except Exception as exc:  # a part the generator cannot write back
            defects.append(f"could not write back a part of {content_type_of(part)}: {exc!r}")
            continue
        chunks.append(buffer.getvalue())
    return b"".join(chunks)


def _described(defect: Exception) -> str:
    """`CloseBoundaryNotFoundDefect` → "close boundary not found"."""
    name = type(defect).__name__.removesuffix("Defect")
    return " ".join(re.findall(r"[A-Z]+[a-z0-9]*", name)).lower() or name


def _size(limit: int) -> str:
    if limit % (1024 * 1024) == 0:
        return f"{limit // (1024 * 1024)} MiB"
    if limit % 1024 == 0:
        return f"{limit // 1024} KiB"
    # The English says "bytes" for one too (kept as it was).
    return ngettext("%(count)s bytes", "%(count)s bytes", limit) % {"count": limit}
