"""Appeals (Обращения)."""

from app.blueprints.appeals import bp  # noqa: F401
