"""The queue search box: the tickets whose subject, contact name or contact email contains the
text (case-insensitive), or one of whose messages contains its words in the ticket's language.

On PostgreSQL every part is answered by an index (migration 0011):

- subject: `UPPER(subject) LIKE UPPER('%text%')` (what `icontains` compiles to) by the
  trigram index `ticket_subject_trgm_idx`;
- contact: the matching contacts are found by the trigram indexes on `UPPER(name)` and
  `UPPER(email)`, and their tickets by the ticket's contact index —
  `contact_id = ANY(ARRAY(SELECT …))`, which, unlike an OR across a join, PostgreSQL can
  serve from an index;
- message body: `to_tsvector(<config>, body) @@ plainto_tsquery(<config>, text)` by one
  full-text index per configuration (english for tickets in English, norwegian for
  Norwegian, simple for any other or unknown language), the ticket ids again as
  `id = ANY(ARRAY(SELECT …))`.

So the three parts combine into one BitmapOr of index scans, then the queue's own filter;
for a common word the planner instead walks the queue's own index in the page's order and
keeps the matching rows (a page needs 25 of them).

The contacts (`CONTACT_LIMIT`), and the messages per configuration (`MESSAGE_LIMIT`), that
count are each the first 1,000 found, in storage order (so roughly the oldest): a text in a
hundred thousand messages costs about what one in a thousand does. The tickets of a text
that common are then found only in part, and their count is that part's — the subject
matches stay complete; narrow such a search with a second word. Why a limit, and why that
size: each match costs a heap read to find its ticket and an index probe among the tickets,
and the ticket rows found are rechecked row by row against the whole condition (the
language test makes it more than the index conditions), where `= ANY` of a non-constant
array is a linear search — so the work grows with the square of the limit. At a million
tickets (`bench_queues`, 128 MB shared_buffers): a surname shared by 4,900 contacts takes
~45 ms with the limit at 1,000, ~100 ms at 2,500, ~300–450 ms at 5,000.

On any other database (SQLite for `make run`) the same question is asked without indexes:
`icontains` across the contact join, and each word of the text as a whole word of a
message (a regular expression) — the same tickets, save that there is no stemming
(PostgreSQL's english configuration finds "jammed" for "jamming").
"""

import re

from django.db import connections
from django.db.models import BooleanField, Exists, F, Func, OuterRef, Q, QuerySet, Subquery, Value

from helpdesk.models import Contact, Message, Ticket

# Contacts, and messages per text-search configuration, considered per search (see above):
# bounded work whatever the text.
CONTACT_LIMIT = 1000
MESSAGE_LIMIT = 1000

# Text-search configuration per ticket language (the primary subtag of `Ticket.language`:
# "en", "en-GB", "nb", "nn_NO" …). Languages not listed, and no language, use `simple`:
# lower-cased words, no stemming, no stop words.
CONFIG_LANGUAGES: dict[str, tuple[str, ...]] = {
    "english": ("en",),
    "norwegian": ("nb", "nn", "no"),
}
SIMPLE = "simple"
CONFIGS = (*CONFIG_LANGUAGES, SIMPLE)  # each has an index, message_body_<config>_idx


def text_search_config(language: str) -> str:
    """The PostgreSQL text-search configuration for a ticket in `language`."""
    primary = re.split(r"[-_]", language.strip().lower(), maxsplit=1)[0]
    for config, languages in CONFIG_LANGUAGES.items():
        if primary in languages:
            return config
    return SIMPLE


def _in_languages(languages: tuple[str, ...], field: str) -> Q:
    """Tickets whose language's primary subtag is one of `languages` (as `text_search_config`
    reads it); `field` is the path to `Ticket.language`."""
    q = Q()
    for code in languages:
        q |= (
            Q(**{f"{field}__iexact": code})
            | Q(**{f"{field}__istartswith": f"{code}-"})
            | Q(**{f"{field}__istartswith": f"{code}_"})
        )
    return q


def _language_of(config: str, field: str = "language") -> Q:
    """Tickets (through `field`) whose messages are matched in the configuration `config`."""
    if config in CONFIG_LANGUAGES:
        return _in_languages(CONFIG_LANGUAGES[config], field)
    known = Q()
    for languages in CONFIG_LANGUAGES.values():
        known |= _in_languages(languages, field)
    return ~known


class InArray(Func):
    """`column = ANY(ARRAY(subquery))` (PostgreSQL): an index condition on `column`, where
    `column IN (subquery)` under an OR is a filter evaluated row by row."""

    output_field = BooleanField()

    def as_sql(self, compiler, connection, **extra_context):
        column, subquery = self.get_source_expressions()
        column_sql, column_params = compiler.compile(column)
        subquery_sql, subquery_params = compiler.compile(subquery)
        return f"{column_sql} = ANY(ARRAY{subquery_sql})", (*column_params, *subquery_params)


class BodyMatches(Func):
    """`to_tsvector('<config>', body) @@ plainto_tsquery('<config>', text)`: the very
    expression of the index message_body_<config>_idx (the configuration is a literal from
    `CONFIGS`, never user input)."""

    output_field = BooleanField()

    def __init__(self, config: str, text: str):
        if config not in CONFIGS:
            raise ValueError(f"No full-text index for the configuration {config!r}.")
        self.config = config
        super().__init__(F("body"), Value(text))

    def as_sql(self, compiler, connection, **extra_context):
        body, text = self.get_source_expressions()
        body_sql, body_params = compiler.compile(body)
        text_sql, text_params = compiler.compile(text)
        config = f"'{self.config}'::regconfig"
        sql = f"to_tsvector({config}, {body_sql}) @@ plainto_tsquery({config}, {text_sql})"
        return sql, (*body_params, *text_params)


def _contacts(text: str) -> QuerySet[Contact]:
    return Contact.objects.filter(Q(name__icontains=text) | Q(email__icontains=text))


def postgres_match(text: str) -> Q:
    """The search as a filter of tickets, every part served by an index (see above)."""
    contacts = _contacts(text).order_by().values("pk")[:CONTACT_LIMIT]
    match = Q(subject__icontains=text) | Q(InArray(F("contact_id"), Subquery(contacts)))
    for config in CONFIGS:
        messages = (
            Message.objects.filter(BodyMatches(config, text))
            .order_by()
            .values("ticket_id")[:MESSAGE_LIMIT]
        )
        match |= _language_of(config) & Q(InArray(F("pk"), Subquery(messages)))
    return match


def words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def portable_match(text: str) -> Q:
    """The same search without PostgreSQL's indexes: substrings of subject, contact name and
    email, and every word of the text a whole word of one message (no stemming)."""
    match = (
        Q(subject__icontains=text)
        | Q(contact__name__icontains=text)
        | Q(contact__email__icontains=text)
    )
    found = words(text)
    if found:
        messages = Message.objects.filter(ticket=OuterRef("pk"))
        for word in found:
            # (^|\W)…(\W|$) rather than \b: the same on SQLite (Python's re) and PostgreSQL.
            messages = messages.filter(body__iregex=rf"(^|\W){re.escape(word)}(\W|$)")
        match |= Q(Exists(messages))
    return match


def search(queryset: QuerySet[Ticket], text: str) -> QuerySet[Ticket]:
    """The tickets of `queryset` the search box's `text` finds (see the module docstring)."""
    text = text.strip()
    if not text:
        return queryset
    if connections[queryset.db].vendor == "postgresql":
        return queryset.filter(postgres_match(text))
    return queryset.filter(portable_match(text))
