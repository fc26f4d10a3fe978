"""Payments from the bank (УК staff): upload a registry → preview → confirm; unmatched payments booked to premises
or dismissed with a note. The rules are in app/services/payments_import.py."""

import io

from flask import abort, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user
from flask_wtf.file import FileField, FileRequired, FileSize
from wtforms import HiddenField, SelectField, StringField
from wtforms.validators import Length

from app.blueprints.manage import bp
from app.formatting import money
from app.forms import Form
from app.htmx import render_fragment, targets
from app.models.people import Role
from app.services import payments_import as svc
from app.services.errors import Conflict, Invalid
from app.web import form_error, origin, roles_required

MAX_MB = svc.MAX_FILE_BYTES // (1024 * 1024)
TOO_LARGE = f"Файл больше {MAX_MB} МБ. Разделите реестр на части и загрузите по очереди"
STATUS_TAGS = {svc.BOOK: "new", svc.UNMATCHED: "pending", svc.LOADED: "unchanged"}


class PaymentsUploadForm(Form):
    organisation = SelectField("Организация", validate_choice=False)
    bank = SelectField("Банк", choices=list(svc.BANKS.items()), validate_choice=False)
    file = FileField("Файл реестра", validators=[FileRequired("Выберите файл реестра платежей"),
                                                 FileSize(max_size=svc.MAX_FILE_BYTES, message=TOO_LARGE)])


class PaymentsConfirmForm(Form):
    import_id = HiddenField()


class PremisesSearchForm(Form):
    class Meta:
        csrf = False  # a GET search changes nothing

    q = StringField("Лицевой счёт или адрес", validators=[Length(max=100, message="Не больше 100 символов")])


class BookForm(Form):
    premises_id = HiddenField()


class DismissForm(Form):
    note = StringField("Почему платёж не зачислен", validators=[Length(max=300, message="Не больше 300 символов")])


def _organisations():
    organisations = svc.payment_organisations(current_user)
    if not organisations:
        abort(404)
    return organisations


def _upload_form(organisations, *, submitted: bool = False) -> PaymentsUploadForm:
    form = PaymentsUploadForm() if submitted else PaymentsUploadForm(formdata=None, bank="sber")
    form.organisation.choices = [(str(o.id), o.short_name) for o in organisations]
    if not submitted:
        form.organisation.data = str(organisations[0].id)
    return form


def _upload_page(form, organisations, status: int = 200):
    return render_template("manage/payments.html", form=form, organisations=organisations, max_mb=MAX_MB,
                           unmatched=svc.unmatched_totals(actor=current_user)), status


def _preview_page(preview, *, status: int = 200, message: str | None = None):
    confirm = PaymentsConfirmForm(formdata=None, import_id=str(preview.imp.id) if preview.imp else "")
    errors = preview.errors
    return render_template("manage/payments_preview.html", preview=preview, totals=preview.totals,
                           errors=errors[:20], more_errors=max(0, len(errors) - 20), labels=svc.STATUS_LABELS,
                           tags=STATUS_TAGS, confirm_form=confirm, message=message,
                           page_has_errors=bool(errors or message)), status


@bp.get("/payments")
@roles_required(Role.STAFF)
def payments_index():
    organisations = _organisations()
    return _upload_page(_upload_form(organisations), organisations)


@bp.post("/payments")
@roles_required(Role.STAFF)
def payments_upload():
    organisations = _organisations()
    form = _upload_form(organisations, submitted=True)
    valid = form.validate()
    chosen = {str(o.id): o for o in organisations}.get(form.organisation.data or "")
    if chosen is None:
        if form.organisation.data:
            abort(404)  # another organisation's id: never say whether it exists
        form.organisation.errors = [*form.organisation.errors, "Выберите организацию"]
    if not valid or chosen is None:
        return _upload_page(form, organisations, 422)
    upload = form.file.data
    try:
        preview = svc.payments_import_preview(actor=current_user, organisation_id=chosen.id, bank=form.bank.data,
                                              filename=upload.filename or "", content=upload.read(
                                                  svc.MAX_FILE_BYTES + 1))
    except Invalid as error:
        form_error(form, error)
        return _upload_page(form, organisations, 422)
    return _preview_page(preview, status=422 if preview.errors else 200)


