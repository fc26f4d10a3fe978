"""Absolute portal URLs for emails and letters, built from PORTAL_URL (works outside a request too)."""

from flask import current_app, url_for


def portal_url(endpoint: str, **values) -> str:
    with current_app.test_request_context(base_url=current_app.config["PORTAL_URL"]):
        return url_for(endpoint, _external=True, **values)
