"""Catalogue files: CSV and YAML in, validated class specs out, and back (pure, no database).

Both formats carry the same flat columns (``COLUMNS``); an error names the row and the column.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

from cityops.errors import InvalidInput

KINDS = ("component", "event")
DEADLINE_KINDS = ("working", "natural")
URGENCIES = ("normal", "urgent")
#: A year of hours: anything longer is a typo, not a deadline.
MAX_DEADLINE_HOURS = 24 * 366.0

COLUMNS = (
    "kind",
    "major_code",
    "major_name",
    "major_name_en",
    "minor_code",
    "minor_name",
    "name_en",
    "registration_criteria",
    "closing_criteria",
    "normal_deadline_hours",
    "normal_deadline_kind",
    "urgent_deadline_hours",
    "urgent_deadline_kind",
    "dept_type",
    "active",
    "defaults_note",
)
REQUIRED = frozenset(
    {
        "kind",
        "major_code",
        "major_name",
        "minor_code",
        "minor_name",
        "normal_deadline_hours",
        "normal_deadline_kind",
        "urgent_deadline_hours",
        "urgent_deadline_kind",
    }
)
_TEXT_LIMITS = {"major_name": 64, "minor_name": 64, "major_name_en": 128, "name_en": 128}
_DEPT_TYPE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_TRUE = {"true", "1", "yes", "y"}
_FALSE = {"false", "0", "no", "n"}
YAML_FORMAT = "cityops-catalog/1"


@dataclass(frozen=True)
class ClassSpec:
    """One validated minor class as a file describes it."""

    kind: str
    major_code: str
    major_name: str
    major_name_en: str | None
    minor_code: str
    minor_name: str
    name_en: str | None
    registration_criteria: str | None
    closing_criteria: str | None
    normal_deadline_hours: float
    normal_deadline_kind: str
    urgent_deadline_hours: float
    urgent_deadline_kind: str
    dept_type: str | None
    active: bool
    defaults_note: str | None


def _fail(row: int, column: str, problem: str) -> InvalidInput:
    return InvalidInput(f"row {row}, column {column}: {problem}", field=column, row=row)


def _text(raw: Mapping[str, Any], row: int, column: str) -> str | None:
    value = raw.get(column)
    if value is None:
        text = ""
    elif isinstance(value, str):
        text = value.strip()
    elif isinstance(value, bool) or not isinstance(value, int | float):
        raise _fail(row, column, f"expected text, got {value!r}")
    elif column.endswith("_code"):
        # YAML reads an unquoted 0101 as a number (even octal): the code is already lost.
        raise _fail(row, column, f"codes must be quoted text (e.g. '0101'), got {value!r}")
    else:
        text = str(value)
    if not text:
        if column in REQUIRED:
            raise _fail(row, column, "is required")
        return None
    limit = _TEXT_LIMITS.get(column)
    if limit is not None and len(text) > limit:
        raise _fail(row, column, f"longer than {limit} characters")
    return text


def _hours(raw: Mapping[str, Any], row: int, column: str) -> float:
    text = _text(raw, row, column)
    try:
        hours = float(text or "")
    except ValueError:
        raise _fail(row, column, f"expected a number of hours, got {text!r}") from None
    if not 0 < hours <= MAX_DEADLINE_HOURS:
        raise _fail(row, column, f"must be more than 0 and at most {MAX_DEADLINE_HOURS:g} hours")
    return hours


def _choice(raw: Mapping[str, Any], row: int, column: str, allowed: Sequence[str]) -> str:
    text = _text(raw, row, column) or ""
    if text not in allowed:
        raise _fail(row, column, f"must be one of {', '.join(allowed)}, got {text!r}")
    return text


def _active(raw: Mapping[str, Any], row: int) -> bool:
    value = raw.get("active")
    if value is None or value == "":
        return True
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise _fail(row, "active", f"expected true or false, got {value!r}")


def spec_from_mapping(raw: Mapping[str, Any], row: int) -> ClassSpec:
    """Validate one row (CSV record or YAML mapping); ``row`` is 1-based, for messages."""
    unknown = sorted(set(raw) - set(COLUMNS))
    if unknown:
        raise _fail(row, unknown[0], f"unknown column; columns are: {', '.join(COLUMNS)}")
    kind = _choice(raw, row, "kind", KINDS)
    major_code = _text(raw, row, "major_code") or ""
    if not re.fullmatch(r"\d{2}", major_code):
        raise _fail(row, "major_code", f"must be 2 digits, got {major_code!r}")
    minor_code = _text(raw, row, "minor_code") or ""
    if not re.fullmatch(r"\d{4}", minor_code):
        raise _fail(row, "minor_code", f"must be 4 digits, got {minor_code!r}")
    if not minor_code.startswith(major_code):
        raise _fail(row, "minor_code", f"{minor_code} does not start with major code {major_code}")
    dept_type = _text(raw, row, "dept_type")
    if dept_type is not None and not _DEPT_TYPE.match(dept_type):
        raise _fail(row, "dept_type", f"must be lower-case letters, digits, _; got {dept_type!r}")
    return ClassSpec(
        kind=kind,
        major_code=major_code,
        major_name=_text(raw, row, "major_name") or "",
        major_name_en=_text(raw, row, "major_name_en"),
        minor_code=minor_code,
        minor_name=_text(raw, row, "minor_name") or "",
        name_en=_text(raw, row, "name_en"),
        registration_criteria=_text(raw, row, "registration_criteria"),
        closing_criteria=_text(raw, row, "closing_criteria"),
        normal_deadline_hours=_hours(raw, row, "normal_deadline_hours"),
        normal_deadline_kind=_choice(raw, row, "normal_deadline_kind", DEADLINE_KINDS),
        urgent_deadline_hours=_hours(raw, row, "urgent_deadline_hours"),
        urgent_deadline_kind=_choice(raw, row, "urgent_deadline_kind", DEADLINE_KINDS),
        dept_type=dept_type,
        active=_active(raw, row),
        defaults_note=_text(raw, row, "defaults_note"),
    )


def check_consistency(specs: Sequence[ClassSpec]) -> None:
    """Refuse duplicates and a major class named two ways; errors name the later row."""
    if not specs:
        raise InvalidInput("the catalogue has no classes", field="file")
    seen: dict[tuple[str, str], int] = {}
    majors: dict[tuple[str, str], str] = {}
    for row, spec in enumerate(specs, start=1):
        key = (spec.kind, spec.minor_code)
        if key in seen:
            raise _fail(row, "minor_code", f"{spec.kind} {spec.minor_code} repeats row {seen[key]}")
        seen[key] = row
        major = majors.setdefault((spec.kind, spec.major_code), spec.major_name)
        if major != spec.major_name:
            raise _fail(
                row,
                "major_name",
                f"{spec.kind} major {spec.major_code} is named {major!r} in an earlier row",
            )


def parse_csv(text: str) -> list[ClassSpec]:
    """Classes from CSV text (UTF-8, a BOM from spreadsheet programs tolerated)."""
    reader = csv.DictReader(io.StringIO(text.removeprefix("\ufeff")))
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = sorted(REQUIRED - set(header))
    if missing:
        raise InvalidInput(
            f"row 0 (header), column {missing[0]}: missing; "
            f"required columns: {', '.join(sorted(REQUIRED))}",
            field=missing[0],
            row=0,
        )
    reader.fieldnames = header
    specs = []
    for row, record in enumerate(reader, start=1):
        if None in record:
            raise _fail(row, "(extra)", "more fields than header columns")
        if not any((v or "").strip() for v in record.values()):
            continue  # blank line
        specs.append(spec_from_mapping(record, row))
    check_consistency(specs)
    return specs


def parse_yaml(text: str) -> list[ClassSpec]:
    """Classes from YAML: ``{format: cityops-catalog/1, classes: [...]}`` or a bare list."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InvalidInput(f"not valid YAML: {exc}", field="file") from None
    items = doc.get("classes") if isinstance(doc, dict) else doc
    if not isinstance(items, list):
        raise InvalidInput("YAML must hold a list under 'classes'", field="classes")
    specs = []
    for row, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            raise _fail(row, "(row)", "each class must be a mapping of column: value")
        specs.append(spec_from_mapping(item, row))
    check_consistency(specs)
    return specs


