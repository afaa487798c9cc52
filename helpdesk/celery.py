"""The Celery app. Tasks live in each app's tasks.py, take ids (never model instances) and
are acknowledged late, so a worker that dies mid-task leaves the message for another. Each
kind of work has its queue (settings.CELERY_TASK_ROUTES).

Database connections are handled around each task the way Django handles them around each
request (`close_old_connections`): kept while CONN_MAX_AGE allows and they work, closed
otherwise — with CONN_MAX_AGE=0 (the default with DEBUG on) after every task, as before.
"""

import os

from celery import Celery
from celery.signals import task_postrun, task_prerun
from django.db import close_old_connections

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")

app = Celery("helpdesk")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
@task_postrun.connect
def recycle_connections(sender=None, **kwargs) -> None:
    """Before and after a task in a worker: drop a connection past CONN_MAX_AGE or broken by
    an error, and have the next query check a kept one (CONN_HEALTH_CHECKS). Never for a
    task run eagerly, inside its caller's transaction."""
    request = getattr(sender, "request", None)
    if getattr(request, "is_eager", False):
        return
    close_old_connections()
