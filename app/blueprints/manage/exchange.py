"""Export and import of readings (CSV/XLSX): export for УК staff, the council and РСО; import for УК staff."""

import io

from flask import abort, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user
from flask_wtf.file import FileField, FileRequired
from werkzeug.exceptions import RequestEntityTooLarge
from wtforms import RadioField, SelectField

from app.blueprints.manage import bp
from app.formatting import period_ru
from app.forms import Form
from app.models import Building
from app.models.base import utcnow
from app.models.people import Role
from app.services import readings_exchange as svc
from app.services.errors import Conflict, Invalid
from app.services.periods import add_months, current_month, parse_period, window_state
from app.web import form_error, origin, roles_required

EXPORTERS = (Role.STAFF, Role.COUNCIL, Role.RSO)
IMPORTERS = (Role.STAFF,)
PREVIEW_PAGE_ROWS = 500
PREVIEW_FILTERS = {"all": "все", "errors": "ошибки", "changes": "новые и изменённые"}


def _period_choices() -> list[tuple[str, str]]:
    latest = current_month(utcnow())
    return [(f"{p:%Y-%m}", period_ru(p)) for p in (add_months(latest, -i) for i in range(13))]


def _default_period(buildings: list[Building]) -> str:
    """The period being collected now (or the last one collected) in the first building."""
    now = utcnow()
    period = window_state(buildings[0], now).period if buildings else current_month(now)
    return f"{period:%Y-%m}"


class ExportForm(Form):
    class Meta:
        csrf = False  # a GET form that downloads a file

    building = SelectField("Дом", validate_choice=False)
    period = SelectField("Месяц", validate_choice=False)
    format = RadioField("Формат", choices=[("xlsx", "Excel (XLSX)"), ("csv", "CSV (точка с запятой, UTF-8)")],
                        validate_choice=False)


class ImportForm(Form):
    period = SelectField("Месяц показаний", validate_choice=False)
    file = FileField("Файл CSV или XLSX", validators=[FileRequired("Выберите файл с показаниями")])


class ApplyForm(Form):
    pass


# ---------------------------------------------------------------------------------------------------------
# Export
# ---------------------------------------------------------------------------------------------------------


def _export_form(buildings: list[Building], formdata=None) -> ExportForm:
    form = ExportForm(formdata=formdata)
    form.building.choices = [("", "Все дома")] + [(str(b.id), b.short_address) for b in buildings]
    form.period.choices = _period_choices()
    if formdata is None:
        form.period.data = _default_period(buildings)
        form.format.data = "xlsx"
    return form


def _export_page(form: ExportForm, status: int = 200):
    return render_template("manage/readings_export.html", form=form), status


@bp.get("/readings/export/form")
@roles_required(*EXPORTERS)
def readings_export_form():
    buildings = svc.export_buildings(current_user)
    form = _export_form(buildings)
    chosen = request.args.get("building", "")
    if any(str(b.id) == chosen for b in buildings):
        form.building.data = chosen
    if parse_period(request.args.get("period")):
        form.period.data = request.args["period"]
    return _export_page(form)


@bp.get("/readings/export")
@roles_required(*EXPORTERS)
def readings_export():
    buildings = svc.export_buildings(current_user)
    form = _export_form(buildings, formdata=request.args)
    building = None
    if form.building.data:
        building = next((b for b in buildings if str(b.id) == form.building.data), None)
        if building is None:
            abort(404)  # not a building the actor may export (or none at all): never say which
    period = parse_period(form.period.data)
    if period is None or period > current_month(utcnow()):
        form.period.errors = ["Выберите месяц из списка"]
    if form.format.data not in svc.FORMATS:
        form.format.errors = ["Выберите формат: Excel или CSV"]
    if form.period.errors or form.format.errors:
        return _export_page(form, 422)
    exported = svc.readings_export(actor=current_user, period=period, building=building, fmt=form.format.data)
    return send_file(io.BytesIO(exported.content), mimetype=exported.mimetype, as_attachment=True,
                     download_name=exported.filename, max_age=0)


# ---------------------------------------------------------------------------------------------------------
# Import
# ---------------------------------------------------------------------------------------------------------


def _import_form(*, submitted: bool = False) -> ImportForm:
    form = ImportForm() if submitted else ImportForm(formdata=None)
    form.period.choices = _period_choices()
    if not submitted:
        form.period.data = _default_period(svc.export_buildings(current_user))
    return form


def _import_page(form: ImportForm, status: int = 200):
    return render_template("manage/readings_import.html", form=form, max_mb=svc.MAX_FILE_BYTES // (1024 * 1024),
                           max_rows=svc.MAX_ROWS, columns=svc.COLUMNS, required=svc.REQUIRED_COLUMNS), status


