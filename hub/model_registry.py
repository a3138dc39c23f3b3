"""Every package's tables, for Alembic: the one place outside the app factory where the core
imports the domain packages (their ``models`` modules only)."""

from __future__ import annotations

import consult.models
import hub.models
import imaging.dose.models
import imaging.models
import insurance.models
import referral.command.models
import referral.models
import video.models
from hub.models.base import Model

PACKAGES = (
    hub.models,
    consult.models,
    imaging.models,
    imaging.dose.models,
    video.models,
    insurance.models,
    referral.models,
    referral.command.models,
)
metadata = Model.metadata
