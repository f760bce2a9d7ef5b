"""The fixtures give an empty schema on each backend."""

from sqlalchemy import select

from cityops.auth.models import District
from cityops.auth.service import ensure_district


def test_district_round_trip(session, backend):
    ensure_district(session, code="110106", name="丰台区")
    session.commit()
    assert session.scalar(select(District.name)) == "丰台区"


def test_tables_start_empty(session, backend):
    assert session.scalar(select(District.code)) is None
