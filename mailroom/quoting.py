"""Fold quoted history away: the new text of a reply, and the history it quotes.

Two kinds of history, found in the text (or in the text rendered from HTML, where
`htmltext` leaves marker lines):

- History that ends the mail (a *hard* boundary): Outlook's `-----Original Message-----`,
  its `From: … Sent: … To: … Subject:` header block (often after a line of underscores),
  and Outlook's HTML reply containers. Everything from there on is history.
- Quoted lines (a *soft* boundary): the trailing run of `>` lines, with the attribution
  line before it (Gmail and Apple Mail's "On … wrote:", in a few languages) and Gmail's
  or Thunderbird's HTML quote containers. Quoted lines followed by new text are an inline
  answer and stay visible.

A forwarded message is content, not history: nothing after a "Forwarded message" line, nor
the header block of a mail whose subject says it is forwarded, is folded. Folding never
leaves the new text empty: a mail that is only a quote keeps all of its text.
"""

import re

# Marker lines written by `htmltext.html_to_text(mark_quotes=True)`; the NUL bytes cannot
# come from a mail (the renderer removes them from the input).
HARD_MARK = "\x00quote:hard\x00"
SOFT_MARK = "\x00quote:soft\x00"
_MARKS = {HARD_MARK, SOFT_MARK}

_QUOTED = re.compile(r"^\s*>")
_ORIGINAL_MESSAGE = re.compile(
    r"^\s*-{2,}\s*(original message|ursprüngliche nachricht|message d'origine|"
    r"mensaje original|messaggio originale|oorspronkelijk bericht)\s*-{2,}\s*$",
    re.I,
)
_FORWARD = re.compile(
    r"^\s*(-{2,}\s*(forwarded message|weitergeleitete nachricht|message transféré)\s*-{2,}"
    r"|begin forwarded message:)",
    re.I,
)
_UNDERSCORES = re.compile(r"^\s*_{10,}\s*$")
_HEADER_FROM = re.compile(r"^\s*\*?(from|von|de)\s?:\*?\s+\S", re.I)
_HEADER_SENT = re.compile(r"^\s*\*?(sent|date|gesendet|datum|envoyé)\s?:", re.I)
_HEADER_SUBJECT = re.compile(r"^\s*\*?(subject|betreff|objet)\s?:", re.I)
_ATTRIBUTION_END = re.compile(
    r"(wrote|schrieb|a écrit|escribió|schreef|ha scritto|escreveu|napisał\(a\)|skrev|"
    r"kirjoitti)[^:\n]{0,80}\s?:\s*$",
    re.I,
)
_ATTRIBUTION_START = re.compile(r"^\s*(on|am|le|el|op|il|em|w dniu|den)\b", re.I)
FORWARDED_SUBJECT = re.compile(r"^\s*(fwd?|wg|tr|rv|doorst)\s*:", re.I)
HEADER_BLOCK_LINES = 7


def fold_quotes(text: str, *, forwarded: bool = False) -> tuple[str, str]:
    """(new text, quoted history) of a mail body; `forwarded` when the subject says so."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    end = _forward_start(lines)
    hard = _hard_boundary(lines, end, forwarded=forwarded)
    if hard is not None:
        end = hard
    soft = _soft_boundary(lines, end)
    boundary = soft if soft is not None else hard
    if boundary is None:
        return _join(lines), ""
    new, quoted = _join(lines[:boundary]), _join(lines[boundary:])
    if not new.strip():
        return _join(lines), ""
    return new, quoted


def _join(lines: list[str]) -> str:
    kept = [line.rstrip() for line in lines if line not in _MARKS]
    return "\n".join(kept).strip("\n")


def _forward_start(lines: list[str]) -> int:
    for index, line in enumerate(lines):
        if _FORWARD.match(line):
            return index
    return len(lines)


def _hard_boundary(lines: list[str], end: int, *, forwarded: bool) -> int | None:
    for index in range(end):
        line = lines[index]
        if line == HARD_MARK or _ORIGINAL_MESSAGE.match(line):
            return index
        if not forwarded and _is_header_block(lines, index):
            before = _previous_nonblank(lines, index)
            separator = before is not None and (
                _UNDERSCORES.match(lines[before]) or lines[before] == HARD_MARK
            )
            if separator:
                return before
            return index
    return None


def _is_header_block(lines: list[str], index: int) -> bool:
    if not _HEADER_FROM.match(lines[index]):
        return False
    window = lines[index + 1 : index + HEADER_BLOCK_LINES]
    return any(_HEADER_SENT.match(line) for line in window) and any(
        _HEADER_SUBJECT.match(line) for line in window
    )


def _previous_nonblank(lines: list[str], index: int) -> int | None:
    index -= 1
    while index >= 0 and not lines[index].strip():
        index -= 1
    return index if index >= 0 else None


def _soft_boundary(lines: list[str], end: int) -> int | None:
    """Where the trailing run of quoted lines before `end` starts, with its attribution."""
    start, quoted = end, False
    while start > 0:
        line = lines[start - 1]
        if _QUOTED.match(line):
            quoted = True
        elif line.strip() and line not in _MARKS:
            break
        start -= 1
    if not quoted:
        return None
    attribution = _attribution_before(lines, start)
    if attribution is not None:
        start = attribution
        before = _previous_nonblank(lines, start)
        if before is not None and lines[before] == SOFT_MARK:
            start = before
    return start


def _attribution_before(lines: list[str], start: int) -> int | None:
    last = _previous_nonblank(lines, start)
    if last is None or not _ATTRIBUTION_END.search(lines[last]):
        return None
    # A long attribution is wrapped over up to three lines ("On …, Alice <\nalice@…> wrote:").
    for first in range(last, max(last - 3, -1), -1):
        if not lines[first].strip():
            break
        if _ATTRIBUTION_START.match(lines[first]):
            return first
    return last
