"""htmx helpers: fragments (with flash messages swapped out-of-band), redirects, the Vary hook."""

from flask import get_flashed_messages, redirect, render_template, request


def targets(region_id: str) -> bool:
    """True when htmx asks for exactly this region (HX-Target names its id)."""
    return request.headers.get("HX-Target") == region_id


def is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


def render_fragment(template: str, status: int = 200, **context):
    """Render a partial; pending flash messages ride along as an out-of-band swap of #flash."""
    body = render_template(template, **context)
    messages = get_flashed_messages(with_categories=True)
    if messages:
        body += render_template("_flash.html", messages=messages, oob=True)
    return body, status


def hx_redirect(url: str):
    """Redirect that works for htmx (HX-Redirect) and for plain forms (303 See Other)."""
    if is_htmx():
        return "", 204, {"HX-Redirect": url}
    return redirect(url, code=303)


def add_vary(response):
    response.vary.add("HX-Request")
    response.vary.add("HX-Target")
    return response
