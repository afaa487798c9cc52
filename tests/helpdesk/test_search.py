"""The queue search (`helpdesk.search`): subject, contact name and email, message bodies in the
ticket's language; the same tickets on the portable (SQLite) path; on PostgreSQL, the
trigram and full-text indexes of migration 0011 serve it; a fixed number of queries."""

import pytest
from django.db import connection
from django.urls import reverse

from helpdesk import queues, search
from helpdesk.models import Ticket
from tests.factories import ContactFactory, MessageFactory, TicketFactory

CLOSED = Ticket.Status.CLOSED


def found(text: str, queue: str = "open", *, user, match=None) -> set[int]:
    tickets = queues.QUEUES[queue].tickets(user=user)
    tickets = queues.search(tickets, text).tickets if match is None else tickets.filter(match(text))
    return set(tickets.values_list("pk", flat=True))


@pytest.fixture
def tickets():
    """Tickets each found by one part of the search, and one found by none."""
    subject = TicketFactory(subject="Printer on fire")
    name = TicketFactory(contact=ContactFactory(name="Kim Printer", email="kim@example.org"))
    email = TicketFactory(contact=ContactFactory(name="Lee", email="lee.printer@acme.example"))
    english = TicketFactory(subject="Help", language="en")
    MessageFactory(ticket=english, body="My printer keeps jamming whenever I print invoices.")
    norwegian = TicketFactory(subject="Hjelp", language="nb")
    MessageFactory(ticket=norwegian, body="Skriveren setter seg fast hver gang.")
    unknown = TicketFactory(subject="Hi", language="")
    MessageFactory(ticket=unknown, body="The stapler is jamming, model QX42.")
    closed = TicketFactory(subject="Old printer question", status=CLOSED)
    TicketFactory(subject="Something else")
    return {
        "subject": subject,
        "name": name,
        "email": email,
        "english": english,
        "norwegian": norwegian,
        "unknown": unknown,
        "closed": closed,
    }


def test_search_finds_subject_contact_name_and_partial_email(agent, tickets):
    assert found("ON FIRE", user=agent) == {tickets["subject"].pk}
    assert found("kim printer", user=agent) == {tickets["name"].pk}
    assert found("lee.print", user=agent) == {tickets["email"].pk}
    assert found("acme.EXAMPLE", user=agent) == {tickets["email"].pk}


def test_search_finds_a_word_of_a_message_body(agent, tickets):
    assert found("QX42", user=agent) == {tickets["unknown"].pk}
    assert found("invoices", user=agent) == {tickets["english"].pk}


def test_search_keeps_to_the_queue(agent, tickets):
    assert found("printer", queue="closed", user=agent) == {tickets["closed"].pk}
    assert tickets["closed"].pk not in found("printer", user=agent)


def test_search_without_words_or_with_sql_wildcards_finds_only_literal_matches(agent):
    percent = TicketFactory(subject="Discount of 100% refused")
    TicketFactory(subject="Discount of 1000 refused")
    assert found("100%", user=agent) == {percent.pk}
    assert found("_", user=agent) == set()
    assert found("!&|():*'", user=agent) == set()  # no words: not a tsquery syntax error
    assert found("   ", user=agent) == found("", user=agent)


@pytest.mark.postgres
def test_body_words_are_stemmed_in_the_tickets_language(agent, tickets):
    # english: jammed ~ jamming; the ticket of unknown language ("simple") is not stemmed.
    assert found("jammed", user=agent) == {tickets["english"].pk}
    assert found("jamming", user=agent) == {tickets["english"].pk, tickets["unknown"].pk}
    # norwegian: skrivere ~ skriveren ("printers" ~ "the printer").
    assert found("skrivere", user=agent) == {tickets["norwegian"].pk}


@pytest.mark.postgres
def test_a_message_is_matched_in_its_tickets_language_only(agent):
    norwegian = TicketFactory(subject="Hjelp", language="nb-NO")
    MessageFactory(ticket=norwegian, body="The printer keeps jamming.")
    # Norwegian stemming leaves "jamming" whole: found by the word itself, not by "jammed".
    assert found("jamming", user=agent) == {norwegian.pk}
    assert found("jammed", user=agent) == set()


@pytest.mark.parametrize(
    ("language", "config"),
    [
        ("en", "english"),
        ("en-GB", "english"),
        ("EN_us", "english"),
        ("nb", "norwegian"),
        ("nn-NO", "norwegian"),
        ("no", "norwegian"),
        ("", "simple"),
        ("de", "simple"),
        ("eng", "simple"),
    ],
)
def test_text_search_config_follows_the_primary_language_subtag(language, config):
    assert search.text_search_config(language) == config


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("language", "config"), [("en-GB", "english"), ("nn", "norwegian"), ("fr", "simple")]
)
def test_sql_language_filter_agrees_with_text_search_config(agent, language, config):
    ticket = TicketFactory(language=language)
    for each in search.CONFIGS:
        matched = Ticket.objects.filter(search._language_of(each), pk=ticket.pk).exists()
        assert matched == (each == config), each


