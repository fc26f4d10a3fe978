"""Hardening found by the security review: the built-in SECRET_KEY, request and upload sizes, decompression
bombs, NUL in any part of a request, ids beyond our 32-bit keys (run on PostgreSQL too: that is where they were
500s)."""

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy.exc import DataError

from app import create_app
from app.models import Appeal, AppealPhoto
from app.services import appeals as svc
from config import Config, TestConfig
from tests.conftest import login_as

ROOT = Path(__file__).resolve().parents[2]
MB = 1024 * 1024


# --- SECRET_KEY ---------------------------------------------------------------------------------------------


def test_built_in_secret_key_refused_outside_debug_and_tests(tmp_path):
    url = f"sqlite:///{tmp_path / 'x.db'}"
    plain = type("Plain", (Config,), {"SQLALCHEMY_DATABASE_URI": url})
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app(plain)
    create_app(type("Debug", (plain,), {"DEBUG": True}))  # make run, flask run --debug
    create_app(type("Tests", (TestConfig,), {"SQLALCHEMY_DATABASE_URI": url}))
    create_app(type("Real", (plain,), {"SECRET_KEY": "a-long-random-production-key"}))


def _flask(tmp_path, **env):
    environ = {k: v for k, v in os.environ.items() if k not in {"FLASK_DEBUG", "SECRET_KEY", "PORTAL_CONFIG"}}
    environ |= {"DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}", "FLASK_APP": "wsgi.py", **env}
    return subprocess.run([sys.executable, "-m", "flask", "routes"], cwd=ROOT, env=environ, capture_output=True,
                          text=True, timeout=120)


def test_wsgi_and_cli_refuse_the_default_key_unless_debug(tmp_path):
    refused = _flask(tmp_path)  # what `gunicorn wsgi:app` would load
    assert refused.returncode != 0 and "SECRET_KEY is the built-in development key" in refused.stderr
    assert _flask(tmp_path, FLASK_DEBUG="1").returncode == 0  # the CLI in development (make run sets it)
    assert _flask(tmp_path, SECRET_KEY="x" * 40).returncode == 0


def test_make_run_runs_every_step_in_debug_mode():
    makefile = (ROOT / "Makefile").read_text()
    assert "run: export FLASK_DEBUG ?= 1" in makefile


# --- request and upload sizes --------------------------------------------------------------------------------


def test_body_over_35_mb_is_413_in_russian_even_anonymously(app, client):
    assert app.config["MAX_CONTENT_LENGTH"] == 35 * MB
    body = b"login=" + b"x" * (35 * MB)
    r = client.post("/auth/login", data=body, content_type="application/x-www-form-urlencoded")
    assert r.status_code == 413 and "Слишком большой объём" in r.text and "35 МБ" in r.text


class CountingFile:
    """An upload that records how much the route asked to read."""

    def __init__(self, size: int):
        self.filename, self.size, self.asked = "big.jpg", size, []

    def read(self, n=-1):
        self.asked.append(n)
        return b"\xff" * (self.size if n < 0 else min(n, self.size))


def test_uploads_are_read_with_a_bound():
    upload = CountingFile(150 * MB)
    assert len(svc.read_upload(upload).data) == svc.MAX_PHOTO_BYTES + 1
    assert upload.asked == [svc.MAX_PHOTO_BYTES + 1]


def owner_on_p1(app, world):
    c = login_as(app.test_client(), world.owner)
    c.post("/apartment/switch", data={"premises_id": world.p1.id})
    return c


def _repair(world):
    return next(c.id for c in svc.categories_for(world.uk.id) if c.code == "REPAIR")


def _file_appeal(c, world, photo: bytes, name="photo.png"):
    return c.post("/appeals/new", content_type="multipart/form-data", data={
        "category_id": str(_repair(world)), "place_kind": "premises",
        "text": "Описание проблемы остаётся на месте.", "photos": (io.BytesIO(photo), name)})


def test_photo_over_10_mb_refused_next_to_the_field(app, world, db):
    r = _file_appeal(owner_on_p1(app, world), world, b"\xff\xd8" + b"0" * (11 * MB), "big.jpg")
    assert r.status_code == 422 and 'id="photos-error"' in r.text and "big.jpg: файл больше 10 МБ" in r.text
    assert "Описание проблемы остаётся на месте." in r.text
    assert db.session.query(Appeal).count() == 0


# --- decompression bombs -------------------------------------------------------------------------------------


