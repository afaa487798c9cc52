"""The Celery app. Tasks live in each app's tasks.py, take ids (never model instances) and
are acknowledged late, so a worker that dies mid-task leaves the message for another."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")

app = Celery("helpdesk")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
