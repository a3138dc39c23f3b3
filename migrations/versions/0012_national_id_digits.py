"""National ids stored folded: every Unicode digit form as ASCII, no white space or dashes, so
the same id typed in Persian or Arabic-Indic digits is one patient

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 16:30:00.000000
"""

import logging
import unicodedata
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = logging.getLogger("alembic.runtime.migration")
# The same rule as hub.national_id.fold, written out here: a migration must not change
# when the application's code does.
DASHES = frozenset("-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d")


def fold(value: str) -> str:
    out = []
    for ch in value:
        if ch.isspace() or ch in DASHES or unicodedata.category(ch) == "Cf":
            continue
        digit = unicodedata.decimal(ch, None)
        out.append(str(digit) if digit is not None else ch)
    return "".join(out)


def upgrade() -> None:
    conn = op.get_bind()
    patient = sa.table(
        "patient", sa.column("id"), sa.column("id_country"), sa.column("national_id")
    )
    rows = conn.execute(sa.select(patient.c.id, patient.c.id_country, patient.c.national_id))
    taken = {}
    pending = []
    for row in rows:
        folded = fold(row.national_id)
        if folded == row.national_id:
            taken[(row.id_country, folded)] = row.id
        else:
            pending.append((row.id, row.id_country, folded))
    for patient_id, country, folded in pending:
        other = taken.get((country, folded))
        if other is not None:
            # Two records of one person: kept both as they are, for an administrator to merge
            # (POST /api/v1/patients/{id}/merge); ids only, never the national id, in the log.
            log.warning("patient %s duplicates patient %s once its id is folded", patient_id, other)
            continue
        conn.execute(
            sa.update(patient).where(patient.c.id == patient_id).values(national_id=folded)
        )
        taken[(country, folded)] = patient_id


def downgrade() -> None:
    # The typed forms are not kept: folded ids stay valid for the earlier code as well.
    pass
