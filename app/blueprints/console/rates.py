"""The operator's table of Bank of Russia key rates and the rules of the пени rate (docs/penalties.md)."""

from flask import flash, redirect, render_template, url_for
from flask_login import current_user
from wtforms import SelectField, StringField
from wtforms.validators import Length

from app.blueprints.console import bp
from app.forms import Form
from app.models.people import Role
from app.services import penalties
from app.services.errors import Invalid
from app.web import form_error, origin, roles_required


def _len(n: int):
    return [Length(max=n, message=f"Не больше {n} символов")]


class KeyRateForm(Form):
    valid_from = StringField("Действует с", validators=_len(10))
    rate = StringField("Ключевая ставка, % годовых", validators=_len(20))
    source = StringField("Источник", validators=_len(300))


class PenaltyRuleForm(Form):
    valid_from = StringField("Действует с", validators=_len(10))
    valid_to = StringField("Действует по (включительно)", validators=_len(10))
    mode = SelectField("Порядок", validate_choice=False, choices=list(penalties.MODES.items()),
                       default="payment_day")
    fixed_rate = StringField("Ставка, % годовых", validators=_len(20))
    citation = StringField("Основание", validators=_len(300))


class RuleEndForm(Form):
    valid_to = StringField("Действует по (включительно)", validators=_len(10))


def _page(*, rate_form=None, rule_form=None, end_form=None, end_rule_id=None, status=200):
    return render_template(
        "console/rates.html", rates=penalties.key_rates_list(), rules=penalties.penalty_rules_list(),
        rate_form=rate_form or KeyRateForm(formdata=None), rule_form=rule_form or PenaltyRuleForm(formdata=None),
        end_form=end_form, end_rule_id=end_rule_id, modes=penalties.MODES), status


@bp.get("/rates")
@roles_required(Role.OPERATOR)
def rates():
    return _page()


@bp.post("/rates/key")
@roles_required(Role.OPERATOR)
def key_rate_add():
    form = KeyRateForm()
    if not form.validate():
        return _page(rate_form=form, status=422)
    try:
        row = penalties.key_rate_add(actor=current_user, valid_from=form.valid_from.data, rate=form.rate.data,
                                     source=form.source.data, origin=origin())
    except Invalid as error:
        form_error(form, error, fallback_field="valid_from")
        return _page(rate_form=form, status=422)
    flash(f"Ключевая ставка {row.rate} % с {row.valid_from:%d.%m.%Y} добавлена.", "success")
    return redirect(url_for("console.rates"), code=303)


@bp.post("/rates/rules")
@roles_required(Role.OPERATOR)
def penalty_rule_add():
    form = PenaltyRuleForm()
    if not form.validate():
        return _page(rule_form=form, status=422)
    try:
        row = penalties.penalty_rule_add(actor=current_user, valid_from=form.valid_from.data,
                                         valid_to=form.valid_to.data, mode=form.mode.data,
                                         fixed_rate=form.fixed_rate.data, citation=form.citation.data,
                                         origin=origin())
    except Invalid as error:
        form_error(form, error, fallback_field="valid_from")
        return _page(rule_form=form, status=422)
    flash(f"Правило с {row.valid_from:%d.%m.%Y} добавлено.", "success")
    return redirect(url_for("console.rates"), code=303)


@bp.post("/rates/rules/<int:rule_id>/end")
@roles_required(Role.OPERATOR)
def penalty_rule_end(rule_id: int):
    rule = penalties.penalty_rule_get(actor=current_user, id=rule_id)
    form = RuleEndForm()
    if not form.validate():
        return _page(end_form=form, end_rule_id=rule.id, status=422)
    try:
        penalties.penalty_rule_end(actor=current_user, rule=rule, valid_to=form.valid_to.data, origin=origin())
    except Invalid as error:
        form_error(form, error, fallback_field="valid_to")
        return _page(end_form=form, end_rule_id=rule.id, status=422)
    flash("Срок действия правила изменён.", "success")
    return redirect(url_for("console.rates"), code=303)
