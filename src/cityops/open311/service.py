"""Open311 use cases: api keys, the service list from the catalogue, submitting and reading.

Service codes are the catalogue's classes: ``C`` + minor code for components (部件), ``E`` +
minor code for events (事件), because minor codes are unique only within a kind. A service
request id is the case number. Public reads cover only requests that came in through Open311
and never carry reporters' names, phones, e-mails or device ids.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, BinaryIO

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.auth import audit
from cityops.auth import service as auth_service
from cityops.auth.actor import Actor
from cityops.auth.models import District, OrgUnit, User
from cityops.auth.roles import Role
from cityops.cases.attachments import store_attachment
from cityops.cases.enums import Kind, Source
from cityops.cases.lifecycle import TERMINAL, Status
from cityops.cases.models import Case
from cityops.cases.schemas import CaseReport
from cityops.cases.service import report_case
from cityops.catalog.models import CatalogClass
from cityops.catalog.service import active_version, list_classes
from cityops.errors import Forbidden, InvalidInput, NotFound
from cityops.geo.service import search_regions
from cityops.open311.models import Open311ApiKey, Open311Submission
from cityops.timeutil import LOCAL_TZ, utcnow

KEY_PREFIX = "o311_"
#: The spec: a plain GET requests returns at most 90 days and at most 1,000 requests.
MAX_WINDOW = timedelta(days=90)
MAX_RESULTS = 1000
MAX_IDS = 200
_CODE = re.compile(r"^([CE])(\d{4})$")
_KIND_LETTER = {"component": "C", "event": "E"}
_LETTER_KIND = {v: k for k, v in _KIND_LETTER.items()}

#: What a citizen is told about each state (bilingual, no staff names, no internal notes).
STATUS_NOTES: dict[str, str] = {
    Status.REPORTED: "已受理，待核实 (received, awaiting verification)",
    Status.VERIFYING: "核实中 (an inspector is verifying it on site)",
    Status.VERIFIED: "已核实，待立案 (verified, awaiting registration)",
    Status.REGISTERED: "已立案，待派遣 (registered, awaiting dispatch)",
    Status.DISPATCHED: "处置中 (being handled by the responsible agency)",
    Status.RETURNED: "重新派遣中 (being sent to the right agency)",
    Status.EXTENSION_REQUESTED: "处置中，申请延期 (being handled; more time requested)",
    Status.SUSPENDED: "暂缓办理 (on hold)",
    Status.HANDLED: "已处置，待核查 (handled, awaiting a check on site)",
    Status.CHECKING: "核查中 (being checked on site)",
    Status.CHECK_FAILED: "核查未通过，返工中 (check failed, being reworked)",
    Status.CHECKED: "核查通过，待结案 (checked, about to be closed)",
    Status.CLOSED: "已结案 (resolved and closed)",
    Status.REJECTED: "不予立案 (not accepted: outside the scope of city management)",
    Status.VOIDED: "已作废 (withdrawn)",
    Status.MERGED: "已并案 (merged into another request about the same problem)",
}

SERVICE_NOTICE = "公众上报经核实后立案 (public reports are verified on site before registration)"


@dataclass(frozen=True)
class Attribute:
    """One attribute of a service definition (the spec's ``attributes`` item)."""

    code: str
    datatype: str
    description: str
    required: bool = False
    order: int = 1
    datatype_description: str | None = None
    values: tuple[tuple[str, str], ...] = ()

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "variable": True,
            "code": self.code,
            "datatype": self.datatype,
            "required": self.required,
            "datatype_description": self.datatype_description,
            "order": self.order,
            "description": self.description,
        }
        if self.values:
            data["values"] = [{"key": k, "name": n} for k, n in self.values]
        return data


_HAZARD = Attribute(
    code="hazard",
    datatype="singlevaluelist",
    description="是否危及安全或阻碍通行 (Does it endanger people or block the way?)",
    order=1,
    values=(("yes", "是 (yes)"), ("no", "否 (no)")),
)
#: Attributes offered per kind; the catalogue has none of its own, so these are the same for
#: every class of a kind (a per-class table can replace this without changing the API).
ATTRIBUTES: dict[str, tuple[Attribute, ...]] = {
    "component": (
        _HAZARD,
        Attribute(
            code="asset_number",
            datatype="string",
            description="部件编号，如井盖上的编号 (number printed on the object, if visible)",
            order=2,
            datatype_description="up to 64 characters",
        ),
    ),
    "event": (_HAZARD,),
}


