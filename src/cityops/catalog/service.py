"""Use cases of the catalogue: load, version, export, and resolve a class to its rule.

``resolve_class`` is what case registration calls; it is cached per process by active version
(versions are immutable once loaded), so after the first call it costs one indexed query.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from functools import lru_cache
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cityops.auth import audit
from cityops.auth.actor import SYSTEM, Actor
from cityops.auth.models import District
from cityops.catalog import departments, files
from cityops.catalog.files import KINDS, URGENCIES, ClassSpec
from cityops.catalog.models import CatalogClass, CatalogVersion
from cityops.errors import Conflict, InvalidInput, NotFound
from cityops.timeutil import to_local, utcnow

DATA_DIR = Path(__file__).parent / "data"
DEFAULT_CATALOG_FILE = DATA_DIR / "default_catalog.csv"
#: Label of the packaged catalogue; bump it whenever the packaged file changes.
DEFAULT_LABEL = "default-1"
MAX_LABEL = 32


@dataclass(frozen=True)
class ClassRule:
    """What a case copies from the catalogue when it is reported or registered."""

    kind: str  # "component" | "event"
    major_code: str
    major_name: str
    minor_code: str
    minor_name: str
    name_en: str | None
    catalog_version: str  # label of the version the rule comes from
    deadline_kind: str  # "working" | "natural" (for the urgency asked)
    deadline_hours: float
    dept_type: str | None  # default responsible department type


@dataclass(frozen=True)
class _Entry:
    spec: ClassSpec
    label: str


_CacheKey = tuple[int, str, datetime]
_cache: OrderedDict[_CacheKey, dict[tuple[str, str], _Entry]] = OrderedDict()
_cache_lock = threading.Lock()
_CACHE_VERSIONS = 32


def _spec_of(row: CatalogClass) -> ClassSpec:
    return ClassSpec(
        kind=row.kind,
        major_code=row.major_code,
        major_name=row.major_name,
        major_name_en=row.major_name_en,
        minor_code=row.minor_code,
        minor_name=row.minor_name,
        name_en=row.name_en,
        registration_criteria=row.registration_criteria,
        closing_criteria=row.closing_criteria,
        normal_deadline_hours=row.normal_deadline_hours,
        normal_deadline_kind=row.normal_deadline_kind,
        urgent_deadline_hours=row.urgent_deadline_hours,
        urgent_deadline_kind=row.urgent_deadline_kind,
        dept_type=row.dept_type,
        active=row.active,
        defaults_note=row.defaults_note,
    )


def _system(district_code: str) -> Actor:
    return replace(SYSTEM, district_code=district_code)


# --- versions -------------------------------------------------------------------------------


def active_version(session: Session, *, district_code: str) -> CatalogVersion | None:
    return session.scalar(
        select(CatalogVersion).where(
            CatalogVersion.district_code == district_code, CatalogVersion.active.is_(True)
        )
    )


def list_versions(session: Session, *, district_code: str) -> Sequence[CatalogVersion]:
    """Every version of the district, newest first."""
    return session.scalars(
        select(CatalogVersion)
        .where(CatalogVersion.district_code == district_code)
        .order_by(CatalogVersion.id.desc())
    ).all()


def get_version(
    session: Session, *, district_code: str, label: str | None = None
) -> CatalogVersion:
    """The version with ``label``, or the active one when no label is given."""
    if label is None:
        version = active_version(session, district_code=district_code)
        if version is None:
            raise NotFound(
                f"district {district_code} has no active catalogue; run `cityops catalog load`",
                field="version",
            )
        return version
    version = session.scalar(
        select(CatalogVersion).where(
            CatalogVersion.district_code == district_code, CatalogVersion.label == label
        )
    )
    if version is None:
        raise NotFound(
            f"no catalogue version {label!r} in district {district_code}", field="version"
        )
    return version


def list_classes(
    session: Session, *, version_id: int, kind: str | None = None
) -> Sequence[CatalogClass]:
    """The classes of one version in file order, retired ones included."""
    query = select(CatalogClass).where(CatalogClass.version_id == version_id)
    if kind is not None:
        if kind not in KINDS:
            raise InvalidInput(f"kind must be one of {', '.join(KINDS)}", field="kind")
        query = query.where(CatalogClass.kind == kind)
    return session.scalars(query.order_by(CatalogClass.position)).all()


def version_specs(session: Session, *, version_id: int) -> list[ClassSpec]:
    return [_spec_of(row) for row in list_classes(session, version_id=version_id)]


def _auto_label(session: Session, district_code: str) -> str:
    base = f"{district_code}-{to_local(utcnow()):%Y%m%d%H%M%S}"
    taken = set(
        session.scalars(
            select(CatalogVersion.label).where(
                CatalogVersion.district_code == district_code,
                CatalogVersion.label.startswith(base),
            )
        )
    )
    label, n = base, 1
    while label in taken:
        n += 1
        label = f"{base}-{n}"
    return label


def _set_active(session: Session, district_code: str, version: CatalogVersion) -> str | None:
    """Make ``version`` the active one; return the label it replaced."""
    current = active_version(session, district_code=district_code)
    if current is not None and current.id == version.id:
        return None
    if current is not None:
        current.active = False
        # Flush the switch-off first: the one-active index must never see two.
        session.flush()
    version.active = True
    session.flush()
    return current.label if current else None


def load_catalog(
    session: Session,
    *,
    actor: Actor,
    district_code: str,
    specs: Sequence[ClassSpec],
    source: str,
    label: str | None = None,
    activate: bool = True,
) -> CatalogVersion:
    """Store ``specs`` as a new version (activated unless told not to); one audit entry."""
    files.check_consistency(specs)
    if session.get(District, district_code) is None:
        raise InvalidInput(f"unknown district {district_code}", field="district_code")
    if label is not None:
        label = label.strip()
        if not label or len(label) > MAX_LABEL:
            raise InvalidInput(f"label must be 1 to {MAX_LABEL} characters", field="label")
        exists = session.scalar(
            select(CatalogVersion.id).where(
                CatalogVersion.district_code == district_code, CatalogVersion.label == label
            )
        )
        if exists is not None:
            raise Conflict(f"catalogue version {label!r} already exists", field="label")
    else:
        label = _auto_label(session, district_code)
    version = CatalogVersion(
        district_code=district_code,
        label=label,
        active=False,
        created_at=utcnow(),
        source=source[:256],
        class_count=len(specs),
    )
    session.add(version)
    session.flush()
    session.add_all(
        CatalogClass(version_id=version.id, district_code=district_code, position=i, **vars(spec))
        for i, spec in enumerate(specs)
    )
    session.flush()
    replaced = _set_active(session, district_code, version) if activate else None
    audit.record(
        session,
        actor=actor,
        action="catalog.load",
        object_type="catalog_version",
        object_id=version.id,
        detail={
            "label": label,
            "source": version.source,
            "classes": len(specs),
            "activated": activate,
            "replaced": replaced,
        },
    )
    return version


def load_catalog_file(
    session: Session,
    *,
    actor: Actor,
    district_code: str,
    path: Path | None = None,
    label: str | None = None,
    activate: bool = True,
) -> CatalogVersion:
    """Load a CSV/YAML file (default: the packaged catalogue); nothing is written if it is bad."""
    if path is None:
        specs, source = default_specs(), f"packaged:{DEFAULT_CATALOG_FILE.name}"
    else:
        specs, source = files.parse_file(path), str(path)
    return load_catalog(
        session,
        actor=actor,
        district_code=district_code,
        specs=specs,
        source=source,
        label=label,
        activate=activate,
    )


def activate_version(
    session: Session, *, actor: Actor, district_code: str, label: str
) -> CatalogVersion:
    """Switch the district back (or forward) to an existing version; cases keep their rules."""
    version = get_version(session, district_code=district_code, label=label)
    replaced = _set_active(session, district_code, version)
    audit.record(
        session,
        actor=actor,
        action="catalog.activate",
        object_type="catalog_version",
        object_id=version.id,
        detail={"label": label, "replaced": replaced},
    )
    return version


@lru_cache(maxsize=1)
def _default_specs() -> tuple[ClassSpec, ...]:
    return tuple(files.parse_file(DEFAULT_CATALOG_FILE))


def default_specs() -> list[ClassSpec]:
    """The packaged default catalogue (142 classes; deadlines and criteria are defaults)."""
    return list(_default_specs())


def ensure_default_catalog(session: Session, *, district_code: str) -> str:
    """Load the packaged default catalogue for the district if none is active; return the active version label (idempotent)."""  # noqa: E501
    current = active_version(session, district_code=district_code)
    if current is not None:
        return current.label
    actor = _system(district_code)
    packaged = session.scalar(
        select(CatalogVersion).where(
            CatalogVersion.district_code == district_code,
            CatalogVersion.label == DEFAULT_LABEL,
        )
    )
    try:
        with session.begin_nested():
            if packaged is not None:
                activate_version(
                    session, actor=actor, district_code=district_code, label=DEFAULT_LABEL
                )
            else:
                load_catalog_file(
                    session, actor=actor, district_code=district_code, label=DEFAULT_LABEL
                )
    except IntegrityError:
        # Another process loaded or activated one at the same moment: use theirs.
        current = active_version(session, district_code=district_code)
        if current is None:
            raise
        return current.label
    return DEFAULT_LABEL


def export_catalog(
    session: Session, *, district_code: str, path: Path, label: str | None = None
) -> CatalogVersion:
    """Write a version (default: the active one) to ``path`` as CSV or YAML by its suffix."""
    fmt = files.format_of(path)
    version = get_version(session, district_code=district_code, label=label)
    specs = version_specs(session, version_id=version.id)
    text = files.dump_csv(specs) if fmt == "csv" else files.dump_yaml(specs, label=version.label)
    path.write_text(text, encoding="utf-8")
    return version


def ensure_demo_departments(session: Session, *, district_code: str) -> int:
    """Create the missing demo departments (idempotent); return the district's department count.

    Street offices follow the loaded geography's streets when there are any: call this again
    after loading regions to add the offices of streets that are new.
    """
    return departments.ensure_demo_departments(session, district_code=district_code)


# --- resolving a class ----------------------------------------------------------------------


def _classes_of(session: Session, version: CatalogVersion) -> dict[tuple[str, str], _Entry]:
    # created_at is part of the key: ids restart when a test database is emptied.
    key: _CacheKey = (version.id, version.label, version.created_at)
    with _cache_lock:
        found = _cache.get(key)
        if found is not None:
            _cache.move_to_end(key)
            return found
    classes = {
        (spec.kind, spec.minor_code): _Entry(spec, version.label)
        for spec in version_specs(session, version_id=version.id)
    }
    with _cache_lock:
        _cache[key] = classes
        while len(_cache) > _CACHE_VERSIONS:
            _cache.popitem(last=False)
    return classes


def clear_cache() -> None:
    """Forget cached versions (tests; a process never needs it as versions are immutable)."""
    with _cache_lock:
        _cache.clear()


def find_class(
    session: Session, *, district_code: str, kind: str, minor_code: str
) -> ClassSpec | None:
    """The active catalogue's class (retired ones included), or None."""
    version = active_version(session, district_code=district_code)
    if version is None:
        return None
    entry = _classes_of(session, version).get((kind, minor_code))
    return entry.spec if entry else None