@pytest.mark.parametrize(
    "text", ["printer", "ON FIRE", "kim", "lee.print", "acme.example", "QX42", "invoices"]
)
def test_portable_path_finds_the_same_tickets(agent, tickets, text):
    """The SQLite path (`portable_match`), run on whatever database the tests use, finds what
    `search` finds there (stemming aside)."""
    assert found(text, user=agent, match=search.portable_match) == found(text, user=agent)


def test_portable_path_matches_whole_words_of_one_message(agent):
    both = TicketFactory(subject="x")
    MessageFactory(ticket=both, body="Printer jams.")
    split = TicketFactory(subject="y")
    MessageFactory(ticket=split, body="Printer.")
    MessageFactory(ticket=split, body="Jams.")
    TicketFactory(subject="z").messages.create(body="Reprinter jamsession.", direction="inbound")
    assert found("printer jams", user=agent, match=search.portable_match) == {both.pk}


@pytest.mark.postgres
def test_matched_contacts_and_messages_are_bounded_and_say_when_they_were(agent, monkeypatch):
    for _ in range(3):
        MessageFactory(ticket=TicketFactory(subject="x", language=""), body="Toner is low")
        TicketFactory(subject="y", contact=ContactFactory(name="Toner Buyer"))
    open_tickets = queues.all_open_tickets(user=agent)
    assert len(found("toner", user=agent)) == 6
    assert queues.search(open_tickets, "toner").partial is False
    monkeypatch.setattr(search, "MESSAGE_LIMIT", 3)
    assert queues.search(open_tickets, "toner").partial is False  # exactly the limit
    monkeypatch.setattr(search, "MESSAGE_LIMIT", 2)
    assert len(found("toner", user=agent)) == 5
    assert queues.search(open_tickets, "toner").partial is True
    monkeypatch.setattr(search, "MESSAGE_LIMIT", 3)
    monkeypatch.setattr(search, "CONTACT_LIMIT", 1)
    assert len(found("toner", user=agent)) == 4
    assert queues.search(open_tickets, "toner").partial is True
    assert queues.search(open_tickets, "printer").partial is False  # nothing matches


@pytest.mark.postgres
def test_a_search_reads_its_contacts_and_messages_once_per_page(agent, django_assert_num_queries):
    """The matches are read in one statement and passed to the count and the page, which
    no longer look for them again (issue 14)."""
    MessageFactory(ticket=TicketFactory(subject="x", language="en"), body="Toner is low")
    TicketFactory(subject="y", contact=ContactFactory(name="Toner Buyer"))
    open_tickets = queues.all_open_tickets(user=agent)
    with django_assert_num_queries(1):
        tickets = queues.search(open_tickets, "toner").tickets
    sql, _ = queues.capped_count_sql(tickets)
    assert "helpdesk_message" not in sql and "helpdesk_contact" not in sql
    # the ids behind a subselect: planned as a subquery's result, not from a thousand values
    assert '"contact_id" = ANY(ARRAY(SELECT unnest(' in sql
    assert tickets.count() == 2


@pytest.mark.postgres
def test_contacts_are_planned_for_every_match_and_read_only_to_the_limit(agent):
    """The contacts' part is a materialized CTE with the limit outside it, so PostgreSQL
    plans it as if every match were read (from the trigram indexes, unless the text is in
    most contacts) rather than betting on a scan finding the first 1,001 soon — which its
    overestimates of common names made it do at a million tickets (`matches_sql`). The
    messages' parts keep the limit in their own plan."""
    sql, _ = search.matches_sql("toner")
    contacts, *messages = sql.removeprefix("SELECT ").split(", ARRAY(")
    assert contacts.startswith("ARRAY(WITH found AS MATERIALIZED (SELECT")
    assert contacts.endswith(f") SELECT * FROM found LIMIT {search.CONTACT_LIMIT + 1})")
    assert len(messages) == len(search.CONFIGS)
    assert all(m.endswith(f"LIMIT {search.MESSAGE_LIMIT + 1})") for m in messages)
    assert "MATERIALIZED" not in "".join(messages)
    TicketFactory(subject="y", contact=ContactFactory(name="Toner Buyer"))
    TicketFactory(subject="z", contact=ContactFactory(email="toner@example.org"))
    found = search.matches("toner", "default")
    assert len(found.contact_ids) == 2 and found.partial is False


