"""HTML bodies: sanitised for display with nh3, and turned into plain text.

`sanitize_html` keeps the formatting a mail needs (paragraphs, lists, tables, links,
images) and nothing that runs or restyles the page: no scripts, no styles, no event
handlers, no forms, no relative or `javascript:` URLs; links get `rel="noopener
noreferrer"`. `cid:` URLs survive so inline images can be resolved later.

`html_to_text` renders text with blockquotes as `> ` lines; with `mark_quotes` it also
writes the marker lines of `mailroom.quoting` where mail clients start quoted history
(Gmail's `gmail_quote`, Outlook's `divRplyFwdMsg`, Thunderbird's `moz-cite-prefix`, …).
"""

import re
from html import unescape
from html.parser import HTMLParser

import nh3

from mailroom.quoting import HARD_MARK, SOFT_MARK

ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "caption", "center", "cite", "code", "col",
    "colgroup", "dd", "del", "div", "dl", "dt", "em", "h1", "h2", "h3", "h4", "h5", "h6",
    "hr", "i", "img", "ins", "kbd", "li", "mark", "ol", "p", "pre", "q", "s", "small",
    "span", "strike", "strong", "sub", "sup", "table", "tbody", "td", "tfoot", "th",
    "thead", "tr", "tt", "u", "ul",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "*": {"title", "lang", "dir"},
    "a": {"href"},
    "img": {"src", "alt", "width", "height"},
    "td": {"colspan", "rowspan", "align", "valign"},
    "th": {"colspan", "rowspan", "align", "valign", "scope"},
    "ol": {"start", "type"},
    "blockquote": {"cite"},
}
URL_SCHEMES = {"http", "https", "mailto", "tel", "cid"}
# Removed with their content, not just unwrapped.
DROPPED_WITH_CONTENT = {"script", "style", "title", "template", "noscript", "iframe", "object"}
_URL_ATTRIBUTES = {"href", "src", "cite"}
_SCHEME = re.compile(r"\s*([a-zA-Z][a-zA-Z0-9+.-]*):")


def _absolute_urls_only(tag: str, attribute: str, value: str) -> str | None:
    # A relative URL in a mail would resolve against the helpdesk's own pages.
    if attribute in _URL_ATTRIBUTES and not _SCHEME.match(value):
        return None
    return value


def sanitize_html(html: str) -> str:
    """HTML that is safe to show inside the helpdesk's pages."""
    html = html.replace("\x00", "")
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        clean_content_tags=DROPPED_WITH_CONTENT,
        attributes=ALLOWED_ATTRIBUTES,
        attribute_filter=_absolute_urls_only,
        link_rel="noopener noreferrer",
        url_schemes=URL_SCHEMES,
        strip_comments=True,
    ).strip()


MAX_QUOTE_DEPTH = 32  # `> ` marks per line at most, however deep the blockquotes nest
# Past this nesting nh3's time grows with its square; real mail stays far below it.
MAX_NESTING = 256
_NESTING_TAG = re.compile(r"<(/?)(?:div|blockquote|table|ul|ol|dl|span|font|section)\b", re.I)

# Separated from what surrounds them by a blank line; other blocks just end the line.
_PARAGRAPHS = {"blockquote", "dl", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "ol", "p", "pre",
               "table", "ul"}  # fmt: skip
_BLOCKS = {"caption", "center", "dd", "div", "dt", "li", "tbody", "tfoot", "thead", "tr"}
_WHITESPACE = re.compile(r"[ \t\r\n\f\v\u00a0]+")
_HARD_IDS = {"divrplyfwdmsg", "appendonsend", "stopspelling"}
_SOFT_CLASSES = {"gmail_quote", "moz-cite-prefix", "yahoo_quoted"}


