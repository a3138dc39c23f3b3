"""Referral pages: refer, incoming referrals (accept, decline, book), the clinic calendar, the
back-referral form and its acknowledgement, open loops. The pages call the JSON API."""

from __future__ import annotations

from flask import Blueprint, Flask, render_template
from flask.typing import ResponseReturnValue
from flask_login import login_required

bp = Blueprint("referral_pages", __name__, url_prefix="/referrals")


@bp.get("/")
@login_required
def index() -> ResponseReturnValue:
    return render_template("referral/index.html")


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
