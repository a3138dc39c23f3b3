"""Reference specialties: the ten of the national roadmap plus general and diagnostic ones.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SPECIALTIES = (
    ("critical_care", "Critical care (ICU)"),
    ("pulmonology", "Pulmonology"),
    ("infectious_disease", "Infectious disease"),
    ("nephrology", "Nephrology"),
    ("oncology", "Oncology"),
    ("obstetrics_gynaecology", "Obstetrics and gynaecology"),
    ("paediatrics", "Paediatrics"),
    ("neurology", "Neurology"),
    ("cardiology", "Cardiology"),
    ("surgery", "Surgery"),
    ("general_medicine", "General medicine"),
    ("dermatology", "Dermatology"),
    ("ophthalmology", "Ophthalmology"),
    ("psychiatry", "Psychiatry"),
    ("radiology", "Radiology"),
    ("pathology", "Pathology"),
)

specialty = sa.table("specialty", sa.column("code", sa.String), sa.column("name", sa.String))


def upgrade() -> None:
    op.bulk_insert(specialty, [{"code": c, "name": n} for c, n in SPECIALTIES])


def downgrade() -> None:
    op.execute(specialty.delete().where(specialty.c.code.in_([c for c, _ in SPECIALTIES])))