# --- api keys -------------------------------------------------------------------------------


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_api_key(
    session: Session, *, actor: Actor, district_code: str, name: str
) -> tuple[str, Open311ApiKey]:
    """A new key for a client app, with its own system user as the reporter; shown once."""
    name = name.strip()
    if not 1 <= len(name) <= 128:
        raise InvalidInput("name must be 1 to 128 characters", field="name")
    if session.get(District, district_code) is None:
        raise InvalidInput(f"unknown district {district_code}", field="district_code")
    key = KEY_PREFIX + secrets.token_urlsafe(24)
    user = auth_service.create_user(
        session,
        actor=actor,
        username=f"open311-{secrets.token_hex(6)}",
        # Nobody ever learns this password, and the account is disabled below: the system user
        # exists only to be the reporter of the app's cases.
        password=secrets.token_urlsafe(24) + "Aa1-",
        display_name=f"Open311: {name}"[:64],
        roles=[Role.OPERATOR.value],
        district_code=district_code,
    )
    user.active = False
    row = Open311ApiKey(
        district_code=district_code,
        name=name,
        key_hash=_digest(key),
        key_prefix=key[: len(KEY_PREFIX) + 6],
        user_id=user.id,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="open311.key_create",
        object_type="open311_api_key",
        object_id=row.id,
        detail={"name": name, "prefix": row.key_prefix, "user_id": user.id},
    )
    return key, row


def list_api_keys(session: Session, *, district_code: str) -> Sequence[Open311ApiKey]:
    return session.scalars(
        select(Open311ApiKey)
        .where(Open311ApiKey.district_code == district_code)
        .order_by(Open311ApiKey.id)
    ).all()


def revoke_api_key(session: Session, *, actor: Actor, key_id: int) -> Open311ApiKey:
    """Stop accepting the key at once; its requests stay readable."""
    row = session.get(Open311ApiKey, key_id)
    if row is None or row.district_code != actor.district_code:
        raise NotFound(f"no api key with id {key_id}", field="key_id")
    if row.active:
        row.active = False
        row.revoked_at = utcnow()
        session.flush()
        audit.record(
            session,
            actor=actor,
            action="open311.key_revoke",
            object_type="open311_api_key",
            object_id=row.id,
            detail={"prefix": row.key_prefix},
        )
    return row


def authenticate_key(session: Session, *, key: str | None) -> Open311ApiKey:
    """The active key row for ``key``, or Forbidden (the spec's 403 for a bad api_key)."""
    if not key:
        raise Forbidden("api_key is required to submit a request", field="api_key")
    row = session.scalar(select(Open311ApiKey).where(Open311ApiKey.key_hash == _digest(key)))
    if row is None or not row.active:
        raise Forbidden("api_key is invalid or revoked", field="api_key")
    return row


# --- services -------------------------------------------------------------------------------


def service_code_of(kind: str, minor_code: str) -> str:
    return f"{_KIND_LETTER[kind]}{minor_code}"


def parse_service_code(code: str) -> tuple[str, str]:
    """``(kind, minor_code)`` of a service code, or InvalidInput."""
    match = _CODE.match(code.strip())
    if match is None:
        raise InvalidInput(
            f"service_code {code!r} is not a code of this jurisdiction (e.g. E0102)",
            field="service_code",
        )
    return _LETTER_KIND[match.group(1)], match.group(2)


def jurisdiction(session: Session, *, requested: str | None, default: str) -> str:
    """The district code a request is about: ``jurisdiction_id`` when given, else the default."""
    if not requested:
        return default
    code = requested.strip()
    if not re.fullmatch(r"\d{6}", code) or session.get(District, code) is None:
        raise InvalidInput(f"unknown jurisdiction_id {requested!r}", field="jurisdiction_id")
    return code


def _active_classes(session: Session, district_code: str) -> Sequence[CatalogClass]:
    version = active_version(session, district_code=district_code)
    if version is None:
        return ()
    return [c for c in list_classes(session, version_id=version.id) if c.active]


def _service_of(row: CatalogClass) -> dict[str, Any]:
    keywords = [row.major_name, row.minor_name] + [n for n in (row.name_en,) if n]
    return {
        "service_code": service_code_of(row.kind, row.minor_code),
        "service_name": row.minor_name,
        "description": row.registration_criteria or row.name_en or row.minor_name,
        "metadata": bool(ATTRIBUTES[row.kind]),
        "type": "realtime",
        "keywords": ",".join(keywords),
        "group": row.major_name,
    }


