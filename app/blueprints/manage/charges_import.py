"""Import of a period's charges from the УК's billing system (CSV/XLSX): upload → preview → confirm.

The checked file is stored as a preview (tabular_imports, app/services/tabular.py); the preview page's
confirmation posts its id back.
"""

import io
import re
from datetime import date

from flask import abort, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user
from flask_wtf.file import FileAllowed, FileField, FileRequired, FileSize
from werkzeug.exceptions import RequestEntityTooLarge
from wtforms import HiddenField, SelectField, StringField

from app.access import uk_building_get
from app.blueprints.manage import bp
from app.formatting import money, period_ru
from app.forms import Form
from app.models import Building
from app.models.base import utcnow
from app.models.people import Role
from app.services import charges_import as svc
from app.services.errors import Conflict, Invalid
from app.services.periods import add_months, current_month, parse_period
from app.web import form_error, origin, roles_required

MAX_MB = svc.MAX_FILE_BYTES // (1024 * 1024)
# The body may exceed the file a little (other fields, multipart boundaries); the exact limit is on the file.
MAX_REQUEST_BYTES = svc.MAX_FILE_BYTES + 64 * 1024
TOO_LARGE = f"Файл больше {MAX_MB} МБ. Разделите его на части (например, по подъездам) и загрузите по очереди"
STALE = "Страница устарела. Загрузите файл ещё раз."


class UploadForm(Form):
    building = SelectField("Дом", validate_choice=False)
    period = StringField("Месяц начислений")
    file = FileField("Файл CSV или XLSX", validators=[
        FileRequired("Выберите файл с начислениями"),
        FileAllowed(["csv", "xlsx", "txt"], "Загрузите файл CSV или XLSX"),
        FileSize(max_size=svc.MAX_FILE_BYTES, message=TOO_LARGE),
    ])


class ConfirmForm(Form):
    import_id = HiddenField()


def _buildings() -> list[Building]:
    buildings = svc.import_buildings(current_user)
    if not buildings:
        abort(404)  # staff of an organisation without buildings
    return buildings


def _building(raw: str | None) -> Building:
    """A building of the actor's organisation, else 404 (never say whether it exists)."""
    return uk_building_get(actor=current_user, id=raw)  # council members and other УК: 404


def _period(raw: str | None) -> date | None:
    """'2026-10' (what <input type=month> sends) or '10.2026' (typed where the browser shows a text box)."""
    text = (raw or "").strip()
    match = re.fullmatch(r"(\d{1,2})\.(\d{4})", text)
    period = parse_period(f"{match[2]}-{match[1]}") if match else (
        parse_period(text) if re.fullmatch(r"\d{4}-\d{1,2}", text) else None)
    return period if period and 2000 <= period.year <= 2100 else None


def _upload_form(buildings: list[Building], *, submitted: bool = False) -> UploadForm:
    form = UploadForm() if submitted else UploadForm(formdata=None)
    form.building.choices = [(str(b.id), b.short_address) for b in buildings]
    if not submitted:
        chosen = request.args.get("building")
        form.building.data = str(_building(chosen).id) if chosen else str(buildings[0].id)
        period = _period(request.args.get("period"))
        default = add_months(current_month(utcnow()), -1)
        form.period.data = f"{period or default:%Y-%m}"
    return form


def _upload_page(form: UploadForm, status: int = 200):
    return render_template("manage/charges_import.html", form=form, max_mb=MAX_MB, max_rows=svc.MAX_ROWS,
                           required=svc.REQUIRED, max_period=f"{current_month(utcnow()):%Y-%m}"), status


def _preview_page(preview: svc.ChargesPreview, *, status: int = 200, message: str | None = None):
    confirm = ConfirmForm(formdata=None, import_id=str(preview.imp.id) if preview.imp else "")
    errors = preview.errors
    return render_template(
        "manage/charges_import_preview.html", preview=preview, counts=preview.counts, errors=errors[:20],
        more_errors=max(0, len(errors) - 20), labels=svc.STATUS_LABELS, confirm_form=confirm, message=message,
        page_has_errors=bool(errors or message),
        with_penalty=any(r.penalty is not None for r in preview.rows),
        premises_titles={r.premises.id: f"{r.premises.title}, л/с {r.account}" for r in preview.rows if r.premises},
    ), status