@bp.get("/readings/import")
@roles_required(*IMPORTERS)
def readings_import():
    return _import_page(_import_form())


@bp.url_value_preprocessor
def _limit_upload(endpoint, values):
    """Refuse an upload far above the limit before its body is read, also by the CSRF check that runs first
    (url value preprocessors run before every before_request hook). The exact limit is checked on the file."""
    if endpoint == "manage.readings_import_upload":
        request.max_content_length = svc.MAX_FILE_BYTES + 64 * 1024


@bp.errorhandler(RequestEntityTooLarge)
def _upload_too_large(error):
    if (request.endpoint != "manage.readings_import_upload" or not current_user.is_authenticated
            or not current_user.has_role(*IMPORTERS)):
        return render_template("errors/413.html", error=error), 413
    form = _import_form()
    form.file.errors = [f"Файл больше {svc.MAX_FILE_BYTES // (1024 * 1024)} МБ. Разделите его на части"]
    return _import_page(form, 413)


@bp.post("/readings/import")
@roles_required(*IMPORTERS)
def readings_import_upload():
    form = _import_form(submitted=True)
    if not form.validate():
        return _import_page(form, 422)
    period = parse_period(form.period.data)
    if period is None:
        form.period.errors = ["Выберите месяц из списка"]
        return _import_page(form, 422)
    upload = form.file.data
    content = upload.stream.read(svc.MAX_FILE_BYTES + 1)
    try:
        reading_import = svc.reading_import_preview(actor=current_user, period=period, filename=upload.filename,
                                                    content=content)
    except Invalid as error:
        form_error(form, error)
        return _import_page(form, 422)
    return redirect(url_for("manage.readings_import_preview", import_id=reading_import.id), code=303)


@bp.get("/readings/import/template.csv")
@roles_required(*IMPORTERS)
def readings_import_template():
    return send_file(io.BytesIO(svc.template_csv()), mimetype=svc.CSV_MIMETYPE, as_attachment=True,
                     download_name="Образец загрузки показаний.csv", max_age=0)


def _load_import(import_id: int):
    return svc.reading_import_get(actor=current_user, import_id=import_id)  # NotFound: 404


def _preview_page(reading_import, *, status: int = 200, message: str | None = None):
    show = request.args.get("show", "all")
    if show not in PREVIEW_FILTERS:
        show = "all"
    rows = reading_import.rows
    if show == "errors":
        rows = [r for r in rows if r["status"] == svc.ERROR]
    elif show == "changes":
        rows = [r for r in rows if r["status"] in (svc.NEW, svc.CHANGED)]
    pages = max(1, -(-len(rows) // PREVIEW_PAGE_ROWS))
    page = min(max(request.args.get("page", 1, type=int), 1), pages)
    return render_template(
        "manage/readings_import_preview.html", imp=reading_import, totals=svc.import_totals(reading_import),
        rows=rows[(page - 1) * PREVIEW_PAGE_ROWS: page * PREVIEW_PAGE_ROWS], show=show, filters=PREVIEW_FILTERS,
        page=page, pages=pages, labels=svc.STATUS_LABELS, apply_form=ApplyForm(formdata=None), message=message,
        page_has_errors=bool(message),
    ), status


@bp.get("/readings/imports/<int:import_id>")
@roles_required(*IMPORTERS)
def readings_import_preview(import_id: int):
    return _preview_page(_load_import(import_id))


@bp.post("/readings/imports/<int:import_id>/apply")
@roles_required(*IMPORTERS)
def readings_import_apply(import_id: int):
    reading_import = _load_import(import_id)
    form = ApplyForm()
    if not form.validate():
        return _preview_page(reading_import, status=400,
                             message="Страница устарела. Обновите её и подтвердите загрузку ещё раз.")
    try:
        result = svc.reading_import_apply(actor=current_user, reading_import=reading_import, origin=origin())
    except Conflict as error:  # the service stored the refreshed rows (or nothing changed): show them
        return _preview_page(_load_import(import_id), status=409, message=error.message)
    except Invalid as error:  # rows with errors: nothing applied
        return _preview_page(reading_import, status=422, message=error.message)
    parts = [f"новых — {result.new}", f"изменено — {result.changed}", f"без изменений — {result.unchanged}"]
    flash(f"Показания за {reading_import.period:%m.%Y} загружены: {', '.join(parts)}.", "success")
    return redirect(url_for("manage.readings_import_preview", import_id=import_id), code=303)
