"""The bulk readings grid for the council and УК staff."""

from app.blueprints.manage import bp  # noqa: F401
