"""Audio uploads (R19): the upload field and the check that a file really is audio."""

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext

from channels_cfg.models import AUDIO_EXTENSIONS, AUDIO_MAX_BYTES, AUDIO_VALIDATORS

AUDIO_ACCEPT = "audio/*," + ",".join(f".{ext}" for ext in AUDIO_EXTENSIONS)


def looks_like_audio(head: bytes) -> bool:
    """MP3 (ID3 tag or an MPEG frame), WAV (RIFF/WAVE), OGG, or M4A (an ISO media box)."""
    return (
        head.startswith(b"ID3")
        or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0)
        or (head.startswith(b"RIFF") and head[8:12] == b"WAVE")
        or head.startswith(b"OggS")
        or head[4:8] == b"ftyp"
    )


def validate_audio_content(upload) -> None:
    """The file's own bytes (and the type the browser gave) must be audio, whatever its name."""
    content_type = (getattr(upload, "content_type", "") or "").lower()
    upload.seek(0)
    head = upload.read(16)
    upload.seek(0)
    allowed_types = ("audio/", "video/mp4", "application/octet-stream", "application/ogg")
    if (content_type and not content_type.startswith(allowed_types)) or not looks_like_audio(head):
        raise ValidationError(
            gettext(
                "This file is not audio. Upload an MP3, WAV, OGG or "
                "M4A file (at most %(value)s MiB)."
            )
            % {"value": AUDIO_MAX_BYTES // (1024 * 1024)}
        )


def audio_field(label: str, help_text: str) -> forms.FileField:
    return forms.FileField(
        label=label,
        required=False,
        help_text=help_text,
        validators=[*AUDIO_VALIDATORS, validate_audio_content],
        widget=forms.ClearableFileInput(attrs={"accept": AUDIO_ACCEPT}),
    )
