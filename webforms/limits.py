"""What a form accepts, as plain rules (no database): field lengths, and which files may be
attached — by name *and* by content, since a browser's content type is whatever the
visitor's system guessed.

The file's type is decided here, never taken from the request: the stored content type is
the one of the allowed extension, and binary formats must start with their format's
signature (a `.pdf` must be a PDF). The helpdesk serves every attachment as a download with
`nosniff` (helpdesk/views/attachments.py), so even a text file cannot run as a page.
"""

from dataclasses import dataclass
from decimal import Decimal

from django.utils.formats import number_format
from django.utils.translation import gettext, gettext_lazy

NAME_MAX = 200  # Contact.name, Message.sender_name
EMAIL_MAX = 254  # RFC 5321 path limit (Contact.email)
SUBJECT_MAX = 200  # Ticket.subject holds 255
FILENAME_MAX = 255

ZIP = (b"PK\x03\x04",)
# extension → (content type stored, signatures the content must start with; () = text)
ALLOWED_TYPES: dict[str, tuple[str, tuple[bytes, ...]]] = {
    "pdf": ("application/pdf", (b"%PDF-",)),
    "png": ("image/png", (b"\x89PNG\r\n\x1a\n",)),
    "jpg": ("image/jpeg", (b"\xff\xd8\xff",)),
    "jpeg": ("image/jpeg", (b"\xff\xd8\xff",)),
    "gif": ("image/gif", (b"GIF87a", b"GIF89a")),
    "webp": ("image/webp", (b"RIFF",)),
    "txt": ("text/plain", ()),
    "log": ("text/plain", ()),
    "csv": ("text/csv", ()),
    "docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", ZIP),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ZIP),
    "pptx": ("application/vnd.openxmlformats-officedocument.presentationml.presentation", ZIP),
    "odt": ("application/vnd.oasis.opendocument.text", ZIP),
    "ods": ("application/vnd.oasis.opendocument.spreadsheet", ZIP),
}
KINDS_IN_WORDS = gettext_lazy(
    "PDF, PNG, JPEG, GIF, WebP, text (.txt, .log, .csv), Word, Excel, PowerPoint or OpenDocument"
)
NAMES = {
    "pdf": gettext_lazy("a PDF"),
    "png": gettext_lazy("a PNG image"),
    "jpg": gettext_lazy("a JPEG image"),
    "jpeg": gettext_lazy("a JPEG image"),
}


class Refused(ValueError):
    """A file that cannot be attached; the message says why, for the visitor."""


@dataclass(frozen=True)
class CheckedFile:
    filename: str
    content_type: str


def megabytes(size: int) -> str:
    """A size in words: "10 MB", "1.5 MB", "800 KB"."""
    value = size / (1024 * 1024)
    if value < 1:
        return f"{max(1, round(size / 1024))} KB"
    if value >= 10 or value == int(value):
        return f"{value:.0f} MB"
    return f"{number_format(Decimal(f'{value:.1f}'), 1)} MB"  # 1.5 MB; Norwegian 1,5 MB


def extension_of(filename: str) -> str:
    name = filename.rsplit("/", 1)[-1].rsplit("\\", 1)[-1]
    return name.rsplit(".", 1)[1].lower() if "." in name.strip(".") else ""


def clean_filename(filename: str) -> str:
    """The name as stored and shown: no directories, no control characters, ≤ 255."""
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if c.isprintable()).strip().strip(".")
    if len(name) > FILENAME_MAX:
        ext = extension_of(name)
        keep = FILENAME_MAX - len(ext) - 1
        name = f"{name[:keep]}.{ext}" if ext and keep > 0 else name[:FILENAME_MAX]
    return name or "attachment"


def check_file(*, filename: str, size: int, head: bytes, max_bytes: int) -> CheckedFile:
    """Accept the file or raise `Refused`. `head` is the start of its content (≥ 16 bytes
    when the file is that long)."""
    if size <= 0:
        raise Refused(
            gettext("The file is empty. Choose another file, or send the form without one.")
        )
    if size > max_bytes:
        raise Refused(
            gettext(
                "The file is too large: at most %(max_size)s (this one is %(size)s). Choose a "
                "smaller file, or send the form without one."
            )
            % {"max_size": megabytes(max_bytes), "size": megabytes(size)}
        )
    ext = extension_of(filename)
    if ext not in ALLOWED_TYPES:
        if ext:
            refusal = gettext(".%(ext)s files cannot be sent here. Send %(kinds)s files.")
        else:
            refusal = gettext(
                "Files without an extension cannot be sent here. Send %(kinds)s files."
            )
        raise Refused(refusal % {"ext": ext, "kinds": KINDS_IN_WORDS})
    content_type, signatures = ALLOWED_TYPES[ext]
    if signatures and not head.startswith(signatures):
        kind = NAMES[ext] if ext in NAMES else gettext("a .%(ext)s file") % {"ext": ext}
        raise Refused(
            gettext(
                "The file's content is not %(kind)s, though its name ends in .%(ext)s. Choose "
                "the file again, or save it in another format."
            )
            % {"kind": kind, "ext": ext}
        )
    if ext == "webp" and head[8:12] != b"WEBP":
        raise Refused(
            gettext("The file's content is not a WebP image, though its name ends in .webp.")
        )
    if not signatures and b"\x00" in head:
        raise Refused(
            gettext("The file's content is not text, though its name ends in .%(ext)s.")
            % {"ext": ext}
        )
    return CheckedFile(filename=clean_filename(filename), content_type=content_type)
