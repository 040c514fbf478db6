"""The Celery application: settings come from Django's (CELERY_* names), tasks from apps."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "xcargo_web.settings")

app = Celery("xcargo_web")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
