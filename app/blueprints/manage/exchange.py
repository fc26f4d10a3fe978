"""Export and import of readings (CSV/XLSX) for УК staff. Routes are added here."""

from app.blueprints.manage import bp  # noqa: F401
