"""The attachment and origin rules, without a database."""

import pytest
from django.core.exceptions import ValidationError

from webforms import limits
from webforms.models import parse_origins

MB = 1024 * 1024


def check(filename, head=b"%PDF-1.7\n", size=1000, max_bytes=10 * MB):
    return limits.check_file(filename=filename, size=size, head=head, max_bytes=max_bytes)


@pytest.mark.parametrize(
    ("filename", "head", "content_type"),
    [
        ("statement.pdf", b"%PDF-1.4 rest", "application/pdf"),
        ("Photo.JPG", b"\xff\xd8\xff\xe0\x00\x10JFIF", "image/jpeg"),
        ("screen.png", b"\x89PNG\r\n\x1a\n\x00\x00", "image/png"),
        ("anim.gif", b"GIF89a\x01\x00", "image/gif"),
        ("pic.webp", b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/webp"),
        ("notes.txt", "Grüße".encode(), "text/plain"),
        ("export.csv", b"a,b\n1,2\n", "text/csv"),
        (
            "letter.docx",
            b"PK\x03\x04\x14\x00",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ),
    ],
)
def test_allowed_files_get_the_type_of_their_extension(filename, head, content_type):
    assert check(filename, head) == limits.CheckedFile(filename, content_type)


@pytest.mark.parametrize(
    ("filename", "head", "says"),
    [
        ("run.exe", b"MZ\x90\x00", ".exe files cannot be sent here"),
        ("page.html", b"<html>", ".html files cannot be sent here"),
        ("image.svg", b"<svg", ".svg files cannot be sent here"),
        ("README", b"hello", "Files without an extension cannot be sent here"),
        ("invoice.pdf", b"<html><script>", "not a PDF, though its name ends in .pdf"),
        ("fake.png", b"GIF89a", "not a PNG image"),
        ("fake.webp", b"RIFF\x00\x00\x00\x00AVI ", "not a WebP image"),
        ("binary.txt", b"ab\x00cd", "not text"),
        ("macro.docx", b"%PDF-", "not a .docx file"),
    ],
)
def test_other_files_are_refused_with_the_reason(filename, head, says):
    with pytest.raises(limits.Refused, match=says):
        check(filename, head)


def test_size_limits_name_both_sizes():
    with pytest.raises(limits.Refused, match=r"at most 10 MB \(this one is 12 MB\)"):
        check("big.pdf", size=12 * MB)
    with pytest.raises(limits.Refused, match="The file is empty"):
        check("empty.pdf", size=0)
    assert check("edge.pdf", size=10 * MB).content_type == "application/pdf"


def test_file_names_lose_directories_and_control_characters():
    assert limits.clean_filename("C:\\Users\\kim\\report.pdf") == "report.pdf"
    assert limits.clean_filename("../../etc/passwd.txt") == "passwd.txt"
    assert limits.clean_filename("a\x00b\nc.pdf") == "abc.pdf"
    assert limits.clean_filename("...") == "attachment"
    long = limits.clean_filename("x" * 300 + ".pdf")
    assert len(long) == 255 and long.endswith(".pdf")


def test_origins_are_normalised_and_checked():
    text = "https://WWW.Example.com/\n\nhttp://localhost:8080\nhttps://www.example.com"
    assert parse_origins(text) == ["https://www.example.com", "http://localhost:8080"]
    for bad in ["www.example.com", "https://example.com/contact", "ftp://example.com", "*"]:
        with pytest.raises(ValidationError, match="not a site's origin"):
            parse_origins(bad)
    with pytest.raises(ValidationError, match="at most 20"):
        parse_origins("\n".join(f"https://s{i}.example" for i in range(21)))
