"""The .eml fixtures in `eml/` were written for these tests, each shaped like what the named
client or server really sends. `parse` reads one by name."""

from pathlib import Path

import pytest

from mailroom.parsing import ParsedMail, parse_message

EML = Path(__file__).parent / "eml"


def eml(name: str) -> bytes:
    return (EML / name).read_bytes()


@pytest.fixture
def parse():
    def parse_fixture(name: str, **limits: int) -> ParsedMail:
        return parse_message(eml(name), **limits)

    return parse_fixture
