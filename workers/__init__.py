"""Celery: the app factory, the tasks, and the in-process worker of the embedded mode."""
