"""The catalogue: default load, resolving classes, versions, and the file round trip."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cityops.auth.actor import Actor
from cityops.auth.models import AuditEntry
from cityops.catalog import files, service
from cityops.catalog.models import CatalogClass, CatalogVersion
from cityops.errors import Conflict, InvalidInput, NotFound


def _count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def test_default_catalogue_loads_142_classes(session, backend, district):
    label = service.ensure_default_catalog(session, district_code=district)
    session.commit()
    assert label == service.DEFAULT_LABEL
    version = service.get_version(session, district_code=district)
    assert version.class_count == 142
    classes = service.list_classes(session, version_id=version.id)
    assert len(classes) == 142
    assert sum(c.kind == "component" for c in classes) == 85
    assert all(c.defaults_note for c in classes), "shipped values must be marked as defaults"
    # One audit entry for the whole load, not one per class.
    assert _count(session, AuditEntry) == 1


def test_ensure_default_catalog_is_idempotent(session, backend, district):
    first = service.ensure_default_catalog(session, district_code=district)
    second = service.ensure_default_catalog(session, district_code=district)
    session.commit()
    assert first == second
    assert _count(session, CatalogVersion) == 1
    assert _count(session, CatalogClass) == 142


def test_ensure_default_catalog_needs_a_known_district(session, backend):
    with pytest.raises(InvalidInput) as err:
        service.ensure_default_catalog(session, district_code="999999")
    assert err.value.field == "district_code"


def test_resolve_class_by_kind_and_urgency(session, backend, district):
    service.ensure_default_catalog(session, district_code=district)
    cover = service.resolve_class(
        session, district_code=district, kind="component", minor_code="0102", urgency="urgent"
    )
    assert (cover.minor_name, cover.deadline_kind, cover.deadline_hours) == (
        "污水井盖",
        "natural",
        2.0,
    )
    assert cover.dept_type == "water"
    assert cover.catalog_version == service.DEFAULT_LABEL
    garbage = service.resolve_class(
        session, district_code=district, kind="event", minor_code="0102", urgency="normal"
    )
    assert (garbage.minor_name, garbage.deadline_kind, garbage.deadline_hours) == (
        "暴露垃圾",
        "working",
        8.0,
    )
    # Minor codes are unique only within a kind.
    assert garbage.major_name == "市容环境" and cover.major_name == "公共设施"
    building = service.resolve_class(
        session, district_code=district, kind="event", minor_code="0101", urgency="normal"
    )
    assert building.deadline_kind == "working" and building.deadline_hours >= 16


@pytest.mark.parametrize(
    ("kind", "minor_code", "urgency", "field"),
    [
        ("event", "0999", "normal", "minor_code"),
        ("component", "0598", "normal", "minor_code"),  # an event code, not a component
        ("thing", "0101", "normal", "kind"),
        ("event", "0101", "soon", "urgency"),
    ],
)
def test_resolve_class_errors_name_the_field(
    session, backend, district, kind, minor_code, urgency, field
):
    service.ensure_default_catalog(session, district_code=district)
    with pytest.raises(InvalidInput) as err:
        service.resolve_class(
            session, district_code=district, kind=kind, minor_code=minor_code, urgency=urgency
        )
    assert err.value.field == field


def test_resolve_class_without_a_catalogue(session, backend, district):
    with pytest.raises(InvalidInput, match="no active catalogue") as err:
        service.resolve_class(
            session, district_code=district, kind="event", minor_code="0102", urgency="normal"
        )
    assert err.value.field == "minor_code"


def _edited(specs: list[files.ClassSpec], minor: str, **changes: object) -> list[files.ClassSpec]:
    from dataclasses import replace

    return [
        replace(s, **changes) if (s.kind, s.minor_code) == ("event", minor) else s  # type: ignore[arg-type]
        for s in specs
    ]


def test_retired_class_is_refused(session, backend, district, admin: Actor):
    specs = _edited(service.default_specs(), "0512", active=False)
    service.load_catalog(
        session, actor=admin, district_code=district, specs=specs, source="test", label="retired"
    )
    with pytest.raises(InvalidInput, match="retired") as err:
        service.resolve_class(
            session, district_code=district, kind="event", minor_code="0512", urgency="normal"
        )
    assert err.value.field == "minor_code"


def test_new_version_activates_and_old_stays_readable(session, backend, district, admin):
    service.ensure_default_catalog(session, district_code=district)
    before = service.resolve_class(
        session, district_code=district, kind="event", minor_code="0102", urgency="normal"
    )
    specs = _edited(service.default_specs(), "0102", normal_deadline_hours=4.0)
    service.load_catalog(
        session, actor=admin, district_code=district, specs=specs, source="test", label="2025-edit"
    )
    session.commit()
    after = service.resolve_class(
        session, district_code=district, kind="event", minor_code="0102", urgency="normal"
    )
    assert (before.catalog_version, before.deadline_hours) == ("default-1", 8.0)
    assert (after.catalog_version, after.deadline_hours) == ("2025-edit", 4.0)
    versions = service.list_versions(session, district_code=district)
    assert [(v.label, v.active) for v in versions] == [("2025-edit", True), ("default-1", False)]
    old = service.get_version(session, district_code=district, label="default-1")
    old_classes = {
        c.minor_code: c for c in service.list_classes(session, version_id=old.id, kind="event")
    }
    assert old_classes["0102"].normal_deadline_hours == 8.0
    # Switching back is possible and audited; the cache follows the active version.
    service.activate_version(session, actor=admin, district_code=district, label="default-1")
    again = service.resolve_class(
        session, district_code=district, kind="event", minor_code="0102", urgency="normal"
    )
    assert again.catalog_version == "default-1"


def test_duplicate_label_conflicts(session, backend, district, admin):
    service.ensure_default_catalog(session, district_code=district)
    with pytest.raises(Conflict) as err:
        service.load_catalog(
            session,
            actor=admin,
            district_code=district,
            specs=service.default_specs(),
            source="t",
            label="default-1",
        )
    assert err.value.field == "label"


def test_unknown_version_not_found(session, backend, district):
    with pytest.raises(NotFound) as err:
        service.get_version(session, district_code=district, label="nope")
    assert err.value.field == "version"


@pytest.mark.parametrize("suffix", [".csv", ".yaml"])
def test_export_import_round_trip(session, backend, district, admin, tmp_path: Path, suffix):
    service.ensure_default_catalog(session, district_code=district)
    path = tmp_path / f"catalog{suffix}"
    service.export_catalog(session, district_code=district, path=path)
    version = service.load_catalog_file(
        session, actor=admin, district_code=district, path=path, label="reimported"
    )
    session.commit()
    original = service.get_version(session, district_code=district, label="default-1")
    assert service.version_specs(session, version_id=version.id) == service.version_specs(
        session, version_id=original.id
    )
    assert service.version_specs(session, version_id=version.id) == service.default_specs()
    # Exporting the re-imported version gives the same bytes.
    again = tmp_path / f"again{suffix}"
    service.export_catalog(session, district_code=district, path=again, label="reimported")
    if suffix == ".csv":
        assert again.read_bytes() == path.read_bytes()


def test_packaged_file_equals_its_own_export(session, backend, district, tmp_path):
    service.ensure_default_catalog(session, district_code=district)
    path = tmp_path / "out.csv"
    service.export_catalog(session, district_code=district, path=path)
    assert path.read_text(encoding="utf-8") == service.DEFAULT_CATALOG_FILE.read_text(
        encoding="utf-8"
    )


def test_bad_import_names_row_and_column_and_writes_nothing(
    session, backend, district, admin, tmp_path
):
    lines = service.DEFAULT_CATALOG_FILE.read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    bad = lines[3].split(",")
    bad[header.index("urgent_deadline_kind")] = "fortnightly"
    lines[3] = ",".join(bad)
    path = tmp_path / "bad.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(InvalidInput) as err:
        service.load_catalog_file(session, actor=admin, district_code=district, path=path)
    assert err.value.field == "urgent_deadline_kind"
    assert err.value.extra["row"] == 3
    assert "row 3, column urgent_deadline_kind" in err.value.message
    session.rollback()
    assert _count(session, CatalogVersion) == 0
    assert _count(session, CatalogClass) == 0
    assert _count(session, AuditEntry) == 0
