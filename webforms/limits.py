"""What a form accepts, as plain rules (no database): field lengths, and which files may be
attached — by name *and* by content, since a browser's content type is whatever the
visitor's system guessed.

The file's type is decided here, never taken from the request: the stored content type is
the one of the allowed extension, and binary formats must start with their format's
signature (a `.pdf` must be a PDF). The helpdesk serves every attachment as a download with
`nosniff` (helpdesk/views/attachments.py), so even a text file cannot run as a page.
"""

from dataclasses import dataclass

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
KINDS_IN_WORDS = (
    "PDF, PNG, JPEG, GIF, WebP, text (.txt, .log, .csv), Word, Excel, PowerPoint or OpenDocument"
)
NAMES = {"pdf": "a PDF", "png": "a PNG image", "jpg": "a JPEG image", "jpeg": "a JPEG image"}


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
    return f"{value:.0f} MB" if value >= 10 or value == int(value) else f"{value:.1f} MB"


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
        raise Refused("The file is empty. Choose another file, or send the form without one.")
    if size > max_bytes:
        raise Refused(
            f"The file is too large: at most {megabytes(max_bytes)} (this one is "
            f"{megabytes(size)}). Choose a smaller file, or send the form without one."
        )
    ext = extension_of(filename)
    if ext not in ALLOWED_TYPES:
        shown = f".{ext} files" if ext else "Files without an extension"
        raise Refused(f"{shown} cannot be sent here. Send {KINDS_IN_WORDS} files.")
    content_type, signatures = ALLOWED_TYPES[ext]
    if signatures and not head.startswith(signatures):
        raise Refused(
            f"The file's content is not {NAMES.get(ext, f'a .{ext} file')}, though its name "
            f"ends in .{ext}. Choose the file again, or save it in another format."
        )
    if ext == "webp" and head[8:12] != b"WEBP":
        raise Refused("The file's content is not a WebP image, though its name ends in .webp.")
    if not signatures and b"\x00" in head:
        raise Refused(f"The file's content is not text, though its name ends in .{ext}.")
    return CheckedFile(filename=clean_filename(filename), content_type=content_type)