@bp.get("/charges/import")
@roles_required(Role.STAFF)
def charges_import():
    return _upload_page(_upload_form(_buildings()))


class ChargesUploadTooLarge(RequestEntityTooLarge):
    """Its own class so that its handler does not replace the readings import's handler of the base class."""


@bp.url_value_preprocessor
def _charges_upload_limit(endpoint, values):
    """Refuse an upload far above the limit before its body is read, also by the CSRF check that runs first
    (url value preprocessors run before every before_request hook)."""
    if endpoint == "manage.charges_import_upload":
        request.max_content_length = MAX_REQUEST_BYTES
        if (request.content_length or 0) > MAX_REQUEST_BYTES:
            raise ChargesUploadTooLarge()


@bp.errorhandler(ChargesUploadTooLarge)
def _charges_upload_too_large(error):
    if not current_user.is_authenticated or not current_user.has_role(Role.STAFF):
        return error
    buildings = svc.import_buildings(current_user)
    if not buildings:
        return error
    form = _upload_form(buildings)
    form.file.errors = [TOO_LARGE]
    return _upload_page(form, 413)


@bp.post("/charges/import")
@roles_required(Role.STAFF)
def charges_import_upload():
    form = _upload_form(_buildings(), submitted=True)
    building = _building(form.building.data) if form.building.data else None
    valid = form.validate()
    if building is None:
        form.building.errors = [*form.building.errors, "Выберите дом"]
    period = _period(form.period.data)
    if period is None:
        message = ("Укажите месяц в формате ГГГГ-ММ, например 2026-10" if (form.period.data or "").strip()
                   else "Укажите месяц начислений")
        form.period.errors = [*form.period.errors, message]
    if not valid or building is None or period is None:
        return _upload_page(form, 422)
    upload = form.file.data
    content = upload.read(svc.MAX_FILE_BYTES + 1)
    try:
        preview = svc.charges_import_preview(actor=current_user, building=building, period=period,
                                             filename=upload.filename or "", content=content)
    except Invalid as error:
        form_error(form, error)
        return _upload_page(form, 422)
    # A file with row errors cannot be applied: the page lists them, answered like any refused form.
    return _preview_page(preview, status=422 if preview.errors else 200)


@bp.post("/charges/import/confirm")
@roles_required(Role.STAFF)
def charges_import_confirm():
    form = ConfirmForm()
    imp = svc.charges_import_get(actor=current_user, import_id=form.import_id.data)  # others' previews: 404
    building, period = _building(str(imp.building_id)), imp.period
    if not form.validate():
        return _stale(building, period, STALE, 400)
    try:
        result = svc.charges_import_apply(actor=current_user, imp=imp, origin=origin())
    except svc.ImportRejected as error:  # rows that fail now: the preview again, with the errors
        return _preview_page(error.preview, status=409, message=error.message)
    except Conflict as error:  # applied already, or the charges changed at the same moment
        return _stale(building, period, error.message, 409)
    except Invalid as error:  # an outdated preview
        return _stale(building, period, error.message, 422)
    replaced = result.replaced_import + result.replaced_computed
    flash(f"Начисления за {period_ru(period)} загружены: строк — {result.rows}, помещений — {result.premises}, "
          f"итого {money(result.total)}" + (f"; заменено прежних строк — {replaced}" if replaced else "") + ".",
          "success")
    return redirect(url_for("manage.receipts_index", building=building.id, period=f"{period:%Y-%m}"), code=303)


def _stale(building: Building, period: date | None, message: str, status: int):
    """The upload form for the same building and month, with why the confirmation was refused."""
    form = _upload_form(_buildings())
    form.building.data = str(building.id)
    if period is not None:
        form.period.data = f"{period:%Y-%m}"
    form.form_errors.append(message)
    return _upload_page(form, status)


@bp.get("/charges/import/format")
@roles_required(Role.STAFF)
def charges_import_help():
    return render_template("manage/charges_import_help.html", columns=svc.COLUMNS,
                           services=svc.organisation_services(current_user), max_mb=MAX_MB, max_rows=svc.MAX_ROWS)


@bp.get("/charges/import/template.csv")
@roles_required(Role.STAFF)
def charges_import_template():
    return send_file(io.BytesIO(svc.template_csv(actor=current_user)), mimetype=svc.CSV_MIMETYPE, as_attachment=True,
                     download_name="Образец загрузки начислений.csv", max_age=0)
