"""A decision's explanation (`candidates`, `excluded`) is compressed with lz4 where the
PostgreSQL server has it: a decision over 500 agents stores ≈ 12 KB of JSON, and pglz, the
default, took ≈ 0.5 ms of each decision's insert to compress it; lz4 ≈ 0.05 ms, for a
slightly larger row. Only values written from now on; a change of metadata, no rewrite.
Nothing to do on SQLite or on a server built without lz4."""

from django.db import migrations

COLUMNS = ("candidates", "excluded")


def _set(method_of):
    def run(apps, schema_editor):
        connection = schema_editor.connection
        if connection.vendor != "postgresql":
            return
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT enumvals FROM pg_settings WHERE name = 'default_toast_compression'"
            )
            row = cursor.fetchone()
        if row is None or "lz4" not in (row[0] or []):
            return
        table = schema_editor.quote_name("routing_routingdecision")
        changes = ", ".join(
            f"ALTER COLUMN {schema_editor.quote_name(column)} SET COMPRESSION {method_of}"
            for column in COLUMNS
        )
        schema_editor.execute(f"ALTER TABLE {table} {changes}")

    return run


class Migration(migrations.Migration):
    dependencies = [("routing", "0002_owner_email_claim")]

    operations = [migrations.RunPython(_set("lz4"), _set("default"))]
