"""`helpdesk.rows.insert`: a new row in one statement built once per model, as
`bulk_create([row])` would write it (issue 14)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from helpdesk import rows
from helpdesk.models import Job

pytestmark = pytest.mark.django_db


def test_a_row_is_written_with_every_field_and_its_defaults():
    job = Job(key="a", task="t", kwargs={"n": [1, "ü"]})
    with CaptureQueriesContext(connection) as ctx:
        pk = rows.insert(job)
    assert len(ctx.captured_queries) == 1
    assert job.pk == pk and not job._state.adding
    stored = Job.objects.get(pk=pk)
    assert (stored.key, stored.task, stored.kwargs) == ("a", "t", {"n": [1, "ü"]})
    # the fields' defaults, as the ORM fills them
    assert (stored.state, stored.attempts, stored.last_error) == ("pending", 0, "")
    assert stored.created_at == job.created_at and stored.done_at is None


def test_a_conflict_returns_the_existing_rows_id_and_changes_nothing():
    first = Job(key="same", task="first", kwargs={})
    rows.insert(first)
    second = Job(key="same", task="second", kwargs={"x": 1})
    assert rows.insert(second, conflict="key") == first.pk
    assert second.pk is None  # not saved
    assert list(Job.objects.values_list("task", "kwargs")) == [("first", {})]
    assert rows.insert(Job(key="other", task="t"), conflict="key") != first.pk