class _TextRenderer(HTMLParser):
    """Renders nh3's well-formed output: blocks end lines, paragraphs are separated by a
    blank line, `<br>` breaks a line (on an empty line: a blank line, Gmail's idiom)."""

    def __init__(self, mark_quotes: bool) -> None:
        super().__init__(convert_charrefs=True)
        self.mark_quotes = mark_quotes
        self.lines: list[str] = []
        self.line: list[str] = []
        self.quote_depth = 0
        self.pre_depth = 0
        self.links: list[tuple[str, int]] = []  # (href, index of its first chunk in `line`)

    def prefix(self) -> str:
        return "> " * min(self.quote_depth, MAX_QUOTE_DEPTH)

    def end_line(self, *, blank: bool = False) -> None:
        text = "".join(self.line)
        text = text.rstrip() if self.pre_depth else _WHITESPACE.sub(" ", text).strip()
        self.line = []
        if text:
            self.lines.append(self.prefix() + text)
        elif blank:
            self.lines.append(self.prefix().rstrip())

    def paragraph(self) -> None:
        self.end_line()
        if self.lines and not _is_blank(self.lines[-1]):
            self.lines.append(self.prefix().rstrip())

    def mark(self, marker: str) -> None:
        self.end_line()
        self.lines.append(marker)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if self.mark_quotes:
            classes = set(attributes.get("class", "").lower().split())
            if attributes.get("id", "").lower() in _HARD_IDS:
                self.mark(HARD_MARK)
            elif classes & _SOFT_CLASSES:
                self.mark(SOFT_MARK)
        if tag == "br":
            self.end_line(blank=True)
        elif tag in _PARAGRAPHS:
            self.paragraph()
            if tag == "blockquote":
                self.quote_depth += 1
            elif tag == "pre":
                self.pre_depth += 1
        elif tag in _BLOCKS:
            self.end_line()
            if tag == "li":
                self.line.append("- ")
        elif tag in {"td", "th"}:
            self.line.append(" ")
        elif tag == "a":
            self.links.append((attributes.get("href", "").strip(), len(self.line)))
        elif tag == "img" and attributes.get("alt"):
            self.line.append(f"[{attributes['alt']}]")

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self.links:
            href, first = self.links.pop()
            label = "".join(self.line[first:]).strip()
            if href.startswith(("http://", "https://")) and href != label:
                self.line.append(f" <{href}>")
        elif tag in _PARAGRAPHS:
            self.paragraph()
            if tag == "blockquote":
                self.quote_depth = max(0, self.quote_depth - 1)
            elif tag == "pre":
                self.pre_depth = max(0, self.pre_depth - 1)
        elif tag in _BLOCKS:
            self.end_line()

    def handle_data(self, data: str) -> None:
        self.line.append(data)

    def text(self) -> str:
        self.end_line()
        lines: list[str] = []
        for line in self.lines:
            if not (lines and _is_blank(line) and _is_blank(lines[-1])):
                lines.append(line)
        while lines and _is_blank(lines[0]):
            lines.pop(0)
        while lines and _is_blank(lines[-1]):
            lines.pop()
        return "\n".join(lines)


def _is_blank(line: str) -> bool:
    return not line.replace(">", "").strip()


def html_to_text(html: str, *, mark_quotes: bool = False) -> str:
    """Plain text of an HTML body; quoted blocks as `> ` lines; never raises.

    The HTML is first rewritten by nh3 (keeping the class and id attributes the quote
    markers need): its output is well-formed, which keeps the stdlib's HTMLParser linear
    on hostile input (unclosed comments, stray `</`), and has no scripts or styles left.
    Nesting too deep for nh3 falls back to stripping the tags.
    """
    html = html.replace("\x00", "")
    if html_nesting(html) > MAX_NESTING:
        return _strip_tags(html)
    renderer = _TextRenderer(mark_quotes)
    try:
        renderer.feed(nh3.clean(html, **_TEXT_CLEANER))
        renderer.close()
    except Exception:  # HTMLParser is lenient, but keep what was rendered if it gives up
        pass
    return renderer.text()


_TEXT_CLEANER = {
    "tags": ALLOWED_TAGS,
    "clean_content_tags": DROPPED_WITH_CONTENT,
    "attributes": {"*": {"class", "id"}, "a": {"href"}, "img": {"alt"}},
    "link_rel": None,
    "strip_comments": True,
}
_TAG = re.compile(r"<[^>]*>")


def _strip_tags(html: str) -> str:
    text = unescape(_TAG.sub(" ", html))
    lines = (_WHITESPACE.sub(" ", line).strip() for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def html_nesting(html: str) -> int:
    """How deep the container elements of `html` nest (a cheap, approximate count)."""
    depth = deepest = 0
    for match in _NESTING_TAG.finditer(html):
        depth = max(0, depth - 1) if match.group(1) else depth + 1
        deepest = max(deepest, depth)
    return deepest
