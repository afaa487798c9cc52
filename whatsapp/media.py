"""A message's media (image, document, audio, video, sticker) → an attachment of the ticket's
message, or a line saying why it was not kept.

The media id is looked up at `<base>/<media id>`; the file is downloaded only from the
API's host or a configured media host (`graph.allowed_download`), at most
WHATSAPP_MAX_MEDIA_BYTES. No answer from Meta (timeout, 5xx, 429) raises
`MediaUnavailable`: the event fails as a whole — nothing of the message is written — and
its task tries again after a backoff (`whatsapp.tasks`). A refusal (unknown or expired
media, a host we do not trust, too large) keeps the message with a line instead.
"""

import mimetypes
import re
from dataclasses import dataclass

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext, gettext_noop

from whatsapp import graph
from whatsapp.models import WhatsAppSettings

MEDIA_TYPES = ("image", "document", "audio", "video", "sticker")
LABELS = {
    "image": gettext_noop("Image"),
    "document": gettext_noop("Document"),
    "audio": gettext_noop("Audio"),
    "video": gettext_noop("Video"),
    "sticker": gettext_noop("Sticker"),
}
MEDIA_ID = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")
UNSAFE_NAME = re.compile(r"[^\w .()+-]+")


class MediaUnavailable(Exception):
    """Meta did not answer; try the whole event again later."""


@dataclass(frozen=True)
class File:
    """A downloaded file, in the shape `helpdesk.services.tickets.AttachmentFile` reads."""

    filename: str
    content_type: str
    content: bytes
    content_id: str | None = None
    inline: bool = False


@dataclass(frozen=True)
class Fetched:
    file: File | None
    note: str = ""  # why it was not kept, when `file` is None


def filename_for(kind: str, media: dict, media_id: str, mime_type: str) -> str:
    given = media.get("filename")
    if isinstance(given, str) and given.strip():
        name = UNSAFE_NAME.sub("_", given.strip().replace("/", "_").replace("\\", "_"))
        if name.strip("._ "):
            return name[:200]
    extension = mimetypes.guess_extension(mime_type.split(";")[0].strip()) or ""
    return f"whatsapp-{kind}-{media_id[:40]}{extension}"


def label(kind: str) -> str:
    """The media kind in words ("Image"), in the active language."""
    return gettext(LABELS[kind]) if kind in LABELS else kind.capitalize()


def placeholder(kind: str) -> str:
    """The thread's text for media without a caption: "[Image]"."""
    return f"[{label(kind)}]"


def fetch(wa: WhatsAppSettings, kind: str, media: dict) -> Fetched:
    """The media as a file, or the line saying why not (in the deployment's language: it is
    stored on the ticket)."""
    with translation.override(settings.LANGUAGE_CODE):
        return _fetch(wa, kind, media)


def _fetch(wa: WhatsAppSettings, kind: str, media: dict) -> Fetched:
    media_id = media.get("id")
    words = {"label": label(kind)}
    if not isinstance(media_id, str) or not MEDIA_ID.match(media_id):
        return Fetched(
            None,
            gettext("[%(label)s not kept: the message names no media id we can fetch]") % words,
        )
    limit = settings.WHATSAPP_MAX_MEDIA_BYTES
    too_large = gettext("[%(label)s not kept: larger than %(size)s MB]") % {
        **words,
        "size": limit // (1024 * 1024),
    }
    try:
        info = graph.media_info(wa, media_id)
        if info.file_size is not None and info.file_size > limit:
            return Fetched(None, too_large)
        content = graph.download(wa, info.url, limit=limit)
    except graph.GraphError as exc:
        if exc.temporary:
            raise MediaUnavailable(exc.description) from exc
        return Fetched(
            None, gettext("[%(label)s not kept: %(why)s]") % {**words, "why": exc.description}
        )
    if content is None:
        return Fetched(None, too_large)
    mime_type = info.mime_type or str(media.get("mime_type") or "application/octet-stream")
    name = filename_for(kind, media, media_id, mime_type)
    return Fetched(File(filename=name, content_type=mime_type[:255], content=content))
