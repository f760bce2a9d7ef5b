"""Bulk mode: the rules of ``cases.service`` run on in-memory case state, written in batches.

``service.act`` costs 10–30 ms per action (ORM flushes, one audit entry each, the audit chain
head lock). Simulations and migrations need millions of actions, so a ``Batch`` runs the very
same checks — ``lifecycle.apply`` for the transition and roles, the data scope (``can_see``),
the department and assignee checks, the version check — and ``clock.apply_clock`` for every
deadline, on ``CaseState`` objects in memory. ``flush`` then writes cases, events and
reporters in the caller's transaction — ``COPY`` on PostgreSQL (open cases through a temporary
table and one guarded ``UPDATE … FROM``), SQLAlchemy Core ``insert``/``update`` executemany
elsewhere — advancing versions exactly as ``act`` would (one per accepted action, events
``seq`` = version).

What differs from the per-action path, on purpose:
  * one audit entry per flush (action ``case.bulk``) instead of one per action; its detail
    holds the counts and a SHA-256 over the batch's event rows (``events_sha256``), so the
    chain still vouches for every event written (recompute it with ``event_digest``);
  * case ids are reserved in blocks (a sequence block on PostgreSQL, ``max(id)+1`` under
    SQLite's single writer) and human numbers in blocks from the same ``case_counters`` row;
  * ``client_request_id`` is deduplicated within the batch; one already in the database makes
    the flush fail on the unique constraint (the bulk API is for fresh volume);
  * on PostgreSQL an event's payload is stored as compact, key-sorted UTF-8 JSON text (the
    same value as the per-action path's, spelled without spaces or ``\\u`` escapes);
  * merges (which move reporters between stored rows) and attachments are not supported;
  * a concurrent writer that changed a stored case makes ``flush`` raise ``Conflict`` (the
    UPDATE is guarded by the version the batch read), exactly one of the two wins.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from operator import attrgetter
from typing import Any, cast

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cityops import pgcopy
from cityops.analytics import cohorts, rollup
from cityops.auth import audit
from cityops.auth.actor import Actor
from cityops.auth.models import OrgUnit, User
from cityops.auth.roles import Role
from cityops.cases import effects, lifecycle
from cityops.cases.clock import apply_clock
from cityops.cases.lifecycle import Action, Status
from cityops.cases.models import Case, CaseCounter, CaseEvent, CaseReporter
from cityops.cases.schemas import ActionBase, CaseReport
from cityops.cases.scope import can_see
from cityops.cases.service import DEPARTMENT_ACTIONS, DISPATCHABLE_KINDS, calendar_for
from cityops.catalog.models import CatalogVersion
from cityops.catalog.service import ClassRule, active_version, resolve_class
from cityops.db import Base, settings_of
from cityops.errors import CityopsError, Conflict, Forbidden, InvalidInput
from cityops.geo.index import RegionCodes, RegionIndex
from cityops.geo.service import OutsideJurisdiction, district_index
from cityops.pgcopy import copy_into
from cityops.timeutil import to_local, utcnow

__all__ = [
    "Batch", "BatchItem", "BulkStats", "CaseState", "copy_rows", "event_digest", "load_states",
    "report_many", "reserve_ids",
]  # fmt: skip

_CASES = cast(Any, Case.__table__)
_EVENTS = cast(Any, CaseEvent.__table__)
_REPORTERS = cast(Any, CaseReporter.__table__)


def reserve_ids(session: Session, table: Any, count: int) -> list[int]:
    """``count`` fresh ids of ``table``: a sequence block (PostgreSQL) or past max(id) (SQLite)."""
    if count == 0:
        return []
    if session.get_bind().dialect.name == "postgresql":
        sequence = func.pg_get_serial_sequence(table.name, "id")
        rows = session.execute(
            select(func.nextval(sequence)).select_from(func.generate_series(1, count))
        ).scalars()
        return sorted(int(r) for r in rows)
    # SQLite writers hold the database lock from BEGIN IMMEDIATE: max(id) cannot move.
    top = int(session.scalar(select(func.coalesce(func.max(table.c.id), 0))) or 0)
    return list(range(top + 1, top + 1 + count))


@dataclass(eq=False)
class CaseState:
    """A case held in memory: the same fields as a ``Case`` row (``id`` set once written)."""

    district_code: str
    source: str
    kind: str
    major_code: str
    minor_code: str
    class_name: str
    catalog_version: str
    urgency: str
    description: str
    lon: float
    lat: float
    status: str
    reported_at: datetime
    updated_at: datetime
    id: int | None = None
    number: str | None = None
    client_request_id: str | None = None
    address: str | None = None
    street_code: str | None = None
    community_code: str | None = None
    grid_code: str | None = None
    reported_by_id: int | None = None
    department_id: int | None = None
    assignee_id: int | None = None
    verify_result: str | None = None
    deadline_kind: str | None = None
    deadline_hours: float | None = None
    due_at: datetime | None = None
    paused_remaining_s: float | None = None
    pending_extension_hours: float | None = None
    handled_on_time: bool | None = None
    registered_at: datetime | None = None
    dispatched_at: datetime | None = None
    handled_at: datetime | None = None
    closed_at: datetime | None = None
    rework_count: int = 0
    return_count: int = 0
    urge_count: int = 0
    extension_count: int = 0
    merged_into_id: int | None = None
    version: int = 1
    #: The version stored in the database (None: not written yet); guards the UPDATE.
    stored_version: int | None = field(default=None, repr=False)

    def row(self) -> dict[str, Any]:
        """The values of the ``cases`` row."""
        return {name: getattr(self, name) for name in _COLUMNS}


_NOT_PAYLOAD = frozenset({"expected_version", "attachment_ids"})
_COLUMNS = tuple(f.name for f in fields(CaseState) if f.name != "stored_version")
_MUTABLE = tuple(
    c for c in _COLUMNS if c not in {"id", "district_code", "number", "client_request_id"}
)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


#: The one encoder of the digest lines (building an encoder per row costs more than encoding).
_DIGEST_ENCODER = json.JSONEncoder(
    ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str
)
#: The columns of ``case_events`` a batch writes, in the order of its event tuples.
_EVENT_COLUMNS = (
    "district_code", "seq", "action", "from_status", "to_status", "actor_id", "actor_role",
    "payload", "at", "due_at",
)  # fmt: skip
_PAYLOAD = _EVENT_COLUMNS.index("payload")
_REPORTER_COLUMNS = (
    "district_code", "source", "user_id", "name", "phone", "reported_at", "original_case_id",
)  # fmt: skip


def _digest_line(number: str, row: Sequence[Any]) -> bytes:
    """One line of ``event_digest`` from an event tuple (``_EVENT_COLUMNS`` order)."""
    _district, seq, action, from_status, to_status, actor_id, actor_role, payload, at, due = row
    return _DIGEST_ENCODER.encode(
        [number, seq, action, from_status, to_status, actor_id, actor_role, payload,
         _iso(at), _iso(due)]
    ).encode()  # fmt: skip


#: Payloads as stored and hashed: compact, sorted keys, UTF-8 (no ``default``: a value JSON
#: cannot carry fails as it would through the JSON column).
_PAYLOAD_ENCODER = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"))
_quote = cast(Any, json.encoder).encode_basestring  # what ensure_ascii=False uses for str


def _q(value: str | None) -> str:
    return "null" if value is None else cast(str, _quote(value))


def _fast_digest_line(number: str, row: Sequence[Any], payload_text: str) -> str:
    """``_digest_line`` built from parts with the payload already encoded (same bytes)."""
    _district, seq, action, from_status, to_status, actor_id, actor_role, _p, at, due = row
    return (
        f"[{_quote(number)},{seq:d},{_quote(action)},{_q(from_status)},{_quote(to_status)},"
        f"{'null' if actor_id is None else f'{actor_id:d}'},{_q(actor_role)},{payload_text},"
        f"{_q(_iso(at))},{_q(_iso(due))}]\n"
    )


def event_digest(rows: Iterable[Mapping[str, Any]], numbers: Mapping[int, str]) -> str:
    """SHA-256 over event rows as written (case number, seq, action, …) in order."""
    digest = hashlib.sha256()
    for row in rows:
        digest.update(
            _digest_line(numbers[row["case_id"]], tuple(row[name] for name in _EVENT_COLUMNS))
        )
        digest.update(b"\n")
    return digest.hexdigest()


@dataclass
class BulkStats:
    cases_inserted: int = 0
    cases_updated: int = 0
    events: int = 0
    reporters: int = 0


@dataclass
class _Pending:
    case: CaseState
    #: The ``case_reporters`` values in ``_REPORTER_COLUMNS`` order (``case_id`` comes at flush).
    row: tuple[Any, ...]


class Batch:
    """Checks actions like ``service.report_case`` / ``service.act`` and writes them in bulk.

    One ``Batch`` per session; call ``flush`` as often as wanted (each flush is one audit
    entry), and commit the session yourself. ``audit_actor`` is who the audit entry names.
    ``flush`` is ``prepare`` then ``write``: a caller may write the prepared rows on another
    session while the batch goes on (the simulator does); after a failed write, roll back and
    drop the batch.
    """

    def __init__(self, session: Session, *, district_code: str, audit_actor: Actor) -> None:
        self.session = session
        self.district_code = district_code
        self.audit_actor = audit_actor
        settings = settings_of(session)
        self.cal = calendar_for(session)
        self.pause_on_extension_request: bool = settings.pause_during_extension_request
        self._rules: dict[tuple[str, str, str], ClassRule] = {}
        #: The active catalogue version, read at the first class lookup (one per batch).
        self._catalog: CatalogVersion | None = None
        self._geocoder: RegionIndex | None = None
        self._index_read = False
        self._units: dict[int, OrgUnit | None] = {}
        self._users: dict[int, User | None] = {}
        self._new: list[CaseState] = []
        self._touched: dict[int, CaseState] = {}
        self._events: list[tuple[CaseState, tuple[Any, ...]]] = []
        self._reporters: list[_Pending] = []
        self._requests: dict[tuple[int, str], CaseState] = {}
        self._tally = rollup.Tally()
        self._cohorts = cohorts.CohortTally()
        #: What each stored case touched in this batch contributed to the cohort roll-ups
        #: before its first action here (``prepare`` moves it to what it contributes then).
        self._before: dict[int, list[cohorts.Cell]] = {}
        self.totals = BulkStats()

    # --- lookups (cached for the batch's life; departments and users change rarely) -------

    def _rule(self, kind: str, minor_code: str, urgency: str) -> ClassRule:
        key = (kind, minor_code, urgency)
        rule = self._rules.get(key)
        if rule is None:
            if self._catalog is None:
                self._catalog = active_version(self.session, district_code=self.district_code)
            rule = resolve_class(
                self.session,
                district_code=self.district_code,
                kind=kind,
                minor_code=minor_code,
                urgency=urgency,
                version=self._catalog,
            )
            self._rules[key] = rule
        return rule

    def _unit(self, unit_id: int) -> OrgUnit | None:
        if unit_id not in self._units:
            self._units[unit_id] = self.session.get(OrgUnit, unit_id)
        return self._units[unit_id]

    def _user(self, user_id: int) -> User | None:
        if user_id not in self._users:
            self._users[user_id] = self.session.get(User, user_id)
        return self._users[user_id]

    def _check_department(self, district_code: str, department_id: int) -> OrgUnit:
        unit = self._unit(department_id)
        if unit is None or unit.district_code != district_code:
            raise InvalidInput(f"no department with id {department_id}", field="department_id")
        if unit.kind not in DISPATCHABLE_KINDS or not unit.active:
            raise InvalidInput(
                f"{unit.name} ({unit.kind}) cannot receive cases", field="department_id"
            )
        return unit

    def _check_inspector(self, district_code: str, user_id: int) -> User:
        user = self._user(user_id)
        if user is None or user.district_code != district_code or not user.active:
            raise InvalidInput(f"no active user with id {user_id}", field="assignee_id")
        if Role.INSPECTOR.value not in user.roles:
            raise InvalidInput(f"{user.display_name} is not an inspector", field="assignee_id")
        return user

    def _index(self) -> RegionIndex | None:
        """The district's geocoder, read once per batch (reading it checks the geography's
        version in the database)."""
        if not self._index_read:
            self._geocoder = district_index(self.session, district_code=self.district_code)
            self._index_read = True
        return self._geocoder

    def locate_each(self, points: Sequence[tuple[float, float]]) -> list[RegionCodes | None]:
        """Codes of many points in one call of the geocoder; None where a point is outside the
        district or no geography is loaded (``report`` then locates it and says so)."""
        index = self._index()
        if index is None or not points:
            return [None] * len(points)
        return index.locate_each([p[0] for p in points], [p[1] for p in points])

    def _locate(self, lon: float, lat: float) -> RegionCodes | None:
        index = self._index()
        if index is None:
            return None
        codes = index.locate(float(lon), float(lat))
        if codes is None:
            raise OutsideJurisdiction(
                f"the point ({lon:.6f}, {lat:.6f}) is outside district {self.district_code}",
                field="lon",
                district_code=self.district_code,
            )
        return codes

    # --- the two use cases ----------------------------------------------------------------

    def report(
        self,
        *,
        actor: Actor,
        data: CaseReport,
        now: datetime,
        codes: RegionCodes | None = None,
    ) -> CaseState:
        """``service.report_case`` in memory; ``codes`` may carry the geocoder's answer
        already computed (``geo.service.locate_many``), else the point is located here."""
        if actor.district_code != self.district_code:
            raise Forbidden("the batch serves another district", field="district_code")
        if data.attachment_ids:
            raise InvalidInput("bulk reports carry no attachments", field="attachment_ids")
        if data.client_request_id:
            earlier = self._requests.get((actor.id, data.client_request_id))
            if earlier is not None:
                return earlier
        transition = lifecycle.apply(None, Action.REPORT, actor.roles, data.model_dump())
        rule = self._rule(data.kind.value, data.minor_code, data.urgency.value)
        if codes is None:
            codes = self._locate(data.lon, data.lat)
        case = CaseState(
            district_code=actor.district_code,
            client_request_id=data.client_request_id,
            source=data.source.value,
            kind=rule.kind,
            major_code=rule.major_code,
            minor_code=rule.minor_code,
            class_name=rule.minor_name,
            catalog_version=rule.catalog_version,
            urgency=data.urgency.value,
            description=data.description,
            address=data.address,
            lon=data.lon,
            lat=data.lat,
            street_code=codes.street_code if codes else None,
            community_code=codes.community_code if codes else None,
            grid_code=codes.grid_code if codes else None,
            status=transition.target.value,
            reported_by_id=actor.id or None,
            reported_at=now,
            updated_at=now,
        )
        effects.snapshot_class(case, rule)
        self._new.append(case)
        if data.client_request_id:
            self._requests[(actor.id, data.client_request_id)] = case
        self._reporters.append(
            _Pending(
                case,
                (
                    case.district_code,
                    case.source,
                    actor.id or None,
                    data.reporter_name,
                    data.reporter_phone,
                    now,
                    None,
                ),
            )
        )
        payload: dict[str, Any] = {
            "source": case.source,
            "kind": case.kind,
            "minor_code": case.minor_code,
        }
        if data.client_request_id:
            payload["client_request_id"] = data.client_request_id
        self._event(case, Action.REPORT, None, actor, transition.role, payload, now)
        return case

    def act(
        self,
        *,
        actor: Actor,
        case: CaseState,
        action: Action,
        body: ActionBase,
        now: datetime,
    ) -> CaseState:
        """``service.act`` in memory: the same checks in the same order, or nothing changes."""
        if action is Action.REPORT:
            raise InvalidInput("use report to report", field="action")
        if action is Action.MERGE:
            raise InvalidInput("merge cases through cases.service.act", field="action")
        if body.attachment_ids:
            raise InvalidInput("bulk actions carry no attachments", field="attachment_ids")
        # can_see and apply_clock read only the attributes a CaseState shares with Case.
        as_case = cast(Case, case)
        if not can_see(as_case, actor):
            raise Forbidden("this case is outside your data scope", field="case_id")
        if case.version != body.expected_version:
            raise Conflict(
                f"case {case.number or '(new)'} changed since you loaded it (now version "
                f"{case.version}, {case.status}); reload and try again",
                field="expected_version",
                current_status=case.status,
                current_version=case.version,
            )
        # One dump serves both: the event payload is the body without these two keys.
        values = body.model_dump(exclude_none=True)
        payload = {k: v for k, v in values.items() if k not in _NOT_PAYLOAD}
        source = Status(case.status)
        transition = lifecycle.apply(source, action, actor.roles, payload)
        if action in DEPARTMENT_ACTIONS and case.department_id != actor.scope_department_id:
            raise Forbidden(
                "only the department the case was dispatched to may do this", field="case_id"
            )
        if (
            action in (Action.VERIFY, Action.CHECK)
            and case.assignee_id is not None
            and case.assignee_id != actor.id
        ):
            raise Forbidden("this task is assigned to another inspector", field="case_id")
        # Validate before changing anything, so a refusal leaves the state untouched.
        rule = unit = None
        if action in (Action.ASSIGN_VERIFY, Action.ASSIGN_CHECK):
            self._check_inspector(case.district_code, values["assignee_id"])
        elif action is Action.DISPATCH:
            unit = self._check_department(case.district_code, values["department_id"])
        elif action is Action.REGISTER:
            rule = self._rule(
                values.get("kind", case.kind),
                values.get("minor_code", case.minor_code),
                values.get("urgency", case.urgency),
            )
        if case.stored_version is not None and case.id not in self._before:
            self._before[cast(int, case.id)] = cohorts.contributions(case)
        extra, extension_hours = effects.apply(case, action, values, now, rule=rule, unit=unit)
        apply_clock(
            as_case,
            transition.clock,
            cal=self.cal,
            now=now,
            pause_on_extension_request=self.pause_on_extension_request,
            extension_hours=extension_hours,
        )
        case.status = transition.target.value
        case.updated_at = now
        case.version += 1
        effects.after_clock(case, action, extra)
        if case.stored_version is not None and case.id is not None:
            self._touched[case.id] = case
        self._event(case, action, source, actor, transition.role, payload | extra, now)
        return case

    def _event(
        self,
        case: CaseState,
        action: Action,
        source: Status | None,
        actor: Actor,
        role: Role | None,
        payload: dict[str, Any],
        now: datetime,
    ) -> None:
        row = (
            case.district_code, case.version, action.value, source.value if source else None,
            case.status, actor.id or None, role.value if role else None, payload, now,
            case.due_at,
        )  # fmt: skip
        self._events.append((case, row))
        self._tally.add_case(case, action.value, now, payload)
        self._cohorts.add_event(case.district_code, now, action.value, actor.id)

    # --- writing ---------------------------------------------------------------------------

    @property
    def pending_events(self) -> int:
        return len(self._events)

    def _reserve_serials(self, db: Session, day: date, count: int) -> int:
        """Take ``count`` serials of ``day`` from ``case_counters``; return the first."""
        dialect = db.get_bind().dialect.name
        ins = postgresql.insert if dialect == "postgresql" else sqlite.insert
        stmt = (
            ins(CaseCounter)
            .values(district_code=self.district_code, day=day, last=count)
            .on_conflict_do_update(
                index_elements=["district_code", "day"], set_={"last": CaseCounter.last + count}
            )
            .returning(CaseCounter.last)
        )
        last = int(db.execute(stmt).scalar_one())
        return last - count + 1

    def _number_new(self, db: Session) -> None:
        by_day: dict[date, list[CaseState]] = {}
        for case in self._new:
            by_day.setdefault(to_local(case.reported_at).date(), []).append(case)
        for day, cases in sorted(by_day.items()):
            first = self._reserve_serials(db, day, len(cases))
            for offset, case in enumerate(cases):
                case.number = f"{self.district_code}{day:%Y%m%d}{first + offset:06d}"
        for case, case_id in zip(self._new, reserve_ids(db, _CASES, len(self._new)), strict=True):
            case.id = case_id

    def flush(self) -> BulkStats:
        """Write what the batch holds (cases, events, reporters, one audit entry)."""
        writes = self.prepare()
        return self.write(writes) if writes is not None else BulkStats()

    def prepare(self, db: Session | None = None) -> Writes | None:
        """Number the new cases (on ``db``, the session that will write them) and take
        every row out of the batch; None when there is nothing to write. The batch's cases
        may change again at once: ``write`` needs only what this returns."""
        if not self._events and not self._new:
            return None
        self._number_new(db or self.session)
        touched = [c for c in self._touched.values() if c.stored_version is not None]
        row_of = attrgetter(*_COLUMNS)
        encode = _PAYLOAD_ENCODER.encode
        payload_texts = [encode(row[_PAYLOAD]) for _case, row in self._events]
        digest = hashlib.sha256()
        for (case, row), text in zip(self._events, payload_texts, strict=True):
            digest.update(_fast_digest_line(case.number or "", row, text).encode())
        for case in self._new:
            self._cohorts.add(cohorts.contributions(case))
        for case in touched:
            self._cohorts.change(self._before[cast(int, case.id)], cohorts.contributions(case))
        writes = Writes(
            new=[row_of(c) for c in self._new],
            touched=[(*row_of(c), c.stored_version) for c in touched],
            events=[(case.id, *row) for case, row in self._events],
            payload_texts=payload_texts,
            reporters=[(p.case.id, *p.row) for p in self._reporters],
            cells=self._tally.cells(),
            cohort_cells=self._cohorts.cells(),
            stats=BulkStats(
                cases_inserted=len(self._new),
                cases_updated=len(touched),
                events=len(self._events),
                reporters=len(self._reporters),
            ),
            events_sha256=digest.hexdigest(),
        )
        for case in self._new:
            case.stored_version = case.version
        for case in touched:
            case.stored_version = case.version
        for name in ("cases_inserted", "cases_updated", "events", "reporters"):
            setattr(self.totals, name, getattr(self.totals, name) + getattr(writes.stats, name))
        self._reset()
        return writes

    def write(self, writes: Writes, db: Session | None = None) -> BulkStats:
        """Write prepared rows, their roll-ups and one audit entry in ``db``'s transaction
        (the batch's session by default); ``Conflict`` if another writer changed a case."""
        db = db or self.session
        if db.get_bind().dialect.name == "postgresql":
            _write_copy(db, writes)
        else:
            _write_executemany(db, writes)
        rollup.write_cells(db, writes.cells)
        cohorts.write_cells(db, writes.cohort_cells)
        stats = writes.stats
        audit.record(
            db,
            actor=self.audit_actor,
            action="case.bulk",
            object_type="case",
            object_id=None,
            detail={
                "cases_inserted": stats.cases_inserted,
                "cases_updated": stats.cases_updated,
                "events": stats.events,
                "reporters": stats.reporters,
                "events_sha256": writes.events_sha256,
            },
        )
        return stats

    def discard(self) -> None:
        """Forget what was not flushed (the caller rolls its transaction back)."""
        self._reset()

    def _reset(self) -> None:
        self._new, self._touched, self._events, self._reporters = [], {}, [], []
        self._tally.clear()
        self._cohorts.clear()
        self._before = {}
        self._requests = {}


@dataclass
class Writes:
    """The rows one flush writes, built when it was prepared."""

    new: list[tuple[Any, ...]]  # ``_COLUMNS``
    touched: list[tuple[Any, ...]]  # ``_COLUMNS`` + the stored version the update is guarded by
    events: list[tuple[Any, ...]]  # case_id + ``_EVENT_COLUMNS`` (payload as a dict)
    payload_texts: list[str]  # each event's payload as JSON, as stored and hashed
    reporters: list[tuple[Any, ...]]  # case_id + ``_REPORTER_COLUMNS``
    cells: list[tuple[Any, ...]]  # roll-up cells (``rollup.ROW_NAMES``)
    cohort_cells: list[tuple[Any, ...]]  # changes to ``case_cohorts`` (``cohorts.CohortTally``)
    stats: BulkStats
    events_sha256: str


def _write_executemany(db: Session, writes: Writes) -> None:
    """Core ``insert``/``update`` executemany (SQLite; any dialect)."""
    if writes.new:
        db.execute(insert(_CASES), [dict(zip(_COLUMNS, r, strict=True)) for r in writes.new])
    if writes.touched:
        stmt = (
            update(_CASES)
            .where(_CASES.c.id == bindparam("b_id"))
            .where(_CASES.c.version == bindparam("b_stored"))
            .values({name: bindparam(f"b_{name}") for name in _MUTABLE})
        )
        names = (*(f"b_{name}" for name in _COLUMNS), "b_stored")
        result = cast(
            Any, db.execute(stmt, [dict(zip(names, r, strict=True)) for r in writes.touched])
        )
        if db.get_bind().dialect.supports_sane_multi_rowcount and result.rowcount != len(
            writes.touched
        ):
            raise _conflict()
    if writes.events:
        names = ("case_id", *_EVENT_COLUMNS)
        db.execute(insert(_EVENTS), [dict(zip(names, r, strict=True)) for r in writes.events])
    if writes.reporters:
        names = ("case_id", *_REPORTER_COLUMNS)
        db.execute(insert(_REPORTERS), [dict(zip(names, r, strict=True)) for r in writes.reporters])


def _write_copy(db: Session, writes: Writes) -> None:
    """PostgreSQL: ``COPY`` into the tables, and open cases through a temporary table
    joined in one guarded ``UPDATE`` (the same values executemany would write)."""
    with pgcopy.cursor(db) as cursor:
        if writes.new:
            copy_into(cursor, "cases", _COLUMNS, writes.new)
        if writes.touched:
            pgcopy.stage(
                cursor, "cityops_bulk_cases",
                "(LIKE cases, stored_version integer) ON COMMIT DELETE ROWS",
                (*_COLUMNS, "stored_version"), writes.touched,
            )  # fmt: skip
            assignments = ", ".join(f'"{n}" = t."{n}"' for n in _MUTABLE)
            cursor.execute(
                f"UPDATE cases SET {assignments} FROM cityops_bulk_cases t "
                "WHERE cases.id = t.id AND cases.version = t.stored_version"
            )
            if cursor.rowcount != len(writes.touched):
                raise _conflict()
        if writes.events:
            payload = _EVENT_COLUMNS.index("payload") + 1
            copy_into(
                cursor, "case_events", ("case_id", *_EVENT_COLUMNS),
                [(*r[:payload], text, *r[payload + 1 :])
                 for r, text in zip(writes.events, writes.payload_texts, strict=True)],
            )  # fmt: skip
        if writes.reporters:
            copy_into(cursor, "case_reporters", ("case_id", *_REPORTER_COLUMNS), writes.reporters)


def _conflict() -> Conflict:
    return Conflict(
        "cases changed by another writer while the batch held them; the batch was not written",
        field="expected_version",
    )


def copy_rows(session: Session, table: str, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert ``rows`` (dicts with the same keys) into ``table``: ``COPY`` on PostgreSQL,
    Core executemany elsewhere; in the session's transaction."""
    if not rows:
        return
    if session.get_bind().dialect.name != "postgresql":
        session.execute(insert(Base.metadata.tables[table]), list(rows))
        return
    columns = tuple(rows[0])
    with pgcopy.cursor(session) as cursor:
        copy_into(cursor, table, columns, [tuple(r[c] for c in columns) for r in rows])


def load_states(session: Session, case_ids: Sequence[int]) -> dict[int, CaseState]:
    """Stored cases as ``CaseState`` objects a ``Batch`` can act on (by id)."""
    found: dict[int, CaseState] = {}
    columns = [_CASES.c[name] for name in _COLUMNS]
    for start in range(0, len(case_ids), 5000):
        chunk = list(case_ids[start : start + 5000])
        for row in session.execute(select(*columns).where(_CASES.c.id.in_(chunk))).mappings():
            state = CaseState(**dict(row))
            state.stored_version = state.version
            found[state.id or 0] = state
    return found


@dataclass(frozen=True)
class BatchItem:
    """The case one item of a batch report became (or already was)."""

    index: int
    id: int
    number: str
    status: str
    created: bool


def report_many(
    session: Session, *, actor: Actor, items: Sequence[CaseReport], now: datetime | None = None
) -> list[BatchItem]:
    """Take in many reports in the caller's transaction: all are accepted or none is, and an
    error names the item (``items[3].lon``). Every item needs a ``client_request_id``; items
    already taken in (a resent batch) come back as they are, so retrying is always safe.

    Machine clients (sensor gateways, the city's 12345 platform, imports) send their reports
    this way: one transaction, one audit entry and a few statements for the whole batch instead
    of a dozen per case.
    """
    keys: dict[str, int] = {}
    for index, item in enumerate(items):
        key = item.client_request_id
        if key is None:
            raise InvalidInput(
                "every item of a batch needs a client_request_id (so a resent batch is safe)",
                field=f"items[{index}].client_request_id",
            )
        if key in keys:
            raise InvalidInput(
                f"client_request_id repeats item {keys[key]}",
                field=f"items[{index}].client_request_id",
            )
        keys[key] = index
    reporter = actor.id or None
    earlier = {
        row.client_request_id: row
        for row in session.execute(
            select(Case.client_request_id, Case.id, Case.number, Case.status).where(
                Case.reported_by_id == reporter, Case.client_request_id.in_(list(keys))
            )
        )
    }
    now = now or utcnow()
    batch = Batch(session, district_code=actor.district_code, audit_actor=actor)
    made: list[tuple[int, CaseState]] = []
    located = batch.locate_each([(item.lon, item.lat) for item in items])
    for index, item in enumerate(items):
        if item.client_request_id in earlier:
            continue
        try:
            state = batch.report(actor=actor, data=item, now=now, codes=located[index])
            made.append((index, state))
        except CityopsError as exc:
            exc.field = f"items[{index}].{exc.field}" if exc.field else f"items[{index}]"
            raise
    try:
        batch.flush()
    except Exception as exc:
        # A concurrent copy of this batch won the race (on PostgreSQL the COPY's driver error
        # carries the unique violation's SQLSTATE); the client resends and gets those cases.
        orig = getattr(exc, "orig", exc)
        if isinstance(exc, IntegrityError) or getattr(orig, "sqlstate", None) == "23505":
            raise Conflict(
                "a report of this batch was taken in meanwhile; send the batch again",
                field="items",
            ) from exc
        raise
    found = [
        BatchItem(keys[key], row.id, row.number, row.status, created=False)
        for key, row in earlier.items()
    ]
    found += [
        BatchItem(index, cast(int, state.id), cast(str, state.number), state.status, True)
        for index, state in made
    ]
    return sorted(found, key=lambda item: item.index)
