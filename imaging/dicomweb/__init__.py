"""DICOMweb (PS3.18) under ``/dicomweb``: QIDO-RS search, WADO-RS retrieval and STOW-RS store
over the study index and storage, with the API's authentication and the study's visibility;
an image link's token grants its one study under ``/dicomweb/links/<token>``."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the DICOMweb blueprint (its writes are authorised as the API's are)."""
    # Imported when the app is built: the routes pull in the web layer and pydicom.
    from imaging.dicomweb.api import bp

    # Bearer tokens, or a session with X-CSRFToken (checked by hub.auth.current), as for /api/v1.
    app.extensions["csrf"].exempt(bp)
    app.register_blueprint(bp)
