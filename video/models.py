"""Video session tables."""

from __future__ import annotations
