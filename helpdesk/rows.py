"""New rows on the hottest paths, each in one INSERT whose text is built once per model.

`insert(row)` saves a new model instance as `bulk_create([row])` would — every concrete
field's value converted by the field itself, the primary key set from `RETURNING` — without
the ORM building the statement again for every row: on a routing decision the ORM spent
about as long building its inserts as the database took to run them (issue 14). No save
signals are sent (as with `bulk_create`); use it only for models nobody listens to.

With `conflict="field"`, a row whose `field` value already exists is left as it is and its
id is returned instead (`INSERT … ON CONFLICT (field) DO UPDATE SET field = EXCLUDED.field
RETURNING id`: the update touches nothing but makes the existing row's id come back).
PostgreSQL and SQLite (3.35+) both run the statement.

`id_array(ids)` is the other half of those hot paths' statements: ids as one PostgreSQL array
literal, passed as a single parameter and cast in the statement (`= ANY(%s::bigint[])`).
"""

import functools

from django.db import connections, router
from django.db.models import Model


@functools.cache
def _sql(model: type[Model], vendor: str, conflict: str | None) -> tuple[str, tuple]:
    meta = model._meta
    fields = tuple(f for f in meta.concrete_fields if f is not meta.auto_field and not f.generated)
    quote = connections[router.db_for_write(model)].ops.quote_name
    columns = ", ".join(quote(f.column) for f in fields)
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ({', '.join(['%s'] * len(fields))})"
    )
    if conflict is not None:
        column = quote(meta.get_field(conflict).column)
        sql += f" ON CONFLICT ({column}) DO UPDATE SET {column} = EXCLUDED.{column}"
    return f"{sql} RETURNING {quote(meta.pk.column)}", fields


def insert(row: Model, *, conflict: str | None = None) -> int:
    """Insert the new `row` (its primary key set by the database) and return its id — or,
    with `conflict`, the id of the row already holding its value of that unique field, in
    which case `row` is left unsaved."""
    model = type(row)
    using = router.db_for_write(model, instance=row)
    connection = connections[using]
    sql, fields = _sql(model, connection.vendor, conflict)
    params = [f.get_db_prep_save(f.pre_save(row, True), connection) for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        pk = cursor.fetchone()[0]
    if conflict is None:
        row.pk = pk
        row._state.adding, row._state.db = False, using
    return pk


def id_array(ids) -> str:
    """Ids as a PostgreSQL array literal, cast with `::bigint[]` in the statement: one string
    parameter instead of a list psycopg would adapt element by element, or an `IN (…)` of as
    many placeholders that Django compiles and PostgreSQL parses anew each time."""
    return "{" + ",".join(map(str, map(int, ids))) + "}"