# --- PostgreSQL: the indexes serve the search -----------------------------------------------

SEARCH_INDEXES = [
    "ticket_subject_trgm_idx",
    "contact_name_trgm_idx",
    "contact_email_trgm_idx",
    "message_body_english_idx",
    "message_body_norwegian_idx",
    "message_body_simple_idx",
]


@pytest.fixture
def bench_data(db):
    """Tickets, contacts and messages from the bench_queues builder, with fresh statistics."""
    from helpdesk.management.commands.bench_queues import bench_agent, build_tickets

    build_tickets(3000)
    with connection.cursor() as cursor:
        for table in ("helpdesk_ticket", "helpdesk_contact", "helpdesk_message"):
            cursor.execute(f"ANALYZE {table}")
    return bench_agent()


def _count_plan(queryset) -> str:
    sql, params = queues.capped_count_sql(queryset)
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        return "\n".join(line for (line,) in cursor.fetchall())


def _plan(sql: str, params) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        return "\n".join(line for (line,) in cursor.fetchall())


@pytest.mark.postgres
def test_contacts_and_messages_are_looked_up_in_their_indexes(bench_data):
    plan = _plan(*search.matches_sql("customer17@"))
    for index in SEARCH_INDEXES[1:]:
        assert index in plan, plan
    assert "Seq Scan" not in plan, plan


@pytest.mark.postgres
def test_ticket_rows_are_one_bitmap_of_subject_contact_and_message_matches(bench_data):
    """What the queue's own index leaves (at a few thousand tickets the planner may rather
    read the queue's partial index and filter): one BitmapOr, no join — the contacts and
    messages found before given as arrays of ids."""
    MessageFactory(ticket=TicketFactory(language="en"), body="Mail customer17@ back")
    found = queues.search(Ticket.objects.all(), "customer17@")
    plan = _count_plan(found.tickets)
    assert "BitmapOr" in plan, plan
    for index in ["ticket_subject_trgm_idx", "helpdesk_ticket_contact_id", "helpdesk_ticket_pkey"]:
        assert index in plan, plan
    assert "Seq Scan" not in plan and "Join" not in plan, plan
    assert "helpdesk_contact" not in plan and "helpdesk_message" not in plan, plan


@pytest.mark.postgres
def test_search_finds_bench_tickets_by_each_part(bench_data):
    all_open = queues.all_open_tickets(user=bench_data)
    by_email = Ticket.objects.filter(contact__email="customer17@bench.example")
    assert by_email.exists()
    assert set(queues.search(Ticket.objects.all(), "customer17@").tickets) == set(by_email)
    by_subject = all_open.filter(subject__icontains="refund")
    assert by_subject.exists()
    assert set(queues.search(all_open, "refund").tickets) == set(by_subject)  # no body has it


# --- the queue page ----------------------------------------------------------------------


def test_search_page_costs_the_same_queries_for_few_or_many_hits(
    agent_client, django_assert_max_num_queries, django_assert_num_queries
):
    url = reverse("queue", args=["open"]) + "?q=toner&per_page=50"
    MessageFactory(ticket=TicketFactory(subject="Toner"), body="Toner is low")
    # a queue page's 9, the search's count, and on PostgreSQL its matches read first
    with django_assert_max_num_queries(11 if connection.vendor == "postgresql" else 10) as few:
        response = agent_client.get(url)
    assert len(response.context["tickets"]) == 1
    for _ in range(12):
        MessageFactory(ticket=TicketFactory(subject="Other"), body="Out of toner again")
        TicketFactory(subject="Toner", contact=ContactFactory(name="Toner Buyer"))
    with django_assert_num_queries(len(few)):
        response = agent_client.get(url)
    assert len(response.context["tickets"]) == 25
    assert response.context["total"] == 25


@pytest.mark.postgres
def test_the_page_says_when_a_text_matched_more_than_the_search_reads(agent_client, monkeypatch):
    """More matching messages (or contacts) than MESSAGE_LIMIT (CONTACT_LIMIT): the page
    says some tickets may be missing and asks for a second word; otherwise it says nothing."""
    for _ in range(3):
        MessageFactory(ticket=TicketFactory(subject="x", language="en"), body="Toner is low")
    url = reverse("queue", args=["open"]) + "?q=toner"
    response = agent_client.get(url)
    assert response.context["partial"] is False
    assert "data-partial" not in response.content.decode()
    monkeypatch.setattr(search, "MESSAGE_LIMIT", 2)
    response = agent_client.get(url)
    assert response.context["partial"] is True
    html = response.content.decode()
    assert "data-partial" in html and "some tickets may be missing" in html
    assert len(response.context["tickets"]) == 2