def bilevel_png(side: int) -> bytes:
    """A side x side 1-bit PNG: a few KB on disk, side² pixels once decoded."""
    out = io.BytesIO()
    Image.new("1", (side, side)).save(out, "PNG")
    return out.getvalue()


@pytest.mark.parametrize("side", [6400, 8888, 9000])  # 41, 79 (Pillow only warned) and 81 megapixels
def test_images_over_40_megapixels_refused(world, db, side):
    data = bilevel_png(side)
    assert len(data) < 200 * 1024
    with pytest.raises(svc.Invalid, match="^Фотография слишком большая"):
        svc.clean_photo(svc.Upload("plan.png", data))


def test_image_of_40_megapixels_or_less_accepted(world, db):
    assert svc.clean_photo(svc.Upload("ok.png", bilevel_png(6000))).width == svc.MAX_SIDE  # 36 MP


def test_bomb_refused_next_to_the_field(app, world, db):
    r = _file_appeal(owner_on_p1(app, world), world, bilevel_png(8888))
    assert r.status_code == 422 and 'id="photos-error"' in r.text and "Фотография слишком большая" in r.text
    assert db.session.query(AppealPhoto).count() == 0


# --- NUL anywhere in a request, and what the database refuses -----------------------------------------------


@pytest.mark.parametrize(("method", "path", "kwargs"), [
    ("get", "/announcements/?q=%00", {}),
    ("get", "/manage/appeals?status=a%00b", {}),
    ("post", "/notices/unsubscribe/abc%00def", {}),
    ("post", "/announcements/new", {"json": {"title": "a\x00b"}}),
    ("post", "/announcements/new", {"data": {"title\x00": "x"}}),
])
def test_nul_anywhere_is_400_in_russian(app, world, method, path, kwargs):
    r = getattr(login_as(app.test_client(), world.staff), method)(path, **kwargs)
    assert r.status_code == 400 and "Поле содержит недопустимые символы" in r.text


def test_database_refusal_is_400_and_rolled_back(app, world, db):
    def broken():
        raise DataError("INSERT ...", {}, Exception("value out of range"))

    app.add_url_rule("/_test/data-error", view_func=broken)
    c = login_as(app.test_client(), world.owner)
    r = c.get("/_test/data-error")
    assert r.status_code == 400 and "Запрос не принят" in r.text
    assert c.get("/appeals/").status_code == 200  # the session is usable again


# --- ids beyond 32-bit keys ----------------------------------------------------------------------------------


@pytest.fixture
def appeal(world, db):
    return svc.appeal_file(actor=world.owner, premises=world.p1, category_id=_repair(world), place_kind="premises",
                           place_detail=None, text="Течёт кран на кухне, вода капает.")


@pytest.mark.parametrize("path", [
    "/appeals/2147483648", "/appeals/99999999999", "/appeals/2147483647", "/appeals/99999999999/live",
    "/appeals/photos/99999999999.jpg", "/announcements/99999999999", "/notices/99999999999",
    "/manage/premises/99999999999", "/manage/buildings/99999999999", "/readings/meters/99999999999",
])
def test_out_of_range_url_ids_are_404(app, world, path):
    role = "owner" if path.startswith(("/appeals", "/announcements", "/readings")) else "staff"
    assert login_as(app.test_client(), world.by_role(role)).get(path).status_code == 404


def test_out_of_range_ids_in_forms_and_filters(app, world, db, appeal):
    c = login_as(app.test_client(), world.staff)
    hx = {"HX-Request": "true", "HX-Target": f"appeal-row-{appeal.id}"}
    for bad in ("2147483648", "99999999999999999999", "-1", "abc"):
        r = c.post(f"/manage/appeals/{appeal.id}/row", data={"action": "assign", "assignee_id": bad}, headers=hx)
        assert r.status_code == 422 and "Выберите сотрудника своей организации" in r.text  # as for an unknown id
    db.session.expire_all()
    assert db.session.get(Appeal, appeal.id).assignee_id is None
    for query in ("building=2147483648", "category=99999999999", "assignee=99999999999", "building=-5"):
        assert c.get(f"/manage/appeals?{query}").status_code == 200
    owner = login_as(app.test_client(), world.owner)
    assert owner.get("/announcements/?offset=99999999999999999999").status_code == 200
    assert owner.post(f"/appeals/{appeal.id}/status", data={"to": "closed", "version": "99999999999999"}
                      ).status_code in (303, 409)