def list_services(session: Session, *, district_code: str) -> list[dict[str, Any]]:
    """The active catalogue's classes as Open311 services, in catalogue order."""
    return [_service_of(row) for row in _active_classes(session, district_code)]


def _find_class(session: Session, district_code: str, code: str) -> CatalogClass:
    kind, minor = parse_service_code(code)
    for row in _active_classes(session, district_code):
        if row.kind == kind and row.minor_code == minor:
            return row
    raise NotFound(f"service_code {code!r} not found", field="service_code")


def service_definition(session: Session, *, district_code: str, code: str) -> dict[str, Any]:
    row = _find_class(session, district_code, code)
    return {
        "service_code": service_code_of(row.kind, row.minor_code),
        "attributes": [a.as_dict() for a in ATTRIBUTES[row.kind]],
    }


# --- submitting -----------------------------------------------------------------------------


@dataclass
class Submission:
    """The fields of a POST requests, as strings from the form (the spec's names)."""

    service_code: str
    lat: str | None = None
    long: str | None = None
    address_string: str | None = None
    address_id: str | None = None
    description: str | None = None
    media_url: str | None = None
    email: str | None = None
    device_id: str | None = None
    account_id: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None
    attributes: Mapping[str, list[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Media:
    stream: BinaryIO
    filename: str | None


def _float(value: str, name: str) -> float:
    try:
        number = float(value)
    except ValueError as exc:
        raise InvalidInput(f"{name} must be a number", field=name) from exc
    if number != number or number in (float("inf"), float("-inf")):
        raise InvalidInput(f"{name} must be a finite number", field=name)
    return number


def _position(session: Session, district_code: str, sub: Submission) -> tuple[float, float]:
    """(lon, lat) from lat/long, else the centroid of the region an address names."""
    if sub.lat or sub.long:
        if not (sub.lat and sub.long):
            raise InvalidInput("give both lat and long", field="lat" if not sub.lat else "long")
        return _float(sub.long, "long"), _float(sub.lat, "lat")
    query = (sub.address_id or sub.address_string or "").strip()
    if not query:
        raise InvalidInput(
            "a location is required: lat and long, address_string or address_id", field="lat"
        )
    # The gazetteer knows region names and codes, not house numbers: a match places the case
    # at the region's centroid and the inspector verifying it finds the exact spot.
    found = search_regions(session, district_code=district_code, q=query[:100], limit=1)
    if not found:
        raise InvalidInput(
            f"could not locate {query!r} in this jurisdiction; send lat and long",
            field="address_string",
        )
    return found[0].centroid_lon, found[0].centroid_lat


def _attribute_values(kind: str, given: Mapping[str, list[str]]) -> dict[str, Any]:
    known = {a.code: a for a in ATTRIBUTES[kind]}
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise InvalidInput(f"unknown attribute {unknown[0]!r}", field=f"attribute[{unknown[0]}]")
    values: dict[str, Any] = {}
    for attribute in known.values():
        raw = [v.strip() for v in given.get(attribute.code, []) if v.strip()]
        name = f"attribute[{attribute.code}]"
        if not raw:
            if attribute.required:
                raise InvalidInput(f"{name} is required", field=name)
            continue
        keys = {k for k, _ in attribute.values}
        if attribute.datatype == "multivaluelist":
            if any(v not in keys for v in raw):
                raise InvalidInput(f"{name} must be among {sorted(keys)}", field=name)
            values[attribute.code] = raw
            continue
        if len(raw) > 1:
            raise InvalidInput(f"{name} takes one value", field=name)
        value = raw[0]
        if attribute.datatype == "singlevaluelist" and value not in keys:
            raise InvalidInput(f"{name} must be one of {sorted(keys)}", field=name)
        if attribute.datatype == "number":
            _float(value, name)
        if len(value) > 64:
            raise InvalidInput(f"{name} is longer than 64 characters", field=name)
        values[attribute.code] = value
    return values


def _check_media_url(url: str | None) -> str | None:
    if not url:
        return None
    url = url.strip()
    if len(url) > 1024 or not re.match(r"^https?://[^\s]+$", url):
        raise InvalidInput("media_url must be an http(s) URL", field="media_url")
    return url


def _report_of(
    sub: Submission, row: CatalogClass, lon: float, lat: float, values: dict[str, Any]
) -> CaseReport:
    text = (sub.description or "").strip() or row.minor_name
    if values:
        # Attribute answers ride along in the description so staff see them on the case.
        text += "\n" + "; ".join(
            f"{k}: {', '.join(v) if isinstance(v, list) else v}" for k, v in values.items()
        )
    name = " ".join(p.strip() for p in (sub.last_name, sub.first_name) if p and p.strip())
    try:
        return CaseReport(
            source=Source.PUBLIC,
            kind=Kind(row.kind),
            minor_code=row.minor_code,
            description=text,
            address=(sub.address_string or "").strip()[:256] or None,
            lon=lon,
            lat=lat,
            reporter_name=name[:64] or None,
            reporter_phone=(sub.phone or "").strip() or None,
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = str(first["loc"][0]) if first["loc"] else "request"
        spec_name = {"lon": "long", "reporter_phone": "phone", "reporter_name": "first_name"}
        name_of = spec_name.get(loc, loc)
        raise InvalidInput(f"{name_of}: {first['msg']}", field=name_of) from exc


@dataclass(frozen=True)
class Submitted:
    submission: Open311Submission
    case: Case


def submit_request(
    session: Session,
    *,
    key: Open311ApiKey,
    sub: Submission,
    media: Media | None = None,
) -> Submitted:
    """File a citizen's request as a ``public`` case (it is verified like any public report)."""
    user = session.get(User, key.user_id)
    if user is None:
        raise Forbidden("api_key has no reporter account", field="api_key")
    actor = auth_service.actor_of(user)
    try:
        row = _find_class(session, key.district_code, sub.service_code)
    except NotFound as exc:
        # Not a missing resource but a bad field of the submission: the spec's 400.
        raise InvalidInput(exc.message, field="service_code") from exc
    values = _attribute_values(row.kind, sub.attributes)
    media_url = _check_media_url(sub.media_url)
    lon, lat = _position(session, key.district_code, sub)
    data = _report_of(sub, row, lon, lat, values)
    if media is not None:
        stored = store_attachment(
            session, actor=actor, stream=media.stream, filename=media.filename
        )
        data.attachment_ids = [stored.id]
    case = report_case(session, actor=actor, data=data).case
    submission = Open311Submission(
        district_code=key.district_code,
        token=secrets.token_urlsafe(24),
        api_key_id=key.id,
        case_id=case.id,
        service_code=service_code_of(row.kind, row.minor_code),
        attributes=values,
        media_url=media_url,
        email=(sub.email or "").strip()[:254] or None,
        device_id=(sub.device_id or "").strip()[:128] or None,
        account_id=(sub.account_id or "").strip()[:128] or None,
    )
    session.add(submission)
    session.flush()
    return Submitted(submission, case)


# --- reading --------------------------------------------------------------------------------

_PHONE = re.compile(r"(?<!\d)(1[3-9]\d)\d{4}(\d{4})(?!\d)")
_ID_NUMBER = re.compile(r"(?<![\dXx])\d{6}(?:19|20)\d{2}\d{7}[\dXx](?![\dXx])")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


def scrub(text: str | None) -> str | None:
    """Mask mobile numbers, ID card numbers and e-mail addresses a citizen typed in."""
    if not text:
        return text
    text = _ID_NUMBER.sub("******************", text)
    text = _PHONE.sub(r"\1****\2", text)
    return _EMAIL.sub("***@***", text)


def local_iso(value: datetime | None) -> str | None:
    """The spec's datetimes carry their zone: the jurisdiction's local time with its offset."""
    return value.astimezone(LOCAL_TZ).isoformat(timespec="seconds") if value else None


def _request_of(
    case: Case, sub: Open311Submission, departments: Mapping[int, str], merged: Mapping[int, str]
) -> dict[str, Any]:
    status = Status(case.status)
    notes = STATUS_NOTES[status]
    if status is Status.MERGED and case.merged_into_id is not None:
        notes += f": {merged.get(case.merged_into_id, '')}"
    is_open = status not in TERMINAL
    return {
        "service_request_id": case.number,
        "status": "open" if is_open else "closed",
        "status_notes": notes,
        "service_name": case.class_name,
        "service_code": sub.service_code,
        "description": scrub(case.description),
        "agency_responsible": departments.get(case.department_id or 0),
        "service_notice": SERVICE_NOTICE,
        "requested_datetime": local_iso(case.reported_at),
        "updated_datetime": local_iso(case.updated_at),
        "expected_datetime": local_iso(case.due_at) if is_open else None,
        "address": scrub(case.address),
        "address_id": case.grid_code,
        "zipcode": None,
        "lat": case.lat,
        "long": case.lon,
        "media_url": sub.media_url,
    }


def _render(
    session: Session, rows: Sequence[tuple[Case, Open311Submission]]
) -> list[dict[str, Any]]:
    dept_ids = {c.department_id for c, _ in rows if c.department_id}
    departments = (
        dict(
            session.execute(select(OrgUnit.id, OrgUnit.name).where(OrgUnit.id.in_(dept_ids))).all()
        )
        if dept_ids
        else {}
    )
    merged_ids = {c.merged_into_id for c, _ in rows if c.merged_into_id}
    merged = (
        dict(session.execute(select(Case.id, Case.number).where(Case.id.in_(merged_ids))).all())
        if merged_ids
        else {}
    )
    return [_request_of(case, sub, departments, merged) for case, sub in rows]


def _base(district_code: str) -> Any:
    return (
        select(Case, Open311Submission)
        .join(Open311Submission, Open311Submission.case_id == Case.id)
        .where(Case.district_code == district_code)
    )


def get_request(session: Session, *, district_code: str, request_id: str) -> dict[str, Any]:
    row = session.execute(_base(district_code).where(Case.number == request_id.strip())).first()
    if row is None:
        raise NotFound(f"service_request_id {request_id!r} not found", field="service_request_id")
    return _render(session, [(row[0], row[1])])[0]


def parse_datetime(value: str, name: str) -> datetime:
    """A W3C datetime; one without a zone is read as the jurisdiction's local time."""
    try:
        parsed = datetime.fromisoformat(value.strip().replace(" ", "+"))
    except ValueError as exc:
        raise InvalidInput(
            f"{name} must be a W3C datetime, e.g. 2026-01-01T00:00:00Z", field=name
        ) from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=LOCAL_TZ)


def _split(value: str | None) -> list[str]:
    return [p.strip() for p in (value or "").split(",") if p.strip()]


@dataclass(frozen=True)
class RequestQuery:
    """The spec's filters of GET requests, as given."""

    service_request_id: str | None = None
    service_code: str | None = None
    start_date: str | None = None
    end_date: str | None = None
    status: str | None = None


def find_requests(
    session: Session, *, district_code: str, query: RequestQuery, now: datetime | None = None
) -> list[dict[str, Any]]:
    """Requests by id list (which overrides every other filter) or by code, window and status."""
    stmt = _base(district_code)
    ids = _split(query.service_request_id)
    if ids:
        if len(ids) > MAX_IDS:
            raise InvalidInput(
                f"at most {MAX_IDS} service_request_id values", field="service_request_id"
            )
        stmt = stmt.where(Case.number.in_(ids))
    else:
        codes = _split(query.service_code)
        for code in codes:
            parse_service_code(code)
        if codes:
            stmt = stmt.where(Open311Submission.service_code.in_(codes))
        now = now or utcnow()
        start = parse_datetime(query.start_date, "start_date") if query.start_date else None
        end = parse_datetime(query.end_date, "end_date") if query.end_date else None
        if start is None and end is None:
            end, start = now, now - MAX_WINDOW
        elif start is None:
            assert end is not None
            start = end - MAX_WINDOW
        elif end is None:
            end = start + MAX_WINDOW
        if end < start:
            raise InvalidInput("end_date is before start_date", field="end_date")
        if end - start > MAX_WINDOW:
            raise InvalidInput("start_date to end_date may span at most 90 days", field="end_date")
        stmt = stmt.where(Case.reported_at >= start, Case.reported_at <= end)
        wanted = set(_split(query.status))
        if wanted - {"open", "closed"}:
            raise InvalidInput("status must be open, closed or both", field="status")
        terminal = [s.value for s in TERMINAL]
        if wanted == {"open"}:
            stmt = stmt.where(Case.status.not_in(terminal))
        elif wanted == {"closed"}:
            stmt = stmt.where(Case.status.in_(terminal))
    rows = session.execute(stmt.order_by(Case.id.desc()).limit(MAX_RESULTS)).all()
    return _render(session, [(r[0], r[1]) for r in rows])


def token_lookup(session: Session, *, district_code: str, token: str) -> dict[str, Any]:
    row = session.execute(
        select(Open311Submission, Case.number)
        .join(Case, Case.id == Open311Submission.case_id, isouter=True)
        .where(Open311Submission.token == token, Open311Submission.district_code == district_code)
    ).first()
    if row is None:
        raise NotFound(f"token {token!r} not found", field="token")
    return {"service_request_id": row[1], "token": row[0].token}