def parse_file(path: Path) -> list[ClassSpec]:
    """Classes from a ``.csv``, ``.yaml`` or ``.yml`` file."""
    fmt = format_of(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InvalidInput(f"{path.name} is not UTF-8 text", field="file") from None
    return parse_csv(text) if fmt == "csv" else parse_yaml(text)


def format_of(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".yaml", ".yml"):
        return "yaml"
    raise InvalidInput(f"unknown file type {suffix!r}: use .csv, .yaml or .yml", field="file")


def _hours_text(hours: float) -> str:
    return str(int(hours)) if float(hours).is_integer() else repr(hours)


def _record(spec: ClassSpec) -> dict[str, Any]:
    return asdict(spec)


def dump_csv(specs: Iterable[ClassSpec]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for spec in specs:
        record = _record(spec)
        record["normal_deadline_hours"] = _hours_text(spec.normal_deadline_hours)
        record["urgent_deadline_hours"] = _hours_text(spec.urgent_deadline_hours)
        record["active"] = "true" if spec.active else "false"
        writer.writerow(["" if record[c] is None else record[c] for c in COLUMNS])
    return out.getvalue()


def dump_yaml(specs: Iterable[ClassSpec], *, label: str | None = None) -> str:
    doc: dict[str, Any] = {"format": YAML_FORMAT}
    if label is not None:
        doc["label"] = label
    doc["classes"] = [_record(spec) for spec in specs]
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, width=1000)