def resolve_class(
    session: Session,
    *,
    district_code: str,
    kind: str,
    minor_code: str,
    urgency: str,
    version: CatalogVersion | None = None,
) -> ClassRule:
    """The active catalogue's rule for a class; InvalidInput(field="minor_code") if unknown or
    retired. ``version``: the active version already read (a batch reads it once)."""
    if kind not in KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(KINDS)}, got {kind!r}", field="kind")
    if urgency not in URGENCIES:
        raise InvalidInput(
            f"urgency must be one of {', '.join(URGENCIES)}, got {urgency!r}", field="urgency"
        )
    if version is None:
        version = active_version(session, district_code=district_code)
    if version is None:
        raise InvalidInput(
            f"district {district_code} has no active catalogue to check class {minor_code} "
            "against; load one with `cityops catalog load`",
            field="minor_code",
        )
    entry = _classes_of(session, version).get((kind, minor_code))
    if entry is None:
        raise InvalidInput(
            f"no {kind} class {minor_code!r} in catalogue {version.label!r}", field="minor_code"
        )
    spec = entry.spec
    if not spec.active:
        raise InvalidInput(
            f"{kind} class {minor_code} ({spec.minor_name}) is retired in catalogue "
            f"{version.label!r}",
            field="minor_code",
        )
    urgent = urgency == "urgent"
    return ClassRule(
        kind=spec.kind,
        major_code=spec.major_code,
        major_name=spec.major_name,
        minor_code=spec.minor_code,
        minor_name=spec.minor_name,
        name_en=spec.name_en,
        catalog_version=entry.label,
        deadline_kind=spec.urgent_deadline_kind if urgent else spec.normal_deadline_kind,
        deadline_hours=spec.urgent_deadline_hours if urgent else spec.normal_deadline_hours,
        dept_type=spec.dept_type,
    )
