"""The house rules that keep access decisions in one place, checked on the source itself.

- services (and the access layer) never read the request: no flask `request`, `session`, `g`, `current_user`;
- routes never touch `db.session`, never catch `NotFound`/`NotAllowed` (the app maps them once) and never pick a
  status from an error's Russian text;
- nothing imports the old `app.permissions` module.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
REQUEST_NAMES = {"request", "session", "g", "current_user"}


def _modules(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


def _tree(path: Path) -> ast.AST:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _request_imports(tree: ast.AST) -> set[str]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module in {"flask", "flask_login", "flask.globals"}:
            found |= {a.name for a in node.names} & REQUEST_NAMES
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "flask" \
                and node.attr in REQUEST_NAMES:
            found.add(node.attr)
    return found


SERVICE_MODULES = [*_modules("app/services"), ROOT / "app/access.py"]
ROUTE_MODULES = _modules("app/blueprints")


@pytest.mark.parametrize("path", SERVICE_MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_services_never_read_the_request(path):
    assert _request_imports(_tree(path)) == set()


@pytest.mark.parametrize("path", ROUTE_MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_routes_never_touch_the_session_or_catch_access_errors(path):
    tree = _tree(path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr == "session" and isinstance(node.value, ast.Name):
            assert node.value.id != "db", f"{path.name}:{node.lineno} uses db.session"
        if isinstance(node, ast.ExceptHandler) and node.type is not None:
            names = {n.id if isinstance(n, ast.Name) else getattr(n, "attr", "")
                     for n in (node.type.elts if isinstance(node.type, ast.Tuple) else [node.type])}
            assert not names & {"NotFound", "NotAllowed"}, f"{path.name}:{node.lineno} catches {names}"
        if isinstance(node, ast.Compare):
            for side in [node.left, *node.comparators]:
                if isinstance(side, ast.Attribute) and side.attr == "message":
                    raise AssertionError(f"{path.name}:{node.lineno} compares an error's message text")


@pytest.mark.parametrize("path", [*_modules("app"), *_modules("tests")], ids=lambda p: str(p.relative_to(ROOT)))
def test_nothing_imports_the_old_permissions_module(path):
    for node in ast.walk(_tree(path)):
        if isinstance(node, ast.ImportFrom):
            assert node.module not in {"app.permissions", "app.permissions_readings"}, path
        if isinstance(node, ast.Import):
            assert not {a.name for a in node.names} & {"app.permissions", "app.permissions_readings"}, path


def test_the_checks_can_fail():
    """The detectors themselves: a service reading current_user and a route catching NotFound are caught."""
    service = ast.parse("from flask_login import current_user\nfrom flask import request, render_template\n")
    assert _request_imports(service) == {"current_user", "request"}
    assert _request_imports(ast.parse("from flask import render_template\n")) == set()
