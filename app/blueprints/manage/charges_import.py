"""Import of a period's charges from the УК's billing system (CSV/XLSX). Routes are added here."""

from app.blueprints.manage import bp  # noqa: F401
