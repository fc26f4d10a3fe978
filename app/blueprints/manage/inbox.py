"""The shared inbox of questions for УК staff, council members and РСО staff. Routes are added here."""

from app.blueprints.manage import bp  # noqa: F401
