"""Configuration of the server: settings, URLs, the Celery app, WSGI."""

from xcargo_web.celery import app as celery_app

__all__ = ["celery_app"]
