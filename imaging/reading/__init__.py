"""Teleradiology: the radiologist's report (written, signed, received); later reading requests,
critical results and quality control."""

from __future__ import annotations

from flask import Flask

from hub.documents import registry
from imaging.reading.services import REPORT


def init_app(app: Flask) -> None:
    """Register the report's document kind (template, signature slots)."""
    registry.register(REPORT)
