"""The Celery application: tasks discovered from the apps, schedules in the database (django-celery-beat)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "certctl.settings")

app = Celery("certctl")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
