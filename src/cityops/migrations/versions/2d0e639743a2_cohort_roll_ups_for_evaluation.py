"""cohort roll-ups for the evaluation

Revision ID: 2d0e639743a2
Revises: ef8dd59e297f
Create Date: 2026-11-23 10:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "2d0e639743a2"
down_revision = "ef8dd59e297f"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "case_cohorts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("district_code", sa.String(length=6), nullable=False),
        sa.Column("cohort", sa.String(length=16), nullable=False),
        sa.Column("period", sa.Date(), nullable=False),
        sa.Column("subject", sa.String(length=32), nullable=False),
        sa.Column("outcome", sa.Date(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("valid", sa.Integer(), nullable=False),
        sa.Column("on_time", sa.Integer(), nullable=False),
        sa.Column("reworked", sa.Integer(), nullable=False),
        sa.Column("extended", sa.Integer(), nullable=False),
        sa.Column("extensions", sa.Integer(), nullable=False),
        sa.Column("verified", sa.Integer(), nullable=False),
        sa.Column("checked", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_cohorts")),
        sa.UniqueConstraint(
            "district_code", "cohort", "period", "subject", "outcome", name="uq_case_cohorts_cell"
        ),
    )
    _fill_from_existing_cases()


def _fill_from_existing_cases() -> None:
    """A database that already holds cases gets its cohorts now, not an empty evaluation."""
    bind = op.get_bind()
    if bind.execute(sa.text("SELECT 1 FROM cases LIMIT 1")).first() is None:
        return
    from cityops.analytics.cohorts import rebuild

    rebuild(bind)


def downgrade() -> None:
    op.drop_table("case_cohorts")
