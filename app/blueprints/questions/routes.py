"""Owner side of questions (Вопросы)."""

from flask_login import login_required

from app.blueprints.questions import bp


@bp.get("/")
@login_required
def index():
    from flask import render_template

    return render_template("questions/index.html")
