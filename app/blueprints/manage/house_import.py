"""Onboarding a house from a file (premises, register of owners, meters): upload → preview → confirm.

For the staff of the building's УК and the portal operator; the council and other УК get 404 (the loader),
owners and suppliers 403 (the gate). The checked file is stored as a preview (app/services/tabular.py).
"""

import io

from flask import flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user
from flask_wtf.file import FileField, FileRequired
from werkzeug.exceptions import RequestEntityTooLarge

from app.access import access_for
from app.blueprints.manage import bp
from app.forms import Form
from app.models.people import Role
from app.services import house_import as svc
from app.services import tabular
from app.services.errors import Conflict, Invalid
from app.web import form_error, origin, roles_required

GATE = (Role.STAFF, Role.COUNCIL, Role.OPERATOR)  # council passes the gate and gets 404 from the loader
MAX_MB = svc.MAX_FILE_BYTES // (1024 * 1024)
MAX_REQUEST_BYTES = svc.MAX_FILE_BYTES + 64 * 1024
TOO_LARGE = f"Файл больше {MAX_MB} МБ. Разделите его на части (например, по подъездам) и загрузите по очереди"
PAGE_ROWS = 100
FILTERS = {"all": "все", "errors": "ошибки", "changes": "новые и изменённые"}


class UploadForm(Form):
    file = FileField("Файл XLSX или CSV", validators=[FileRequired("Выберите файл с помещениями дома")])


class ApplyForm(Form):
    pass


def _building(building_id: int):
    return svc.house_import_building_get(actor=current_user, id=building_id)  # NotFound: 404


def _upload_page(building, form: UploadForm, status: int = 200):
    return render_template("manage/house_import.html", building=building, form=form, max_mb=MAX_MB,
                           max_rows=svc.MAX_ROWS, titles=[svc.TITLE[k] for k in svc.TEMPLATE_KEYS],
                           required=[f.title for f in svc.FIELDS if f.required],
                           can_open_building=access_for(current_user).uk_manages(building)), status


@bp.get("/buildings/<int:building_id>/import")
@roles_required(*GATE)
def house_import(building_id: int):
    return _upload_page(_building(building_id), UploadForm(formdata=None))


class HouseUploadTooLarge(RequestEntityTooLarge):
    """Its own class so that its handler does not replace the other imports' handlers."""


@bp.url_value_preprocessor
def _house_upload_limit(endpoint, values):
    """Refuse an upload far above the limit before its body is read (also before the CSRF check)."""
    if endpoint == "manage.house_import_upload":
        request.max_content_length = MAX_REQUEST_BYTES
        if (request.content_length or 0) > MAX_REQUEST_BYTES:
            raise HouseUploadTooLarge()


@bp.errorhandler(HouseUploadTooLarge)
def _house_upload_too_large(error):
    if not current_user.is_authenticated or not current_user.has_role(*GATE):
        return error
    building = svc.house_import_building_or_none(actor=current_user, id=(request.view_args or {}).get("building_id"))
    if building is None:
        return error
    form = UploadForm(formdata=None)
    form.file.errors = [TOO_LARGE]
    return _upload_page(building, form, 413)


@bp.post("/buildings/<int:building_id>/import")
@roles_required(*GATE)
def house_import_upload(building_id: int):
    building = _building(building_id)
    form = UploadForm()
    if not form.validate():
        return _upload_page(building, form, 422)
    upload = form.file.data
    content = upload.read(svc.MAX_FILE_BYTES + 1)
    try:
        imp = svc.house_import_preview(actor=current_user, building=building, filename=upload.filename or "",
                                       content=content)
    except Invalid as error:
        form_error(form, error)
        return _upload_page(building, form, 422)
    return redirect(url_for("manage.house_import_preview", building_id=building.id, import_id=imp.id), code=303)


@bp.get("/buildings/<int:building_id>/import/template.xlsx")
@roles_required(*GATE)
def house_import_template_xlsx(building_id: int):
    _building(building_id)
    return send_file(io.BytesIO(svc.template_xlsx()), mimetype=tabular.XLSX_MIMETYPE, as_attachment=True,
                     download_name="Образец загрузки помещений.xlsx", max_age=0)


@bp.get("/buildings/<int:building_id>/import/template.csv")
@roles_required(*GATE)
def house_import_template_csv(building_id: int):
    _building(building_id)
    return send_file(io.BytesIO(svc.template_csv()), mimetype=tabular.CSV_MIMETYPE, as_attachment=True,
                     download_name="Образец загрузки помещений.csv", max_age=0)


def _preview_page(building, imp, *, status: int = 200, message: str | None = None):
    show = request.args.get("show", "all")
    if show not in FILTERS:
        show = "all"
    rows = imp.rows
    if show == "errors":
        rows = [r for r in rows if r["status"] == svc.ERROR]
    elif show == "changes":
        rows = [r for r in rows if r["status"] in (svc.NEW, svc.CHANGED)]
    pages = max(1, -(-len(rows) // PAGE_ROWS))
    page = min(max(request.args.get("page", 1, type=int), 1), pages)
    return render_template(
        "manage/house_import_preview.html", building=building, imp=imp, s=imp.summary or {},
        rows=rows[(page - 1) * PAGE_ROWS: page * PAGE_ROWS], show=show, filters=FILTERS, page=page, pages=pages,
        labels=svc.STATUS_LABELS, apply_form=ApplyForm(formdata=None), message=message,
        page_has_errors=bool(message),
    ), status


@bp.get("/buildings/<int:building_id>/import/<int:import_id>")
@roles_required(*GATE)
def house_import_preview(building_id: int, import_id: int):
    building = _building(building_id)
    return _preview_page(building, svc.house_import_get(actor=current_user, building=building, import_id=import_id))


@bp.post("/buildings/<int:building_id>/import/<int:import_id>/apply")
@roles_required(*GATE)
def house_import_apply(building_id: int, import_id: int):
    building = _building(building_id)
    imp = svc.house_import_get(actor=current_user, building=building, import_id=import_id)
    form = ApplyForm()
    if not form.validate():
        return _preview_page(building, imp, status=400,
                             message="Страница устарела. Обновите её и подтвердите загрузку ещё раз.")
    try:
        result = svc.house_import_apply(actor=current_user, building=building, imp=imp, origin=origin())
    except Conflict as error:  # applied already, or the house changed meanwhile (the refreshed rows are stored)
        return _preview_page(building, svc.house_import_get(actor=current_user, building=building,
                                                            import_id=import_id), status=409, message=error.message)
    except Invalid as error:  # rows with errors, or an outdated preview: nothing applied
        return _preview_page(building, imp, status=422, message=error.message)
    flash(f"Данные дома загружены: новых помещений — {result.premises_new}, изменено — {result.premises_changed}; "
          f"собственников новых — {result.owners_new}, изменено — {result.owners_changed}; счётчиков новых — "
          f"{result.meters_new}, изменено — {result.meters_changed}.", "success")
    if access_for(current_user).uk_manages(building):
        return redirect(url_for("manage.building", building_id=building.id), code=303)
    return redirect(url_for("manage.house_import_preview", building_id=building.id, import_id=imp.id), code=303)
