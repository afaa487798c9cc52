"""The queue search box: the tickets whose subject, contact name or contact email contains the
text (case-insensitive), or one of whose messages contains its words in the ticket's language.

On PostgreSQL every part is answered by an index (migration 0011):

- subject: `UPPER(subject) LIKE UPPER('%text%')` (what `icontains` compiles to) by the
  trigram index `ticket_subject_trgm_idx`;
- contact: the matching contacts are found by the trigram indexes on `UPPER(name)` and
  `UPPER(email)`, and their tickets by the ticket's contact index — `contact_id = ANY(…)`,
  which, unlike an OR across a join, PostgreSQL can serve from an index;
- message body: `to_tsvector(<config>, body) @@ plainto_tsquery(<config>, text)` by one
  full-text index per configuration (english for tickets in English, norwegian for
  Norwegian, simple for any other or unknown language), the ticket ids again as
  `id = ANY(…)`.

The matching contacts and messages are read first, in one statement (`matches`), and their
ids passed to the tickets' statements as arrays: a page counts its tickets and reads its
rows in two statements, and each used to find the same contacts and messages again (a
full-text index is read whole, whatever the limit: ≈ 17 ms for a word in one message in six
at a million tickets). The three parts then combine into one BitmapOr of index scans, then
the queue's own filter; for a common word the planner instead walks the queue's own index
in the page's order and keeps the matching rows (a page needs 25 of them).

The contacts (`CONTACT_LIMIT`), and the messages per configuration (`MESSAGE_LIMIT`), that
count are each the first 1,000 found, in storage order (so roughly the oldest): a text in a
hundred thousand messages costs about what one in a thousand does. The tickets of a text
that common are then found only in part, and their count is that part's — the subject
matches stay complete; `Found.partial` says so, and the queue page asks for a second word.
Why a limit, and why that size: each match costs a heap read to find its ticket and an
index probe among the tickets, and the ticket rows found are rechecked row by row against
the whole condition (the language test makes it more than the index conditions), where
`= ANY` of an array is a linear search — so the work grows with the square of the limit. At
a million tickets (`bench_queues`, 128 MB shared_buffers): a surname shared by 4,900
contacts takes ~45 ms with the limit at 1,000, ~100 ms at 2,500, ~300–450 ms at 5,000.

On any other database (SQLite for `make run`) the same question is asked without indexes:
`icontains` across the contact join, and each word of the text as a whole word of a
message (a regular expression) — the same tickets, save that there is no stemming
(PostgreSQL's english configuration finds "jammed" for "jamming").
"""

import re
from dataclasses import dataclass

from django.db import connections
from django.db.models import BooleanField, Exists, F, Func, OuterRef, Q, QuerySet, Value

from helpdesk.models import Contact, Message, Ticket
from helpdesk.rows import id_array

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


class AnyOf(Func):
    """`column = ANY(ARRAY(SELECT unnest(%s::bigint[])))` (PostgreSQL), the ids one array
    parameter: an index condition on `column`, where an IN across a join under an OR is a
    filter evaluated row by row, and `IN (…)` of a thousand placeholders is compiled and
    parsed anew each time. The array is behind a subselect so that the planner estimates it
    as it would a subquery's result rather than from its values: seeing a thousand contact
    ids, it chose to scan the queue in order until 1,001 tickets matched — 640,000 rows and
    180 ms at a million tickets — where the index scans take a few milliseconds."""

    output_field = BooleanField()

    def __init__(self, column: str, ids: list[int]):
        self.ids = ids
        super().__init__(F(column))

    def as_sql(self, compiler, connection, **extra_context):
        (column,) = self.get_source_expressions()
        column_sql, column_params = compiler.compile(column)
        sql = f"{column_sql} = ANY(ARRAY(SELECT unnest(%s::bigint[])))"
        return sql, (*column_params, id_array(self.ids))


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


@dataclass(frozen=True)
class Matches:
    """The contacts, and per configuration the tickets of the messages, a text matches —
    at most CONTACT_LIMIT and MESSAGE_LIMIT of them — and whether more matched."""

    contact_ids: list[int]
    ticket_ids: dict[str, list[int]]
    partial: bool


def matches_sql(text: str) -> tuple[str, list]:
    """One statement: an array of the matching contacts' ids, then one of the matching
    messages' ticket ids per configuration, each one past its limit (to tell `partial`).

    The contacts are planned as if every match were read, then read only up to the limit
    (a materialized CTE is filled as rows are asked for). Planned for the first 1,001 rows
    instead, PostgreSQL chose to scan the contacts in storage order whenever its statistics
    made a name look common enough to find 1,001 soon — and they overestimate common names
    threefold: `Nordmann`, in one contact in 41 of 200,000, was read by scanning 41,000
    contacts (19 ms) instead of from the trigram indexes (2.7 ms), and a name that only
    looked common would have been looked for in every contact. A text in most contacts
    (a part of the mail domain) is still scanned for, and found at once. The messages'
    parts keep the limit in their plan: there the planner's only choice is the index, and
    planned for every match it would read the table in parallel (slower)."""
    contacts, contact_params = _contacts(text).order_by().values("pk").query.sql_with_params()
    arrays = [
        f"ARRAY(WITH found AS MATERIALIZED ({contacts}) "
        f"SELECT * FROM found LIMIT {int(CONTACT_LIMIT) + 1})"
    ]
    params = list(contact_params)
    for config in CONFIGS:
        part = Message.objects.filter(BodyMatches(config, text)).order_by().values("ticket_id")
        part_sql, part_params = part[: MESSAGE_LIMIT + 1].query.sql_with_params()
        arrays.append(f"ARRAY({part_sql})")
        params.extend(part_params)
    return "SELECT " + ", ".join(arrays), params


def matches(text: str, using: str) -> Matches:
    sql, params = matches_sql(text)
    with connections[using].cursor() as cursor:
        cursor.execute(sql, params)
        contact_ids, *per_config = cursor.fetchone()
    return Matches(
        contact_ids=contact_ids[:CONTACT_LIMIT],
        ticket_ids={
            config: ids[:MESSAGE_LIMIT] for config, ids in zip(CONFIGS, per_config, strict=True)
        },
        partial=len(contact_ids) > CONTACT_LIMIT
        or any(len(ids) > MESSAGE_LIMIT for ids in per_config),
    )


def postgres_match(text: str, found: Matches) -> Q:
    """The search as a filter of tickets, every part served by an index (see above)."""
    match = Q(subject__icontains=text)
    if found.contact_ids:
        match |= Q(AnyOf("contact_id", found.contact_ids))
    for config, ids in found.ticket_ids.items():
        if ids:
            match |= _language_of(config) & Q(AnyOf("pk", ids))
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


@dataclass(frozen=True)
class Found:
    """A search's tickets, and whether they may be only part of what the text matches
    (more contacts or messages matched than were considered: see above)."""

    tickets: QuerySet[Ticket]
    partial: bool = False


def search(queryset: QuerySet[Ticket], text: str) -> Found:
    """The tickets of `queryset` the search box's `text` finds (see the module docstring):
    on PostgreSQL one statement reads the matching contacts and messages first."""
    text = text.strip()
    if not text:
        return Found(queryset)
    if connections[queryset.db].vendor == "postgresql":
        found = matches(text, queryset.db)
        return Found(queryset.filter(postgres_match(text, found)), found.partial)
    return Found(queryset.filter(portable_match(text)))
