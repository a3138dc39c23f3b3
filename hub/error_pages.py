"""What an error page says to a person, in their language.

The JSON body keeps the service's English message and its code for machines. A page shows a
translated title and explanation per status instead of Werkzeug's English descriptions; the
service's own message is added when the catalogue has it in the reader's language.
"""

from __future__ import annotations

from flask_babel import get_locale, gettext
from flask_babel import lazy_gettext as _l

TITLES = {
    400: _l("The request could not be read"),
    401: _l("Please log in"),
    403: _l("Not allowed"),
    404: _l("Not found"),
    405: _l("Not allowed this way"),
    409: _l("Already changed"),
    413: _l("Too large"),
    415: _l("Unsupported format"),
    422: _l("Please check what was entered"),
    429: _l("Too many attempts"),
    500: _l("Something went wrong"),
    503: _l("Temporarily unavailable"),
}
EXPLANATIONS = {
    400: _l("Something in the request was missing or malformed. Go back and try again."),
    401: _l("Your session has ended or you are not logged in."),
    403: _l(
        "Your role does not allow this action. Ask your facility administrator if you need it."
    ),
    404: _l("This page does not exist, or you do not have access to it."),
    405: _l("This address does not accept this kind of request."),
    409: _l("Someone else changed this in the meantime. Reload the page to see the current state."),
    413: _l("The file or request is larger than the hub accepts."),
    415: _l("The hub does not accept this file format here."),
    422: _l("Some of the values entered are not valid. Go back and correct them."),
    429: _l("Too many attempts in a short time. Wait a few minutes and try again."),
    500: _l("The hub could not finish this request. Nothing was changed; try again later."),
    503: _l("The hub is busy or one of its services is unreachable. Try again in a few seconds."),
}


def page_text(status: int, message: str | None) -> tuple[str, str, str | None]:
    """(title, explanation, detail) for an error page; detail is the service's message when it
    can be shown in the reader's language, else None."""
    title = str(TITLES.get(status) or TITLES[500 if status >= 500 else 400])
    explanation = str(EXPLANATIONS.get(status) or EXPLANATIONS[500 if status >= 500 else 400])
    detail: str | None = None
    if message:
        translated = gettext(message)
        locale = str(get_locale() or "en")
        if translated != message or locale.startswith("en"):
            detail = translated
    if detail == explanation:
        detail = None
    return title, explanation, detail
