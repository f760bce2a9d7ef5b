"""indexes of grid-month roll-up cells by count and by pair, for recurring problems

Revision ID: 5b1f0c7e9a21
Revises: 2d0e639743a2
Create Date: 2026-11-23 19:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "5b1f0c7e9a21"
down_revision = "2d0e639743a2"
branch_labels = None
depends_on = None

GRID_MONTH_ONLY = "grain = 'grid_month'"


def upgrade() -> None:
    op.create_index(
        "ix_case_stats_grid_month_reported",
        "case_stats",
        ["district_code", "period", "reported"],
        unique=False,
        sqlite_where=sa.text(GRID_MONTH_ONLY),
        postgresql_where=sa.text(GRID_MONTH_ONLY),
    )
    op.create_index(
        "ix_case_stats_grid_month_pair",
        "case_stats",
        ["district_code", "area_code", "kind", "minor_code", "period", "reported"],
        unique=False,
        sqlite_where=sa.text(GRID_MONTH_ONLY),
        postgresql_where=sa.text(GRID_MONTH_ONLY),
    )


def downgrade() -> None:
    op.drop_index("ix_case_stats_grid_month_pair", table_name="case_stats")
    op.drop_index("ix_case_stats_grid_month_reported", table_name="case_stats")
