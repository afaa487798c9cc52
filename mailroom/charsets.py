"""Bytes to text for mail bodies and headers: never raises, never guesses when told.

The declared charset wins when Python knows it. A few labels are widened to the superset
that mail clients really send under them (what browsers do, per the WHATWG Encoding
standard): ISO-8859-1 and US-ASCII mail written on Windows carries Windows-1252 quotes and
dashes, Shift_JIS mail carries Microsoft's CP932 extensions, GB2312 mail is GBK/GB18030.
Undeclared or unknown charsets: UTF-8 if the bytes are valid UTF-8, else Windows-1252; bytes
that still cannot be decoded become U+FFFD.
"""

import codecs
import re

# Labels widened to the superset that is actually sent under them.
SUPERSETS = {
    "iso-8859-1": "cp1252",
    "iso8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "l1": "cp1252",
    "us-ascii": "cp1252",
    "ascii": "cp1252",
    "iso-8859-9": "cp1254",
    "iso-8859-11": "cp874",
    "tis-620": "cp874",
    "windows-874": "cp874",
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "sjis": "cp932",
    "x-sjis": "cp932",
    "ms_kanji": "cp932",
    "euc-kr": "cp949",
    "ks_c_5601-1987": "cp949",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "iso-8859-8-i": "iso-8859-8",
    "x-mac-roman": "mac-roman",
    "utf8": "utf-8",
}

# Codecs that Python knows but that are not charsets a mail can be written in.
_NOT_CHARSETS = {"idna", "punycode", "undefined", "raw-unicode-escape", "unicode-escape"}
_LABEL = re.compile(r"[A-Za-z0-9._:+-]{1,40}")
_META_CHARSET = re.compile(
    rb"""<meta[^>]{0,200}?charset\s*=\s*["']?\s*([A-Za-z0-9._:-]{1,40})""", re.I
)


def codec_for(label: str | None) -> str | None:
    """The Python codec for a charset label, or None when the label names no usable charset."""
    if not label:
        return None
    label = label.strip().strip("\"'").lower()
    if not _LABEL.fullmatch(label):
        return None
    label = SUPERSETS.get(label, label)
    try:
        info = codecs.lookup(label)
    except LookupError:
        return None
    if not getattr(info, "_is_text_encoding", True) or info.name in _NOT_CHARSETS:
        return None
    return info.name


def decode_bytes(data: bytes, declared: str | None = None) -> str:
    """Text from `data` in the `declared` charset, falling back as the module docstring says."""
    codec = codec_for(declared)
    if codec == "cp1252" and not data.isascii():
        # Declared ASCII or Latin-1 with 8-bit bytes: UTF-8 mislabelled as ASCII is common.
        plain = (declared or "").strip().strip("\"'").lower() in {"us-ascii", "ascii"}
        if plain:
            codec = None
    if codec is not None:
        try:
            return data.decode(codec, "replace")
        except Exception:  # exotic codecs (idna-like, utf-7 variants) may still raise
            pass
    return decode_undeclared(data)


def decode_undeclared(data: bytes) -> str:
    """UTF-8 when the bytes are valid UTF-8, else Windows-1252 with replacement characters."""
    if data.isascii():
        return data.decode("ascii")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", "replace")


def html_meta_charset(data: bytes) -> str | None:
    """The charset an HTML document declares in a `<meta>` tag of its first 4 KiB."""
    match = _META_CHARSET.search(data[:4096])
    return match.group(1).decode("ascii") if match else None


def repair_text(value: str) -> str:
    """Text that can be stored anywhere: 8-bit bytes the parser kept as surrogates decoded
    (UTF-8, else Windows-1252), any other lone surrogate replaced, NUL characters removed."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        try:
            value = decode_undeclared(value.encode("utf-8", "surrogateescape"))
        except UnicodeEncodeError:  # a surrogate that did not come from a byte
            value = value.encode("utf-8", "replace").decode("utf-8")
    return value.replace("\x00", "")
