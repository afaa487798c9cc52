"""Indexes for the queue search (`helpdesk/search.py`), on PostgreSQL only.

- Trigram GIN indexes (extension pg_trgm) on the very expressions `icontains` compiles to,
  `UPPER(col::text) LIKE UPPER(%s)`: ticket subject, contact name, contact email.
- Full-text GIN expression indexes on message bodies, one per text-search configuration the
  search uses (`search.CONFIGS`: english, norwegian, simple); a ticket's messages are matched
  in the configuration of the ticket's language. Expression indexes rather than stored
  columns: a message does not carry its ticket's language, and the models stay unchanged.

Built CONCURRENTLY (the migration is not atomic) so an upgrade does not block ticket writes
while it indexes an existing helpdesk. On SQLite (`make run`) the migration does nothing and
the search takes its unindexed path. pg_trgm is a trusted extension (PostgreSQL 13+): the
database owner may create it without being a superuser.
"""

from django.db import migrations

INDEXES = {
    "ticket_subject_trgm_idx": ("helpdesk_ticket USING gin (UPPER(subject::text) gin_trgm_ops)"),
    "contact_name_trgm_idx": "helpdesk_contact USING gin (UPPER(name::text) gin_trgm_ops)",
    "contact_email_trgm_idx": "helpdesk_contact USING gin (UPPER(email::text) gin_trgm_ops)",
    "message_body_english_idx": (
        "helpdesk_message USING gin (to_tsvector('english'::regconfig, body))"
    ),
    "message_body_norwegian_idx": (
        "helpdesk_message USING gin (to_tsvector('norwegian'::regconfig, body))"
    ),
    "message_body_simple_idx": (
        "helpdesk_message USING gin (to_tsvector('simple'::regconfig, body))"
    ),
}


def create_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, target in INDEXES.items():
        schema_editor.execute(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON {target}")


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("helpdesk", "0010_user_language"),
    ]

    operations = [
        migrations.RunPython(create_indexes, drop_indexes, elidable=False),
    ]
