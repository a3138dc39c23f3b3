"""Running Alembic from code: `hub db upgrade`, the test fixtures and the single-head check."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

import consult.models
import hub.models
import imaging.models
import insurance.models
import video.models
from hub.models.base import Model

# Every domain package's models must be imported here so autogenerate sees their tables.
_ = (hub.models, consult.models, imaging.models, video.models, insurance.models)
target_metadata = Model.metadata

ROOT = Path(__file__).resolve().parent.parent


def alembic_config(database_url: str | None = None) -> Config:
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.attributes["configure_logger"] = False
    if database_url:
        cfg.attributes["database_url"] = database_url
    return cfg


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


def heads() -> list[str]:
    return list(ScriptDirectory.from_config(alembic_config()).get_heads())