@bp.post("/payments/confirm")
@roles_required(Role.STAFF)
def payments_confirm():
    form = PaymentsConfirmForm()
    imp = svc.payments_import_get(actor=current_user, import_id=form.import_id.data)  # others' previews: 404
    organisations = _organisations()
    if not form.validate():
        return _stale(organisations, "Страница устарела. Загрузите реестр ещё раз.", 400)
    try:
        result = svc.payments_import_apply(actor=current_user, imp=imp, origin=origin())
    except svc.ImportRejected as error:
        return _preview_page(error.preview, status=409, message=error.message)
    except Conflict as error:
        return _stale(organisations, error.message, 409)
    except Invalid as error:
        return _stale(organisations, error.message, 422)
    parts = [f"зачислено платежей — {result.booked.count} на {money(result.booked.amount)}"]
    parts.append(f"не найден лицевой счёт — {result.unmatched.count} на {money(result.unmatched.amount)}")
    if result.loaded.count:
        parts.append(f"уже были загружены — {result.loaded.count}")
    flash("Реестр загружен: " + "; ".join(parts) + ".", "success")
    target = "manage.payments_unmatched" if result.unmatched.count else "manage.payments_index"
    return redirect(url_for(target), code=303)


def _stale(organisations, message: str, status: int):
    form = _upload_form(organisations)
    form.form_errors.append(message)
    return _upload_page(form, organisations, status)


@bp.get("/payments/example.txt")
@roles_required(Role.STAFF)
def payments_example():
    return send_file(io.BytesIO(svc.example_registry()), mimetype="text/plain; charset=windows-1251",
                     as_attachment=True, download_name="Пример реестра платежей.txt", max_age=0)


@bp.get("/payments/unmatched")
@roles_required(Role.STAFF)
def payments_unmatched():
    _organisations()
    return render_template("manage/payments_unmatched.html", items=svc.unmatched_list(actor=current_user),
                           resolved=svc.unmatched_list(actor=current_user, resolved=True, limit=20))


def _detail_page(item, *, search: PremisesSearchForm, dismiss: DismissForm, status: int = 200):
    found = svc.premises_search(actor=current_user, item=item, query=search.q.data or "") \
        if not search.errors else []
    context = {"item": item, "search": search, "found": found, "book_form": BookForm(formdata=None),
               "searched": bool((search.q.data or "").strip()),
               "page_has_errors": bool(dismiss.errors or search.errors)}
    if targets("premises-search"):
        return render_fragment("manage/_payments_search.html", status=status, **context)
    return render_template("manage/payments_unmatched_item.html", dismiss=dismiss, **context), status


@bp.get("/payments/unmatched/<item_id>")
@roles_required(Role.STAFF)
def payments_unmatched_item(item_id):
    item = svc.unmatched_get(actor=current_user, id=item_id)  # another УК's payment: 404
    search = PremisesSearchForm(request.args)
    status = 200 if search.validate() else 422
    return _detail_page(item, search=search, dismiss=DismissForm(formdata=None), status=status)


@bp.post("/payments/unmatched/<item_id>/book")
@roles_required(Role.STAFF)
def payments_unmatched_book(item_id):
    item = svc.unmatched_get(actor=current_user, id=item_id)
    form = BookForm()
    if not form.validate():
        abort(400)
    booked = svc.unmatched_book(actor=current_user, id=item.id, premises_id=form.premises_id.data, origin=origin())
    premises = booked.premises
    flash(f"Платёж {money(booked.payment.amount)} зачислен: {premises.building.short_address}, {premises.title}, "
          f"л/с {premises.account_number}.", "success")
    return redirect(url_for("manage.payments_unmatched"), code=303)


@bp.post("/payments/unmatched/<item_id>/dismiss")
@roles_required(Role.STAFF)
def payments_unmatched_dismiss(item_id):
    item = svc.unmatched_get(actor=current_user, id=item_id)
    form = DismissForm()
    if form.validate():
        try:
            svc.unmatched_dismiss(actor=current_user, id=item.id, note=form.note.data or "", origin=origin())
        except Invalid as error:
            form_error(form, error)
        else:
            flash(f"Платёж {money(item.amount)} по счёту {item.account_number} закрыт без зачисления.", "success")
            return redirect(url_for("manage.payments_unmatched"), code=303)
    search = PremisesSearchForm(formdata=None)
    return _detail_page(item, search=search, dismiss=form, status=422)
